"""``report``: the class at a glance — a CSV, an HTML summary and a pass-rate figure.

Scores come from nbgrader's gradebook (so manual grades given in formgrader count); statuses
come from ``grading_status.json``. Outputs, in ``reports/`` by default:

* ``grades.csv``: one row per student of the class (gradebook, roster, collected; submitted or
  not) — ``student, name, total, max_total, status``, then one column per lesson, then one per
  test cell (``lesson:grade_id``); a lesson without a graded submission has empty cells.
  ``status`` is ``ok`` or ``lesson: reason, reason; ...`` with the reasons of :mod:`.pipeline`,
  ``missing``, ``not graded yet``, ``wrong file name (found ...)`` and ``late`` (the LMS said so);
* ``pass_rates.png``: for every test cell, the share of students who earned its points —
  the concept the class missed stands out;
* ``mistakes.csv`` and ``mistakes.png``: the named mistakes of every failing check, counted
  per lesson, and the functions whose hidden parts fail after the visible ones pass
  (:mod:`.mistakes`);
* ``summary.html``: all of these, plus status counts and the lesson means.
"""

from __future__ import annotations

import base64
import csv
import html
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import mistakes
from .course import Course, StatusStore, lesson_info
from .misnamed import WRONG_NAME


@dataclass
class ClassTable:
    lessons: list[str]
    tests: list[tuple[str, str, float]]  # (lesson, grade_id, max points)
    rows: list[dict[str, Any]]


def _class_list(course: Course, gb, store: StatusStore, roster, index) -> list[str]:
    """Every student the course knows: gradebook, roster, statuses, collected and submitted."""
    students = {s.id for s in gb.students} | set(roster.students)
    students |= {r["student"] for r in store.results()}
    students |= {r["student"] for r in index.data.values() if r.get("student")}
    if course.submitted_dir.is_dir():
        students |= {p.name for p in course.submitted_dir.iterdir() if p.is_dir()}
    return sorted(students)


def _flags(status: dict[str, Any] | None) -> list[str]:
    flags = (status or {}).get("status", ["ok"]) + (status or {}).get("hints", [])
    found = (status or {}).get("found")
    flags = [f"{f} (found {', '.join(found)})" if f == WRONG_NAME and found else f for f in flags]
    return [f for f in flags if f != "ok"]


def collect_table(course: Course) -> ClassTable:
    """One row per student of the class (submitted or not) with lesson totals, test points,
    statuses and the student's name from the roster.

    A lesson without a graded submission counts 0 in the totals and is listed in the row's
    ``missing`` (its cells in ``grades.csv`` are empty); its status says why: ``missing``,
    ``not graded yet``, or what ``grade`` recorded (``wrong file name (found ...)``).
    """
    from nbgrader.api import Gradebook, MissingEntry

    from .collected import SubmissionIndex
    from .roster import Roster

    info = lesson_info(course)
    lessons = sorted(info)
    tests = [
        (lesson, gid, info[lesson]["grades"][gid])
        for lesson in lessons
        for gid in info[lesson]["tests"]
    ]
    store = StatusStore(course.status_path)
    roster = Roster.load(course)
    index = SubmissionIndex(course)
    rows = []
    with Gradebook(course.db_url) as gb:
        for student in _class_list(course, gb, store, roster, index):
            records = [index.get(student, lesson) or {} for lesson in lessons]
            name = roster.name_of(student) or next((r["name"] for r in records if r), "")
            row: dict[str, Any] = {"student": student, "name": name, "total": 0.0}
            row.update({"max_total": 0.0, "missing": []})
            reasons = []
            for lesson, record in zip(lessons, records, strict=True):
                row["max_total"] += sum(info[lesson]["grades"].values())
                status = store.get(student, lesson)
                late = ["late"] if record.get("late") is True else []
                try:
                    nb = gb.find_submission_notebook(info[lesson]["notebook"], lesson, student)
                except MissingEntry:
                    row[lesson] = 0.0
                    for _, gid, _pts in (t for t in tests if t[0] == lesson):
                        row[f"{lesson}:{gid}"] = 0.0
                    row["missing"].append(lesson)
                    submitted = course.submitted_dir / student / lesson / f"{lesson}.ipynb"
                    if status is not None:
                        flags = _flags(status)
                    elif submitted.is_file():
                        flags = ["not graded yet"]
                    else:
                        flags = ["missing"]
                    reasons.append(f"{lesson}: " + ", ".join(flags + late))
                    continue
                scores = {g.name: float(g.score or 0.0) for g in nb.grades}
                row[lesson] = sum(scores.values())
                row["total"] += row[lesson]
                for gid in info[lesson]["tests"]:
                    row[f"{lesson}:{gid}"] = scores.get(gid, 0.0)
                flags = _flags(status) + late
                if flags:
                    reasons.append(f"{lesson}: " + ", ".join(flags))
            row["status"] = "; ".join(reasons) if reasons else "ok"
            rows.append(row)
    return ClassTable(lessons, tests, rows)


def write_csv(table: ClassTable, path: Path) -> Path:
    """``grades.csv``; the cells of a lesson without a graded submission are left empty."""
    columns = ["student", "name", "total", "max_total", "status", *table.lessons]
    columns += [f"{lesson}:{gid}" for lesson, gid, _ in table.tests]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in table.rows:
            cells = {k: (f"{v:g}" if isinstance(v, float) else v) for k, v in row.items()}
            for lesson in row.get("missing", []):
                cells[lesson] = ""
                cells.update({c: "" for c in columns if c.startswith(f"{lesson}:")})
            writer.writerow(cells)
    return path


def pass_rates(table: ClassTable) -> list[tuple[str, float]]:
    """(``lesson:grade_id``, share of students with full points) for every test cell."""
    n = max(1, len(table.rows))
    return [
        (f"{lesson}:{gid}", sum(r[f"{lesson}:{gid}"] >= pts for r in table.rows) / n)
        for lesson, gid, pts in table.tests
    ]


def pass_rate_figure(table: ClassTable, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rates = pass_rates(table)
    fig, ax = plt.subplots(figsize=(8, 0.28 * len(rates) + 1.2))
    labels = [name for name, _ in rates]
    values = [100 * rate for _, rate in rates]
    colors = [plt.cm.tab10(table.lessons.index(name.split(":")[0]) % 10) for name in labels]
    ax.barh(range(len(rates)), values, color=colors)
    ax.set_yticks(range(len(rates)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel(f"students with full points (%) — {len(table.rows)} students")
    ax.set_title("Pass rate of every test across the class")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_html(table: ClassTable, figure: Path, path: Path, sections: str = "") -> Path:
    """``summary.html``; ``sections`` is more HTML, put before the table of students."""
    esc = html.escape
    counts = Counter(
        reason.strip()
        for row in table.rows
        for part in row["status"].split(";")
        if ":" in part
        for reason in part.split(":", 1)[1].split(",")
    )
    n = max(1, len(table.rows))
    means = {lesson: sum(r[lesson] for r in table.rows) / n for lesson in table.lessons}
    head = "".join(f"<th>{esc(h)}</th>" for h in ["student", "total", *table.lessons, "status"])
    body = "".join(
        "<tr>"
        + f"<td>{esc(r['student'])}</td><td>{r['total']:g} / {r['max_total']:g}</td>"
        + "".join(f"<td>{r[lesson]:g}</td>" for lesson in table.lessons)
        + f"<td>{esc(r['status'])}</td></tr>"
        for r in table.rows
    )
    image = base64.b64encode(figure.read_bytes()).decode("ascii")
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Class summary</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:left}}</style></head><body>
<h1>Class summary</h1>
<p>{len(table.rows)} students, {len(table.lessons)} lessons.</p>
<h2>Lesson means</h2><ul>{"".join(f"<li>{esc(k)}: {v:.2f}</li>" for k, v in means.items())}</ul>
<h2>Statuses</h2><ul>{
        "".join(f"<li>{esc(k)}: {v}</li>" for k, v in counts.most_common()) or "<li>all ok</li>"
    }</ul>
<h2>Pass rate per test</h2><img alt="pass rate per test" src="data:image/png;base64,{image}">
{sections}
<h2>Students</h2><table><tr>{head}</tr>{body}</table>
</body></html>
"""
    path.write_text(page, encoding="utf-8")
    return path


def report(
    course: Course, out_dir: Path | None = None, errors: mistakes.ClassMistakes | None = None
) -> dict[str, Path]:
    """Write ``grades.csv``, ``pass_rates.png``, ``mistakes.csv``, ``mistakes.png`` and
    ``summary.html``; return their paths. ``errors``: the class's mistakes, when the caller
    has already collected them (``mistakes.collect``)."""
    out = Path(out_dir) if out_dir else course.root / "reports"
    table = collect_table(course)
    csv_path = write_csv(table, out / "grades.csv")
    fig = pass_rate_figure(table, out / "pass_rates.png")
    if errors is None:
        errors = mistakes.collect(course)
    errors_csv = mistakes.write_csv(errors, out / "mistakes.csv")
    errors_fig = mistakes.figure(errors, out / "mistakes.png")
    section = mistakes.html_section(errors, errors_fig)
    page = write_html(table, fig, out / "summary.html", section)
    return {
        "csv": csv_path,
        "figure": fig,
        "mistakes": errors_csv,
        "mistakes_figure": errors_fig,
        "html": page,
    }

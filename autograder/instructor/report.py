"""``report``: the class at a glance — a CSV, an HTML summary and a pass-rate figure.

Scores come from nbgrader's gradebook (so manual grades given in formgrader count); statuses
come from ``grading_status.json``. Outputs, in ``reports/`` by default:

* ``grades.csv``: one row per student — ``student, total, max_total, status``, then one column
  per lesson, then one per test cell (``lesson:grade_id``). ``status`` is ``ok`` or
  ``lesson: reason, reason; ...`` with the reasons of :mod:`.pipeline` (and ``missing``);
* ``pass_rates.png``: for every test cell, the share of students who earned its points —
  the concept the class missed stands out;
* ``summary.html``: both, plus status counts and the lesson means.
"""

from __future__ import annotations

import base64
import csv
import html
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .course import Course, StatusStore, lesson_info


@dataclass
class ClassTable:
    lessons: list[str]
    tests: list[tuple[str, str, float]]  # (lesson, grade_id, max points)
    rows: list[dict[str, Any]]


def collect_table(course: Course) -> ClassTable:
    """One row per student with lesson totals, test points and statuses."""
    from nbgrader.api import Gradebook, MissingEntry

    info = lesson_info(course)
    lessons = sorted(info)
    tests = [
        (lesson, gid, info[lesson]["grades"][gid])
        for lesson in lessons
        for gid in info[lesson]["tests"]
    ]
    store = StatusStore(course.status_path)
    rows = []
    with Gradebook(course.db_url) as gb:
        for student in sorted(s.id for s in gb.students):
            row: dict[str, Any] = {"student": student, "total": 0.0, "max_total": 0.0}
            reasons = []
            for lesson in lessons:
                row["max_total"] += sum(info[lesson]["grades"].values())
                try:
                    nb = gb.find_submission_notebook(info[lesson]["notebook"], lesson, student)
                except MissingEntry:
                    row[lesson] = 0.0
                    for _, gid, _pts in (t for t in tests if t[0] == lesson):
                        row[f"{lesson}:{gid}"] = 0.0
                    reasons.append(f"{lesson}: missing")
                    continue
                scores = {g.name: float(g.score or 0.0) for g in nb.grades}
                row[lesson] = sum(scores.values())
                row["total"] += row[lesson]
                for gid in info[lesson]["tests"]:
                    row[f"{lesson}:{gid}"] = scores.get(gid, 0.0)
                status = store.get(student, lesson)
                flags = (status or {}).get("status", ["ok"]) + (status or {}).get("hints", [])
                flags = [f for f in flags if f != "ok"]
                if flags:
                    reasons.append(f"{lesson}: " + ", ".join(flags))
            row["status"] = "; ".join(reasons) if reasons else "ok"
            rows.append(row)
    return ClassTable(lessons, tests, rows)


def write_csv(table: ClassTable, path: Path) -> Path:
    columns = ["student", "total", "max_total", "status", *table.lessons]
    columns += [f"{lesson}:{gid}" for lesson, gid, _ in table.tests]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in table.rows:
            writer.writerow({k: (f"{v:g}" if isinstance(v, float) else v) for k, v in row.items()})
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


def write_html(table: ClassTable, figure: Path, path: Path) -> Path:
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
<h2>Students</h2><table><tr>{head}</tr>{body}</table>
</body></html>
"""
    path.write_text(page, encoding="utf-8")
    return path


def report(course: Course, out_dir: Path | None = None) -> dict[str, Path]:
    """Write ``grades.csv``, ``pass_rates.png`` and ``summary.html``; return their paths."""
    out = Path(out_dir) if out_dir else course.root / "reports"
    table = collect_table(course)
    csv_path = write_csv(table, out / "grades.csv")
    fig = pass_rate_figure(table, out / "pass_rates.png")
    page = write_html(table, fig, out / "summary.html")
    return {"csv": csv_path, "figure": fig, "html": page}

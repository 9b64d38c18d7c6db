"""What the class got wrong: the named mistakes of every failing check, counted per lesson.

The grader stores, for every test cell that lost points, the mistake each failing ``check``
found (``grading_status.json``, ``tests[grade_id]["mistakes"]``, written by
:func:`autograder.instructor.graded_outputs.record_mistakes` from the warden's signed ledger). This
module counts them:

* :func:`collect` — one :class:`MistakeRow` per (lesson, function, part, mistake) with the
  number and share of the lesson's graded students who made it, and one :class:`HiddenGap` per
  function with hidden parts: of the students who passed every visible part, how many failed
  a hidden one (visible checks that teach too little show up here);
* :func:`write_csv` (``reports/mistakes.csv``), :func:`figure` (``reports/mistakes.png``, the
  most frequent mistakes of each lesson), :func:`html_section` (a section of
  ``summary.html``) and :func:`summary_lines` (what ``report`` prints).

A mistake's *kind* says where its name comes from: ``catalogue`` (an entry of the function's
mistake catalogue), ``grader`` (the grader named it: an exception, a wrong shape, a call of
the reference, a custom check's message), ``unnamed`` (only "differs in k of n entries" was
said: a gap in the catalogue), ``not attempted``, and ``grading`` (no mistake is known: the
record was unverified, the cell timed out, the submission was not graded, ...). The chart
shows the first three.
"""

from __future__ import annotations

import base64
import csv
import html
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import mistake_ids
from .course import Course, StatusStore, lesson_info

CHARTED = ("catalogue", "grader", "unnamed")
NOT_RECORDED = "not recorded"  # graded by a grader that did not record mistakes: grade --force
NOT_GRADED = "not graded"  # the submission never ran (not a notebook, wrong file, ...)
_GRADING = {
    "unverified",
    "timed out",
    "out of memory",
    "kernel died",
    "passed, not scored",
    NOT_RECORDED,
    NOT_GRADED,
}


@dataclass(frozen=True)
class MistakeRow:
    lesson: str
    function: str
    part: str
    hidden: bool
    mistake: str
    kind: str
    headline: str
    students: int
    share: float  # of the lesson's graded students


@dataclass(frozen=True)
class HiddenGap:
    lesson: str
    function: str
    passed_visible: int  # students who passed every visible part of the function
    failed_hidden: int  # ... and failed one of its hidden parts
    graded: int  # students graded in the lesson

    @property
    def share(self) -> float:
        return self.failed_hidden / self.passed_visible if self.passed_visible else 0.0


@dataclass
class ClassMistakes:
    lessons: list[str]
    graded: dict[str, int]  # lesson -> students with a graded submission
    rows: list[MistakeRow]
    gaps: list[HiddenGap]

    def of(self, lesson: str, charted: bool = False) -> list[MistakeRow]:
        return [r for r in self.rows if r.lesson == lesson and (not charted or r.kind in CHARTED)]


def kind_of(function: str, mistake: str) -> str:
    """Where the name of ``mistake`` comes from (see the module docstring)."""
    from ..framework import SPECS

    spec = SPECS.get(function)
    if spec is not None and mistake in {m.name for m in spec.mistakes}:
        return "catalogue"
    if mistake == mistake_ids.UNNAMED:
        return "unnamed"
    if mistake in (mistake_ids.NOT_IMPLEMENTED, mistake_ids.NOT_DEFINED):
        return "not attempted"
    if mistake in _GRADING:
        return "grading"
    return "grader"


def _records(result: dict[str, Any], info: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """``(function, part, mistake, headline)`` of every failing check of one submission."""
    found = []
    for gid, test in result.get("tests", {}).items():
        calls = info["checks"].get(gid)
        if not calls or (test.get("score") or 0) >= test.get("max", 0):
            continue
        if "mistakes" in test:
            found += [
                (m["function"], m["part"], m["mistake"], m["headline"]) for m in test["mistakes"]
            ]
        elif result.get("autograded"):
            why = "graded before mistakes were recorded: grade again with --force"
            found += [(f, p, NOT_RECORDED, why) for f, p in calls]
        else:
            why = ", ".join(result.get("status", [])) or "the notebook did not run"
            found += [(f, p, NOT_GRADED, why) for f, p in calls]
    return found


def collect(course: Course, store: StatusStore | None = None) -> ClassMistakes:
    """Count the stored mistakes of every graded (student, lesson)."""
    info = lesson_info(course)
    store = store or StatusStore(course.status_path)
    results = [r for r in store.results() if r.get("lesson") in info]
    lessons = sorted(info)
    graded = {lesson: sum(r["lesson"] == lesson for r in results) for lesson in lessons}
    students: dict[tuple[str, str, str, str], set[str]] = defaultdict(set)
    headlines: dict[tuple[str, str, str, str], Counter] = defaultdict(Counter)
    for result in results:
        for function, part, mistake, headline in _records(result, info[result["lesson"]]):
            key = (result["lesson"], function, part, mistake)
            students[key].add(result["student"])
            headlines[key][headline] += 1
    rows = []
    for (lesson, function, part, mistake), who in students.items():
        kind = kind_of(function, mistake)
        headline = (
            mistake_ids.FIXED.get(mistake)
            or headlines[lesson, function, part, mistake].most_common(1)[0][0]
        )
        rows.append(
            MistakeRow(
                lesson,
                function,
                part,
                _is_hidden(info[lesson], function, part),
                mistake,
                kind,
                headline,
                len(who),
                len(who) / max(1, graded[lesson]),
            )
        )
    rows.sort(key=lambda r: (r.lesson, -r.students, r.function, r.part, r.mistake))
    return ClassMistakes(lessons, graded, rows, _hidden_gaps(results, info))


def _is_hidden(info: dict[str, Any], function: str, part: str) -> bool:
    return any(
        gid in info["hidden"] and [function, part] in [list(c) for c in calls]
        for gid, calls in info["checks"].items()
    )


def _hidden_gaps(results: list[dict[str, Any]], info: dict[str, Any]) -> list[HiddenGap]:
    gaps = []
    for lesson in sorted(info):
        tests_of: dict[str, list[str]] = defaultdict(list)
        for gid, calls in info[lesson]["checks"].items():
            for function in dict.fromkeys(c[0] for c in calls):
                tests_of[function].append(gid)
        mine = [r for r in results if r["lesson"] == lesson]
        for function, gids in tests_of.items():
            hidden = [g for g in gids if g in info[lesson]["hidden"]]
            visible = [g for g in gids if g not in hidden]
            if not hidden or not visible:
                continue
            passed = failed = 0
            for result in mine:
                tests = result.get("tests", {})

                def full(gid: str, tests: dict = tests) -> bool:
                    t = tests.get(gid) or {}
                    return (t.get("score") or 0) >= t.get("max", 1)

                if all(full(g) for g in visible):
                    passed += 1
                    failed += not all(full(g) for g in hidden)
            gaps.append(HiddenGap(lesson, function, passed, failed, len(mine)))
    return gaps


# --------------------------------------------------------------------------------------------
# Outputs


def write_csv(table: ClassMistakes, path: Path) -> Path:
    """``mistakes.csv``: one row per (lesson, function, part, mistake), most frequent first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = ["lesson", "function", "part", "hidden", "mistake", "kind", "headline"]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([*columns, "students", "share"])
        for r in table.rows:
            values = [getattr(r, c) for c in columns]
            writer.writerow([*values, r.students, f"{r.share:.3f}"])
    return path


def _top(table: ClassMistakes, lesson: str, top: int) -> list[tuple[str, int]]:
    """The ``top`` most frequent charted mistakes of ``lesson``: (label, students)."""
    students: dict[str, int] = {}
    for r in table.of(lesson, charted=True):
        label = f"{r.function}: {r.mistake}"
        if len(label) > 56:
            label = label[:55].rstrip() + "…"
        students[label] = max(students.get(label, 0), r.students)  # over the parts
    return sorted(students.items(), key=lambda kv: (-kv[1], kv[0]))[:top]


def figure(table: ClassMistakes, path: Path, top: int = 8) -> Path:
    """``mistakes.png``: per lesson, a bar per frequent mistake (students who made it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(lesson, _top(table, lesson, top)) for lesson in table.lessons]
    panels = [(lesson, bars) for lesson, bars in panels if bars]
    heights = [0.26 * len(bars) + 0.75 for _, bars in panels] or [1.0]
    fig, axes = plt.subplots(
        len(heights),
        1,
        figsize=(7.5, sum(heights) + 0.5),
        squeeze=False,
        gridspec_kw={"height_ratios": heights},
    )
    if not panels:
        axes[0][0].text(0.5, 0.5, "no mistakes recorded", ha="center", va="center")
        axes[0][0].set_axis_off()
    for ax, (lesson, bars) in zip((a[0] for a in axes), panels, strict=False):
        n = table.graded[lesson]
        color = plt.cm.tab10(table.lessons.index(lesson) % 10)
        ax.barh(range(len(bars)), [v for _, v in bars], color=color)
        for y, (_, v) in enumerate(bars):
            ax.text(v, y, f" {v} ({v / max(1, n):.0%})", va="center", fontsize=8)
        ax.set_yticks(range(len(bars)), [label for label, _ in bars], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, max(1, n))
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.tick_params(axis="x", labelsize=8)
        ax.set_title(f"{lesson}: students (of {n}) who made each mistake", fontsize=9)
    fig.suptitle("Most frequent mistakes per lesson", fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def html_section(table: ClassMistakes, chart: Path) -> str:
    """The "What the class got wrong" section of ``summary.html``."""
    esc = html.escape
    image = base64.b64encode(chart.read_bytes()).decode("ascii")
    parts = [
        '<h2 id="mistakes">What the class got wrong</h2>',
        "<p>Every failing check, by the mistake it named (<code>mistakes.csv</code>). "
        "<em>catalogue</em>: an entry of the function's mistake catalogue; <em>grader</em>: "
        "named by the grader itself; <em>unnamed</em>: no entry explains the wrong values; "
        "<em>grading</em>: no mistake is known (unverified, timed out, not graded).</p>",
        f'<img alt="most frequent mistakes per lesson" src="data:image/png;base64,{image}">',
    ]
    head = "".join(
        f"<th>{h}</th>"
        for h in ("function", "part", "mistake", "kind", "what it means", "students", "share")
    )
    for lesson in table.lessons:
        rows = table.of(lesson)
        if not rows:
            continue
        body = "".join(
            f"<tr><td>{esc(r.function)}</td><td>{esc(r.part)}{' (hidden)' if r.hidden else ''}"
            f"</td><td>{esc(r.mistake)}</td><td>{esc(r.kind)}</td><td>{esc(r.headline)}</td>"
            f"<td>{r.students}</td><td>{r.share:.0%}</td></tr>"
            for r in rows
        )
        parts.append(
            f"<h3>{esc(lesson)} ({table.graded[lesson]} students graded)</h3>"
            f"<table><tr>{head}</tr>{body}</table>"
        )
    gaps = [g for g in table.gaps if g.passed_visible]
    if gaps:
        body = "".join(
            f"<tr><td>{esc(g.lesson)}</td><td>{esc(g.function)}</td><td>{g.passed_visible}</td>"
            f"<td>{g.failed_hidden}</td><td>{g.share:.0%}</td></tr>"
            for g in sorted(gaps, key=lambda g: (-g.share, g.lesson, g.function))
        )
        parts.append(
            "<h3>Passed the visible checks, failed the hidden ones</h3>"
            "<p>Per function: students who passed every visible part, and how many of them "
            "still failed a hidden part. A high share means the visible checks teach too "
            "little.</p><table><tr><th>lesson</th><th>function</th><th>passed every visible "
            "part</th><th>of them failed a hidden part</th><th>share</th></tr>"
            f"{body}</table>"
        )
    return "\n".join(parts)


def summary_lines(table: ClassMistakes, top: int = 5) -> list[str]:
    """What ``report`` prints: each lesson's most frequent charted mistakes."""
    lines = []
    for lesson in table.lessons:
        rows = table.of(lesson, charted=True)[:top]
        if not rows:
            continue
        lines.append(f"{lesson} ({table.graded[lesson]} students graded):")
        for r in rows:
            part = r.part + (" (hidden)" if r.hidden else "")
            lines.append(f"  {r.students:3d} ({r.share:4.0%})  {r.function} · {part}: {r.mistake}")
    return lines

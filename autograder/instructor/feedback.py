"""``feedback``: one HTML page per student and lesson, without hidden tests.

nbgrader's ``GenerateFeedback`` converter does the work (grades from the gradebook, HTML export,
``ClearHiddenTests`` removing hidden test source). Two preprocessors of ours go in its list:

* :class:`HideHiddenOutputs` replaces every output of a hidden test cell by the student-facing
  message the grader stored (what ``check`` printed), so no traceback can show hidden lines,
  and takes the grading signatures out of the visible test cells' outputs;
* :class:`ResultsTable` puts a table at the top: each test, its points, its message.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from nbconvert.preprocessors import Preprocessor
from nbformat.v4 import new_markdown_cell, new_output
from traitlets import Bool

from .course import Course, StatusStore, grade_id_of, lesson_info
from .kernel_boot import strip_signatures

# Set by :func:`feedback` before nbgrader runs: (student, lesson) -> stored grading result.
RESULTS: dict[tuple[str, str], dict[str, Any]] = {}


def _result(resources: dict) -> dict[str, Any]:
    nbg = resources.get("nbgrader", {})
    return RESULTS.get((nbg.get("student"), nbg.get("assignment")), {})


class HideHiddenOutputs(Preprocessor):
    """Hidden test cells keep only the stored student message as output."""

    enabled = Bool(True).tag(config=True)

    def preprocess(self, nb, resources):
        tests = _result(resources).get("tests", {})
        for cell in nb.cells:
            gid = grade_id_of(cell)
            if cell.cell_type != "code" or gid not in tests:
                continue
            if not tests[gid].get("hidden"):
                for out in cell.outputs:
                    if out.get("output_type") == "stream":
                        out["text"] = strip_signatures("".join(out.get("text", "")))
                continue
            t = tests[gid]
            verdict = "passed" if (t.get("score") or 0) >= t.get("max", 0) else "failed"
            text = f"hidden check {verdict}" + (f":\n{t['message']}" if t.get("message") else "")
            cell.outputs = [new_output("stream", name="stdout", text=text + "\n")]
        return nb, resources


class ResultsTable(Preprocessor):
    """A markdown table of every test's points and message at the top of the page."""

    enabled = Bool(True).tag(config=True)

    def preprocess(self, nb, resources):
        result = _result(resources)
        tests = result.get("tests", {})
        if not tests:
            return nb, resources
        rows = []
        for gid, t in tests.items():
            message = (
                html.escape(t.get("message") or "").replace("\n", "<br>").replace("|", "&#124;")
            )
            kind = "hidden" if t.get("hidden") else "visible"
            rows.append(
                f"| `{gid}` ({kind}) | {t.get('score') or 0:g} / {t['max']:g} | {message} |"
            )
        status = ", ".join(result.get("status", ["ok"]) + result.get("hints", []))
        text = (
            f"## Your results: {result.get('score', 0):g} / {result.get('max_score', 0):g}\n\n"
            f"Grading status: **{html.escape(status)}**\n\n"
            "| test | points | message |\n|---|---|---|\n" + "\n".join(rows)
        )
        nb.cells.insert(0, new_markdown_cell(text))
        return nb, resources


def feedback(
    course: Course, lessons: list[str] | None = None, students: list[str] | None = None
) -> list[Path]:
    """Write ``feedback/<student>/<lesson>/<lesson>.html`` for every autograded notebook."""
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.converters import GenerateFeedback
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.preprocessors import ClearHiddenTests, GetGrades

    info = lesson_info(course)
    store = StatusStore(course.status_path)
    RESULTS.clear()
    for result in store.results():
        RESULTS[(result["student"], result["lesson"])] = result
    written = []
    for lesson in lessons or sorted(info):
        graded = sorted(
            p.parent.name
            for p in course.autograded_dir.glob(f"*/{lesson}")
            if (p / f"{info[lesson]['notebook']}.ipynb").is_file()
        )
        graded = [s for s in graded if not students or s in students]
        if not graded:
            continue
        cfg = course.config()
        cfg.CourseDirectory.assignment_id = lesson
        cfg.CourseDirectory.student_id = graded[0] if len(graded) == 1 else "*"
        if students and len(graded) > 1:
            cfg.CourseDirectory.student_id_exclude = ",".join(
                p.parent.name
                for p in course.autograded_dir.glob(f"*/{lesson}")
                if p.parent.name not in graded
            )
        cfg.BaseConverter.force = True
        cfg.GenerateFeedback.preprocessors = [
            GetGrades,
            ClearHiddenTests,
            HideHiddenOutputs,
            ResultsTable,
            CSSHTMLHeaderPreprocessor,
        ]
        GenerateFeedback(coursedir=CourseDirectory(config=cfg), config=cfg).start()
        for student in graded:
            page = course.feedback_dir / student / lesson / f"{info[lesson]['notebook']}.html"
            if page.is_file():
                written.append(page)
    for (student, lesson), result in sorted(RESULTS.items()):
        ungraded = not result.get("autograded") and lesson in (lessons or info)
        if ungraded and (not students or student in students) and lesson in info:
            page = course.feedback_dir / student / lesson / f"{info[lesson]['notebook']}.html"
            written.append(_plain_page(result, page))
    return written


def _plain_page(result: dict[str, Any], page: Path) -> Path:
    """A feedback page for a submission nbgrader could not run (not a notebook, wrong file)."""
    esc = html.escape
    rows = "".join(
        f"<tr><td>{esc(gid)}</td><td>{t.get('score') or 0:g} / {t['max']:g}</td>"
        f"<td>{esc(t.get('message') or '')}</td></tr>"
        for gid, t in result.get("tests", {}).items()
    )
    status = ", ".join(result.get("status", []) + result.get("hints", []))
    details = "".join(f"<li>{esc(d)}</li>" for d in result.get("details", []))
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(
        f"""<!DOCTYPE html><html><head><meta charset="utf-8">
<title>{esc(result["lesson"])}: feedback</title></head><body>
<h2>Your results: {result.get("score", 0):g} / {result.get("max_score", 0):g}</h2>
<p>Grading status: <strong>{esc(status)}</strong></p><ul>{details}</ul>
<table border="1"><tr><th>test</th><th>points</th><th>message</th></tr>{rows}</table>
</body></html>
""",
        encoding="utf-8",
    )
    return page

"""``feedback``: one HTML page per student and lesson, without hidden tests.

nbgrader's ``GenerateFeedback`` converter does the work (grades from the gradebook, HTML export,
``ClearHiddenTests`` removing hidden test source). Three preprocessors of ours go in its list:

* :class:`HideHiddenOutputs` replaces every output of a hidden test cell by the student-facing
  message the grader stored (what ``check`` printed), so no traceback can show hidden lines,
  and takes the grading signatures out of the visible test cells' outputs;
* :class:`MistakeLinks` puts, after every test cell that lost points, the mistake the grader
  named for it and a link to the lesson section that teaches the function: the markdown
  heading above the answer cell defining it (:func:`lesson_sections`), which gets an anchor;
* :class:`ResultsTable` puts a table at the top: each test, its points, its message, and for
  lost points the named mistake with the same link.

Hidden tests stay hidden: a mistake's headline is part of the message the student is shown,
and messages of hidden parts never quote a hidden input or expected value.

Each page's folder also gets the submission's ``timestamp.txt`` and ``submission_secret.txt``
(when nbgrader's exchange delivered it): ``nbgrader release_feedback`` names the released page
by a hash of that secret, which is how the student's ``fetch_feedback`` finds it.
"""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path
from typing import Any

from nbconvert.preprocessors import Preprocessor
from nbformat.v4 import new_markdown_cell, new_output
from traitlets import Bool

from .course import Course, StatusStore, _notebook_cells, _source, grade_id_of, lesson_info
from .kernel_boot import strip_signatures

# Set by :func:`feedback` before nbgrader runs: (student, lesson) -> stored grading result;
# lesson -> {function: grade_id of the answer cell defining it} (from the source notebook);
# lesson -> {test grade_id: [[function, part], ...]} (its check calls, from the gradebook).
RESULTS: dict[tuple[str, str], dict[str, Any]] = {}
ANSWERS: dict[str, dict[str, str]] = {}
CHECKS: dict[str, dict[str, list]] = {}


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


# --------------------------------------------------------------------------------------------
# Lesson sections: where each graded function is taught

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_DEF = re.compile(r"^def\s+([A-Za-z_]\w*)\s*\(", re.M)


def _headings(cell: Any) -> list[tuple[int, str]]:
    if cell.get("cell_type") != "markdown":
        return []
    found, fenced = [], False
    for line in _source(cell).splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        match = None if fenced else _HEADING.match(line)
        if match:
            found.append((len(match[1]), match[2]))
    return found


def answer_cells(cells: list) -> dict[str, str]:
    """``{function: grade_id}`` of the answer cells, from the ``def`` lines they hold."""
    answers: dict[str, str] = {}
    for cell in cells:
        meta = (cell.get("metadata") or {}).get("nbgrader") or {}
        if cell.get("cell_type") == "code" and meta.get("solution") and meta.get("grade_id"):
            for function in _DEF.findall(_source(cell)):
                answers.setdefault(function, meta["grade_id"])
    return answers


def lesson_sections(cells: list, answers: dict[str, str]) -> dict[str, tuple[int, str]]:
    """``{function: (cell index, heading)}``: the section teaching each function.

    A section is the nearest heading above the function's answer cell at the notebook's
    section level: the highest level (fewest ``#``) used more than once, so the title
    (``#``, once) is above it and sub-headings (``###``) belong to their section.
    """
    levels = [level for cell in cells for level, _ in _headings(cell)]
    if not levels:
        return {}
    repeated = [level for level in set(levels) if levels.count(level) > 1]
    section_level = min(repeated or levels)
    position = {grade_id_of(c): i for i, c in reversed(list(enumerate(cells)))}
    found = {}
    for function, gid in answers.items():
        for i in range(position.get(gid, -1) - 1, -1, -1):
            heads = [text for level, text in _headings(cells[i]) if level <= section_level]
            if heads:
                found[function] = (i, heads[-1])
                break
    return found


def _anchor(title: str, taken: set[str]) -> str:
    base = "section-" + (re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "top")
    anchor, n = base, 1
    while anchor in taken:
        n += 1
        anchor = f"{base}-{n}"
    taken.add(anchor)
    return anchor


def _md(text: str) -> str:
    """Plain text for markdown: HTML-escaped, markdown's own characters as entities."""
    special = set("\\`*_[]|<>#&\"'~")
    text = "".join(f"&#{ord(ch)};" if ch in special else ch for ch in str(text))
    return text.replace("\n", "<br>")


def _lost(gid: str) -> str:
    """The anchor of the note after a test cell that lost points."""
    return "lost-" + re.sub(r"[^A-Za-z0-9_-]+", "-", str(gid))


def _functions(test: dict[str, Any], gid: str, lesson: str) -> list[str]:
    """The functions whose checks lost the test's points (the cell's checks without records)."""
    names = [m.get("function") for m in test.get("mistakes") or []]
    if not names:
        names = [call[0] for call in CHECKS.get(lesson, {}).get(gid, [])]
    if not names:  # a test cell without check(): the longest function name its grade_id holds
        prefixed = [f for f in ANSWERS.get(lesson, {}) if gid.startswith(f"test_{f}_")]
        names = sorted(prefixed, key=len)[-1:]
    return list(dict.fromkeys(n for n in names if n))


class MistakeLinks(Preprocessor):
    """After each test cell that lost points: the named mistake and a link to its section."""

    enabled = Bool(True).tag(config=True)

    def preprocess(self, nb, resources):
        result = _result(resources)
        tests = result.get("tests", {})
        lesson = resources.get("nbgrader", {}).get("assignment", "")
        answers = ANSWERS.get(lesson) or answer_cells(nb.cells)
        sections = lesson_sections(nb.cells, answers)
        taken: set[str] = set()
        anchors: dict[int, str] = {}
        for i, title in sorted(set(sections.values())):
            anchors[i] = _anchor(title, taken)
            nb.cells[i].source = f'<a id="{anchors[i]}"></a>\n\n' + _source(nb.cells[i])
        links: dict[str, list[str]] = {}
        for cell_index in range(len(nb.cells) - 1, -1, -1):
            gid = grade_id_of(nb.cells[cell_index])
            test = tests.get(gid)
            if not test or (test.get("score") or 0) >= test.get("max", 0):
                continue
            lines = []
            for m in test.get("mistakes") or []:
                headline, name = _md(m.get("headline", "")), _md(m.get("mistake", ""))
                lines.append(f"*{headline}* (mistake: <code>{name}</code>)")
            for function in _functions(test, gid, lesson):
                if function in sections:
                    i, title = sections[function]
                    lines.append(f"Read again: [{_md(title)}](#{anchors[i]}) ({_md(function)})")
            links[gid] = lines
            text = f'<a id="{_lost(gid)}"></a>\n\n**Lost points in <code>{_md(gid)}</code>.** ' + (
                "  \n".join(lines) or "See the message above."
            )
            nb.cells.insert(cell_index + 1, new_markdown_cell(text))
        resources["mistake_links"] = links
        return nb, resources


class ResultsTable(Preprocessor):
    """A markdown table of every test's points and message at the top of the page."""

    enabled = Bool(True).tag(config=True)

    def preprocess(self, nb, resources):
        result = _result(resources)
        tests = result.get("tests", {})
        if not tests:
            return nb, resources
        links = resources.get("mistake_links", {})
        rows = []
        for gid, t in tests.items():
            message = (
                html.escape(t.get("message") or "").replace("\n", "<br>").replace("|", "&#124;")
            )
            kind = "hidden" if t.get("hidden") else "visible"
            name = f"[`{gid}`](#{_lost(gid)})" if gid in links else f"`{gid}`"
            lost = "<br>".join(links.get(gid, []))
            rows.append(
                f"| {name} ({kind}) | {t.get('score') or 0:g} / {t['max']:g} | {message} | {lost} |"
            )
        status = ", ".join(result.get("status", ["ok"]) + result.get("hints", []))
        text = (
            f"## Your results: {result.get('score', 0):g} / {result.get('max_score', 0):g}\n\n"
            f"Grading status: **{html.escape(status)}**\n\n"
            "| test | points | message | what went wrong, and where to read again |\n"
            "|---|---|---|---|\n" + "\n".join(rows)
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
    ANSWERS.clear()
    CHECKS.clear()
    for lesson in info:
        path = course.source_notebook(lesson)
        ANSWERS[lesson] = answer_cells(_notebook_cells(path)) if path.is_file() else {}
        CHECKS[lesson] = info[lesson].get("checks", {})
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
            MistakeLinks,
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
    for page in written:
        _copy_exchange_files(course, page)
    return written


EXCHANGE_FILES = ("timestamp.txt", "submission_secret.txt")


def _copy_exchange_files(course: Course, page: Path) -> None:
    """Put the submission's exchange files next to its feedback page (for release_feedback)."""
    student, lesson = page.parent.parent.name, page.parent.name
    for name in EXCHANGE_FILES:
        source = course.submitted_dir / student / lesson / name
        if source.is_file():
            shutil.copyfile(source, page.parent / name)


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

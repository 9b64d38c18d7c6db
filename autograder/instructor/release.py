"""``release``: regenerate ``lessons/`` from ``solutions/`` and prove nothing secret leaked.

Generation is nbgrader's ``generate_assignment`` (through ``python -m tools.build_lessons
--release`` when the course has those build scripts, which also rebuild ``solutions/``).
:func:`verify` then reads every released notebook and fails on any solution line, hidden-test
line, nbgrader marker or stored output that reached it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass

from .course import Course, _source, ensure_scripts_on_path, grade_id_of

MARKERS = (
    "### BEGIN SOLUTION",
    "### END SOLUTION",
    "### BEGIN HIDDEN TESTS",
    "### END HIDDEN TESTS",
)
_BLOCK = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.S)
# Lines too generic to count as leaked secrets ("return out", "pass", a lone bracket).
_MIN_SECRET_LEN = 12


@dataclass(frozen=True)
class Leak:
    lesson: str
    cell: str
    what: str

    def __str__(self) -> str:
        return f"{self.lesson}: cell {self.cell}: {self.what}"


def generate(course: Course, lessons: list[str] | None = None) -> list[str]:
    """Run nbgrader's generate_assignment for each lesson (in-process); return the lesson ids."""
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory

    ensure_scripts_on_path()
    done = []
    for lesson in lessons or course.lessons():
        cfg = course.config()
        cfg.CourseDirectory.assignment_id = lesson
        cfg.BaseConverter.force = True
        GenerateAssignment(coursedir=CourseDirectory(config=cfg), config=cfg).start()
        done.append(lesson)
    return done


def build_with_tools(course: Course, lessons: list[str] | None = None) -> None:
    """``python -m tools.build_lessons [LESSON ...] --release`` in the course root."""
    cmd = [sys.executable, "-m", "tools.build_lessons", *(lessons or []), "--release"]
    done = subprocess.run(cmd, cwd=course.root, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")


def _secret_lines(source: str) -> list[str]:
    lines = []
    for _, block in _BLOCK.findall(source):
        for line in block.splitlines():
            text = line.strip()
            if len(text) >= _MIN_SECRET_LEN and not text.startswith("#"):
                lines.append(text)
    return lines


def verify(course: Course, lessons: list[str] | None = None) -> list[Leak]:
    """Every leak of solution code, hidden tests, markers or outputs into ``lessons/``."""
    leaks: list[Leak] = []
    for lesson in lessons or course.lessons():
        released = course.release_dir / lesson / f"{lesson}.ipynb"
        if not released.is_file():
            leaks.append(Leak(lesson, "-", f"{released} is missing"))
            continue
        source_cells = json.loads(course.source_notebook(lesson).read_text("utf-8"))["cells"]
        secrets = [s for c in source_cells for s in _secret_lines(_source(c))]
        # a line the author also shows outside the blocks (markdown, docstrings) is no secret
        shown = "\n".join(_BLOCK.sub("", _source(cell)) for cell in source_cells)
        secrets = [s for s in secrets if s not in shown]
        for i, cell in enumerate(json.loads(released.read_text("utf-8"))["cells"]):
            name = grade_id_of(cell) or f"#{i}"
            text = _source(cell)
            for marker in MARKERS:
                if marker in text:
                    leaks.append(Leak(lesson, name, f"contains the marker {marker!r}"))
            for secret in secrets:
                if secret in text:
                    leaks.append(Leak(lesson, name, f"contains the hidden line {secret!r}"))
            if cell.get("outputs"):
                leaks.append(Leak(lesson, name, "has stored outputs"))
    return leaks


def release(course: Course, lessons: list[str] | None = None) -> list[Leak]:
    """Regenerate the released notebooks, then verify them."""
    if (course.root / "tools" / "build_lessons").is_dir():
        build_with_tools(course, lessons)
    else:
        generate(course, lessons)
    return verify(course, lessons)

"""Where things live in a course folder, its nbgrader configuration, and the grading status file.

The course root holds ``nbgrader_config.py``; nbgrader's layout applies below it
(``solutions/`` = source, ``lessons/`` = release, ``submitted/``, ``autograded/``, ``feedback/``,
``gradebook.db``). The grader adds one file of its own, ``grading_status.json``: per submission
its hash, statuses, per-test points and student-facing messages, and for every test cell that
lost points the mistakes its checks named (``tests[grade_id]["mistakes"]``, see
:func:`autograder.instructor.graded_outputs.record_mistakes`). Only the parent process writes it,
atomically, after every result; a grading kernel can neither read nor write it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATUS_FILE = "grading_status.json"
SECRET_FILE = ".autograder-secret"
HIDDEN_MARK = "### BEGIN HIDDEN TESTS"


def ensure_scripts_on_path() -> None:
    """nbgrader runs ``alembic`` when it creates a gradebook: it must find this Python's scripts."""
    scripts = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if scripts not in path.split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([scripts, path]) if path else scripts


@dataclass(frozen=True)
class Course:
    """Paths of one nbgrader course folder."""

    root: Path

    @classmethod
    def at(cls, root: str | os.PathLike | None = None) -> Course:
        path = Path(root or ".").resolve()
        if not (path / "nbgrader_config.py").is_file():
            raise ValueError(
                f"course root {str(path)!r} has no nbgrader_config.py; pass --course PATH "
                "pointing at the folder that holds it"
            )
        return cls(path)

    def config(self):
        """The course's nbgrader configuration (a traitlets ``Config``), as nbgrader loads it."""
        from traitlets.config.loader import PyFileConfigLoader

        cfg = PyFileConfigLoader("nbgrader_config.py", path=str(self.root)).load_config()
        cfg.CourseDirectory.root = str(self.root)
        return cfg

    def _dir(self, trait: str, default: str) -> Path:
        value = self.config().CourseDirectory.get(trait, default)
        return self.root / str(value)

    @property
    def source_dir(self) -> Path:
        return self._dir("source_directory", "source")

    @property
    def release_dir(self) -> Path:
        return self._dir("release_directory", "release")

    @property
    def submitted_dir(self) -> Path:
        return self.root / "submitted"

    @property
    def autograded_dir(self) -> Path:
        return self.root / "autograded"

    @property
    def feedback_dir(self) -> Path:
        return self.root / "feedback"

    @property
    def db_path(self) -> Path:
        return self.root / "gradebook.db"

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.db_path}"

    @property
    def status_path(self) -> Path:
        return self.root / STATUS_FILE

    def lessons(self) -> list[str]:
        """Lesson ids: folders of the source directory holding a notebook of the same name."""
        if not self.source_dir.is_dir():
            return []
        return sorted(
            d.name for d in self.source_dir.iterdir() if (d / f"{d.name}.ipynb").is_file()
        )

    def source_notebook(self, lesson: str) -> Path:
        return self.source_dir / lesson / f"{lesson}.ipynb"


# --------------------------------------------------------------------------------------------
# What the gradebook knows about each lesson (written by `nbgrader generate_assignment`)


def lesson_info(course: Course) -> dict[str, dict[str, Any]]:
    """Per lesson in the gradebook: its notebook, graded cells, locked cell sources, hidden tests.

    Returns ``{lesson: {"notebook": name, "grades": {grade_id: points}, "tests": [grade_id],
    "answers": [grade_id], "locked": {grade_id: source}, "checks": {grade_id: [[fn, part]]},
    "hidden": [grade_id], "rank": {grade_id: position}}}``.
    ``tests`` are graded code cells that are not answers, in notebook order.
    """
    from nbgrader.api import Gradebook

    from .kernel_boot import checks_in

    info: dict[str, dict[str, Any]] = {}
    if not course.db_path.exists():
        return info
    with Gradebook(course.db_url) as gb:
        for assignment in gb.assignments:
            if not assignment.notebooks:
                continue
            nb = assignment.notebooks[0]
            grades = {c.name: float(c.max_score) for c in nb.grade_cells}
            answers = [c.name for c in nb.solution_cells]
            # what a student sees: hidden tests are not part of a released cell
            locked = {c.name: strip_hidden(c.source) for c in nb.source_cells if c.locked}
            # the check(...) calls of each test cell, hidden ones included (kernel_boot.verified)
            checks = {
                c.name: [list(call) for call in checks_in(c.source)]
                for c in nb.source_cells
                if c.name in grades and c.name not in answers and checks_in(c.source)
            }
            info[assignment.name] = {
                "notebook": nb.name,
                "grades": grades,
                "answers": answers,
                "tests": [g for g in grades if g not in answers],
                "locked": locked,
                "checks": checks,
                "hidden": [],
                "rank": {},
            }
    for lesson, data in info.items():
        data["hidden"] = hidden_tests(course.source_notebook(lesson))
        src = course.source_notebook(lesson)
        data["tests"] = _in_notebook_order(src, data["tests"])
        order = [g for g in (grade_id_of(c) for c in _notebook_cells(src)) if g]
        data["rank"] = {g: i for i, g in enumerate(order)}
    return info


def strip_hidden(source: str) -> str:
    """``source`` without its ``### BEGIN/END HIDDEN TESTS`` blocks (as nbgrader releases it)."""
    out, hiding = [], False
    for line in source.splitlines():
        if HIDDEN_MARK in line:
            hiding = True
        elif "### END HIDDEN TESTS" in line:
            hiding = False
        elif not hiding:
            out.append(line)
    return "\n".join(out)


def _notebook_cells(path: Path) -> list[dict]:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError):
        return []


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def grade_id_of(cell: dict) -> str | None:
    meta = cell.get("metadata", {}).get("nbgrader") if isinstance(cell, dict) else None
    return meta.get("grade_id") if isinstance(meta, dict) else None


def hidden_tests(source_notebook: Path) -> list[str]:
    """grade_ids of the source notebook's cells that hold hidden tests."""
    return [
        grade_id_of(c)
        for c in _notebook_cells(source_notebook)
        if grade_id_of(c) and HIDDEN_MARK in _source(c)
    ]


def _in_notebook_order(source_notebook: Path, ids: list[str]) -> list[str]:
    order = [grade_id_of(c) for c in _notebook_cells(source_notebook)]
    rank = {g: i for i, g in enumerate(order) if g}
    return sorted(ids, key=lambda g: rank.get(g, len(rank)))


def course_secret(course: Course) -> bytes:
    """The course's secret (created on first use, mode 600): salts the seeds of hidden parts
    while grading, so that nobody can generate their inputs in advance. Keep it out of
    anything released to students."""
    path = course.root / SECRET_FILE
    if not path.is_file():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(os.urandom(32))
    return path.read_bytes()


def snapshot_gradebook(src: Path, dest: Path) -> None:
    """Consistent copy of an SQLite gradebook (the backup API, not a file copy)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(src) as a, sqlite3.connect(dest) as b:
        a.backup(b)


# --------------------------------------------------------------------------------------------
# grading_status.json


class StatusStore:
    """Results of the grader per (student, lesson); the parent process is its only writer.

    A result (``Submission.result()``) holds ``tests``: per test cell ``score``, ``max``,
    ``hidden``, ``message`` and, once graded by this grader, ``mistakes``: a list of
    ``{"function", "part", "mistake", "headline"}``, empty when the cell earned its points.
    """

    def __init__(self, path: Path):
        self.path = path
        self.data: dict[str, dict[str, Any]] = {}
        if path.exists():
            try:
                self.data = json.loads(path.read_text(encoding="utf-8"))
            except ValueError:
                self.data = {}

    @staticmethod
    def key(student: str, lesson: str) -> str:
        return f"{student}/{lesson}"

    def get(self, student: str, lesson: str) -> dict[str, Any] | None:
        return self.data.get(self.key(student, lesson))

    def put(self, result: dict[str, Any]) -> None:
        self.data[self.key(result["student"], result["lesson"])] = result
        self.save()

    def save(self) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".status-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(self.data, fh, indent=1, sort_keys=True)
        os.replace(tmp, self.path)

    def results(self) -> list[dict[str, Any]]:
        return [self.data[k] for k in sorted(self.data)]

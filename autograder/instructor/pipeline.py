"""Grading one submission as an ordered list of small steps with one signature.

Like nbgrader's preprocessors, every step is ``step(sub: Submission) -> None``: it reads what the
steps before it left on ``sub``, adds statuses, hints and data, and sets ``sub.stop`` when grading
cannot go on (e.g. the file is not a notebook). :data:`INSPECT_STEPS` need no kernel and run
anywhere; the worker appends the steps that execute the notebook with nbgrader
(``autograder.instructor.grade_steps.GRADE_STEPS``).

Order matters:
1. ``read_file`` before anything (hash, bytes);
2. ``parse_notebook`` before every step that looks at cells;
3. ``match_lesson`` before the cell checks: a notebook of another lesson is not "tampered";
4. the cell checks compare the submitted cells with the gradebook's source cells, *before*
   nbgrader's ``OverwriteCells`` restores them (it restores silently).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .course import _source, grade_id_of

# Statuses (CSV column "status"); the first ones are failures of the submission as a whole.
OK = "ok"
TIMED_OUT = "timed out"
OUT_OF_MEMORY = "out of memory"
KERNEL_DIED = "kernel died"
NOT_A_NOTEBOOK = "not a notebook"
WRONG_FILE = "wrong file"
TESTS_DELETED = "test cells deleted"
TAMPERED = "tampered"
UNVERIFIED = "unverified pass"  # a test cell did not raise, but its check did not sign a pass
GRADER_CRASHED = "grader crashed"
# Hints: worth a look, not a failure of the grader.
ANSWER_ERROR = "error in answer cell"
NOT_ATTEMPTED = "not attempted"
NAN_OUTPUT = "nan output"
DUPLICATED = "duplicated cells"
REORDERED = "reordered cells"
STDERR = "stderr output"


@dataclass
class Submission:
    """One (student, lesson) file on its way through the steps."""

    student: str
    lesson: str
    path: Path
    lesson_info: dict[str, Any]
    all_lessons: dict[str, dict[str, Any]] = field(default_factory=dict)
    data: bytes = b""
    sha256: str = ""
    nb: dict[str, Any] | None = None
    statuses: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    grades: dict[str, dict[str, Any]] = field(default_factory=dict)
    tests: dict[str, dict[str, Any]] = field(default_factory=dict)
    comments: dict[str, str | None] = field(default_factory=dict)
    stop: bool = False
    autograded: Path | None = None
    graded_cells: tuple[Path, list[tuple[str, dict]]] | None = None  # autograded's, parsed once
    seconds: float = 0.0

    def flag(self, status: str, detail: str = "") -> None:
        if status not in self.statuses:
            self.statuses.append(status)
        if detail and detail not in self.details:
            self.details.append(detail)

    def hint(self, hint: str, detail: str = "") -> None:
        if hint not in self.hints:
            self.hints.append(hint)
        if detail and detail not in self.details:
            self.details.append(detail)

    def zero_grades(self, manual: bool = True) -> None:
        """Every graded cell 0 points; ``manual`` flags them for a look by the instructor."""
        self.grades = {
            gid: {"score": 0.0, "max": pts, "manual": manual}
            for gid, pts in self.lesson_info["grades"].items()
        }

    def result(self) -> dict[str, Any]:
        """The JSON-able summary the parent stores (every test cell of the lesson has an entry)."""
        score = sum(g["score"] or 0.0 for g in self.grades.values())
        for gid in self.lesson_info["tests"]:
            if gid not in self.tests:
                self.tests[gid] = {
                    "score": (self.grades.get(gid) or {}).get("score") or 0.0,
                    "max": self.lesson_info["grades"][gid],
                    "hidden": gid in self.lesson_info["hidden"],
                    "message": "not run: " + ("; ".join(self.details) or "not graded"),
                }
        return {
            "student": self.student,
            "lesson": self.lesson,
            "sha256": self.sha256,
            "status": self.statuses or [OK],
            "hints": self.hints,
            "details": self.details,
            "grades": self.grades,
            "tests": self.tests,
            "comments": self.comments,
            "score": score,
            "max_score": sum(self.lesson_info["grades"].values()),
            "autograded": str(self.autograded) if self.autograded else None,
            "seconds": round(self.seconds, 3),
        }


Step = Callable[[Submission], None]


def read_file(sub: Submission) -> None:
    sub.data = sub.path.read_bytes()
    sub.sha256 = hashlib.sha256(sub.data).hexdigest()


def parse_notebook(sub: Submission) -> None:
    try:
        nb = json.loads(sub.data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        sub.flag(NOT_A_NOTEBOOK, f"the file is not valid notebook JSON ({type(exc).__name__})")
        sub.zero_grades()
        sub.stop = True
        return
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        sub.flag(WRONG_FILE, "the file is JSON but not a Jupyter notebook")
        sub.zero_grades()
        sub.stop = True
        return
    sub.nb = nb


def _ids(nb: dict[str, Any]) -> list[str]:
    return [g for g in (grade_id_of(c) for c in nb["cells"]) if g]


def match_lesson(sub: Submission) -> None:
    """A notebook with none of this lesson's graded cells is another file (maybe another lesson)."""
    ids = set(_ids(sub.nb))
    mine = set(sub.lesson_info["grades"]) | set(sub.lesson_info["answers"])
    if ids & mine:
        return
    guess = [
        lesson
        for lesson, info in sub.all_lessons.items()
        if lesson != sub.lesson and ids & set(info["grades"])
    ]
    sub.flag(
        WRONG_FILE,
        f"this notebook looks like lesson {guess[0]}" if guess else "no cell of this lesson found",
    )
    sub.zero_grades()
    sub.stop = True


def find_deleted_tests(sub: Submission) -> None:
    ids = set(_ids(sub.nb))
    gone = [g for g in sub.lesson_info["tests"] if g not in ids]
    if gone:
        sub.flag(TESTS_DELETED, "deleted test cells: " + ", ".join(gone))


def _points(cell: dict) -> float | None:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    try:
        return float(meta["points"]) if "points" in meta else None
    except (TypeError, ValueError):
        return None


def _normal(source: str) -> list[str]:
    return [line.rstrip() for line in source.strip().splitlines() if line.strip()]


def find_tampering(sub: Submission) -> None:
    """Locked cells whose source or points differ from the gradebook (nbgrader restores them)."""
    locked, grades = sub.lesson_info["locked"], sub.lesson_info["grades"]
    changed = []
    for cell in sub.nb["cells"]:
        gid = grade_id_of(cell)
        if gid in locked and _normal(_source(cell)) != _normal(locked[gid]):
            changed.append(f"{gid} (source)")
        elif gid in grades and gid not in sub.lesson_info["answers"]:
            pts = _points(cell)
            if pts is not None and pts != grades[gid]:
                changed.append(f"{gid} (points {pts:g} instead of {grades[gid]:g})")
    if changed:
        sub.flag(TAMPERED, "edited locked cells, restored before grading: " + ", ".join(changed))


def find_duplicates_and_order(sub: Submission) -> None:
    """Copies of graded cells lose their nbgrader metadata (the first one counts).

    nbgrader's own ``DeduplicateIds`` empties that metadata instead, which its
    ``CheckCellMetadata`` then rejects as an old schema and the whole submission fails.
    """
    ids = _ids(sub.nb)
    twice = sorted(g for g, n in Counter(ids).items() if n > 1)
    if twice:
        sub.hint(
            DUPLICATED, "cells present more than once (the first one counts): " + ", ".join(twice)
        )
        seen: set[str] = set()
        for cell in sub.nb["cells"]:
            gid = grade_id_of(cell)
            if gid in seen:
                cell["metadata"].pop("nbgrader", None)
            elif gid:
                seen.add(gid)
        sub.data = json.dumps(sub.nb).encode("utf-8")
    known = [g for g in dict.fromkeys(ids) if g in sub.lesson_info["rank"]]
    ranks = [sub.lesson_info["rank"][g] for g in known]
    if ranks != sorted(ranks):
        sub.hint(REORDERED, "graded cells are not in the order of the lesson")


def repair_cell_ids(sub: Submission) -> None:
    """Copied cells may repeat a cell ``id`` (invalid nbformat): give the copies fresh ids."""
    seen: set[str] = set()
    changed = False
    for i, cell in enumerate(sub.nb["cells"]):
        cid = cell.get("id")
        if isinstance(cid, str) and cid in seen:
            cell["id"] = f"{cid[:50]}-copy{i}"
            changed = True
        if isinstance(cid, str):
            seen.add(cell["id"])
    if changed:
        sub.hint(DUPLICATED, "cells with the same id (copied cells); the copies got new ids")
        sub.data = json.dumps(sub.nb).encode("utf-8")


INSPECT_STEPS: list[Step] = [
    read_file,
    parse_notebook,
    repair_cell_ids,
    match_lesson,
    find_deleted_tests,
    find_tampering,
    find_duplicates_and_order,
]


def run_steps(sub: Submission, steps: list[Step]) -> Submission:
    for step in steps:
        if sub.stop:
            break
        step(sub)
    return sub

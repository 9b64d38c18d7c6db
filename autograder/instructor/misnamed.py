"""Submissions saved under another name: ``02_softmax_final (1).ipynb`` for ``02_softmax.ipynb``.

nbgrader grades ``submitted/<student>/<lesson>/<lesson>.ipynb`` only. A lesson folder that
holds another notebook instead (or a notebook named after the lesson directly in the student's
folder) is found here, never skipped in silence: ``grade`` records the status ``wrong file
name`` naming the file (so ``report`` has a row and ``feedback`` a page for it) and says which
file it would take. ``grade --accept-names`` renames that file to ``<lesson>.ipynb`` and grades
it; it takes one only when the names order them (a single file, or Canvas/Moodle version
suffixes of one name), never by file time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .course import Course, StatusStore
from .names import match_lesson, version_of
from .pipeline import Submission

WRONG_NAME = "wrong file name"


@dataclass
class Misnamed:
    """A student's lesson folder without ``<lesson>.ipynb`` but with other notebooks."""

    student: str
    lesson: str
    found: list[Path]  # the notebooks found instead
    expected: Path
    would_take: Path | None  # the one grade takes with accept_names (None: cannot choose)


def find_misnamed(
    course: Course, lessons: Iterable[str], students: Iterable[str] | None = None
) -> list[Misnamed]:
    """(student, lesson) pairs without ``<lesson>.ipynb`` whose folder holds other notebooks
    (in ``submitted/<student>/<lesson>/``, or in ``submitted/<student>/`` named after the lesson).
    """
    lessons = list(lessons)
    wanted = set(students) if students else None
    out: list[Misnamed] = []
    if not course.submitted_dir.is_dir():
        return out
    for student_dir in sorted(p for p in course.submitted_dir.iterdir() if p.is_dir()):
        if wanted is not None and student_dir.name not in wanted:
            continue
        loose = sorted(p for p in student_dir.glob("*.ipynb") if p.is_file())
        for lesson in lessons:
            expected = student_dir / lesson / f"{lesson}.ipynb"
            if expected.is_file():
                continue
            found = sorted(p for p in (student_dir / lesson).glob("*.ipynb") if p.is_file())
            found += [p for p in loose if match_lesson(p.name, lessons) == lesson]
            if not found:
                continue
            versions = [version_of(p.name) for p in found]
            take = None
            if len({base for base, _ in versions}) == 1 and len({p.parent for p in found}) == 1:
                if len({n for _, n in versions}) == len(found):
                    take = max(found, key=lambda p: version_of(p.name)[1])
            out.append(Misnamed(student_dir.name, lesson, found, expected, take))
    return out


def accept_names(misnamed: list[Misnamed], renamed: list[tuple[Path, Path]]) -> list[Misnamed]:
    """Rename every file grade would take to ``<lesson>.ipynb`` (appended to ``renamed``);
    return the others."""
    left = []
    for m in misnamed:
        if m.would_take is None:
            left.append(m)
            continue
        m.expected.parent.mkdir(parents=True, exist_ok=True)
        m.would_take.rename(m.expected)
        renamed.append((m.would_take, m.expected))
    return left


def record_misnamed(
    course: Course,
    misnamed: list[Misnamed],
    store: StatusStore,
    info: dict[str, Any],
    scope: tuple[list[str], Iterable[str] | None],
) -> None:
    """A ``wrong file name`` result for each pair (report and feedback show it); stale ones go."""
    lessons, students = scope
    current = {(m.student, m.lesson) for m in misnamed}
    for key, result in list(store.data.items()):
        pair = (result.get("student"), result.get("lesson"))
        in_scope = pair[1] in lessons and (not students or pair[0] in set(students))
        expected = course.submitted_dir / pair[0] / pair[1] / f"{pair[1]}.ipynb"
        stale = WRONG_NAME in result.get("status", []) and pair not in current
        if in_scope and stale and not expected.is_file():
            del store.data[key]
            store.save()
    for m in misnamed:
        names = [str(p.relative_to(course.submitted_dir / m.student)) for p in m.found]
        sub = Submission(m.student, m.lesson, m.expected, info[m.lesson])
        sub.flag(WRONG_NAME, f"found {', '.join(names)}; expected {m.lesson}.ipynb")
        sub.zero_grades()
        result = sub.result()
        result["found"] = names
        store.put(result)

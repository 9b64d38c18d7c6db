"""``collect``: file a folder or zip of submissions as nbgrader expects them, losing nobody.

Writes ``submitted/<student>/<lesson>/<lesson>.ipynb`` (plus nbgrader's ``timestamp.txt`` when the
LMS says when the student submitted) and, in ``collected/`` (:mod:`.collected`), a manifest of
the run and the record of every file filed. Which file is whose comes from :mod:`.identify`;
this module decides, for each student and lesson, which file is kept, then files them all or
nothing:

* **versions** are ordered only by what the LMS encodes: Canvas attachment ids, Moodle's
  `` (1)``/`` (2)`` and Canvas's ``-1``/``-2`` on one base name. Zip entry and file times are never
  used (both LMSs stamp entries with the download time). Where nothing orders two different
  files, collect stops and says so, as nbgrader's own ``zip_collect`` does; ``--keep`` picks one;
* **one id, one student**: two sources (two folders, a folder and a Canvas user, ...) that map
  to one student id stop the run with both named;
* **the wrong assignment**: a notebook of lesson B in the download of assignment A is reported,
  and filed only where the student has no other work for B (``--force`` to replace it);
* **never a silent overwrite**: a file that replaces different collected work is reported as
  replaced and the old notebook is kept in ``collected/replaced/<run>/``; an older version
  (by attachment id or submission time) never replaces a newer one without ``--force``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .collected import SubmissionIndex, collected_dir, write_manifest
from .course import Course
from .identify import Found, identify, is_lms_name
from .names import match_lesson, version_of
from .roster import Roster
from .sources import read_source, strip_wrappers

__all__ = ["CollectError", "CollectResult", "collect", "match_lesson"]


class CollectError(ValueError):
    """The download cannot be filed without guessing; nothing was written."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            f"nothing was filed: {len(problems)} problem(s) to fix first:\n  "
            + "\n  ".join(problems)
        )


@dataclass
class Filed:
    student: str
    lesson: str
    path: Path
    action: str  # "filed", "replaced", "unchanged"
    source: str  # the file's path inside the download
    note: str = ""


@dataclass
class CollectResult:
    run: str = ""
    assignments: dict[str, str] = field(default_factory=dict)  # LMS download folder -> lesson
    wrappers: list[str] = field(default_factory=list)
    roster: list[str] = field(default_factory=list)
    filed: list[Filed] = field(default_factory=list)
    not_filed: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    superseded: list[tuple[str, str]] = field(default_factory=list)
    unmatched: list[tuple[str, str]] = field(default_factory=list)
    manifest: Path | None = None


def _timestamp(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def _assignments(
    usable: list[Found], source: Path, wrappers: list[str], lessons: list[str], given: str
) -> list[str]:
    """Set every LMS file's ``assignment``: ``given``, else the lesson named by its download's
    folder (inner first), the wrappers or the source, else the one lesson its download's
    notebooks name. Returns the problems (a download whose assignment cannot be told)."""
    outer = [*reversed(wrappers), source.stem if source.is_file() else source.name]
    downloads: dict[tuple[str, ...], list[Found]] = defaultdict(list)
    for f in usable:
        if f.lms in ("canvas", "moodle") or given:
            downloads[f.download].append(f)
    problems = []
    for folder, files in sorted(downloads.items()):
        lesson = given
        for name in [*reversed(folder), *outer]:
            lesson = lesson or match_lesson(name, lessons) or ""
        if not lesson:
            named = {f.lesson for f in files if f.lesson}
            if len(named) == 1:
                lesson = named.pop()
            elif named:
                where = "/".join(folder) or source.name
                problems.append(
                    f"the LMS download {where!r} holds notebooks of {sorted(named)}; say which "
                    "assignment it is with --lesson LESSON (a notebook of another lesson is "
                    "then reported as uploaded to the wrong assignment)"
                )
        for f in files:
            f.assignment = lesson
    return problems


def _order(files: list[Found], keep: set[str]) -> tuple[Found | None, str, list[str]]:
    """(the file to keep, why the others are not, problem) for one student's lesson."""
    chosen = [f for f in files if f.rel in keep]
    if chosen:
        return chosen[0], "not chosen: --keep named another file", []
    if all(f.attachment is not None for f in files):
        ids = sorted(f.attachment for f in files)
        if len(set(ids)) == len(ids):
            best = max(files, key=lambda f: f.attachment)
            return best, f"an earlier upload: attachment id below {best.attachment}", []
    groups = {f.group for f in files}
    versions = [version_of(f.filename) for f in files]
    if len(groups) == 1 and len({base for base, _ in versions}) == 1:
        numbers = [n for _, n in versions]
        if len(set(numbers)) == len(numbers):
            best = max(files, key=lambda f: version_of(f.filename)[1])
            return best, f"an earlier version of {best.filename} (LMS numbering)", []
    names = ", ".join(repr(f.rel) for f in files)
    return (
        None,
        "",
        [
            f"{files[0].student}/{files[0].lesson} ({files[0].who()}): nothing orders {names} "
            "(zip and file times are the download's, not the student's); keep one with "
            f"--keep {files[0].rel!r} (or another of them), or remove the others"
        ],
    )


def _is_older(new: Found, prev: dict[str, Any]) -> str:
    """Why the collected version ``prev`` is newer than ``new``, or ""."""
    if new.attachment is not None and prev.get("attachment_id") not in (None, ""):
        if prev.get("lms_id") == new.key and int(prev["attachment_id"]) > new.attachment:
            return (
                f"attachment {new.attachment} is older than the collected "
                f"attachment {prev['attachment_id']}"
            )
    if new.submitted and prev.get("submitted_at"):
        before = datetime.fromisoformat(prev["submitted_at"])
        if before > new.submitted:
            return (
                f"submitted {new.submitted.isoformat()} is older than the collected version "
                f"(submitted {prev['submitted_at']})"
            )
    return ""


def collect(
    course: Course,
    source: Path,
    lessons: list[str] | None = None,
    *,
    assignment: str | None = None,
    rosters: list[Path] = (),
    keep: list[str] = (),
    force: bool = False,
) -> CollectResult:
    """File every submission of the folder or zip ``source`` into ``submitted/``.

    Parameters
    ----------
    assignment : str, optional
        The lesson whose LMS assignment the download is; default: found in the download's
        name, or the one lesson its notebooks name.
    rosters : list of Path
        LMS exports to add to the roster first (:meth:`.Roster.add_file`).
    keep : list of str
        Paths inside the download to keep where nothing else orders two versions.
    force : bool
        Let a wrong-assignment upload or an older version replace collected work.

    Raises
    ------
    CollectError
        If a file cannot be attributed or ordered without guessing (nothing is written).
    """
    source = Path(source)
    every = sorted(set(course.lessons()) | set(lessons or []))  # to tell what a name names
    lessons = lessons or every
    if not lessons:
        raise ValueError(f"no lessons found in {course.source_dir}; nothing to match files with")
    if assignment and assignment not in every:
        raise ValueError(f"--lesson {assignment!r} is not a lesson; lessons: {every}")
    roster = Roster.load(course)
    result = CollectResult(run=datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ"))
    result.roster = [roster.add_file(Path(p)) for p in rosters]
    entries = read_source(source)
    result.wrappers = strip_wrappers(entries, every, is_lms_name)
    found = identify(entries, every, roster, len(result.wrappers))
    problems: list[str] = []
    usable = [f for f in found if f.lms and f.lms != "metadata" and not f.problem]
    problems += sorted({f.problem for f in found if f.lms == "moodle" and f.problem})

    problems += _assignments(usable, source, result.wrappers, every, assignment or "")
    for f in usable:
        if f.assignment:
            result.assignments["/".join(f.download) or source.name] = f.assignment
        if not f.lesson and f.assignment:
            f.lesson = f.assignment
            f.add_note(f"its name names no lesson; taken as {f.assignment}, the assignment")
        elif not f.lesson:
            f.problem = f"file name {f.filename!r} names no lesson of {every}"
        elif f.assignment and f.lesson != f.assignment:
            f.add_note(f"uploaded to the {f.assignment} assignment")
        if f.lesson and f.lesson not in lessons:
            f.problem = f"a notebook of {f.lesson}, which is not among --lessons {lessons}"
    usable = [f for f in usable if not f.problem]

    sources: dict[str, set[str]] = defaultdict(set)
    for f in usable:
        sources[f.student].add(f"{f.lms} {f.key}" if f.lms != "moodle" else "moodle")
    for sid, keys in sorted(sources.items()):
        if len(keys) > 1:
            named = " and ".join(sorted(repr(k) for k in keys))
            problems.append(
                f"{named} both map to student id {sid!r}; one id must be one student: "
                "rename one folder, or collect the downloads into separate course folders"
            )

    plan = _plan(course, usable, set(keep), force, result, problems)
    if problems:
        raise CollectError(problems)
    _write(course, source, found, plan, result)
    roster.save(course)
    return result


def _anonymous_clash(f: Found, index: SubmissionIndex) -> str:
    """Why a Canvas ``anon_`` id may not be the student collected under it before, or ""."""
    if f.lms != "canvas" or not f.key.startswith("anon_"):
        return ""
    other = {
        r.get("assignment")
        for r in index.data.values()
        if r.get("student") == f.student and r.get("assignment")
    } - {f.assignment}
    if not other:
        return ""
    return (
        f"{f.student} already names a student of the {sorted(other)} assignment; Canvas keeps "
        "an anonymous id for one assignment only, so this may be another student: not filed; "
        "pass --force if it is the same one"
    )


def _plan(
    course: Course,
    usable: list[Found],
    keep: set[str],
    force: bool,
    result: CollectResult,
    problems: list[str],
) -> list[tuple[Found, str]]:
    """(file, action) for every file kept; fills ``result``'s superseded and not_filed."""
    index = SubmissionIndex(course)
    groups: dict[tuple[str, str], list[Found]] = defaultdict(list)
    for f in usable:
        groups[(f.student, f.lesson)].append(f)
    plan = []
    for (student, lesson), files in sorted(groups.items()):
        distinct: dict[str, Found] = {}
        for f in files:
            if f.entry.sha256() in distinct:
                f.problem = f"the same file as {distinct[f.entry.sha256()].rel}"
                f.action = "duplicate"
                result.superseded.append((f.rel, f.problem))
            else:
                distinct[f.entry.sha256()] = f
        best, why, trouble = _order(list(distinct.values()), keep)
        problems += trouble
        if best is None:
            continue
        for f in distinct.values():
            if f is not best:
                f.problem, f.action = why, "superseded"
                result.superseded.append((f.rel, f"{why} ({student}/{lesson})"))
        target = course.submitted_dir / student / lesson / f"{lesson}.ipynb"
        prev = index.get(student, lesson) or {}
        clash = _anonymous_clash(best, index)
        if clash and not force:
            best.problem, best.action = clash, "not filed"
            result.not_filed.append((best.rel, best.problem))
            continue
        if not target.is_file():
            plan.append((best, "filed"))
            continue
        if target.read_bytes() == best.entry.data():
            plan.append((best, "unchanged"))
            continue
        wrong = bool(best.assignment) and lesson != best.assignment
        older = _is_older(best, prev)
        earlier_wrong = prev.get("assignment") not in (None, "", lesson)
        where = prev.get("source") and f"{prev['source']} ({prev.get('entry')})"
        if wrong and not force:
            best.problem = (
                f"{best.who()} uploaded {best.filename!r} to the {best.assignment} assignment;"
                f" {student}/{lesson} already holds other work ({where or 'filed before'}), so "
                "it was not filed over it; pass --force to replace it"
            )
        elif older and not earlier_wrong and not force:
            best.problem = f"{older}: not filed; pass --force to file it anyway"
        if best.problem:
            best.action = "not filed"
            result.not_filed.append((best.rel, best.problem))
            continue
        plan.append((best, "replaced"))
    return plan


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".collect-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _write(
    course: Course, source: Path, found: list[Found], plan: list, result: CollectResult
) -> None:
    index = SubmissionIndex(course)
    for f, action in plan:
        f.action = action
        dest = course.submitted_dir / f.student / f.lesson
        target = dest / f"{f.lesson}.ipynb"
        if action == "replaced":
            backup = collected_dir(course) / "replaced" / result.run / f.student / f.lesson
            backup.mkdir(parents=True, exist_ok=True)
            for old in (target, dest / "timestamp.txt"):
                if old.is_file():
                    shutil.move(str(old), backup / old.name)
            f.add_note(f"the notebook it replaced is in {backup}")
        if action != "unchanged":
            _atomic_write(target, f.entry.data())
            stamp = dest / "timestamp.txt"
            if f.submitted:
                _atomic_write(stamp, _timestamp(f.submitted).encode())
            elif stamp.is_file():
                stamp.unlink()
        index.put(_record(f, source, result))
        result.filed.append(Filed(f.student, f.lesson, target, action, f.rel, f.note))
    rows = []
    for f in found:
        if not f.action:
            f.action = "unmatched"
            result.unmatched.append((f.rel, f.problem or "not identified"))
        rows.append(
            {**_record(f, source, result), "action": f.action, "reason": f.problem or f.note}
        )
    result.manifest = write_manifest(course, result.run, rows)
    index.save()


def _record(f: Found, source: Path, result: CollectResult) -> dict[str, Any]:
    return {
        "source": str(source),
        "entry": f.entry.raw,
        "lms": f.lms,
        "lms_id": f.key if f.lms in ("canvas", "moodle") else "",
        "attachment_id": f.attachment,
        "name": f.name,
        "student": f.student,
        "lesson": f.lesson,
        "assignment": f.assignment,
        "late": "" if f.late is None else f.late,
        "submitted_at": f.submitted.isoformat() if f.submitted else "",
        "sha256": f.entry.sha256(),
        "run": result.run,
    }

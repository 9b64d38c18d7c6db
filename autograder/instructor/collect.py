"""``collect``: file a folder or zip of submissions as nbgrader expects them.

Writes ``submitted/<student>/<lesson>/<lesson>.ipynb`` (plus nbgrader's ``timestamp.txt``).
Accepted layouts, tried in this order for every ``.ipynb`` file:

* one folder per student: ``<student>/<lesson>.ipynb`` or ``<student>/<lesson>/<lesson>.ipynb``;
* Canvas bulk download: ``<name>_[late_]<userid>_<submissionid>_<original name>.ipynb``
  (Canvas appends ``-1``, ``-2`` to resubmitted names);
* Moodle bulk download: ``<Full Name>_<id>_assignsubmission_file_/<original name>.ipynb``.

The lesson is the lesson id found in the file name (``01_neurons.ipynb``, ``01_neurons-2``,
``01-neurons (1).ipynb``), or its two-digit number at the start. Anything that cannot be matched
to a student and a lesson is listed in the result, never dropped silently; so is every second
file for the same (student, lesson) (the newest one is kept).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .course import Course

_CANVAS = re.compile(r"^(?P<name>[a-z0-9]+)_(?:late_)?(?P<uid>\d+)_(?P<sid>\d+)_(?P<file>.+)$")
_MOODLE = re.compile(r"^(?P<name>.+?)_(?P<uid>\d+)_assignsubmission_(?:file|onlinetext)_?$")
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass
class CollectResult:
    filed: list[tuple[str, str, Path]] = field(default_factory=list)
    unmatched: list[tuple[Path, str]] = field(default_factory=list)
    superseded: list[tuple[Path, str]] = field(default_factory=list)


def student_id(raw: str) -> str:
    """A file-system-safe student id: lower case, spaces to underscores."""
    return _SAFE.sub("_", raw.strip().lower().replace(" ", "_")).strip("_.")


def match_lesson(filename: str, lessons: list[str]) -> str | None:
    """The lesson a submitted file name refers to, or None."""
    stem = Path(filename).stem.lower()
    flat = re.sub(r"[^a-z0-9]+", "_", stem)
    for lesson in sorted(lessons, key=len, reverse=True):
        if lesson.lower() in flat:
            return lesson
    number = re.match(r"^(?:lesson_?)?(\d{2})(?:_|$)", flat)
    if number:
        hits = [lesson for lesson in lessons if lesson.startswith(number.group(1) + "_")]
        if len(hits) == 1:
            return hits[0]
    return None


def identify(path: Path, root: Path, lessons: list[str]) -> tuple[str, str] | str:
    """(student, lesson) for one file below ``root``, or the reason it cannot be matched."""
    rel = path.relative_to(root)
    parts = rel.parts
    canvas = _CANVAS.match(path.name)
    if canvas and len(parts) == 1:
        lesson = match_lesson(canvas.group("file"), lessons)
        if lesson is None:
            return f"Canvas file {canvas.group('file')!r} names no lesson"
        return student_id(canvas.group("name")), lesson
    for folder in parts[:-1]:
        moodle = _MOODLE.match(folder)
        if moodle:
            lesson = match_lesson(path.name, lessons)
            if lesson is None:
                return f"Moodle file {path.name!r} names no lesson"
            return student_id(moodle.group("name")), lesson
    if len(parts) >= 2:
        lesson = match_lesson(path.name, lessons)
        if lesson is None and len(parts) >= 3:
            lesson = match_lesson(parts[-2], lessons)
        if lesson is None:
            return f"file name {path.name!r} names no lesson of {lessons}"
        return student_id(parts[0]), lesson
    return "a file at the top level names no student (expected one folder per student)"


def _timestamp(seconds: float) -> str:
    when = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return when.strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def collect(course: Course, source: Path, lessons: list[str] | None = None) -> CollectResult:
    """File every submission found in the folder or zip ``source`` into ``submitted/``."""
    source = Path(source)
    if not source.exists():
        raise ValueError(f"source {str(source)!r} does not exist; pass a folder or a .zip file")
    lessons = lessons or course.lessons()
    if not lessons:
        raise ValueError(f"no lessons found in {course.source_dir}; nothing to match files with")
    with tempfile.TemporaryDirectory() as tmp:
        root = source
        if source.is_file():
            if not zipfile.is_zipfile(source):
                raise ValueError(f"source {str(source)!r} is neither a folder nor a zip file")
            root = Path(tmp)
            with zipfile.ZipFile(source) as zf:
                for info in zf.infolist():
                    target = (root / info.filename).resolve()
                    if not str(target).startswith(str(root.resolve())):
                        continue  # "../" in a member name: never write outside the folder
                    zf.extract(info, root)
                    if not info.is_dir():
                        stamp = datetime(*info.date_time, tzinfo=timezone.utc).timestamp()
                        os.utime(target, (stamp, stamp))
        return _file_all(course, root, lessons)


def _file_all(course: Course, root: Path, lessons: list[str]) -> CollectResult:
    result = CollectResult()
    chosen: dict[tuple[str, str], Path] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root)
        if any(part.startswith(".") or part == "__MACOSX" for part in rel.parts):
            continue
        if path.suffix.lower() != ".ipynb":
            result.unmatched.append((rel, "not a .ipynb file"))
            continue
        who = identify(path, root, lessons)
        if isinstance(who, str):
            result.unmatched.append((rel, who))
            continue
        if who in chosen:
            older, newer = sorted([chosen[who], path], key=lambda p: (p.stat().st_mtime, str(p)))
            result.superseded.append(
                (older.relative_to(root), f"a newer file for {who[0]}/{who[1]} was used")
            )
            chosen[who] = newer
        else:
            chosen[who] = path
    for (student, lesson), path in sorted(chosen.items()):
        dest = course.submitted_dir / student / lesson
        dest.mkdir(parents=True, exist_ok=True)
        target = dest / f"{lesson}.ipynb"
        shutil.copyfile(path, target)
        (dest / "timestamp.txt").write_text(_timestamp(path.stat().st_mtime))
        result.filed.append((student, lesson, target))
    return result

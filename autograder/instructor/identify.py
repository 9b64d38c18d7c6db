"""Which student, lesson and version every file of a download is, by what the LMS encodes.

Layouts, tried in this order for every file (after the wrapping folders are removed):

1. Moodle: a path through ``<name>_<participant>_assignsubmission_file/`` or a flat
   ``<name>_<participant>_assignsubmission_file_<file>``; the student is the roster's
   participant (:mod:`.roster`), the name is only shown;
2. Canvas: ``<name>_[LATE_]<user id>_<attachment id>_<file>`` or ``[LATE_]anon_<id>_<...>``; the
   student is the Canvas user id (or ``anon_<id>``), the attachment id orders versions;
3. a folder per student: ``<student>/<lesson>.ipynb`` or ``<student>/<lesson>/<lesson>.ipynb``
   (nbgrader's own ``timestamp.txt`` beside it gives the submission time).

The lesson is the lesson id in the file name (:func:`.names.match_lesson`); a notebook whose
name names no lesson is taken as the lesson of the assignment the download belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import PurePosixPath

from . import lms_canvas, lms_moodle
from .names import match_lesson, nfc, student_id
from .roster import Roster
from .sources import Entry


@dataclass
class Found:
    """One file of a download and what it is."""

    entry: Entry
    lms: str = ""  # "canvas", "moodle", "folder"; "" when not identified
    key: str = ""  # the LMS identity: Canvas user id, "participant 77", the raw folder name
    name: str = ""  # the student's name as the download shows it
    filename: str = ""  # the student's own file name
    student: str = ""
    lesson: str = ""
    attachment: int | None = None
    late: bool | None = None
    submitted: datetime | None = None
    group: str = ""  # files with the same group are versions from one submission folder
    download: tuple[str, ...] = ()  # the folder of the LMS download the file came in
    assignment: str = ""  # the lesson whose assignment that download is
    note: str = ""
    problem: str = ""  # why the file is not used
    action: str = ""  # what collect did with it (the manifest's "action")

    @property
    def rel(self) -> str:
        return self.entry.rel

    def add_note(self, note: str) -> None:
        self.note = "; ".join(n for n in (self.note, note) if n)

    def who(self) -> str:
        """How messages name the student: ``Doe, Jane (Canvas 4711)``."""
        label = {"canvas": "Canvas", "moodle": "Moodle", "folder": "folder"}.get(self.lms, "")
        key = self.key if self.lms != "folder" else ""
        inner = f"{label} {key}".strip()
        return f"{self.name} ({inner})" if self.name and inner else (self.name or inner)


def is_lms_name(name: str) -> bool:
    return lms_moodle.is_moodle_name(name) or lms_canvas.is_canvas_name(name)


def _read_timestamp(text: str) -> datetime | None:
    from dateutil import parser

    try:
        when = parser.parse(text.strip())
    except (ValueError, OverflowError):
        return None
    return when.astimezone(timezone.utc) if when.tzinfo else when.replace(tzinfo=timezone.utc)


def identify(
    entries: list[Entry], lessons: list[str], roster: Roster, raw_offset: int
) -> list[Found]:
    """A :class:`Found` for every entry; ``raw_offset`` = number of wrapping folders removed."""
    timestamps = {e.parts[:-1]: e for e in entries if e.parts[-1] == "timestamp.txt"}
    out = []
    known = roster.canvas_ids()
    for entry in entries:
        found = Found(entry)
        moodle = lms_moodle.parse_path(entry.parts)
        canvas = None if moodle else lms_canvas.parse_name(entry.parts[-1], known)
        if moodle:
            _moodle(found, moodle, roster)
        elif canvas:
            found.lms, found.key, found.filename = "canvas", canvas.user, canvas.filename
            found.student = canvas.user
            found.name = roster.name_of(canvas.user) or canvas.name
            found.attachment, found.late = canvas.attachment, canvas.late
            found.group = f"canvas {canvas.user}"
            found.download = entry.parts[:-1]
            if known and canvas.user not in known and not canvas.anonymous:
                found.note = (
                    f"Canvas user {canvas.user} is not in the roster (joined after the "
                    "gradebook export? add a new export with --roster)"
                )
        elif entry.parts[-1] == "timestamp.txt" and len(entry.parts) > 1:
            found.lms, found.action = "metadata", "used"
            found.note = "nbgrader's submission time of the notebook beside it"
        elif len(entry.parts) >= 2:
            raw_parts = [p for p in entry.raw.replace("\\", "/").split("/") if p not in ("", ".")]
            raw_folder = raw_parts[raw_offset] if raw_offset < len(raw_parts) else entry.parts[0]
            found.lms, found.key, found.filename = "folder", raw_folder, entry.parts[-1]
            found.name = nfc(entry.parts[0])
            found.group = f"folder {nfc(raw_folder)}"
            try:
                found.student = student_id(entry.parts[0])
            except ValueError as exc:
                found.problem = str(exc)
            stamp = timestamps.get(entry.parts[:-1])
            if stamp is not None:
                found.submitted = _read_timestamp(stamp.data().decode("utf-8", "replace"))
            if len(entry.parts) >= 3:
                found.lesson = match_lesson(entry.parts[1], lessons) or ""
        else:
            found.problem = "a file at the top level names no student (one folder per student)"
        if found.lms and found.lms != "metadata" and not found.problem:
            if not entry.parts[-1].lower().endswith(".ipynb"):
                found.problem = f"not a notebook (.ipynb) file, from {found.who()}"
            else:
                found.lesson = match_lesson(found.filename, lessons) or found.lesson
        out.append(found)
    return out


def _moodle(found: Found, moodle: lms_moodle.MoodleFile, roster: Roster) -> None:
    found.lms, found.key = "moodle", f"participant {moodle.participant}"
    depth = found.entry.parts.index(moodle.folder) if moodle.folder else -1
    found.download = found.entry.parts[:depth]
    found.filename = PurePosixPath(moodle.filename).name
    found.name = moodle.name
    found.group = f"moodle {moodle.participant} {moodle.folder}"
    participant = roster.participants.get(moodle.participant)
    if participant is None:
        found.problem = (
            f"Moodle participant {moodle.participant} ({moodle.name}) is not in the roster: "
            "Moodle numbers participants per assignment, so pass this assignment's grading "
            "worksheet with --roster (Assignment > View all submissions > Grading action > "
            "Download grading worksheet)"
        )
        return
    student = roster.students.get(participant.student)
    found.student = participant.student
    if student is not None and student.name and not student.anonymous:
        if moodle.name != "Participant" and _comparable(moodle.name) != _comparable(student.name):
            found.problem = (
                f"the download names Participant {moodle.participant} {moodle.name!r} but the "
                f"worksheet {participant.source} names them {student.name!r}: the worksheet "
                "belongs to another Moodle site; download this assignment's worksheet again"
            )
            return
        found.name = student.name
    found.late = lms_moodle.is_late(participant.status) if participant.status else None
    found.submitted = lms_moodle.submitted_at(participant.submitted)


def _comparable(name: str) -> str:
    """A full name as Moodle's ``clean_filename`` leaves it, for comparing with the worksheet."""
    text = nfc(name).replace("_", " ")
    for ch in "&<>\"`|':\\/":
        text = text.replace(ch, "")
    return " ".join(text.casefold().split())

"""Moodle: the names in a "Download all submissions" zip, the grading worksheet, the gradebook.

Read from Moodle's source (moodle/moodle, see ``autograder/instructor/LMS.md``):

* ``mod_assign\\downloader`` names a student's files after ``<full name>_<participant id>``
  (underscores in the name become spaces; ``clean_filename`` drops ``& < > " ` | ' : \\ /``).
  With "Download submissions in folders" (the default since 3.1) every file sits in a folder
  ``<prefix>_assignsubmission_file/``; without it the files are flat,
  ``<prefix>_assignsubmission_file_<file name>``. Under blind marking the full name is the
  word ``Participant``. The participant id is ``assign_user_mapping``'s id: one per student *and
  assignment*, so it identifies a student only together with this assignment's worksheet.
* A second upload of a name in a submission is renamed ``name (1).ext``, ``name (2).ext``
  (``file_storage::get_unused_filename``).
* The grading worksheet (``assignfeedback_offline``) has ``Identifier`` = ``Participant <id>``,
  ``Full name`` (absent under blind marking), the identity fields (``Email address`` by
  default), ``Status`` (``... - 1 day 2 hours late``), ``Grade``, ``Maximum Grade``,
  ``Last modified (submission)`` and ``Last modified (grade)``; its importer finds a row by
  ``Identifier`` and skips an empty ``Grade``.
* The gradebook export (``grade_export_txt``) has the profile fields (``First name``, ``Last name``,
  ``ID number``, ``Institution``, ``Department``, ``Email address``), one column per item and
  display type, ``Assignment: <name> (Real)``, and ``Last downloaded from this course``. The CSV
  import (``gradeimport_csv``) maps a column to identify users (email, ID number, ...) and
  columns to grade items, and takes an empty cell or ``-`` as "no grade" (it removes one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from .lms_csv import CsvTable
from .names import nfc

_FOLDER = re.compile(r"^(?P<name>[^_]*)_(?P<pid>\d+)_assignsubmission_(?P<plugin>[a-z0-9]+)_?$")
_FLAT = re.compile(
    r"^(?P<name>[^_]*)_(?P<pid>\d+)_assignsubmission_(?P<plugin>[a-z0-9]+)_(?P<file>.+)$"
)
_PARTICIPANT = re.compile(r"(\d+)\s*$")
_ITEM = re.compile(r"^(?P<module>[^:]+): (?P<name>.+) \((?P<kind>[^()]+)\)$", re.S)
_DATE_FORMATS = ("%A, %d %B %Y, %I:%M %p", "%A, %d %B %Y, %H:%M", "%d %B %Y, %I:%M %p")
IDENTITY = ("Email address", "ID number")


@dataclass(frozen=True)
class MoodleFile:
    """What a Moodle download says about one file."""

    name: str  # full name as written ("Participant" under blind marking)
    participant: str  # the participant id (per assignment)
    plugin: str  # "file", "onlinetext", ...
    filename: str  # the student's file name
    folder: str  # the submission folder ("" for a flat download)


def parse_path(parts: tuple[str, ...]) -> MoodleFile | None:
    """Read a path inside a Moodle download (either layout), or None if it is not one."""
    for i, part in enumerate(parts[:-1]):
        m = _FOLDER.match(nfc(part))
        if m:
            return MoodleFile(m["name"], m["pid"], m["plugin"], "/".join(parts[i + 1 :]), nfc(part))
    m = _FLAT.match(nfc(parts[-1]))
    if m:
        return MoodleFile(m["name"], m["pid"], m["plugin"], m["file"], "")
    return None


def is_moodle_name(name: str) -> bool:
    return bool(_FOLDER.match(nfc(name)) or _FLAT.match(nfc(name)))


# --------------------------------------------------------------------------------------------
# Grading worksheet (one assignment)


def is_worksheet(table: CsvTable) -> bool:
    return table.column("Identifier") is not None and table.column("Grade") is not None


def participant_of(identifier: str) -> str | None:
    """``Participant 123`` -> ``123`` (the importer strips the word the same way)."""
    m = _PARTICIPANT.search(identifier or "")
    return m.group(1) if m else None


def submitted_at(text: str) -> datetime | None:
    """The ``Last modified (submission)`` time, read in this computer's time zone, as UTC."""
    for fmt in _DATE_FORMATS:
        try:
            local = datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
        return local.astimezone().astimezone(timezone.utc)
    return None


def is_late(status: str) -> bool:
    """Moodle's status cell says ``<time> late`` for a submission after the due date."""
    return bool(re.search(r"\blate\b", status or "", re.I))


def worksheet_rows(table: CsvTable) -> list[dict[str, str]]:
    """One dict per row: ``participant``, ``name``, ``email``, ``idnumber``, ``status``,
    ``submitted``, ``row`` (line number)."""
    cols = {
        key: table.column(header)
        for key, header in (
            ("identifier", "Identifier"),
            ("name", "Full name"),
            ("email", "Email address"),
            ("idnumber", "ID number"),
            ("status", "Status"),
            ("submitted", "Last modified (submission)"),
        )
    }

    def cell(row: list[str], key: str) -> str:
        i = cols[key]
        return row[i].strip() if i is not None and i < len(row) else ""

    out = []
    for n, row in enumerate(table.rows):
        pid = participant_of(cell(row, "identifier"))
        if pid is None:
            continue
        out.append(
            {
                "participant": pid,
                "name": cell(row, "name"),
                "email": cell(row, "email").lower(),
                "idnumber": cell(row, "idnumber"),
                "status": cell(row, "status"),
                "submitted": cell(row, "submitted"),
                "row": str(n + 2),
            }
        )
    return out


# --------------------------------------------------------------------------------------------
# Gradebook export (the whole course)


def is_gradebook(table: CsvTable) -> bool:
    has_identity = any(table.column(c) is not None for c in IDENTITY)
    return has_identity and table.column("First name") is not None and not is_worksheet(table)


def gradebook_rows(table: CsvTable) -> list[dict[str, str]]:
    """One dict per student row: ``name``, ``email``, ``idnumber``, ``row``."""
    first, last = table.column("First name"), table.column("Last name")
    email, idnumber = table.column("Email address"), table.column("ID number")

    def cell(row: list[str], i: int | None) -> str:
        return row[i].strip() if i is not None and i < len(row) else ""

    return [
        {
            "name": " ".join(p for p in (cell(row, first), cell(row, last)) if p),
            "email": cell(row, email).lower(),
            "idnumber": cell(row, idnumber),
            "row": str(n + 2),
        }
        for n, row in enumerate(table.rows)
    ]


def item_columns(table: CsvTable) -> dict[int, tuple[str, str]]:
    """``{column index: (item name, display type)}`` of the grade item columns."""
    out = {}
    for i, header in enumerate(table.header):
        m = _ITEM.match(header.strip())
        if m:
            out[i] = (m["name"], m["kind"])
    return out

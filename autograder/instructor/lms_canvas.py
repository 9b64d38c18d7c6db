"""Canvas: the names in a "Download Submissions" zip, and the gradebook export/import CSV.

Read from Canvas's source (instructure/canvas-lms, see ``autograder/instructor/LMS.md``):

* ``ContentZipper#get_filename`` / ``#add_upload_submission`` name every uploaded file
  ``<name>_[LATE_]<user id>_<attachment id>_<file name>``; ``<name>`` is the student's sortable
  name, lower-cased, with everything but Unicode word characters removed (``"O'Brien, Seán"`` ->
  ``obrienseán``) and ``_<digits>_`` squeezed out of it. With anonymous grading the name is left
  out and the user id is ``anon_<anonymous id>`` (5 base58 characters, unique per assignment).
* Attachment ids are Canvas's database ids: a later upload has a larger one, so they order two
  files of one student. A re-uploaded name gets ``-1``, ``-2``
  (``Attachment.make_unique_filename``).
* ``GradebookExporter`` writes ``Student, ID, [SIS User ID], SIS Login ID, [...], Section``,
  custom columns, one column per assignment titled ``<title> (<assignment id>)``, then read-only
  totals; a ``Points Possible`` row (and maybe a ``Manual Posting`` row) comes before the
  students. ``GradebookImporter`` finds a student by the ``ID`` column and an assignment by the
  id in its column title, and takes a blank cell as "no grade".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .lms_csv import CsvTable
from .names import nfc

# _LATE_? <user id> _ <attachment id> _ : the part of a download name after the student's name
_IDS = re.compile(r"_(?:(?P<late>LATE|late)_)?(?P<user>\d+)_(?P<attachment>\d+)_")
_ANON = re.compile(
    r"^(?:(?P<late>LATE|late)_)?(?P<user>anon_[A-Za-z0-9]+)_(?P<attachment>\d+)_(?P<file>.+)$"
)
_TITLE_ID = re.compile(r"\A(?P<title>.*)\s\((?P<id>\d+)\)\Z", re.S)
STUDENT_INFO = {
    "Student",
    "LastName",
    "FirstName",
    "ID",
    "SIS User ID",
    "SIS Login ID",
    "Integration ID",
    "Root Account",
    "Section",
}
_NOT_ASSIGNMENT = re.compile(
    "Current Score|Current Points|Current Grade|Final Score|Final Points|Final Grade|"
    "Override Score|Override Grade|Override Status"
)
_HIDDEN_ROW = re.compile(r"^\s*(Muted|Manual Posting.*)?\s*$", re.I)


@dataclass(frozen=True)
class CanvasFile:
    """What a Canvas download says about one file."""

    name: str  # sanitised sortable name; "" under anonymous grading
    user: str  # Canvas user id, or "anon_<anonymous id>"
    late: bool
    attachment: int
    filename: str  # the name the student uploaded (after Canvas's renaming)

    @property
    def anonymous(self) -> bool:
        return self.user.startswith("anon_")


def _word(text: str) -> bool:
    """Only Unicode word characters (Ruby's ``[[:word:]]``: letters, marks, digits, ``_``)."""
    return bool(text) and all(unicodedata.category(c)[0] in "LMN" or c == "_" for c in text)


def parse_name(filename: str, known_users: frozenset[str] = frozenset()) -> CanvasFile | None:
    """Read a Canvas download file name, or None if it is not one.

    A name may itself hold ``_<digits>_`` only in the student's file name, but a sortable name
    may end in ``_<digits>`` (``smith_2``): when ``known_users`` (the roster's Canvas ids) is
    given, the first reading whose user id is known wins; otherwise the first reading.
    """
    filename = nfc(filename)
    anon = _ANON.match(filename)
    if anon:
        return CanvasFile(
            "", anon["user"], bool(anon["late"]), int(anon["attachment"]), anon["file"]
        )
    readings = []
    matches = (_IDS.match(filename, i) for i, ch in enumerate(filename) if ch == "_")
    for m in (m for m in matches if m):
        name = filename[: m.start()]
        if _word(name):
            readings.append(
                CanvasFile(
                    name,
                    m["user"],
                    bool(m["late"]),
                    int(m["attachment"]),
                    filename[m.end() :],
                )
            )
    if not readings:
        return None
    return next((r for r in readings if r.user in known_users), readings[0])


def is_canvas_name(name: str) -> bool:
    return parse_name(name) is not None and "." in name


# --------------------------------------------------------------------------------------------
# Gradebook export (the roster, and the file the importer takes back)


def is_gradebook(table: CsvTable) -> bool:
    """Canvas's own test (``GradebookImporter#row_has_student_headers?``) on the header row."""
    h = table.header
    return (len(h) > 3 and "Student" in h[0] and "ID" in h[1]) or (
        len(h) > 4 and "LastName" in h[0] and "FirstName" in h[1] and "ID" in h[2]
    )


def id_column(table: CsvTable) -> int:
    return 2 if table.header[0].strip() == "LastName" else 1


def is_student_row(row: list[str]) -> bool:
    """False for the ``Points Possible`` and ``Muted``/``Manual Posting`` rows."""
    if row and "Points Possible" in row[0]:
        return False
    return not all(_HIDDEN_ROW.match(cell or "") for cell in row)


def display_name(table: CsvTable, row: list[str]) -> str:
    """The student's name as the export shows it (``Doe, Jane``), without Excel's ``="..."``."""

    def clean(cell: str) -> str:
        m = re.fullmatch(r'="(.*)"', cell.strip(), re.S)
        return m.group(1) if m else cell.strip()

    if table.header[0].strip() == "LastName":
        return ", ".join(p for p in (clean(row[0]), clean(row[1])) if p)
    return clean(row[0])


def roster_rows(table: CsvTable) -> list[dict[str, str]]:
    """One dict per student row: ``canvas_id``, ``name``, ``sis_login``, ``section``, ``row``."""
    idx = id_column(table)
    login = table.column("SIS Login ID")
    section = table.column("Section")
    out = []
    for n, row in enumerate(table.rows):
        if not is_student_row(row) or len(row) <= idx:
            continue
        out.append(
            {
                "canvas_id": row[idx].strip(),
                "name": display_name(table, row),
                "sis_login": row[login].strip() if login is not None and login < len(row) else "",
                "section": row[section].strip()
                if section is not None and section < len(row)
                else "",
                "row": str(n + 2),  # line number in the file (header is line 1)
            }
        )
    return out


def assignment_columns(table: CsvTable) -> dict[int, str]:
    """``{column index: header}`` of the assignment columns (``<title> (<id>)``)."""
    return {
        i: h
        for i, h in enumerate(table.header)
        if h.strip() not in STUDENT_INFO
        and _TITLE_ID.match(h.strip())
        and not _NOT_ASSIGNMENT.search(h)
    }


def title_of(header: str) -> tuple[str, str]:
    """(title, assignment id) of an assignment column header."""
    m = _TITLE_ID.match(header.strip())
    return (m["title"], m["id"]) if m else (header.strip(), "")


def points_possible(table: CsvTable) -> dict[int, str]:
    """``{column index: cell}`` of the ``Points Possible`` row (empty if there is none)."""
    for row in table.rows:
        if row and "Points Possible" in row[0]:
            return dict(enumerate(row))
    return {}

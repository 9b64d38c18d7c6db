"""The class roster: who the students are, by a stable LMS identifier; names are for display.

A student's id (their folder under ``submitted/``) comes from an identifier the LMS keeps for
the whole course:

* Canvas: the user id (the ``ID`` column of the gradebook export, the number in every
  download name), e.g. ``4711``; under anonymous grading ``anon_<id>``, which Canvas keeps only
  for one assignment;
* Moodle: the email address (or, without one, the ID number) from the gradebook export or an
  assignment's grading worksheet. A Moodle download names students by a participant id that
  changes from assignment to assignment, so a Moodle download needs that assignment's
  worksheet in the roster: it maps each participant id to the student. Under blind marking
  the worksheet shows no identity and the student is ``participant_<id>`` for that assignment;
* a folder per student: the folder's name.

The roster is read from the files the instructor downloads from the LMS (the Canvas gradebook
export, the Moodle gradebook export, a Moodle grading worksheet) and kept in
``collected/roster.json``. Two rows or two files that give one id to two different people, or
two ids to one participant, are an error that names both.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import lms_canvas, lms_moodle
from .collected import collected_dir, read_json, write_json
from .course import Course
from .lms_csv import read_table
from .names import student_id


@dataclass
class Student:
    id: str
    name: str = ""
    lms: str = ""  # "canvas", "moodle" or "folder"
    canvas_id: str = ""
    email: str = ""
    idnumber: str = ""
    sis_login: str = ""
    section: str = ""
    anonymous: bool = False  # an identity the LMS keeps for one assignment only
    source: str = ""  # the file the student came from


@dataclass
class Participant:
    """A Moodle participant id of one assignment, as its grading worksheet shows it."""

    student: str
    status: str = ""
    submitted: str = ""  # "Last modified (submission)", as Moodle wrote it
    source: str = ""


@dataclass
class Roster:
    students: dict[str, Student] = field(default_factory=dict)
    participants: dict[str, Participant] = field(default_factory=dict)

    # ---------------------------------------------------------------- storage
    @staticmethod
    def path(course: Course) -> Path:
        return collected_dir(course) / "roster.json"

    @classmethod
    def load(cls, course: Course) -> Roster:
        data = read_json(cls.path(course), {})
        return cls(
            {k: Student(**v) for k, v in data.get("students", {}).items()},
            {k: Participant(**v) for k, v in data.get("participants", {}).items()},
        )

    def save(self, course: Course) -> Path:
        path = self.path(course)
        write_json(
            path,
            {
                "students": {k: asdict(v) for k, v in sorted(self.students.items())},
                "participants": {k: asdict(v) for k, v in sorted(self.participants.items())},
            },
        )
        return path

    # ---------------------------------------------------------------- lookups
    def canvas_ids(self) -> frozenset[str]:
        return frozenset(s.canvas_id for s in self.students.values() if s.canvas_id)

    def has_canvas(self) -> bool:
        return any(s.lms == "canvas" for s in self.students.values())

    def name_of(self, sid: str) -> str:
        student = self.students.get(sid)
        return student.name if student else ""

    def by_key(self, email: str = "", idnumber: str = "") -> Student | None:
        """The Moodle student with this email address or ID number."""
        for s in self.students.values():
            if s.lms == "moodle" and (
                (email and s.email == email) or (idnumber and s.idnumber == idnumber)
            ):
                return s
        return None

    # ---------------------------------------------------------------- reading LMS files
    def add_file(self, path: Path) -> str:
        """Merge the LMS export ``path`` into the roster; return a one-line summary.

        Raises
        ------
        ValueError
            If the file is no known export, or gives one id to two people.
        """
        table = read_table(path)
        if lms_canvas.is_gradebook(table):
            return self._add_canvas(table)
        if lms_moodle.is_worksheet(table):
            return self._add_worksheet(table)
        if lms_moodle.is_gradebook(table):
            return self._add_moodle_gradebook(table)
        raise ValueError(
            f"{Path(path).name} is not a roster this grader reads; its columns are "
            f"{table.header[:8]}{' ...' if len(table.header) > 8 else ''}. Pass the Canvas "
            "gradebook export (Grades > Export: Student, ID, ...), the Moodle gradebook export "
            "(Grades > Export > Plain text file: First name, Last name, Email address, ...) or "
            "a Moodle grading worksheet (Assignment > View all submissions > Download grading "
            "worksheet: Identifier, Full name, ...), as the LMS wrote them (English headers)"
        )

    def _merge(self, student: Student, where: str) -> bool:
        old = self.students.get(student.id)
        if old is not None and old.lms != student.lms:
            raise ValueError(
                f"student id {student.id!r} from {where} is already {old.name or old.id!r} from "
                f"{old.source or 'an earlier collect'} ({old.lms}); one id cannot name two "
                "students: collect each course into its own course folder"
            )
        if old is not None:
            for key, value in asdict(student).items():
                if value in ("", None):
                    setattr(student, key, getattr(old, key))
        self.students[student.id] = student
        return old is None

    def _add_canvas(self, table) -> str:
        rows = lms_canvas.roster_rows(table)
        seen: dict[str, dict[str, str]] = {}
        new = 0
        for row in rows:
            if not row["canvas_id"].isdigit():
                raise ValueError(
                    f"{table.path.name} line {row['row']}: ID {row['canvas_id']!r} is not a "
                    "Canvas user id; pass the gradebook export as Canvas wrote it"
                )
            if row["canvas_id"] in seen:
                first = seen[row["canvas_id"]]
                raise ValueError(
                    f"{table.path.name}: lines {first['row']} ({first['name']}) and "
                    f"{row['row']} ({row['name']}) both have ID {row['canvas_id']}; "
                    "download the gradebook export again"
                )
            seen[row["canvas_id"]] = row
            student = Student(
                row["canvas_id"],
                row["name"],
                "canvas",
                canvas_id=row["canvas_id"],
                sis_login=row["sis_login"],
                section=row["section"],
                source=table.path.name,
            )
            new += self._merge(student, f"{table.path.name} line {row['row']}")
        return f"Canvas gradebook export {table.path.name}: {len(rows)} students ({new} new)"

    def _moodle_student(self, row: dict[str, str], where: str) -> Student:
        old = self.by_key(row["email"], row["idnumber"])
        if old is not None:
            sid = old.id
        else:
            sid = student_id(row["email"] or row["idnumber"])
        return Student(
            sid,
            row["name"],
            "moodle",
            email=row["email"],
            idnumber=row["idnumber"],
            source=where,
        )

    def _add_worksheet(self, table) -> str:
        rows = lms_moodle.worksheet_rows(table)
        identity = any(table.column(c) is not None for c in lms_moodle.IDENTITY)
        blind = table.column("Full name") is None and not identity
        if not blind and not identity:
            raise ValueError(
                f"{table.path.name} shows names but no Email address or ID number; Moodle's "
                "participant ids change from assignment to assignment, so a student needs one "
                "of them to be the same student in every lesson. Ask your Moodle admin to show "
                "the email address (Site administration > Users > Permissions > Show user "
                "identity) and download the worksheet again"
            )
        seen: dict[str, dict[str, str]] = {}
        new = 0
        for row in rows:
            where = f"{table.path.name} line {row['row']}"
            if blind:
                sid = f"participant_{row['participant']}"
                student = Student(sid, f"Participant {row['participant']}", "moodle")
                student.anonymous, student.source = True, where
            else:
                if not (row["email"] or row["idnumber"]):
                    raise ValueError(
                        f"{where} (Participant {row['participant']}, {row['name']}) has "
                        "neither an email address nor an ID number; fix the account in "
                        "Moodle and download the worksheet again"
                    )
                student = self._moodle_student(row, where)
            if student.id in seen:
                first = seen[student.id]
                raise ValueError(
                    f"{table.path.name}: Participant {first['participant']} (line {first['row']}"
                    f", {first['name']}) and Participant {row['participant']} (line "
                    f"{row['row']}, {row['name']}) are both {student.id}; one student "
                    "cannot be two participants of one assignment: check the accounts in Moodle"
                )
            seen[student.id] = row
            old = self.participants.get(row["participant"])
            if old is not None and old.student != student.id:
                raise ValueError(
                    f"Participant {row['participant']} is {student.id} in {where} but "
                    f"{old.student} in {old.source}; these are two Moodle sites or the "
                    "worksheet was edited: download it again"
                )
            new += self._merge(student, where)
            self.participants[row["participant"]] = Participant(
                student.id, row["status"], row["submitted"], table.path.name
            )
        kind = "blind " if blind else ""
        return (
            f"Moodle {kind}grading worksheet {table.path.name}: {len(rows)} participants "
            f"({new} new)"
        )

    def _add_moodle_gradebook(self, table) -> str:
        rows = lms_moodle.gradebook_rows(table)
        seen: dict[str, dict[str, str]] = {}
        new = 0
        for row in rows:
            where = f"{table.path.name} line {row['row']}"
            if not (row["email"] or row["idnumber"]):
                raise ValueError(
                    f"{where} ({row['name']}) has neither an email address nor an ID number; "
                    "export the gradebook with the Email address field"
                )
            student = self._moodle_student(row, where)
            if student.id in seen:
                raise ValueError(
                    f"{table.path.name}: lines {seen[student.id]['row']} "
                    f"({seen[student.id]['name']}) and {row['row']} ({row['name']}) are both "
                    f"{student.id}; download the gradebook export again"
                )
            seen[student.id] = row
            new += self._merge(student, where)
        return f"Moodle gradebook export {table.path.name}: {len(rows)} students ({new} new)"

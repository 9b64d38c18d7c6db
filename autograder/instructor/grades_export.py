"""Grades back to the LMS: the file its gradebook import takes, written from its own export.

Start from the export the instructor downloads, and change only the lesson columns:

* **Canvas** gradebook export (Grades > Export): the student is the row's ``ID`` (Canvas user
  id = the student id collect gave); a lesson goes to the assignment column whose title holds
  the lesson id (or ``--column LESSON=COLUMN``). Import it with Grades > Import.
* **Moodle** gradebook export (Grades > Export > Plain text file, display type Real): the
  student is the row's email address (or ID number); a lesson goes to the ``Assignment: ... (Real)``
  column. Import it with Grades > Import > CSV file, mapping "Email address" to "Email address"
  and each lesson column to its grade item.
* **Moodle** grading worksheet of one assignment: the student is the ``Identifier``
  (``Participant <id>``); the lesson goes to ``Grade``. Upload it with the assignment's "Upload
  grading worksheet".

Every other row, column and cell stays as exported (names, ids, sections, totals, the
``Points Possible`` row, ``Last downloaded from this course``). A student without a submission
keeps the exported cell, which is empty when the LMS has no grade for them: an empty cell is
"no grade" to both LMSs, and writing one over a grade the LMS holds would remove that grade
(Moodle's CSV import does). ``zeros=True`` writes 0 for them instead. A lesson without a
matching column is an error that names the columns found; so is a lesson whose points differ
from the LMS's points possible (``rescale=True`` scales the score to the LMS's points instead).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from . import lms_canvas, lms_moodle
from .course import Course, lesson_info
from .lms_csv import CsvTable, format_score, read_table, write_table
from .names import match_lesson, nfc, student_id
from .roster import Roster

EMPTY = ("", "-")


@dataclass
class ExportResult:
    path: Path
    lms: str
    columns: dict[str, str]  # lesson -> column header
    written: int = 0
    kept: int = 0  # lesson cells left as exported (no submission)
    replaced: list[tuple[str, str, str, str]] = field(default_factory=list)  # (student,
    # lesson, old, new): a grade the LMS held that the file changes
    without_row: list[tuple[str, str]] = field(default_factory=list)  # (student, why)


FIXED_COLUMNS = ("student", "name", "total", "max_total", "status")


def read_grades(path: Path) -> tuple[list[str], dict[str, dict[str, str]]]:
    """(lessons, ``{student: row}``) of ``grades.csv``; a lesson cell is empty without a
    submission."""
    if not Path(path).is_file():
        raise ValueError(f"{path} does not exist; run `python -m autograder report` first")
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = {row["student"]: row for row in reader}
        lessons = [c for c in reader.fieldnames or [] if ":" not in c and c not in FIXED_COLUMNS]
    return lessons, rows


def _lessons_in(text: str, lessons: list[str]) -> list[str]:
    flat = re.sub(r"[^a-z0-9]+", "_", nfc(text).lower())
    hits = [lesson for lesson in lessons if lesson.lower() in flat]
    return [h for h in hits if not any(h != o and h in o for o in hits)]


def match_columns(
    candidates: dict[int, str],
    lessons: list[str],
    mapping: dict[str, str],
    aliases: dict[int, list[str]],
    what: str,
) -> dict[str, int]:
    """``{lesson: column index}``: by ``mapping`` (any alias: header, title, id), else by the
    lesson id in the title (``aliases[i][1]``)."""
    out: dict[str, int] = {}
    found = list(candidates.values())
    for lesson in lessons:
        if lesson in mapping:
            wanted = nfc(mapping[lesson]).strip()
            hits = [i for i in candidates if wanted in [nfc(a) for a in aliases[i]]]
            if len(hits) != 1:
                raise ValueError(
                    f"--column {lesson}={mapping[lesson]!r} names {len(hits)} of the {what} "
                    f"columns; the {what} columns are {found}"
                )
            out[lesson] = hits[0]
            continue
        hits = [i for i in candidates if lesson in _lessons_in(aliases[i][1], lessons)]
        if len(hits) > 1:
            raise ValueError(
                f"lesson {lesson} matches {len(hits)} {what} columns "
                f"{[candidates[i] for i in hits]}; name one with --column {lesson}=COLUMN"
            )
        if not hits:
            raise ValueError(
                f"lesson {lesson} has no {what} column in the export; the {what} columns are "
                f"{found}. Name its column with --column {lesson}=COLUMN, or export only "
                "the lessons that have one with --lessons"
            )
        out[lesson] = hits[0]
    return out


def _number(text: str) -> float | None:
    text = (text or "").strip().replace(",", ".")
    try:
        return float(text)
    except ValueError:
        return None


def export_grades(
    course: Course,
    export: Path,
    *,
    out: Path | None = None,
    grades: Path | None = None,
    lessons: list[str] | None = None,
    mapping: dict[str, str] | None = None,
    worksheet_lesson: str | None = None,
    zeros: bool = False,
    rescale: bool = False,
) -> ExportResult:
    """Write the import file for the LMS export ``export`` from ``reports/grades.csv``."""
    grades_path = Path(grades) if grades else course.root / "reports" / "grades.csv"
    known, table_grades = read_grades(grades_path)
    unknown = [lesson for lesson in lessons or [] if lesson not in known]
    if unknown:
        raise ValueError(f"lessons {unknown} are not in {grades_path}; it has {known}")
    lessons = lessons or known
    info = lesson_info(course)
    mapping = mapping or {}
    roster = Roster.load(course)
    table = read_table(Path(export))
    if lms_canvas.is_gradebook(table):
        kind, columns, key, maxima = _canvas(table, lessons, mapping)
    elif lms_moodle.is_worksheet(table):
        kind, columns, key, maxima = _worksheet(table, lessons, worksheet_lesson, roster)
    elif lms_moodle.is_gradebook(table):
        kind, columns, key, maxima = _moodle(table, lessons, mapping, roster)
    else:
        raise ValueError(
            f"{Path(export).name} is not an export this grader writes back; its columns are "
            f"{table.header[:8]}. Pass the Canvas gradebook export, the Moodle gradebook "
            "export (Real display type) or an assignment's Moodle grading worksheet"
        )
    factors = _factors(columns, maxima, info, rescale)
    dest = Path(out) if out else course.root / "reports" / f"import-{Path(export).name}"
    result = ExportResult(dest, kind, {lesson: table.header[i] for lesson, i in columns.items()})
    seen = set()
    for row in table.rows:
        sid = key(row)
        if sid is None:
            continue
        seen.add(sid)
        mine = table_grades.get(sid)
        for lesson, col in columns.items():
            while len(row) <= col:
                row.append("")
            old = row[col].strip()
            value = (mine or {}).get(lesson, "")
            if value == "" and zeros:
                value = "0"
            if value == "" or old == "N/A":
                result.kept += 1
                continue
            new = format_score(round(float(value) * factors[lesson], 2))
            if old not in EMPTY and _number(old) != float(new):
                result.replaced.append((sid, lesson, old, new))
            row[col] = new
            result.written += 1
    for sid, row in sorted(table_grades.items()):
        if sid not in seen and any(row.get(lesson, "") != "" for lesson in columns):
            why = "anonymous in the LMS" if sid.startswith(("anon_", "participant_")) else ""
            result.without_row.append((sid, why or "not in this export (dropped the course?)"))
    write_table(table, dest)
    return result


def _factors(columns, maxima, info, rescale) -> dict[str, float]:
    factors = {}
    for lesson, col in columns.items():
        ours = sum(info.get(lesson, {}).get("grades", {}).values())
        theirs = maxima.get(col)
        factors[lesson] = 1.0
        if theirs is None or not ours or abs(theirs - ours) < 1e-9:
            continue
        if not rescale:
            raise ValueError(
                f"lesson {lesson} is worth {ours:g} points here but its LMS column is worth "
                f"{theirs:g}; set the assignment's points to {ours:g} in the LMS, or pass "
                f"--rescale to write score x {theirs:g}/{ours:g}"
            )
        factors[lesson] = theirs / ours
    return factors


def _canvas(table: CsvTable, lessons, mapping):
    candidates = lms_canvas.assignment_columns(table)
    aliases = {i: [h, *lms_canvas.title_of(h)] for i, h in candidates.items()}
    columns = match_columns(candidates, lessons, mapping, aliases, "assignment")
    pp = lms_canvas.points_possible(table)
    maxima = {i: _number(pp.get(i, "")) for i in columns.values()}
    idx = lms_canvas.id_column(table)

    def key(row):
        if not lms_canvas.is_student_row(row) or len(row) <= idx:
            return None
        return row[idx].strip() or None

    return "Canvas gradebook", columns, key, maxima


def _moodle(table: CsvTable, lessons, mapping, roster: Roster):
    items = lms_moodle.item_columns(table)
    real = {i: table.header[i] for i, (_, kind) in items.items() if kind == "Real"}
    if not real and items:
        raise ValueError(
            f"{table.path.name} has grade columns {list(items.values())} but none with the "
            "Real display type; export the gradebook again with 'Grade export display types: Real'"
        )
    aliases = {i: [h, items[i][0]] for i, h in real.items()}
    columns = match_columns(real, lessons, mapping, aliases, "grade item (Real)")
    email, idnumber = table.column("Email address"), table.column("ID number")

    def key(row):
        e = row[email].strip().lower() if email is not None and email < len(row) else ""
        n = row[idnumber].strip() if idnumber is not None and idnumber < len(row) else ""
        student = roster.by_key(e, n)
        if student is not None:
            return student.id
        return student_id(e) if e else (student_id(n) if n else None)

    return "Moodle gradebook", columns, key, {}


def _worksheet(table: CsvTable, lessons, lesson, roster: Roster):
    lesson = lesson or match_lesson(table.path.stem, lessons)
    if not lesson:
        raise ValueError(
            f"{table.path.name} is a Moodle grading worksheet; say which lesson's assignment "
            "it is with --lesson LESSON"
        )
    grade = table.column("Grade")
    ident = table.column("Identifier")
    top = table.column("Maximum Grade")
    maxima = {}
    if top is not None:
        values = {_number(r[top]) for r in table.rows if top < len(r) and r[top].strip()}
        if len(values) == 1:
            maxima[grade] = values.pop()

    def key(row):
        pid = lms_moodle.participant_of(row[ident] if ident < len(row) else "")
        if pid is None:
            return None
        participant = roster.participants.get(pid)
        return participant.student if participant else f"participant_{pid}"

    return "Moodle grading worksheet", {lesson: grade}, key, maxima

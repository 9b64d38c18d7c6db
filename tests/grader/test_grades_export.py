"""Grades back: the file each LMS's import takes, written from its own export and grades.csv,
checked cell by cell and read back equal to grades.csv."""

from __future__ import annotations

import csv

import pytest
from lms_fixtures import canvas_gradebook, moodle_gradebook, moodle_worksheet, read_csv

from autograder.instructor.course import Course
from autograder.instructor.grades_export import export_grades
from autograder.instructor.roster import Roster

# grades.csv as `report` writes it: an empty lesson cell means no graded submission
GRADES = [
    # student, name, 01_add, 02_mul
    ("101", "O'Brien, Seán", "3", "1.5"),
    ("102", "Ngô, Thị Hương", "2", ""),
    ("103", 'Smith, John "Jack"', "0", "3"),
    ("104", "Smith, John", "1", "2"),
    ("105", "Smith, John", "", ""),
    ("110", "Dropped, Dan", "3", ""),  # in the class when collected, gone from the LMS now
]


def _grades_csv(path, rows=GRADES):
    header = ["student", "name", "total", "max_total", "status", "01_add", "02_mul"]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow([*header, "01_add:test_add_visible"])
        for sid, name, a, m in rows:
            total = sum(float(x) for x in (a, m) if x)
            w.writerow([sid, name, f"{total:g}", "6", "ok", a, m, ""])
    return path


def _canvas_export(path, **kw):
    students = [
        {"name": name, "id": int(sid), "sis": f"S{sid}", "login": f"u{sid}", "section": "A, B"}
        for sid, name, _, _ in GRADES
        if sid != "110"
    ]
    students[3]["scores"] = {9001: "2.00"}  # 104 already has a grade in Canvas
    students.append({"name": "=Eve, Formula", "id": 107, "login": "u107"})  # never submitted
    assignments = [("Lesson 01_add", 9001, 3), ("Quiz, week 1", 9003, 10), ("02 mul", 9002, 3)]
    return canvas_gradebook(path, students, assignments, **kw)


def _by_id(rows, id_col):
    return {r[id_col]: r for r in rows[1:] if r and "Points Possible" not in r[0]}


@pytest.mark.parametrize(("delimiter", "bom"), [(",", True), (";", False)])
def test_canvas_import_file_is_the_export_with_the_lesson_columns_filled(
    tiny_course, tmp_path, delimiter, bom
):
    export = _canvas_export(tmp_path / "export.csv", delimiter=delimiter, bom=bom)
    grades = _grades_csv(tmp_path / "grades.csv")
    result = export_grades(Course.at(tiny_course), export, grades=grades, out=tmp_path / "in.csv")
    assert result.columns == {"01_add": "Lesson 01_add (9001)", "02_mul": "02 mul (9002)"}
    raw = (tmp_path / "in.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") == bom
    before, after = read_csv(export), read_csv(tmp_path / "in.csv")
    assert after[0] == before[0] and after[1] == before[1]  # header, Points Possible row
    assert len(after) == len(before)
    header = after[0]
    lesson_cols = {header.index("Lesson 01_add (9001)"): 2, header.index("02 mul (9002)"): 3}
    mine = {sid: (a, m) for sid, _, a, m in GRADES}
    for old, new in zip(before[2:], after[2:], strict=True):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            if i not in lesson_cols:
                assert a == b, (header[i], a, b)  # names, ids, sections, quiz, totals as exported
            elif new[1] in mine and mine[new[1]][lesson_cols[i] - 2] != "":
                assert b == mine[new[1]][lesson_cols[i] - 2]
            else:
                assert b == a  # no submission: the exported cell, untouched
    rows = _by_id(after, 1)
    assert rows["101"][0] == "O'Brien, Seán" and rows["107"][0] == '="=Eve, Formula"'
    assert rows["104"][header.index("Lesson 01_add (9001)")] == "1"
    assert result.replaced == [("104", "01_add", "2.00", "1")]
    assert result.without_row == [("110", "not in this export (dropped the course?)")]
    # read back: the file's lesson cells are grades.csv's, for every student who submitted
    with open(grades, newline="", encoding="utf-8") as fh:
        report = {r["student"]: r for r in csv.DictReader(fh)}
    for sid, row in rows.items():
        for lesson, column in result.columns.items():
            want = report.get(sid, {}).get(lesson, "")
            if want != "":
                assert row[header.index(column)] == want, (sid, lesson)


def test_zeros_are_written_only_when_asked(tiny_course, tmp_path):
    export = _canvas_export(tmp_path / "export.csv")
    grades = _grades_csv(tmp_path / "grades.csv")
    export_grades(
        Course.at(tiny_course), export, grades=grades, out=tmp_path / "in.csv", zeros=True
    )
    rows = read_csv(tmp_path / "in.csv")
    col = rows[0].index("02 mul (9002)")
    by = _by_id(rows, 1)
    assert by["102"][col] == "0" and by["105"][col] == "0" and by["107"][col] == "0"
    assert by["101"][col] == "1.5"


def test_a_lesson_without_a_column_is_an_error_naming_the_columns(tiny_course, tmp_path):
    export = canvas_gradebook(
        tmp_path / "export.csv", [{"name": "A, B", "id": 101}], [("Week 1 homework", 9001, 3)]
    )
    grades = _grades_csv(tmp_path / "grades.csv")
    with pytest.raises(
        ValueError, match=r"lesson 01_add has no assignment column.*Week 1 homework \(9001\)"
    ):
        export_grades(Course.at(tiny_course), export, grades=grades, lessons=["01_add"])
    result = export_grades(
        Course.at(tiny_course),
        export,
        grades=grades,
        lessons=["01_add"],
        mapping={"01_add": "9001"},
        out=tmp_path / "in.csv",
    )
    assert result.columns == {"01_add": "Week 1 homework (9001)"}
    assert _by_id(read_csv(tmp_path / "in.csv"), 1)["101"][5] == "3"


def test_points_that_differ_from_the_lms_are_an_error_unless_rescaled(tiny_course, tmp_path):
    export = canvas_gradebook(
        tmp_path / "export.csv", [{"name": "A, B", "id": 101}], [("01_add", 9001, 10)]
    )
    grades = _grades_csv(tmp_path / "grades.csv")
    with pytest.raises(ValueError, match="worth 3 points here but its LMS column is worth 10"):
        export_grades(Course.at(tiny_course), export, grades=grades, lessons=["01_add"])
    export_grades(
        Course.at(tiny_course),
        export,
        grades=grades,
        lessons=["01_add"],
        rescale=True,
        out=tmp_path / "in.csv",
    )
    assert _by_id(read_csv(tmp_path / "in.csv"), 1)["101"][5] == "10"


MOODLE = [
    ("sean@uni.example", "Seán", "O'Brien", "3", "1.5"),
    ("jane@uni.example", "Jane", "Doe", "", "2"),
]


def test_moodle_gradebook_import_file_fills_the_real_columns_only(tiny_course, tmp_path):
    students = [
        {"first": f, "last": last, "email": e, "grades": {("01_add", "Real"): "1.00"}}
        for e, f, last, _, _ in MOODLE
    ]
    export = moodle_gradebook(
        tmp_path / "NN101 Grades.csv", students, ["01_add", "02 mul"], kinds=("Real", "Percentage")
    )
    rows = [(e, f"{f} {last}", a, m) for e, f, last, a, m in MOODLE]
    grades = _grades_csv(tmp_path / "grades.csv", rows)
    result = export_grades(Course.at(tiny_course), export, grades=grades, out=tmp_path / "in.csv")
    assert result.columns == {
        "01_add": "Assignment: 01_add (Real)",
        "02_mul": "Assignment: 02 mul (Real)",
    }
    before, after = read_csv(export), read_csv(tmp_path / "in.csv")
    header = after[0]
    a, m = header.index("Assignment: 01_add (Real)"), header.index("Assignment: 02 mul (Real)")
    for old, new, (_, _, _, ga, gm) in zip(before[1:], after[1:], MOODLE, strict=True):
        assert [c for i, c in enumerate(new) if i not in (a, m)] == [
            c for i, c in enumerate(old) if i not in (a, m)
        ]  # names, emails, percentages, "Last downloaded from this course" as exported
        assert new[a] == (ga or old[a]) and new[m] == (gm or old[m])
    assert after[2][a] == "1.00"  # Jane has no 01_add submission: Moodle's own grade is kept


def test_moodle_export_without_real_columns_says_how_to_export_it(tiny_course, tmp_path):
    export = moodle_gradebook(
        tmp_path / "g.csv",
        [{"first": "A", "last": "B", "email": "a@x"}],
        ["01_add"],
        kinds=("Percentage",),
    )
    with pytest.raises(ValueError, match="Real display type"):
        export_grades(Course.at(tiny_course), export, grades=_grades_csv(tmp_path / "grades.csv"))


def test_moodle_worksheet_gets_the_grade_by_participant(tiny_course, tmp_path):
    rows = [
        {"participant": 7701, "name": "Seán O'Brien", "email": "sean@uni.example"},
        {"participant": 7702, "name": "Jane Doe", "email": "jane@uni.example"},
    ]
    sheet = moodle_worksheet(tmp_path / "Grades-NN101-01_add-42.csv", rows)
    course = Course.at(tiny_course)
    roster = Roster.load(course)
    roster.add_file(sheet)
    roster.save(course)
    grades = _grades_csv(
        tmp_path / "grades.csv", [(e, f"{f} {last}", a, m) for e, f, last, a, m in MOODLE]
    )
    result = export_grades(course, sheet, grades=grades, out=tmp_path / "in.csv")
    assert result.columns == {"01_add": "Grade"}
    after = read_csv(tmp_path / "in.csv")
    g = after[0].index("Grade")
    assert [r[g] for r in after[1:]] == ["3", ""]  # Jane: no submission, no grade
    assert [r[:g] for r in after[1:]] == [r[:g] for r in read_csv(sheet)[1:]]


def test_moodle_blind_worksheet_round_trip(tiny_course, tmp_path):
    sheet = moodle_worksheet(
        tmp_path / "w.csv",
        [{"participant": p, "name": "", "email": ""} for p in (5, 6)],
        blind=True,
    )
    grades = _grades_csv(tmp_path / "grades.csv", [("participant_6", "Participant 6", "2", "")])
    export_grades(
        Course.at(tiny_course),
        sheet,
        grades=grades,
        worksheet_lesson="01_add",
        out=tmp_path / "in.csv",
    )
    after = read_csv(tmp_path / "in.csv")
    g = after[0].index("Grade")
    assert [(r[0], r[g]) for r in after[1:]] == [("Participant 5", ""), ("Participant 6", "2")]


def test_moodle_worksheet_maximum_grade_is_checked(tiny_course, tmp_path):
    sheet = moodle_worksheet(
        tmp_path / "w-01_add.csv",
        [{"participant": 5, "name": "", "email": ""}],
        blind=True,
        maximum=100,
    )
    grades = _grades_csv(tmp_path / "grades.csv", [("participant_5", "P", "3", "")])
    with pytest.raises(ValueError, match="worth 3 points here but its LMS column is worth 100"):
        export_grades(Course.at(tiny_course), sheet, grades=grades)

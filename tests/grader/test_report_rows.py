"""Who gets a row in grades.csv, and why a lesson has no score; a misnamed file is reported."""

from __future__ import annotations

import csv

from grader_fixtures import solved, write_submission
from lms_fixtures import canvas_entry, canvas_gradebook, notebook, write_zip

from autograder.instructor.collect import collect
from autograder.instructor.course import Course, StatusStore
from autograder.instructor.grade import WRONG_NAME, find_misnamed, grade
from autograder.instructor.report import collect_table, write_csv


def test_every_roster_student_has_a_row_submitted_or_not(tiny_course, tmp_path):
    """A dropped-out or silent student still has a row; a submission not yet graded says so."""
    export = canvas_gradebook(
        tmp_path / "g.csv",
        [
            {"name": "Doe, Jane", "id": 1},
            {"name": "Roe, Rick", "id": 2},
            {"name": "Poe, Pat", "id": 3},
        ],
        [("01_add", 9, 3)],
    )
    archive = write_zip(
        tmp_path / "01_add.zip",
        {canvas_entry("Roe, Rick", 2, 50, "01_add.ipynb", late=True): notebook("r")},
    )
    course = Course.at(tiny_course)
    collect(course, archive, rosters=[export])
    table = collect_table(course)
    rows = {r["student"]: r for r in table.rows}
    assert sorted(rows) == ["1", "2", "3"]
    assert rows["1"]["name"] == "Doe, Jane"
    assert rows["1"]["status"] == "01_add: missing; 02_mul: missing"
    assert rows["2"]["status"].startswith("01_add: not graded yet, late")
    path = write_csv(table, tmp_path / "grades.csv")
    with open(path, newline="", encoding="utf-8") as fh:
        written = {r["student"]: r for r in csv.DictReader(fh)}
    assert written["1"]["01_add"] == "" and written["1"]["01_add:test_add_visible"] == ""
    assert written["1"]["total"] == "0" and written["1"]["max_total"] == "6"


def test_a_misnamed_notebook_is_reported_with_the_file_found_and_not_skipped(tiny_course):
    """'02_mul_final (1).ipynb' instead of '02_mul.ipynb': a row, a status, the file named."""
    course = Course.at(tiny_course)
    write_submission(tiny_course, "ann", "01_add", solved(tiny_course, "01_add"))
    misnamed = tiny_course / "submitted/ann/02_mul/02_mul_final (1).ipynb"
    misnamed.parent.mkdir()
    misnamed.write_bytes((tiny_course / "submitted/ann/01_add/01_add.ipynb").read_bytes())
    (tiny_course / "submitted/ann/01_add/01_add.ipynb").unlink()  # nothing to grade: fast
    found = find_misnamed(course, ["01_add", "02_mul"])
    assert [(m.student, m.lesson, [p.name for p in m.found], m.would_take) for m in found] == [
        ("ann", "02_mul", ["02_mul_final (1).ipynb"], misnamed)
    ]
    summary = grade(course, progress=False)
    assert [(m.student, m.lesson) for m in summary.misnamed] == [("ann", "02_mul")]
    record = StatusStore(course.status_path).get("ann", "02_mul")
    assert record["status"] == [WRONG_NAME] and record["found"] == ["02_mul/02_mul_final (1).ipynb"]
    rows = {r["student"]: r for r in collect_table(course).rows}
    assert "02_mul: wrong file name (found 02_mul/02_mul_final (1).ipynb)" in rows["ann"]["status"]
    misnamed.unlink()  # gone: the stale status goes with it
    grade(course, progress=False)
    assert StatusStore(course.status_path).get("ann", "02_mul") is None


def test_two_misnamed_notebooks_are_not_chosen_between(tiny_course):
    course = Course.at(tiny_course)
    folder = tiny_course / "submitted/bob/01_add"
    folder.mkdir(parents=True)
    (folder / "mine.ipynb").write_bytes(notebook("a"))
    (folder / "01_add_v2.ipynb").write_bytes(notebook("b"))
    (m,) = find_misnamed(course, ["01_add"])
    assert m.would_take is None and len(m.found) == 2

"""The LMS round trip through the real command line: a Canvas download and gradebook export in,
`collect`, `grade`, `report`, `lms-grades` out; a misnamed submission is reported, not skipped."""

from __future__ import annotations

import csv
import subprocess
import sys

import pytest
from grader_fixtures import MEMORY_MB, SUBMISSION_TIMEOUT, answer, released, solved
from lms_fixtures import (
    canvas_entry,
    canvas_gradebook,
    moodle_entry,
    moodle_worksheet,
    notebook,
    read_csv,
    write_zip,
)


def run(course, *args, ok=(0,)):
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", *args, "--course", str(course)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode in ok, proc.stdout + proc.stderr
    return proc


def nb_bytes(nb) -> bytes:
    import json

    return json.dumps(nb).encode()


CLASS = [  # sortable name, Canvas user id
    ("O'Brien, Seán", 101),
    ("Ngô, Thị Hương", 102),
    ('Smith, John "Jack"', 103),
    ("Smith, John", 104),
    ("Smith, John", 105),
    ("=Eve, Formula", 106),
]


@pytest.mark.slow
def test_canvas_round_trip_grades_every_student_once_as_themselves(tiny_course, tmp_path):
    course = tiny_course
    export = canvas_gradebook(
        tmp_path / "2026-12-01T0930_Grades-NN101.csv",
        [{"name": n, "id": uid, "login": f"u{uid}", "section": "A"} for n, uid in CLASS],
        [("01_add", 9001, 3), ("02_mul", 9002, 3)],
    )
    wrong = answer(released(course, "01_add"), "01_add", "return a - b")
    files = {
        canvas_entry("O'Brien, Seán", 101, 5001, "01_add.ipynb"): nb_bytes(
            solved(course, "01_add")
        ),
        canvas_entry("Ngô, Thị Hương", 102, 5002, "01_add.ipynb", late=True): nb_bytes(wrong),
        # Smith, John (104) first uploaded the blank stub, then the solution as "01_add-1"
        canvas_entry("Smith, John", 104, 5003, "01_add.ipynb"): nb_bytes(
            released(course, "01_add")
        ),
        canvas_entry("Smith, John", 104, 5010, "01_add-1.ipynb"): nb_bytes(
            solved(course, "01_add")
        ),
        canvas_entry("Smith, John", 105, 5004, "01_add.ipynb"): nb_bytes(solved(course, "01_add")),
    }
    archive = write_zip(tmp_path / "nn101-01_add_submissions.zip", files, utf8_flag=False)
    out = run(course, "collect", str(archive), "--roster", str(export)).stdout
    assert "4 filed, 0 replaced" in out and "1 superseded, 0 unmatched" in out
    assert "NOT USED " + canvas_entry("Smith, John", 104, 5003, "01_add.ipynb") in out

    # 103 handed the notebook in by e-mail; it was saved under the name the student gave it
    misnamed = course / "submitted/103/01_add/01_add_final (1).ipynb"
    misnamed.parent.mkdir(parents=True)
    misnamed.write_bytes(nb_bytes(solved(course, "01_add")))

    grade = ["--timeout", str(SUBMISSION_TIMEOUT), "--memory", str(MEMORY_MB), "-j", "2", "--quiet"]
    out = run(course, "grade", *grade).stdout
    assert "graded 4 submissions" in out and "1 not graded: wrong file name" in out
    assert "NOT GRADED 103/01_add: wrong file name" in out and "01_add_final (1).ipynb" in out
    assert "--accept-names" in out

    run(course, "report")
    with open(course / "reports/grades.csv", newline="", encoding="utf-8") as fh:
        report = {r["student"]: r for r in csv.DictReader(fh)}
    assert set(report) == {str(uid) for _, uid in CLASS}  # every roster student has a row
    assert report["101"]["name"] == "O'Brien, Seán" and report["101"]["01_add"] == "3"
    assert report["104"]["01_add"] == "3"  # the final version, not the blank first attempt
    assert report["102"]["01_add"] == "0" and "01_add: late" in report["102"]["status"]
    assert report["105"]["01_add"] == "3" and report["105"]["name"] == "Smith, John"
    assert report["103"]["01_add"] == ""
    assert (
        "01_add: wrong file name (found 01_add/01_add_final (1).ipynb)" in report["103"]["status"]
    )
    assert report["106"]["01_add"] == "" and "01_add: missing" in report["106"]["status"]

    out = run(course, "lms-grades", str(export), "--lessons", "01_add").stdout
    written = course / "reports" / f"import-{export.name}"
    assert f"import this file: {written}" in out
    before, after = read_csv(export), read_csv(written)
    col = after[0].index("01_add (9001)")
    assert [r[:col] + r[col + 1 :] for r in after] == [r[:col] + r[col + 1 :] for r in before]
    got = {r[1]: r[col] for r in after[2:]}
    assert got == {sid: report[sid]["01_add"] for sid in got}  # read back: grades.csv's values
    assert got == {"101": "3", "102": "0", "103": "", "104": "3", "105": "3", "106": ""}

    out = run(course, "grade", *grade, "--accept-names").stdout
    assert "renamed" in out and "graded 1 submissions" in out and "0 not graded" in out
    run(course, "report")
    with open(course / "reports/grades.csv", newline="", encoding="utf-8") as fh:
        report = {r["student"]: r for r in csv.DictReader(fh)}
    assert report["103"]["01_add"] == "3" and "wrong file name" not in report["103"]["status"]


def test_moodle_collect_on_the_command_line_needs_and_uses_the_worksheet(tiny_course, tmp_path):
    archive = write_zip(
        tmp_path / "NN101-01_add-42.zip",
        {moodle_entry("Jane Doe", 7702, "01_add.ipynb"): notebook("jane")},
    )
    err = run(tiny_course, "collect", str(archive), ok=(2,)).stderr
    assert "nothing was filed" in err and "grading worksheet" in err
    sheet = moodle_worksheet(
        tmp_path / "worksheet.csv",
        [{"participant": 7702, "name": "Jane Doe", "email": "jane@uni.example"}],
    )
    out = run(tiny_course, "collect", str(archive), "--roster", str(sheet)).stdout
    assert (
        "filed jane@uni.example/01_add <- Jane Doe_7702_assignsubmission_file/01_add.ipynb" in out
    )
    assert (
        tiny_course / "submitted/jane@uni.example/01_add/01_add.ipynb"
    ).read_bytes() == notebook("jane")

"""report and feedback on the graded hostile catalogue."""

from __future__ import annotations

import csv
import json

import pytest
from grader_fixtures import source_notebook

from autograder.instructor.course import Course
from autograder.instructor.feedback import feedback
from autograder.instructor.report import collect_table, pass_rates, report


@pytest.mark.slow
def test_csv_has_one_row_per_student_with_totals_tests_and_status(graded_catalogue, tmp_path):
    """Does grades.csv carry totals, per-lesson and per-test points, and the reasons?"""
    course, summary, cases = graded_catalogue
    paths = report(Course.at(course), tmp_path / "reports")
    with open(paths["csv"], newline="") as fh:
        rows = {r["student"]: r for r in csv.DictReader(fh)}
    assert set(rows) == set(cases)
    by = {(r["student"], r["lesson"]): r for r in summary.graded}
    for student, row in rows.items():
        add, mul = by[(student, "01_add")], by[(student, "02_mul")]
        assert float(row["total"]) == add["score"] + mul["score"]
        assert float(row["max_total"]) == 6
        assert float(row["01_add"]) == add["score"]
        parts = add["tests"]
        assert float(row["01_add:test_add_hidden"]) == (parts["test_add_hidden"]["score"] or 0)
    assert rows["solution"]["status"] == "ok"
    assert "01_add: timed out" in rows["loop_in_function"]["status"]
    assert "01_add: not a notebook" in rows["invalid_json"]["status"]
    assert "tampered" in rows["points_raised"]["status"]
    assert paths["figure"].stat().st_size > 1000
    page = paths["html"].read_text()
    assert "data:image/png;base64," in page and "loop_in_function" in page


@pytest.mark.slow
def test_pass_rates_count_students_with_full_points(graded_catalogue):
    course, summary, cases = graded_catalogue
    rates = dict(pass_rates(collect_table(Course.at(course))))
    full = sum(
        r["tests"]["test_add_visible"]["score"] == 1
        for r in summary.graded
        if r["lesson"] == "01_add"
    )
    assert rates["01_add:test_add_visible"] == pytest.approx(full / len(cases))
    assert rates["02_mul:test_mul_hidden"] == 1.0


@pytest.mark.slow
def test_feedback_shows_points_and_messages_but_no_hidden_test(graded_catalogue):
    """Does every feedback page list each test with points and never show hidden test code?"""
    course, summary, _ = graded_catalogue
    pages = feedback(Course.at(course))
    every = {(r["student"], r["lesson"]) for r in summary.graded}
    assert {(p.parent.parent.name, p.parent.name) for p in pages} == every
    hidden_lines = [
        line.strip()
        for lesson in ("01_add", "02_mul")
        for cell in source_notebook(lesson).cells
        if "BEGIN HIDDEN" in cell.source
        for line in cell.source.splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert hidden_lines
    for page in pages:
        text = page.read_text()
        assert "BEGIN HIDDEN" not in text
        for line in hidden_lines:
            assert line not in text, (page, line)
            assert "assert_allclose</span><span" not in text  # no highlighted hidden call
        assert "Your results" in text
    wrong = (course / "feedback/wrong/01_add/01_add.html").read_text()
    assert "test_add_visible" in wrong and "0 / 1" in wrong
    assert "hidden check failed" in wrong
    ok = (course / "feedback/solution/01_add/01_add.html").read_text()
    assert "add works on small numbers" in ok and "3 / 3" in ok
    broken = (course / "feedback/invalid_json/01_add/01_add.html").read_text()
    assert "not a notebook" in broken and "0 / 3" in broken
    status = json.loads((course / "grading_status.json").read_text())
    assert status["solution/01_add"]["tests"]["test_add_hidden"]["hidden"] is True

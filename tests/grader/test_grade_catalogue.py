"""The hostile catalogue, graded once by the real grader (2 workers, real nbgrader autograde)."""

from __future__ import annotations

import json
import sqlite3

import pytest
from grader_fixtures import catalogue

CASES = catalogue()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_each_hostile_submission_gets_its_status_and_the_points_it_did_not_break(
    graded_catalogue, name
):
    """Does every catalogue entry end with a clear status and exactly the points it earned?"""
    _, summary, _ = graded_catalogue
    result = next(r for r in summary.graded if r["student"] == name and r["lesson"] == "01_add")
    _, expected_flags, expected_points = CASES[name]
    flags = set(result["status"]) | set(result["hints"])
    assert expected_flags <= flags, (name, result["status"], result["hints"], result["details"])
    assert result["score"] == expected_points, (name, result["tests"], result["details"])
    assert result["max_score"] == 3


@pytest.mark.slow
def test_other_lessons_of_hostile_students_are_unaffected(graded_catalogue):
    """Does a hostile 01_add leave the same student's correct 02_mul fully graded?"""
    _, summary, cases = graded_catalogue
    mul = {r["student"]: r for r in summary.graded if r["lesson"] == "02_mul"}
    assert set(mul) == set(cases)
    for student, result in mul.items():
        assert result["status"] == ["ok"], (student, result)
        assert result["score"] == 3, (student, result["tests"])


@pytest.mark.slow
def test_gradebook_is_intact_and_holds_exactly_the_expected_rows(graded_catalogue):
    """After the catalogue, does the SQLite gradebook pass its integrity check and agree?"""
    from nbgrader.api import Gradebook

    course, summary, cases = graded_catalogue
    with sqlite3.connect(course / "gradebook.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    expected = {(r["student"], r["lesson"]): r["score"] for r in summary.graded}
    assert len(expected) == 2 * len(cases)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        got = {
            (s.student.id, a.name): float(s.score) for a in gb.assignments for s in a.submissions
        }
        assert sorted(s.id for s in gb.students) == sorted(cases)
    assert got == expected


@pytest.mark.slow
def test_tampered_cells_were_restored_by_nbgrader(graded_catalogue):
    """Did nbgrader run the original test cells instead of the student's ``assert True``?"""
    course, _, _ = graded_catalogue
    nb = json.loads((course / "autograded/assert_true/01_add/01_add.ipynb").read_text())
    sources = ["".join(c["source"]) for c in nb["cells"]]
    assert "assert True" not in sources
    assert any("BEGIN HIDDEN TESTS" in s for s in sources)


@pytest.mark.slow
def test_a_flood_of_output_is_truncated_in_the_graded_notebook(graded_catalogue):
    """Does printing 20 MB leave a graded notebook of reasonable size (under 2 MB)?"""
    course, _, _ = graded_catalogue
    path = course / "autograded/print_flood/01_add/01_add.ipynb"
    assert path.stat().st_size < 2_000_000


@pytest.mark.slow
def test_status_file_records_hash_and_messages(graded_catalogue):
    """Does grading_status.json carry the file hash and the student-facing messages?"""
    import hashlib

    course, _, _ = graded_catalogue
    data = json.loads((course / "grading_status.json").read_text())
    entry = data["solution/01_add"]
    raw = (course / "submitted/solution/01_add/01_add.ipynb").read_bytes()
    assert entry["sha256"] == hashlib.sha256(raw).hexdigest()
    assert "add works on small numbers" in entry["tests"]["test_add_visible"]["message"]
    hidden = data["wrong/01_add"]["tests"]["test_add_hidden"]
    assert hidden["hidden"] and "arange" not in hidden["message"]

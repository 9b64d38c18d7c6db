"""release verification, the students' check, and the command line."""

from __future__ import annotations

import json

import pytest
from grader_fixtures import append_to_answer, released, solved

from autograder import cli
from autograder.instructor import release, student_check
from autograder.instructor.course import Course


def test_release_of_the_tiny_course_is_clean(tiny_course):
    assert release.verify(Course.at(tiny_course)) == []


def test_a_leaked_solution_or_hidden_test_is_reported(tiny_course):
    """Does verify catch a solution line, a hidden test line and stored outputs?"""
    path = tiny_course / "lessons/01_add/01_add.ipynb"
    nb = json.loads(path.read_text())
    nb["cells"][2]["source"] = "def add(a, b):\n    return np.add(a, b)"
    nb["cells"][4]["source"] += "\nnp.testing.assert_allclose(add(np.arange(3), 1), [1, 2, 3])"
    nb["cells"][3]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x"}]
    path.write_text(json.dumps(nb))
    leaks = [str(leak) for leak in release.verify(Course.at(tiny_course), ["01_add"])]
    assert any("add: contains the hidden line 'return np.add(a, b)'" in x for x in leaks)
    assert any("test_add_hidden: contains the hidden line 'np.testing" in x for x in leaks)
    assert any("test_add_visible: has stored outputs" in x for x in leaks)


def test_out_of_order_execution_is_detected():
    nb = {
        "cells": [
            {"cell_type": "code", "execution_count": 3, "source": "", "metadata": {}},
            {"cell_type": "code", "execution_count": 1, "source": "", "metadata": {}},
        ]
    }
    assert any("out of order" in w for w in student_check.static_warnings(nb))
    nb["cells"][1]["execution_count"] = 4
    assert student_check.static_warnings(nb) == []


def test_stub_in_the_saved_file_with_outputs_that_ran_means_unsaved_work(tiny_course):
    """A stub answer whose test shows a pass in the saved file: did the student forget to save?"""
    nb = released(tiny_course, "01_add")
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            cell["execution_count"] = i
    nb["cells"][3]["outputs"] = [
        {"output_type": "stream", "name": "stdout", "text": "add works on small numbers\n"}
    ]
    warnings = student_check.static_warnings(nb)
    assert any("save the notebook" in w for w in warnings)


@pytest.mark.slow
def test_check_runs_the_saved_file_fresh_and_reports_visible_and_hidden(tiny_course, capsys):
    """Does check pass a solved notebook, count the hidden cell, and fail a broken one?"""
    path = tiny_course / "mine.ipynb"
    path.write_text(json.dumps(solved(tiny_course, "01_add")))
    assert cli.main(["check", str(path), "--timeout", "20"]) == 0
    out = capsys.readouterr().out
    assert "[PASS] test_add_visible: 1/1" in out
    assert "Hidden tests: 1 cells worth 2 points" in out

    broken = append_to_answer(released(tiny_course, "01_add"), "01_add", "")
    broken["cells"][3]["outputs"] = [
        {"output_type": "stream", "name": "stdout", "text": "add works on small numbers\n"}
    ]
    path.write_text(json.dumps(broken))
    assert cli.main(["check", str(path), "--timeout", "20"]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] test_add_visible" in out and "NotImplementedError" in out
    assert "passed in your saved outputs but fails in a fresh kernel" in out


def test_cli_reports_a_missing_course_clearly(tmp_path, capsys):
    assert cli.main(["grade", "--course", str(tmp_path)]) == 2
    assert "no nbgrader_config.py" in capsys.readouterr().err


def test_cli_help_lists_every_step(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    for step in ("release", "collect", "grade", "report", "feedback", "check"):
        assert step in out


def test_the_repository_lessons_leak_nothing(repo_root):
    """Do the released lessons of the course hold no solution, hidden test or output?"""
    course = Course.at(repo_root)
    built = [
        lesson
        for lesson in course.lessons()
        if (course.release_dir / lesson / f"{lesson}.ipynb").is_file()
    ]
    if not built:
        pytest.skip("no lessons released yet")
    assert [str(leak) for leak in release.verify(course, built)] == []

"""The kernel-free grading steps, in-process: most catalogue cases are decided here."""

from __future__ import annotations

import json

import pytest
from grader_fixtures import catalogue, released, solved, write_submission

from autograder.instructor import pipeline
from autograder.instructor.course import Course, lesson_info

# Entries the inspection steps decide on their own (no kernel needed).
STATIC = {
    "solution": set(),
    "invalid_json": {"not a notebook"},
    "not_a_notebook_json": {"wrong file"},
    "wrong_lesson": {"wrong file"},
    "deleted_hidden_test": {"test cells deleted"},
    "assert_true": {"tampered"},
    "points_raised": {"tampered"},
    "reordered": {"reordered cells"},
    "duplicated": {"duplicated cells"},
    "monkeypatch_numpy": set(),
    "os_exit": set(),
}


@pytest.fixture(scope="module")
def info(tiny_course_template):
    return lesson_info(Course.at(tiny_course_template))


def _inspect(course, info, name, content):
    path = write_submission(course, name, "01_add", content)
    sub = pipeline.Submission(name, "01_add", path, info["01_add"], all_lessons=info)
    return pipeline.run_steps(sub, pipeline.INSPECT_STEPS)


def test_lesson_info_reads_tests_hidden_cells_and_points_from_the_gradebook(info):
    """Does the gradebook give each lesson's test cells, points and hidden tests?"""
    add = info["01_add"]
    assert add["grades"] == {"test_add_visible": 1.0, "test_add_hidden": 2.0}
    assert add["tests"] == ["test_add_visible", "test_add_hidden"]
    assert add["hidden"] == ["test_add_hidden"]
    assert add["answers"] == ["add"]
    assert "BEGIN HIDDEN" not in add["locked"]["test_add_hidden"]


@pytest.mark.parametrize("name", sorted(STATIC))
def test_inspection_flags_exactly_what_the_file_shows(tiny_course, info, name):
    """Does each static catalogue case get its flags, and no other failure flag?"""
    build = catalogue()[name][0]
    sub = _inspect(tiny_course, info, name, build(tiny_course))
    flags = set(sub.statuses) | set(sub.hints)
    assert flags == STATIC[name], (sub.statuses, sub.hints, sub.details)
    stops = name in {"invalid_json", "not_a_notebook_json", "wrong_lesson"}
    assert sub.stop is stops
    if stops:
        assert sub.result()["score"] == 0 and all(g["manual"] for g in sub.grades.values())


def test_wrong_lesson_names_the_lesson_it_looks_like(tiny_course, info):
    sub = _inspect(tiny_course, info, "x", solved(tiny_course, "02_mul"))
    assert any("02_mul" in d for d in sub.details)


def test_copied_cells_with_the_same_id_get_fresh_ids(tiny_course, info):
    """A duplicated cell id would make nbformat reject the notebook; are the copies renamed?"""
    nb = released(tiny_course, "01_add")
    nb["cells"].append(json.loads(json.dumps(nb["cells"][2])))
    sub = _inspect(tiny_course, info, "dup", nb)
    ids = [c["id"] for c in json.loads(sub.data)["cells"]]
    assert len(ids) == len(set(ids))
    assert "duplicated cells" in sub.hints


def test_tampering_reports_which_cell_and_what(tiny_course, info):
    nb = released(tiny_course, "01_add")
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "test_add_hidden":
            cell["metadata"]["nbgrader"]["points"] = 50
    sub = _inspect(tiny_course, info, "t", nb)
    assert sub.statuses == ["tampered"]
    assert "test_add_hidden (points 50 instead of 2)" in sub.details[0]


def test_whitespace_only_edits_of_locked_cells_are_not_tampering(tiny_course, info):
    nb = released(tiny_course, "01_add")
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("locked"):
            cell["source"] = "".join(cell["source"]) + "\n\n   \n"
    assert _inspect(tiny_course, info, "w", nb).statuses == []


def _with_error(cell: dict, ename: str, evalue: str) -> dict:
    cell["outputs"] = [
        {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": [evalue]}
    ]
    return cell


@pytest.mark.parametrize("failing", ["setup", "add"])
def test_a_failing_setup_cell_is_the_graders_fault_not_the_students(
    tiny_course, info, tmp_path, failing
):
    """Is a locked setup cell that fails before any answer cell ran a 'grader crashed' (retried
    next run), while the same error in the student's answer cell is the student's own?"""
    from autograder.instructor import worker

    nb = solved(tiny_course, "01_add")
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == failing:
            _with_error(cell, "RuntimeError", "'inline' is not a recognised backend name")
    graded = tmp_path / "01_add.ipynb"
    graded.write_text(json.dumps(nb), encoding="utf-8")
    sub = pipeline.Submission("s", "01_add", graded, info["01_add"], all_lessons=info)
    sub.autograded = graded
    worker.read_outputs(sub)
    if failing == "setup":
        assert sub.statuses == [pipeline.GRADER_CRASHED], sub.statuses
        assert any("setup" in d and "environment" in d for d in sub.details), sub.details
    else:
        assert pipeline.GRADER_CRASHED not in sub.statuses
        assert pipeline.ANSWER_ERROR in sub.hints

"""Re-running, re-grading, determinism and supervision of the grader on the tiny course."""

from __future__ import annotations

import json

import pytest
from grader_fixtures import answer, released, solved, write_submission

from autograder.instructor.course import Course
from autograder.instructor.grade import grade


def _strip(results):
    return {
        (r["student"], r["lesson"]): (r["score"], r["status"], r["hints"], r["tests"])
        for r in results
    }


@pytest.mark.slow
def test_rerun_grades_only_what_changed_and_regrading_is_deterministic(tiny_course):
    """Does a second run skip unchanged files, re-grade a changed one, and --force agree?"""
    course = Course.at(tiny_course)
    write_submission(tiny_course, "ann", "01_add", solved(tiny_course, "01_add"))
    write_submission(
        tiny_course,
        "bob",
        "01_add",
        answer(released(tiny_course, "01_add"), "01_add", "return a - b"),
    )
    write_submission(tiny_course, "bob", "02_mul", solved(tiny_course, "02_mul"))
    first = grade(course, workers=2, timeout=25, progress=False)
    assert len(first.graded) == 3 and not first.skipped

    again = grade(course, workers=2, timeout=25, progress=False)
    assert again.graded == [] and len(again.skipped) == 3

    write_submission(tiny_course, "bob", "01_add", solved(tiny_course, "01_add"))
    changed = grade(course, workers=2, timeout=25, progress=False)
    assert [(r["student"], r["lesson"]) for r in changed.graded] == [("bob", "01_add")]
    assert changed.graded[0]["score"] == 3

    before = _strip(json.loads(course.status_path.read_text()).values())
    forced = grade(course, workers=1, timeout=25, progress=False, force=True)
    assert len(forced.graded) == 3
    assert _strip(forced.graded) == before


@pytest.mark.slow
def test_a_crashed_worker_is_replaced_and_others_are_graded(tiny_course):
    """When a worker process dies mid-task, is that submission recorded and the rest graded?"""
    course = Course.at(tiny_course)
    for student in ("ann", "bob", "cat"):
        write_submission(tiny_course, student, "01_add", solved(tiny_course, "01_add"))
    summary = grade(
        course, workers=2, timeout=25, progress=False, faults={"bob/01_add": "crash-worker"}
    )
    by = {r["student"]: r for r in summary.graded}
    assert by["bob"]["status"] == ["grader crashed"] and by["bob"]["score"] == 0
    assert by["ann"]["score"] == by["cat"]["score"] == 3
    # the crash is not remembered as a grade: the next run tries bob again
    again = grade(course, workers=1, timeout=25, progress=False)
    assert [(r["student"], r["score"]) for r in again.graded] == [("bob", 3.0)]


@pytest.mark.slow
def test_submission_wall_clock_limit_kills_the_kernel(tiny_course):
    """Does a submission that outlives its wall-clock limit stop with status "timed out"?"""
    course = Course.at(tiny_course)
    # every call sleeps 3 s: under the 4 s cell limit, but two test cells overrun 5 s in total
    slow = answer(
        released(tiny_course, "01_add"), "01_add", "import time\ntime.sleep(3)\nreturn a + b"
    )
    write_submission(tiny_course, "slow", "01_add", slow)
    summary = grade(course, workers=1, timeout=5, progress=False)
    result = summary.graded[0]
    assert "timed out" in result["status"], result
    assert result["score"] <= 1
    assert result["tests"]["test_add_hidden"]["score"] == 0
    assert result["seconds"] < 20

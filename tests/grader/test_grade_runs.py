"""Re-running, re-grading, determinism and supervision of the grader on the tiny course."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from grader_fixtures import answer, append_to_answer, released, solved, write_submission

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


REPORT_TRANSPORT = """
from ipykernel.kernelapp import IPKernelApp
print("TRANSPORT", IPKernelApp.instance().transport, IPKernelApp.instance().ip)
"""


@pytest.mark.slow
def test_grading_kernels_talk_to_their_worker_over_private_unix_sockets(tiny_course):
    """No TCP ports: jupyter_client finds a free port by binding and releasing it, so two kernels
    starting at once (two workers, each with a kernel started ahead) could be handed the same
    port, and the one that loses dies at start: a random "grader crashed" (jupyter_client#154).
    Is every kernel on ipc, with its socket files in a kernel folder of its own?"""
    course = Course.at(tiny_course)
    students = ("ann", "bob", "cat", "dan")
    for student in students:
        nb = append_to_answer(solved(tiny_course, "01_add"), "01_add", REPORT_TRANSPORT)
        write_submission(tiny_course, student, "01_add", nb)
    summary = grade(course, workers=2, timeout=25, progress=False)
    prefixes = set()
    for result in summary.graded:
        assert result["status"] == ["ok"] and result["score"] == 3, (
            result["status"],
            result["details"],
        )
        graded = json.loads(Path(tiny_course, result["autograded"]).read_text())
        printed = "".join(
            "".join(out.get("text", ""))
            for cell in graded["cells"]
            for out in cell.get("outputs", [])
        )
        line = next(line for line in printed.splitlines() if line.startswith("TRANSPORT"))
        _, transport, prefix = line.split()
        assert transport == "ipc", line
        assert Path(prefix).parent.parent.name == "kernels", line
        prefixes.add(Path(prefix).parent)
    assert len(prefixes) == len(students)


@pytest.mark.slow
def test_a_kernel_that_dies_at_start_is_a_grader_crash_that_says_why(tiny_course, monkeypatch):
    """The run's folder (with the worker's log) is removed after the run, so the reason must be
    in the result; the crash is not a grade, so the next run tries again."""
    import sys

    from autograder.instructor import worker

    course = Course.at(tiny_course)
    write_submission(tiny_course, "ann", "01_add", solved(tiny_course, "01_add"))
    with monkeypatch.context() as patch:  # the workers are forked from this process
        patch.setattr(
            worker.LimitedKernelManager,
            "format_kernel_cmd",
            lambda self, extra_arguments=None: [sys.executable, "-c", "raise SystemExit(3)"],
        )
        summary = grade(course, workers=1, timeout=25, progress=False)
    (result,) = summary.graded
    assert result["status"] == ["grader crashed"] and result["score"] == 0, (
        result["status"],
        result["details"],
    )
    assert "Kernel died before replying to kernel_info" in " ".join(result["details"]), result
    again = grade(course, workers=1, timeout=25, progress=False)
    assert [(r["student"], r["score"], r["status"]) for r in again.graded] == [("ann", 3.0, ["ok"])]


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
    assert "timed out" in result["status"], (result["status"], result["details"])
    assert result["score"] <= 1
    assert result["tests"]["test_add_hidden"]["score"] == 0
    assert result["seconds"] < 20

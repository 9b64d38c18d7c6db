"""Does the course's own feedback go back through nbgrader's exchange to the student?

One user plays both parts (no root needed) on the grader tests' tiny course, with a private
exchange: ``nbgrader release_assignment``, ``fetch_assignment``, ``submit``, ``collect``, then
the course's ``grade`` and ``feedback``, then ``nbgrader release_feedback`` and
``fetch_feedback``. nbgrader names a released feedback page by a hash of the submission's
secret, so ``feedback`` must leave that secret next to each page.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "grader"))

from grader_fixtures import build_course, solved

from autograder.instructor.course import Course
from autograder.instructor.feedback import feedback
from autograder.instructor.grade import grade

pytestmark = pytest.mark.slow
LESSON = "01_add"


def _nbgrader(*args: str, cwd: Path, exchange: Path, cache: Path) -> str:
    cmd = [
        sys.executable, "-m", "nbgrader", *args, "--course=tiny",
        f"--Exchange.root={exchange}", f"--Exchange.cache={cache}",
    ]  # fmt: skip
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, f"nbgrader {args[0]} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def test_feedback_written_by_the_course_reaches_the_student_through_the_exchange(tmp_path):
    course = build_course(tmp_path / "course")
    exchange, cache, student = tmp_path / "exchange", tmp_path / "cache", tmp_path / "student"
    exchange.mkdir()
    exchange.chmod(0o777)
    student.mkdir()
    run = {"exchange": exchange, "cache": cache}

    _nbgrader("release_assignment", LESSON, cwd=course, **run)
    _nbgrader("fetch_assignment", LESSON, cwd=student, **run)
    notebook = student / LESSON / f"{LESSON}.ipynb"
    notebook.write_text(json.dumps(solved(course, LESSON)))
    _nbgrader("submit", LESSON, cwd=student, **run)
    _nbgrader("collect", LESSON, cwd=course, **run)

    summary = grade(Course.at(course), lessons=[LESSON], workers=1, progress=False)
    assert [(r["student"], r["score"]) for r in summary.graded] == [
        (summary.graded[0]["student"], 3.0)
    ]
    pages = feedback(Course.at(course), [LESSON])
    assert len(pages) == 1

    _nbgrader("release_feedback", LESSON, cwd=course, **run)
    _nbgrader("fetch_feedback", LESSON, cwd=student, **run)
    fetched = list((student / LESSON / "feedback").glob(f"*/{LESSON}.html"))
    assert len(fetched) == 1, f"the student fetched {fetched}"
    assert fetched[0].read_text() == pages[0].read_text()
    assert "Your results: 3 / 3" in fetched[0].read_text()
    secret = next(course.glob(f"submitted/*/{LESSON}/submission_secret.txt"))
    assert (pages[0].parent / "submission_secret.txt").read_text() == secret.read_text()

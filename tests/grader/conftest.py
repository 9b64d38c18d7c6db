"""Fixtures of the grader's tests; the builders live in ``grader_fixtures.py``."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from grader_fixtures import (
    MEMORY_MB,
    SUBMISSION_TIMEOUT,
    build_course,
    catalogue,
    solved,
    write_submission,
)


@pytest.fixture(scope="session")
def tiny_course_template(tmp_path_factory) -> Path:
    """A released tiny course, built once per session (copy it before changing it)."""
    return build_course(tmp_path_factory.mktemp("tiny") / "course")


@pytest.fixture
def tiny_course(tiny_course_template, tmp_path) -> Path:
    dest = tmp_path / "course"
    shutil.copytree(tiny_course_template, dest)
    return dest


@pytest.fixture(scope="session")
def graded_catalogue(tiny_course_template, tmp_path_factory):
    """The hostile catalogue graded once with 2 workers: (course path, summary, catalogue)."""
    from autograder.instructor.course import Course
    from autograder.instructor.grade import grade

    course = tmp_path_factory.mktemp("catalogue") / "course"
    shutil.copytree(tiny_course_template, course)
    cases = catalogue()
    for name, (build, _, _) in cases.items():
        write_submission(course, name, "01_add", build(course))
    # every student also submits a correct 02_mul: it must be untouched by the hostile 01_add
    for name in cases:
        write_submission(course, name, "02_mul", solved(course, "02_mul"))
    summary = grade(
        Course.at(course),
        workers=2,
        timeout=SUBMISSION_TIMEOUT,
        memory_mb=MEMORY_MB,
        progress=False,
    )
    return course, summary, cases

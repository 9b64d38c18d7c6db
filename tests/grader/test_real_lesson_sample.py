"""A representative sample on a real lesson (01_neurons) through real nbgrader autograde.

The in-kernel guards of ``autograder.check`` decide these; the grader must carry their verdicts:
calling the ``nnkit`` reference, writing to stderr inside a graded function, returning NaN.
"""

from __future__ import annotations

import pytest
from grader_fixtures import REPO, build_real_course, solved_real, write_submission

from autograder.instructor.course import Course
from autograder.instructor.grade import grade

LESSON = "01_neurons"
pytestmark = pytest.mark.skipif(
    not (REPO / "solutions" / LESSON / f"{LESSON}.ipynb").is_file(), reason="lesson not built yet"
)

REFERENCE_AND_STDERR = """
import sys
def sigmoid(a):
    print("debugging sigmoid", file=sys.stderr)
    return nnkit.sigmoid(a)
"""
NAN = """
def relu(a):
    return np.maximum(a, 0) * np.nan
"""


@pytest.fixture(scope="module")
def graded_real(tmp_path_factory):
    course = build_real_course(tmp_path_factory.mktemp("real") / "course", LESSON)
    write_submission(course, "solution", LESSON, solved_real(course, LESSON))
    write_submission(
        course, "reference", LESSON, solved_real(course, LESSON, {"sigmoid": REFERENCE_AND_STDERR})
    )
    write_submission(course, "nan", LESSON, solved_real(course, LESSON, {"relu": NAN}))
    summary = grade(Course.at(course), workers=2, timeout=120, progress=False)
    return {r["student"]: r for r in summary.graded}


@pytest.mark.slow
def test_the_solution_earns_every_point(graded_real):
    result = graded_real["solution"]
    assert result["status"] == ["ok"], result["details"]
    assert result["score"] == result["max_score"] > 0


@pytest.mark.slow
def test_calling_the_reference_earns_nothing_for_that_function_only(graded_real):
    """Sigmoid through nnkit.sigmoid (printing to stderr): its tests 0, the others intact."""
    tests = graded_real["reference"]["tests"]
    for gid in ("test_sigmoid_values", "test_sigmoid_edge", "test_sigmoid_hidden"):
        assert tests[gid]["score"] == 0, (gid, tests[gid])
    assert "nnkit" in tests["test_sigmoid_values"]["message"]
    for gid in ("test_tanh_values", "test_relu_values", "test_xor_params_values"):
        assert tests[gid]["score"] == tests[gid]["max"], (gid, tests[gid])


@pytest.mark.slow
def test_nan_answers_fail_with_a_nan_hint(graded_real):
    result = graded_real["nan"]
    assert "nan output" in result["hints"], result
    assert result["tests"]["test_relu_values"]["score"] == 0
    assert result["tests"]["test_sigmoid_values"]["score"] == 1

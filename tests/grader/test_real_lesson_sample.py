"""A representative sample on a real lesson (01_neurons) through real nbgrader autograde.

The in-kernel guards of ``autograder.check`` decide these; the grader must carry their verdicts:
calling the ``nnkit`` reference, writing to stderr inside a graded function, returning NaN.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from grader_fixtures import REPO, build_real_course, solved_real, write_submission

from autograder.instructor.course import Course, grade_id_of
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
# A wrong sigmoid, and every later test cell loses its check() call: the cells run and raise
# nothing, so nbgrader alone would give full points.
DROP_CHECKS = """
def sigmoid(a):
    return a
get_ipython().input_transformers_post.append(lambda lines: [l for l in lines if "check(" not in l])
"""
# A correct notebook whose answer cell tries to break the machine for everyone else.
VANDAL = """
import os, signal, site
for attempt in (
    lambda: open(os.path.join(site.getsitepackages()[0], "zz_vandal.pth"), "w").write("import os"),
    lambda: open(os.path.join("..", "..", "gradebook.db"), "r+b"),
    lambda: os.kill(os.getppid(), signal.SIGKILL),
    lambda: os.fork(),
):
    try:
        attempt()
        print("NOT REFUSED")
    except Exception as exc:
        print("refused:", type(exc).__name__)
"""


@pytest.fixture(scope="module")
def graded_real(tmp_path_factory):
    course = build_real_course(tmp_path_factory.mktemp("real") / "course", LESSON)
    write_submission(course, "solution", LESSON, solved_real(course, LESSON))
    write_submission(
        course, "reference", LESSON, solved_real(course, LESSON, {"sigmoid": REFERENCE_AND_STDERR})
    )
    write_submission(course, "nan", LESSON, solved_real(course, LESSON, {"relu": NAN}))
    write_submission(
        course, "drop_checks", LESSON, solved_real(course, LESSON, {"sigmoid": DROP_CHECKS})
    )
    write_submission(course, "vandal", LESSON, solved_real(course, LESSON, {"sigmoid": VANDAL}))
    import matplotlib

    matplotlib.get_cachedir()  # the workers (forked from here) keep this one, as in a long run
    with pytest.MonkeyPatch.context() as env:
        # an instructor's MPLCONFIGDIR that does not exist (a confined kernel could not create
        # it): each kernel must get a matplotlib folder of its own, or every setup cell fails
        env.setenv("MPLCONFIGDIR", str(course.parent / "no-such-folder" / "matplotlib"))
        summary = grade(Course.at(course), workers=2, timeout=120, progress=False)
    results = {r["student"]: r for r in summary.graded}
    results["_course"] = course
    return results


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


@pytest.mark.slow
def test_test_cells_that_did_not_run_their_check_earn_nothing(graded_real):
    """Checks removed from every test cell (an input transformer): the cells raise nothing, but
    no signed pass reached the grader, so no cell counts."""
    result = graded_real["drop_checks"]
    assert "unverified pass" in result["status"], (result["status"], result["details"])
    assert result["score"] == 0, result["tests"]


@pytest.mark.slow
def test_an_answer_cell_cannot_touch_the_grader_or_other_submissions(graded_real):
    """Writing a .pth into the venv, opening the worker's gradebook, killing the worker,
    forking: all refused, the notebook still gets its points, the grader survives."""
    import site

    result = graded_real["vandal"]
    assert result["status"] == ["ok"], (result["status"], result["details"])
    assert result["score"] == result["max_score"]
    assert not any(Path(d, "zz_vandal.pth").exists() for d in site.getsitepackages())
    graded = json.loads(Path(graded_real["_course"], result["autograded"]).read_text())
    answer = next(c for c in graded["cells"] if grade_id_of(c) == "sigmoid")
    printed = "".join("".join(o.get("text", "")) for o in answer["outputs"])
    assert printed.count("refused:") == 4 and "NOT REFUSED" not in printed, printed
    assert graded_real["solution"]["score"] == graded_real["solution"]["max_score"]


@pytest.mark.slow
def test_messages_and_feedback_carry_no_grading_signatures(graded_real):
    """The signed passes are for the grader: the stored messages and the feedback page show
    '✓ ... passed' without the signature."""
    from autograder.instructor.feedback import feedback

    solution = graded_real["solution"]
    messages = [t["message"] for t in solution["tests"].values()]
    assert any("passed" in m for m in messages) and not any("⟪" in m for m in messages)
    graded = json.loads(Path(graded_real["_course"], solution["autograded"]).read_text())
    assert "⟪" in json.dumps(graded, ensure_ascii=False)  # the grader did see signatures
    pages = feedback(Course.at(graded_real["_course"]), [LESSON], ["solution"])
    page = pages[0].read_text(encoding="utf-8")
    assert "passed" in page and "⟪" not in page and "&#10218;" not in page

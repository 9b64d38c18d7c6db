"""Do lessons 01-03 grade correctly through real `nbgrader autograde`?

One course, one `nbgrader autograde` process per lesson for all its students (solution, the
untouched release, wrong answers, a hostile notebook), shared by every test of this module.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from lesson_helpers import (
    around_traceback,
    LESSONS,
    cell_outputs,
    nbgrader,
    nbgrader_meta,
    notebook_path,
    output_text,
    read_grades,
    read_nb,
    replace_answer,
    submit,
)

import nnkit
from autograder import framework

pytestmark = pytest.mark.slow

SIGMOID_OVERFLOW = """
def sigmoid(a):
    return np.exp(a) / (1 + np.exp(a))


def sigmoid_grad(a):
    s = sigmoid(a)
    return s * (1 - s)
"""

# Tampers with numpy, autograder and the notebook's `check`, and is wrong (tanh for sigmoid).
SIGMOID_HOSTILE = """
import sys
import autograder
np.allclose = lambda *args, **kwargs: True
np.testing.assert_allclose = lambda *args, **kwargs: None
autograder.framework.diagnose = None
check = lambda *args, **kwargs: print("all good!")
print("noise on stderr", file=sys.stderr)


def sigmoid(a):
    return np.tanh(a)


def sigmoid_grad(a):
    return 1 - np.tanh(a) ** 2
"""

RELU_SYNTAX_ERROR = """
def relu(a)
    return np.maximum(a, 0)
"""

SOFTMAX_NO_MAX = """
def softmax(z):
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def softmax_jacobian(z):
    s = softmax(z)
    return np.diag(s) - np.outer(s, s)
"""

SOFTMAX_REFERENCE = """
def softmax(z):
    try:
        return nnkit.softmax(z)
    except Exception:
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)


def softmax_jacobian(z):
    s = softmax(z)
    return np.diag(s) - np.outer(s, s)
"""

LINEAR_DB_MEAN = """
def linear_forward(x, W, b):
    return x @ W.T + b, (x, W, b)


def linear_backward(dout, cache):
    x, W, b = cache
    return dout @ W, dout.T @ x, dout.mean(axis=0)
"""

TRAIN_NO_UPDATE = """
def train_mlp(X, y, hidden=64, lr=0.5, epochs=300, batch_size=32, rng=None):
    rng = np.random.default_rng(rng)
    n, d = X.shape
    k = int(y.max()) + 1
    params = {
        "W1": rng.normal(0.0, np.sqrt(2.0 / d), size=(hidden, d)),
        "b1": np.zeros(hidden),
        "W2": rng.normal(0.0, np.sqrt(1.0 / hidden), size=(k, hidden)),
        "b2": np.zeros(k),
    }
    for _ in range(3):
        _, grads = nnkit.mlp_loss(params, X, y)
    return params
"""

# student -> lesson -> {answer grade_id: new source}
MUTANTS = {
    "01_neurons": {"overflow": {"sigmoid": SIGMOID_OVERFLOW}},
    "02_softmax": {"nomax": {"softmax": SOFTMAX_NO_MAX}, "usesref": {"softmax": SOFTMAX_REFERENCE}},
    "03_backprop": {
        "dbmean": {"linear_forward": LINEAR_DB_MEAN},
        "noupdate": {"train_mlp": TRAIN_NO_UPDATE},
    },
}
HOSTILE = {"sigmoid": SIGMOID_HOSTILE, "relu": RELU_SYNTAX_ERROR}


def _total(lesson: str) -> float:
    return float(sum(p.points for p in framework.manifest(lesson)))


def expected_score(lesson: str, nb: dict) -> float:
    """Grade a notebook's answer cells in-process, the way its test cells would."""
    ns: dict = {"np": np, "nnkit": nnkit}
    for cell in nb["cells"]:
        if nbgrader_meta(cell).get("solution"):
            exec("".join(cell["source"]), ns)
    score = 0.0
    for p in framework.manifest(lesson):
        spec = framework.SPECS[p.function]
        fn = ns.get(p.function)
        companions = tuple(ns.get(c) for c in spec.companions)
        if callable(fn) and framework._run_part(p, fn, companions)[0]:
            score += p.points
    return score


@pytest.fixture(scope="module")
def autograded(fresh_course):
    course, env = fresh_course
    expected: dict[tuple[str, str], float] = {}
    for lesson in LESSONS:
        solution = read_nb(notebook_path("solutions", lesson))
        submit(course, "solution", lesson, solution)
        expected[(lesson, "solution")] = _total(lesson)
        submit(course, "release", lesson, read_nb(notebook_path("lessons", lesson)))
        expected[(lesson, "release")] = 0.0
        for student, changes in MUTANTS.get(lesson, {}).items():
            nb = solution
            for grade_id, source in changes.items():
                nb = replace_answer(nb, grade_id, source)
            submit(course, student, lesson, nb)
            expected[(lesson, student)] = expected_score(lesson, nb)
    hostile = read_nb(notebook_path("solutions", "01_neurons"))
    for grade_id, source in HOSTILE.items():
        hostile = replace_answer(hostile, grade_id, source)
    submit(course, "hostile", "01_neurons", hostile)
    lost = {"sigmoid", "sigmoid_grad", "relu", "relu_grad"}
    expected[("01_neurons", "hostile")] = _total("01_neurons") - sum(
        p.points for p in framework.manifest("01_neurons") if p.function in lost
    )
    logs = {"all": nbgrader(["autograde", "*"], course, env)}
    grades = read_grades(course, env)
    return {"course": course, "env": env, "grades": grades, "expected": expected, "logs": logs}


def test_autograde_runs_exit_cleanly(autograded):
    """Does every autograde run finish without an error, whatever the students submitted?"""
    for lesson, done in autograded["logs"].items():
        assert done.returncode == 0, f"{lesson}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        assert "Traceback" not in done.stderr, around_traceback(done.stderr)


@pytest.mark.parametrize("lesson", LESSONS)
def test_solution_gets_full_marks(autograded, lesson):
    """Does each solution notebook autograde to full marks?"""
    assert autograded["grades"][(lesson, "solution")] == _total(lesson) > 0


@pytest.mark.parametrize("lesson", LESSONS)
def test_untouched_release_gets_zero(autograded, lesson):
    """Does each released notebook, submitted untouched, autograde to 0 with every demo cell
    (figures, widgets, self-check) still running without error?"""
    assert autograded["grades"][(lesson, "release")] == 0.0
    for cell_id, outputs in cell_outputs(autograded["course"], "release", lesson).items():
        if not str(cell_id).startswith("test_"):
            broken = [
                o for o in outputs if o["output_type"] == "error" or o.get("name") == "stderr"
            ]
            assert not broken, (cell_id, broken[:1])


def test_wrong_submissions_get_the_in_process_score(autograded):
    """Does nbgrader award wrong answers exactly the points `check` awards them in-process?"""
    for key, score in autograded["expected"].items():
        assert autograded["grades"][key] == score, key
        if key[1] not in ("solution", "release"):
            assert score < _total(key[0]), f"{key} lost no points"


def _text(autograded, student, lesson, grade_id) -> str:
    return output_text(cell_outputs(autograded["course"], student, lesson)[grade_id])


def test_messages_name_the_mistake_and_hide_the_test_source(autograded):
    """Do failing test cells show the student message (not a traceback of the test cell)?"""
    text = _text(autograded, "overflow", "01_neurons", "test_sigmoid_edge")
    assert "exp(a) / (1 + exp(a)) overflows" in text
    assert "check(" not in text and "Traceback" not in text
    text = _text(autograded, "nomax", "02_softmax", "test_softmax_hidden")
    assert "did not subtract the maximum" in text
    assert "BEGIN HIDDEN TESTS" not in text and 'part="hidden"' not in text
    text = _text(autograded, "usesref", "02_softmax", "test_softmax_values")
    assert "nnkit.softmax" in text and "no points" in text
    text = _text(autograded, "dbmean", "03_backprop", "test_linear_backward_values")
    assert "db = dout.sum(axis=0)" in text
    text = _text(autograded, "noupdate", "03_backprop", "test_train_mlp_accuracy")
    assert "training accuracy" in text


def test_hostile_notebook_cannot_fool_or_break_grading(autograded):
    """Do tampering, a rebound `check`, stderr noise, a syntax error cost only their own parts?"""
    outputs = cell_outputs(autograded["course"], "hostile", "01_neurons")
    sigmoid_text = output_text(outputs["test_sigmoid_values"])
    assert "all good!" not in sigmoid_text
    assert "replaced" in sigmoid_text  # the student is told the originals were restored
    assert "tanh" in sigmoid_text  # and the real check ran and named the mistake
    for part in ("values", "hidden"):  # the broken cell costs relu, without a traceback
        relu_text = output_text(outputs[f"test_relu_{part}"])
        assert "relu is not defined" in relu_text
        assert "Traceback" not in relu_text and "HIDDEN" not in relu_text
    for later in ("test_leaky_relu_values", "test_neuron_forward_values", "test_xor_params_values"):
        assert not [o for o in outputs[later] if o["output_type"] == "error"], later
        assert not [o for o in outputs[later] if o.get("name") == "stderr"], later


def test_no_test_cell_writes_to_stderr(autograded):
    """Is every test cell's output free of stderr (nbgrader would score such a cell 0)?"""
    for lesson in LESSONS:
        for student in ("solution", "release", *MUTANTS.get(lesson, {})):
            for grade_id, outputs in cell_outputs(autograded["course"], student, lesson).items():
                if str(grade_id).startswith("test_"):
                    assert not [o for o in outputs if o.get("name") == "stderr"], (
                        student,
                        grade_id,
                    )


def test_solution_notebooks_show_their_figures(autograded):
    """Do the figures appear when the solution notebooks run (images in the autograded outputs)?"""
    minimum = {"01_neurons": 4, "02_softmax": 4, "03_backprop": 3}
    for lesson in LESSONS:
        outputs = cell_outputs(autograded["course"], "solution", lesson)
        images = sum(
            1 for outs in outputs.values() for o in outs if "image/png" in o.get("data", {})
        )
        assert images >= minimum.get(lesson, 1), (lesson, images)


def test_self_check_is_honest_in_the_notebook(autograded):
    """Does the last cell report visible points and remaining hidden parts, never 'all passed'?"""
    for lesson in LESSONS:
        outputs = cell_outputs(autograded["course"], "solution", lesson)
        text = output_text(list(outputs.values())[-1])
        visible = sum(p.points for p in framework.manifest(lesson) if not p.hidden)
        hidden = [p for p in framework.manifest(lesson) if p.hidden]
        assert f"{visible} of {visible} points" in text
        assert f"{len(hidden)} more parts worth {sum(p.points for p in hidden)} points" in text
        assert not re.search(r"all (tests|checks) passed", text, re.I)


def test_grading_twice_gives_the_same_scores(autograded):
    """Does a second autograde of the same submissions give exactly the same scores?"""
    course, env = autograded["course"], autograded["env"]
    done = nbgrader(["autograde", "02_softmax", "--student", "nomax", "--force"], course, env)
    assert done.returncode == 0, done.stderr[-2000:]
    again = read_grades(course, env)
    assert again == autograded["grades"]


def test_feedback_does_not_reveal_hidden_tests(autograded):
    """Does generated feedback omit hidden test sources?"""
    course, env = autograded["course"], autograded["env"]
    done = nbgrader(["generate_feedback", "02_softmax", "--student", "nomax"], course, env)
    assert done.returncode == 0, done.stderr[-2000:]
    html = (course / "feedback" / "nomax" / "02_softmax" / "02_softmax.html").read_text()
    assert "BEGIN HIDDEN TESTS" not in html
    assert "part=&quot;hidden&quot;" not in html and 'part="hidden"' not in html
    assert "did not subtract the maximum" in html

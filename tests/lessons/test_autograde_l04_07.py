"""Do lessons 04-07 grade wrong answers correctly through real `nbgrader autograde`?

(Solution = full marks and untouched release = 0 for every lesson, 04-07 included, are checked
by `test_autograde_l01_03.py`, whose lesson list is discovered automatically.) Here one
student per lesson submits the solution notebook with several answer cells replaced by
plausible mistakes; one `nbgrader autograde` process grades them all. The score must equal
the in-process score and the failing cells must name the mistakes, without tracebacks or
hidden test sources.
"""

from __future__ import annotations

import numpy as np
import pytest
from lesson_helpers import (
    around_traceback,
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

STUDENT = "h5mistakes"

HE_FAN_OUT = """
def xavier_uniform(fan_in, fan_out, rng):
    rng = np.random.default_rng(rng)
    a = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=(fan_out, fan_in))


def xavier_normal(fan_in, fan_out, rng):
    return np.random.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=(fan_out, fan_in))


def he_normal(fan_in, fan_out, rng):
    rng = np.random.default_rng(rng)
    return rng.normal(0.0, np.sqrt(2.0 / fan_out), size=(fan_out, fan_in))


def he_uniform(fan_in, fan_out, rng):
    raise NotImplementedError()
"""

STDS_WITH_INPUT = """
def activation_stds(X, weights, activation):
    out = [float(np.std(X))]
    h = X
    for W in weights:
        h = activation(h @ W.T)
        out.append(float(np.std(h)))
    return out
"""

ADAM_NO_BIAS = """
def adam_step(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m, v = (np.zeros_like(dw), np.zeros_like(dw)) if state is None else state
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw * dw
    return w - lr * m / (np.sqrt(v) + eps), (m, v)
"""

RMSPROP_EPS_INSIDE = """
def adagrad_step(w, dw, state, lr=0.01, eps=1e-10):
    r = dw * dw if state is None else state + dw * dw
    return w - lr * dw / (np.sqrt(r) + eps), r


def rmsprop_step(w, dw, state, lr=0.01, alpha=0.99, eps=1e-8):
    r = (1 - alpha) * dw * dw if state is None else alpha * state + (1 - alpha) * dw * dw
    return w - lr * dw / np.sqrt(r + eps), r
"""

DROPOUT_EVAL_SCALED = """
def dropout_forward(x, p, train, rng):
    if not train:
        return x * (1 - p), None
    keep = np.random.default_rng(rng).random(x.shape) >= p
    return x * keep / (1 - p), keep / (1 - p)


def dropout_backward(dout, cache):
    return dout if cache is None else dout * cache
"""

L2_BIASES = """
def l2_penalty(params, lam):
    value = sum(lam * float(np.sum(a * a)) for a in params.values())
    return value, {k: 2 * lam * a for k, a in params.items()}


def l1_penalty(params, lam):
    value = sum(lam * float(np.abs(a).sum()) for k, a in params.items() if k.startswith("W"))
    grads = {k: lam * np.sign(a) if k.startswith("W") else np.zeros_like(a)
             for k, a in params.items()}
    return value, grads
"""

BN_UNBIASED = """
def batchnorm_forward(x, gamma, beta, state, train, momentum=0.1, eps=1e-5):
    if train:
        mu, var = x.mean(axis=0), x.var(axis=0, ddof=1)
        state["running_mean"] = (1 - momentum) * state["running_mean"] + momentum * mu
        state["running_var"] = (1 - momentum) * state["running_var"] + momentum * var
    else:
        mu, var = state["running_mean"], state["running_var"]
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mu) * inv_std
    return gamma * x_hat + beta, (x_hat, gamma, inv_std, train)
"""

# lesson -> {answer grade_id: new source}
MISTAKES = {
    "04_init": {"xavier_uniform": HE_FAN_OUT, "activation_stds": STDS_WITH_INPUT},
    "05_optimizers": {"adam_step": ADAM_NO_BIAS, "adagrad_step": RMSPROP_EPS_INSIDE},
    "06_dropout": {"dropout_forward": DROPOUT_EVAL_SCALED, "l2_penalty": L2_BIASES},
    "07_batchnorm": {"batchnorm_forward": BN_UNBIASED},
}

# lesson -> {test cell: phrase its output must contain}
MESSAGES = {
    "04_init": {
        "test_he_normal_statistics": "fan_out where fan_in belongs",
        "test_xavier_normal_statistics": "global random state",
        "test_he_uniform_statistics": "NotImplementedError",
        "test_activation_stds_values": "std of the input X",
    },
    "05_optimizers": {
        "test_adam_step_trajectory": "bias correction is missing",
        "test_rmsprop_step_trajectory": "eps is inside the square root",
    },
    "06_dropout": {
        "test_dropout_forward_statistics": "scaled by 1 − p at evaluation",
        "test_l2_penalty_values": "biases",
    },
    "07_batchnorm": {
        "test_batchnorm_forward_values": "unbiased variance",
        "test_batchnorm_forward_hidden": "unbiased variance",
    },
}


def in_process_score(lesson: str, nb: dict) -> float:
    ns: dict = {"np": np, "nnkit": nnkit}
    for cell in nb["cells"]:
        if nbgrader_meta(cell).get("solution"):
            exec("".join(cell["source"]), ns)
    score = 0.0
    for p in framework.manifest(lesson):
        fn = ns.get(p.function)
        companions = tuple(ns.get(c) for c in framework.SPECS[p.function].companions)
        if callable(fn) and framework._run_part(p, fn, companions)[0]:
            score += p.points
    return score


@pytest.fixture(scope="module")
def graded(fresh_course):
    course, env = fresh_course
    expected = {}
    for lesson, changes in MISTAKES.items():
        nb = read_nb(notebook_path("solutions", lesson))
        for grade_id, source in changes.items():
            nb = replace_answer(nb, grade_id, source)
        submit(course, STUDENT, lesson, nb)
        expected[lesson] = in_process_score(lesson, nb)
    done = nbgrader(["autograde", "*", "--student", STUDENT], course, env)
    grades = read_grades(course, env)
    return {"course": course, "done": done, "grades": grades, "expected": expected}


def test_autograde_exits_cleanly(graded):
    done = graded["done"]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stderr, around_traceback(done.stderr)


@pytest.mark.parametrize("lesson", sorted(MISTAKES))
def test_mistakes_cost_exactly_the_in_process_points(graded, lesson):
    total = sum(p.points for p in framework.manifest(lesson))
    score = graded["grades"][(lesson, STUDENT)]
    assert score == graded["expected"][lesson] < total


@pytest.mark.parametrize("lesson", sorted(MISTAKES))
def test_failing_cells_name_the_mistake_without_leaking(graded, lesson):
    outputs = cell_outputs(graded["course"], STUDENT, lesson)
    for grade_id, phrase in MESSAGES[lesson].items():
        text = output_text(outputs[grade_id])
        assert phrase in text, (grade_id, text[:500])
        assert "check(" not in text and "BEGIN HIDDEN TESTS" not in text
        assert "Traceback" not in text
    for grade_id, outs in outputs.items():
        if str(grade_id).startswith("test_"):
            assert not [o for o in outs if o.get("name") == "stderr"], grade_id

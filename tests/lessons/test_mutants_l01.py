"""Lesson 01: does every plausible wrong answer lose points with the right message, and every
different-but-correct answer get full marks?"""

from __future__ import annotations

import numpy as np
import pytest
from lesson_helpers import assert_correct, assert_wrong, grade

import nnkit

L = "01_neurons"


def _stable_sigmoid(a):
    a = np.asarray(a)
    a = a if a.dtype.kind == "f" else a.astype(float)
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


def _sigmoid_inplace(a):
    a *= -1
    np.exp(a, out=a)
    a += 1
    return 1 / a


def _relu_inplace(a):
    a[a < 0] = 0
    return a


def _tanh_inplace(a):
    return np.tanh(a, out=a)


def _float(a):
    a = np.asarray(a)
    return a if a.dtype.kind == "f" else a.astype(float)


def _sigmoid_both_branches(a):
    a = _float(a)
    return np.where(a >= 0, 1 / (1 + np.exp(-a)), np.exp(a) / (1 + np.exp(a)))


def _tanh_both_branches(a):
    a = _float(a)
    return np.where(
        a >= 0,
        (1 - np.exp(-2 * a)) / (1 + np.exp(-2 * a)),
        (np.exp(2 * a) - 1) / (np.exp(2 * a) + 1),
    )


def _stable_tanh(a):
    a = _float(a)
    e = np.exp(-2 * np.abs(a))
    return np.sign(a) * (1 - e) / (1 + e)


WRONG = [
    ("sigmoid", lambda a: np.exp(a) / (1 + np.exp(a)), "overflows"),
    ("sigmoid", lambda a: 1 / (1 + np.exp(a)), "sign error"),
    ("sigmoid", np.tanh, "tanh(a)"),
    ("sigmoid", _sigmoid_inplace, "in place"),
    ("sigmoid", lambda a: [float(v) for v in np.ravel(_stable_sigmoid(a))], "NumPy array"),
    ("sigmoid", lambda a: _stable_sigmoid(np.asarray(a, dtype=np.float64)), "float32"),
    ("sigmoid", lambda a: 1 / (1 + np.exp(-np.clip(a, -10, 10))), "clipping"),
    # right values after an overflow: 1 / (1 + exp(1000)) = 1 / inf = 0
    ("sigmoid", lambda a: 1 / (1 + np.exp(-_float(a))), "must not overflow"),
    ("sigmoid", _sigmoid_both_branches, "*both* branches"),
    ("sigmoid", lambda a: 1 / (1 + np.exp(-np.clip(_float(a), -500, 500))), "float32 input"),
    ("sigmoid_grad", lambda a: a * (1 - a), "s = σ(a) first"),
    ("sigmoid_grad", _stable_sigmoid, "σ(a) itself"),
    ("sigmoid_grad", lambda a: 1 - _stable_sigmoid(a) ** 2, "tanh's derivative"),
    ("sigmoid_grad", lambda a: -_stable_sigmoid(a) * (1 - _stable_sigmoid(a)), "sign error"),
    ("sigmoid_grad", lambda a: np.exp(-a) / (1 + np.exp(-a)) ** 2, "large negative a"),
    ("sigmoid_grad", lambda a: np.exp(a) / (1 + np.exp(a)) ** 2, "large positive a"),
    ("tanh", lambda a: (np.exp(a) - np.exp(-a)) / (np.exp(a) + np.exp(-a)), "overflows"),
    ("tanh", lambda a: 2 * _stable_sigmoid(a) - 1, "tanh(a/2)"),
    ("tanh", _stable_sigmoid, "the sigmoid"),
    ("tanh", _tanh_inplace, "in place"),
    ("tanh", _tanh_both_branches, "must not overflow"),
    ("tanh", lambda a: np.sinh(a) / np.cosh(a), "np.sinh(a) / np.cosh(a)"),
    ("tanh_grad", lambda a: 1 - _float(a) ** 2, "1 − a²"),
    ("tanh_grad", lambda a: 1 - np.tanh(a), "forgot to square"),
    ("tanh_grad", lambda a: np.tanh(a) * (1 - np.tanh(a)), "s(1 − s)"),
    ("tanh_grad", lambda a: np.tanh(a) ** 2 - 1, "sign error"),
    (
        "tanh_grad",
        lambda a: 2 * _stable_sigmoid(2 * _float(a)) * (1 - _stable_sigmoid(2 * _float(a))),
        "4σ'(2a)",
    ),
    ("relu", lambda a: np.max(a, 0), "along axis 0"),
    ("relu", np.abs, "|a|"),
    ("relu", lambda a: np.minimum(a, 0), "np.minimum"),
    ("relu", lambda a: a > 0, "dtype bool"),
    ("relu", _relu_inplace, "in place"),
    ("relu", lambda a: nnkit.relu_forward(a)[0], "no points"),
    ("relu_grad", lambda a: (a >= 0).astype(a.dtype), "relu_grad(0) = 0"),
    ("relu_grad", lambda a: np.heaviside(a, 0.5), "0.5"),
    ("relu_grad", lambda a: np.maximum(a, 0), "returned relu(a)"),
    ("relu_grad", np.sign, "np.sign"),
    ("relu_grad", lambda a: a > 0, "dtype bool"),
    ("relu_grad", lambda a: nnkit.relu_backward(np.ones_like(a), a), "no points"),
    ("leaky_relu", lambda a, k=0.01: np.where(a > 0, a, 0.01 * a), "ignored the argument k"),
    ("leaky_relu", lambda a, k=0.01: np.where(a > 0, k * a, a), "swapped"),
    ("leaky_relu", lambda a, k=0.01: np.maximum(a, 0), "plain ReLU"),
    ("leaky_relu", lambda a, k=0.01: k * a, "scaled every value"),
    ("leaky_relu", lambda a, k=0.01: np.where(a > 0, a, -k * a), "not −k·a"),
    ("leaky_relu", lambda a, k=0.1: np.where(a > 0, a, k * a), "default must be k=0.01"),
    ("leaky_relu_grad", lambda a, k=0.01: (a > 0).astype(a.dtype), "slope is k, not 0"),
    ("leaky_relu_grad", lambda a, k=0.01: np.where(a > 0, 1.0, 0.01).astype(a.dtype), "ignored"),
    ("leaky_relu_grad", lambda a, k=0.01: np.where(a >= 0, 1.0, k).astype(a.dtype), "a = 0"),
    ("leaky_relu_grad", lambda a, k=0.01: np.where(a > 0, k, 1.0).astype(a.dtype), "swapped"),
    ("leaky_relu_grad", lambda a, k=0.01: np.where(a > 0, 1, k * a).astype(a.dtype), "constant k"),
    ("leaky_relu_grad", lambda a, k=0.01: np.where(a > 0, 1, -k).astype(a.dtype), "not −k"),
    (
        "leaky_relu_grad",
        lambda a, k=0.1: np.where(a > 0, 1, k).astype(a.dtype),
        "default must be k=0.01",
    ),
    ("neuron_forward", lambda X, w, b, g: X @ w + b, "pre-activation"),
    ("neuron_forward", lambda X, w, b, g: g(X @ w), "bias b is missing"),
    ("neuron_forward", lambda X, w, b, g: g(X @ w) + b, "after the activation"),
    ("neuron_forward", lambda X, w, b, g: g(X @ w - b), "sign error"),
    ("neuron_forward", lambda X, w, b, g: g(X.T @ w + b), "raised ValueError"),
    ("neuron_forward", lambda X, w, b, g: g(np.sum(X * w, axis=0) + b), "axis=1"),
    (
        "neuron_forward",
        lambda X, w, b, g: nnkit.layer_forward(X, w[None, :], np.reshape(b, 1), g)[:, 0],
        "no points",
    ),
    ("layer_forward", lambda X, W, b, g: g(X @ W + b), "W.T"),
    ("layer_forward", lambda X, W, b, g: X @ W.T + b, "pre-activation"),
    ("layer_forward", lambda X, W, b, g: g(X @ W.T), "bias b is missing"),
    ("layer_forward", lambda X, W, b, g: g(X @ W.T) + b, "after the activation"),
    ("layer_forward", lambda X, W, b, g: g(X @ W.T + b[:, None]), "wrong axis"),
    (
        "layer_forward",
        lambda X, W, b, g: np.stack([g(X @ W[i] + b[i]) for i in range(len(W))], axis=0),
        "output is transposed",
    ),
    ("layer_forward", lambda X, W, b, g: g(nnkit.linear_forward(X, W, b)[0]), "no points"),
]


@pytest.mark.parametrize(("function", "fn", "phrase"), WRONG, ids=lambda v: str(v)[:30])
def test_wrong_answer_loses_points_with_its_message(function, fn, phrase):
    """Does this plausible mistake fail and get a message naming it?"""
    assert_wrong(function, L, fn, phrase)


def _xor(W, b, w, c):
    return lambda: {
        "W": np.array(W, float),
        "b": np.array(b, float),
        "w": np.array(w, float),
        "c": c,
    }


XOR_WRONG = [
    (_xor([[1, 1], [1, 1]], [0, -1], [1, -1], 0.0), "computes OR"),
    (_xor([[1, -2], [-1, 2]], [0, 0], [1, 0.5], 0.0), "W transposed"),
    (lambda: {"W": np.eye(2), "b": np.zeros(2), "w": np.ones(2)}, "keys"),
    (_xor([[1, 1]], [0, -1], [1, -2], 0.0), "shape"),
    (_xor([[0, 0], [0, 0]], [0, 0], [1, 1], 0.0), "same for every input"),
    (lambda: [[1, 1], [1, 1]], "dict"),
    (_xor([[1, 1], [1, 1]], [0, -1], [1, -2], 1.0), "off by the same amount"),
    (_xor([[1, 1], [1, 1]], [0, -1], [2, -4], 0.0), "scale w"),
]


@pytest.mark.parametrize(("fn", "phrase"), XOR_WRONG)
def test_wrong_xor_params(fn, phrase):
    """Does each wrong XOR network fail with a message that says what it computes?"""
    assert_wrong("xor_params", L, fn, phrase)


CORRECT = [
    ("sigmoid", _stable_sigmoid),
    ("sigmoid", lambda a: np.exp(-np.logaddexp(0, -_float(a)))),
    ("sigmoid", lambda a: 0.5 * (1 + np.tanh(0.5 * _float(a)))),
    ("sigmoid_grad", lambda a: _stable_sigmoid(a) * (1 - _stable_sigmoid(a))),
    ("sigmoid_grad", lambda a: np.exp(-np.abs(_float(a))) / (1 + np.exp(-np.abs(_float(a)))) ** 2),
    ("sigmoid_grad", lambda a: _stable_sigmoid(a) * _stable_sigmoid(-_float(a))),
    ("tanh", lambda a: np.tanh(_float(a))),
    ("tanh", lambda a: 2 * _stable_sigmoid(2 * _float(a)) - 1),
    ("tanh", _stable_tanh),
    ("tanh_grad", lambda a: 1 - np.tanh(_float(a)) ** 2),
    ("tanh_grad", lambda a: 1 / np.cosh(_float(a)) ** 2),
    ("tanh_grad", lambda a: (1 - np.tanh(_float(a))) * (1 + np.tanh(_float(a)))),
    (
        "tanh_grad",
        lambda a: 4 * _stable_sigmoid(2 * _float(a)) * (1 - _stable_sigmoid(2 * _float(a))),
    ),
    ("relu", lambda a: np.maximum(a, 0)),
    ("relu", lambda a: np.where(a > 0, a, 0.0)),
    ("relu", lambda a: a * (a > 0)),
    ("relu", lambda a: np.clip(a, 0, None)),
    ("relu", lambda a: (a + np.abs(a)) / 2),
    ("relu_grad", lambda a: (a > 0).astype(a.dtype)),
    ("relu_grad", lambda a: np.heaviside(a, 0.0).astype(a.dtype)),
    ("relu_grad", lambda a: np.sign(np.maximum(a, 0))),
    ("relu_grad", lambda a: np.ones_like(a) * (a > 0)),
    ("leaky_relu", lambda a, k=0.01: np.where(a > 0, a, k * a)),
    ("leaky_relu", lambda a, k=0.01: np.maximum(a, k * a)),
    ("leaky_relu", lambda a, k=0.01: np.maximum(a, 0) + k * np.minimum(a, 0)),
    ("leaky_relu_grad", lambda a, k=0.01: np.where(a > 0, 1, k).astype(a.dtype)),
    ("leaky_relu_grad", lambda a, k=0.01: ((a > 0) * (1 - k) + k).astype(a.dtype)),
    ("neuron_forward", lambda X, w, b, g: g(X @ w + b)),
    ("neuron_forward", lambda X, w, b, g: g((X * w).sum(axis=1) + b)),
    ("neuron_forward", lambda X, w, b, g: np.array([g(x @ w + b) for x in X])),
    ("layer_forward", lambda X, W, b, g: g(X @ W.T + b)),
    ("layer_forward", lambda X, W, b, g: g(np.einsum("nd,md->nm", X, W) + b)),
    ("layer_forward", lambda X, W, b, g: g((W @ X.T).T + b)),
    (
        "layer_forward",
        lambda X, W, b, g: np.stack([g(X @ W[i] + b[i]) for i in range(len(W))], axis=1),
    ),
    ("xor_params", _xor([[1, 1], [1, 1]], [0, -1], [1, -2], 0.0)),
    ("xor_params", _xor([[1, -1], [-1, 1]], [0, 0], [1, 1], 0.0)),
    ("xor_params", _xor([[1, -1], [-2, 2]], [0, 0], [1, 0.5], 0.0)),
    ("xor_params", lambda: {"W": [[1, 1], [1, 1]], "b": [0, -1], "w": [1, -2], "c": 0}),
]


@pytest.mark.parametrize(("function", "fn"), CORRECT, ids=lambda v: str(v)[:30])
def test_different_correct_answer_gets_full_marks(function, fn):
    """Does this correct (but differently written) answer pass every part?"""
    assert_correct(function, L, fn)


CHEATS = [
    ("relu", lambda a: nnkit.leaky_relu(a, 0.0), "nnkit.leaky_relu"),
    ("relu_grad", lambda a: nnkit.leaky_relu_grad(a, 0.0), "nnkit.leaky_relu_grad"),
    ("leaky_relu", lambda a, k=0.01: nnkit.relu(a) - k * nnkit.relu(-np.asarray(a)), "nnkit.relu"),
    (
        "leaky_relu_grad",
        lambda a, k=0.01: nnkit.relu_grad(a) + k * nnkit.relu_grad(-np.asarray(a)),
        "nnkit.relu_grad",
    ),
]


@pytest.mark.parametrize(("function", "fn", "called"), CHEATS, ids=lambda v: str(v)[:30])
def test_a_relu_from_the_other_activation_earns_nothing(function, fn, called):
    """relu is leaky_relu with slope 0 (and leaky_relu two relus): the other activation's
    reference would do the exercise, so calling it earns nothing, with the usual message."""
    for part, (ok, message) in grade(function, fn).items():
        assert not ok and f"calls {called}" in message, (part, message)

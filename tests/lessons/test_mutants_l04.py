"""Lesson 04: do plausible wrong initialisers and signal diagnostics lose points with the
right message, and do different-but-correct answers get full marks?"""

from __future__ import annotations

import numpy as np
import pytest
from lesson_helpers import assert_correct, assert_wrong, solution_functions

import nnkit

L = "04_init"


def _rng(rng):
    return np.random.default_rng(rng)


WRONG_INITS = [
    # (function, wrong implementation, phrase of the expected message)
    ("he_normal", lambda i, o, r: _rng(r).normal(0, np.sqrt(2 / o), (o, i)), "fan_out"),
    (
        "xavier_normal",
        lambda i, o, r: _rng(r).normal(0, np.sqrt(6 / (i + o)), (o, i)),
        "6 instead of 2",
    ),
    (
        "xavier_uniform",
        lambda i, o, r: _rng(r).uniform(-1, 1, (o, i)) * np.sqrt(2 / (i + o)),
        "normal std was used as the uniform bound",
    ),
    (
        "xavier_uniform",
        lambda i, o, r: _rng(r).normal(0, np.sqrt(2 / (i + o)), (o, i)),
        "normal distribution",
    ),
    (
        "he_uniform",
        lambda i, o, r: _rng(r).uniform(-1, 1, (o, i)) * np.sqrt(2 / i),
        "normal std was used as the uniform bound",
    ),
    (
        "he_normal",
        lambda i, o, r: _rng(r).uniform(-1, 1, (o, i)) * np.sqrt(6 / i),
        "uniform distribution",
    ),
    ("he_normal", lambda i, o, r: _rng(r).normal(0, 2 / i, (o, i)), "variance as the standard"),
    ("he_normal", lambda i, o, r: _rng(r).normal(0, np.sqrt(2 / i), (i, o)), "(fan_out, fan_in)"),
    (
        "xavier_normal",
        lambda i, o, r: np.random.normal(0, np.sqrt(2 / (i + o)), (o, i)),  # noqa: NPY002
        "global random state",
    ),
    (
        "he_uniform",
        lambda i, o, r: _rng(0).uniform(-1, 1, (o, i)) * np.sqrt(6 / i),
        "rng argument is ignored",
    ),
    ("he_normal", lambda i, o, r: _rng(r).normal(0, np.sqrt(1 / i), (o, i)), "LeCun"),
]


@pytest.mark.parametrize(("function", "wrong", "phrase"), WRONG_INITS)
def test_wrong_initialisers_fail_with_their_message(function, wrong, phrase):
    assert_wrong(function, L, wrong, phrase)


def _qr_orth(i, o, r, gain=1.0, power=1):
    q, _ = np.linalg.qr(_rng(r).standard_normal((max(i, o), min(i, o))))
    return gain**power * (q.T if o < i else q)


WRONG_ORTHO = [
    (lambda i, o, r, gain=1.0: _qr_orth(i, o, r, gain, power=2), "gain²"),
    (lambda i, o, r, gain=1.0: _qr_orth(i, o, r, gain, power=0), "gain is missing"),
    (lambda i, o, r, gain=1.0: gain * _rng(r).normal(0, 1 / np.sqrt(i), (o, i)), "not (semi-)"),
    (lambda i, o, r, gain=1.0: gain * np.linalg.qr(_rng(r).standard_normal((o, i)))[0], "shape"),
    (lambda i, o, r, gain=1.0: _qr_orth(i, o, None, gain), "seed"),
]


@pytest.mark.parametrize(("wrong", "phrase"), WRONG_ORTHO)
def test_wrong_orthogonal_fails(wrong, phrase):
    assert_wrong("orthogonal", L, wrong, phrase)


def test_correct_initialisers_other_formulations_pass():
    # uniform via rng.random, normal via standard_normal * std, a Generator passed through
    assert_correct(
        "xavier_uniform", L, lambda i, o, r: np.sqrt(6 / (i + o)) * (2 * _rng(r).random((o, i)) - 1)
    )
    assert_correct("he_normal", L, lambda i, o, r: _rng(r).normal(size=(o, i)) / np.sqrt(i / 2))
    assert_correct(
        "xavier_normal", L, lambda i, o, r: _rng(r).standard_normal((i, o)).T * np.sqrt(2 / (i + o))
    )
    assert_correct(
        "he_uniform",
        L,
        lambda i, o, r: _rng(r).uniform(-np.sqrt(6 / i), np.sqrt(6 / i), size=(o, i)),
    )

    # orthogonal through the SVD instead of QR
    def svd_orth(i, o, r, gain=1.0):
        u, _, vt = np.linalg.svd(_rng(r).standard_normal((o, i)), full_matrices=False)
        return gain * u @ vt

    assert_correct("orthogonal", L, svd_orth)
    ns = solution_functions(L)
    for name in ("xavier_uniform", "xavier_normal", "he_normal", "he_uniform", "orthogonal"):
        assert_correct(name, L, ns[name])


def _stds(X, Ws, act, **kw):
    h, out = X, []
    for W in Ws:
        z = h @ W.T
        h = act(z)
        out.append(float(np.std(z if kw.get("pre") else h, ddof=kw.get("ddof", 0))))
    return [float(np.std(X)), *out] if kw.get("input_too") else out


@pytest.mark.parametrize(
    ("wrong", "phrase"),
    [
        (lambda X, Ws, a: _stds(X, Ws, a, input_too=True), "std of the input"),
        (lambda X, Ws, a: _stds(X, Ws, a, pre=True), "pre-activations"),
        (lambda X, Ws, a: _stds(X, Ws, a, ddof=1), "ddof"),
        (lambda X, Ws, a: _stds(X, [W.T for W in Ws], a), "untransposed"),
    ],
)
def test_wrong_activation_stds_fail(wrong, phrase):
    assert_wrong("activation_stds", L, wrong, phrase)


def test_correct_activation_stds_pass():
    def as_array(X, Ws, act):  # a NumPy array and a sqrt of the mean square deviation
        out, h = [], X
        for W in Ws:
            h = act(np.einsum("nd,md->nm", h, W))
            out.append(np.sqrt(np.mean((h - h.mean()) ** 2)))
        return np.array(out)

    assert_correct("activation_stds", L, as_array)
    assert_correct("activation_stds", L, solution_functions(L)["activation_stds"])


GRADS = {nnkit.tanh: nnkit.tanh_grad, nnkit.relu: nnkit.relu_grad}


def _norms(X, y, Ws, act, *, per_n=True, reverse=False, last_act=False, squared=False):
    hs, zs = [X], []
    for i, W in enumerate(Ws):
        z = hs[-1] @ W.T
        zs.append(z)
        hs.append(act(z) if (i < len(Ws) - 1 or last_act) else z)
    s = hs[-1] - hs[-1].max(1, keepdims=True)
    d = np.exp(s) / np.exp(s).sum(1, keepdims=True)
    d[np.arange(len(y)), y] -= 1
    if per_n:
        d = d / len(y)
    if last_act:
        d = d * GRADS[act](zs[-1])
    out = []
    for i in range(len(Ws) - 1, -1, -1):
        g = d.T @ hs[i]
        out.append(float(np.sum(g**2)) if squared else float(np.linalg.norm(g)))
        if i:
            d = (d @ Ws[i]) * GRADS[act](zs[i - 1])
    return out if reverse else out[::-1]


@pytest.mark.parametrize(
    ("kw", "phrase"),
    [
        ({"per_n": False}, "N times too large"),
        ({"reverse": True}, "wrong order"),
        ({"last_act": True}, "last layer"),
        ({"squared": True}, "squared norms"),
    ],
)
def test_wrong_gradient_norms_fail(kw, phrase):
    assert_wrong("gradient_norms", L, lambda X, y, Ws, a: _norms(X, y, Ws, a, **kw), phrase)


def test_correct_gradient_norms_pass():
    def with_onehot(X, y, Ws, act):  # one-hot matrix, a list of deltas, np.sqrt(np.sum(...))
        Y = np.eye(Ws[-1].shape[0])[y]
        hs, zs = [X], []
        for W in Ws[:-1]:
            zs.append(hs[-1] @ W.T)
            hs.append(act(zs[-1]))
        logits = hs[-1] @ Ws[-1].T
        e = np.exp(logits - logits.max(1, keepdims=True))
        d = (e / e.sum(1, keepdims=True) - Y) / len(y)
        grads = [None] * len(Ws)
        for i in reversed(range(len(Ws))):
            grads[i] = np.sqrt(np.sum((d.T @ hs[i]) ** 2))
            if i:
                d = (d @ Ws[i]) * GRADS[act](zs[i - 1])
        return grads

    assert_correct("gradient_norms", L, with_onehot)
    assert_correct("gradient_norms", L, solution_functions(L)["gradient_norms"])

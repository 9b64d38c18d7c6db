"""Lesson 02: do plausible wrong softmax/loss answers lose points with the right message, and do
different-but-correct answers get full marks?"""

from __future__ import annotations

import numpy as np
import pytest
from lesson_helpers import assert_correct, assert_wrong

L = "02_softmax"


def _f(z):
    z = np.asarray(z)
    return z if z.dtype.kind == "f" else z.astype(float)


def _sm(z, axis=-1):
    z = _f(z)
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _softmax_inplace(z):
    z -= z.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    return z


def _onehot(y, k):
    out = np.zeros((len(y), k))
    out[np.arange(len(y)), y] = 1
    return out


def _log_softmax(z):
    m = z.max(axis=1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))


def _sce(z, y, *, grad_scale=1.0, loss_scale=1.0, sub_onehot=True):
    n = len(y)
    logp = _log_softmax(z)
    loss = -logp[np.arange(n), y].mean() * loss_scale
    d = np.exp(logp)
    if sub_onehot:
        d[np.arange(n), y] -= 1
    return float(loss), grad_scale * d / n


def _sig(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _bce(x, y, *, grad_scale=1.0, loss_scale=1.0):
    loss = np.mean(np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))) * loss_scale
    return float(loss), grad_scale * (_sig(x) - y) / x.shape[0]


def _mm(s, s_c, margin=1.0, *, scale=1.0):
    m = margin + s_c - s
    act = (m > 0).astype(float)
    n = s.shape[0]
    return float(np.mean(np.maximum(m, 0))), -scale * act / n, scale * act / n


def _naive_bce(x, y):
    s = 1 / (1 + np.exp(-x))
    return float(-np.mean(y * np.log(s) + (1 - y) * np.log(1 - s))), (s - y) / x.shape[0]


WRONG = [
    (
        "softmax",
        lambda z: np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True),
        "subtract the maximum",
    ),
    ("softmax", lambda z: _sm(z, axis=0), "axis 0"),
    ("softmax", lambda z: np.exp(z - z.max()) / np.exp(z - z.max()).sum(), "whole array"),
    (
        "softmax",
        lambda z: (
            np.exp(z - z.max(-1, keepdims=True)) / np.exp(z - z.max(-1, keepdims=True)).sum(-1)
        ),
        "keepdims",
    ),
    (
        "softmax",
        lambda z: np.exp(z - z.max()) / np.exp(z - z.max()).sum(axis=-1, keepdims=True),
        "each row's maximum",
    ),
    ("softmax", _softmax_inplace, "in place"),
    ("softmax", lambda z: np.exp(z - z.max(axis=-1, keepdims=True)), "without dividing"),
    ("softmax_jacobian", lambda z: np.outer(_sm(z), _sm(z)) - np.diag(_sm(z)), "sign is flipped"),
    ("softmax_jacobian", lambda z: np.diag(_sm(z) * (1 - _sm(z))), "only the diagonal"),
    ("softmax_jacobian", lambda z: np.diag(_sm(z)), "− s sᵀ term is missing"),
    ("softmax_jacobian", lambda z: -np.outer(_sm(z), _sm(z)), "diag(s) term is missing"),
    ("softmax_jacobian", lambda z: np.diag(_sm(z)) - _sm(z) ** 2, "outer product"),
    ("cross_entropy", lambda p, y: -np.sum(np.log(p[np.arange(len(y)), y])), "summed"),
    ("cross_entropy", lambda p, y: np.mean(np.log(p[np.arange(len(y)), y])), "minus sign"),
    ("cross_entropy", lambda p, y: -np.mean(np.log(p)), "every entry"),
    ("cross_entropy", lambda p, y: -np.mean(np.log(p[:, y])), "probs[:, y]"),
    ("cross_entropy", lambda p, y: -np.mean(np.log(1 - p[np.arange(len(y)), y])), "log(1 − p)"),
    (
        "softmax_cross_entropy",
        lambda z, y: (
            -np.mean(np.log((np.exp(z) / np.exp(z).sum(1, keepdims=True))[np.arange(len(y)), y])),
            (np.exp(z) / np.exp(z).sum(1, keepdims=True) - _onehot(y, z.shape[1])) / len(y),
        ),
        "maximum before np.exp",
    ),
    ("softmax_cross_entropy", lambda z, y: _sce(z, y, grad_scale=len(y)), "N times too large"),
    ("softmax_cross_entropy", lambda z, y: _sce(z, y, grad_scale=-1.0), "wrong sign"),
    ("softmax_cross_entropy", lambda z, y: _sce(z, y, loss_scale=len(y)), "summed"),
    ("softmax_cross_entropy", lambda z, y: _sce(z, y, sub_onehot=False), "subtract 1"),
    (
        "softmax_cross_entropy",
        lambda z, y: (-np.mean(np.log(_sm(z)[np.arange(len(y)), y])), _sce(z, y)[1]),
        "log-sum-exp",
    ),
    ("binary_cross_entropy_with_logits", _naive_bce, "stable form"),
    ("binary_cross_entropy_with_logits", lambda x, y: _bce(x, y, grad_scale=len(x)), "N times"),
    ("binary_cross_entropy_with_logits", lambda x, y: _bce(x, y, grad_scale=-1.0), "wrong sign"),
    ("binary_cross_entropy_with_logits", lambda x, y: _bce(x, y, loss_scale=len(x)), "summed"),
    ("binary_cross_entropy_with_logits", lambda x, y: _bce(x, 1 - y), "swapped"),
    ("max_margin_loss", lambda s, sc, margin=1.0: _mm(s, sc, margin, scale=len(s)), "N times"),
    (
        "max_margin_loss",
        lambda s, sc, margin=1.0: (
            float(np.mean(margin + sc - s)),
            -np.ones_like(s) / len(s),
            np.ones_like(s) / len(s),
        ),
        "max(0, ·) is missing",
    ),
    (
        "max_margin_loss",
        lambda s, sc, margin=1.0: (lambda r: (r[0], r[2], r[1]))(_mm(sc, s, margin)),
        "scores are swapped",
    ),
    (
        "max_margin_loss",
        lambda s, sc, margin=1.0: (lambda r: (r[0], r[2], r[1]))(_mm(s, sc, margin)),
        "ds and ds_c are swapped",
    ),
    ("max_margin_loss", lambda s, sc, margin=1.0: _mm(s, sc, 1.0), "ignored the margin"),
]


@pytest.mark.parametrize(("function", "fn", "phrase"), WRONG, ids=lambda v: str(v)[:30])
def test_wrong_answer_loses_points_with_its_message(function, fn, phrase):
    """Does this plausible mistake fail and get a message naming it?"""
    assert_wrong(function, L, fn, phrase)


def _softmax_logspace(z):
    z = _f(z)
    m = z.max(axis=-1, keepdims=True)
    return np.exp(z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True)))


def _sce_onehot(z, y):
    n, k = z.shape
    logp = _log_softmax(z)
    onehot = np.eye(k)[y]
    return float(-(onehot * logp).sum() / n), (np.exp(logp) - onehot) / n


def _mm_where(s, s_c, margin=1.0):
    m = margin + s_c - s
    active = m > 0
    n = len(s)
    return (
        float(np.where(active, m, 0.0).mean()),
        np.where(active, -1.0 / n, 0.0),
        np.where(active, 1.0 / n, 0.0),
    )


CORRECT = [
    ("softmax", _sm),
    ("softmax", _softmax_logspace),
    ("softmax_jacobian", lambda z: np.diag(_sm(z)) - np.outer(_sm(z), _sm(z))),
    ("softmax_jacobian", lambda z: _sm(z)[:, None] * (np.eye(len(z)) - _sm(z)[None, :])),
    ("cross_entropy", lambda p, y: float(-np.mean(np.log(p[np.arange(len(y)), y])))),
    (
        "cross_entropy",
        lambda p, y: -np.log(np.take_along_axis(p, y[:, None], axis=1)).sum() / len(y),
    ),
    ("softmax_cross_entropy", _sce),
    ("softmax_cross_entropy", _sce_onehot),
    ("binary_cross_entropy_with_logits", _bce),
    (
        "binary_cross_entropy_with_logits",
        lambda x, y: (float(np.mean(np.logaddexp(0, x) - x * y)), (_sig(x) - y) / len(x)),
    ),
    ("max_margin_loss", _mm),
    ("max_margin_loss", _mm_where),
]


@pytest.mark.parametrize(("function", "fn"), CORRECT, ids=lambda v: str(v)[:30])
def test_different_correct_answer_gets_full_marks(function, fn):
    """Does this correct (but differently written) answer pass every part?"""
    assert_correct(function, L, fn)

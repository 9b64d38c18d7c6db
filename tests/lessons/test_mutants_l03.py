"""Lesson 03: do plausible wrong backprop answers lose points with the right message, and do
different-but-correct answers (other cache layouts, other formulations) get full marks?"""

from __future__ import annotations

import numpy as np
import pytest
from lesson_helpers import assert_correct, assert_wrong, solution_functions

import nnkit

L = "03_backprop"


def _lf(x, W, b):
    return x @ W.T + b, (x, W, b)


def _lb(dout, cache, *, dx_t=False, dw_t=False, db="sum", sign=1.0, per_n=False):
    x, W, _b = cache
    n = x.shape[0] if per_n else 1
    dx = dout @ W.T if dx_t else dout @ W
    dW = x.T @ dout if dw_t else dout.T @ x
    dbv = dout.sum(axis=0) if db == "sum" else dout.mean(axis=0)
    return sign * dx, sign * dW / n, sign * dbv / n


def _relu_inplace(x):
    x[x < 0] = 0
    return x, x


def _ng(f, x, h=1e-5, *, scale=1.0, forward=False, restore=True):
    grad = np.zeros(x.shape)
    fx = f(x) if forward else None
    for idx in np.ndindex(*x.shape):
        old = x[idx]
        x[idx] = old + h
        plus = f(x)
        if forward:
            grad[idx] = (plus - fx) / h
        else:
            x[idx] = old - h
            grad[idx] = scale * (plus - f(x)) / (2 * h)
        if restore:
            x[idx] = old
    return grad


def _mlp(
    params,
    X,
    y,
    reg=0.0,
    *,
    reg_grad=2.0,
    mask=True,
    per_n=True,
    bias_reg=False,
    reg_loss=1.0,
    weights=("W1", "W2"),
    bias_mean=False,
):
    W1, b1, W2, b2 = (params[k] for k in ("W1", "b1", "W2", "b2"))
    z1 = X @ W1.T + b1
    h = np.maximum(z1, 0)
    loss, ds = nnkit.softmax_cross_entropy(h @ W2.T + b2, y)
    if not per_n:
        ds = ds * len(y)
    loss += reg_loss * reg * sum(np.sum(params[k] ** 2) for k in weights)
    dh = ds @ W2
    dz1 = dh * (z1 > 0) if mask else dh
    db = (lambda d: d.mean(0)) if bias_mean else (lambda d: d.sum(0))
    grads = {
        "W1": dz1.T @ X + (reg_grad * reg * W1 if "W1" in weights else 0),
        "b1": db(dz1) + (2 * reg * b1 if bias_reg else 0),
        "W2": ds.T @ h + (reg_grad * reg * W2 if "W2" in weights else 0),
        "b2": db(ds) + (2 * reg * b2 if bias_reg else 0),
    }
    if bias_reg:
        loss += reg * (np.sum(b1**2) + np.sum(b2**2))
    return float(loss), grads


def _train(X, y, hidden=64, lr=0.5, epochs=300, batch_size=32, rng=None, *, mode="ok"):
    rng = np.random.default_rng(0 if mode == "fixed" else rng)
    n, d = X.shape
    k = int(y.max()) + 1
    init = np.random if mode == "global" else rng
    params = {
        "W1": init.normal(0.0, np.sqrt(2.0 / d), size=(hidden, d)),
        "b1": np.zeros(hidden),
        "W2": init.normal(0.0, np.sqrt(1.0 / hidden), size=(k, hidden)),
        "b2": np.zeros(k),
    }
    if mode == "zeros":
        params = {key: np.zeros_like(value) for key, value in params.items()}
    step = {"ascent": -lr, "none": 0.0, "tiny": 1e-4}.get(mode, lr)
    for _ in range(epochs if mode != "none" else 1):
        order = rng.permutation(n)
        batches = np.array_split(order, max(1, n // batch_size))
        for idx in batches:
            labels = y[: len(idx)] if mode == "unshuffled_y" else y[idx]
            _, grads = nnkit.mlp_loss(params, X[idx], labels, reg=1e-4)
            for key in params:
                params[key] = params[key] - step * grads[key]
    return params


def _ng_restore_by_arithmetic(f, x, h=1e-5):
    grad = np.zeros(x.shape)
    for idx in np.ndindex(*x.shape):
        x[idx] += h
        plus = f(x)
        x[idx] -= 2 * h
        minus = f(x)
        x[idx] += h  # rounds: not always the original bits
        grad[idx] = (plus - minus) / (2 * h)
    return grad


def _ng_copies(f, x, h=1e-5, *, step=None, rows=False):
    step = h if step is None else step
    grad = np.zeros(x.shape)
    indices = range(x.shape[0]) if rows else np.ndindex(*x.shape)
    for idx in indices:
        xp, xm = x.copy(), x.copy()
        xp[idx] += step
        xm[idx] -= step
        grad[idx] = (f(xp) - f(xm)) / (2 * step)
    return grad


def _ng_backward(f, x, h=1e-5):
    grad = np.zeros(x.shape)
    fx = f(x)
    for idx in np.ndindex(*x.shape):
        xm = x.copy()
        xm[idx] -= h
        grad[idx] = (fx - f(xm)) / h
    return grad


def _ng_nditer(f, x, h=1e-5):
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        idx = it.multi_index
        old = x[idx]
        x[idx] = old + h
        plus = f(x)
        x[idx] = old - h
        minus = f(x)
        x[idx] = old
        grad[idx] = (plus - minus) / (2 * h)
        it.iternext()
    return grad


def _train_rng_as_generator(X, y, hidden=64, lr=0.5, epochs=300, batch_size=32, rng=None):
    W1 = rng.normal(0.0, 1.0, size=(hidden, X.shape[1]))  # fails for an int seed
    return _train(X, y, hidden, lr, epochs, batch_size, rng) | {"W1": W1}


def _lf_dict(x, W, b):
    return np.dot(x, W.T) + b, {"x": x, "W": W}


def _lb_dict(dout, cache):
    return dout @ cache["W"], np.einsum("nm,nd->md", dout, cache["x"]), dout.sum(axis=0)


def _relu_mask_forward(x):
    mask = x > 0
    return x * mask, mask


def _relu_mask_backward(dout, mask):
    return dout * mask


def _mlp_norm(params, X, y, reg=0.0):
    loss, grads = _mlp(params, X, y, 0.0)
    for key in ("W1", "W2"):
        norm = np.linalg.norm(params[key])
        loss += reg * norm
        grads[key] = grads[key] + reg * params[key] / norm
    return loss, grads


WRONG = [
    ("linear_forward", lambda x, W, b: (x @ W + b, (x, W, b)), "transposed"),
    ("linear_forward", lambda x, W, b: (x @ W.T, (x, W, b)), "bias is missing"),
    ("linear_forward", lambda x, W, b: (x @ W.T - b, (x, W, b)), "sign error"),
    ("linear_forward", lambda x, W, b: (W @ x.T + b[:, None], (x, W, b)), "(M, N)"),
    ("linear_forward", lambda x, W, b: x @ W.T + b, "pair (out, cache)"),
    (
        "linear_forward",
        lambda x, W, b: (nnkit.layer_forward(x, W, b, lambda z: z), (x, W, b)),
        "no points",
    ),
    ("linear_backward", lambda d, c: _lb(d, c, dw_t=True), "dW is transposed"),
    ("linear_backward", lambda d, c: _lb(d, c, db="mean"), "db = dout.sum(axis=0)"),
    ("linear_backward", lambda d, c: _lb(d, c, dx_t=True), "dout @ W.T"),
    ("linear_backward", lambda d, c: _lb(d, c, sign=-1.0), "wrong sign"),
    ("linear_backward", lambda d, c: _lb(d, c, per_n=True), "divided by N"),
    ("linear_backward", lambda d, c: (d @ c[1], d.T @ c[0], d.sum(axis=1)), "axis 1"),
    ("linear_backward", lambda d, c: ((d @ c[1]).T, d.T @ c[0], d.sum(0)), "dx is transposed"),
    ("relu_forward", lambda x: (np.max(x, 0), x), "np.max"),
    ("relu_forward", lambda x: (np.abs(x), x), "|x|"),
    ("relu_forward", lambda x: (np.minimum(x, 0), x), "np.minimum"),
    ("relu_forward", lambda x: (x, x), "unchanged"),
    ("relu_forward", _relu_inplace, "in place"),
    ("relu_backward", lambda d, x: d * (x >= 0), "x = 0"),
    ("relu_backward", lambda d, x: (x > 0).astype(float), "returned the mask"),
    ("relu_backward", lambda d, x: d * x, "not dout * x"),
    ("relu_backward", lambda d, x: d, "mask is missing"),
    ("relu_backward", lambda d, x: d * (d > 0), "comes from dout"),
    ("relu_backward", lambda d, x: np.maximum(d, 0), "comes from dout"),
    ("relu_backward", lambda d, x: d * (x < 0), "inverted"),
    ("numerical_gradient", lambda f, x, h=1e-5: _ng(f, x, h, forward=True), "one-sided"),
    ("numerical_gradient", lambda f, x, h=1e-5: _ng(f, x, h, scale=2.0), "instead of 2h"),
    ("numerical_gradient", lambda f, x, h=1e-5: _ng(f, x, h, scale=-1.0), "sign is flipped"),
    ("numerical_gradient", lambda f, x, h=1e-5: _ng(f, x, h, restore=False), "in place"),
    ("numerical_gradient", _ng_restore_by_arithmetic, "not exactly"),
    (
        "numerical_gradient",
        lambda f, x, h=1e-5: _ng_copies(f, x, step=1e-5),
        "ignored the argument h",
    ),
    ("numerical_gradient", lambda f, x, h=1e-5: _ng_copies(f, x, h, rows=True), "whole row"),
    ("numerical_gradient", lambda f, x, h=1e-5: _ng_copies(f, x, step=h / 2), "x ± h/2"),
    ("numerical_gradient", _ng_backward, "(f(x) − f(x − h)) / h"),
    (
        "numerical_gradient",
        lambda f, x, h=1e-5: np.full(x.shape, (f(x + h) - f(x - h)) / (2 * h)),
        "every entry at once",
    ),
    (
        "numerical_gradient",
        lambda f, x, h=1e-5: np.full(x.shape, _ng(f, x, h).ravel()[0]),
        "first coordinate",
    ),
    ("mlp_loss", lambda p, X, y, reg=0.0: _mlp(p, X, y, reg, reg_grad=1.0), "2·reg·W"),
    ("mlp_loss", lambda p, X, y, reg=0.0: _mlp(p, X, y, reg, reg_grad=0.0), "gradients do not"),
    ("mlp_loss", lambda p, X, y, reg=0.0: _mlp(p, X, y, reg, bias_reg=True), "biases"),
    ("mlp_loss", lambda p, X, y, reg=0.0: _mlp(p, X, y, reg, mask=False), "through the ReLU"),
    ("mlp_loss", lambda p, X, y, reg=0.0: _mlp(p, X, y, reg, per_n=False), "N times too large"),
    ("mlp_loss", lambda p, X, y, reg=0.0: nnkit.mlp_loss(p, X, y, reg=reg), "no points"),
    ("mlp_loss", lambda p, X, y, reg=0.0: _mlp(p, X, y, 0.0), "regularisation is missing"),
    (
        "mlp_loss",
        lambda p, X, y, reg=0.0: _mlp(p, X, y, reg, reg_loss=0.5, reg_grad=1.0),
        "½·reg·‖W‖² convention",
    ),
    ("mlp_loss", lambda p, X, y, reg=0.0: _mlp(p, X, y, reg, reg_loss=0.5), "in the loss is ½"),
    ("mlp_loss", lambda p, X, y, reg=0.0: _mlp(p, X, y, reg, weights=("W1",)), "only W1"),
    ("mlp_loss", lambda p, X, y, reg=0.0: _mlp(p, X, y, reg, weights=("W2",)), "only W2"),
    ("mlp_loss", lambda p, X, y, reg=0.0: _mlp(p, X, y, reg / len(y)), "penalty is divided by N"),
    ("mlp_loss", lambda p, X, y, reg=0.0: _mlp(p, X, y, reg, bias_mean=True), "averaged"),
    ("mlp_loss", _mlp_norm, "np.linalg.norm"),
]


@pytest.mark.parametrize(("function", "fn", "phrase"), WRONG, ids=lambda v: str(v)[:30])
def test_wrong_answer_loses_points_with_its_message(function, fn, phrase):
    """Does this plausible mistake fail and get a message naming it?"""
    assert_wrong(function, L, fn, phrase)


def test_backward_is_graded_with_the_students_own_cache_even_if_forward_is_broken():
    """Is linear_backward graded on its own when linear_forward is still a stub?"""

    def stub_forward(x, W, b):
        raise NotImplementedError()

    ns = solution_functions(L)
    assert_correct("linear_backward", L, ns["linear_backward"], companions=(stub_forward,))


TRAIN_WRONG = [
    (lambda X, y, **kw: _train(X, y, **kw, mode="none"), "chance level"),
    (lambda X, y, **kw: _train(X, y, **kw, mode="ascent"), "training accuracy"),
    (lambda X, y, **kw: _train(X, y, **kw, mode="tiny"), "training accuracy"),
    (lambda X, y, **kw: _train(X, y, **kw, mode="global"), "same rng"),
    (lambda X, y, **kw: _train(X, y, **kw, mode="fixed"), "different rng seeds"),
    (lambda X, y, **kw: _train(X, y, **kw, mode="zeros"), "same weights"),
    (lambda X, y, **kw: _train(X, y, **kw, mode="unshuffled_y"), "its own labels"),
    (_train_rng_as_generator, "np.random.default_rng(rng)"),
]


@pytest.mark.parametrize(("fn", "phrase"), TRAIN_WRONG)
def test_wrong_training_loops(fn, phrase):
    """Does a loop that does not learn, or ignores rng, fail the visible training part?"""
    assert_wrong("train_mlp", L, fn, phrase, parts=["accuracy"])


CORRECT = [
    ("linear_forward", _lf, ()),
    ("linear_forward", _lf_dict, ()),
    ("linear_backward", lambda d, c: _lb(d, c), (_lf,)),
    ("linear_backward", _lb_dict, (_lf_dict,)),
    ("linear_backward", lambda d, c: [np.dot(d, c[1]), np.dot(d.T, c[0]), np.sum(d, 0)], (_lf,)),
    ("relu_forward", lambda x: (np.maximum(x, 0), x), ()),
    ("relu_forward", _relu_mask_forward, ()),
    ("relu_backward", lambda d, x: np.where(x > 0, d, 0.0), (lambda x: (np.maximum(x, 0), x),)),
    ("relu_backward", _relu_mask_backward, (_relu_mask_forward,)),
    ("relu_backward", lambda d, out: d * (out > 0), (lambda x: (np.maximum(x, 0),) * 2,)),
    ("relu_backward", lambda d, x: d * np.heaviside(x, 0.0), (lambda x: (np.maximum(x, 0), x),)),
    ("numerical_gradient", _ng, ()),
    ("numerical_gradient", _ng_nditer, ()),
    ("numerical_gradient", _ng_copies, ()),
    (
        "numerical_gradient",
        lambda f, x, h=1e-5: np.array(
            [
                (f(x + h * e.reshape(x.shape)) - f(x - h * e.reshape(x.shape))) / (2 * h)
                for e in np.eye(x.size)
            ]
        ).reshape(x.shape),
        (),
    ),
    ("mlp_loss", _mlp, ()),
    ("mlp_loss", lambda p, X, y, reg=0.0: solution_functions(L)["mlp_loss"](p, X, y, reg), ()),
    ("train_mlp", _train, ()),
    ("train_mlp", lambda X, y, **kw: solution_functions(L)["train_mlp"](X, y, **kw), ()),
]


@pytest.mark.parametrize(("function", "fn", "companions"), CORRECT, ids=lambda v: str(v)[:30])
def test_different_correct_answer_gets_full_marks(function, fn, companions):
    """Does this correct (but differently written) answer pass every part?"""
    assert_correct(function, L, fn, companions=companions or None)

"""Lesson 03: do plausible wrong backprop answers lose points with the right message, and do
different-but-correct answers (other cache layouts, other formulations) get full marks?"""

from __future__ import annotations

import numpy as np
import pytest
from lesson_helpers import assert_correct, assert_wrong, grade, solution_functions

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


# ------------------------------------------------------------------ messages name the parts


def test_a_transposed_dw_on_a_square_w_is_named_with_the_worked_example_labelled():
    """dW = x.T @ dout on the square worked example: the message says dW (not output[1]),
    names the mistake, and labels the inputs and the returned values."""
    message = grade("linear_backward", lambda d, c: _lb(d, c, dw_t=True), (_lf,))["values"][1]
    assert message.startswith('On the case "small example": dW (the 2nd value returned) differs')
    assert "This looks like: dW is transposed" in message
    assert "% of the largest expected value" in message
    for label in ("x = [[", "W = [[", "b = [", "dout = [[", "expected:", "yours:", "db = ["):
        assert label in message, (label, message)
    assert "output[" not in message


def test_two_mistakes_at_once_are_both_named():
    """dx with W.T and a transposed dW together: each part gets its own diagnosis."""
    both = lambda d, c: _lb(d, c, dx_t=True, dw_t=True)  # noqa: E731
    message = grade("linear_backward", both, (_lf,))["values"][1]
    assert "This looks like several mistakes at once" in message, message
    assert "dout @ W.T multiplies by the transpose" in message
    assert "dW is transposed" in message
    one = grade("linear_backward", lambda d, c: _lb(d, c, dw_t=True, db="mean"), (_lf,))
    assert "dW is transposed" in one["values"][1] and "db = dout.sum(axis=0)" in one["values"][1]


def _ng_alias(f, x, h=1e-5, *, restore="old"):
    """xp = x and xm = x are the same array as x: the perturbations interfere."""
    grad = np.zeros(x.shape)
    for idx in np.ndindex(*x.shape):
        xp = x
        xm = x
        old = x[idx]
        if restore == "old":  # both set before f is called: f(x − h) twice
            xp[idx] = old + h
            xm[idx] = old - h
            grad[idx] = (f(xp) - f(xm)) / (2 * h)
            x[idx] = old
        else:  # += then -=: the minus side is evaluated at x itself
            xp[idx] += h
            plus = f(xp)
            xm[idx] -= h
            grad[idx] = (plus - f(xm)) / (2 * h)
    return grad


def _ng_len(f, x, h=1e-5):
    """range(len(x)) with flat indices: only the first len(x) entries of a 2-D x."""
    grad = np.zeros(x.shape)
    for i in range(len(x)):
        xp, xm = x.copy(), x.copy()
        xp.flat[i] += h
        xm.flat[i] -= h
        grad.flat[i] = (f(xp) - f(xm)) / (2 * h)
    return grad


def _ng_alias_plus_only(f, x, h=1e-5):
    """xp = x perturbed and never put back; xm a copy of the perturbed x."""
    grad = np.zeros(x.shape)
    for idx in np.ndindex(*x.shape):
        xp = x
        xp[idx] += h
        xm = xp.copy()
        xm[idx] -= 2 * h
        grad[idx] = (f(xp) - f(xm)) / (2 * h)
    return grad


@pytest.mark.parametrize(
    ("fn", "phrase"),
    [
        (_ng_alias, "`xp = x` does not copy: xp, xm and x are one array"),
        (lambda f, x, h=1e-5: _ng_alias(f, x, h, restore="arith"), "half a one-sided difference"),
        (_ng_len, "len(x) is the number of rows"),
        (_ng_alias_plus_only, "`xp = x` is a second name for the same array"),
    ],
)
def test_numerical_gradient_aliasing_and_partial_loops_are_named(fn, phrase):
    assert_wrong("numerical_gradient", L, fn, phrase, part="values")


@pytest.mark.parametrize(
    ("fn", "values_hint"),
    [
        (lambda p, X, y, reg=0.0: _mlp(p, X, y, reg, reg_grad=1.0), "2·reg·W"),
        (lambda p, X, y, reg=0.0: _mlp(p, X, y, reg, mask=False), "through the ReLU"),
        (lambda p, X, y, reg=0.0: _mlp(p, X, y, reg, bias_mean=True), "averaged"),
    ],
)
def test_mlp_gradient_check_gives_the_hint_of_the_values_part(fn, values_hint):
    """The gradient part compares grads only; it still names the mistake, with the key."""
    results = grade("mlp_loss", fn)
    hints = {p: m.split("This looks like", 1)[1].splitlines()[0] for p, (_, m) in results.items()}
    assert values_hint in hints["values"]
    assert hints["gradient"] == hints["values"], hints
    assert "grads['" in results["gradient"][1]


# ------------------------------------------------------------------ the order of the samples


def _train_order(kind):
    def train(X, y, hidden=64, lr=0.5, epochs=300, batch_size=32, rng=None):
        rng = np.random.default_rng(rng)
        n, d = X.shape
        k = int(y.max()) + 1
        params = {
            "W1": rng.normal(0.0, np.sqrt(2.0 / d), size=(hidden, d)),
            "b1": np.zeros(hidden),
            "W2": rng.normal(0.0, np.sqrt(1.0 / hidden), size=(k, hidden)),
            "b2": np.zeros(k),
        }
        index = np.arange(n)
        once = rng.permutation(n) if kind == "once" else None
        for _ in range(epochs):
            order = {
                "once": once,
                "never": index,
                "shuffle": index,
                "unused": index,
                "permutation": None,
            }.get(kind)
            if kind in ("unused", "permutation"):
                drawn = rng.permutation(n)
                order = drawn if kind == "permutation" else order
            if kind == "shuffle":
                rng.shuffle(index)
            if kind == "argsort":
                order = np.argsort(rng.random(n))
            if kind == "choice":
                order = rng.choice(n, size=n, replace=False)
            if kind == "permuted":
                order = rng.permuted(np.arange(n))
            if kind == "rows":
                perm = rng.permutation(n)
                Xs, ys = X[perm], y[perm]
            for start in range(0, n, batch_size):
                if kind == "integers":
                    idx = rng.integers(0, n, size=batch_size)
                elif kind == "batch_choice":
                    idx = rng.choice(n, size=batch_size, replace=False)
                elif kind == "rows":
                    idx = slice(start, start + batch_size)
                else:
                    idx = order[start : start + batch_size]
                Xb, yb = (Xs[idx], ys[idx]) if kind == "rows" else (X[idx], y[idx])
                _, grads = nnkit.mlp_loss(params, Xb, yb, reg=1e-4)
                for key in params:
                    params[key] = params[key] - lr * grads[key]
        return params

    return train


@pytest.mark.parametrize(
    ("kind", "phrase"),
    [
        ("once", "shuffled once, before the first epoch"),
        ("never", "the same order in every epoch (no shuffling)"),
        ("unused", "a random order is drawn from rng but training does not depend on it"),
        ("integers", "drawn at random with rng.integers(...)"),
        ("batch_choice", "drawn at random with rng.choice(...)"),
    ],
)
@pytest.mark.parametrize("part", ["accuracy", "hidden"])
def test_the_order_of_the_samples_must_be_new_each_epoch(kind, phrase, part):
    """The docstring promises a new random order in each epoch: shuffling once, never, with
    an unused permutation, or drawing independent batches all lose the points."""
    assert_wrong("train_mlp", L, _train_order(kind), phrase, part=part)


@pytest.mark.parametrize(
    "kind", ["permutation", "shuffle", "argsort", "choice", "permuted", "rows"]
)
def test_every_way_of_drawing_a_new_order_each_epoch_passes(kind):
    assert_correct("train_mlp", L, _train_order(kind))


def test_order_mistakes_have_identifiers():
    from autograder import framework

    part = next(p for p in framework.MANIFEST if p.function == "train_mlp" and not p.hidden)
    result = framework.run_part(part, _train_order("once"), ())
    assert (result.ok, result.mistake) == (False, "shuffled once")


# ------------------------------------------------------------------ helpers that do the core


def _mlp_with_references(params, X, y, reg=0.0):
    z1, c1 = nnkit.linear_forward(X, params["W1"], params["b1"])
    h, c2 = nnkit.relu_forward(z1)
    s, c3 = nnkit.linear_forward(h, params["W2"], params["b2"])
    loss, ds = nnkit.softmax_cross_entropy(s, y)
    dh, dW2, db2 = nnkit.linear_backward(ds, c3)
    _, dW1, db1 = nnkit.linear_backward(nnkit.relu_backward(dh, c2), c1)
    loss = loss + reg * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))
    return float(loss), {
        "W1": dW1 + 2 * reg * params["W1"],
        "b1": db1,
        "W2": dW2 + 2 * reg * params["W2"],
        "b2": db2,
    }


def _mlp_with_layers(params, X, y, reg=0.0):
    L_ = nnkit.layers
    first, second = L_.Linear(*params["W1"].shape[::-1]), L_.Linear(*params["W2"].shape[::-1])
    for layer, w, b in ((first, "W1", "b1"), (second, "W2", "b2")):
        layer.params["W"][...] = params[w]
        layer.params["b"][...] = params[b]
    model, loss_fn = L_.Sequential(first, L_.ReLU(), second), L_.SoftmaxCrossEntropy()
    loss = loss_fn(model(X), y)
    model.backward(loss_fn.backward())
    grads = {"W1": first.grads["W"], "b1": first.grads["b"]}
    grads |= {"W2": second.grads["W"], "b2": second.grads["b"]}
    for key in ("W1", "W2"):
        loss += reg * np.sum(params[key] ** 2)
        grads[key] = grads[key] + 2 * reg * params[key]
    return float(loss), grads


def _train_with_fit(X, y, hidden=64, lr=0.5, epochs=300, batch_size=32, rng=None):
    rng = np.random.default_rng(rng)
    first, second = nnkit.Linear(X.shape[1], hidden, rng=rng), nnkit.Linear(hidden, 3, rng=rng)
    model = nnkit.Sequential(first, nnkit.ReLU(), second)
    optimizer = nnkit.SGD(model.parameters(), lr=lr)
    loss_fn = nnkit.SoftmaxCrossEntropy()
    nnkit.fit(model, loss_fn, optimizer, X, y, epochs, batch_size, rng=rng, progress=False)
    return {"W1": first.params["W"], "b1": first.params["b"]} | {
        "W2": second.params["W"],
        "b2": second.params["b"],
    }


CHEATS = [
    ("relu_forward", lambda x: (nnkit.leaky_relu(x, 0.0), x), "nnkit.leaky_relu"),
    (
        "relu_forward",
        lambda x: (nnkit.functional.leaky_relu_forward(x, 0.0)[0], x),
        "nnkit.leaky_relu",
    ),
    ("relu_backward", lambda d, x: d * nnkit.leaky_relu_grad(x, 0.0), "nnkit.leaky_relu_grad"),
    ("mlp_loss", _mlp_with_references, "nnkit.linear_forward"),
    ("mlp_loss", _mlp_with_layers, "nnkit.linear_forward"),
    ("train_mlp", _train_with_fit, "nnkit.iterate_minibatches"),
]


@pytest.mark.parametrize(("function", "fn", "called"), CHEATS, ids=lambda v: str(v)[:30])
def test_nnkit_helpers_that_do_the_exercise_earn_nothing(function, fn, called):
    """An answer that lets nnkit do its core (a leaky ReLU with slope 0, the layers'
    references or classes, nnkit.fit's shuffled mini-batches) is told so and earns nothing."""
    companions = (lambda x: (np.maximum(x, 0), x),) if function == "relu_backward" else None
    results = grade(function, fn, companions or ())
    for part, (ok, message) in results.items():
        assert not ok and f"calls {called}" in message, (part, message)

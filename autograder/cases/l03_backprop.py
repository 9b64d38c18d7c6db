"""Lesson 03_backprop: linear and ReLU layers, numerical gradients, the MLP loss, training."""

from __future__ import annotations

import numpy as np

from ..diagnose import Mistake
from ..framework import (
    Case,
    FunctionSpec,
    Part,
    _PartFailed,
    allow_references,
    call_reference,
    reference,
    register,
)

LESSON = "03_backprop"

# -------------------------------------------------------------------------------- linear


def _linear_forward_cases(rng, hidden=False):
    if hidden:
        return [
            Case(
                "hidden batch",
                (rng.normal(size=(7, 4)), rng.normal(size=(3, 4)), rng.normal(size=3)),
            ),
            Case(
                "hidden square",
                (rng.normal(size=(5, 5)), rng.normal(size=(5, 5)), rng.normal(size=5)),
            ),
            Case(
                "hidden one sample",
                (rng.normal(size=(1, 6)), rng.normal(size=(2, 6)), rng.normal(size=2)),
            ),
        ]
    return [
        Case(
            "small example",
            (
                np.array([[1.0, 2.0]]),
                np.array([[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]]),
                np.array([0.0, 0.5, 1.0]),
            ),
            show=True,
        ),
        Case(
            "x (4, 3), W (2, 3)",
            (rng.normal(size=(4, 3)), rng.normal(size=(2, 3)), rng.normal(size=2)),
        ),
        Case(
            "square W (3, 3)",
            (rng.normal(size=(4, 3)), rng.normal(size=(3, 3)), rng.normal(size=3)),
        ),
        Case(
            "float32",
            tuple(
                a.astype(np.float32)
                for a in (rng.normal(size=(3, 2)), rng.normal(size=(4, 2)), rng.normal(size=4))
            ),
        ),
    ]


LINEAR_FORWARD_MISTAKES = [
    Mistake(
        "transposed W",
        lambda x, W, b: x @ W + b,
        "W is used transposed: W has shape (M, D), so out = x @ W.T + b.",
    ),
    Mistake("forgot b", lambda x, W, b: x @ W.T, "the bias is missing: out = x @ W.T + b."),
    Mistake("minus b", lambda x, W, b: x @ W.T - b, "a sign error on the bias: out = x @ W.T + b."),
    Mistake(
        "W @ x.T",
        lambda x, W, b: W @ x.T + b[:, None],
        "you returned (M, N), one column per sample; samples are rows: x @ W.T + b is (N, M).",
    ),
]


def _linear_forward_runner(ctx, fn):
    hidden = ctx.hidden
    for case in _linear_forward_cases(ctx.rng, hidden=hidden):
        ctx.compare_case(
            _first(fn),
            case,
            expected=call_reference(reference("linear_forward"), case.args)[0],
            where=_OUT,
        )


_OUT = "out (the 1st value returned)"


def _first(fn):
    """``fn(...)[0]``, after checking that fn returns a pair (out, cache)."""

    def out_only(*args):
        result = fn(*args)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise TypeError(f"expected a pair (out, cache), got {type(result).__name__}")
        return result[0]

    return out_only


def _backward_through(forward, backward, ref_forward, n_in):
    """A function of (inputs..., dout) that runs the student's forward, then backward.

    If the student's forward fails, the reference forward's cache is used instead, so that
    backward is graded on its own.
    """

    def composite(*args):
        inputs, dout = args[:n_in], args[n_in]
        cache = None
        if callable(forward):
            try:
                cache = forward(*inputs)[1]
            except Exception:
                cache = None
        if cache is None:
            with allow_references():
                cache = ref_forward(*inputs)[1]
        return backward(dout, cache)

    return composite


def _lb_cases(rng, hidden=False):
    def case(label, n, d, m, dtype=float, show=False):
        x, W, b = rng.normal(size=(n, d)), rng.normal(size=(m, d)), rng.normal(size=m)
        dout = rng.normal(size=(n, m))
        return Case(label, tuple(a.astype(dtype) for a in (x, W, b, dout)), show=show)

    if hidden:
        return [
            case("hidden batch", 6, 4, 3),
            case("hidden square", 4, 4, 4),
            case("hidden one sample", 1, 5, 2),
        ]
    return [
        case("small example", 2, 2, 2, show=True),
        case("x (5, 3), W (2, 3)", 5, 3, 2),
        case("square: N = D = M = 3", 3, 3, 3),
        case("one sample", 1, 4, 3),
        case("float32", 4, 3, 2, dtype=np.float32),
    ]


def _lb_ok(x, W, b, dout):
    return dout @ W, dout.T @ x, dout.sum(axis=0)


LINEAR_BACKWARD_MISTAKES = [
    Mistake(
        "dW transposed",
        lambda x, W, b, d: (d @ W, x.T @ d, d.sum(0)),
        "dW is transposed: it must have W's shape (M, D), dW = dout.T @ x.",
    ),
    Mistake(
        "db not summed",
        lambda x, W, b, d: (d @ W, d.T @ x, d.mean(0)),
        "db averages dout over the batch; the bias is used by every sample, so its gradient "
        "is the sum: db = dout.sum(axis=0).",
    ),
    Mistake(
        "dx with W.T",
        lambda x, W, b, d: (d @ W.T, d.T @ x, d.sum(0)),
        "dx = dout @ W (shape (N, D)); dout @ W.T multiplies by the transpose.",
    ),
    Mistake(
        "sign",
        lambda x, W, b, d: (-(d @ W), -(d.T @ x), -d.sum(0)),
        "every gradient has the wrong sign.",
    ),
    Mistake(
        "divided by N",
        lambda x, W, b, d: (d @ W, d.T @ x / len(x), d.sum(0) / len(x)),
        "dW and db are divided by N: dout already is the gradient of the mean loss, so do not "
        "average again.",
    ),
    Mistake(
        "db summed over axis 1",
        lambda x, W, b, d: (d @ W, d.T @ x, d.sum(1)),
        "db is summed over axis 1 (the outputs of each sample); the bias has one entry per "
        "output, used by every sample, so sum over the samples: db = dout.sum(axis=0).",
    ),
    Mistake(
        "dx transposed",
        lambda x, W, b, d: ((d @ W).T, d.T @ x, d.sum(0)),
        "dx is transposed: it must have x's shape (N, D), dx = dout @ W.",
    ),
]


def _lb_runner(ctx, fn, forward=None):
    composite = _backward_through(forward, fn, reference("linear_forward"), 3)
    for case in _lb_cases(ctx.rng, hidden=ctx.hidden):
        ctx.compare_case(composite, case, expected=call_reference(_lb_ok, case.args))


def _lb_gradient(ctx, fn, forward=None):
    """dx, dW, db against centred differences of sum(linear_forward(x, W, b) * dout)."""
    composite = _backward_through(forward, fn, reference("linear_forward"), 3)
    rng = ctx.rng
    x, W, b, dout = (
        rng.normal(size=(3, 4)),
        rng.normal(size=(2, 4)),
        rng.normal(size=2),
        rng.normal(size=(3, 2)),
    )
    ref = reference("linear_forward")

    def f(x_, W_, b_):
        return float(np.sum(ref(x_, W_, b_)[0] * dout))

    grads = []
    for i, arr in enumerate((x, W, b)):
        g = np.zeros_like(arr)
        for idx in np.ndindex(*arr.shape):
            plus = [x.copy(), W.copy(), b.copy()]
            minus = [x.copy(), W.copy(), b.copy()]
            plus[i][idx] += 1e-5
            minus[i][idx] -= 1e-5
            g[idx] = (f(*plus) - f(*minus)) / 2e-5
        grads.append(g)
    ctx.compare_case(
        composite,
        Case("gradients measured numerically", (x, W, b, dout), rtol=1e-6, atol=1e-8),
        expected=tuple(grads),
    )


# -------------------------------------------------------------------------------- relu layer

RELU_FORWARD_MISTAKES = [
    Mistake(
        "np.max", lambda x: np.max(x, 0), "np.max(x, 0) reduces along axis 0; use np.maximum(x, 0)."
    ),
    Mistake("abs", np.abs, "you computed |x|; ReLU sets negative values to 0."),
    Mistake(
        "minimum", lambda x: np.minimum(x, 0), "np.minimum keeps the negative part; use np.maximum."
    ),
    Mistake(
        "identity", lambda x: x, "the output is the input unchanged: negative values must become 0."
    ),
]


def _relu_cases(rng, hidden=False):
    x = rng.normal(size=(4, 5))
    x[0, :2] = 0.0
    if hidden:
        return [
            Case("hidden batch", (rng.normal(size=(6, 3)),)),
            Case("hidden zeros", (np.zeros((2, 2)),)),
        ]
    return [
        Case("small example", (np.array([[-1.0, 0.0, 2.0]]),), show=True),
        Case("random with zeros", (x,)),
        Case("float32", (x.astype(np.float32),)),
    ]


def _relu_forward_runner(ctx, fn):
    for case in _relu_cases(ctx.rng, hidden=ctx.hidden):
        expected = call_reference(reference("relu_forward"), case.args)[0]
        ctx.compare_case(_first(fn), case, expected=expected, where=_OUT)


RELU_BACKWARD_MISTAKES = [
    Mistake(
        "grad at zero",
        lambda x, d: d * (x >= 0),
        "at x = 0 the gradient must be 0 (x > 0, not x >= 0).",
    ),
    Mistake(
        "mask only",
        lambda x, d: (x > 0).astype(float),
        "you returned the mask; multiply it by dout.",
    ),
    Mistake("times x", lambda x, d: d * x, "dx = dout * (x > 0), not dout * x."),
    Mistake(
        "times relu", lambda x, d: d * np.maximum(x, 0), "dx = dout * (x > 0), not dout * relu(x)."
    ),
    Mistake("no mask", lambda x, d: d, "the mask is missing: the gradient is 0 where x <= 0."),
    Mistake(
        "mask from dout",
        lambda x, d: d * (d > 0),
        "the mask comes from dout (dout > 0); it must come from the forward input: "
        "dx = dout * (x > 0), with x from the cache.",
    ),
    Mistake(
        "inverted mask",
        lambda x, d: d * (x < 0),
        "the mask is inverted: the gradient passes where x > 0 and is 0 where x <= 0.",
    ),
]


def _rb_cases(rng, hidden=False):
    def case(label, shape, dtype=float, show=False):
        x = rng.normal(size=shape)
        x.flat[:2] = 0.0
        return Case(label, (x.astype(dtype), rng.normal(size=shape).astype(dtype)), show=show)

    if hidden:
        return [case("hidden batch", (5, 4)), case("hidden one sample", (1, 7))]
    return [
        case("small example", (1, 4), show=True),
        case("random with zeros", (4, 5)),
        case("float32", (3, 3), np.float32),
    ]


def _rb_runner(ctx, fn, forward=None):
    composite = _backward_through(forward, fn, reference("relu_forward"), 1)
    for case in _rb_cases(ctx.rng, hidden=ctx.hidden):
        x, dout = case.args
        ctx.compare_case(composite, case, expected=(dout * (x > 0)).astype(x.dtype))


# ------------------------------------------------------------------------ numerical gradient


def _poly(x):
    return float(np.sum(np.sin(x) * 2.0) + np.sum(x**3) / 3.0)


def _poly_grad(x):
    return 2.0 * np.cos(x) + x**2


def _quad(x):
    return float(0.5 * np.sum(x * x) + 3.0 * x.ravel()[0])


def _quad_grad(x):
    g = x.copy()
    g.ravel()[0] += 3.0
    return g


def _cube(x):
    return float(np.sum(x**3))


def _ng_backward(f, x, h=1e-5):
    g = np.zeros_like(x, dtype=float)
    fx = f(x)
    for idx in np.ndindex(*x.shape):
        xm = x.copy()
        xm[idx] -= h
        g[idx] = (fx - f(xm)) / h
    return g


def _ng_rows(f, x, h=1e-5):
    """Perturbs x[i] (a whole row for 2-D x) at once: a 1-D loop applied to N-D input."""
    g = np.zeros_like(x, dtype=float)
    for i in range(x.shape[0]):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        g[i] = (f(xp) - f(xm)) / (2 * h)
    return g


def _ng_forward(f, x, h=1e-5):
    g = np.zeros_like(x, dtype=float)
    fx = f(x)
    for idx in np.ndindex(*x.shape):
        xp = x.copy()
        xp[idx] += h
        g[idx] = (f(xp) - fx) / h
    return g


def _ng_centred(f, x, h=1e-5, scale=1.0):
    g = np.zeros_like(x, dtype=float)
    for idx in np.ndindex(*x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        g[idx] = scale * (f(xp) - f(xm)) / (2 * h)
    return g


def _ng_first_entries(f, x, h=1e-5):
    """A loop over range(len(x)) of flat indices: only the first len(x) entries."""
    g = np.zeros_like(x, dtype=float)
    for i in range(len(x)):
        xp, xm = x.copy(), x.copy()
        xp.flat[i] += h
        xm.flat[i] -= h
        g.flat[i] = (f(xp) - f(xm)) / (2 * h)
    return g


NUMGRAD_MISTAKES = [
    Mistake(
        "forward difference",
        _ng_forward,
        "a one-sided difference (f(x + h) − f(x)) / h; its error is about h, "
        "a thousand times larger than the centred (f(x + h) − f(x − h)) / 2h.",
    ),
    Mistake(
        "divided by h",
        lambda f, x, h=1e-5: _ng_centred(f, x, h, scale=2.0),
        "the centred difference is divided by h instead of 2h: the result is twice too large.",
    ),
    Mistake(
        "sign",
        lambda f, x, h=1e-5: _ng_centred(f, x, h, scale=-1.0),
        "the sign is flipped: (f(x + h) − f(x − h)) / 2h.",
    ),
    Mistake(
        "first entry only",
        lambda f, x, h=1e-5: np.full(x.shape, _ng_centred(f, x, h).ravel()[0]),
        "every entry equals the derivative along the first coordinate: perturb one entry at a "
        "time (np.nditer or np.ndindex over all entries).",
    ),
    Mistake(
        "ignored h",
        lambda f, x, h=1e-5: _ng_centred(f, x, 1e-5),
        "you ignored the argument h and always used 1e-5: use the step you are given. (For "
        "f(x) = Σ x³ the centred difference with step h is exactly 3x² + h².)",
    ),
    Mistake(
        "half step",
        lambda f, x, h=1e-5: _ng_centred(f, x, h / 2),
        "you evaluated f at x ± h/2 (and divided by h): the course's formula uses x ± h, "
        "(f(x + h) − f(x − h)) / 2h.",
    ),
    Mistake(
        "backward difference",
        _ng_backward,
        "a one-sided difference (f(x) − f(x − h)) / h; its error is about h, "
        "far larger than the centred (f(x + h) − f(x − h)) / 2h.",
    ),
    Mistake(
        "rows perturbed at once",
        _ng_rows,
        "for a 2-D x you perturbed a whole row x[i] at once (a loop over range(len(x))); "
        "perturb one entry at a time: for idx in np.ndindex(x.shape): ... x[idx] ...",
    ),
    Mistake(
        "first len(x) entries only",
        lambda f, x, h=1e-5: (
            _ng_first_entries(f, x, h)
            if np.ndim(x) > 1
            else (_ for _ in ()).throw(ValueError("len(x) is every entry of a 1-D x"))
        ),
        "only the first len(x) entries of the gradient are computed, the others stay 0: for a "
        "2-D x, len(x) is the number of rows, not of entries. Loop over every entry: "
        "for idx in np.ndindex(x.shape) (or range(x.size) with x.flat).",
    ),
    Mistake(
        "xp and xm are x itself",
        lambda f, x, h=1e-5: np.zeros(np.shape(x)),
        "every entry is 0: f was evaluated at the same point on both sides. `xp = x` does not "
        "copy: xp, xm and x are one array, so xm[idx] -= h undoes xp[idx] += h before f is "
        "called. Copy (xp = x.copy(), xm = x.copy()), or save the entry and put it back: "
        "old = x[idx]; x[idx] = old + h; f_plus = f(x); x[idx] = old - h; ...; x[idx] = old.",
    ),
    Mistake(
        "minus side at x",
        lambda f, x, h=1e-5: _ng_forward(f, x, h) / 2,
        "the result is (f(x + h) − f(x)) / 2h, half a one-sided difference: f(x − h) was in "
        "fact evaluated at x. `xm = x` (or `xp = x`) does not copy, so the perturbations of "
        "xp and xm land on the same array and cancel. Copy (xm = x.copy()), or save the entry "
        "and put it back between the two evaluations.",
    ),
    Mistake(
        "all entries at once",
        lambda f, x, h=1e-5: np.full(x.shape, (f(x + h) - f(x - h)) / (2 * h)),
        "you perturbed every entry at once (f(x + h) with a scalar h), which measures the "
        "derivative along the all-ones direction; perturb one entry at a time.",
    ),
]


def _ng_cases(rng, hidden=False):
    if hidden:
        return [
            (Case("hidden matrix", (_poly, rng.normal(size=(3, 3)))), _poly_grad),
            (Case("hidden 3-D", (_quad, rng.normal(size=(2, 2, 2)))), _quad_grad),
            (
                Case("hidden explicit h", (_cube, rng.normal(size=(2, 3))), {"h": 0.25}),
                lambda x: 3 * x**2 + 0.25**2,
            ),
        ]
    return [
        (
            Case("f(x) = sum(2 sin x + x³/3), x of shape (4,)", (_poly, rng.normal(size=4))),
            _poly_grad,
        ),
        (Case("same f, x of shape (3, 2)", (_poly, rng.normal(size=(3, 2)))), _poly_grad),
        (
            Case("f(x) = ½‖x‖² + 3 x₀, x of shape (2, 3)", (_quad, rng.normal(size=(2, 3)))),
            _quad_grad,
        ),
        (Case("explicit h = 1e-4", (_poly, rng.normal(size=3)), {"h": 1e-4}), _poly_grad),
        (
            Case(
                "f(x) = Σ x³ with h = 0.5 (the centred difference is exactly 3x² + h²)",
                (_cube, rng.normal(size=5)),
                {"h": 0.5},
            ),
            lambda x: 3 * x**2 + 0.5**2,
        ),
    ]


_RESTORE_X = np.linspace(-2.0, 2.0, 12).reshape(3, 4) + 0.1234567


def _ng_restores(ctx, fn) -> None:
    """x must come back exactly; say precisely how it does not (instead of 'changed in place')."""

    def x_afterwards(f, x0):
        x = x0.copy()
        fn(f, x)
        return x

    after = ctx.call(x_afterwards, (_poly, _RESTORE_X), label="x restored", arg_names=("f", "x"))
    if not isinstance(after, np.ndarray) or np.array_equal(after, _RESTORE_X):
        return
    with np.errstate(all="ignore"):
        close = after.shape == _RESTORE_X.shape and np.allclose(after, _RESTORE_X, atol=1e-10)
    if close:
        ctx.fail(
            "Your numerical_gradient leaves x almost, but not exactly, as it was: undoing a "
            "perturbation by arithmetic (x[i] += h; x[i] -= 2 * h; x[i] += h) rounds, so some "
            "entries end up one bit off. Save the value and put it back: old = x[idx]; "
            "x[idx] = old + h; ...; x[idx] = old - h; ...; x[idx] = old.",
            mistake="x restored by arithmetic",
        )
    ctx.fail(
        "Your numerical_gradient leaves x changed in place: after evaluating f at x ± h, put the "
        "original value back (old = x[idx]; ...; x[idx] = old), or perturb a copy of x "
        "(xp = x.copy(): `xp = x` is a second name for the same array, not a copy).",
        mistake="x not restored",
    )


def _ng_runner(ctx, fn):
    _ng_restores(ctx, fn)
    for case, analytic in _ng_cases(ctx.rng, hidden=ctx.hidden):
        x = case.args[1]
        expected = analytic(x)
        tol = Case(
            case.label,
            case.args,
            case.kwargs,
            rtol=1e-6,
            atol=1e-7 if "h" not in case.kwargs else 1e-5,
        )
        ctx.compare_case(fn, tol, expected=expected)


# -------------------------------------------------------------------------------- MLP loss


def _mlp_parts(params, X, y):
    W1, b1, W2, b2 = (params[k] for k in ("W1", "b1", "W2", "b2"))
    z1 = X @ W1.T + b1
    h = np.maximum(z1, 0)
    s = h @ W2.T + b2
    s = s - s.max(axis=1, keepdims=True)
    logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
    n = len(y)
    ds = np.exp(logp)
    ds[np.arange(n), y] -= 1
    ds /= n
    return z1, h, -logp[np.arange(n), y].mean(), ds


def _mlp_variant(
    params,
    X,
    y,
    reg=0.0,
    *,
    reg_grad=2.0,
    reg_bias=False,
    mask=True,
    per_n=True,
    t=False,
    reg_loss=1.0,
    weights=("W1", "W2"),
    bias_mean=False,
):
    W2 = params["W2"]
    z1, h, loss, ds = _mlp_parts(params, X, y)
    if not per_n:
        ds = ds * len(y)
    loss = loss + reg_loss * reg * sum(np.sum(params[k] ** 2) for k in weights)
    if reg_bias:
        loss = loss + reg * (np.sum(params["b1"] ** 2) + np.sum(params["b2"] ** 2))
    dW2 = (h.T @ ds) if t else (ds.T @ h)
    db2 = ds.sum(0)
    dh = ds @ W2
    dz1 = dh * (z1 > 0) if mask else dh
    dW1 = (X.T @ dz1) if t else (dz1.T @ X)
    db1 = dz1.sum(0)
    if bias_mean:
        db1, db2 = dz1.mean(0), ds.mean(0)
    grads = {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
    for k in weights:
        grads[k] = grads[k] + reg_grad * reg * params[k]
    if reg_bias:
        grads["b1"] = grads["b1"] + 2 * reg * params["b1"]
        grads["b2"] = grads["b2"] + 2 * reg * params["b2"]
    return loss, grads


MLP_MISTAKES = [
    Mistake(
        "reg gradient without the 2",
        lambda p, X, y, reg=0.0: _mlp_variant(p, X, y, reg, reg_grad=1.0),
        "the regularisation gradient is reg·W; the derivative of reg·‖W‖² is 2·reg·W.",
    ),
    Mistake(
        "reg missing from the gradients",
        lambda p, X, y, reg=0.0: _mlp_variant(p, X, y, reg, reg_grad=0.0),
        "the loss includes reg·(‖W1‖² + ‖W2‖²) but the gradients do not: add 2·reg·W.",
    ),
    Mistake(
        "biases regularised",
        lambda p, X, y, reg=0.0: _mlp_variant(p, X, y, reg, reg_bias=True),
        "the biases are regularised too; only the weights W1 and W2 are.",
    ),
    Mistake(
        "no ReLU mask",
        lambda p, X, y, reg=0.0: _mlp_variant(p, X, y, reg, mask=False),
        "the backward pass through the ReLU is missing: multiply dh by (z1 > 0).",
    ),
    Mistake(
        "not divided by N",
        lambda p, X, y, reg=0.0: _mlp_variant(p, X, y, reg, per_n=False),
        "the data gradients are N times too large: the loss is a mean over the batch, so "
        "dscores = (softmax − onehot) / N.",
    ),
    Mistake(
        "reg ignored",
        lambda p, X, y, reg=0.0: _mlp_variant(p, X, y, 0.0),
        "the regularisation is missing: with reg > 0 the loss includes "
        "reg·(‖W1‖² + ‖W2‖²) and the weight gradients 2·reg·W.",
    ),
    Mistake(
        "½ reg convention",
        lambda p, X, y, reg=0.0: _mlp_variant(p, X, y, reg, reg_loss=0.5, reg_grad=1.0),
        "you used the ½·reg·‖W‖² convention (gradient reg·W); this course's penalty is "
        "reg·(‖W1‖² + ‖W2‖²), with gradient 2·reg·W.",
    ),
    Mistake(
        "½ in the loss only",
        lambda p, X, y, reg=0.0: _mlp_variant(p, X, y, reg, reg_loss=0.5),
        "the penalty in the loss is ½·reg·‖W‖²; this course's is reg·(‖W1‖² + ‖W2‖²) "
        "(your gradients 2·reg·W already belong to it).",
    ),
    Mistake(
        "norm not squared",
        lambda p, X, y, reg=0.0: (
            _mlp_variant(p, X, y, 0.0)[0]
            + reg * (np.linalg.norm(p["W1"]) + np.linalg.norm(p["W2"])),
            {
                k: g + (reg * p[k] / np.linalg.norm(p[k]) if k in ("W1", "W2") else 0)
                for k, g in _mlp_variant(p, X, y, 0.0)[1].items()
            },
        ),
        "the penalty uses the norm ‖W‖ (np.linalg.norm) instead of its square: "
        "reg·(np.sum(W1**2) + np.sum(W2**2)), gradient 2·reg·W.",
    ),
    Mistake(
        "only W1 regularised",
        lambda p, X, y, reg=0.0: _mlp_variant(p, X, y, reg, weights=("W1",)),
        "only W1 is regularised; the penalty covers both weight matrices: reg·(‖W1‖² + ‖W2‖²).",
    ),
    Mistake(
        "only W2 regularised",
        lambda p, X, y, reg=0.0: _mlp_variant(p, X, y, reg, weights=("W2",)),
        "only W2 is regularised; the penalty covers both weight matrices: reg·(‖W1‖² + ‖W2‖²).",
    ),
    Mistake(
        "reg divided by N",
        lambda p, X, y, reg=0.0: _mlp_variant(p, X, y, reg / len(y)),
        "the penalty is divided by N; only the data term is a mean over the batch: "
        "loss = mean cross-entropy + reg·(‖W1‖² + ‖W2‖²).",
    ),
    Mistake(
        "bias gradients averaged",
        lambda p, X, y, reg=0.0: _mlp_variant(p, X, y, reg, bias_mean=True),
        "the bias gradients are averaged over the batch (.mean(axis=0)); dscores already "
        "carries the 1/N of the mean loss, so sum: db = dscores.sum(axis=0).",
    ),
    Mistake(
        "transposed weight gradients",
        lambda p, X, y, reg=0.0: _mlp_variant(p, X, y, reg, t=True),
        "dW1 and dW2 are transposed: each gradient has the shape of its parameter, "
        "e.g. dW2 = dscores.T @ h of shape (K, H).",
    ),
]


def _mlp_case(rng, n, d, h, k, reg, label, show=False):
    params = {
        "W1": rng.normal(0, 0.5, size=(h, d)),
        "b1": rng.normal(0, 0.1, size=h),
        "W2": rng.normal(0, 0.5, size=(k, h)),
        "b2": rng.normal(0, 0.1, size=k),
    }
    X = rng.normal(size=(n, d))
    y = rng.integers(0, k, size=n)
    return Case(label, (params, X, y), {"reg": reg}, show=show)


def _mlp_values(rng):
    return [
        _mlp_case(rng, 5, 3, 4, 3, 0.0, "N = 5, D = 3, H = 4, K = 3, reg = 0"),
        _mlp_case(rng, 6, 2, 5, 3, 0.1, "reg = 0.1"),
        _mlp_case(rng, 4, 4, 4, 4, 0.05, "square shapes D = H = K = 4, reg = 0.05"),
        _mlp_case(rng, 1, 3, 2, 2, 0.0, "one sample"),
    ]


def _mlp_hidden(rng):
    return [
        _mlp_case(rng, 8, 5, 6, 4, 0.01, "hidden batch"),
        _mlp_case(rng, 3, 3, 3, 3, 1.0, "hidden strong reg"),
    ]


def _mlp_gradient(ctx, fn):
    """The student's grads against centred differences of the reference loss."""
    case = _mlp_case(ctx.rng, 4, 3, 5, 3, 0.1, "gradient check")
    params, X, y = case.args
    ref = reference("mlp_loss")
    numeric = {}
    for key, value in params.items():
        g = np.zeros_like(value)
        for idx in np.ndindex(*value.shape):
            plus = {k: v.copy() for k, v in params.items()}
            minus = {k: v.copy() for k, v in params.items()}
            plus[key][idx] += 1e-5
            minus[key][idx] -= 1e-5
            g[idx] = (ref(plus, X, y, reg=0.1)[0] - ref(minus, X, y, reg=0.1)[0]) / 2e-5
        numeric[key] = g

    ctx.compare_case(
        fn,
        Case(
            "grads measured numerically (reg = 0.1)", case.args, case.kwargs, rtol=1e-5, atol=1e-7
        ),
        expected=numeric,
        select=1,
    )


# -------------------------------------------------------------------------------- training


def spirals(n_per_class: int, n_classes: int, rng: np.random.Generator, noise: float = 0.2):
    """The grader's own spiral data set (independent of nnkit.data)."""
    X = np.zeros((n_per_class * n_classes, 2))
    y = np.zeros(n_per_class * n_classes, dtype=int)
    for c in range(n_classes):
        idx = slice(n_per_class * c, n_per_class * (c + 1))
        r = np.linspace(0.0, 1.0, n_per_class)
        t = np.linspace(c * 4.0, (c + 1) * 4.0, n_per_class) + rng.normal(0, noise, n_per_class)
        X[idx] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[idx] = c
    return X, y


def _accuracy(params, X, y) -> float:
    with np.errstate(all="ignore"):
        h = np.maximum(X @ np.asarray(params["W1"]).T + params["b1"], 0)
        scores = h @ np.asarray(params["W2"]).T + params["b2"]
    return float(np.mean(np.argmax(scores, axis=1) == y))


TRAIN_THRESHOLD = 0.9
TRAIN_KWARGS = {"hidden": 64, "lr": 0.5, "epochs": 300, "batch_size": 32}


def _call_train(ctx, fn, X, y, kwargs, **extra):
    """ctx.call, with a precise hint when an int seed is used as a Generator."""
    try:
        return ctx.call(fn, (X, y), kwargs, arg_names=("X", "y"), **extra)
    except _PartFailed as failed:
        if "'int' object has no attribute" in failed.message:
            raise _PartFailed(
                failed.message + "\n    (rng may be an int seed or None, not only a Generator: "
                "start with rng = np.random.default_rng(rng), which accepts all three)",
                "int seed used as a Generator",
            ) from None
        raise


def _identical_hidden_units(params) -> bool:
    W1 = np.asarray(params["W1"], dtype=float)
    with np.errstate(all="ignore"):
        return W1.ndim == 2 and len(W1) > 1 and float(np.max(np.ptp(W1, axis=0))) < 1e-9


class _OrderProbe(np.random.Generator):
    """The ``rng`` given to ``train_mlp`` by the order check: a Generator that serves every
    draw about the ``n`` samples (a permutation, a shuffle, ``n`` sort keys, indices in
    ``[0, n)``) from a stream of its own, and records it; any other draw (the initialisation)
    comes from its own bit generator as usual.

    Two runs with the same ``init_seed`` and different ``order_seed`` start from the same
    weights and differ only in the order of the samples, so the order's effect can be seen.
    ``np.random.default_rng(probe)`` returns the probe itself, as for any Generator.
    """

    def __init__(self, init_seed: int, order_seed: int, n: int):
        super().__init__(np.random.PCG64(init_seed))
        self.n = n
        self.order = np.random.default_rng(order_seed)
        self.log: list[tuple[str, str]] = []  # (kind, method): kind is order / batch / other

    def _sized(self, size) -> int | None:
        if size is None:
            return None
        shape = (size,) if np.ndim(size) == 0 else tuple(size)
        return int(np.prod(shape)) if shape[:1] == (self.n,) else None

    def _note(self, kind: str, method: str) -> None:
        self.log.append((kind, method))

    def permutation(self, x, axis=0):
        count = x if isinstance(x, (int, np.integer)) else np.shape(x)[axis]
        if count != self.n:
            self._note("other", "permutation")
            return super().permutation(x, axis)
        self._note("order", "permutation")
        order = self.order.permutation(self.n)
        return order if isinstance(x, (int, np.integer)) else np.take(x, order, axis=axis)

    def shuffle(self, x, axis=0):
        if len(x) != self.n or axis != 0:
            self._note("other", "shuffle")
            return super().shuffle(x, axis)
        self._note("order", "shuffle")
        order = self.order.permutation(self.n)
        if isinstance(x, np.ndarray):
            x[...] = x[order]
        else:
            x[:] = [x[i] for i in order]
        return None

    def permuted(self, x, *, axis=None, out=None):
        count = np.size(x) if axis is None else np.shape(x)[axis]
        if count != self.n:
            self._note("other", "permuted")
            return super().permuted(x, axis=axis, out=out)
        self._note("order", "permuted")
        return self.order.permuted(x, axis=axis, out=out)

    def choice(self, a, size=None, replace=True, p=None, axis=0, shuffle=True):
        count = a if isinstance(a, (int, np.integer)) else np.shape(a)[axis]
        if count != self.n:
            self._note("other", "choice")
            return super().choice(a, size, replace, p, axis, shuffle)
        whole = not replace and self._sized(size) == self.n
        self._note("order" if whole else "batch", "choice")
        return self.order.choice(a, size, replace, p, axis, shuffle)

    def integers(self, low, high=None, size=None, dtype=np.int64, endpoint=False):
        top = low if high is None else high
        if (high is None or low == 0) and top == self.n and not endpoint and size is not None:
            self._note("batch", "integers")
            return self.order.integers(low, high, size, dtype, endpoint)
        self._note("other", "integers")
        return super().integers(low, high, size, dtype, endpoint)

    def random(self, size=None, dtype=np.float64, out=None):
        if self._sized(size) is not None:  # n sort keys: an argsort order
            self._note("order", "random")
            return self.order.random(size, dtype, out)
        self._note("other", "random")
        return super().random(size, dtype, out)

    def standard_normal(self, size=None, dtype=np.float64, out=None):
        if self._sized(size) is not None:
            self._note("order", "standard_normal")
            return self.order.standard_normal(size, dtype, out)
        self._note("other", "standard_normal")
        return super().standard_normal(size, dtype, out)

    def normal(self, loc=0.0, scale=1.0, size=None):
        if self._sized(size) is not None:
            self._note("order", "normal")
            return self.order.normal(loc, scale, size)
        self._note("other", "normal")
        return super().normal(loc, scale, size)

    def uniform(self, low=0.0, high=1.0, size=None):
        if self._sized(size) is not None:
            self._note("order", "uniform")
            return self.order.uniform(low, high, size)
        self._note("other", "uniform")
        return super().uniform(low, high, size)


ORDER_EPOCHS = 3


def _check_order(ctx, fn, X, y, seed: int) -> None:
    """Each epoch visits every sample once, in a new random order (the docstring's promise):
    run a few epochs with an :class:`_OrderProbe` as rng and look at the draws about the
    samples; then change only the order stream and see whether training notices."""

    def probed(order_seed):
        def run(X_, y_):
            probe = _OrderProbe(seed, order_seed, len(X_))
            params = fn(X_, y_, **dict(TRAIN_KWARGS, epochs=ORDER_EPOCHS, rng=probe))
            return params, list(probe.log)

        return run

    label = f"spirals, {ORDER_EPOCHS} epochs, order of the samples"
    first, log = _call_train(ctx, probed(1), X, y, {}, label=label)
    if not log or not isinstance(first, dict):
        return  # rng was not used through its methods: nothing to observe
    second, _ = _call_train(ctx, probed(2), X, y, {}, label=label)
    keys = ("W1", "b1", "W2", "b2")
    same = isinstance(second, dict) and all(
        np.array_equal(np.asarray(first.get(k)), np.asarray(second.get(k))) for k in keys
    )
    orders = sum(kind == "order" for kind, _ in log)
    batches = sorted({method for kind, method in log if kind == "batch"})
    fix = (
        "Draw a new permutation at the start of every epoch, order = rng.permutation(n), and "
        "take the mini-batches as consecutive slices of it: idx = order[start:start + "
        "batch_size]."
    )
    if batches and orders < ORDER_EPOCHS:
        ctx.fail(
            f'On the case "{label}": the mini-batches are drawn at random with rng.'
            f"{batches[0]}(...), independently of each other, so an epoch repeats some samples "
            "and skips others. An epoch visits every sample exactly once, in a new random "
            f"order. {fix}",
            mistake="batches drawn independently",
        )
    if same and orders == 0:
        ctx.fail(
            f'On the case "{label}": the samples are visited in the same order in every epoch '
            f"(no shuffling): with the spirals sorted by class, each mini-batch then holds a "
            f"single class. {fix}",
            mistake="never shuffled",
        )
    if same:
        ctx.fail(
            f'On the case "{label}": a random order is drawn from rng but training does not '
            "depend on it: the mini-batches do not follow it (e.g. X[start:start + "
            "batch_size] instead of X[order[start:start + batch_size]]). " + fix,
            mistake="order drawn but not used",
        )
    if orders < ORDER_EPOCHS:
        ctx.fail(
            f'On the case "{label}": '
            + (
                "the samples are shuffled once, before the first epoch, and every epoch "
                "then repeats the same order"
                if orders == 1
                else f"only {orders} random orders were drawn in {ORDER_EPOCHS} epochs"
            )
            + "; the docstring asks for a new random order in each epoch. "
            + fix,
            mistake="shuffled once" if orders == 1 else "not reshuffled every epoch",
        )


def _train_runner(seed: int, data_seed: int):
    def run(ctx, fn):
        X, y = spirals(100, 3, np.random.default_rng(data_seed))
        kwargs = dict(TRAIN_KWARGS, rng=seed)
        params = _call_train(ctx, fn, X, y, kwargs, label="spirals")
        if not isinstance(params, dict) or not {"W1", "b1", "W2", "b2"} <= set(params):
            ctx.fail("train_mlp must return the params dict with keys W1, b1, W2, b2.")
        shapes = {"W1": (64, 2), "b1": (64,), "W2": (3, 64), "b2": (3,)}
        for key, shape in shapes.items():
            if np.shape(params[key]) != shape:
                ctx.fail(f"params[{key!r}] has shape {np.shape(params[key])}; expected {shape}.")
        acc = _accuracy(params, X, y)
        if not np.isfinite(acc) or acc < TRAIN_THRESHOLD:
            finite = all(np.all(np.isfinite(np.asarray(v))) for v in params.values())
            mistake = (
                "updates blow up"
                if not finite
                else "identical hidden units"
                if _identical_hidden_units(params)
                else "no learning"
                if acc < 0.45
                else None
            )
            why = (
                "the parameters contain NaN or inf: the learning rate is applied with the "
                "wrong sign, or the updates blow up"
                if not finite
                else "every hidden unit has the same weights (a row of W1 repeated): the "
                "weights were initialised to zeros or to a constant, so all units get the same "
                "gradient and stay identical. Initialise W1 and W2 with small random numbers "
                "from rng (e.g. rng.normal(0, np.sqrt(2 / D), size=(H, D)))"
                if _identical_hidden_units(params)
                else "about chance level (1/3): are the parameters updated at all, with "
                "params[k] -= lr * grads[k], and is each mini-batch X[idx] used with its own "
                "labels y[idx] (one permutation for both)?"
                if acc < 0.45
                else "training makes progress but not enough: check that every mini-batch of "
                "every epoch is used and that the update subtracts lr * gradient"
            )
            ctx.fail(
                f"after training on the spirals the training accuracy is {acc:.0%}; at least "
                f"{TRAIN_THRESHOLD:.0%} is needed. Likely: {why}"
                + ("" if why.endswith("?") else "."),
                mistake=mistake,
            )
        again = _call_train(ctx, fn, X, y, kwargs, label="spirals, same rng", global_seed=7)
        same = isinstance(again, dict) and all(
            np.array_equal(np.asarray(params[k]), np.asarray(again.get(k))) for k in shapes
        )
        if not same:
            ctx.fail(
                "two runs with the same rng gave different parameters: all randomness "
                "(initialisation, shuffling) must come from the rng argument "
                "(rng = np.random.default_rng(rng)), never from np.random.* directly.",
                mistake="global random state",
            )
        # ... and it must actually come from rng: two seeds, one short epoch each.
        short = dict(TRAIN_KWARGS, epochs=1)
        runs = [
            _call_train(ctx, fn, X, y, dict(short, rng=r), label=f"spirals, rng = {r}")
            for r in (seed + 1, seed + 2)
        ]
        if all(isinstance(r, dict) and "W1" in r for r in runs) and np.array_equal(
            np.asarray(runs[0]["W1"]), np.asarray(runs[1]["W1"])
        ):
            ctx.fail(
                "two runs with different rng seeds gave identical parameters: train_mlp seems "
                "to use a fixed seed of its own. Take all randomness (initialisation, "
                "shuffling) from the rng argument: rng = np.random.default_rng(rng).",
                mistake="fixed seed",
            )
        _check_order(ctx, fn, X, y, seed)

    return run


SPECS = [
    FunctionSpec(
        name="linear_forward",
        concept="linear_forward",
        arg_names=("x", "W", "b"),
        runners={"values": _linear_forward_runner, "hidden": _linear_forward_runner},
        mistakes=LINEAR_FORWARD_MISTAKES,
        # lesson 01's layer_forward(x, W, b, identity) computes the same thing
        forbid=("linear_forward", "linear_backward", "layer_forward", "neuron_forward"),
        output_names=("out", "cache"),
    ),
    FunctionSpec(
        name="linear_backward",
        concept="linear_forward",
        arg_names=("x", "W", "b", "dout"),
        runners={"values": _lb_runner, "gradient": _lb_gradient, "hidden": _lb_runner},
        mistakes=LINEAR_BACKWARD_MISTAKES,
        companions=("linear_forward",),
        forbid=("linear_forward", "linear_backward"),
        output_names=("dx", "dW", "db"),
    ),
    FunctionSpec(
        name="relu_forward",
        concept="relu_forward",
        arg_names=("x",),
        runners={"values": _relu_forward_runner, "hidden": _relu_forward_runner},
        mistakes=RELU_FORWARD_MISTAKES,
        forbid=("relu_forward", "relu_backward", "relu", "leaky_relu"),
        output_names=("out", "cache"),
    ),
    FunctionSpec(
        name="relu_backward",
        concept="relu_forward",
        arg_names=("x", "dout"),
        runners={"values": _rb_runner, "hidden": _rb_runner},
        mistakes=RELU_BACKWARD_MISTAKES,
        companions=("relu_forward",),
        forbid=("relu_forward", "relu_backward", "relu_grad", "leaky_relu_grad"),
    ),
    FunctionSpec(
        name="numerical_gradient",
        concept="numerical_gradient",
        arg_names=("f", "x"),
        runners={"values": _ng_runner, "hidden": _ng_runner},
        mistakes=NUMGRAD_MISTAKES,
    ),
    FunctionSpec(
        name="mlp_loss",
        concept="mlp_loss",
        arg_names=("params", "X", "y"),
        cases={"values": _mlp_values, "hidden": _mlp_hidden},
        runners={"gradient": _mlp_gradient},
        mistakes=MLP_MISTAKES,
        # the exercise is the forward and backward pass through the layers: the layers'
        # references would do it (lesson 02's loss may be reused)
        forbid=(
            "mlp_loss",
            "train_mlp",
            "linear_forward",
            "linear_backward",
            "relu_forward",
            "relu_backward",
            "layer_forward",
            "neuron_forward",
        ),
        output_names=("loss", "grads"),
        rtol=1e-6,
        atol=1e-9,
    ),
    FunctionSpec(
        name="train_mlp",
        concept="train_mlp",
        arg_names=("X", "y"),
        runners={"accuracy": _train_runner(0, 1), "hidden": _train_runner(5, 11)},
        # the answer cell suggests nnkit.mlp_loss; shuffling and batching are the exercise
        # (iterate_minibatches, which nnkit.fit uses, would do them)
        forbid=("train_mlp", "iterate_minibatches"),
    ),
]

_P = Part
MANIFEST = [
    _P(LESSON, "linear_forward", "linear_forward", "values", 1, False, "out = x @ W.T + b"),
    _P(LESSON, "linear_forward", "linear_forward", "hidden", 1, True),
    _P(LESSON, "linear_forward", "linear_backward", "values", 2, False, "dx, dW, db"),
    _P(LESSON, "linear_forward", "linear_backward", "gradient", 1, False, "numerical check"),
    _P(LESSON, "linear_forward", "linear_backward", "hidden", 2, True),
    _P(LESSON, "relu_forward", "relu_forward", "values", 1, False),
    _P(LESSON, "relu_forward", "relu_forward", "hidden", 1, True),
    _P(LESSON, "relu_forward", "relu_backward", "values", 1, False),
    _P(LESSON, "relu_forward", "relu_backward", "hidden", 1, True),
    _P(
        LESSON,
        "numerical_gradient",
        "numerical_gradient",
        "values",
        2,
        False,
        "against exact gradients",
    ),
    _P(LESSON, "numerical_gradient", "numerical_gradient", "hidden", 1, True),
    _P(LESSON, "mlp_loss", "mlp_loss", "values", 2, False, "loss and grads, with and without reg"),
    _P(LESSON, "mlp_loss", "mlp_loss", "gradient", 2, False, "numerical gradient check"),
    _P(LESSON, "mlp_loss", "mlp_loss", "hidden", 2, True),
    _P(
        LESSON,
        "train_mlp",
        "train_mlp",
        "accuracy",
        2,
        False,
        f"≥ {TRAIN_THRESHOLD:.0%} on spirals",
    ),
    _P(LESSON, "train_mlp", "train_mlp", "hidden", 2, True),
]

register(LESSON, SPECS, MANIFEST)

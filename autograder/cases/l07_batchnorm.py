"""Lesson 07_batchnorm: forward pass with running statistics, full and simplified backward."""

from __future__ import annotations

import numpy as np

from ..diagnose import Mistake
from ..framework import Case, FunctionSpec, Part, allow_references, reference, register

LESSON = "07_batchnorm"


def _bn(
    x,
    gamma,
    beta,
    rm,
    rv,
    train,
    momentum=0.1,
    eps=1e-5,
    *,
    unbiased_norm=False,
    biased_running=False,
    reversed_m=False,
    eval_updates=False,
    eval_batch=False,
    eps_out=False,
    no_update=False,
    eval_first=False,
):
    """The grader's forward pass: (out, running_mean, running_var) after the call."""
    n = len(x)
    rm, rv = rm.copy(), rv.copy()
    mu, var = x.mean(0), x.var(0)
    if eval_first and not train:
        rm = (1 - momentum) * rm + momentum * mu
        rv = (1 - momentum) * rv + momentum * x.var(0, ddof=1)
    if train or eval_batch:
        v = x.var(0, ddof=1) if unbiased_norm else var
        xh = (x - mu) / (np.sqrt(v) + eps if eps_out else np.sqrt(v + eps))
    else:
        xh = (x - rm) / (np.sqrt(rv) + eps if eps_out else np.sqrt(rv + eps))
    if (train or eval_updates) and not no_update:
        batch_var = var if biased_running else var * n / (n - 1)
        m = 1 - momentum if reversed_m else momentum
        rm = (1 - m) * rm + m * mu
        rv = (1 - m) * rv + m * batch_var
    return gamma * xh + beta, rm, rv


def _composite(fn):
    """Student forward, returning (out, running_mean, running_var) read from the state dict."""

    def run(x, gamma, beta, rm, rv, train, **kw):
        state = {"running_mean": rm.copy(), "running_var": rv.copy()}
        result = fn(x, gamma, beta, state, train, **kw)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise TypeError(f"expected a pair (out, cache), got {type(result).__name__}")
        return (
            np.asarray(result[0]),
            np.asarray(state["running_mean"]),
            np.asarray(state["running_var"]),
        )

    return run


BN_FORWARD_MISTAKES = [
    Mistake(
        "unbiased norm",
        lambda *a, **k: _bn(*a, **k, unbiased_norm=True),
        "the batch is "
        "normalised with the unbiased variance (ddof=1); normalise with the biased one "
        "(x.var(axis=0)), like torch.",
    ),
    Mistake(
        "eval updates",
        lambda *a, **k: _bn(*a, **k, eval_updates=True),
        "the running statistics were updated in evaluation mode; only training updates them.",
    ),
    Mistake(
        "eval updates first",
        lambda *a, **k: _bn(*a, **k, eval_first=True),
        "the running statistics were updated in evaluation mode (and then used); only "
        "training updates them, evaluation just reads them.",
    ),
    Mistake(
        "biased running",
        lambda *a, **k: _bn(*a, **k, biased_running=True),
        "running_var "
        "is updated with the biased variance; torch uses the unbiased one, var · N / (N − 1).",
    ),
    Mistake(
        "momentum reversed",
        lambda *a, **k: _bn(*a, **k, reversed_m=True),
        "the momentum "
        "convention is reversed: running = (1 − momentum) · running + momentum · batch_stat.",
    ),
    Mistake(
        "eval batch stats",
        lambda *a, **k: _bn(*a, **k, eval_batch=True),
        "evaluation "
        "normalises with the batch statistics; it must use running_mean and running_var.",
    ),
    Mistake(
        "eps outside",
        lambda *a, **k: _bn(*a, **k, eps_out=True),
        "eps is added outside the square root: sqrt(var + eps).",
    ),
    Mistake(
        "no update",
        lambda *a, **k: _bn(*a, **k, no_update=True),
        "the running statistics "
        "in state did not change: update state['running_mean'] and state['running_var'] "
        "(the caller's dict) in training mode.",
    ),
]


def _fw_cases(rng, hidden=False):
    def case(label, n, d, train, show=False, **kw):
        x = rng.normal(2.0, 3.0, size=(n, d))
        gamma, beta = rng.normal(1, 0.3, size=d), rng.normal(size=d)
        rm, rv = rng.normal(size=d), rng.uniform(0.5, 2.0, size=d)
        return Case(label, (x, gamma, beta, rm, rv, train), kw, show=show)

    if hidden:
        return [
            case("hidden train", 6, 4, True, momentum=0.3),
            case("hidden eval", 5, 3, False),
            case("hidden two samples", 2, 3, True),
        ]
    return [
        case("train, N = 4, D = 3", 4, 3, True, show=True),
        case("train, N = 8, D = 5, momentum = 0.2", 8, 5, True, momentum=0.2),
        case("evaluation with running statistics", 6, 3, False),
        case("train, eps = 0.5", 5, 2, True, eps=0.5),
        case("evaluation, eps = 0.5", 5, 2, False, eps=0.5),
    ]


def _fw_runner(ctx, fn):
    comp = _composite(fn)
    for case in _fw_cases(ctx.rng, ctx.hidden):
        ctx.compare_case(comp, case, expected=_bn(*case.args, **case.kwargs))
    # a second training call keeps accumulating into the same state
    rng = ctx.rng
    x1, x2 = rng.normal(size=(5, 3)), rng.normal(1, 2, size=(5, 3))
    g, b = np.ones(3), np.zeros(3)

    def two_steps(a, b_):
        state = {"running_mean": np.zeros(3), "running_var": np.ones(3)}
        fn(a, g, b, state, True)
        fn(b_, g, b, state, True)
        return np.asarray(state["running_mean"]), np.asarray(state["running_var"])

    got_m, got_v = ctx.call(
        two_steps, (x1, x2), label="two training steps on one state", arg_names=("x", "x")
    )
    _, rm, rv = _bn(x1, g, b, np.zeros(3), np.ones(3), True)
    _, rm, rv = _bn(x2, g, b, rm, rv, True)
    if not (np.allclose(got_m, rm) and np.allclose(got_v, rv)):
        ctx.fail(
            'On the case "two training steps on one state": the running statistics do not '
            "accumulate over calls: update the arrays in the state dict you are given."
        )


def _bw_through(forward, backward):
    def run(x, gamma, beta, dout):
        state = {"running_mean": np.zeros(x.shape[1]), "running_var": np.ones(x.shape[1])}
        cache = None
        if callable(forward):
            try:
                cache = forward(x, gamma, beta, state, True)[1]
            except Exception:
                cache = None
        if cache is None:
            with allow_references():
                cache = reference("batchnorm_forward")(x, gamma, beta, state, True)[1]
        return backward(dout, cache)

    return run


def _bw(
    x,
    gamma,
    beta,
    dout,
    *,
    mean_params=False,
    const_stats=False,
    no_gamma=False,
    unbiased=False,
    mean_only=False,
    eps=1e-5,
):
    n = len(x)
    mu = x.mean(0)
    var = x.var(0, ddof=1) if unbiased else x.var(0)
    inv = 1 / np.sqrt(var + eps)
    xh = (x - mu) * inv
    dbeta, dgamma = dout.sum(0), (dout * xh).sum(0)
    dxh = dout if no_gamma else dout * gamma
    if const_stats:
        dx = dxh * inv
    elif mean_only:
        dx = inv * (dxh - dxh.mean(0))
    else:
        dx = inv * (dxh - dxh.mean(0) - xh * (dxh * xh).sum(0) / n)
    if mean_params:
        dgamma, dbeta = dgamma / n, dbeta / n
    return dx, dgamma, dbeta


BN_BACKWARD_MISTAKES = [
    Mistake(
        "constant stats",
        lambda *a: _bw(*a, const_stats=True),
        "dx treats the batch mean "
        "and variance as constants; they depend on x, which adds the two correction terms "
        "(the mean of dx̂ and of dx̂ · x̂).",
    ),
    Mistake(
        "mean path only",
        lambda *a: _bw(*a, mean_only=True),
        "the path through the variance is missing from dx (the term x̂ · mean(dx̂ · x̂)).",
    ),
    Mistake(
        "no gamma",
        lambda *a: _bw(*a, no_gamma=True),
        "gamma is missing from dx: dx̂ = dout · gamma.",
    ),
    Mistake(
        "mean params",
        lambda *a: _bw(*a, mean_params=True),
        "dgamma and dbeta are averaged; they are sums over the batch.",
    ),
    Mistake(
        "unbiased",
        lambda *a: _bw(*a, unbiased=True),
        "the backward pass uses the unbiased "
        "variance; the forward pass normalised with the biased one.",
    ),
]


def _bw_cases(rng, hidden=False):
    def case(label, n, d, show=False):
        return Case(
            label,
            (
                rng.normal(1, 2, size=(n, d)),
                rng.normal(1, 0.5, size=d),
                rng.normal(size=d),
                rng.normal(size=(n, d)),
            ),
            show=show,
        )

    if hidden:
        return [case("hidden", 7, 4), case("hidden two samples", 2, 3)]
    return [
        case("N = 4, D = 3", 4, 3, show=True),
        case("N = 10, D = 5", 10, 5),
        case("two samples", 2, 2),
    ]


def _bw_runner(ctx, fn, forward=None):
    comp = _bw_through(forward, fn)
    for case in _bw_cases(ctx.rng, ctx.hidden):
        ctx.compare_case(comp, case, expected=_bw(*case.args))


def _bw_numeric(ctx, fn, forward=None):
    comp = _bw_through(forward, fn)
    rng = ctx.rng
    x, g, b, dout = (
        rng.normal(size=(5, 3)),
        rng.normal(1, 0.3, size=3),
        rng.normal(size=3),
        rng.normal(size=(5, 3)),
    )

    def f(x_, g_, b_):
        xh = (x_ - x_.mean(0)) / np.sqrt(x_.var(0) + 1e-5)
        return float(np.sum((g_ * xh + b_) * dout))

    grads = []
    for i, arr in enumerate((x, g, b)):
        gr = np.zeros_like(arr)
        for idx in np.ndindex(*arr.shape):
            plus, minus = [x.copy(), g.copy(), b.copy()], [x.copy(), g.copy(), b.copy()]
            plus[i][idx] += 1e-5
            minus[i][idx] -= 1e-5
            gr[idx] = (f(*plus) - f(*minus)) / 2e-5
        grads.append(gr)
    ctx.compare_case(
        comp,
        Case("gradients measured numerically", (x, g, b, dout), rtol=1e-5, atol=1e-7),
        expected=tuple(grads),
    )


_FORBID = ("batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt")

SPECS = [
    FunctionSpec(
        name="batchnorm_forward",
        concept="batchnorm_forward",
        arg_names=("x", "gamma", "beta", "running_mean", "running_var", "train"),
        runners={"values": _fw_runner, "hidden": _fw_runner},
        mistakes=BN_FORWARD_MISTAKES,
        forbid=_FORBID,
        rtol=1e-7,
        atol=1e-10,
    ),
    *[
        FunctionSpec(
            name=name,
            concept="batchnorm_backward",
            arg_names=("x", "gamma", "beta", "dout"),
            runners={"values": _bw_runner, "gradient": _bw_numeric, "hidden": _bw_runner},
            mistakes=BN_BACKWARD_MISTAKES,
            companions=("batchnorm_forward",),
            forbid=_FORBID,
            rtol=1e-6,
            atol=1e-9,
        )
        for name in ("batchnorm_backward", "batchnorm_backward_alt")
    ],
]

_P = Part
MANIFEST = [
    _P(
        LESSON,
        "batchnorm_forward",
        "batchnorm_forward",
        "values",
        3,
        False,
        "train and evaluation, running statistics",
    ),
    _P(LESSON, "batchnorm_forward", "batchnorm_forward", "hidden", 2, True),
    _P(LESSON, "batchnorm_backward", "batchnorm_backward", "values", 2, False),
    _P(LESSON, "batchnorm_backward", "batchnorm_backward", "gradient", 1, False, "numerical check"),
    _P(LESSON, "batchnorm_backward", "batchnorm_backward", "hidden", 1, True),
    _P(LESSON, "batchnorm_backward", "batchnorm_backward_alt", "values", 2, False),
    _P(
        LESSON,
        "batchnorm_backward",
        "batchnorm_backward_alt",
        "gradient",
        1,
        False,
        "numerical check",
    ),
    _P(LESSON, "batchnorm_backward", "batchnorm_backward_alt", "hidden", 1, True),
]

register(LESSON, SPECS, MANIFEST)

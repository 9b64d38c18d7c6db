"""Lesson 07_batchnorm: forward pass with running statistics, full and simplified backward."""

from __future__ import annotations

import numpy as np

from ..diagnose import Mistake
from ..framework import Case, FunctionSpec, Part, allow_references, reference, register
from .l04_init import check_defaults

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
    swap_affine=False,
    no_affine=False,
    eval_no_eps=False,
    no_eps=False,
    features=False,
    running_std=False,
    inverse_bessel=False,
    train_running=False,
):
    """The grader's forward pass: (out, running_mean, running_var) after the call."""
    n = len(x)
    rm, rv = rm.copy(), rv.copy()
    mu, var = x.mean(0), x.var(0)
    if eval_first and not train:
        rm = (1 - momentum) * rm + momentum * mu
        rv = (1 - momentum) * rv + momentum * x.var(0, ddof=1)
    if (train or eval_updates) and not no_update:
        if biased_running:
            batch_var = var
        elif inverse_bessel:
            batch_var = var * (n - 1) / n
        else:
            batch_var = var * n / (n - 1)
        if running_std:
            batch_var = np.sqrt(batch_var)
        m = 1 - momentum if reversed_m else momentum
        new_rm = (1 - m) * rm + m * mu
        new_rv = (1 - m) * rv + m * batch_var
    else:
        new_rm, new_rv = rm, rv
    e = 0.0 if no_eps or (eval_no_eps and not train) else eps
    if train_running and train:
        xh = (x - new_rm) / np.sqrt(new_rv + e)
    elif features and (train or eval_batch):
        xh = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + e)
    elif train or eval_batch:
        v = x.var(0, ddof=1) if unbiased_norm else var
        xh = (x - mu) / (np.sqrt(v) + e if eps_out else np.sqrt(v + e))
    else:
        xh = (x - rm) / (np.sqrt(rv) + e if eps_out else np.sqrt(rv + e))
    if no_affine:
        out = xh
    elif swap_affine:
        out = beta * xh + gamma
    else:
        out = gamma * xh + beta
    return out, new_rm, new_rv


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
    Mistake(
        "gamma and beta swapped",
        lambda *a, **k: _bn(*a, **k, swap_affine=True),
        "gamma and beta are swapped: out = gamma · x̂ + beta (gamma scales, beta shifts).",
    ),
    Mistake(
        "no gamma, beta",
        lambda *a, **k: _bn(*a, **k, no_affine=True),
        "the output is x̂ alone: scale and shift it, out = gamma · x̂ + beta.",
    ),
    Mistake(
        "no eps at evaluation",
        lambda *a, **k: _bn(*a, **k, eval_no_eps=True),
        "eps is missing at evaluation: x̂ = (x − running_mean) / sqrt(running_var + eps).",
    ),
    Mistake(
        "no eps",
        lambda *a, **k: _bn(*a, **k, no_eps=True),
        "eps is missing: x̂ = (x − mean) / sqrt(var + eps).",
    ),
    Mistake(
        "over the features",
        lambda *a, **k: _bn(*a, **k, features=True),
        "each sample is normalised over its features (axis=1, layer norm); batch norm "
        "normalises each feature over the batch: mean and var over axis=0.",
    ),
    Mistake(
        "running std",
        lambda *a, **k: _bn(*a, **k, running_std=True),
        "running_var is updated with a standard deviation; it averages the (unbiased) "
        "variance var · N / (N − 1).",
    ),
    Mistake(
        "inverse Bessel",
        lambda *a, **k: _bn(*a, **k, inverse_bessel=True),
        "running_var uses var · (N − 1) / N; the unbiased variance is var · N / (N − 1).",
    ),
    Mistake(
        "train with running stats",
        lambda *a, **k: _bn(*a, **k, train_running=True),
        "training normalises with the (just updated) running statistics; it normalises "
        "with the batch mean and biased variance, and only evaluation uses the running ones.",
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


# what the forward runner compares: the output and the running statistics left in the state
_FW_PARTS = ("out", "state['running_mean']", "state['running_var']")


def _eval_keeps_state(ctx, comp, case):
    """In evaluation mode the running statistics must come back unchanged, however the
    output is computed: say so before comparing values (the catalogue cannot list every
    way of updating them)."""
    rm, rv = case.args[3], case.args[4]
    out, got_m, got_v = ctx.call(comp, case.args, case.kwargs, label=case.label)
    changed = [
        name
        for name, got, before in (("running_mean", got_m, rm), ("running_var", got_v, rv))
        if np.shape(got) != np.shape(before) or not np.array_equal(got, before)
    ]
    if not changed:
        return
    with np.errstate(all="ignore"):
        batch = _bn(*case.args, **case.kwargs, eval_batch=True)[0]
        ignored = np.shape(out) == batch.shape and np.allclose(out, batch, rtol=1e-6, atol=1e-9)
    what = " and ".join(f"state[{name!r}]" for name in changed)
    if ignored:
        ctx.fail(
            f'On the case "{case.label}": with train=False your batchnorm_forward does what '
            f"training does: it normalises with the batch statistics and updated {what} in "
            "evaluation mode. Branch on train: evaluation normalises with "
            "state['running_mean'] and state['running_var'] and leaves them unchanged.",
            mistake="train flag ignored",
        )
    ctx.fail(
        f'On the case "{case.label}": the running statistics were updated in evaluation mode '
        f"(train=False changed {what}). Evaluation only reads them: normalise with "
        "state['running_mean'] and state['running_var'] as they are, and update them only "
        "when train is True.",
        mistake="eval updates",
    )


def _fw_runner(ctx, fn):
    check_defaults(ctx, fn, {"momentum": 0.1, "eps": 1e-5})
    comp = _composite(fn)
    for case in _fw_cases(ctx.rng, ctx.hidden):
        if not case.args[5]:
            _eval_keeps_state(ctx, comp, case)
        ctx.compare_case(comp, case, expected=_bn(*case.args, **case.kwargs), names=_FW_PARTS)
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
            "accumulate over calls: update the arrays in the state dict you are given.",
            mistake="state not accumulated",
        )


def _bw_through(forward, backward, ctx=None):
    def run(x, gamma, beta, dout):
        state = {"running_mean": np.zeros(x.shape[1]), "running_var": np.ones(x.shape[1])}
        cache = None
        if callable(forward):
            try:
                cache = forward(x, gamma, beta, state, True)[1]
            except Exception:
                cache = None
        if cache is None:
            if ctx is not None:
                ctx.hint(
                    "your batchnorm_forward did not run (or returned no cache), so the "
                    "backward pass was checked with the cache of the course's own forward "
                    "pass; fix batchnorm_forward first"
                )
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
    n_twice=False,
    no_n=False,
    plus_var=False,
    dout_terms=False,
    swap_params=False,
    dgamma_plain=False,
    dgamma_gamma=False,
    no_inv=False,
    dvar_factor=1.0,
    n_minus_1=False,
    no_eps=False,
    mean_term=1.0,
):
    n = len(x)
    mu = x.mean(0)
    var = x.var(0, ddof=1) if unbiased else x.var(0)
    inv = 1 / np.sqrt(var + (0.0 if no_eps else eps))
    xh = (x - mu) * inv
    dbeta, dgamma = dout.sum(0), (dout * xh).sum(0)
    dxh = dout if no_gamma else dout * gamma
    t = dout if dout_terms else dxh  # what the two correction terms are built from
    last = xh * (t * xh).sum(0) / n * (1 / n if n_twice else 1.0) * dvar_factor
    if n_minus_1:
        last = last * n / (n - 1)
    if const_stats:
        dx = dxh * inv
    elif mean_only:
        dx = inv * (dxh - t.mean(0))
    elif no_n:
        dx = inv / n * (dxh - t.sum(0) - xh * (t * xh).sum(0))
    else:
        dx = inv * (dxh - mean_term * t.mean(0) + (last if plus_var else -last))
    if no_inv:
        dx = dx / inv
    if mean_params:
        dgamma, dbeta = dgamma / n, dbeta / n
    if dgamma_plain:
        dgamma = dout.sum(0)
    if dgamma_gamma:
        dgamma = (dxh * xh).sum(0)
    if swap_params:
        dgamma, dbeta = dbeta, dgamma
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
        "mean path missing",
        lambda *a: _bw(*a, mean_term=0.0),
        "the path through the batch mean is missing from dx: dx = dxc stops after the "
        "variance path. The mean μ depends on every x too: dμ = −sum(dxc) over the batch, and "
        "dx = dxc + dμ / N (in the closed form, the − sum(dx̂) term).",
    ),
    Mistake(
        "dmu not divided by N",
        lambda *a: _bw(*a, mean_term=float(len(a[0]))),
        "the path through the batch mean is added without 1/N: μ = sum(x) / N, so "
        "dx = dxc + dμ / N with dμ = −sum(dxc) over the batch.",
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
    Mistake(
        "divided by N twice",
        lambda *a: _bw(*a, n_twice=True),
        "the x̂ · sum(dx̂ · x̂) term is divided by N twice: dx = inv_std / N · (N dx̂ − "
        "sum(dx̂) − x̂ · sum(dx̂ · x̂)).",
    ),
    Mistake(
        "N missing",
        lambda *a: _bw(*a, no_n=True),
        "the factor N in front of dx̂ is missing: dx = inv_std / N · (N dx̂ − sum(dx̂) − "
        "x̂ · sum(dx̂ · x̂)).",
    ),
    Mistake(
        "sign of the variance term",
        lambda *a: _bw(*a, plus_var=True),
        "the x̂ · sum(dx̂ · x̂) term has the wrong sign: it is subtracted.",
    ),
    Mistake(
        "dout in the sums",
        lambda *a: _bw(*a, dout_terms=True),
        "the sums in dx use dout; they use dx̂ = dout · gamma: sum(dx̂) and sum(dx̂ · x̂).",
    ),
    Mistake(
        "dgamma and dbeta swapped",
        lambda *a: _bw(*a, swap_params=True),
        "dgamma and dbeta are swapped: return (dx, dgamma, dbeta) with dgamma = sum(dout · x̂), "
        "dbeta = sum(dout).",
    ),
    Mistake(
        "dgamma without x̂",
        lambda *a: _bw(*a, dgamma_plain=True),
        "dgamma is sum(dout); it is sum(dout · x̂) over the batch.",
    ),
    Mistake(
        "dgamma with gamma",
        lambda *a: _bw(*a, dgamma_gamma=True),
        "dgamma is multiplied by gamma; it is sum(dout · x̂), without gamma.",
    ),
    Mistake(
        "no inv_std",
        lambda *a: _bw(*a, no_inv=True),
        "the factor 1 / sqrt(var + eps) is missing from dx.",
    ),
    Mistake(
        "dvar without 1/2",
        lambda *a: _bw(*a, dvar_factor=2.0),
        "the variance path is twice too large: d sqrt(var + eps) / dvar = 1 / (2 sqrt(var + "
        "eps)), the factor −1/2 in dvar is missing.",
    ),
    Mistake(
        "N − 1 in the variance path",
        lambda *a: _bw(*a, n_minus_1=True),
        "the variance path divides by N − 1; the forward pass used the biased variance "
        "(mean over N), so dvar/dx = 2 (x − mean) / N.",
    ),
    Mistake(
        "no eps",
        lambda *a: _bw(*a, no_eps=True),
        "eps is missing: the backward pass must use the forward's 1 / sqrt(var + eps).",
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
    comp = _bw_through(forward, fn, ctx)
    for case in _bw_cases(ctx.rng, ctx.hidden):
        ctx.compare_case(comp, case, expected=_bw(*case.args))


def _bw_numeric(ctx, fn, forward=None):
    comp = _bw_through(forward, fn, ctx)
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
        # the runner calls fn(x, gamma, beta, state, train) with a state dict built from these
        arg_names=("x", "gamma", "beta", "state['running_mean']", "state['running_var']", "train"),
        runners={"values": _fw_runner, "hidden": _fw_runner},
        mistakes=BN_FORWARD_MISTAKES,
        forbid=_FORBID,
        output_names=("out", "cache"),
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
            output_names=("dx", "dgamma", "dbeta"),
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

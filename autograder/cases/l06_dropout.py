"""Lesson 06_dropout: inverted dropout (graded by statistics and exact relations given the
mask), L2 and L1 penalties on the weights only, early stopping."""

from __future__ import annotations

import numpy as np

from ..diagnose import Mistake
from ..framework import Case, FunctionSpec, Part, allow_references, reference, register
from .l04_init import check_uses_rng

LESSON = "06_dropout"

# ------------------------------------------------------------------------ dropout


def _out(result):
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise TypeError(f"expected a pair (out, cache), got {type(result).__name__}")
    return np.asarray(result[0])


def _close(a, b, rtol=1e-6):
    return a.shape == b.shape and np.allclose(a, b, rtol=rtol, atol=1e-12)


def _check_train(ctx, x, p, out, label, hidden=False):
    """Exact relations given the mask (mask = out != 0) and the keep rate."""
    if out.shape != x.shape:
        ctx.fail(f'On the case "{label}": out must have the shape of x, got {out.shape}.')
    if out.dtype != x.dtype:
        ctx.fail(f'On the case "{label}": out is {out.dtype} for {x.dtype} input; keep the dtype.')
    kept = out != 0
    rtol = 1e-5 if x.dtype == np.float32 else 1e-9
    xs, os = x[kept], out[kept]
    if kept.sum() == 0:
        ctx.fail(f'On the case "{label}": every unit was dropped.')
    if not _close(os, xs / (1 - p), rtol):
        for wrong, message in (
            (xs, "the kept units are not rescaled: inverted dropout divides them by 1 − p"),
            (
                xs * (1 - p),
                "the kept units are multiplied by 1 − p; inverted dropout divides "
                "by 1 − p during training",
            ),
            (
                xs / p,
                "the kept units are divided by p; p is the probability of dropping, so "
                "divide by 1 − p (the keep probability)",
            ),
            (xs * p, "the kept units are multiplied by p; divide by 1 − p"),
        ):
            if _close(os, wrong, rtol):
                ctx.fail(f'On the case "{label}": {message}.')
        ctx.fail(
            f'On the case "{label}": a unit is either dropped (0) or kept and scaled: '
            "out = x * mask / (1 − p); some outputs are neither."
        )
    rate = kept.mean()
    tol = 4 * np.sqrt(p * (1 - p) / x.size) + 1e-12
    if abs(rate - (1 - p)) > tol:
        if abs(rate - p) < tol:
            ctx.fail(
                f'On the case "{label}": about a fraction p of the units survive: p is the '
                "probability of dropping a unit, so keep where rng.random(x.shape) >= p "
                "(keep probability 1 − p)."
            )
        ctx.fail(
            f'On the case "{label}": the fraction of surviving units is not 1 − p.'
            if hidden
            else f'On the case "{label}": {rate:.1%} of the units survive; with p = {p} about '
            f"{1 - p:.0%} should."
        )


def _dropout_runner(ctx, fn):
    rng = ctx.rng
    hidden = ctx.hidden
    settings = [
        (0.3, (200, 150), np.float64),
        (0.5, (300, 100), np.float64),
        (0.8, (100, 100), np.float32),
    ]
    if hidden:
        settings = [(0.25, (120, 250), np.float64), (0.6, (50, 400), np.float64)]
    for k, (p, shape, dtype) in enumerate(settings):
        x = rng.normal(size=shape).astype(dtype)
        x[x == 0] = 1.0
        label = f"train, p = {p}, x of shape {shape}" + (", float32" if dtype == np.float32 else "")
        e_label = f"evaluation, p = {p}"
        if hidden:
            label, e_label = f"hidden case {k + 1}, train", f"hidden case {k + 1}, evaluation"
        out = _out(ctx.call(fn, (x, p, True, 7), label=label))
        _check_train(ctx, x, p, out, label, hidden)
        ev = _out(ctx.call(fn, (x, p, False, 7), label=e_label))
        if not _close(ev, x):
            if _close(ev, x * (1 - p)):
                ctx.fail(
                    f'On the case "{e_label}": the output is scaled by 1 − p at '
                    "evaluation; inverted dropout already rescaled during training, so "
                    "evaluation returns x unchanged."
                )
            if _close(ev, x / (1 - p)):
                ctx.fail(
                    f'On the case "{e_label}": evaluation divides by 1 − p; it must return '
                    "x unchanged."
                )
            if (ev == 0).any():
                ctx.fail(
                    f'On the case "{e_label}": units are dropped at evaluation; with '
                    "train=False return x unchanged."
                )
            ctx.fail(f'On the case "{e_label}": with train=False the output must equal x.')
    x = rng.normal(size=(20, 10))
    zero = _out(ctx.call(fn, (x, 0.0, True, 3), label="train, p = 0"))
    if not _close(zero, x):
        ctx.fail('On the case "train, p = 0": nothing is dropped, so the output must equal x.')
    check_uses_rng(
        ctx, lambda *a: _out(fn(*a)), (x, 0.5, True, 0), {}, "train, same and other seeds", 3
    )


def _dropout_backward_runner(ctx, fn, forward=None):
    rng = ctx.rng
    settings = [(0.3, (40, 30)), (0.6, (25, 20))] if not ctx.hidden else [(0.45, (30, 33))]
    for p, shape in settings:
        x = rng.normal(size=shape)
        x[x == 0] = 1.0
        dout = rng.normal(size=shape)
        for train in (True, False):
            label = f"{'train' if train else 'evaluation'}, p = {p}"
            if ctx.hidden:
                label = f"hidden case, {'train' if train else 'evaluation'}"
            cache, out, ok = None, None, False
            if callable(forward):
                try:
                    out, cache = forward(x, p, train, 5)
                    out = np.asarray(out)
                    ok = out.shape == x.shape
                except Exception:
                    ok = False
            if not ok:
                with allow_references():
                    out, cache = reference("dropout_forward")(x, p, train, 5)
            dx = ctx.call(fn, (dout, cache), label=label, arg_names=("dout", "cache"))
            dx = np.asarray(dx)
            if not train:
                if not _close(dx, dout):
                    ctx.fail(
                        f'On the case "{label}": at evaluation dropout is the identity, '
                        "so dx = dout."
                    )
                continue
            mask = out != 0
            want = dout * mask / (1 - p)
            if _close(dx, want):
                continue
            for wrong, message in (
                (
                    dout,
                    "dx ignores the mask: dropped units pass no gradient, "
                    "dx = dout * mask / (1 − p)",
                ),
                (
                    dout * mask,
                    "dx is not scaled: dx = dout * mask / (1 − p), the same scaling "
                    "as the forward pass",
                ),
                (dout / (1 - p), "dx ignores the mask (only scaled): dx = dout * mask / (1 − p)"),
                (dout * mask * (1 - p), "dx is multiplied by 1 − p; divide"),
                (
                    dout * ~mask / (1 - p),
                    "the mask is inverted: gradients flow through the kept units",
                ),
            ):
                if _close(dx, wrong):
                    ctx.fail(f'On the case "{label}": {message}.')
            ctx.fail(
                f'On the case "{label}": dx must be dout * mask / (1 − p) with the mask '
                "of the forward pass."
            )


# ------------------------------------------------------------------------ penalties


def _params(rng, zeros=False):
    p = {
        "W1": rng.normal(size=(4, 3)),
        "b1": rng.normal(size=4),
        "W2": rng.normal(size=(2, 4)),
        "b2": rng.normal(size=2),
    }
    if zeros:
        p["W1"][0, :2] = 0.0
        p["W2"][1, 1] = 0.0
    return p


def _pen_cases(rng):
    return [
        Case("W1, b1, W2, b2, lam = 0.1", (_params(rng, True), 0.1)),
        Case("lam = 0.5", (_params(rng, True), 0.5)),
        Case(
            "one weight, one gamma",
            ({"W": np.array([[1.0, -2.0], [0.0, 3.0]]), "gamma": np.ones(2)}, 0.25),
            show=True,
        ),
    ]


def _pen_hidden(rng):
    return [
        Case("hidden penalty check A", (_params(rng, True), 0.03)),
        Case(
            "hidden penalty check B",
            ({"Wa": rng.normal(size=(3, 3)), "bW": rng.normal(size=3)}, 1.0),
        ),
    ]


def _pen(
    params,
    lam,
    *,
    kind="l2",
    bias=False,
    factor=2.0,
    half=False,
    sign0=0.0,
    l2grad=False,
    noabs=False,
    nonweight_missing=False,
):
    value, grads = 0.0, {}
    for k, v in params.items():
        use = k.startswith("W") or bias
        if kind == "l2":
            value += lam * np.sum(v * v) * (0.5 if half else 1.0) if use else 0.0
            grads[k] = factor * lam * v if use else np.zeros_like(v)
        else:
            value += lam * (np.sum(v) if noabs else np.sum(np.abs(v))) if use else 0.0
            s = np.sign(v)
            s[v == 0] = sign0
            grads[k] = (lam * v if l2grad else lam * s) if use else np.zeros_like(v)
        if nonweight_missing and not use:
            del grads[k]
    return float(value), grads


L2_MISTAKES = [
    Mistake(
        "biases",
        lambda p, lam: _pen(p, lam, bias=True),
        "the biases (and every other "
        "parameter) are penalised too; only keys that start with 'W' are.",
    ),
    Mistake(
        "no factor 2",
        lambda p, lam: _pen(p, lam, factor=1.0),
        "the gradient of lam · ‖W‖² is 2 · lam · W; the factor 2 is missing.",
    ),
    Mistake(
        "half",
        lambda p, lam: _pen(p, lam, half=True, factor=1.0),
        "this is ½ lam ‖W‖²; the course's penalty is lam · ‖W‖² with gradient 2 lam W.",
    ),
    Mistake(
        "missing keys",
        lambda p, lam: _pen(p, lam, nonweight_missing=True),
        "grads must have every key of params, with zeros for the ones that are not penalised.",
    ),
]
L1_MISTAKES = [
    Mistake(
        "biases",
        lambda p, lam: _pen(p, lam, kind="l1", bias=True),
        "the biases (and "
        "every other parameter) are penalised too; only keys that start with 'W' are.",
    ),
    Mistake(
        "sign(0)",
        lambda p, lam: _pen(p, lam, kind="l1", sign0=1.0),
        "the sub-gradient at W = 0 must be 0 (np.sign(0) = 0), not 1 (as (W >= 0) * 2 − 1 gives).",
    ),
    Mistake(
        "L2 gradient",
        lambda p, lam: _pen(p, lam, kind="l1", l2grad=True),
        "the gradient is lam · W; for |W| it is lam · sign(W).",
    ),
    Mistake(
        "no abs", lambda p, lam: _pen(p, lam, kind="l1", noabs=True), "the value sums W, not |W|."
    ),
    Mistake(
        "missing keys",
        lambda p, lam: _pen(p, lam, kind="l1", nonweight_missing=True),
        "grads must have every key of params, with zeros for the others.",
    ),
]

# ------------------------------------------------------------------------ early stopping


def _es(losses, patience, *, strict=True, shift=0, stop=False, global_min=False):
    losses = list(losses)
    if global_min:
        return int(np.argmin(losses))
    best_epoch, best, waited, epoch = 0, losses[0], 0, 0
    for epoch in range(1, len(losses)):
        if losses[epoch] < best or (not strict and losses[epoch] == best):
            best_epoch, best, waited = epoch, losses[epoch], 0
        else:
            waited += 1
            if waited >= patience:
                break
    return (epoch if stop else best_epoch) + shift


ES_MISTAKES = [
    Mistake(
        "non-strict",
        lambda v, p: _es(v, p, strict=False),
        "a loss equal to the best one "
        "counted as an improvement; only a strictly lower loss does (keep the first epoch of "
        "a tie).",
    ),
    Mistake(
        "global min",
        lambda v, p: _es(v, p, global_min=True),
        "you returned the epoch of "
        "the lowest loss over all epochs; training stops after `patience` epochs without "
        "improvement, and later losses are never seen.",
    ),
    Mistake(
        "stop epoch",
        lambda v, p: _es(v, p, stop=True),
        "you returned the epoch where "
        "training stops; return the epoch of the best loss (whose parameters are kept).",
    ),
    Mistake("plus one", lambda v, p: _es(v, p, shift=1), "off by one: epochs are 0-based."),
    Mistake("minus one", lambda v, p: _es(v, p, shift=-1), "off by one: epochs are 0-based."),
]


def _es_cases(rng):
    return [
        Case("improves then rises, patience 2", ([1.0, 0.8, 0.7, 0.75, 0.72, 0.6], 2), show=True),
        Case("a tie with the best, patience 2", ([1.0, 0.5, 0.5, 0.6, 0.4], 2)),
        Case("patience 3, later dip", ([0.9, 0.85, 0.9, 0.95, 0.99, 0.5, 0.4], 3)),
        Case("patience 1", ([3.0, 2.0, 2.5, 1.0], 1)),
        Case("always improving", ([5.0, 4.0, 3.0, 2.0], 3)),
        Case("one epoch", ([0.3], 5)),
    ]


def _es_hidden(rng):
    noisy = list(1.0 / np.arange(1, 30) + 0.05 * rng.random(29))
    return [
        Case("hidden early-stopping noisy curve", (noisy, 4)),
        Case("hidden early-stopping tie run", ([2.0, 1.0, 1.0, 1.0, 0.9], 3)),
        Case("hidden early-stopping late dip", ([1.0, 1.2, 0.9, 1.1, 1.3, 1.4, 0.1], 3)),
    ]


SPECS = [
    FunctionSpec(
        name="dropout_forward",
        concept="dropout_forward",
        arg_names=("x", "p", "train", "rng"),
        runners={"statistics": _dropout_runner, "hidden": _dropout_runner},
        forbid=("dropout_forward", "dropout_backward"),
    ),
    FunctionSpec(
        name="dropout_backward",
        concept="dropout_forward",
        arg_names=("dout", "cache"),
        runners={"values": _dropout_backward_runner, "hidden": _dropout_backward_runner},
        companions=("dropout_forward",),
        forbid=("dropout_forward", "dropout_backward"),
    ),
    FunctionSpec(
        name="l2_penalty",
        concept="l2_penalty",
        arg_names=("params", "lam"),
        cases={"values": _pen_cases, "hidden": _pen_hidden},
        mistakes=L2_MISTAKES,
        forbid=("l2_penalty", "l1_penalty"),
    ),
    FunctionSpec(
        name="l1_penalty",
        concept="l2_penalty",
        arg_names=("params", "lam"),
        cases={"values": _pen_cases, "hidden": _pen_hidden},
        mistakes=L1_MISTAKES,
        forbid=("l2_penalty", "l1_penalty"),
    ),
    FunctionSpec(
        name="early_stopping_epoch",
        concept="early_stopping_epoch",
        arg_names=("val_losses", "patience"),
        cases={"values": _es_cases, "hidden": _es_hidden},
        mistakes=ES_MISTAKES,
        forbid=("early_stopping_epoch",),
    ),
]

_P = Part
MANIFEST = [
    _P(LESSON, "l2_penalty", "l2_penalty", "values", 1, False, "weights only"),
    _P(LESSON, "l2_penalty", "l2_penalty", "hidden", 1, True),
    _P(LESSON, "l2_penalty", "l1_penalty", "values", 1, False, "weights only, sign(0) = 0"),
    _P(LESSON, "l2_penalty", "l1_penalty", "hidden", 1, True),
    _P(
        LESSON,
        "dropout_forward",
        "dropout_forward",
        "statistics",
        2,
        False,
        "keep rate, out = x * mask / (1 − p), identity at evaluation, rng",
    ),
    _P(LESSON, "dropout_forward", "dropout_forward", "hidden", 1, True),
    _P(LESSON, "dropout_forward", "dropout_backward", "values", 2, False),
    _P(LESSON, "dropout_forward", "dropout_backward", "hidden", 1, True),
    _P(LESSON, "early_stopping_epoch", "early_stopping_epoch", "values", 2, False),
    _P(LESSON, "early_stopping_epoch", "early_stopping_epoch", "hidden", 1, True),
]

register(LESSON, SPECS, MANIFEST)

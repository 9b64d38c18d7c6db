"""Lesson 06_dropout: inverted dropout (graded by statistics and exact relations given the
mask), L2 and L1 penalties on the weights only, early stopping."""

from __future__ import annotations

import numpy as np

from ..diagnose import Mistake
from ..framework import Case, FunctionSpec, Part, allow_references, reference, register
from .l04_init import check_uses_rng, ranked_cases_runner

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
        ctx.fail(f'On the case "{label}": every unit was dropped.', mistake="every unit dropped")
    if not _close(os, xs / (1 - p), rtol):
        for wrong, message, mistake in (
            (
                xs,
                "the kept units are not rescaled: inverted dropout divides them by 1 − p",
                "not rescaled",
            ),
            (
                xs * (1 - p),
                "the kept units are multiplied by 1 − p; inverted dropout divides "
                "by 1 − p during training",
                "multiplied by 1 − p",
            ),
            (
                xs / p,
                "the kept units are divided by p; p is the probability of dropping, so "
                "divide by 1 − p (the keep probability)",
                "divided by p",
            ),
            (xs * p, "the kept units are multiplied by p; divide by 1 − p", "multiplied by p"),
        ):
            if _close(os, wrong, rtol):
                ctx.fail(f'On the case "{label}": {message}.', mistake=mistake)
        ctx.fail(
            f'On the case "{label}": a unit is either dropped (0) or kept and scaled: '
            "out = x * mask / (1 − p); some outputs are neither."
        )
    if x.ndim == 2 and 0 < p and min(x.shape) > 1:
        for axis, what, mistake in (
            (0, "every sample (row) gets the same mask", "one mask for every sample"),
            (1, "each sample (row) is kept or dropped as a whole", "whole samples dropped"),
        ):
            first = kept.take([0], axis=axis)
            if (kept == first).all():
                ctx.fail(
                    f'On the case "{label}": {what}: draw one independent keep/drop '
                    "decision per entry, rng.random(x.shape) >= p.",
                    mistake=mistake,
                )
    rate = kept.mean()
    tol = 5 * np.sqrt(p * (1 - p) / x.size) + 1e-12
    if abs(rate - (1 - p)) > tol:
        if abs(rate - p) < tol:
            ctx.fail(
                f'On the case "{label}": about a fraction p of the units survive: p is the '
                "probability of dropping a unit, so keep where rng.random(x.shape) >= p "
                "(keep probability 1 − p).",
                mistake="p kept instead of dropped",
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
                    "evaluation returns x unchanged.",
                    mistake="scaled at evaluation",
                )
            if _close(ev, x / (1 - p)):
                ctx.fail(
                    f'On the case "{e_label}": evaluation divides by 1 − p; it must return '
                    "x unchanged.",
                    mistake="divided at evaluation",
                )
            if (ev == 0).any():
                ctx.fail(
                    f'On the case "{e_label}": units are dropped at evaluation; with '
                    "train=False return x unchanged.",
                    mistake="dropout at evaluation",
                )
            ctx.fail(f'On the case "{e_label}": with train=False the output must equal x.')
    x = rng.normal(size=(20, 10))
    zero = _out(ctx.call(fn, (x, 0.0, True, 3), label="train, p = 0"))
    if not _close(zero, x):
        ctx.fail('On the case "train, p = 0": nothing is dropped, so the output must equal x.')
    check_uses_rng(
        ctx, lambda *a: _out(fn(*a)), (x, 0.5, True, 0), {}, "train, same and other seeds", 3
    )


def _forward_for_backward(ctx, forward, x, p, train, seed):
    """(out, cache) from the student's forward pass, or the reference's when it cannot run."""
    if callable(forward):
        try:
            out, cache = forward(x, p, train, seed)
            out = np.asarray(out)
            if out.shape == x.shape:
                return out, cache
        except Exception:
            pass
    ctx.hint(
        "your dropout_forward did not run on this input, so dropout_backward was checked "
        "with the cache of the course's own forward pass; fix dropout_forward first"
    )
    with allow_references():
        return reference("dropout_forward")(x, p, train, seed)


def _dropout_backward_runner(ctx, fn, forward=None):
    rng = ctx.rng
    settings = [(0.3, (40, 30)), (0.6, (25, 20))] if not ctx.hidden else [(0.45, (30, 33))]
    for p, shape in settings:
        x = rng.normal(size=shape)
        x[x == 0] = 1.0
        x.flat[rng.choice(x.size, size=x.size // 10, replace=False)] = 0.0  # exact zeros
        x_nz = np.where(x == 0, 1.0, x)
        dout = rng.normal(size=shape)
        seed = int(rng.integers(1 << 30))
        for train in (True, False):
            label = f"{'train' if train else 'evaluation'}, p = {p}"
            if ctx.hidden:
                label = f"hidden case, {'train' if train else 'evaluation'}"
            out, cache = _forward_for_backward(ctx, forward, x, p, train, seed)
            dx = ctx.call(fn, (dout, cache), label=label, arg_names=("dout", "cache"))
            dx = np.asarray(dx)
            if not train:
                if not _close(dx, dout):
                    ctx.fail(
                        f'On the case "{label}": at evaluation dropout is the identity, '
                        "so dx = dout."
                    )
                continue
            # the mask: from the same draw on an input without zeros (out != 0 cannot tell a
            # kept unit from a dropped one where x = 0); only where x != 0 if not reproducible
            twin, _ = _forward_for_backward(ctx, forward, x_nz, p, train, seed)
            mask = twin != 0
            where = np.ones(shape, dtype=bool)
            if not np.array_equal(mask[x != 0], (out != 0)[x != 0]):
                mask, where = out != 0, x != 0
            want = dout * mask / (1 - p)
            if dx.shape == want.shape and _close(dx[where], want[where]):
                continue
            lost = mask & (x == 0) & where
            if (
                dx.shape == want.shape
                and lost.any()
                and _close(dx[where & ~lost], want[where & ~lost])
                and np.allclose(dx[lost], 0)
            ):
                ctx.fail(
                    f'On the case "{label}": dx is 0 at kept units whose input x is 0: a '
                    "mask rebuilt from out != 0 (or x != 0) loses them. Keep the mask (or "
                    "mask / (1 − p)) itself in the cache.",
                    mistake="mask rebuilt from out",
                )
            for wrong, message, mistake in (
                (
                    dout,
                    "dx ignores the mask: dropped units pass no gradient, "
                    "dx = dout * mask / (1 − p)",
                    "mask ignored",
                ),
                (
                    dout * mask,
                    "dx is not scaled: dx = dout * mask / (1 − p), the same scaling "
                    "as the forward pass",
                    "not rescaled",
                ),
                (
                    dout / (1 - p),
                    "dx ignores the mask (only scaled): dx = dout * mask / (1 − p)",
                    "mask ignored, scaled",
                ),
                (dout * mask * (1 - p), "dx is multiplied by 1 − p; divide", "multiplied by 1 − p"),
                (
                    dout * mask / p,
                    "dx is divided by p; divide by 1 − p, the keep probability",
                    "divided by p",
                ),
                (
                    dout * ~mask / (1 - p),
                    "the mask is inverted: gradients flow through the kept units",
                    "inverted mask",
                ),
                (mask / (1 - p), "dx is the mask alone: multiply it by dout", "mask alone"),
            ):
                if dx.shape == wrong.shape and _close(dx[where], wrong[where]):
                    ctx.fail(f'On the case "{label}": {message}.', mistake=mistake)
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
        Case(
            "biases stored as rows of shape (1, M)",
            (
                {
                    "W1": rng.normal(size=(3, 2)),
                    "b1": rng.normal(size=(1, 3)),
                    "W2": rng.normal(size=(2, 3)),
                    "b2": rng.normal(size=(1, 2)),
                },
                0.2,
            ),
        ),
        Case(
            "a key 'bW' that contains W but does not start with it",
            ({"W": rng.normal(size=(2, 2)), "bW": rng.normal(size=2)}, 0.3),
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
    factor=None,
    half=False,
    sign0=0.0,
    l2grad=False,
    noabs=False,
    nonweight_missing=False,
    select="startswith",
    value_kind="sum",
    no_lam_grad=False,
    nan_at_0=False,
):
    if factor is None:
        factor = 2.0 if kind == "l2" else 1.0
    value, grads = 0.0, {}
    for k, v in params.items():
        use = {
            "startswith": k.startswith("W"),
            "contains": "W" in k,
            "ndim": np.ndim(v) == 2,
        }[select] or bias
        lam_g = 1.0 if no_lam_grad else lam
        if kind == "l2":
            if value_kind == "norm":
                term = np.sqrt(np.sum(v * v))
            elif value_kind == "mean":
                term = np.mean(v * v)
            else:
                term = np.sum(v * v)
            value += lam * term * (0.5 if half else 1.0) if use else 0.0
            grads[k] = factor * lam_g * v if use else np.zeros_like(v)
        else:
            if value_kind == "squares":
                term = np.sum(v * v)
            elif value_kind == "mean":
                term = np.mean(np.abs(v))
            else:
                term = np.sum(v) if noabs else np.sum(np.abs(v))
            value += lam * term if use else 0.0
            s = np.sign(v)
            s[v == 0] = np.nan if nan_at_0 else sign0
            grads[k] = (lam_g * v if l2grad else factor * lam_g * s) if use else np.zeros_like(v)
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
    Mistake(
        "contains W",
        lambda p, lam: _pen(p, lam, select="contains"),
        "a key that merely contains 'W' is penalised; only keys that start with 'W' are "
        "(key.startswith('W')).",
    ),
    Mistake(
        "2-D arrays",
        lambda p, lam: _pen(p, lam, select="ndim"),
        "the weights were chosen by shape (2-D arrays); choose them by name: the keys that "
        "start with 'W'.",
    ),
    Mistake(
        "norm not squared",
        lambda p, lam: _pen(p, lam, value_kind="norm"),
        "the value uses the norm ‖W‖; the penalty is lam · ‖W‖², the sum of the squares.",
    ),
    Mistake(
        "mean",
        lambda p, lam: _pen(p, lam, value_kind="mean"),
        "the value averages W²; the penalty sums the squares: lam · Σ W².",
    ),
    Mistake(
        "no lam in grads",
        lambda p, lam: _pen(p, lam, no_lam_grad=True),
        "the gradient lacks lam: d(lam · ‖W‖²)/dW = 2 · lam · W.",
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
    Mistake(
        "sign(0) = -1",
        lambda p, lam: _pen(p, lam, kind="l1", sign0=-1.0),
        "the sub-gradient at W = 0 must be 0 (np.sign(0) = 0), not −1 (as np.where(W > 0, 1, "
        "−1) gives).",
    ),
    Mistake(
        "W / |W|",
        lambda p, lam: _pen(p, lam, kind="l1", nan_at_0=True),
        "W / |W| is 0/0 = NaN at W = 0; use np.sign(W), which is 0 there.",
    ),
    Mistake(
        "factor 2",
        lambda p, lam: _pen(p, lam, kind="l1", factor=2.0),
        "the sub-gradient of lam · |W| is lam · sign(W), without the factor 2 of the L2 penalty.",
    ),
    Mistake(
        "no lam in grads",
        lambda p, lam: _pen(p, lam, kind="l1", no_lam_grad=True),
        "the gradient lacks lam: lam · sign(W).",
    ),
    Mistake(
        "squares",
        lambda p, lam: _pen(p, lam, kind="l1", value_kind="squares"),
        "the value sums W² (the L2 penalty); L1 sums |W|.",
    ),
    Mistake(
        "contains W",
        lambda p, lam: _pen(p, lam, kind="l1", select="contains"),
        "a key that merely contains 'W' is penalised; only keys that start with 'W' are.",
    ),
    Mistake(
        "2-D arrays",
        lambda p, lam: _pen(p, lam, kind="l1", select="ndim"),
        "the weights were chosen by shape (2-D arrays); choose them by name: the keys that "
        "start with 'W'.",
    ),
]

# ------------------------------------------------------------------------ early stopping


def _es(
    losses,
    patience,
    *,
    strict=True,
    shift=0,
    stop=False,
    global_min=False,
    wait=None,
    previous=False,
    reset=True,
    min_delta=0.0,
):
    losses = list(losses)
    if global_min:
        return int(np.argmin(losses))
    wait = patience if wait is None else wait
    best_epoch, best, waited, epoch = 0, losses[0], 0, 0
    for epoch in range(1, len(losses)):
        ref = losses[epoch - 1] if previous else best
        improved = losses[epoch] < ref - min_delta or (not strict and losses[epoch] == ref)
        if improved:
            if losses[epoch] < best or (not strict and losses[epoch] == best):
                best_epoch, best = epoch, losses[epoch]
            if reset:
                waited = 0
        else:
            waited += 1
            if waited >= wait:
                break
    return (epoch if stop else best_epoch) + shift


ES_MISTAKES = [
    Mistake(
        "waits one more",
        lambda v, p: _es(v, p, wait=p + 1),
        "training went on one epoch too long: stop as soon as `patience` epochs in a row "
        "brought no improvement (when the count reaches patience, not when it exceeds it).",
    ),
    Mistake(
        "stops one early",
        lambda v, p: _es(v, p, wait=p - 1) if p > 1 else None,
        "training stopped one epoch too early: wait for `patience` epochs in a row without "
        "improvement before stopping.",
    ),
    Mistake(
        "previous epoch",
        lambda v, p: _es(v, p, previous=True),
        "an improvement was measured against the previous epoch; it means a loss strictly "
        "lower than the best one seen so far.",
    ),
    Mistake(
        "no reset",
        lambda v, p: _es(v, p, reset=False),
        "the count of epochs without improvement is not reset after an improvement: "
        "patience counts epochs in a row.",
    ),
    Mistake(
        "min delta",
        lambda v, p: _es(v, p, min_delta=1e-3),
        "a small improvement was ignored: any strictly lower loss counts (no min_delta).",
    ),
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
        Case("improvements between bad epochs, patience 2", ([1.0, 1.1, 0.9, 1.0, 0.8], 2)),
        Case("a tiny improvement, patience 1", ([1.0, 0.9999, 0.9999], 1)),
        Case(
            "best, two worse, better than the previous, patience 3",
            ([1.0, 0.5, 0.9, 0.8, 0.7, 0.6, 0.2], 3),
        ),
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
        output_names=("out", "cache"),
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
        runners={
            "values": ranked_cases_runner(_pen_cases),
            "hidden": ranked_cases_runner(_pen_hidden),
        },
        mistakes=L2_MISTAKES,
        forbid=("l2_penalty", "l1_penalty"),
        output_names=("value", "grads"),
    ),
    FunctionSpec(
        name="l1_penalty",
        concept="l2_penalty",
        arg_names=("params", "lam"),
        cases={"values": _pen_cases, "hidden": _pen_hidden},
        runners={
            "values": ranked_cases_runner(_pen_cases),
            "hidden": ranked_cases_runner(_pen_hidden),
        },
        mistakes=L1_MISTAKES,
        forbid=("l2_penalty", "l1_penalty"),
        output_names=("value", "grads"),
    ),
    FunctionSpec(
        name="early_stopping_epoch",
        concept="early_stopping_epoch",
        arg_names=("val_losses", "patience"),
        cases={"values": _es_cases, "hidden": _es_hidden},
        runners={
            "values": ranked_cases_runner(_es_cases),
            "hidden": ranked_cases_runner(_es_hidden),
        },
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

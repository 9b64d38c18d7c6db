"""Lesson 02_softmax: softmax and its Jacobian, cross-entropy, the fused loss, BCE, max-margin."""

from __future__ import annotations

import numpy as np

from ..diagnose import Mistake
from ..framework import Case, FunctionSpec, Part, reference, register

LESSON = "02_softmax"

# -------------------------------------------------------------------------------- helpers


def _softmax(z, axis=-1):
    z = np.asarray(z, dtype=float)
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _onehot(y, k):
    out = np.zeros((len(y), k))
    out[np.arange(len(y)), y] = 1
    return out


def _sigmoid(x):
    return 0.5 * (1 + np.tanh(0.5 * np.asarray(x, dtype=float)))


def _labels(rng, n, k):
    y = rng.integers(0, k, size=n)
    y[: min(n, k)] = np.arange(min(n, k))  # every class appears when n >= k
    return rng.permutation(y)


# -------------------------------------------------------------------------------- softmax


def _shift_then_normalise(z, shift):
    e = np.exp(z - shift)
    return e / e.sum(axis=-1, keepdims=True)


def _slices_as_a_whole(z):
    if np.ndim(z) < 3:
        raise ValueError("only differs from softmax for N-D input")
    axes = tuple(range(1, z.ndim))
    e = np.exp(z - z.max(axis=axes, keepdims=True))
    return e / e.sum(axis=axes, keepdims=True)


def _rows_shifted_columns_normalised(z, axis, min_ndim=2):
    """Max subtracted along the last axis (right), the sum taken along ``axis`` (wrong)."""
    if np.ndim(z) < min_ndim:
        raise ValueError("the same as softmax for input of fewer dimensions")
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _axis1(z):
    if np.ndim(z) < 3:
        raise ValueError("axis 1 is the last axis of a 2-D array")
    return _softmax(z, axis=1)


SOFTMAX_MISTAKES = [
    Mistake(
        "subtracted the min",
        lambda z: _shift_then_normalise(z, z.min(axis=-1, keepdims=True)),
        "you subtracted each row's minimum before np.exp: then the largest exponent is "
        "max − min, which overflows when a row spans more than about 709 (inf / inf = NaN). "
        "Subtract the row maximum instead, z - z.max(axis=-1, keepdims=True): every exponent "
        "is then ≤ 0.",
    ),
    Mistake(
        "subtracted the mean",
        lambda z: _shift_then_normalise(z, z.mean(axis=-1, keepdims=True)),
        "you subtracted each row's mean before np.exp: entries far above the mean still "
        "overflow (inf / inf = NaN). Subtract the row maximum, z - z.max(axis=-1, "
        "keepdims=True), so that every exponent is ≤ 0.",
    ),
    Mistake(
        "max along axis 0",
        lambda z: _shift_then_normalise(z, z.max(axis=0, keepdims=True)),
        "you subtracted the maximum of each column (axis=0). Softmax is unchanged only when "
        "the same constant is subtracted from a whole row: use z.max(axis=-1, keepdims=True).",
    ),
    Mistake(
        "sum down the columns",
        lambda z: _rows_shifted_columns_normalised(z, axis=0),
        "you subtracted each row's maximum but divided by the sum of each column (sum over "
        "axis=0): softmax turns each row (the last axis) into a distribution, so the sum is "
        "taken along the same axis as the max, e / e.sum(axis=-1, keepdims=True).",
    ),
    Mistake(
        "sum along axis 1 for N-D input",
        lambda z: _rows_shifted_columns_normalised(z, axis=1, min_ndim=3),
        "for 3-D input you divided by the sum along axis 1; softmax normalises along the *last* "
        "axis whatever the number of dimensions: e / e.sum(axis=-1, keepdims=True).",
    ),
    Mistake(
        "axis 1 for N-D input",
        _axis1,
        "for 3-D input you normalised along axis 1; softmax works on the *last* axis whatever "
        "the number of dimensions: use axis=-1 (with keepdims=True).",
    ),
    Mistake(
        "each z[i] as a whole",
        _slices_as_a_whole,
        "for N-D input each z[i] was normalised as a whole (e.g. a loop over the first axis "
        "with a 1-D formula); every slice along the last axis is its own distribution: use "
        "axis=-1 with keepdims=True instead of a loop.",
    ),
    Mistake(
        "no max",
        lambda z: np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True),
        "you did not subtract the maximum before np.exp: exp(1000) overflows to inf and "
        "inf / inf = NaN. Softmax does not change when a constant is subtracted from every "
        "entry, so use z - z.max(axis=-1, keepdims=True).",
    ),
    Mistake(
        "global max",
        lambda z: (lambda e: e / e.sum(axis=-1, keepdims=True))(np.exp(z - z.max())),
        "you subtracted the maximum of the whole array instead of each row's maximum: a row far "
        "below the global maximum underflows to 0 / 0. Use z.max(axis=-1, keepdims=True).",
    ),
    Mistake(
        "axis 0",
        lambda z: _softmax(z, axis=0),
        "you normalised along axis 0 (down the columns); softmax works on the last axis, one "
        "distribution per row: axis=-1.",
    ),
    Mistake(
        "whole array",
        lambda z: np.exp(z - z.max()) / np.exp(z - z.max()).sum(),
        "you divided by the sum over the whole array; each row must sum to 1: "
        "sum(axis=-1, keepdims=True).",
    ),
    Mistake(
        "no keepdims",
        lambda z: (
            np.exp(z - z.max(axis=-1, keepdims=True))
            / np.exp(z - z.max(axis=-1, keepdims=True)).sum(axis=-1)
        ),
        "the row sums were divided without keepdims=True, so they broadcast along the wrong "
        "axis: use e.sum(axis=-1, keepdims=True).",
    ),
    Mistake(
        "exp only",
        lambda z: np.exp(z),
        "you returned exp(z) without dividing by the sum over the row (and without "
        "subtracting the row maximum first).",
    ),
    Mistake(
        "not normalised",
        lambda z: np.exp(z - z.max(axis=-1, keepdims=True)),
        "you returned exp(z - max) without dividing by the sum over the row.",
    ),
]


def _softmax_values(rng):
    return [
        Case("small example", (np.array([1.0, 2.0, 3.0]),), show=True),
        Case("random (4, 5) logits", (rng.normal(0, 2, size=(4, 5)),)),
        Case("square (4, 4) logits", (rng.normal(0, 2, size=(4, 4)),)),
        Case("3-D logits (2, 3, 4)", (rng.normal(0, 2, size=(2, 3, 4)),)),
    ]


def _softmax_edge(rng):
    z = rng.normal(0, 1, size=(3, 4))
    return [
        Case("large logits (around ±1000)", (1000 + 5 * z,)),
        Case(
            "rows on very different scales", (np.array([[0.0, 1.0, 2.0], [1000.0, 1001.0, 999.0]]),)
        ),
        Case("all-equal logits", (np.full((2, 5), 7.0),)),
        Case("one sample (1, K)", (z[:1],)),
        Case("float32 logits", (z.astype(np.float32),)),
        Case("integer logits", (rng.integers(-3, 4, size=(2, 3)),)),
        Case("non-contiguous view", (rng.normal(size=(4, 6))[:, ::2],)),
        Case(
            "rows spanning ±1000",
            (np.array([[-1000.0, 0.0, 1000.0], [0.0, 10.0, 2000.0], [-5.0, -900.0, -1800.0]]),),
        ),
    ]


def _softmax_hidden(rng):
    return [
        Case("hidden logits", (rng.normal(0, 3, size=(6, 7)),)),
        Case("hidden square", (rng.normal(0, 3, size=(5, 5)),)),
        Case("hidden huge", (rng.normal(0, 1, size=(4, 3)) * 800,)),
        Case("hidden 1-D", (rng.normal(0, 5, size=9),)),
        Case("hidden float32 large", ((rng.normal(size=(3, 3)) * 300).astype(np.float32),)),
        Case("hidden mixed scales", (np.stack([rng.normal(size=4), 2000 + rng.normal(size=4)]),)),
    ]


# -------------------------------------------------------------------------------- jacobian

JACOBIAN_MISTAKES = [
    Mistake(
        "sign",
        lambda z: np.outer(_softmax(z), _softmax(z)) - np.diag(_softmax(z)),
        "the sign is flipped: J = diag(s) − s sᵀ.",
    ),
    Mistake(
        "diagonal only",
        lambda z: np.diag(_softmax(z) * (1 - _softmax(z))),
        "only the diagonal is filled: the off-diagonal entries are −s_i s_j (changing one "
        "logit changes every probability).",
    ),
    Mistake("diag(s)", lambda z: np.diag(_softmax(z)), "the − s sᵀ term is missing."),
    Mistake(
        "no diag", lambda z: -np.outer(_softmax(z), _softmax(z)), "the diag(s) term is missing."
    ),
    Mistake(
        "elementwise square",
        lambda z: np.diag(_softmax(z)) - _softmax(z) ** 2,
        "s sᵀ is an outer product (np.outer(s, s)), not the elementwise square s * s.",
    ),
    Mistake(
        "s @ s.T",
        lambda z: np.diag(_softmax(z)) - _softmax(z) @ _softmax(z).T,
        "for a 1-D array s, s.T is s itself and s @ s.T is the dot product (a single number); "
        "the outer product s sᵀ is np.outer(s, s) (or s[:, None] * s[None, :]).",
    ),
    Mistake(
        "softmax without the max",
        lambda z: (lambda s: np.diag(s) - np.outer(s, s))(np.exp(z) / np.exp(z).sum()),
        "the softmax inside your Jacobian does not subtract the maximum: exp(1000) overflows "
        "and gives NaN. Compute s with your stable softmax.",
    ),
]


def _jac_values(rng):
    return [
        Case("small example", (np.array([1.0, 2.0, 0.5]),), show=True),
        Case("random K = 6", (rng.normal(0, 2, size=6),)),
        Case("large logits (around 1000)", (1000 + rng.normal(0, 3, size=4),)),
    ]


def _jac_hidden(rng):
    return [
        Case("hidden K = 8", (rng.normal(0, 3, size=8),)),
        Case("hidden K = 2", (rng.normal(0, 1, size=2),)),
        Case("hidden huge", (rng.normal(0, 1, size=5) * 900,)),
    ]


def _jacobian_runner(ctx, fn):
    ctx.run_cases(fn)
    # Independent oracle: centred differences of the reference softmax, column by column.
    z = ctx.rng.normal(size=5)
    ref = reference("softmax")
    h = 1e-6
    numeric = np.empty((5, 5))
    for j in range(5):
        e = np.zeros(5)
        e[j] = h
        numeric[:, j] = (ref(z + e) - ref(z - e)) / (2 * h)
    ctx.compare_case(
        fn,
        Case("Jacobian measured numerically (centred differences)", (z,), rtol=1e-5, atol=1e-8),
        expected=numeric,
    )


# -------------------------------------------------------------------------------- cross-entropy


def _pick(probs, y):
    return probs[np.arange(len(y)), y]


# Common "safe log" epsilons: adding one, or clipping at it, caps the loss of an unlikely class.
_EPSILONS = (1e-7, 1e-8, 1e-9, 1e-10, 1e-12, 1e-15, float(np.finfo(float).eps), 1e-16, 1e-20)


def _eps_mistakes(loss_with_log, message):
    """``loss_with_log(log)`` for log = log(p + ε), log(clip(p, ε, 1)), log(clip(p, ε, 1 − ε))."""
    out = []
    for eps in _EPSILONS:
        logs = {
            f"log(p + {eps:g})": lambda p, e=eps: np.log(p + e),
            f"clip at {eps:g}": lambda p, e=eps: np.log(np.clip(p, e, 1.0)),
            f"clip at {eps:g} and 1 - {eps:g}": lambda p, e=eps: np.log(np.clip(p, e, 1.0 - e)),
        }
        out += [Mistake(name, loss_with_log(log), message) for name, log in logs.items()]
    return out


_CE_EPS_MESSAGE = (
    "you added a small ε inside the log or clipped the probabilities at ε: that caps the cost "
    "of a sample at −log ε, but a correct class of probability 1e-30 costs −log(1e-30) ≈ 69. "
    "cross_entropy returns the exact mean negative log-likelihood: leave the probabilities as "
    "they are (to avoid log(0), floor them at np.finfo(probs.dtype).tiny at most)."
)

CE_MISTAKES = [
    Mistake(
        "sum",
        lambda p, y: -np.sum(np.log(_pick(p, y))),
        "you summed over the batch; the loss is the mean (divide by N).",
    ),
    Mistake(
        "sign",
        lambda p, y: np.mean(np.log(_pick(p, y))),
        "the minus sign is missing: the loss is −mean(log p), a positive number.",
    ),
    Mistake(
        "all entries",
        lambda p, y: -np.mean(np.log(p)),
        "you averaged −log over every entry of probs; only the probability of the correct "
        "class of each sample counts: probs[np.arange(N), y].",
    ),
    Mistake(
        "column indexing",
        lambda p, y: -np.mean(np.log(p[:, y])),
        "probs[:, y] picks whole columns (an (N, N) array); use probs[np.arange(N), y] to "
        "pick one entry per row.",
    ),
    Mistake(
        "log of 1 - p",
        lambda p, y: -np.mean(np.log(1 - _pick(p, y))),
        "you used log(1 − p); the negative log-likelihood is −log p of the correct class.",
    ),
    Mistake(
        "mean over N·K entries",
        lambda p, y: -np.mean(_onehot(y, p.shape[1]) * np.log(p)),
        "np.mean over the (N, K) array onehot * log(probs) divides by N·K, so the loss is K "
        "times too small: sum over the classes, then average over the samples, "
        "-(onehot * np.log(probs)).sum(axis=1).mean().",
    ),
    Mistake(
        "log10",
        lambda p, y: -np.mean(np.log10(_pick(p, y))),
        "you used np.log10; the negative log-likelihood uses the natural logarithm np.log.",
    ),
    Mistake(
        "log2",
        lambda p, y: -np.mean(np.log2(_pick(p, y))),
        "you used np.log2; the negative log-likelihood uses the natural logarithm np.log.",
    ),
    Mistake(
        "rows picked by y",
        lambda p, y: -np.mean(np.log(p[y])),
        "probs[y] picks whole rows (one per label); use probs[np.arange(N), y] to pick one "
        "entry per row, the probability of that sample's correct class.",
    ),
    *_eps_mistakes(lambda log: lambda p, y: -np.mean(log(_pick(p, y))), _CE_EPS_MESSAGE),
]


def _probs(rng, n, k, dtype=float):
    return _softmax(rng.normal(0, 1.5, size=(n, k))).astype(dtype)


def _ce_values(rng):
    return [
        Case(
            "small example",
            (np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]), np.array([0, 2])),
            show=True,
        ),
        Case("random N = 6, K = 4", (_probs(rng, 6, 4), _labels(rng, 6, 4))),
        Case("N = K = 5", (_probs(rng, 5, 5), _labels(rng, 5, 5))),
        Case("one sample", (_probs(rng, 1, 3), np.array([2]))),
        Case("float32 probabilities", (_probs(rng, 4, 3, np.float32), _labels(rng, 4, 3))),
        Case(
            "a very unlikely correct class (p = 1e-30)",
            (np.array([[1.0 - 2e-30, 1e-30, 1e-30], [0.5, 0.25, 0.25]]), np.array([1, 0])),
        ),
    ]


def _ce_hidden(rng):
    return [
        Case("hidden batch", (_probs(rng, 9, 3), _labels(rng, 9, 3))),
        Case("hidden square", (_probs(rng, 4, 4), _labels(rng, 4, 4))),
        Case("hidden confident", (_softmax(8 * rng.normal(size=(5, 6))), _labels(rng, 5, 6))),
    ]


# -------------------------------------------------------------------------------- fused loss


def _log_softmax(z):
    z = np.asarray(z, dtype=float)
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def _sce_ok(z, y):
    n, k = z.shape
    p = _softmax(z)
    return -np.mean(np.log(_pick(p, y))), (p - _onehot(y, k)) / n


SCE_MISTAKES = [
    Mistake(
        "no max",
        lambda z, y: (
            lambda p: (-np.mean(np.log(_pick(p, y))), (p - _onehot(y, z.shape[1])) / len(y))
        )(np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)),
        "you did not subtract each row's maximum before np.exp: large logits overflow to "
        "inf and give NaN. Subtract z.max(axis=1, keepdims=True) first (or use log-sum-exp).",
    ),
    Mistake(
        "log of softmax",
        lambda z, y: (-np.mean(np.log(_pick(_softmax(z), y))), _sce_ok(z, y)[1]),
        "the loss is inf for large logits. Either log(softmax(z)) is computed in two steps (a "
        "probability rounds to 0 and log(0) = −inf), or log(sum(exp(z))) is computed without "
        "subtracting the row maximum first (exp overflows to inf). Compute the log-probabilities "
        "with log-sum-exp: log p = (z − m) − log(sum(exp(z − m))), with m the row maximum.",
    ),
    Mistake(
        "grad not divided by N",
        lambda z, y: (_sce_ok(z, y)[0], _sce_ok(z, y)[1] * len(y)),
        "dlogits is N times too large: the loss is a mean, so its gradient is "
        "(softmax(z) − onehot(y)) / N.",
    ),
    Mistake(
        "grad sign",
        lambda z, y: (_sce_ok(z, y)[0], -_sce_ok(z, y)[1]),
        "dlogits has the wrong sign: it is (softmax(z) − onehot(y)) / N.",
    ),
    Mistake(
        "loss summed",
        lambda z, y: (_sce_ok(z, y)[0] * len(y), _sce_ok(z, y)[1]),
        "the loss is summed over the batch; it should be the mean.",
    ),
    Mistake(
        "forgot onehot",
        lambda z, y: (_sce_ok(z, y)[0], _softmax(z) / len(y)),
        "dlogits is softmax(z) / N: subtract 1 at the correct class of each row.",
    ),
    Mistake(
        "loss and gradient of the sum",
        lambda z, y: (_sce_ok(z, y)[0] * len(y), _sce_ok(z, y)[1] * len(y)),
        "the loss is summed over the batch and dlogits is the gradient of that sum; the "
        "course's loss is the mean: divide the loss and dlogits by N.",
    ),
    Mistake(
        "mean over N·K entries",
        lambda z, y: (-np.mean(_onehot(y, z.shape[1]) * _log_softmax(z)), _sce_ok(z, y)[1]),
        "np.mean over the (N, K) array onehot * log_probs divides by N·K, so the loss is K "
        "times too small: sum over the classes, then average over the samples.",
    ),
    Mistake(
        "grad divided by N·K",
        lambda z, y: (_sce_ok(z, y)[0], _sce_ok(z, y)[1] * len(y) / z.size),
        "dlogits is divided by N·K (z.size); the loss is a mean over the N samples, so divide "
        "by N = z.shape[0].",
    ),
    *_eps_mistakes(
        lambda log: lambda z, y: (-np.mean(log(_pick(_softmax(z), y))), _sce_ok(z, y)[1]),
        "you took log(softmax(z) + ε) (or clipped the probabilities at ε): for large logits "
        "the true loss is far above −log ε, so yours comes out too small. Compute the "
        "log-probabilities directly with log-sum-exp: log p = (z − m) − log(sum(exp(z − m))), "
        "with m the row maximum.",
    ),
    Mistake(
        "probabilities normalised down the columns",
        lambda z, y: (
            lambda p: (-np.mean(np.log(_pick(p, y))), (p - _onehot(y, z.shape[1])) / len(y))
        )(_rows_shifted_columns_normalised(z, axis=0)),
        "the probabilities are exp(z − row max) divided by the sum of each column (axis=0); "
        "each row (sample) is one distribution: divide by the sum along axis=1 "
        "(keepdims=True), the axis of the max.",
    ),
    Mistake(
        "softmax over axis 0",
        lambda z, y: (
            -np.mean(np.log(_pick(_softmax(z, 0), y))),
            (_softmax(z, 0) - _onehot(y, z.shape[1])) / len(y),
        ),
        "the softmax was taken along axis 0; each row (sample) is one distribution: axis=1.",
    ),
]


def _sce_values(rng):
    return [
        Case(
            "small example",
            (np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]]), np.array([0, 2])),
            show=True,
        ),
        Case("random N = 6, K = 4", (rng.normal(0, 2, size=(6, 4)), _labels(rng, 6, 4))),
        Case("N = K = 4", (rng.normal(0, 2, size=(4, 4)), _labels(rng, 4, 4))),
    ]


def _sce_edge(rng):
    return [
        Case("large logits", (rng.normal(0, 1, size=(4, 3)) * 1000, _labels(rng, 4, 3))),
        Case("one sample", (rng.normal(size=(1, 5)), np.array([3]))),
        Case("float32 logits", (rng.normal(size=(5, 3)).astype(np.float32), _labels(rng, 5, 3))),
        Case("zeros", (np.zeros((3, 4)), _labels(rng, 3, 4))),
    ]


def _sce_hidden(rng):
    return [
        Case("hidden batch", (rng.normal(0, 3, size=(10, 5)), _labels(rng, 10, 5))),
        Case("hidden huge", (rng.normal(0, 1, size=(3, 3)) * 5000, _labels(rng, 3, 3))),
        Case("hidden square", (rng.normal(size=(6, 6)), _labels(rng, 6, 6))),
        Case(
            "hidden float32",
            ((rng.normal(size=(4, 7)) * 50).astype(np.float32), _labels(rng, 4, 7)),
        ),
    ]


def _numeric_loss_grad(loss_fn, z, h=1e-6):
    grad = np.zeros_like(z)
    for idx in np.ndindex(*z.shape):
        zp, zm = z.copy(), z.copy()
        zp[idx] += h
        zm[idx] -= h
        grad[idx] = (loss_fn(zp) - loss_fn(zm)) / (2 * h)
    return grad


def _gradient_runner(name, make_case):
    """Check the returned gradient (element 1) against centred differences of the reference loss."""

    def run(ctx, fn):
        z, y = make_case(ctx.rng)
        ref = reference(name)
        numeric = _numeric_loss_grad(lambda zz: ref(zz, y)[0], z)
        got = ctx.call(fn, (z, y), label="gradient check")
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            ctx.fail(f"{name} must return a tuple (loss, dlogits); got {type(got).__name__}.")
        ctx.compare_case(
            fn,
            Case("dlogits against centred differences of the loss", (z, y), rtol=1e-5, atol=1e-8),
            expected=numeric,
            select=1,
        )

    return run


# -------------------------------------------------------------------------------- BCE


def _bce_ok(x, y):
    loss = np.mean(np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x))))
    return loss, (_sigmoid(x) - y) / x.size


_BCE_SOFTPLUS_MESSAGE = (
    "the formula is exact, but log(1 + exp(−x)) overflows for large negative x (and "
    "log(1 + exp(x)) for large positive x): exp of a large number is inf, so the loss is inf. "
    "Only exponentiate −|x|: max(x, 0) − x·y + log1p(exp(−|x|)) (or np.logaddexp(0, x) − x·y)."
)

BCE_MISTAKES = [
    Mistake(
        "log of sigmoid",
        lambda x, y: (
            -np.mean(y * np.log(1 / (1 + np.exp(-x))) + (1 - y) * np.log(1 - 1 / (1 + np.exp(-x)))),
            _bce_ok(x, y)[1],
        ),
        "computing log(sigmoid(x)) and log(1 − sigmoid(x)) directly gives log(0) = −inf for "
        "large |x|. Use the stable form max(x, 0) − x·y + log(1 + exp(−|x|)).",
    ),
    Mistake(
        "log1p(exp(-x))",
        lambda x, y: (np.mean(x - x * y + np.log1p(np.exp(-x))), _bce_ok(x, y)[1]),
        _BCE_SOFTPLUS_MESSAGE,
    ),
    Mistake(
        "log1p(exp(x))",
        lambda x, y: (np.mean(np.log1p(np.exp(x)) - x * y), _bce_ok(x, y)[1]),
        _BCE_SOFTPLUS_MESSAGE,
    ),
    *_eps_mistakes(
        lambda log: (
            lambda x, y: (
                -np.mean(y * log(_sigmoid(x)) + (1 - y) * log(1 - _sigmoid(x))),
                _bce_ok(x, y)[1],
            )
        ),
        "you added a small ε inside the logs (or clipped sigmoid(x) at ε): that caps the loss "
        "of a confidently wrong logit at −log ε, but for x = 1000 with y = 0 the loss is 1000. "
        "Use the stable form max(x, 0) − x·y + log1p(exp(−|x|)), which needs no ε.",
    ),
    Mistake(
        "loss and gradient of the sum",
        lambda x, y: (_bce_ok(x, y)[0] * x.size, _bce_ok(x, y)[1] * x.size),
        "the loss is summed over the batch and dlogits is the gradient of that sum; the "
        "course's loss is the mean: divide the loss and dlogits by N.",
    ),
    Mistake(
        "grad not divided by N",
        lambda x, y: (_bce_ok(x, y)[0], _bce_ok(x, y)[1] * x.size),
        "dlogits is N times too large: the gradient of a mean is (σ(x) − y) / N.",
    ),
    Mistake(
        "grad sign",
        lambda x, y: (_bce_ok(x, y)[0], -_bce_ok(x, y)[1]),
        "dlogits has the wrong sign: it is (σ(x) − y) / N.",
    ),
    Mistake(
        "loss summed",
        lambda x, y: (_bce_ok(x, y)[0] * x.size, _bce_ok(x, y)[1]),
        "the loss is summed over the batch; it should be the mean.",
    ),
    Mistake(
        "labels swapped",
        lambda x, y: _bce_ok(x, 1 - y),
        "the roles of y and 1 − y are swapped: y = 1 should be pushed towards large logits.",
    ),
]


def _bce_values(rng):
    return [
        Case("small example", (np.array([2.0, -1.0, 0.0]), np.array([1.0, 0.0, 1.0])), show=True),
        Case("random N = 8", (rng.normal(0, 2, size=8), rng.integers(0, 2, 8).astype(float))),
    ]


def _bce_edge(rng):
    y = rng.integers(0, 2, 6).astype(float)
    return [
        Case("large |logits|", (np.array([-1000.0, -800.0, -40.0, 40.0, 800.0, 1000.0]), y)),
        Case(
            "large logits with the wrong label", (np.array([1000.0, -1000.0]), np.array([0.0, 1.0]))
        ),
        Case("one sample", (np.array([0.3]), np.array([1.0]))),
        Case("float32", (rng.normal(0, 3, 6).astype(np.float32), y.astype(np.float32))),
    ]


def _bce_hidden(rng):
    return [
        Case("hidden batch", (rng.normal(0, 4, size=12), rng.integers(0, 2, 12).astype(float))),
        Case(
            "hidden extremes",
            (
                rng.choice([-1, 1], 7) * rng.uniform(100, 900, 7),
                rng.integers(0, 2, 7).astype(float),
            ),
        ),
        Case("hidden zeros", (np.zeros(5), np.array([0.0, 1.0, 1.0, 0.0, 1.0]))),
    ]


# -------------------------------------------------------------------------------- max margin


def _mm_ok(s, s_c, margin=1.0):
    m = margin + s_c - s
    mask = (m > 0).astype(float)
    n = s.size
    return np.mean(np.maximum(m, 0)), -mask / n, mask / n


MM_MISTAKES = [
    Mistake(
        "grads not divided by N",
        lambda s, sc, margin=1.0: (
            _mm_ok(s, sc, margin)[0],
            *(g * s.size for g in _mm_ok(s, sc, margin)[1:]),
        ),
        "the gradients are N times too large: the loss is a mean, divide them by N.",
    ),
    Mistake(
        "no hinge",
        lambda s, sc, margin=1.0: (
            np.mean(margin + sc - s),
            -np.ones_like(s) / s.size,
            np.ones_like(s) / s.size,
        ),
        "the max(0, ·) is missing: pairs that already satisfy the margin contribute 0 loss "
        "and 0 gradient.",
    ),
    Mistake(
        "swapped scores",
        lambda s, sc, margin=1.0: _mm_ok(sc, s, margin)[:1] + _mm_ok(sc, s, margin)[1:][::-1],
        "the scores are swapped: the loss is max(0, margin + s_c − s), where s is the score of "
        "the correct pair and s_c of the corrupted one.",
    ),
    Mistake(
        "gradients swapped",
        lambda s, sc, margin=1.0: (
            _mm_ok(s, sc, margin)[0],
            _mm_ok(s, sc, margin)[2],
            _mm_ok(s, sc, margin)[1],
        ),
        "ds and ds_c are swapped (or their signs are): d/ds is −1/N and d/ds_c is +1/N where "
        "the hinge is active.",
    ),
    Mistake(
        "ignored margin",
        lambda s, sc, margin=1.0: _mm_ok(s, sc, 1.0),
        "you ignored the margin argument and always used 1.0.",
    ),
    Mistake(
        "loss summed",
        lambda s, sc, margin=1.0: (_mm_ok(s, sc, margin)[0] * s.size, *_mm_ok(s, sc, margin)[1:]),
        "the loss is summed over the batch; it should be the mean.",
    ),
    Mistake(
        "loss and gradients of the sum",
        lambda s, sc, margin=1.0: tuple(v * s.size for v in _mm_ok(s, sc, margin)),
        "the loss is summed over the batch and ds, ds_c are the gradients of that sum; the "
        "loss is the mean: divide the loss and both gradients by N.",
    ),
    Mistake(
        "ds sign",
        lambda s, sc, margin=1.0: (
            _mm_ok(s, sc, margin)[0],
            _mm_ok(s, sc, margin)[2],
            _mm_ok(s, sc, margin)[2],
        ),
        "ds has the wrong sign: raising the correct score s lowers margin + s_c − s, so "
        "ds = −1/N where the hinge is active (and ds_c = +1/N).",
    ),
    Mistake(
        "mask ignores the margin",
        lambda s, sc, margin=1.0: (_mm_ok(s, sc, margin)[0], *_mm_ok(s, sc, 0.0)[1:]),
        "the gradients are non-zero only where s_c > s; the hinge is active wherever "
        "margin + s_c − s > 0, so include the margin in the mask.",
    ),
    Mistake(
        "gradient scaled by the hinge",
        lambda s, sc, margin=1.0: (
            _mm_ok(s, sc, margin)[0],
            -np.maximum(margin + sc - s, 0) / s.size,
            np.maximum(margin + sc - s, 0) / s.size,
        ),
        "the gradients are scaled by the hinge value max(0, margin + s_c − s); the hinge has "
        "slope 1 where it is active, so ds = −1/N and ds_c = +1/N there (0 elsewhere).",
    ),
]


def _mm_values(rng):
    return [
        Case("small example", (np.array([2.0, 0.5, 1.0]), np.array([0.0, 1.0, 0.5])), show=True),
        Case("random N = 10", (rng.normal(0, 1, 10), rng.normal(0, 1, 10))),
        Case("margin = 0.5", (rng.normal(0, 1, 8), rng.normal(0, 1, 8)), {"margin": 0.5}),
        Case("one pair", (np.array([0.3]), np.array([0.1]))),
    ]


def _mm_hidden(rng):
    return [
        Case("hidden batch", (rng.normal(0, 2, 15), rng.normal(0, 2, 15))),
        Case("hidden margin 2", (rng.normal(0, 1, 6), rng.normal(0, 1, 6)), {"margin": 2.0}),
        Case("hidden all satisfied", (rng.uniform(5, 6, 4), rng.uniform(0, 1, 4))),
    ]


def _mm_runner(ctx, fn):
    ctx.run_cases(fn)
    # Independent oracle: centred differences of the reference loss in s and in s_c.
    s, s_c = ctx.rng.normal(0, 1, 6), ctx.rng.normal(0, 1, 6)
    ref = reference("max_margin_loss")
    numeric = []
    for which in (0, 1):
        g = np.zeros(6)
        for i in range(6):
            plus = [s.copy(), s_c.copy()]
            minus = [s.copy(), s_c.copy()]
            plus[which][i] += 1e-6
            minus[which][i] -= 1e-6
            g[i] = (ref(*plus)[0] - ref(*minus)[0]) / 2e-6
        numeric.append(g)

    ctx.compare_case(
        fn,
        Case("ds, ds_c against centred differences of the loss", (s, s_c), rtol=1e-5, atol=1e-8),
        expected=tuple(numeric),
        select=(1, 2),
    )


# -------------------------------------------------------------------------------- registry


def _sce_grad_case(rng):
    return rng.normal(0, 2, size=(4, 3)), _labels(rng, 4, 3)


def _bce_grad_case(rng):
    return rng.normal(0, 2, size=6), rng.integers(0, 2, 6).astype(float)


# every nnkit function that computes a softmax (the rule: AUTHORING.md, "forbid")
_SOFTMAX_CORE = ("softmax", "softmax_jacobian", "log_softmax", "softmax_cross_entropy")

SPECS = [
    FunctionSpec(
        name="softmax",
        concept="softmax",
        arg_names=("z",),
        cases={"values": _softmax_values, "edge": _softmax_edge, "hidden": _softmax_hidden},
        mistakes=SOFTMAX_MISTAKES,
        # exp(log_softmax(z)) is softmax, and so is N·dlogits + onehot of the fused loss
        forbid=_SOFTMAX_CORE,
    ),
    FunctionSpec(
        name="softmax_jacobian",
        concept="softmax",
        arg_names=("z",),
        cases={"values": _jac_values, "hidden": _jac_hidden},
        runners={"values": _jacobian_runner},
        mistakes=JACOBIAN_MISTAKES,
        forbid=_SOFTMAX_CORE,
    ),
    FunctionSpec(
        name="cross_entropy",
        concept="cross_entropy",
        keep_float32=False,
        arg_names=("probs", "y"),
        cases={"values": _ce_values, "hidden": _ce_hidden},
        mistakes=CE_MISTAKES,
        # cross_entropy(p, y) = softmax_cross_entropy(log p, y)[0]: that reference computes it too
        forbid=("cross_entropy", "softmax_cross_entropy"),
        rtol=1e-7,
    ),
    FunctionSpec(
        name="softmax_cross_entropy",
        concept="softmax_cross_entropy",
        keep_float32=False,
        arg_names=("logits", "y"),
        cases={"values": _sce_values, "edge": _sce_edge, "hidden": _sce_hidden},
        runners={"gradient": _gradient_runner("softmax_cross_entropy", _sce_grad_case)},
        mistakes=SCE_MISTAKES,
        # the exercise is the log-sum-exp: log_softmax does it, and mlp_loss contains this loss
        forbid=(*_SOFTMAX_CORE, "cross_entropy", "mlp_loss"),
        output_names=("loss", "dlogits"),
    ),
    FunctionSpec(
        name="binary_cross_entropy_with_logits",
        concept="binary_cross_entropy_with_logits",
        keep_float32=False,
        arg_names=("logits", "y"),
        cases={"values": _bce_values, "edge": _bce_edge, "hidden": _bce_hidden},
        runners={"gradient": _gradient_runner("binary_cross_entropy_with_logits", _bce_grad_case)},
        mistakes=BCE_MISTAKES,
        # the exercise is the stable log(1 + exp(x)): softplus does it (and a two-class
        # log_softmax of (0, x) too)
        forbid=("binary_cross_entropy_with_logits", "softplus", "log_softmax"),
        output_names=("loss", "dlogits"),
    ),
    FunctionSpec(
        name="max_margin_loss",
        concept="max_margin_loss",
        keep_float32=False,
        arg_names=("s", "s_c"),
        cases={"values": _mm_values, "hidden": _mm_hidden},
        runners={"values": _mm_runner},
        mistakes=MM_MISTAKES,
        output_names=("loss", "ds", "ds_c"),
    ),
]

_P = Part
MANIFEST = [
    _P(LESSON, "softmax", "softmax", "values", 2, False, "1-D, 2-D and 3-D logits"),
    _P(LESSON, "softmax", "softmax", "edge", 2, False, "large logits, one sample, float32"),
    _P(LESSON, "softmax", "softmax", "hidden", 2, True),
    _P(LESSON, "softmax", "softmax_jacobian", "values", 2, False, "values and numerical check"),
    _P(LESSON, "softmax", "softmax_jacobian", "hidden", 1, True),
    _P(LESSON, "cross_entropy", "cross_entropy", "values", 2, False),
    _P(LESSON, "cross_entropy", "cross_entropy", "hidden", 1, True),
    _P(LESSON, "softmax_cross_entropy", "softmax_cross_entropy", "values", 2, False),
    _P(
        LESSON,
        "softmax_cross_entropy",
        "softmax_cross_entropy",
        "gradient",
        1,
        False,
        "gradient check",
    ),
    _P(LESSON, "softmax_cross_entropy", "softmax_cross_entropy", "edge", 1, False),
    _P(LESSON, "softmax_cross_entropy", "softmax_cross_entropy", "hidden", 2, True),
    _P(
        LESSON,
        "binary_cross_entropy_with_logits",
        "binary_cross_entropy_with_logits",
        "values",
        1,
        False,
    ),
    _P(
        LESSON,
        "binary_cross_entropy_with_logits",
        "binary_cross_entropy_with_logits",
        "gradient",
        1,
        False,
    ),
    _P(
        LESSON,
        "binary_cross_entropy_with_logits",
        "binary_cross_entropy_with_logits",
        "edge",
        1,
        False,
    ),
    _P(
        LESSON,
        "binary_cross_entropy_with_logits",
        "binary_cross_entropy_with_logits",
        "hidden",
        1,
        True,
    ),
    _P(LESSON, "max_margin_loss", "max_margin_loss", "values", 2, False),
    _P(LESSON, "max_margin_loss", "max_margin_loss", "hidden", 1, True),
]

register(LESSON, SPECS, MANIFEST)

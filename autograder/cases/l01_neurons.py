"""Lesson 01_neurons: activations and their derivatives, a neuron, a layer, XOR by hand."""

from __future__ import annotations

import numpy as np

from ..diagnose import Mistake
from ..framework import Case, FunctionSpec, Part, call_reference, reference, register
from . import _common as common

LESSON = "01_neurons"


def _sig(a):
    a = np.asarray(a, dtype=float)
    return 0.5 * (1 + np.tanh(0.5 * a))  # overflow-free sigmoid, the grader's own


def _cases(*gens):
    def make(rng):
        out = []
        for g in gens:
            out += g(rng)
        return out

    return make


# -------------------------------------------------------------------------------- activations

SIGMOID_MISTAKES = [
    Mistake(
        "exp over 1 + exp",
        lambda a: np.exp(a) / (1 + np.exp(a)),
        "computing exp(a) / (1 + exp(a)) overflows for large a (inf / inf = NaN). Use "
        "1 / (1 + exp(-a)) where a >= 0 and exp(a) / (1 + exp(a)) where a < 0 "
        "(or an equivalent formula such as 0.5 * (1 + tanh(a / 2))).",
    ),
    Mistake(
        "sign error",
        lambda a: 1 / (1 + np.exp(a)),
        "a sign error: you computed 1 / (1 + exp(a)) = σ(-a); the sigmoid is 1 / (1 + exp(-a)).",
    ),
    Mistake("tanh", lambda a: np.tanh(a), "you computed tanh(a), not the sigmoid."),
    Mistake(
        "clipped",
        lambda a: 1 / (1 + np.exp(-np.clip(a, -10, 10))),
        "clipping a to a small range such as [-10, 10] changes the result for large |a|; "
        "use a formula that cannot overflow instead (exp(−|a|) in two branches).",
    ),
]

SIGMOID_GRAD_MISTAKES = [
    Mistake(
        "a(1-a)",
        lambda a: a * (1 - a),
        "you applied σ'(a) = σ(1 − σ) to a itself: compute s = σ(a) first, then s * (1 − s).",
    ),
    Mistake("sigmoid itself", _sig, "you returned σ(a) itself, not its derivative σ(a)(1 − σ(a))."),
    Mistake(
        "tanh formula",
        lambda a: 1 - _sig(a) ** 2,
        "that is tanh's derivative formula 1 − s²; for the sigmoid it is s(1 − s).",
    ),
    Mistake(
        "sign", lambda a: -_sig(a) * (1 - _sig(a)), "a sign error: σ'(a) = +σ(a)(1 − σ(a)) > 0."
    ),
    Mistake(
        "exp(-a) / (1 + exp(-a))²",
        lambda a: np.exp(-a) / (1 + np.exp(-a)) ** 2,
        "exp(−a) / (1 + exp(−a))² overflows for large negative a (inf / inf = NaN). The "
        "derivative is symmetric, σ'(a) = σ'(−a), so use e = exp(−|a|) and e / (1 + e)², or "
        "compute s = sigmoid(a) with your stable sigmoid and return s * (1 − s).",
    ),
    Mistake(
        "exp(a) / (1 + exp(a))²",
        lambda a: np.exp(a) / (1 + np.exp(a)) ** 2,
        "exp(a) / (1 + exp(a))² overflows for large positive a (inf / inf = NaN). The "
        "derivative is symmetric, σ'(a) = σ'(−a), so use e = exp(−|a|) and e / (1 + e)², or "
        "compute s = sigmoid(a) with your stable sigmoid and return s * (1 − s).",
    ),
]

TANH_MISTAKES = [
    Mistake(
        "naive exp formula",
        lambda a: (np.exp(a) - np.exp(-a)) / (np.exp(a) + np.exp(-a)),
        "(e^a − e^−a) / (e^a + e^−a) overflows for large |a| (inf / inf = NaN); use np.tanh, "
        "or rewrite with exp(−2|a|), which never overflows.",
    ),
    Mistake(
        "one-sided exp formula",
        lambda a: (1 - np.exp(-2 * a)) / (1 + np.exp(-2 * a)),
        "(1 − e^−2a) / (1 + e^−2a) overflows for large negative a (inf / inf = NaN); use the "
        "sign symmetry tanh(−a) = −tanh(a) or np.tanh.",
    ),
    Mistake(
        "sinh / cosh",
        lambda a: np.sinh(a) / np.cosh(a),
        "np.sinh(a) / np.cosh(a) overflows for |a| > 710 (inf / inf = NaN); use np.tanh, or "
        "rewrite with exp(−2|a|), which never overflows.",
    ),
    Mistake("2σ(a)−1", lambda a: 2 * _sig(a) - 1, "2σ(a) − 1 is tanh(a/2); tanh(a) = 2σ(2a) − 1."),
    Mistake("sigmoid", _sig, "you computed the sigmoid, not tanh."),
]

TANH_GRAD_MISTAKES = [
    Mistake("1-a²", lambda a: 1 - a**2, "you computed 1 − a²; the derivative is 1 − tanh(a)²."),
    Mistake("1-tanh", lambda a: 1 - np.tanh(a), "forgot to square: it is 1 − tanh(a)²."),
    Mistake(
        "sigmoid formula",
        lambda a: np.tanh(a) * (1 - np.tanh(a)),
        "that is the sigmoid's formula s(1 − s); tanh' = 1 − tanh(a)².",
    ),
    Mistake("sign", lambda a: np.tanh(a) ** 2 - 1, "a sign error: tanh'(a) = 1 − tanh(a)² ≥ 0."),
    Mistake(
        "half",
        lambda a: 0.5 * (1 - np.tanh(a) ** 2),
        "your values are half of tanh'(a) = 1 − tanh(a)². If you started from "
        "tanh(a) = 2σ(2a) − 1, the chain rule gives 2 · σ'(2a) · 2 = 4σ'(2a): the inner 2a "
        "contributes a factor 2.",
    ),
]

RELU_MISTAKES = [
    Mistake(
        "np.max reduces",
        lambda a: np.max(a, 0),
        "np.max(a, 0) takes the maximum *along axis 0* (a reduction); the elementwise "
        "maximum is np.maximum(a, 0).",
    ),
    Mistake("abs", np.abs, "you computed |a|; ReLU sets negative values to 0."),
    Mistake(
        "min", lambda a: np.minimum(a, 0), "np.minimum keeps the negative part; use np.maximum."
    ),
    Mistake(
        "indicator",
        lambda a: a > 0,
        "you returned the indicator a > 0 (that is relu_grad); relu(a) = max(a, 0).",
    ),
]

RELU_GRAD_MISTAKES = [
    Mistake(
        "grad at zero is 1",
        lambda a: (np.asarray(a) >= 0).astype(float),
        "at a = 0 your derivative is 1; the course's convention is relu_grad(0) = 0 "
        "(use a > 0, not a >= 0).",
    ),
    Mistake(
        "half at zero",
        lambda a: np.heaviside(a, 0.5),
        "at a = 0 your derivative is 0.5; the course's convention is relu_grad(0) = 0.",
    ),
    Mistake("relu itself", lambda a: np.maximum(a, 0), "you returned relu(a), not its derivative."),
    Mistake("sign", np.sign, "np.sign gives −1 for negative a; the slope of ReLU there is 0."),
]


def _leaky(a, k=0.01):
    return np.where(np.asarray(a) > 0, a, k * np.asarray(a))


LEAKY_MISTAKES = [
    Mistake(
        "ignored k",
        lambda a, k=0.01: np.where(a > 0, a, 0.01 * a),
        "you ignored the argument k and always used 0.01: use the k you are given.",
    ),
    Mistake(
        "swapped sides",
        lambda a, k=0.01: np.where(a > 0, k * a, a),
        "the slopes are swapped: slope 1 for a > 0 and k for a ≤ 0.",
    ),
    Mistake(
        "plain relu",
        lambda a, k=0.01: np.maximum(a, 0),
        "that is the plain ReLU: negative a should give k·a.",
    ),
    Mistake(
        "k*a everywhere",
        lambda a, k=0.01: k * a,
        "you scaled every value by k; only a ≤ 0 is scaled.",
    ),
    Mistake(
        "-k*a",
        lambda a, k=0.01: np.where(a > 0, a, -k * a),
        "negative inputs give positive outputs: for a ≤ 0 leaky ReLU is k·a (negative), not −k·a.",
    ),
]

LEAKY_GRAD_MISTAKES = [
    Mistake(
        "forgot k",
        lambda a, k=0.01: (a > 0).astype(float),
        "for a < 0 the slope is k, not 0 (that is ReLU's derivative).",
    ),
    Mistake(
        "ignored k",
        lambda a, k=0.01: np.where(a > 0, 1.0, 0.01),
        "you ignored the argument k and always used 0.01.",
    ),
    Mistake(
        "1 at zero",
        lambda a, k=0.01: np.where(a >= 0, 1.0, k),
        "at a = 0 your slope is 1; the course's convention, like relu_grad(0) = 0, takes the "
        "left slope k at 0 (use a > 0, not a >= 0).",
    ),
    Mistake(
        "swapped",
        lambda a, k=0.01: np.where(a > 0, k, 1.0),
        "the slopes are swapped: 1 for a > 0, k otherwise.",
    ),
    Mistake("function itself", _leaky, "you returned leaky_relu(a, k), not its derivative."),
    Mistake(
        "k*a for negatives",
        lambda a, k=0.01: np.where(a > 0, 1.0, k * a),
        "for a ≤ 0 you returned k·a, the value of leaky ReLU there; its slope is the constant k.",
    ),
    Mistake(
        "-k",
        lambda a, k=0.01: np.where(a > 0, 1.0, -k),
        "for a ≤ 0 the slope is +k (leaky ReLU is k·a there), not −k.",
    ),
]


def _k_cases(rng: np.random.Generator, hidden: bool = False) -> list[Case]:
    """leaky_relu cases pass k explicitly (and once rely on the default)."""
    a = rng.normal(0, 3, size=(4, 5))
    a[0, :2] = 0.0
    base = [
        Case(
            "small example, k = 0.1",
            (np.array([-2.0, -0.5, 0.0, 0.5, 2.0]),),
            {"k": 0.1},
            show=True,
        ),
        Case("random matrix, k = 0.2", (a,), {"k": 0.2}),
        Case("default k", (a,)),
        Case("float32 input, k = 0.05", (a.astype(np.float32),), {"k": 0.05}),
    ]
    if hidden:
        base = [
            Case("hidden random, k = 0.3", (rng.normal(0, 5, size=19),), {"k": 0.3}),
            Case("hidden large values, k = 0.01", (rng.normal(0, 500, size=(3, 3)),), {"k": 0.01}),
            Case("hidden zeros, k = 0.25", (np.zeros(4),), {"k": 0.25}),
            Case("hidden float32, default k", (rng.normal(0, 2, size=7).astype(np.float32),)),
        ]
    return base


def _default_k(ctx, fn) -> None:
    """Fail with a precise message when the default of ``k`` is not 0.01."""
    a = np.array([-3.0, -1.0, -0.25, 0.0, 0.5, 2.0])
    default = ctx.call(fn, (a,), label="called without k")
    explicit = ctx.call(fn, (a,), {"k": 0.01}, label="k = 0.01")
    same_shape = (
        isinstance(default, np.ndarray)
        and isinstance(explicit, np.ndarray)
        and default.shape == explicit.shape
    )
    with np.errstate(all="ignore"):
        differs = same_shape and not np.allclose(default, explicit, rtol=1e-6, atol=1e-9)
    if differs:
        ctx.fail(
            f"Called without k, your {ctx.spec.name} gives other values than with k = 0.01: "
            f"the default must be k=0.01, as in the signature {ctx.spec.name}(a, k=0.01).",
            mistake="wrong default k",
        )


def _with_default_k(run=None):
    def runner(ctx, fn):
        _default_k(ctx, fn)
        if run is None:
            ctx.run_cases(fn)
        else:
            run(ctx, fn)

    return runner


_OVERFLOW_INPUTS = np.array([-1000.0, -710.0, -100.0, 0.0, 100.0, 710.0, 1000.0])


_OVERFLOW_FIX = {
    "sigmoid": "e = np.exp(-np.abs(a)), then 1 / (1 + e) where a >= 0 and e / (1 + e) where a < 0",
    "tanh": "e = np.exp(-2 * np.abs(a)), then np.sign(a) * (1 - e) / (1 + e), or simply np.tanh(a)",
}


def _overflow_free_hidden(ctx, fn) -> None:
    """The hidden cases, then: the answer cell asks for a sigmoid (and tanh) that never
    overflows, not only one whose result rounds right after an overflow (1 / (1 + exp(1000))
    = 1 / inf = 0). The visible edge part shows the overflow as a hint; this part enforces it.
    (It lives here, not in "edge", because the framework's own tests use a naive sigmoid's
    edge part as the example of an overflow that is only hinted at.)"""
    ctx.run_cases(fn)
    name = ctx.spec.name

    def overflows(a):
        with np.errstate(over="raise"):
            try:
                fn(a)
            except FloatingPointError:
                return True
        return False

    for dtype in (np.float64, np.float32):
        label = np.dtype(dtype).name
        if ctx.call(overflows, (_OVERFLOW_INPUTS.astype(dtype),), label="overflow check"):
            ctx.fail(
                f"Your {name} returns the right values, but for large |a| ({label} input) it "
                "computes exp of a large number on the way, which overflows to inf (NumPy "
                "warns about it; the edge check showed it as a hint), and "
                f"{name} must not overflow. Note that np.where evaluates *both* branches for "
                "every entry, and that clipping a at ±500 still overflows in float32 "
                f"(exp(89) = inf there). Only exponentiate non-positive numbers: "
                f"{_OVERFLOW_FIX[name]}.",
                mistake="exp overflows",
            )


def _act_spec(name, concept, mistakes, *, int_ok=True, hint="", forbid=()) -> FunctionSpec:
    edge = [common.elementwise_edge] + ([common.integer_cases] if int_ok else [])
    return FunctionSpec(
        name=name,
        concept=concept,
        arg_names=("a",),
        cases={
            "values": _cases(common.elementwise_values),
            "edge": _cases(*edge),
            "hidden": _cases(common.elementwise_hidden),
        },
        mistakes=mistakes,
        forbid=(concept, f"{concept}_grad", *forbid),
        hint=hint,
    )


def _grad_runner(act_name: str, **kwargs):
    def run(ctx, fn):
        ctx.run_cases(fn)
        common.check_numeric_slope(ctx, fn, act_name, ctx.rng, **kwargs)

    return run


_RELU_ALIASES = ("relu_forward", "relu_backward", "leaky_relu", "leaky_relu_grad")

SPECS = [
    _act_spec("sigmoid", "sigmoid", SIGMOID_MISTAKES),
    _act_spec("sigmoid_grad", "sigmoid", SIGMOID_GRAD_MISTAKES),
    _act_spec("tanh", "tanh", TANH_MISTAKES),
    _act_spec("tanh_grad", "tanh", TANH_GRAD_MISTAKES),
    # relu_forward / relu_backward (lesson 03) compute relu and relu_grad too, and so does
    # leaky_relu(a, k=0) (with its gradient).
    _act_spec("relu", "relu", RELU_MISTAKES, int_ok=False, forbid=_RELU_ALIASES),
    _act_spec("relu_grad", "relu", RELU_GRAD_MISTAKES, int_ok=False, forbid=_RELU_ALIASES),
]
for _spec in SPECS:
    if _spec.name.endswith("_grad"):
        _spec.runners["values"] = _grad_runner(_spec.name[: -len("_grad")])
for _spec in SPECS:
    if _spec.name in _OVERFLOW_FIX:  # "must not overflow" (the answer cells' docstrings)
        _spec.runners["hidden"] = _overflow_free_hidden

SPECS += [
    FunctionSpec(
        name="leaky_relu",
        concept="leaky_relu",
        arg_names=("a",),
        cases={"values": _k_cases, "hidden": lambda rng: _k_cases(rng, hidden=True)},
        runners={"values": _with_default_k(), "hidden": _with_default_k()},
        mistakes=LEAKY_MISTAKES,
        # relu(a) - k relu(-a) is leaky_relu: relu's reference would do the core
        forbid=("leaky_relu", "leaky_relu_grad", "relu", "relu_grad"),
    ),
    FunctionSpec(
        name="leaky_relu_grad",
        concept="leaky_relu",
        arg_names=("a",),
        cases={"values": _k_cases, "hidden": lambda rng: _k_cases(rng, hidden=True)},
        runners={
            "values": _with_default_k(_grad_runner("leaky_relu", k=0.2)),
            "hidden": _with_default_k(),
        },
        mistakes=LEAKY_GRAD_MISTAKES,
        forbid=("leaky_relu", "leaky_relu_grad", "relu", "relu_grad"),
    ),
]

# -------------------------------------------------------------------------------- neuron, layer


def _tanh(z):
    return np.tanh(z)


def _identity(z):
    return z


def _step(z):
    return np.where(z > 0, 1.0, 0.0).astype(np.asarray(z).dtype)


NEURON_MISTAKES = [
    Mistake(
        "forgot g",
        lambda X, w, b, g: X @ w + b,
        "you returned the pre-activation X @ w + b; apply g to it.",
    ),
    Mistake("forgot b", lambda X, w, b, g: g(X @ w), "the bias b is missing: g(X @ w + b)."),
    Mistake(
        "bias after g",
        lambda X, w, b, g: g(X @ w) + b,
        "the bias is added after the activation; it belongs inside: g(X @ w + b).",
    ),
    Mistake(
        "minus b", lambda X, w, b, g: g(X @ w - b), "a sign error: the bias is added, g(X @ w + b)."
    ),
    Mistake(
        "summed over axis 0",
        lambda X, w, b, g: g(np.sum(X * w, axis=0) + b),
        "np.sum(X * w, axis=0) adds up the samples (down the columns); each sample is a row, "
        "so sum over its features: np.sum(X * w, axis=1), or simply X @ w.",
    ),
]

LAYER_MISTAKES = [
    Mistake(
        "transposed W",
        lambda X, W, b, g: g(X @ W + b),
        "W is used transposed: W has shape (M, D) (one row per neuron), so the layer "
        "computes X @ W.T + b.",
    ),
    Mistake(
        "forgot g", lambda X, W, b, g: X @ W.T + b, "you returned the pre-activation; apply g."
    ),
    Mistake("forgot b", lambda X, W, b, g: g(X @ W.T), "the bias b is missing: g(X @ W.T + b)."),
    Mistake(
        "bias after g",
        lambda X, W, b, g: g(X @ W.T) + b,
        "the bias is added after the activation; it belongs inside: g(X @ W.T + b).",
    ),
    Mistake(
        "bias on the wrong axis",
        lambda X, W, b, g: g(X @ W.T + b[:, None]),
        "the bias is broadcast along the wrong axis: b has one entry per neuron (column), "
        "so add it as X @ W.T + b, not b[:, None].",
    ),
    Mistake(
        "output transposed",
        lambda X, W, b, g: g(X @ W.T + b).T,
        "the output is transposed, one row per neuron: it must be (N, M), one row per sample "
        "(X @ W.T + b, or np.stack(..., axis=1) if you build it neuron by neuron).",
    ),
]


def _neuron_cases(rng: np.random.Generator, hidden: bool = False) -> list[Case]:
    X = rng.normal(size=(5, 3))
    w = rng.normal(size=3)
    cases = [
        Case(
            "small example, g = identity",
            (np.array([[1.0, 2.0], [0.0, -1.0]]), np.array([0.5, -1.0]), 0.25, _identity),
            show=True,
        ),
        Case("random X (5, 3), g = tanh", (X, w, 0.3, _tanh)),
        Case("one sample, g = step", (X[:1], w, -0.2, _step)),
        Case(
            "float32, g = tanh",
            (X.astype(np.float32), w.astype(np.float32), np.float32(0.1), _tanh),
        ),
        Case("Fortran-ordered X", (np.asfortranarray(X), w, 1.5, _tanh)),
    ]
    if hidden:
        X = rng.normal(size=(9, 4))
        cases = [
            Case("hidden batch, tanh", (X, rng.normal(size=4), -0.7, _tanh)),
            Case("hidden zeros", (np.zeros((3, 4)), rng.normal(size=4), 0.9, _tanh)),
            Case("hidden large weights", (X, 100 * rng.normal(size=4), 2.0, _tanh)),
            Case("hidden identity", (X[:, :2], rng.normal(size=2), 0.0, _identity)),
        ]
    return cases


def _layer_cases(rng: np.random.Generator, hidden: bool = False) -> list[Case]:
    X = rng.normal(size=(4, 3))
    W = rng.normal(size=(2, 3))
    b = rng.normal(size=2)
    Ws = rng.normal(size=(3, 3))
    cases = [
        Case(
            "small example, g = identity",
            (
                np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]),
                np.array([[1.0, 2.0], [3.0, 4.0], [0.0, -1.0]]),
                np.array([0.5, 0.0, -1.0]),
                _identity,
            ),
            show=True,
        ),
        Case("X (4, 3), W (2, 3), g = tanh", (X, W, b, _tanh)),
        Case("square W (3, 3), N = 3, g = identity", (X[:3], Ws, rng.normal(size=3), _identity)),
        Case("one sample", (X[:1], W, b, _tanh)),
        Case("float32", (X.astype(np.float32), W.astype(np.float32), b.astype(np.float32), _tanh)),
    ]
    if hidden:
        cases = [
            Case(
                "hidden square layer",
                (rng.normal(size=(5, 5)), rng.normal(size=(5, 5)), rng.normal(size=5), _tanh),
            ),
            Case(
                "hidden wide layer",
                (rng.normal(size=(6, 2)), rng.normal(size=(7, 2)), rng.normal(size=7), _step),
            ),
            Case(
                "hidden N = M",
                (rng.normal(size=(4, 3)), rng.normal(size=(4, 3)), rng.normal(size=4), _identity),
            ),
            Case(
                "hidden non-contiguous W",
                (rng.normal(size=(3, 4)), rng.normal(size=(5, 4))[::2], rng.normal(size=3), _tanh),
            ),
        ]
    return cases


def _layer_shape(ctx, fn):
    for N, D, M in [(4, 3, 2), (1, 5, 7)]:
        X, W, b = ctx.rng.normal(size=(N, D)), ctx.rng.normal(size=(M, D)), ctx.rng.normal(size=M)
        got = ctx.call(fn, (X, W, b, _tanh), label=f"X {X.shape}, W {W.shape}")
        shape = getattr(got, "shape", None)
        if shape != (N, M):
            ctx.fail(
                f"For X of shape {X.shape} and W of shape {W.shape} the output has shape "
                f"{shape}; expected (N, M) = {(N, M)}: one row per sample, one column per neuron."
            )


# -------------------------------------------------------------------------------- XOR

_XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
_TABLES = {
    (0, 1, 1, 0): None,
    (0, 1, 1, 1): "Your network computes OR: it also answers 1 on (1, 1).",
    (0, 0, 0, 1): "Your network computes AND.",
    (
        1,
        0,
        0,
        1,
    ): "Your network computes XNOR, the opposite of XOR: flip the sign of w and adjust c.",
    (1, 1, 1, 0): "Your network computes NAND.",
}


def _xor_outputs(p, transpose=False):
    W = np.asarray(p["W"], dtype=float)
    if transpose:
        W = W.T
    hidden = np.maximum(_XOR_X @ W.T + np.asarray(p["b"], dtype=float), 0)
    return hidden @ np.asarray(p["w"], dtype=float) + float(np.asarray(p["c"]))


def _xor_get(ctx, fn):
    got = ctx.call(fn, (), arg_names=())
    if not isinstance(got, dict):
        ctx.fail(
            f"xor_params() returned a {type(got).__name__}; return a dict with keys W, b, w, c."
        )
    return got


def _xor_shape(ctx, fn):
    got = _xor_get(ctx, fn)
    if set(got) != {"W", "b", "w", "c"}:
        ctx.fail(f"The dict has keys {sorted(map(str, got))}; expected exactly W, b, w, c.")
    for key, shape in (("W", (2, 2)), ("b", (2,)), ("w", (2,)), ("c", ())):
        arr = np.asarray(got[key]) if not isinstance(got[key], dict) else None
        if arr is None or arr.dtype.kind not in "biuf" or arr.shape != shape:
            what = "a dict" if arr is None else f"shape {arr.shape}, dtype {arr.dtype}"
            ctx.fail(f"Entry {key} has {what}; expected numbers of shape {shape}.")


def _xor_values(ctx, fn):
    _xor_shape(ctx, fn)
    got = _xor_get(ctx, fn)
    with np.errstate(all="ignore"):
        out = _xor_outputs(got)
    target = np.array([0.0, 1.0, 1.0, 0.0])
    if np.all(np.abs(out - target) < 1e-6):
        return
    lines = [
        "w @ relu(W @ x + b) + c gives "
        + ", ".join(
            f"{tuple(int(v) for v in x)} → {o:.3g}" for x, o in zip(_XOR_X, out, strict=True)
        )
        + "; XOR needs 0, 1, 1, 0."
    ]
    mistake = None
    with np.errstate(all="ignore"):
        transposed = _xor_outputs(got, transpose=True)
    if np.all(np.abs(transposed - target) < 1e-6):
        mistake = "W transposed"
        lines.append(
            "With W transposed it would be right: row i of W holds the weights of hidden unit i "
            "(W @ x), so W[i, j] connects input j to hidden unit i."
        )
    elif np.all(np.isfinite(out)) and np.ptp(out - target) < 1e-6:
        mistake = "c off"
        lines.append(
            f"Every output is off by the same amount, {out[0]:.3g}: the hidden layer and w are "
            "right, only c is not (subtract that amount from c)."
        )
    elif (
        np.all(np.isfinite(out))
        and abs(out[1] - out[2]) < 1e-6
        and np.all(np.abs(out[[0, 3]]) < 1e-6)
        and abs(out[1]) > 1e-6
    ):
        mistake = "w scaled"
        lines.append(
            f"The pattern is right but the 1s come out as {out[1]:.3g}: scale w (and c) by "
            f"1 / {out[1]:.3g}."
        )
    else:
        table = tuple(int(v) for v in np.round(out)) if np.all(np.isfinite(out)) else None
        if table in _TABLES and _TABLES[table] and np.all(np.abs(out - np.round(out)) < 1e-6):
            lines.append(_TABLES[table])
            mistake = "computes " + _TABLES[table].split("computes ")[1].split()[0].strip(".:,")
        elif np.ptp(out) < 1e-9:
            mistake = "constant output"
            lines.append(
                "The output is the same for every input: both hidden units are dead or identical."
            )
        else:
            lines.append(
                "Trace the four inputs by hand through the hidden layer to find which one is off."
            )
    ctx.fail("\n    ".join(lines), mistake=mistake)


SPECS += [
    FunctionSpec(
        name="neuron_forward",
        concept="neuron_forward",
        arg_names=("X", "w", "b", "g"),
        cases={"values": _neuron_cases, "hidden": lambda rng: _neuron_cases(rng, hidden=True)},
        mistakes=NEURON_MISTAKES,
        # a neuron is a layer with one row of W: those references compute it too
        forbid=("neuron_forward", "layer_forward", "linear_forward"),
        hint="the neuron computes g(X @ w + b): one pre-activation per row of X.",
    ),
    FunctionSpec(
        name="layer_forward",
        concept="layer_forward",
        arg_names=("X", "W", "b", "g"),
        cases={"values": _layer_cases, "hidden": lambda rng: _layer_cases(rng, hidden=True)},
        runners={"shape": _layer_shape},
        mistakes=LAYER_MISTAKES,
        forbid=("layer_forward", "neuron_forward", "linear_forward"),
        hint="the layer computes g(X @ W.T + b) with W of shape (M, D).",
    ),
    FunctionSpec(
        name="xor_params",
        concept="xor_params",
        arg_names=(),
        runners={"shape": _xor_shape, "values": _xor_values},
    ),
]

_P = Part
MANIFEST = [
    _P(LESSON, "sigmoid", "sigmoid", "values", 1, False, "values on small and random inputs"),
    _P(LESSON, "sigmoid", "sigmoid", "edge", 1, False, "large |a|, zeros, float32, integers"),
    _P(LESSON, "sigmoid", "sigmoid", "hidden", 1, True),
    _P(LESSON, "sigmoid", "sigmoid_grad", "values", 1, False, "values and numerical slope"),
    _P(LESSON, "sigmoid", "sigmoid_grad", "edge", 1, False, "large |a|, zeros, float32"),
    _P(LESSON, "sigmoid", "sigmoid_grad", "hidden", 1, True),
    _P(LESSON, "tanh", "tanh", "values", 1, False),
    _P(LESSON, "tanh", "tanh", "edge", 1, False),
    _P(LESSON, "tanh", "tanh", "hidden", 1, True),
    _P(LESSON, "tanh", "tanh_grad", "values", 1, False),
    _P(LESSON, "tanh", "tanh_grad", "hidden", 1, True),
    _P(LESSON, "relu", "relu", "values", 1, False),
    _P(LESSON, "relu", "relu", "edge", 1, False),
    _P(LESSON, "relu", "relu", "hidden", 1, True),
    _P(LESSON, "relu", "relu_grad", "values", 1, False),
    _P(LESSON, "relu", "relu_grad", "edge", 1, False),
    _P(LESSON, "relu", "relu_grad", "hidden", 1, True),
    _P(LESSON, "leaky_relu", "leaky_relu", "values", 1, False),
    _P(LESSON, "leaky_relu", "leaky_relu", "hidden", 1, True),
    _P(LESSON, "leaky_relu", "leaky_relu_grad", "values", 1, False),
    _P(LESSON, "leaky_relu", "leaky_relu_grad", "hidden", 1, True),
    _P(LESSON, "neuron_forward", "neuron_forward", "values", 2, False),
    _P(LESSON, "neuron_forward", "neuron_forward", "hidden", 1, True),
    _P(LESSON, "layer_forward", "layer_forward", "shape", 1, False),
    _P(LESSON, "layer_forward", "layer_forward", "values", 2, False),
    _P(LESSON, "layer_forward", "layer_forward", "hidden", 1, True),
    _P(LESSON, "xor_params", "xor_params", "shape", 1, False),
    _P(LESSON, "xor_params", "xor_params", "values", 2, False),
]

# Silence "imported but unused" for helpers kept for symmetry with later lessons.
_ = (call_reference, reference)

register(LESSON, SPECS, MANIFEST)

"""Lesson 04_init: initialisers (graded by statistics), activation stds, gradient norms."""

from __future__ import annotations

import itertools

import numpy as np

from ..diagnose import Mistake
from ..framework import Case, FunctionSpec, Part, call_reference, reference, register

LESSON = "04_init"

# ------------------------------------------------------------------------ random outputs


def check_uses_rng(ctx, fn, args: tuple, kwargs: dict, label: str, rng_index: int) -> None:
    """Same seed -> same output; another global seed changes nothing; another seed changes it."""

    def with_seed(seed):
        a = list(args)
        a[rng_index] = seed
        return tuple(a)

    first = np.asarray(ctx.call(fn, with_seed(11), kwargs, label=label))
    again = np.asarray(ctx.call(fn, with_seed(11), kwargs, label=label, global_seed=12345))
    if first.shape != again.shape or not np.array_equal(first, again):
        ctx.fail(
            f'On the case "{label}": two calls with the same rng gave different results when '
            "the global NumPy random state differed: your code used the global random state "
            "(np.random.rand, np.random.normal, ...). Draw every random number from the rng "
            "argument: rng = np.random.default_rng(rng); rng.normal(...)."
        )
    other = np.asarray(ctx.call(fn, with_seed(12), kwargs, label=label))
    if other.shape == first.shape and np.array_equal(first, other):
        ctx.fail(
            f'On the case "{label}": two different seeds gave the same result: the rng '
            "argument is ignored (e.g. a fixed np.random.default_rng(0) inside). Use "
            "rng = np.random.default_rng(rng)."
        )
    gen = np.random.default_rng(5)
    out = np.asarray(ctx.call(fn, with_seed(gen), kwargs, label=label + ", rng a Generator"))
    if out.shape != first.shape:
        ctx.fail("with a np.random.Generator as rng the shape differs from the one with a seed.")


# ------------------------------------------------------------------------ initialisers

# name -> (distribution, std as a function of fans)
_STD = {
    "xavier_uniform": ("uniform", lambda i, o: np.sqrt(6 / (i + o)) / np.sqrt(3)),
    "xavier_normal": ("normal", lambda i, o: np.sqrt(2 / (i + o))),
    "he_normal": ("normal", lambda i, o: np.sqrt(2 / i)),
    "he_uniform": ("uniform", lambda i, o: np.sqrt(6 / i) / np.sqrt(3)),
}

# wrong standard deviations a student plausibly gets, with the message
_WRONG_STD = [
    (lambda i, o: np.sqrt(2 / o), "the fan is wrong: you used fan_out where fan_in belongs"),
    (lambda i, o: np.sqrt(6 / o) / np.sqrt(3), "the fan is wrong: fan_out instead of fan_in"),
    (lambda i, o: np.sqrt(1 / i), "the std is sqrt(1 / fan_in) (LeCun); He uses 2 / fan_in"),
    (
        lambda i, o: np.sqrt(6 / (i + o)),
        "the constant is wrong: 6 instead of 2 (or the uniform bound used as a standard deviation)",
    ),
    (
        lambda i, o: np.sqrt(2 / (i + o)),
        "the constant is wrong: 2 / (fan_in + fan_out) is the "
        "variance of Xavier normal; Xavier uniform's bound is sqrt(6 / (fan_in + fan_out))",
    ),
    (
        lambda i, o: np.sqrt(2 / (i + o)) / np.sqrt(3),
        "the normal std was used as the uniform "
        "bound: the bound is a = sqrt(3) * std = sqrt(6 / (fan_in + fan_out))",
    ),
    (
        lambda i, o: np.sqrt(2 / i) / np.sqrt(3),
        "the normal std was used as the uniform bound: a = sqrt(3) * std = sqrt(6 / fan_in)",
    ),
    (
        lambda i, o: np.sqrt(2 / i),
        "the std is sqrt(2 / fan_in) (He); this initialiser uses fan_in + fan_out",
    ),
    (
        lambda i, o: np.sqrt(1 / (i + o)),
        "the constant is wrong: the variance is 2 / (fan_in + fan_out)",
    ),
    (
        lambda i, o: 2 / (i + o),
        "you used the variance as the standard deviation: take the square root",
    ),
    (lambda i, o: 2 / i, "you used the variance as the standard deviation: take the square root"),
    (lambda i, o: np.sqrt(2 / (i * o)), "the fans are multiplied; the formula adds them"),
]


def _init_runner(name: str, shapes: tuple[tuple[int, int], ...]):
    dist, std_of = _STD[name]

    def run(ctx, fn):
        for k, (fan_in, fan_out) in enumerate(shapes):
            label = (
                f"hidden case {k + 1}" if ctx.hidden else f"fan_in = {fan_in}, fan_out = {fan_out}"
            )
            want_shape = "" if ctx.hidden else f" = {(fan_out, fan_in)}"
            W = ctx.call(fn, (fan_in, fan_out, 3), label=label)
            if not isinstance(W, np.ndarray):
                ctx.fail(f"{name} must return a NumPy array, got {type(W).__name__}.")
            if W.shape != (fan_out, fan_in):
                ctx.fail(
                    f'On the case "{label}": the shape is {W.shape}; a weight matrix has shape '
                    f"(fan_out, fan_in){want_shape}."
                )
            if not np.all(np.isfinite(W)):
                ctx.fail(f'On the case "{label}": the weights contain NaN or inf.')
            n = W.size
            std, mean, peak = float(W.std()), float(W.mean()), float(np.abs(W).max())
            want = float(std_of(fan_in, fan_out))
            if abs(mean) > 5 * want / np.sqrt(n):
                ctx.fail(f'On the case "{label}": the weights are not centred on 0.')
            if abs(std / want - 1) > 0.03:
                for wrong, message in _WRONG_STD:
                    alt = float(wrong(fan_in, fan_out))
                    if abs(std / alt - 1) < 0.03 and abs(alt / want - 1) > 0.05:
                        ctx.fail(
                            f'On the case "{label}": the spread of the weights is wrong. '
                            f"This looks like: {message}."
                        )
                ctx.fail(
                    f'On the case "{label}": the standard deviation of the weights is '
                    f"{std / want:.2f} times what {name} should give; check the formula."
                )
            ratio = peak / std
            if dist == "uniform" and ratio > np.sqrt(3) * 1.001:
                ctx.fail(
                    f'On the case "{label}": some weights lie outside [-a, a]: these look drawn '
                    "from a normal distribution; this initialiser draws uniformly "
                    "(rng.uniform(-a, a, size=...))."
                )
            if dist == "uniform" and ratio < np.sqrt(3) * 0.98:
                ctx.fail(f'On the case "{label}": the weights do not fill [-a, a] uniformly.')
            if dist == "normal" and ratio < 3.0:
                ctx.fail(
                    f'On the case "{label}": the weights are bounded like a uniform '
                    "distribution; this initialiser draws from a normal distribution "
                    "(rng.normal(0, std, size=...))."
                )
        check_uses_rng(ctx, fn, (shapes[0][0], shapes[0][1], 0), {}, "same and other seeds", 2)

    return run


def _orthogonal_runner(shapes):
    def run(ctx, fn):
        for k, (fan_in, fan_out, gain) in enumerate(shapes):
            label = (
                f"hidden case {k + 1}"
                if ctx.hidden
                else f"fan_in = {fan_in}, fan_out = {fan_out}, gain = {gain}"
            )
            want_shape = "" if ctx.hidden else f" = {(fan_out, fan_in)}"
            W = ctx.call(fn, (fan_in, fan_out, 4), {"gain": gain}, label=label)
            W = np.asarray(W)
            if W.shape != (fan_out, fan_in):
                ctx.fail(
                    f'On the case "{label}": the shape is {W.shape}; expected (fan_out, fan_in) '
                    f"{want_shape}."
                )
            gram = W @ W.T if fan_out <= fan_in else W.T @ W
            k = gram.shape[0]
            if np.allclose(gram, gain**4 * np.eye(k), atol=1e-8) and gain != 1:
                ctx.fail(
                    f'On the case "{label}": the rows have norm gain²: multiply the orthonormal '
                    "matrix by gain, not gain²."
                )
            if np.allclose(gram, np.eye(k), atol=1e-8) and gain != 1:
                ctx.fail(f'On the case "{label}": the gain is missing: return gain * Q.')
            if not np.allclose(gram, gain**2 * np.eye(k), atol=1e-8):
                ctx.fail(
                    f'On the case "{label}": the matrix is not (semi-)orthogonal: its '
                    + ("rows" if fan_out <= fan_in else "columns")
                    + " must be orthonormal (times gain). Take Q from np.linalg.qr of a "
                    "Gaussian matrix of shape (max, min) of the fans, transposed when "
                    "fan_out < fan_in."
                )
        check_uses_rng(ctx, fn, (shapes[0][0], shapes[0][1], 0), {}, "same and other seeds", 2)

    return run


# ------------------------------------------------------------------------ signals


def _stack(rng, widths, scale):
    return [rng.normal(0, scale / np.sqrt(a), size=(b, a)) for a, b in itertools.pairwise(widths)]


def _stds(X, weights, act, *, pre=False, input_too=False, transpose=False, ddof=0, per_unit=False):
    h = X
    out = [float(np.std(X, ddof=ddof))] if input_too else []
    for W in weights:
        z = h @ W if transpose else h @ W.T
        h = act(z)
        v = z if pre else h
        out.append(float(v.std(axis=0, ddof=ddof).mean() if per_unit else np.std(v, ddof=ddof)))
    return out


ACT_STDS_MISTAKES = [
    Mistake(
        "input layer included",
        lambda X, Ws, a: _stds(X, Ws, a, input_too=True),
        "the list starts with the std of the input X: report the L layers h_1 ... h_L only.",
    ),
    Mistake(
        "pre-activations",
        lambda X, Ws, a: _stds(X, Ws, a, pre=True),
        "these are the stds of the pre-activations h @ W.T; report the activations "
        "activation(h @ W.T).",
    ),
    Mistake(
        "W not transposed",
        lambda X, Ws, a: _stds(X, Ws, a, transpose=True),
        "W is used untransposed: W_l has shape (M, D), so h_l = activation(h_{l-1} @ W_l.T).",
    ),
    Mistake(
        "ddof 1",
        lambda X, Ws, a: _stds(X, Ws, a, ddof=1),
        "you used the sample std (ddof=1); use np.std (ddof=0) over all entries.",
    ),
    Mistake(
        "per unit",
        lambda X, Ws, a: _stds(X, Ws, a, per_unit=True),
        "you averaged per-unit stds; take the std over all entries of h_l (np.std(h)).",
    ),
]


def _act_cases(rng, hidden=False):
    tanh, relu = reference("tanh"), reference("relu")
    w = [4, 4, 4, 4, 4]
    if hidden:
        return [
            Case("hidden tanh", (rng.normal(size=(6, 5)), _stack(rng, [5, 5, 5, 5], 1.5), tanh)),
            Case("hidden relu", (rng.normal(size=(3, 3)), _stack(rng, [3, 3, 3], 1.0), relu)),
        ]
    return [
        Case("tanh, 4 square layers", (rng.normal(size=(5, 4)), _stack(rng, w, 1.0), tanh)),
        Case("relu, 4 square layers", (rng.normal(size=(5, 4)), _stack(rng, w, 1.4), relu)),
        Case("relu, widths 6-4-3", (rng.normal(size=(7, 6)), _stack(rng, [6, 4, 3], 1.0), relu)),
    ]


def _grad_norms(
    X, y, weights, act, grad, *, order=1, per_n=True, last_act=False, sq=False, grad_at_h=False
):
    hs, zs = [X], []
    h = X
    L = len(weights)
    for i, W in enumerate(weights):
        z = h @ W.T
        zs.append(z)
        h = act(z) if (i < L - 1 or last_act) else z
        hs.append(h)
    s = h - h.max(axis=1, keepdims=True)
    p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
    n = len(y)
    d = p.copy()
    d[np.arange(n), y] -= 1
    if per_n:
        d /= n
    if last_act:
        d = d * (grad(hs[-1]) if grad_at_h else grad(zs[-1]))
    norms = [0.0] * L
    for i in range(L - 1, -1, -1):
        g = d.T @ hs[i]
        norms[i] = float(np.sum(g * g)) if sq else float(np.linalg.norm(g))
        if i > 0:
            d = d @ weights[i]
            d = d * (grad(hs[i]) if grad_at_h else grad(zs[i - 1]))
    return norms[::order]


def _gn(**kw):
    def compute(X, y, Ws, act):
        grad = {
            id(reference("tanh")): reference("tanh_grad"),
            id(reference("relu")): reference("relu_grad"),
        }[id(act)]
        return _grad_norms(X, y, Ws, act, grad, **kw)

    return compute


GRAD_NORMS_MISTAKES = [
    Mistake(
        "reversed",
        _gn(order=-1),
        "the list is in the wrong order: return the norms in "
        "layer order, W_1 first (backprop visits the layers last to first).",
    ),
    Mistake(
        "no 1/N",
        _gn(per_n=False),
        "the gradients are N times too large: the loss is a "
        "mean, so δ_L = (softmax(z_L) − onehot(y)) / N.",
    ),
    Mistake(
        "last activation",
        _gn(last_act=True),
        "the activation is applied to the last layer "
        "too; the last layer gives the logits directly.",
    ),
    Mistake(
        "squared",
        _gn(sq=True),
        "you returned squared norms: the Frobenius norm is sqrt(sum(g ** 2)) (np.linalg.norm).",
    ),
    Mistake(
        "derivative at h",
        _gn(grad_at_h=True),
        "the activation's derivative is evaluated "
        "at the activation output; evaluate it at the pre-activation z = h @ W.T.",
    ),
]


def _gn_cases(rng, hidden=False):
    tanh, relu = reference("tanh"), reference("relu")

    def case(label, n, widths, act, scale):
        X = rng.normal(size=(n, widths[0]))
        y = rng.integers(0, widths[-1], size=n)
        return Case(label, (X, y, _stack(rng, widths, scale), act))

    if hidden:
        return [
            case("hidden tanh", 6, [4, 5, 5, 3], tanh, 1.2),
            case("hidden relu", 4, [3, 3, 3, 3], relu, 1.4),
        ]
    return [
        case("tanh, widths 4-4-4-3", 5, [4, 4, 4, 3], tanh, 1.0),
        case("relu, widths 5-6-6-4", 8, [5, 6, 6, 4], relu, 1.4),
        case("tanh, square 3-3-3", 4, [3, 3, 3], tanh, 2.0),
    ]


def _gn_numeric(ctx, fn):
    """The norms against centred differences of the grader's own loss (an independent oracle)."""
    rng = ctx.rng
    tanh = reference("tanh")
    X, y = rng.normal(size=(4, 3)), rng.integers(0, 3, size=4)
    Ws = _stack(rng, [3, 4, 3], 1.0)

    def loss(ws):
        h = X
        for i, W in enumerate(ws):
            h = h @ W.T
            if i < len(ws) - 1:
                h = np.tanh(h)
        s = h - h.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(s).sum(axis=1)) - s[np.arange(4), y]))

    norms = []
    for i, W in enumerate(Ws):
        g = np.zeros_like(W)
        for idx in np.ndindex(*W.shape):
            plus = [w.copy() for w in Ws]
            minus = [w.copy() for w in Ws]
            plus[i][idx] += 1e-5
            minus[i][idx] -= 1e-5
            g[idx] = (loss(plus) - loss(minus)) / 2e-5
        norms.append(float(np.linalg.norm(g)))
    ctx.compare_case(
        _as_array(fn),
        Case("norms measured numerically (tanh, 3-4-3)", (X, y, Ws, tanh), rtol=1e-6, atol=1e-9),
        expected=np.array(norms),
    )


def _as_array(fn):
    """A list of floats is the documented return type; compare it as a 1-D array."""

    def wrapped(*args):
        out = fn(*args)
        return np.asarray(out, dtype=float) if isinstance(out, (list, tuple)) else out

    return wrapped


def _values_runner(cases_fn):
    def run(ctx, fn):
        for case in cases_fn(ctx.rng, hidden=ctx.hidden):
            expected = np.asarray(call_reference(reference(ctx.spec.name), case.args))
            ctx.compare_case(_as_array(fn), case, expected=expected)

    return run


def _arrays(mistakes):
    return [Mistake(m.name, _as_array(m.compute), m.message) for m in mistakes]


_INIT_FORBID = (
    "xavier_uniform",
    "xavier_normal",
    "he_normal",
    "he_uniform",
    "orthogonal",
    "get_initializer",
    "lecun_normal",
)

SPECS = [
    FunctionSpec(
        name=name,
        concept="xavier_uniform",
        arg_names=("fan_in", "fan_out", "rng"),
        runners={
            "statistics": _init_runner(name, ((400, 300), (200, 500))),
            "hidden": _init_runner(name, ((700, 150), (123, 321))),
        },
        forbid=_INIT_FORBID,
    )
    for name in ("xavier_uniform", "xavier_normal", "he_normal", "he_uniform")
] + [
    FunctionSpec(
        name="orthogonal",
        concept="orthogonal",
        arg_names=("fan_in", "fan_out", "rng"),
        runners={
            "values": _orthogonal_runner(((5, 5, 1.0), (8, 3, 1.0), (3, 8, 2.0))),
            "hidden": _orthogonal_runner(((6, 4, 1.5), (4, 6, 0.5), (7, 7, 2.0))),
        },
        forbid=_INIT_FORBID,
    ),
    FunctionSpec(
        name="activation_stds",
        concept="activation_stds",
        arg_names=("X", "weights", "activation"),
        runners={"values": _values_runner(_act_cases), "hidden": _values_runner(_act_cases)},
        mistakes=_arrays(ACT_STDS_MISTAKES),
        forbid=("activation_stds", "gradient_norms"),
        rtol=1e-9,
        atol=1e-12,
    ),
    FunctionSpec(
        name="gradient_norms",
        concept="gradient_norms",
        arg_names=("X", "y", "weights", "activation"),
        runners={
            "values": _values_runner(_gn_cases),
            "gradient": _gn_numeric,
            "hidden": _values_runner(_gn_cases),
        },
        mistakes=_arrays(GRAD_NORMS_MISTAKES),
        forbid=("activation_stds", "gradient_norms"),
        rtol=1e-7,
        atol=1e-12,
    ),
]

_P = Part
MANIFEST = [
    *(
        p
        for name in ("xavier_uniform", "xavier_normal", "he_normal", "he_uniform")
        for p in (
            _P(
                LESSON,
                "xavier_uniform",
                name,
                "statistics",
                1,
                False,
                "shape, mean, std, distribution, rng",
            ),
            _P(LESSON, "xavier_uniform", name, "hidden", 1, True),
        )
    ),
    _P(
        LESSON,
        "orthogonal",
        "orthogonal",
        "values",
        2,
        False,
        "shape, orthonormal rows/columns, gain",
    ),
    _P(LESSON, "orthogonal", "orthogonal", "hidden", 1, True),
    _P(LESSON, "activation_stds", "activation_stds", "values", 2, False),
    _P(LESSON, "activation_stds", "activation_stds", "hidden", 1, True),
    _P(LESSON, "gradient_norms", "gradient_norms", "values", 2, False),
    _P(LESSON, "gradient_norms", "gradient_norms", "gradient", 1, False, "numerical check"),
    _P(LESSON, "gradient_norms", "gradient_norms", "hidden", 2, True),
]

register(LESSON, SPECS, MANIFEST)

__all__ = ["call_reference", "check_uses_rng"]

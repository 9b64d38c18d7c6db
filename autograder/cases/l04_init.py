"""Lesson 04_init: initialisers (graded by statistics), activation stds, gradient norms."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import itertools
import warnings

import numpy as np

from ..diagnose import Mistake, outputs_equal
from ..framework import Case, FunctionSpec, Part, call_reference, reference, register

LESSON = "04_init"

_get_state = np.random.get_state

# ------------------------------------------------------------------------ shared helpers


def _global_state_probe(fn):
    """``fn`` returning ``(output, touched)``: touched when the global NumPy state moved."""

    def probed(*args, **kwargs):
        before = _get_state()
        out = fn(*args, **kwargs)
        after = _get_state()
        same = np.array_equal(before[1], after[1]) and tuple(before[2:]) == tuple(after[2:])
        return out, not same

    return probed


def check_uses_rng(ctx, fn, args: tuple, kwargs: dict, label: str, rng_index: int) -> None:
    """Randomness only from the rng argument: the global NumPy state is left alone, the same
    seed gives the same output, another seed another one, and a Generator is accepted."""

    def with_seed(seed):
        a = list(args)
        a[rng_index] = seed
        return tuple(a)

    probe = _global_state_probe(fn)
    first, touched = ctx.call(probe, with_seed(11), kwargs, label=label)
    first = np.asarray(first)
    if touched:
        ctx.fail(
            f'On the case "{label}": your code used the global random state of NumPy '
            "(np.random.rand, np.random.randn, np.random.normal, np.random.seed, ...). Draw "
            "every random number from the rng argument: rng = np.random.default_rng(rng); "
            "rng.normal(...).",
            mistake="global random state",
        )
    again, _ = ctx.call(probe, with_seed(11), kwargs, label=label)
    again = np.asarray(again)
    if first.shape != again.shape or not np.array_equal(first, again):
        ctx.fail(
            f'On the case "{label}": two calls with the same seed gave different results: '
            "your code draws from a generator that ignores the rng argument (e.g. "
            "np.random.default_rng() with no argument, seeded from the clock). Use "
            "rng = np.random.default_rng(rng) and draw from that rng.",
            mistake="unseeded generator",
        )
    shifted, _ = ctx.call(probe, with_seed(11), kwargs, label=label, global_seed=12345)
    shifted = np.asarray(shifted)
    if first.shape != shifted.shape or not np.array_equal(first, shifted):
        ctx.fail(
            f'On the case "{label}": two calls with the same rng gave different results when '
            "the global NumPy random state differed: your code used the global random state. "
            "Draw every random number from the rng argument: rng = np.random.default_rng(rng).",
            mistake="global random state",
        )
    other, _ = ctx.call(probe, with_seed(12), kwargs, label=label)
    other = np.asarray(other)
    if other.shape == first.shape and np.array_equal(first, other):
        ctx.fail(
            f'On the case "{label}": two different seeds gave the same result: the rng '
            "argument is ignored (e.g. a fixed np.random.default_rng(0) inside). Use "
            "rng = np.random.default_rng(rng).",
            mistake="fixed seed",
        )
    gen = np.random.default_rng(5)
    out, _ = ctx.call(probe, with_seed(gen), kwargs, label=label + ", rng a Generator")
    if np.asarray(out).shape != first.shape:
        ctx.fail("with a np.random.Generator as rng the shape differs from the one with a seed.")


def check_defaults(ctx, fn, defaults: dict) -> None:
    """The hyperparameters of the spec's signature exist and have the spec's default values."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    shown = ", ".join(f"{k}={v!r}" for k, v in defaults.items())
    for key, value in defaults.items():
        param = params.get(key)
        if param is None:
            ctx.fail(
                f"{ctx.spec.name} has no parameter `{key}`: keep the signature of the "
                f"exercise, with {shown}.",
                mistake=f"no parameter {key}",
            )
        if param.default is inspect.Parameter.empty:
            ctx.fail(
                f"`{key}` has no default value: the signature of the exercise has {key}={value!r}.",
                mistake=f"no default for {key}",
            )
        try:
            same = bool(np.isclose(float(param.default), float(value), rtol=1e-12, atol=0))
        except (TypeError, ValueError):
            same = param.default == value
        if not same:
            ctx.fail(
                f"the default value of `{key}` is {param.default!r}; the exercise's signature "
                f"has {key}={value!r} (calls that leave it out must use that value).",
                mistake=f"wrong default for {key}",
            )


def ranked_cases_runner(cases_fn, prepare=None):
    """The default comparison, case by case, with the mistake catalogue ordered so that the
    entries reproducing the student's output on the most cases are tried first (a mistake is
    named by all the evidence, not by the first failing case alone)."""

    def run(ctx, fn, *companions):
        cases = cases_fn(ctx.rng)
        if prepare is not None:
            prepare(ctx, fn)
        spec = ctx.spec
        if spec.mistakes:
            got = []
            for case in cases:
                try:
                    got.append(ctx.call(fn, case.args, case.kwargs, label=case.label))
                except Exception:  # reported below, in case order, by compare_case
                    break

            def score(mistake):
                hits = 0
                for case, out in zip(cases, got, strict=False):
                    try:
                        with np.errstate(all="ignore"), warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            wrong = mistake.compute(*_copy(case.args), **case.kwargs)
                    except Exception:
                        continue
                    hits += outputs_equal(out, wrong)
                return -hits

            ranked = sorted(spec.mistakes, key=score)
            ctx.spec = _with_mistakes(spec, ranked)
        try:
            for case in cases:
                ctx.compare_case(fn, case)
        finally:
            ctx.spec = spec

    return run


def _copy(args):
    return copy.deepcopy(args)


def _with_mistakes(spec, mistakes):
    return dataclasses.replace(spec, mistakes=list(mistakes))


# ------------------------------------------------------------------------ initialisers

# name -> (distribution, constant C, fans F): the scale sqrt(C / F) is the uniform bound a or
# the normal standard deviation
_INIT = {
    "xavier_uniform": ("uniform", 6, "fan_in + fan_out"),
    "xavier_normal": ("normal", 2, "fan_in + fan_out"),
    "he_normal": ("normal", 2, "fan_in"),
    "he_uniform": ("uniform", 6, "fan_in"),
}
_FANS = {
    "fan_in + fan_out": lambda i, o: i + o,
    "fan_in": lambda i, o: i,
    "fan_out": lambda i, o: o,
    "fan_in * fan_out": lambda i, o: i * o,
    "max(fan_in, fan_out)": lambda i, o: max(i, o),
}


def _scale_candidates(name):
    """Wrong scales a student plausibly writes, each with the formula and what it means."""
    dist, C, F = _INIT[name]
    what = "bound a" if dist == "uniform" else "standard deviation"
    out = []
    for fans in _FANS:
        for c in (1, 2, 3, 6):
            for root in (True, False):
                if (fans, c, root) == (F, C, True):
                    continue
                den = f"({fans})" if " " in fans else fans
                formula = f"sqrt({c} / {den})" if root else f"{c} / {den}"
                notes = []
                if not root:
                    notes.append(f"the square root is missing (a variance used as the {what})")
                if fans != F:
                    if F == "fan_in" and fans == "fan_out":
                        notes.append("you used fan_out where fan_in belongs")
                    elif F == "fan_in":
                        notes.append(f"He/Kaiming uses fan_in only, not {fans}")
                    elif fans == "fan_in":
                        notes.append(
                            "Xavier/Glorot uses both fans, fan_in + fan_out (He uses fan_in)"
                        )
                    else:
                        notes.append(f"Xavier/Glorot divides by fan_in + fan_out, not {fans}")
                if c != C:
                    if dist == "uniform" and c == 2:
                        notes.append(
                            "that is the normal distribution's standard deviation; the "
                            "uniform bound is sqrt(3) times the std: a = sqrt(6 / ...)"
                        )
                    elif dist == "normal" and c == 6:
                        notes.append(
                            "that is the uniform distribution's bound; the normal std is "
                            "a / sqrt(3) = sqrt(2 / ...)"
                        )
                    elif F == "fan_in" and c == 1 and dist == "normal":
                        notes.append("that is LeCun's std; He uses 2 / fan_in for ReLU layers")
                    else:
                        notes.append(f"the constant is {c} instead of {C}")
                scale = (
                    (lambda i, o, c=c, f=_FANS[fans]: np.sqrt(c / f(i, o)))
                    if root
                    else (lambda i, o, c=c, f=_FANS[fans]: c / f(i, o))
                )
                message = f"your {what} looks like {formula}: " + "; ".join(notes)
                out.append((scale, message, formula))
    return out


def _kurtosis(W):
    d = W - W.mean()
    return float(np.mean(d**4) / np.mean(d**2) ** 2 - 3)


def _init_runner(name: str, shapes: tuple[tuple[int, int], ...]):
    dist, C, F = _INIT[name]
    want_formula = f"sqrt({C} / ({F}))" if " " in F else f"sqrt({C} / {F})"
    what = "bound a" if dist == "uniform" else "standard deviation"

    def scale_of(i, o):
        return float(np.sqrt(C / _FANS[F](i, o)))

    def run(ctx, fn):
        drawn = []
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
            W = W.astype(np.float64)
            n = W.size
            std, mean = float(W.std()), float(W.mean())
            want = scale_of(fan_in, fan_out) / (np.sqrt(3) if dist == "uniform" else 1.0)
            if abs(mean) > 6 * max(std, want) / np.sqrt(n):
                ctx.fail(
                    f'On the case "{label}": the weights are not centred on 0 (draw from '
                    + ("U(-a, a), not U(0, a)" if dist == "uniform" else "N(0, std²)")
                    + ").",
                    mistake="not centred",
                )
            # excess kurtosis: -1.2 for a uniform, 0 for a normal distribution
            kurt = _kurtosis(W)
            if dist == "uniform" and kurt > -0.6:
                ctx.fail(
                    f'On the case "{label}": the weights look drawn from a normal '
                    "distribution; this initialiser draws uniformly "
                    "(rng.uniform(-a, a, size=...)).",
                    mistake="normal instead of uniform",
                )
            if dist == "normal" and kurt < -0.6:
                ctx.fail(
                    f'On the case "{label}": the weights are bounded like a uniform '
                    "distribution; this initialiser draws from a normal distribution "
                    "(rng.normal(0, std, size=...)).",
                    mistake="uniform instead of normal",
                )
            drawn.append((label, fan_in, fan_out, W, std, want))
        for label, fan_in, fan_out, _W, std, want in drawn:
            if abs(std / want - 1) <= 0.03:
                continue
            # the observed scale (bound or std) against plausible wrong formulas, on every shape
            factor = np.sqrt(3) if dist == "uniform" else 1.0
            best = None
            for scale, message, formula in _scale_candidates(name):
                errs = [abs(np.log(s * factor / scale(i, o))) for _, i, o, _, s, _ in drawn]
                distinct = abs(scale(fan_in, fan_out) / scale_of(fan_in, fan_out) - 1) > 0.05
                if max(errs) < 0.03 and distinct and (best is None or max(errs) < best[0]):
                    best = (max(errs), message, formula)
            if best is not None:
                ctx.fail(
                    f'On the case "{label}": the spread of the weights is wrong. This looks '
                    f"like: {best[1]}. {name} uses {what} = {want_formula}.",
                    mistake=f"scale {best[2]}",
                )
            ctx.fail(
                f'On the case "{label}": the standard deviation of the weights is '
                f"{std / want:.2f} times what {name} should give; check the formula "
                f"({what} = {want_formula})."
            )
        if dist == "uniform":
            for label, fan_in, fan_out, W, _std, _want in drawn:
                a, peak = scale_of(fan_in, fan_out), float(np.abs(W).max())
                if peak > a * (1 + 1e-6):
                    ctx.fail(
                        f'On the case "{label}": some weights lie outside [-a, a] with '
                        f"a = {want_formula}.",
                        mistake="outside [-a, a]",
                    )
                if peak < a * (1 - 1e-3):
                    ctx.fail(
                        f'On the case "{label}": the weights do not fill [-a, a] with '
                        f"a = {want_formula}.",
                        mistake="does not fill [-a, a]",
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
                    f'On the case "{label}": the shape is {W.shape}; expected (fan_out, '
                    f"fan_in){want_shape}."
                )
            tol = 1e-5 if W.dtype == np.float32 else 1e-8
            W = W.astype(np.float64)
            rows = fan_out <= fan_in
            gram = W @ W.T if rows else W.T @ W
            eye = np.eye(gram.shape[0])
            if gain != 1 and np.allclose(gram, gain**4 * eye, atol=tol):
                ctx.fail(
                    f'On the case "{label}": the rows have norm gain²: multiply the orthonormal '
                    "matrix by gain, not gain².",
                    mistake="gain squared",
                )
            if gain != 1 and np.allclose(gram, eye, atol=tol):
                ctx.fail(
                    f'On the case "{label}": the gain is missing: return gain * Q.',
                    mistake="gain missing",
                )
            if gain != 1 and np.allclose(gram, gain * eye, atol=tol):
                ctx.fail(
                    f'On the case "{label}": the rows have norm sqrt(gain): multiply the '
                    "orthonormal matrix by gain itself.",
                    mistake="square root of the gain",
                )
            if not np.allclose(gram, gain**2 * eye, atol=tol):
                ctx.fail(
                    f'On the case "{label}": the matrix is not (semi-)orthogonal: its '
                    + ("rows" if rows else "columns")
                    + " must be orthonormal (times gain). Take Q from np.linalg.qr of a "
                    "Gaussian matrix of shape (max, min) of the fans, transposed when "
                    "fan_out < fan_in."
                )
            # the other direction: no input or output unit may be cut off (zero column/row)
            other = np.linalg.norm(W, axis=0 if rows else 1)
            if fan_in != fan_out and other.min() < 1e-6 * abs(gain):
                ctx.fail(
                    f'On the case "{label}": some '
                    + ("columns" if rows else "rows")
                    + " of W are zero (padding or slicing an identity): take the "
                    "orthonormal factor Q of a random Gaussian matrix of shape (max, min) of "
                    "the fans, so that every unit is connected.",
                    mistake="zero rows or columns",
                )
        W = np.asarray(ctx.call(fn, (6, 6, 4), label="gain left at its default"))
        if W.shape == (6, 6) and not np.allclose(W @ W.T, np.eye(6), atol=1e-5):
            ctx.fail(
                'On the case "gain left at its default": without a gain argument W @ W.T '
                "must be the identity: the default is gain=1.0.",
                mistake="wrong default for gain",
            )
        check_uses_rng(ctx, fn, (shapes[0][0], shapes[0][1], 0), {}, "same and other seeds", 2)

    return run


# ------------------------------------------------------------------------ signals


def _stack(rng, widths, scale):
    return [rng.normal(0, scale / np.sqrt(a), size=(b, a)) for a, b in itertools.pairwise(widths)]


def _stds(
    X,
    weights,
    act,
    *,
    pre=False,
    input_too=False,
    transpose=False,
    ddof=0,
    per_unit=False,
    per_sample=False,
    var=False,
    rms=False,
    last_linear=False,
    drop_last=False,
    tanh=False,
    unchained=False,
):
    h = X
    out = [float(np.std(X, ddof=ddof))] if input_too else []
    for k, W in enumerate(weights):
        z = (X if unchained else h) @ (W if transpose else W.T)
        h = z if (last_linear and k == len(weights) - 1) else (np.tanh(z) if tanh else act(z))
        v = z if pre else h
        if per_unit:
            s = float(v.std(axis=0, ddof=ddof).mean())
        elif per_sample:
            s = float(v.std(axis=1, ddof=ddof).mean())
        elif rms:
            s = float(np.sqrt(np.mean(v * v)))
        else:
            s = float(np.std(v, ddof=ddof))
        out.append(s * s if var else s)
    return out[:-1] if drop_last else out


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
    Mistake(
        "per sample",
        lambda X, Ws, a: _stds(X, Ws, a, per_sample=True),
        "you averaged the std of each sample (axis=1); take the std over all entries of h_l "
        "(np.std(h)).",
    ),
    Mistake(
        "variance",
        lambda X, Ws, a: _stds(X, Ws, a, var=True),
        "these are variances; return standard deviations (np.std, the square root).",
    ),
    Mistake(
        "not centred",
        lambda X, Ws, a: _stds(X, Ws, a, rms=True),
        "this is the root mean square sqrt(mean(h²)); the std subtracts the mean first "
        "(np.std(h)), which matters for ReLU outputs.",
    ),
    Mistake(
        "last layer linear",
        lambda X, Ws, a: _stds(X, Ws, a, last_linear=True),
        "the last layer has no activation in your stack; here every layer, the last one "
        "too, is h_l = activation(h_{l-1} @ W_l.T).",
    ),
    Mistake(
        "input instead of last",
        lambda X, Ws, a: _stds(X, Ws, a, input_too=True, drop_last=True),
        "the list starts with the std of the input X and misses the last layer: report "
        "h_1 ... h_L.",
    ),
    Mistake(
        "tanh hard-coded",
        lambda X, Ws, a: _stds(X, Ws, a, tanh=True),
        "the activation argument is ignored (np.tanh is hard-coded): call activation(...).",
    ),
    Mistake(
        "not chained",
        lambda X, Ws, a: _stds(X, Ws, a, unchained=True),
        "every layer is applied to X instead of the previous layer's output: "
        "h_l = activation(h_{l-1} @ W_l.T).",
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
    X,
    y,
    weights,
    act,
    grad,
    *,
    order=1,
    per_n=True,
    last_act=False,
    sq=False,
    grad_at_h=False,
    onehot=True,
    deriv=True,
    norm="fro",
    tanh_deriv=False,
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
    if onehot:
        d[np.arange(n), y] -= 1
    if per_n:
        d /= n
    if last_act:
        d = d * (grad(hs[-1]) if grad_at_h else grad(zs[-1]))
    norms = [0.0] * L
    for i in range(L - 1, -1, -1):
        g = d.T @ hs[i]
        if sq:
            norms[i] = float(np.sum(g * g))
        elif norm == "fro":
            norms[i] = float(np.linalg.norm(g))
        elif norm == "max":
            norms[i] = float(np.abs(g).max())
        else:
            norms[i] = float(np.linalg.norm(g, 2))
        if i > 0:
            d = d @ weights[i]
            if tanh_deriv:
                d = d * (1 - hs[i] ** 2)
            elif deriv:
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
    Mistake(
        "no one-hot",
        _gn(onehot=False),
        "δ_L is softmax(z_L) / N: subtract onehot(y), δ_L = (softmax(z_L) − onehot(y)) / N.",
    ),
    Mistake(
        "no derivative",
        _gn(deriv=False),
        "the activation's derivative is missing from the backward pass: "
        "δ_{l-1} = (δ_l @ W_l) * g'(z_{l-1}).",
    ),
    Mistake(
        "tanh derivative",
        _gn(tanh_deriv=True),
        "the derivative is tanh's 1 − h² whatever the activation; use the derivative of the "
        "activation you are given (DERIVATIVE[activation]) at z.",
    ),
    Mistake(
        "spectral norm",
        _gn(norm="spectral"),
        "np.linalg.norm(g, 2) of a matrix is its largest singular value; the Frobenius norm "
        "is np.linalg.norm(g) = sqrt(sum(g ** 2)).",
    ),
    Mistake(
        "max abs",
        _gn(norm="max"),
        "this is the largest |entry|; the Frobenius norm is sqrt(sum(g ** 2)).",
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

# references that propagate through a layer (the rule: AUTHORING.md, "forbid")
_STACK_CORE = ("activation_stds", "gradient_norms", "layer_forward", "linear_forward")

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
        # the exercise is the pass through the layers: a layer's reference would do it
        forbid=_STACK_CORE,
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
        forbid=(*_STACK_CORE, "linear_backward"),
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

__all__ = ["call_reference", "check_defaults", "check_uses_rng", "ranked_cases_runner"]

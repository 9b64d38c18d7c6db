"""Gradient checking: numerical gradients, relative errors, layer/model checks with a diagnosis.

The numerical gradient of a scalar function ``f`` is taken with centred differences,

    ∂f/∂x_i ≈ (f(x + h e_i) − f(x − h e_i)) / (2h),    h = 1e-5,

whose error is ``O(h²)`` for smooth ``f``. Analytic and numerical gradients are compared with

    rel_error(a, b) = max_i |a_i − b_i| / max(1e-8, |a_i| + |b_i|).

In float64 a correct backward pass gives about ``1e-10`` to ``1e-8``; the default threshold
here is ``1e-7``. When a check fails, :func:`diagnose` names what the mismatch looks like
(missing batch mean, sign error, transposed gradient, bias not summed over the batch, factor 2,
a ReLU kink straddled by the finite difference, ...).

:func:`check_layer` and :func:`check_model` run a whole module: they compare the gradient of
every parameter and of the input in one call and return a :class:`GradCheckReport`. Dropout is
made deterministic by restoring every sub-module's ``rng`` state before each forward pass (all
evaluations see the same mask), and batch statistics are handled by always perturbing one entry
of the *whole* batch and re-running the whole forward pass; running statistics are restored so
a check leaves the module as it found it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ._checks import as_float_array, as_rng, check_callable, check_real
from ._guard import reference

__all__ = [
    "GradCheckEntry",
    "GradCheckReport",
    "check_layer",
    "check_model",
    "diagnose",
    "directional_gradcheck",
    "numerical_gradient",
    "numerical_gradient_array",
    "rel_error",
    "sparse_gradcheck",
]

DEFAULT_H = 1e-5
DEFAULT_TOL = 1e-7


# ----------------------------------------------------------------------------------------------
# numbers


def rel_error(a, b) -> float:
    """Largest element-wise relative error ``max |a − b| / max(1e-8, |a| + |b|)``.

    Parameters
    ----------
    a, b : array_like, same shape
        For instance an analytic and a numerical gradient.

    Returns
    -------
    float
        ``nan`` if either input holds NaN or infinities that differ.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error needs arrays of the same shape, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))
        if np.isnan(err).any():
            return float("nan")
        return float(np.max(err))


def _check_h(h) -> float:
    h = check_real(h, "h")
    if h <= 0:
        raise ValueError(f"h must be a positive step size, got {h}")
    return h


def _check_perturbable(x, name: str = "x") -> np.ndarray:
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        dtype = f" of dtype {x.dtype}" if isinstance(x, np.ndarray) else ""
        raise TypeError(
            f"{name} must be a floating-point numpy array (it is perturbed in place), got "
            f"{type(x).__name__}{dtype}; convert it with np.asarray(x, dtype=float)"
        )
    if not x.flags.writeable:
        raise ValueError(f"{name} must be writeable (it is perturbed in place)")
    return x


def _scalar(value, name: str = "f(x)") -> float:
    arr = np.asarray(value)
    if arr.size != 1:
        raise ValueError(f"{name} must return a scalar, got an array of shape {arr.shape}")
    return float(arr.reshape(-1)[0])


def _numeric_at(f: Callable[[], object], x: np.ndarray, indices, h: float, diff=None) -> np.ndarray:
    """Centred differences of ``f()`` with respect to ``x[idx]`` for each index.

    ``f`` returns a scalar, or anything for which ``diff(f_plus, f_minus)`` gives the scalar
    difference (weighting an array output by ``dout`` *after* subtracting avoids the round-off
    of differencing two large sums).
    """
    out = np.empty(len(indices))
    for k, idx in enumerate(indices):
        old = x[idx].copy()
        try:
            x[idx] = old + h
            fp = f()
            x[idx] = old - h
            fm = f()
        finally:
            x[idx] = old
        out[k] = ((fp - fm) if diff is None else diff(fp, fm)) / (2 * h)
    return out


def _numerical_gradient(f: Callable, x: np.ndarray, h: float) -> np.ndarray:
    indices = list(np.ndindex(x.shape))
    values = _numeric_at(lambda: _scalar(f(x)), x, indices, h)
    return values.reshape(x.shape)


@reference
def numerical_gradient(f, x, h=1e-5):
    """Centred-difference gradient of a scalar function ``f`` at ``x``.

    Parameters
    ----------
    f : callable
        ``f(x)`` returns a scalar.
    x : ndarray of float, any shape
        Point of evaluation. Each entry is changed in place by ``±h`` while ``f`` is evaluated
        and restored exactly afterwards, also when ``f`` raises.
    h : float
        Step size.

    Returns
    -------
    grad : ndarray of float64, shape of ``x``

    Notes
    -----
    ``grad_i = (f(x + h e_i) − f(x − h e_i)) / (2h)``; the error is ``O(h²)`` for a smooth ``f``
    (a one-sided difference would be ``O(h)``).
    """
    check_callable(f, "f")
    x = _check_perturbable(x)
    return _numerical_gradient(f, x, _check_h(h))


def numerical_gradient_array(f: Callable, x: np.ndarray, dout, h: float = DEFAULT_H) -> np.ndarray:
    """Numerical ``dL/dx`` of an array function ``out = f(x)`` given the upstream ``dL/dout``.

    Parameters
    ----------
    f : callable
        ``f(x)`` returns an array of the shape of ``dout``.
    x : ndarray of float, any shape
        Perturbed in place and restored exactly.
    dout : array_like
        Upstream gradient ``dL/dout``.
    h : float
        Step size.

    Returns
    -------
    ndarray of float64, shape of ``x``

    Notes
    -----
    ``grad_i = Σ_j dout_j (f(x + h e_i)_j − f(x − h e_i)_j) / (2h)``, the centred difference of
    the scalar ``L(x) = Σ dout · f(x)``.
    """
    check_callable(f, "f")
    x = _check_perturbable(x)
    dout = np.asarray(dout, dtype=np.float64)
    h = _check_h(h)

    def evaluate():
        out = np.array(f(x), dtype=np.float64, copy=True)
        if out.shape != dout.shape:
            raise ValueError(f"f(x) has shape {out.shape} but dout has shape {dout.shape}")
        return out

    indices = list(np.ndindex(x.shape))
    values = _numeric_at(evaluate, x, indices, h, diff=lambda p, m: float(np.sum((p - m) * dout)))
    return values.reshape(x.shape)


def sparse_gradcheck(
    f: Callable,
    x: np.ndarray,
    analytic,
    n_checks: int = 10,
    rng: np.random.Generator | int | None = None,
    h: float = DEFAULT_H,
) -> float:
    """Compare ``analytic`` with centred differences of scalar ``f`` at random coordinates of ``x``.

    Cheap for large ``x``: ``2 * n_checks`` evaluations of ``f``.

    Parameters
    ----------
    f : callable
        ``f(x)`` returns a scalar.
    x : ndarray of float
        Perturbed in place and restored.
    analytic : array_like, shape of ``x``
    n_checks : int
        Number of coordinates, drawn without replacement (capped at ``x.size``).
    rng : numpy.random.Generator, int or None
    h : float

    Returns
    -------
    float
        The worst relative error over the checked coordinates.
    """
    check_callable(f, "f")
    x = _check_perturbable(x)
    analytic = np.asarray(analytic, dtype=np.float64)
    if analytic.shape != x.shape:
        raise ValueError(f"analytic has shape {analytic.shape}, expected the shape of x {x.shape}")
    if n_checks < 1:
        raise ValueError(f"n_checks must be >= 1, got {n_checks}")
    flat = as_rng(rng).choice(x.size, size=min(int(n_checks), x.size), replace=False)
    indices = [np.unravel_index(i, x.shape) for i in flat]
    numeric = _numeric_at(lambda: _scalar(f(x)), x, indices, _check_h(h))
    return rel_error(np.array([analytic[i] for i in indices]), numeric)


def directional_gradcheck(
    f: Callable,
    x: np.ndarray,
    analytic,
    n_dirs: int = 5,
    rng: np.random.Generator | int | None = None,
    h: float = DEFAULT_H,
) -> float:
    """Compare directional derivatives: ``(f(x + hv) − f(x − hv)) / 2h`` against ``⟨analytic, v⟩``.

    Each random unit direction ``v`` tests *all* coordinates at once with two evaluations of
    ``f``, so a wrong gradient anywhere is caught (with probability one) in one direction.

    Parameters
    ----------
    f : callable
        ``f(x)`` returns a scalar.
    x : ndarray of float
        Perturbed in place and restored exactly.
    analytic : array_like, shape of ``x``
    n_dirs : int
        Number of random directions.
    rng : numpy.random.Generator, int or None
    h : float

    Returns
    -------
    float
        The worst relative error between the two directional derivatives.
    """
    check_callable(f, "f")
    x = _check_perturbable(x)
    analytic = np.asarray(analytic, dtype=np.float64)
    if analytic.shape != x.shape:
        raise ValueError(f"analytic has shape {analytic.shape}, expected the shape of x {x.shape}")
    if n_dirs < 1:
        raise ValueError(f"n_dirs must be >= 1, got {n_dirs}")
    h = _check_h(h)
    rng = as_rng(rng)
    saved = x.copy()
    worst = 0.0
    for _ in range(int(n_dirs)):
        v = rng.standard_normal(x.shape)
        v /= np.linalg.norm(v) or 1.0
        try:
            x += h * v
            fp = _scalar(f(x))
            np.copyto(x, saved)
            x -= h * v
            fm = _scalar(f(x))
        finally:
            np.copyto(x, saved)
        err = rel_error((fp - fm) / (2 * h), np.vdot(analytic, v))
        if not err <= worst:
            worst = err
    return worst


# ----------------------------------------------------------------------------------------------
# diagnosis


def _near_integer(value: float, rtol: float = 1e-3) -> int | None:
    n = round(value)
    if n >= 2 and abs(value - n) <= rtol * n:
        return int(n)
    return None


def _describe_scale(r: float, batch_size: int | None) -> str:
    """Name a mismatch of the form ``analytic = r × numeric`` with ``r > 0``."""
    big = _near_integer(r)
    small = _near_integer(1.0 / r)
    if big is not None:
        if batch_size is not None and big == batch_size:
            return (
                f"analytic is N = {big} times the numeric gradient: a missing batch mean "
                f"(the loss averages over N = {big} samples, so the gradient needs the 1/N)"
            )
        if big == 2:
            return (
                "analytic is 2 times the numeric gradient: an extra factor 2 "
                "(a term counted twice, or the 2 of a square where there is none)"
            )
        return (
            f"analytic is {big} times the numeric gradient: if {big} is the batch size N, "
            "the 1/N of the batch mean is missing"
        )
    if small is not None:
        if batch_size is not None and small == batch_size:
            return (
                f"analytic is 1/N = 1/{small} of the numeric gradient: an extra batch mean "
                "(divided by N twice, or a bias gradient averaged over the batch instead of summed)"
            )
        if small == 2:
            return (
                "analytic is half the numeric gradient: a missing factor 2 "
                "(e.g. forgot the 2 in d(x²)/dx = 2x)"
            )
        return (
            f"analytic is 1/{small} of the numeric gradient: if {small} is the batch size N, "
            "the gradient is divided by N once too often (or a bias gradient is averaged over "
            "the batch instead of summed)"
        )
    return f"analytic = {r:.4g} × numeric: a constant factor is wrong"


def _shape_diagnosis(a: np.ndarray, n: np.ndarray) -> str:
    if a.ndim == 2 and n.ndim == 2 and a.shape == n.shape[::-1]:
        if np.allclose(a.T, n, rtol=1e-4, atol=1e-8):
            return (
                f"transposed: analytic has shape {a.shape} and equals the transpose of the "
                f"numeric gradient {n.shape} (e.g. x.T @ dout instead of dout.T @ x for W (M, D))"
            )
        return f"shape mismatch: analytic {a.shape} vs numeric {n.shape} (transposed shape)"
    if n.ndim == 1 and a.ndim == 2 and a.shape[1] == n.shape[0]:
        summed = np.allclose(a.sum(axis=0), n, rtol=1e-4, atol=1e-8)
        return (
            f"bias gradient not summed over the batch: analytic has shape {a.shape} (one row "
            f"per sample), numeric {n.shape}; use dout.sum(axis=0)"
            + (" — the sum of the rows matches" if summed else "")
        )
    return f"shape mismatch: analytic {a.shape} vs numeric {n.shape}"


def diagnose(
    analytic,
    numeric,
    x=None,
    kinks: Sequence[float] | None = None,
    *,
    h: float = DEFAULT_H,
    tol: float = DEFAULT_TOL,
    dout=None,
    batch_size: int | None = None,
) -> str | None:
    """Say in one sentence what a gradient mismatch looks like; ``None`` when they agree.

    Parameters
    ----------
    analytic : array_like or None
        Gradient from the backward pass.
    numeric : array_like
        Numerical gradient (the reference).
    x : array_like, optional
        The input at which the gradient was taken, same shape as ``numeric``; with ``kinks``
        it lets the diagnosis recognise a finite difference that straddles a kink.
    kinks : sequence of float, optional
        Inputs where the function has a kink (``[0.0]`` for ReLU, ``[-1, 1]`` for hard tanh).
    h : float
        Step of the numerical gradient (decides what "next to a kink" means: ``|x − k| ≤ 2h``).
    tol : float
        Relative error up to which the gradients count as equal.
    dout : array_like, optional
        Upstream gradient ``(N, M)``; lets the diagnosis spot a bias gradient equal to one row.
    batch_size : int, optional
        ``N``; lets the diagnosis tell a missing/extra batch mean from other constant factors.

    Returns
    -------
    str or None
        A short sentence, e.g. ``"sign error: analytic = −numeric"``.

    Notes
    -----
    The checks run in this order: missing gradient, NaN/inf, shape (transposed, bias not
    summed), both zero up to round-off, all zeros, ReLU kink, transposed square matrix, bias
    equal to one row of ``dout``, constant factor ``r`` from the least-squares fit
    ``analytic ≈ r · numeric`` (−1: sign, N or 1/N: batch mean, 2 or 1/2: a factor 2), and
    otherwise where the largest mismatch is.
    """
    if analytic is None:
        return "analytic gradient is missing (None): backward did not set it"
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        bad = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
        return (
            f"analytic gradient has {bad} NaN/inf entries: look for an overflow, log(0) or a "
            "division by zero in the backward pass"
        )
    if not np.all(np.isfinite(n)):
        return (
            "numeric gradient has NaN/inf entries: the forward pass itself overflows or is "
            "undefined near this point"
        )
    if a.shape != n.shape:
        return _shape_diagnosis(a, n)
    err = rel_error(a, n)
    if err <= tol:
        return None
    scale = max(float(np.max(np.abs(a))), float(np.max(np.abs(n))))
    if scale < 1e-7:
        return (
            f"both gradients are zero up to round-off (largest entry {scale:.1e}): the true "
            "gradient is 0 here (e.g. a bias followed by batchnorm, which subtracts it again), "
            "and a relative error between numbers this small is meaningless — not a bug"
        )
    if not np.any(a):
        return (
            f"analytic gradient is all zeros but the numeric one is not (max |numeric| = "
            f"{np.max(np.abs(n)):.3g}): the backward never writes it, or blocks every path"
        )
    if not np.any(n):
        return (
            "numeric gradient is all zeros but the analytic one is not: the output does not "
            "depend on this input"
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        elem = np.abs(a - n) / np.maximum(1e-8, np.abs(a) + np.abs(n))
    bad = elem > tol
    if kinks is not None and len(kinks) and x is not None:
        xv = np.asarray(x, dtype=np.float64)
        if xv.shape == a.shape:
            distance = np.min([np.abs(xv - k) for k in kinks], axis=0)
            near = distance <= 2 * h
            if bad.any() and np.all(near[bad]):
                return (
                    f"false alarm: the mismatch is only at {int(bad.sum())} of {a.size} entries "
                    f"whose input lies within {2 * h:.0e} of a kink at {list(kinks)}; there the "
                    "centred difference straddles the kink and averages the two slopes. The "
                    "analytic gradient is fine — check at inputs away from the kink"
                )
    if a.ndim == 2 and a.shape[0] == a.shape[1] > 1 and rel_error(a, n.T) <= max(tol, 1e-6):
        return "transposed: analytic equals the transpose of the numeric gradient"
    if dout is not None:
        d = np.asarray(dout, dtype=np.float64)
        if d.ndim == 2 and d.shape[1:] == a.shape and d.shape[0] > 1:
            for i in range(d.shape[0]):
                if np.allclose(a, d[i], rtol=1e-6, atol=1e-12):
                    return (
                        f"bias gradient not summed over the batch: it equals row {i} of the "
                        "upstream gradient (one sample); use dout.sum(axis=0)"
                    )
    nn = float(np.vdot(n, n))
    r = float(np.vdot(a, n)) / nn
    if np.linalg.norm(a - r * n) <= 1e-4 * np.linalg.norm(a):
        if abs(r + 1.0) <= 1e-3:
            return "sign error: analytic = −numeric (a minus sign is missing or extra)"
        if r < 0:
            return "sign error and scale: " + _describe_scale(-r, batch_size).replace(
                "analytic is", "analytic is minus", 1
            )
        if abs(r - 1.0) > 1e-3:
            return _describe_scale(r, batch_size)
    worst = np.unravel_index(int(np.argmax(elem)), a.shape) if a.ndim else ()
    return (
        f"mismatch at {int(bad.sum())} of {a.size} entries with no simple pattern; worst at "
        f"index {tuple(int(i) for i in worst)}: analytic {a[worst]:.6g} vs numeric {n[worst]:.6g}"
    )


# ----------------------------------------------------------------------------------------------
# reports


@dataclass
class GradCheckEntry:
    """Result for one gradient: its relative error and, if it failed, the diagnosis."""

    name: str
    error: float
    tol: float
    diagnosis: str | None = None
    checked: int = 0
    size: int = 0
    analytic: np.ndarray | None = field(default=None, repr=False)
    numeric: np.ndarray | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return bool(self.error <= self.tol)


@dataclass
class GradCheckReport:
    """Gradient check of every parameter and of the input of a module.

    Attributes
    ----------
    entries : dict[str, GradCheckEntry]
        ``"x"`` for the input, then the parameter names (``"W"``, ``"0.b"``, ...).
    tol : float
        Threshold on the relative error.
    title : str
        What was checked.
    notes : list[str]
        Remarks that apply to the whole check (e.g. inputs near a ReLU kink).
    """

    entries: dict[str, GradCheckEntry] = field(default_factory=dict)
    tol: float = DEFAULT_TOL
    title: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True if every gradient agrees within ``tol``."""
        return all(e.ok for e in self.entries.values())

    @property
    def worst(self) -> float:
        """The largest relative error (``nan`` if any is ``nan``)."""
        errors = [e.error for e in self.entries.values()]
        if any(np.isnan(errors)):
            return float("nan")
        return max(errors, default=0.0)

    @property
    def errors(self) -> dict[str, float]:
        """Relative error per name."""
        return {k: e.error for k, e in self.entries.items()}

    @property
    def diagnoses(self) -> dict[str, str | None]:
        """Diagnosis per name (``None`` where the gradient is right)."""
        return {k: e.diagnosis for k, e in self.entries.items()}

    def __getitem__(self, name: str) -> GradCheckEntry:
        return self.entries[name]

    def __str__(self) -> str:
        verdict = "OK" if self.ok else "FAILED"
        head = (
            f"Gradient check{' of ' + self.title if self.title else ''}: {verdict} "
            f"(worst relative error {self.worst:.2e}, threshold {self.tol:.0e})"
        )
        width = max((len(k) for k in self.entries), default=1)
        lines = [head]
        for name, e in self.entries.items():
            status = "ok" if e.ok else "FAIL"
            sampled = f"  ({e.checked} of {e.size} entries)" if e.checked < e.size else ""
            line = f"  {name:<{width}}  {e.error:9.2e}  {status}{sampled}"
            if e.diagnosis:
                line += f"\n  {'':<{width}}  -> {e.diagnosis}"
            lines.append(line)
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)

    __repr__ = __str__


# ----------------------------------------------------------------------------------------------
# module checks


class _Freeze:
    """Makes repeated forwards of a module identical: same dropout masks, untouched buffers."""

    def __init__(self, module) -> None:
        # duck-typed models without modules()/named_buffers() are treated as one plain module
        modules = list(module.modules()) if hasattr(module, "modules") else [module]
        self.rngs = [
            (m.rng, m.rng.bit_generator.state)
            for m in modules
            if isinstance(getattr(m, "rng", None), np.random.Generator)
        ]
        if hasattr(module, "named_buffers"):
            owners = [(owner, key) for _, owner, key in module.named_buffers()]
        else:
            owners = [(m, key) for m in modules for key in getattr(m, "buffers", {}) or {}]
        self.buffers = [
            (owner, key, np.array(owner.buffers[key], copy=True)) for owner, key in owners
        ]

    def before(self) -> None:
        for rng, state in self.rngs:
            rng.bit_generator.state = state

    def after(self) -> None:
        for owner, key, saved in self.buffers:
            current = owner.buffers[key]
            if isinstance(current, np.ndarray) and current.shape == saved.shape:
                np.copyto(current, saved)
            else:
                owner.buffers[key] = saved.copy()


def _kink_note(module, x: np.ndarray, freeze: _Freeze, radius: float) -> str | None:
    """If a kinked activation inside a Sequential sees inputs near its kink, say so."""
    layers = getattr(module, "layers", None)
    if layers is None:
        return None
    closest = np.inf
    freeze.before()
    try:
        h = x
        for layer in layers:
            kinks = getattr(layer, "kinks", ())
            if kinks and h.size:
                closest = min(closest, float(min(np.min(np.abs(h - k)) for k in kinks)))
            h = layer.forward(h)
    finally:
        freeze.after()
    if closest <= radius:
        return (
            f"an activation input lies {closest:.1e} from a kink (ReLU at 0, ...): a finite "
            "difference that crosses it is wrong there, so a failure may be a false alarm"
        )
    return None


def _check_module(
    module,
    x,
    make_objective: Callable[[np.ndarray], tuple[Callable, Callable | None, np.ndarray]],
    *,
    h: float,
    tol: float,
    max_entries: int | None,
    rng: np.random.Generator,
    title: str,
) -> GradCheckReport:
    if not (hasattr(module, "forward") and hasattr(module, "backward")):
        raise TypeError(f"expected an nnkit Module, got {type(module).__name__}")
    h = _check_h(h)
    tol = check_real(tol, "tol")
    x = np.array(as_float_array(x, "x"), dtype=np.float64, copy=True)
    freeze = _Freeze(module)

    def run() -> np.ndarray:
        freeze.before()
        try:
            return module.forward(x)
        finally:
            freeze.after()

    out = run()
    objective, diff, upstream = make_objective(np.asarray(out))
    analytic = {"x": module.backward(upstream)}
    if hasattr(module, "named_parameters"):
        refs = dict(module.named_parameters())
    else:
        refs = {getattr(r, "name", "") or str(i): r for i, r in enumerate(module.parameters())}
    for name, ref in refs.items():
        grad = ref.grad
        analytic[name] = None if grad is None else np.array(grad, dtype=np.float64, copy=True)

    def loss():
        return objective(run())

    batch = x.shape[0] if x.ndim else None
    kinks = getattr(module, "kinks", None)
    report = GradCheckReport(tol=tol, title=title)
    targets = {"x": x} | {name: ref.data for name, ref in refs.items()}
    for name, arr in targets.items():
        a = analytic[name]
        sample = max_entries is not None and arr.size > max_entries
        if a is None or a.shape != arr.shape or not sample:
            indices = list(np.ndindex(arr.shape))
        else:
            flat = np.sort(rng.choice(arr.size, size=max_entries, replace=False))
            indices = [np.unravel_index(i, arr.shape) for i in flat]
        numeric = _numeric_at(loss, arr, indices, h, diff)
        if len(indices) == arr.size:
            numeric = numeric.reshape(arr.shape)
            a_cmp, x_cmp = a, x if name == "x" else None
        else:
            a_cmp = np.array([a[i] for i in indices])
            x_cmp = np.array([x[i] for i in indices]) if name == "x" else None
        err = (
            float("nan")
            if a_cmp is None or np.shape(a_cmp) != numeric.shape
            else rel_error(a_cmp, numeric)
        )
        diag = None
        if not err <= tol:
            diag = diagnose(
                a_cmp,
                numeric,
                x=x_cmp,
                kinks=kinks if name == "x" else None,
                h=h,
                tol=tol,
                dout=upstream if name != "x" and len(indices) == arr.size else None,
                batch_size=batch,
            )
        report.entries[name] = GradCheckEntry(
            name,
            err,
            tol,
            diag,
            checked=len(indices),
            size=arr.size,
            analytic=a_cmp,
            numeric=numeric,
        )
    if not report.ok:
        note = _kink_note(module, x, freeze, radius=100 * h)
        if note:
            report.notes.append(note)
    freeze.before()  # leave every rng where it was: the check consumed no randomness
    return report


def check_layer(
    layer,
    x,
    rng: np.random.Generator | int | None = None,
    *,
    h: float = DEFAULT_H,
    tol: float = DEFAULT_TOL,
    max_entries: int | None = None,
    dout=None,
) -> GradCheckReport:
    """Check ``layer.backward`` against centred differences, for the input and every parameter.

    The scalar checked is ``L = Σ out · dout`` with a fixed random ``dout`` (so every output
    entry matters, including through the batch statistics of a batchnorm layer); the analytic
    gradients are those of ``layer.backward(dout)``.

    Parameters
    ----------
    layer : Module
        Any module (a single layer or a :class:`~nnkit.layers.Sequential`), in the mode to
        check (training or evaluation).
    x : array_like, shape (N, ...)
        Input; copied to float64.
    rng : numpy.random.Generator, int or None
        Draws ``dout`` (and the entries checked when ``max_entries`` is set).
    h : float
        Step of the centred differences.
    tol : float
        Largest acceptable relative error.
    max_entries : int, optional
        Check at most this many random entries per array (all entries by default).
    dout : array_like, optional
        Upstream gradient to use instead of a random one (shape of the layer's output).

    Returns
    -------
    GradCheckReport
        ``print(report)`` for a readable table; ``report.ok``, ``report.worst``,
        ``report.errors``, ``report.diagnoses``.

    Notes
    -----
    Every forward pass of the check starts from the same state of each sub-module's ``rng``, so
    dropout uses one mask throughout; buffers (running statistics) are restored after each
    pass, so the layer is unchanged afterwards. Parameters must be float64 for the default
    tolerance to be meaningful.
    """
    rng = as_rng(rng)

    fixed = None if dout is None else np.asarray(dout, dtype=np.float64)

    def make_objective(out: np.ndarray):
        upstream = rng.standard_normal(out.shape) if fixed is None else fixed
        if upstream.shape != out.shape:
            raise ValueError(f"dout has shape {upstream.shape}, the layer output {out.shape}")
        return (
            lambda o: np.array(o, dtype=np.float64, copy=True),
            lambda p, m: float(np.sum((p - m) * upstream)),
            upstream,
        )

    return _check_module(
        layer,
        x,
        make_objective,
        h=h,
        tol=tol,
        max_entries=max_entries,
        rng=rng,
        title=type(layer).__name__,
    )


def check_model(
    model,
    loss_fn,
    x,
    y,
    *,
    rng: np.random.Generator | int | None = None,
    h: float = DEFAULT_H,
    tol: float = DEFAULT_TOL,
    max_entries: int | None = None,
) -> GradCheckReport:
    """Check the gradients of ``loss_fn(model(x), y)`` for the input and every model parameter.

    Parameters
    ----------
    model : Module
    loss_fn : loss object or callable
        Either an object with ``loss = loss_fn(out, y)`` and ``dout = loss_fn.backward()`` (such
        as :class:`~nnkit.layers.SoftmaxCrossEntropy`), or a function returning
        ``(loss, dout)`` (such as :func:`nnkit.softmax_cross_entropy`).
    x : array_like, shape (N, D)
    y : array_like
        Targets passed unchanged to ``loss_fn``.
    rng, h, tol, max_entries
        As in :func:`check_layer`.

    Returns
    -------
    GradCheckReport
    """
    check_callable(loss_fn, "loss_fn")
    has_backward = callable(getattr(loss_fn, "backward", None))

    def evaluate(out: np.ndarray):
        result = loss_fn(out, y)
        if has_backward:
            return _scalar(result, "loss_fn(out, y)"), loss_fn.backward
        if not (isinstance(result, tuple) and len(result) == 2):
            raise TypeError(
                "loss_fn must return (loss, dout) or be an object with a backward() method"
            )
        return _scalar(result[0], "loss_fn(out, y)[0]"), (lambda: result[1])

    def make_objective(out: np.ndarray):
        _, upstream = evaluate(out)
        return (lambda o: evaluate(np.asarray(o))[0]), None, np.array(upstream(), copy=True)

    return _check_module(
        model,
        x,
        make_objective,
        h=h,
        tol=tol,
        max_entries=max_entries,
        rng=as_rng(rng),
        title=f"{type(model).__name__} with {type(loss_fn).__name__}",
    )

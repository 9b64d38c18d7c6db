"""Numerical gradients by centred differences, and the relative error that compares them.

The numerical gradient of a scalar function ``f`` is taken with centred differences,

    ∂f/∂x_i ≈ (f(x + h e_i) − f(x − h e_i)) / (2h),    h = 1e-5,

whose error is ``O(h²)`` for smooth ``f`` (plus rounding, about ``1e-16 · |f| / h``).
Analytic and numerical gradients are compared with

    rel_error(a, b) = max_i |a_i − b_i| / max(1e-8, |a_i| + |b_i|).

:func:`sparse_gradcheck` and :func:`directional_gradcheck` are the cheap versions for large
arrays: a few random coordinates, or a few random directions that move every coordinate.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .._checks import as_rng, check_callable, check_real
from .._guard import reference

__all__ = [
    "directional_gradcheck",
    "numerical_gradient",
    "numerical_gradient_array",
    "rel_error",
    "sparse_gradcheck",
]

DEFAULT_H = 1e-5
DEFAULT_TOL = 1e-7


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


def _numeric_at(
    f: Callable[[], object], x: np.ndarray, indices, h: float, diff=None, actual_step=False
) -> np.ndarray:
    """Centred differences of ``f()`` with respect to ``x[idx]`` for each index.

    ``f`` returns a scalar, or anything for which ``diff(f_plus, f_minus)`` gives the scalar
    difference (weighting an array output by ``dout`` *after* subtracting avoids the round-off
    of differencing two large sums). With ``actual_step`` the difference is divided by the step
    actually stored in ``x`` (``x[idx] + h`` rounded to ``x``'s dtype, minus ``x[idx] - h``
    rounded), and the step is widened to 64 units in the last place of ``x[idx]`` where ``h``
    is smaller than that (a float32 parameter): the slope then belongs to the points evaluated.
    """
    out = np.empty(len(indices))
    for k, idx in enumerate(indices):
        old = x[idx].copy()
        step = max(h, 64 * float(np.spacing(np.abs(old)))) if actual_step else h
        try:
            x[idx] = old + step
            up = float(x[idx])
            fp = f()
            x[idx] = old - step
            down = float(x[idx])
            fm = f()
        finally:
            x[idx] = old
        width = (up - down) if actual_step else 2 * h
        out[k] = ((fp - fm) if diff is None else diff(fp, fm)) / width
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

"""Calling a student's function without letting it crash an explorer."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._base import quiet_call


def describe_error(exc: BaseException) -> str:
    """A short, friendly sentence about what a student's function raised."""
    if isinstance(exc, NotImplementedError):
        return "is not written yet (it raises NotImplementedError)"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"raised {type(exc).__name__}" + (f": {text[:120]}" if text else "")


def safe_evaluate(fn: Callable, x: np.ndarray, name: str) -> tuple[np.ndarray | None, str | None]:
    """Evaluate ``fn`` on the array ``x``; return ``(values, None)`` or ``(None, problem)``.

    A function written for scalars only (``math.exp``) is retried element by element. The result
    must be numeric with ``x``'s shape; non-finite values are kept (drawn as gaps) and reported.

    Parameters
    ----------
    fn : callable
        The function to evaluate, e.g. a student's ``sigmoid``.
    x : ndarray, shape (N,)
        Inputs; ``fn`` receives a copy, so an in-place edit cannot change the caller's grid.
    name : str
        How to call the function in a message (``"your sigmoid"``).
    """
    try:
        out = quiet_call(fn, x.copy())
    except Exception as exc:
        if isinstance(exc, NotImplementedError):
            return None, f"{name} {describe_error(exc)}."
        try:
            out = np.array([quiet_call(fn, float(v)) for v in x])
        except Exception:
            return None, f"{name} {describe_error(exc)}."
    if out is None:
        return None, f"{name} returned None (is a `return` missing?)."
    try:
        values = np.asarray(out, dtype=np.float64)
    except (TypeError, ValueError):
        return None, f"{name} returned {type(out).__name__}, not an array of numbers."
    if values.shape != x.shape:
        if values.size == 1:
            return None, (
                f"{name} returned a single number for an array of {x.size} inputs; "
                "it should work element-wise (use NumPy functions such as np.exp)."
            )
        return None, f"{name} returned shape {values.shape} for input of shape {x.shape}."
    bad = int(np.count_nonzero(~np.isfinite(values)))
    if bad:
        return values, f"{name} returned nan or inf at {bad} of {x.size} points."
    return values, None


def mismatch_fraction(a: np.ndarray, b: np.ndarray, tol: float = 1e-3) -> float:
    """Fraction of points where ``a`` and ``b`` differ by more than ``tol`` (relative).

    Relative error per point is ``|a - b| / max(1e-8, |a| + |b|)`` (the course's ``rel_error``),
    with an absolute floor of ``tol`` so values near zero are not judged on rounding noise.
    Non-finite points count as mismatches.
    """
    with np.errstate(all="ignore"):
        diff = np.abs(a - b)
        scale = np.maximum(1e-8, np.abs(a) + np.abs(b))
        wrong = (diff / scale > tol) & (diff > tol)
        wrong |= ~(np.isfinite(a) & np.isfinite(b))
    return float(np.mean(wrong)) if a.size else 0.0

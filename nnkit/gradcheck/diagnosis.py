"""Naming a gradient mismatch: sign, scale (batch mean, factor 2), transpose, bias, kink, ...

:func:`diagnose` compares an analytic gradient with the numerical one and says in one sentence
what the difference looks like, so that a student reads "a missing batch mean" rather than
"relative error 0.83".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .numeric import DEFAULT_H, DEFAULT_TOL, rel_error

__all__ = ["diagnose"]


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
    floor: float = 1e-8,
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
    floor : float or ndarray of the shape of ``numeric``
        Smallest denominator of the element-wise relative error
        ``|a_i − n_i| / max(floor, |a_i| + |n_i|)``: ``1e-8`` as in :func:`rel_error`; the
        module checks pass the array's gradient magnitude (or the round-off bound), so that
        "agree" means what their verdict means.

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
    with np.errstate(invalid="ignore", divide="ignore"):
        elem = np.abs(a - n) / np.maximum(floor, np.abs(a) + np.abs(n))
    if a.size == 0 or float(np.max(elem)) <= tol:
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

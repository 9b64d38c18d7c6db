"""Case generators shared by several lessons (elementwise functions, numeric derivatives)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..framework import Case, call_reference, reference


def elementwise_values(rng: np.random.Generator, scale: float = 3.0) -> list[Case]:
    """Visible value cases: a small worked example, a random matrix, a 3-D array."""
    return [
        Case("small example", (np.array([-2.0, -0.5, 0.0, 0.5, 2.0]),), show=True),
        Case("random (4, 5) matrix", (rng.normal(0, scale, size=(4, 5)),)),
        Case("random 3-D array", (rng.normal(0, scale, size=(2, 3, 4)),)),
    ]


def elementwise_edge(rng: np.random.Generator) -> list[Case]:
    """Edge cases: large values, zeros, float32, integers, non-contiguous, a single number."""
    big = np.array([-1000.0, -710.0, -50.0, -1.0, 0.0, 1.0, 50.0, 710.0, 1000.0])
    wide = rng.normal(0, 2, size=(5, 8))
    return [
        Case("large |a| (±50, ±710, ±1000)", (big,)),
        Case("all zeros", (np.zeros((3, 2)),)),
        Case("float32 input", (rng.normal(0, 4, size=(6, 3)).astype(np.float32),)),
        Case("float32 large |a|", (big.astype(np.float32),)),
        Case("non-contiguous view a[:, ::2]", (wide[:, ::2],)),
        Case("a single value (0-d array)", (np.array(0.7),)),
    ]


def elementwise_hidden(rng: np.random.Generator) -> list[Case]:
    return [
        Case("hidden random vector", (rng.normal(0, 5, size=17),)),
        Case("hidden random matrix", (rng.normal(0, 1, size=(7, 3)),)),
        Case("hidden extreme values", (rng.choice([-1, 1], 12) * rng.uniform(300, 2000, 12),)),
        Case("hidden float32", (rng.normal(0, 60, size=(4, 4)).astype(np.float32),)),
        Case("hidden exact zeros", (np.array([0.0, -0.0, 0.0, 1e-12, -1e-12]),)),
        Case("hidden strided column", (rng.normal(0, 2, size=(6, 6))[:, 1],)),
    ]


def integer_cases(rng: np.random.Generator) -> list[Case]:
    return [Case("integer input", (rng.integers(-5, 6, size=(3, 4)),))]


def numeric_derivative(f: Callable, a: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Centred differences of an elementwise function, computed with the grader's own code."""
    a = np.asarray(a, dtype=np.float64)
    return (call_reference(f, (a + h,)) - call_reference(f, (a - h,))) / (2 * h)


def check_numeric_slope(ctx, fn, ref_name: str, rng: np.random.Generator, **kwargs) -> None:
    """Compare ``fn`` with the *numerical* slope of the reference activation ``ref_name``."""
    a = rng.normal(0, 3, size=(3, 5))
    a[np.abs(a) < 1e-2] += 0.1  # keep away from kinks
    ref = reference(ref_name)
    expected = numeric_derivative(lambda x: ref(x, **kwargs), a)
    case = Case(
        "slope measured numerically, (f(a + h) - f(a - h)) / 2h", (a,), kwargs, rtol=1e-5, atol=1e-7
    )
    ctx.compare_case(fn, case, expected=expected)

"""Input validation shared by the public functions: clear errors that name the argument."""

from __future__ import annotations

import numbers

import numpy as np


def as_rng(rng: np.random.Generator | int | None, name: str = "rng") -> np.random.Generator:
    """Normalise ``rng`` (a Generator, an int seed or None) to a ``np.random.Generator``.

    Never touches NumPy's global random state: ``None`` gives a fresh, OS-seeded Generator.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"{name} must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}; "
        "create one with numpy.random.default_rng(seed)"
    )


def as_float_array(x, name: str) -> np.ndarray:
    """Return ``x`` as a floating array; float32/float64 keep their dtype, others become float64."""
    try:
        arr = np.asarray(x)
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise TypeError(f"{name} must be array-like, got {type(x).__name__}") from exc
    if arr.dtype == np.float32 or arr.dtype == np.float64:
        return arr
    if arr.dtype.kind in "biuf":
        return arr.astype(np.float64)
    raise TypeError(f"{name} must hold numbers, got an array of dtype {arr.dtype}")


def check_ndim(arr: np.ndarray, ndim: int, name: str, shape_hint: str) -> None:
    """Raise ``ValueError`` unless ``arr`` has ``ndim`` dimensions (hint: ``'(N, D)'``)."""
    if arr.ndim != ndim:
        raise ValueError(f"expected {name} of shape {shape_hint}, got shape {arr.shape}")


def check_labels(y, n: int, k: int | None, name: str = "y") -> np.ndarray:
    """Integer labels of shape ``(n,)`` with values in ``[0, k)``; returns them as an int array."""
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(
            f"expected {name} of shape ({n},) to match the batch, got shape {arr.shape}"
        )
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and arr.size and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        elif arr.size:
            raise TypeError(f"{name} must hold integer class labels, got dtype {arr.dtype}")
        else:
            arr = arr.astype(np.int64)
    if k is not None and arr.size and (arr.min() < 0 or arr.max() >= k):
        raise ValueError(
            f"{name} must hold labels in [0, {k}), got values from {arr.min()} to {arr.max()}"
        )
    return arr


def check_probability(p, name: str = "p") -> float:
    """A drop probability in ``[0, 1)``."""
    if not isinstance(p, numbers.Real) or not 0.0 <= float(p) < 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1), got {p!r}")
    return float(p)


def check_real(value, name: str) -> float:
    """A finite real number (not a bool), returned as a Python float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def check_flag(value, name: str) -> bool:
    """A training/evaluation switch: a bool (or 0/1), not a string such as ``'train'``."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral) and int(value) in (0, 1):
        return bool(value)
    raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")


def check_shape(arr: np.ndarray, shape: tuple[int, ...], name: str, shape_hint: str) -> None:
    """Raise ``ValueError`` unless ``arr.shape == shape``; ``shape_hint`` like ``'(M, D)'``."""
    if arr.shape != tuple(shape):
        raise ValueError(
            f"expected {name} of shape {shape_hint} = {tuple(shape)}, got shape {arr.shape}"
        )


def check_callable(fn, name: str) -> None:
    """Raise ``TypeError`` unless ``fn`` can be called."""
    if not callable(fn):
        raise TypeError(f"{name} must be a callable such as nnkit.relu, got {type(fn).__name__}")


def result_dtype(*arrays: np.ndarray) -> np.dtype:
    """Floating dtype of a computation on ``arrays``: float32 only if every input is float32."""
    return np.result_type(*arrays, np.float32)

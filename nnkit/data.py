"""Small offline data sets, splits and standardisation.

Every generator takes an ``rng`` (a ``numpy.random.Generator``, an int seed or ``None``) and
never touches NumPy's global random state, so the same seed always gives the same data. Inputs
are returned as float64 arrays ``X`` of shape ``(N, D)`` (samples are rows) and integer labels
``y`` of shape ``(N,)`` with values in ``[0, K)``.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ._checks import as_float_array, as_rng, check_ndim

__all__ = [
    "Standardizer",
    "load_digits",
    "make_blobs",
    "make_circles",
    "make_moons",
    "make_spirals",
    "make_xor",
    "train_val_test_split",
]


def _check_count(n: Any, name: str, minimum: int = 1) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(n).__name__} ({n!r})")
    if n < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {n}")
    return int(n)


def _check_noise(noise: Any, name: str = "noise") -> float:
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(noise).__name__}")
    if not noise >= 0:
        raise ValueError(f"{name} must be a standard deviation >= 0, got {noise!r}")
    return float(noise)


def _split_counts(n: int, k: int) -> np.ndarray:
    """``n`` samples over ``k`` classes as evenly as possible (the first classes get the rest)."""
    counts = np.full(k, n // k, dtype=np.int64)
    counts[: n % k] += 1
    return counts


def _shuffled(X: np.ndarray, y: np.ndarray, rng: np.random.Generator):
    order = rng.permutation(len(y))
    return X[order], y[order]


def make_xor(
    n: int = 200, noise: float = 0.1, rng: np.random.Generator | int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Noisy copies of the four XOR corners, labelled by the exclusive or of the coordinates.

    Parameters
    ----------
    n : int
        Number of samples (spread as evenly as possible over the corners).
    noise : float
        Standard deviation of the Gaussian noise added to each corner.
    rng : Generator, int or None

    Returns
    -------
    X : ndarray of shape (n, 2), float64
        Points around (0, 0), (0, 1), (1, 0), (1, 1), in random order.
    y : ndarray of shape (n,), int64
        ``1`` for the corners (0, 1) and (1, 0), ``0`` for the others.
    """
    n = _check_count(n, "n")
    noise = _check_noise(noise)
    rng = as_rng(rng)
    corners = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    which = np.repeat(np.arange(4), _split_counts(n, 4))
    X = corners[which] + noise * rng.standard_normal((n, 2))
    y = np.array([0, 1, 1, 0], dtype=np.int64)[which]
    return _shuffled(X, y, rng)


def make_spirals(
    n_per_class: int = 100,
    n_classes: int = 3,
    noise: float = 0.2,
    rng: np.random.Generator | int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one per class: the classic data a linear classifier cannot fit.

    Parameters
    ----------
    n_per_class : int
        Points per arm.
    n_classes : int
        Number of arms (classes), ``>= 2``.
    noise : float
        Standard deviation of the Gaussian noise added to the angle (radians / 4 per arm).
    rng : Generator, int or None

    Returns
    -------
    X : ndarray of shape (n_per_class * n_classes, 2), float64
        Ordered by class: rows ``[j * n_per_class, (j + 1) * n_per_class)`` belong to arm ``j``.
    y : ndarray of shape (n_per_class * n_classes,), int64

    Notes
    -----
    Arm ``j`` has radii ``r`` evenly spaced in ``[0, 1]`` and angles
    ``θ = linspace(4j, 4(j + 1)) + noise · ε`` with ``ε ~ N(0, 1)``, and points
    ``(r sin θ, r cos θ)`` (the construction popularised by Stanford's CS231n). The noise is drawn
    arm by arm from ``rng``, so a seed fixes the data set exactly.
    """
    n_per_class = _check_count(n_per_class, "n_per_class")
    n_classes = _check_count(n_classes, "n_classes", minimum=2)
    noise = _check_noise(noise)
    rng = as_rng(rng)
    X = np.empty((n_per_class * n_classes, 2))
    y = np.repeat(np.arange(n_classes, dtype=np.int64), n_per_class)
    radius = np.linspace(0.0, 1.0, n_per_class)
    for j in range(n_classes):
        theta = np.linspace(4.0 * j, 4.0 * (j + 1), n_per_class)
        theta = theta + noise * rng.standard_normal(n_per_class)
        rows = slice(j * n_per_class, (j + 1) * n_per_class)
        X[rows, 0] = radius * np.sin(theta)
        X[rows, 1] = radius * np.cos(theta)
    return X, y


def make_moons(
    n: int = 200, noise: float = 0.1, rng: np.random.Generator | int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (class 0 on top, class 1 below and shifted).

    Parameters
    ----------
    n : int
        Number of samples; class 0 gets the extra one when ``n`` is odd.
    noise : float
        Standard deviation of the Gaussian noise added to both coordinates.
    rng : Generator, int or None

    Returns
    -------
    X : ndarray of shape (n, 2), float64, in random order
    y : ndarray of shape (n,), int64

    Notes
    -----
    Class 0: ``(cos s, sin s)``; class 1: ``(1 − cos s, 0.5 − sin s)``, ``s`` evenly spaced in
    ``[0, π]`` (the same layout as ``sklearn.datasets.make_moons``).
    """
    n = _check_count(n, "n", minimum=2)
    noise = _check_noise(noise)
    rng = as_rng(rng)
    n_top, n_bottom = _split_counts(n, 2)
    s_top = np.linspace(0.0, np.pi, n_top)
    s_bottom = np.linspace(0.0, np.pi, n_bottom)
    X = np.concatenate(
        [
            np.column_stack([np.cos(s_top), np.sin(s_top)]),
            np.column_stack([1.0 - np.cos(s_bottom), 0.5 - np.sin(s_bottom)]),
        ]
    )
    y = np.repeat(np.array([0, 1], dtype=np.int64), [n_top, n_bottom])
    X = X + noise * rng.standard_normal(X.shape)
    return _shuffled(X, y, rng)


def make_circles(
    n: int = 200,
    noise: float = 0.05,
    factor: float = 0.5,
    rng: np.random.Generator | int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A circle of radius ``factor`` (class 1) inside a unit circle (class 0).

    Parameters
    ----------
    n : int
        Number of samples; the outer circle gets the extra one when ``n`` is odd.
    noise : float
        Standard deviation of the Gaussian noise added to both coordinates.
    factor : float
        Radius of the inner circle, in ``(0, 1)``.
    rng : Generator, int or None

    Returns
    -------
    X : ndarray of shape (n, 2), float64, in random order
    y : ndarray of shape (n,), int64
    """
    n = _check_count(n, "n", minimum=2)
    noise = _check_noise(noise)
    if isinstance(factor, bool) or not isinstance(factor, numbers.Real) or not 0 < factor < 1:
        raise ValueError(f"factor must be the inner radius in (0, 1), got {factor!r}")
    rng = as_rng(rng)
    n_outer, n_inner = _split_counts(n, 2)
    s_outer = np.linspace(0.0, 2.0 * np.pi, n_outer, endpoint=False)
    s_inner = np.linspace(0.0, 2.0 * np.pi, n_inner, endpoint=False)
    X = np.concatenate(
        [
            np.column_stack([np.cos(s_outer), np.sin(s_outer)]),
            float(factor) * np.column_stack([np.cos(s_inner), np.sin(s_inner)]),
        ]
    )
    y = np.repeat(np.array([0, 1], dtype=np.int64), [n_outer, n_inner])
    X = X + noise * rng.standard_normal(X.shape)
    return _shuffled(X, y, rng)


def make_blobs(
    n: int = 300,
    centers: int | np.ndarray = 3,
    n_features: int = 2,
    cluster_std: float = 1.0,
    center_box: tuple[float, float] = (-10.0, 10.0),
    rng: np.random.Generator | int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic Gaussian clusters, one per class.

    Parameters
    ----------
    n : int
        Number of samples, spread as evenly as possible over the clusters.
    centers : int or ndarray of shape (K, D)
        Number of clusters (centres drawn uniformly in ``center_box``) or the centres themselves.
    n_features : int
        Dimension ``D`` when ``centers`` is an int; ignored otherwise.
    cluster_std : float
        Standard deviation of every cluster.
    center_box : (float, float)
        Bounds of the uniformly drawn centres.
    rng : Generator, int or None

    Returns
    -------
    X : ndarray of shape (n, D), float64, in random order
    y : ndarray of shape (n,), int64
        The index of the cluster each sample was drawn from.
    """
    n = _check_count(n, "n")
    cluster_std = _check_noise(cluster_std, "cluster_std")
    rng = as_rng(rng)
    if isinstance(centers, numbers.Integral) and not isinstance(centers, bool):
        k = _check_count(centers, "centers")
        d = _check_count(n_features, "n_features")
        low, high = (float(v) for v in center_box)
        if not low < high:
            raise ValueError(f"center_box must be (low, high) with low < high, got {center_box}")
        means = rng.uniform(low, high, size=(k, d))
    else:
        means = as_float_array(centers, "centers")
        check_ndim(means, 2, "centers", "(K, D)")
        means = means.astype(np.float64)
        k = means.shape[0]
        if k < 1:
            raise ValueError("centers must hold at least one centre, got shape (0, D)")
    y = np.repeat(np.arange(k, dtype=np.int64), _split_counts(n, k))
    X = means[y] + cluster_std * rng.standard_normal((n, means.shape[1]))
    return _shuffled(X, y, rng)


def load_digits(
    rng: np.random.Generator | int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 handwritten 8×8 digits bundled with scikit-learn (offline, no download).

    Parameters
    ----------
    rng : Generator, int or None
        If given, the samples are returned in a random order drawn from it; ``None`` keeps the
        file's order (so the result is deterministic either way).

    Returns
    -------
    X : ndarray of shape (1797, 64), float64
        Pixel intensities from 0 to 16, each row an image read row by row.
    y : ndarray of shape (1797,), int64
        The digit, 0 to 9.
    """
    from sklearn.datasets import load_digits as _sklearn_load_digits  # heavy: import on use

    bunch = _sklearn_load_digits()
    X = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target, dtype=np.int64)
    if rng is None:
        return X, y
    return _shuffled(X, y, as_rng(rng))


def _check_fraction(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a fraction in [0, 1), got {type(value).__name__}")
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be a fraction in [0, 1), got {value!r}")
    return float(value)


def train_val_test_split(
    X: np.ndarray,
    y: np.ndarray,
    val: float = 0.15,
    test: float = 0.15,
    rng: np.random.Generator | int | None = None,
    stratify: bool = False,
) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Shuffle and split a data set into training, validation and test parts.

    Parameters
    ----------
    X : ndarray of shape (N, ...)
    y : ndarray of shape (N,)
    val, test : float
        Fractions of the samples for validation and test; ``val + test < 1``. The counts are
        ``round(val · N)`` and ``round(test · N)`` (per class when ``stratify``); the rest trains.
    rng : Generator, int or None
    stratify : bool
        Split every class separately so that each part keeps the class proportions.

    Returns
    -------
    (X_train, y_train), (X_val, y_val), (X_test, y_test)
        Disjoint parts that together hold every sample exactly once, each in random order.

    Examples
    --------
    >>> (X_tr, y_tr), (X_va, y_va), (X_te, y_te) = train_val_test_split(X, y, rng=0)
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim < 1 or y.ndim != 1:
        raise ValueError(f"expected X of shape (N, ...) and y of shape (N,), got {y.shape} for y")
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same length, got {len(X)} and {len(y)}")
    val = _check_fraction(val, "val")
    test = _check_fraction(test, "test")
    if val + test >= 1.0:
        raise ValueError(f"val + test must be < 1 to leave training data, got {val} + {test}")
    rng = as_rng(rng)
    if stratify:
        groups = [np.flatnonzero(y == label) for label in np.unique(y)]
    else:
        groups = [np.arange(len(y))]
    parts: list[list[np.ndarray]] = [[], [], []]
    for group in groups:
        group = rng.permutation(group)
        n_val = round(val * len(group))
        n_test = round(test * len(group))
        parts[1].append(group[:n_val])
        parts[2].append(group[n_val : n_val + n_test])
        parts[0].append(group[n_val + n_test :])
    if not sum(len(p) for p in parts[0]):
        raise ValueError(f"no samples left for training with N={len(y)}, val={val}, test={test}")
    out = []
    for pieces in parts:
        index = rng.permutation(np.concatenate(pieces))
        out.append((X[index], y[index]))
    return tuple(out)


class Standardizer:
    """Shift and scale every feature to mean 0 and standard deviation 1, using training data only.

    Fit on the training set, then apply the *same* transformation to validation and test data,
    so nothing about them leaks into training. A constant feature has standard deviation 0; it
    is only centred (scale 1), never divided by zero.

    Attributes
    ----------
    mean_ : ndarray of shape (D,)
    scale_ : ndarray of shape (D,)
        The standard deviation of each feature, with 0 replaced by 1.

    Examples
    --------
    >>> scaler = Standardizer().fit(X_train)
    >>> X_train_s, X_val_s = scaler.transform(X_train), scaler.transform(X_val)
    """

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def fit(self, X: np.ndarray) -> Standardizer:
        """Learn ``mean_`` and ``scale_`` from ``X`` of shape ``(N, D)``; returns ``self``."""
        X = as_float_array(X, "X")
        check_ndim(X, 2, "X", "(N, D)")
        if X.shape[0] == 0:
            raise ValueError("cannot fit a Standardizer on an empty X (shape (0, D))")
        self.mean_ = X.mean(axis=0)
        std = X.std(axis=0)
        # Relative test: a feature that is constant up to rounding counts as constant.
        tiny = np.finfo(X.dtype).eps * np.maximum(1.0, np.abs(self.mean_)) * 10
        self.scale_ = np.where(std > tiny, std, 1.0).astype(X.dtype)
        return self

    def _check(self, X: np.ndarray, name: str) -> np.ndarray:
        if self.mean_ is None or self.scale_ is None:
            raise RuntimeError("this Standardizer is not fitted yet; call fit(X_train) first")
        X = as_float_array(X, name)
        check_ndim(X, 2, name, f"(N, {self.mean_.shape[0]})")
        if X.shape[1] != self.mean_.shape[0]:
            raise ValueError(
                f"expected {name} of shape (N, {self.mean_.shape[0]}) like the data fitted on, "
                f"got shape {X.shape}"
            )
        return X

    def transform(self, X: np.ndarray) -> np.ndarray:
        """``(X − mean_) / scale_``; same shape as ``X``."""
        X = self._check(X, "X")
        return ((X - self.mean_) / self.scale_).astype(X.dtype, copy=False)

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X).transform(X)

    def inverse_transform(self, Z: np.ndarray) -> np.ndarray:
        """``Z · scale_ + mean_``: undo :meth:`transform`."""
        Z = self._check(Z, "Z")
        return (Z * self.scale_ + self.mean_).astype(Z.dtype, copy=False)

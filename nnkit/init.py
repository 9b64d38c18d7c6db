"""Weight initialisers (lesson 04): each returns a fresh ``(fan_out, fan_in)`` array.

Every initialiser has the signature ``init(fan_in, fan_out, rng, ...)``: ``fan_in`` is the
number of inputs of the layer (``D``), ``fan_out`` the number of outputs (``M``), and the result
has the dense layer's shape ``(M, D)`` (``z = X @ W.T + b``). Random initialisers draw only from
``rng`` (a ``np.random.Generator``, an int seed or ``None``), never from ``np.random``'s global
state. Biases are not initialised here: they start at zero.

=================  ========================================  ==============================
name               distribution                              torch equivalent
=================  ========================================  ==============================
xavier_uniform     U(-a, a), a = sqrt(6 / (fan_in + fan_out))  ``xavier_uniform_``
xavier_normal      N(0, 2 / (fan_in + fan_out))               ``xavier_normal_``
he_normal          N(0, 2 / fan_in)                           ``kaiming_normal_`` (defaults)
he_uniform         U(-a, a), a = sqrt(6 / fan_in)             ``kaiming_uniform_(a=0)``
lecun_normal       N(0, 1 / fan_in)                           ``normal_(std=fan_in ** -0.5)``
orthogonal         Q of a QR of a Gaussian, times ``gain``    ``orthogonal_``
=================  ========================================  ==============================
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import numpy as np

from ._checks import as_rng, check_real
from ._guard import reference

__all__ = [
    "INITIALIZERS",
    "constant",
    "get_initializer",
    "he_normal",
    "he_uniform",
    "lecun_normal",
    "normal",
    "orthogonal",
    "xavier_normal",
    "xavier_uniform",
    "zeros",
]


def _check_fans(fan_in, fan_out) -> tuple[int, int]:
    for name, value in (("fan_in", fan_in), ("fan_out", fan_out)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must be a positive int, got {type(value).__name__} {value!r}")
        if value <= 0:
            raise ValueError(f"{name} must be a positive int, got {value}")
    return int(fan_in), int(fan_out)


def zeros(fan_in: int, fan_out: int, rng=None) -> np.ndarray:
    """All zeros, shape ``(fan_out, fan_in)``; ``rng`` is accepted and ignored.

    Notes
    -----
    Every hidden unit then computes the same thing and receives the same gradient (symmetry),
    and with ReLU/tanh layers the all-zero point is a saddle: nothing learns. Lesson 04 shows it.
    """
    fan_in, fan_out = _check_fans(fan_in, fan_out)
    return np.zeros((fan_out, fan_in))


def constant(fan_in: int, fan_out: int, rng=None, value: float = 0.0) -> np.ndarray:
    """Every entry equal to ``value``, shape ``(fan_out, fan_in)``; ``rng`` is ignored."""
    fan_in, fan_out = _check_fans(fan_in, fan_out)
    return np.full((fan_out, fan_in), check_real(value, "value"))


def normal(fan_in: int, fan_out: int, rng, std: float = 0.01) -> np.ndarray:
    """Gaussian ``N(0, std²)`` with a fixed ``std`` (the "small random numbers" recipe)."""
    fan_in, fan_out = _check_fans(fan_in, fan_out)
    std = check_real(std, "std")
    if std < 0:
        raise ValueError(f"std must be >= 0, got {std}")
    return as_rng(rng).normal(0.0, std, size=(fan_out, fan_in))


@reference
def xavier_uniform(fan_in: int, fan_out: int, rng) -> np.ndarray:
    """Glorot/Xavier uniform initialisation.

    Parameters
    ----------
    fan_in, fan_out : int
        Number of inputs ``D`` and outputs ``M`` of the layer (both ``>= 1``).
    rng : numpy.random.Generator, int or None
        Source of randomness.

    Returns
    -------
    ndarray, shape (fan_out, fan_in)

    Notes
    -----
    ``W_ij ~ U(-a, a)`` with ``a = sqrt(6 / (fan_in + fan_out))``, so
    ``Var(W_ij) = a² / 3 = 2 / (fan_in + fan_out)``: the compromise between keeping the forward
    variance (``1 / fan_in``) and the backward variance (``1 / fan_out``) of a linear/tanh unit.
    """
    fan_in, fan_out = _check_fans(fan_in, fan_out)
    bound = np.sqrt(6.0 / (fan_in + fan_out))
    return as_rng(rng).uniform(-bound, bound, size=(fan_out, fan_in))


@reference
def xavier_normal(fan_in: int, fan_out: int, rng) -> np.ndarray:
    """Glorot/Xavier normal initialisation, ``W_ij ~ N(0, 2 / (fan_in + fan_out))``.

    Parameters
    ----------
    fan_in, fan_out : int
        Number of inputs and outputs of the layer.
    rng : numpy.random.Generator, int or None

    Returns
    -------
    ndarray, shape (fan_out, fan_in)

    Notes
    -----
    ``std = sqrt(2 / (fan_in + fan_out))`` — the same variance as :func:`xavier_uniform`.
    """
    fan_in, fan_out = _check_fans(fan_in, fan_out)
    std = np.sqrt(2.0 / (fan_in + fan_out))
    return as_rng(rng).normal(0.0, std, size=(fan_out, fan_in))


@reference
def he_normal(fan_in: int, fan_out: int, rng) -> np.ndarray:
    """He/Kaiming normal initialisation for ReLU layers, ``W_ij ~ N(0, 2 / fan_in)``.

    Parameters
    ----------
    fan_in, fan_out : int
        Number of inputs and outputs of the layer.
    rng : numpy.random.Generator, int or None

    Returns
    -------
    ndarray, shape (fan_out, fan_in)

    Notes
    -----
    ``std = sqrt(2 / fan_in)``: a ReLU zeroes half its inputs, so doubling the LeCun variance
    keeps the second moment of the activations constant through depth. Same as torch's
    ``kaiming_normal_`` with its defaults (``mode="fan_in"``, ``nonlinearity="leaky_relu"``,
    ``a=0``, whose gain is ``sqrt(2)``).
    """
    fan_in, fan_out = _check_fans(fan_in, fan_out)
    std = np.sqrt(2.0 / fan_in)
    return as_rng(rng).normal(0.0, std, size=(fan_out, fan_in))


@reference
def he_uniform(fan_in: int, fan_out: int, rng) -> np.ndarray:
    """He/Kaiming uniform initialisation, ``W_ij ~ U(-a, a)`` with ``a = sqrt(6 / fan_in)``.

    Parameters
    ----------
    fan_in, fan_out : int
        Number of inputs and outputs of the layer.
    rng : numpy.random.Generator, int or None

    Returns
    -------
    ndarray, shape (fan_out, fan_in)

    Notes
    -----
    ``Var(W_ij) = a² / 3 = 2 / fan_in``, the variance of :func:`he_normal`. torch:
    ``kaiming_uniform_(w, a=0, nonlinearity="relu")`` (its *default* ``a = sqrt(5)`` is a
    different, smaller bound).
    """
    fan_in, fan_out = _check_fans(fan_in, fan_out)
    bound = np.sqrt(6.0 / fan_in)
    return as_rng(rng).uniform(-bound, bound, size=(fan_out, fan_in))


def lecun_normal(fan_in: int, fan_out: int, rng) -> np.ndarray:
    """LeCun normal initialisation, ``W_ij ~ N(0, 1 / fan_in)`` (variance-preserving for linear)."""
    fan_in, fan_out = _check_fans(fan_in, fan_out)
    std = np.sqrt(1.0 / fan_in)
    return as_rng(rng).normal(0.0, std, size=(fan_out, fan_in))


@reference
def orthogonal(fan_in: int, fan_out: int, rng, gain: float = 1.0) -> np.ndarray:
    """(Semi-)orthogonal initialisation scaled by ``gain``.

    Parameters
    ----------
    fan_in, fan_out : int
        Number of inputs and outputs of the layer.
    rng : numpy.random.Generator, int or None
    gain : float
        Scale of the result.

    Returns
    -------
    W : ndarray, shape (fan_out, fan_in)
        ``W @ W.T = gain² I`` when ``fan_out <= fan_in`` (orthonormal rows), otherwise
        ``W.T @ W = gain² I`` (orthonormal columns).

    Notes
    -----
    Draw ``A ~ N(0, 1)`` of shape ``(max, min)`` of the two fans, take ``A = QR`` and multiply
    each column of ``Q`` by the sign of the matching diagonal entry of ``R``; that correction
    makes ``Q`` uniformly (Haar) distributed rather than biased by the QR algorithm's sign
    convention. Transpose if ``fan_out < fan_in``. This is ``torch.nn.init.orthogonal_``.
    """
    fan_in, fan_out = _check_fans(fan_in, fan_out)
    gain = check_real(gain, "gain")
    rows, cols = fan_out, fan_in
    flat = as_rng(rng).standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(flat)
    signs = np.where(np.diag(r) < 0, -1.0, 1.0)
    q = q * signs
    if rows < cols:
        q = q.T
    return gain * q


INITIALIZERS: dict[str, Callable[..., np.ndarray]] = {
    "zeros": zeros,
    "constant": constant,
    "normal": normal,
    "xavier_uniform": xavier_uniform,
    "xavier_normal": xavier_normal,
    "glorot_uniform": xavier_uniform,
    "glorot_normal": xavier_normal,
    "he_normal": he_normal,
    "he_uniform": he_uniform,
    "kaiming_normal": he_normal,
    "kaiming_uniform": he_uniform,
    "lecun_normal": lecun_normal,
    "orthogonal": orthogonal,
}


def get_initializer(name: str | Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """Look up an initialiser by name (``"he_normal"``); a callable is returned unchanged.

    Raises
    ------
    TypeError
        If ``name`` is neither a string nor a callable.
    ValueError
        If ``name`` is unknown; the message lists the valid names.
    """
    if callable(name):
        return name
    if not isinstance(name, str):
        raise TypeError(f"init must be a string or a callable, got {type(name).__name__}")
    try:
        return INITIALIZERS[name]
    except KeyError:
        raise ValueError(f"unknown init {name!r}; expected one of {sorted(INITIALIZERS)}") from None

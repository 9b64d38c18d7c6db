"""Element-wise activation functions ``g(a)`` and their derivatives ``g'(a)`` (lesson 01).

Every ``*_grad`` is the derivative with respect to the pre-activation ``a`` (not the output),
evaluated element-wise, so the backward pass of an activation is ``dout * g_grad(a)``.

Conventions shared by all functions here:

- the input is anything array-like; float32 stays float32, float64 stays float64, integers
  and booleans become float64; the output has the input's shape;
- the input is never modified;
- no function overflows or warns for large finite ``|a|`` (nor for ``±inf``);
- at a kink the derivative takes the value PyTorch's autograd uses: ``relu_grad(0) = 0``,
  ``leaky_relu_grad(0, k) = k``, ``hard_tanh_grad(±1) = 0``.

``ACTIVATIONS`` maps a name to its ``(fn, grad_fn)`` pair; :func:`get_activation` looks it up.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._checks import as_float_array, check_real
from ._guard import reference

__all__ = [
    "ACTIVATIONS",
    "get_activation",
    "hard_tanh",
    "hard_tanh_grad",
    "identity",
    "identity_grad",
    "leaky_relu",
    "leaky_relu_grad",
    "relu",
    "relu_grad",
    "sigmoid",
    "sigmoid_grad",
    "softplus",
    "softplus_grad",
    "softsign",
    "softsign_grad",
    "tanh",
    "tanh_grad",
]


# Private cores, shared with nnkit.functional and nnkit.signals. Calling them (rather than the
# decorated public functions) keeps one reference from tripping the grader's guard of another.
def _sigmoid(a: np.ndarray) -> np.ndarray:
    # exp(-|a|) lies in (0, 1], so nothing overflows; both branches are exact forms of 1/(1+e^-a).
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(a.dtype, copy=False)


def _sigmoid_grad(a: np.ndarray) -> np.ndarray:
    # s(1 - s) = e / (1 + e)^2 with e = exp(-|a|): symmetric and accurate in both tails.
    e = np.exp(-np.abs(a))
    return e / (1.0 + e) ** 2


def _tanh_grad(a: np.ndarray) -> np.ndarray:
    # 1 - tanh(a)^2 = sech(a)^2 = 4e / (1 + e)^2 with e = exp(-2|a|); cosh would overflow.
    e = np.exp(-np.abs(a))
    e = e * e  # exp(-2|a|) without forming 2|a|, which overflows for |a| > 9e307
    return 4.0 * e / (1.0 + e) ** 2


def _softplus(a: np.ndarray) -> np.ndarray:
    # log(1 + e^a) = max(a, 0) + log(1 + e^-|a|): exp never sees a positive argument.
    return np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a)))


def _softsign(a: np.ndarray) -> np.ndarray:
    out = a / (1.0 + np.abs(a)) if not np.isinf(a).any() else _softsign_inf(a)
    return out


def _softsign_inf(a: np.ndarray) -> np.ndarray:
    finite = np.where(np.isinf(a), 0.0, a)
    return np.where(np.isinf(a), np.sign(a), finite / (1.0 + np.abs(finite))).astype(a.dtype)


def _softsign_grad(a: np.ndarray) -> np.ndarray:
    # square the reciprocal (underflows quietly to 0) rather than (1 + |a|)^2 (would overflow)
    r = 1.0 / (1.0 + np.abs(a))
    return r * r


def _leaky_relu(a: np.ndarray, k: float) -> np.ndarray:
    # max(a, 0) + k min(a, 0) never multiplies k by +inf (np.where would, giving nan for k = 0)
    return np.maximum(a, 0) + k * np.minimum(a, 0)


def _leaky_relu_grad(a: np.ndarray, k: float) -> np.ndarray:
    return np.where(a > 0, 1.0, k).astype(a.dtype, copy=False)


@reference
def sigmoid(a) -> np.ndarray:
    """Logistic sigmoid ``σ(a) = 1 / (1 + exp(-a))``, element-wise, without overflow.

    Parameters
    ----------
    a : array_like, any shape
        Pre-activations.

    Returns
    -------
    ndarray, same shape as ``a``
        Values in ``[0, 1]``.

    Notes
    -----
    For ``a < 0`` the equal form ``exp(a) / (1 + exp(a))`` is used, so ``exp`` only ever sees
    ``-|a|``: ``sigmoid(-1000)`` is ``0.0`` and ``sigmoid(1000)`` is ``1.0``, without warnings.
    """
    return _sigmoid(as_float_array(a, "a"))


@reference
def sigmoid_grad(a) -> np.ndarray:
    """Derivative of the sigmoid with respect to its input: ``σ'(a) = σ(a) (1 - σ(a))``.

    Parameters
    ----------
    a : array_like, any shape
        Pre-activations (not sigmoid outputs).

    Returns
    -------
    ndarray, same shape as ``a``
        Values in ``[0, 1/4]``; the maximum ``1/4`` is at ``a = 0``.

    Notes
    -----
    Computed as ``e / (1 + e)^2`` with ``e = exp(-|a|)``, which equals ``σ(1 - σ)`` and keeps
    full relative accuracy in the tails.
    """
    return _sigmoid_grad(as_float_array(a, "a"))


@reference
def tanh(a) -> np.ndarray:
    """Hyperbolic tangent ``tanh(a) = 2σ(2a) - 1``, element-wise; values in ``[-1, 1]``.

    Parameters
    ----------
    a : array_like, any shape

    Returns
    -------
    ndarray, same shape as ``a``
    """
    return np.tanh(as_float_array(a, "a"))


@reference
def tanh_grad(a) -> np.ndarray:
    """Derivative of tanh with respect to its input: ``1 - tanh(a)^2``.

    Parameters
    ----------
    a : array_like, any shape
        Pre-activations.

    Returns
    -------
    ndarray, same shape as ``a``
        Values in ``[0, 1]``; ``1`` at ``a = 0``.

    Notes
    -----
    Computed as ``4e / (1 + e)^2`` with ``e = exp(-2|a|)`` (``= sech(a)^2``): no overflow, and
    accurate where ``1 - tanh^2`` would cancel to zero.
    """
    return _tanh_grad(as_float_array(a, "a"))


@reference
def relu(a) -> np.ndarray:
    """Rectified linear unit ``max(a, 0)``, element-wise.

    Parameters
    ----------
    a : array_like, any shape

    Returns
    -------
    ndarray, same shape as ``a``
    """
    return np.maximum(as_float_array(a, "a"), 0)


@reference
def relu_grad(a) -> np.ndarray:
    """Derivative of ReLU: ``1`` where ``a > 0``, else ``0`` (so ``relu_grad(0) = 0``).

    Parameters
    ----------
    a : array_like, any shape
        Pre-activations.

    Returns
    -------
    ndarray, same shape and float dtype as ``a``
    """
    a = as_float_array(a, "a")
    return (a > 0).astype(a.dtype)


@reference
def leaky_relu(a, k: float = 0.01) -> np.ndarray:
    """Leaky ReLU: ``a`` where ``a > 0``, else ``k a``.

    Parameters
    ----------
    a : array_like, any shape
    k : float, default 0.01
        Slope for negative inputs (PyTorch's ``negative_slope``).

    Returns
    -------
    ndarray, same shape as ``a``
    """
    return _leaky_relu(as_float_array(a, "a"), check_real(k, "k"))


@reference
def leaky_relu_grad(a, k: float = 0.01) -> np.ndarray:
    """Derivative of leaky ReLU: ``1`` where ``a > 0``, else ``k`` (so the value at 0 is ``k``).

    Parameters
    ----------
    a : array_like, any shape
        Pre-activations.
    k : float, default 0.01

    Returns
    -------
    ndarray, same shape and float dtype as ``a``
    """
    return _leaky_relu_grad(as_float_array(a, "a"), check_real(k, "k"))


def identity(a) -> np.ndarray:
    """Linear (identity) activation ``g(a) = a``; returns a new array, never ``a`` itself."""
    return np.array(as_float_array(a, "a"), copy=True)


def identity_grad(a) -> np.ndarray:
    """Derivative of the identity: ones of ``a``'s shape."""
    return np.ones_like(as_float_array(a, "a"))


def hard_tanh(a) -> np.ndarray:
    """Hard tanh: ``a`` clipped to ``[-1, 1]``.

    Parameters
    ----------
    a : array_like, any shape

    Returns
    -------
    ndarray, same shape as ``a``
    """
    return np.clip(as_float_array(a, "a"), -1, 1)


def hard_tanh_grad(a) -> np.ndarray:
    """Derivative of hard tanh: ``1`` on the open interval ``(-1, 1)``, else ``0`` (as torch)."""
    a = as_float_array(a, "a")
    return ((a > -1) & (a < 1)).astype(a.dtype)


def softsign(a) -> np.ndarray:
    """Softsign ``a / (1 + |a|)``: tanh-shaped, with polynomial instead of exponential tails.

    Parameters
    ----------
    a : array_like, any shape

    Returns
    -------
    ndarray, same shape as ``a``, values in ``[-1, 1]`` (``±1`` exactly at ``±inf``)
    """
    return _softsign(as_float_array(a, "a"))


def softsign_grad(a) -> np.ndarray:
    """Derivative of softsign: ``1 / (1 + |a|)^2``."""
    return _softsign_grad(as_float_array(a, "a"))


@reference
def softplus(a) -> np.ndarray:
    """Softplus ``log(1 + exp(a))``, a smooth ReLU, computed without overflow.

    Guarded like a graded reference (:mod:`nnkit._guard`): it is the heart of
    ``binary_cross_entropy_with_logits``, which lesson 02 asks students to write.

    Parameters
    ----------
    a : array_like, any shape

    Returns
    -------
    ndarray, same shape as ``a``

    Notes
    -----
    ``log(1 + e^a) = max(a, 0) + log1p(e^{-|a|})``. Unlike PyTorch (which returns ``a`` itself
    above ``threshold = 20``) this is exact everywhere; the two differ by at most ``2e-9``.
    """
    return _softplus(as_float_array(a, "a"))


def softplus_grad(a) -> np.ndarray:
    """Derivative of softplus: the sigmoid ``σ(a)``."""
    return _sigmoid(as_float_array(a, "a"))


ACTIVATIONS: dict[str, tuple[Callable, Callable]] = {
    "identity": (identity, identity_grad),
    "sigmoid": (sigmoid, sigmoid_grad),
    "tanh": (tanh, tanh_grad),
    "relu": (relu, relu_grad),
    "leaky_relu": (leaky_relu, leaky_relu_grad),
    "hard_tanh": (hard_tanh, hard_tanh_grad),
    "softsign": (softsign, softsign_grad),
    "softplus": (softplus, softplus_grad),
}


def get_activation(name: str) -> tuple[Callable, Callable]:
    """Look up ``(fn, grad_fn)`` by name, e.g. ``get_activation("relu") == (relu, relu_grad)``.

    Raises
    ------
    TypeError
        If ``name`` is not a string.
    ValueError
        If ``name`` is not one of ``ACTIVATIONS``; the message lists the valid names.
    """
    if not isinstance(name, str):
        raise TypeError(f"activation name must be a string, got {type(name).__name__}")
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}"
        ) from None

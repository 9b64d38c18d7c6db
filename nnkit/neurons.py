"""One artificial neuron, a layer of them, and a two-layer network computing XOR (lesson 01).

A neuron with weights ``w``, bias ``b`` and activation ``g`` maps an input ``x`` to
``g(w·x + b)``; a layer stacks ``M`` neurons as the rows of ``W``. Samples are rows, so a batch
``X`` of shape ``(N, D)`` gives ``g(X @ w + b)`` of shape ``(N,)`` and ``g(X @ W.T + b)`` of
shape ``(N, M)``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._checks import as_float_array, check_callable, check_ndim
from ._guard import reference

__all__ = ["layer_forward", "neuron_forward", "xor_params"]


@reference
def neuron_forward(X, w, b, g: Callable) -> np.ndarray:
    """Output of one neuron for every sample: ``g(X @ w + b)``.

    Parameters
    ----------
    X : array_like, shape (N, D)
        Inputs, one sample per row.
    w : array_like, shape (D,)
        The neuron's weights.
    b : float
        The neuron's bias.
    g : callable
        Element-wise activation, e.g. ``nnkit.sigmoid``.

    Returns
    -------
    ndarray, shape (N,)
    """
    X = as_float_array(X, "X")
    w = as_float_array(w, "w")
    check_ndim(X, 2, "X", "(N, D)")
    if w.shape != (X.shape[1],):
        raise ValueError(f"expected w of shape (D,) = ({X.shape[1]},), got shape {w.shape}")
    b = as_float_array(b, "b")
    if b.size != 1:
        raise ValueError(f"expected a scalar bias b, got shape {b.shape}")
    check_callable(g, "g")
    return g(X @ w + b.reshape(()))


@reference
def layer_forward(X, W, b, g: Callable) -> np.ndarray:
    """Outputs of a layer of ``M`` neurons for every sample: ``g(X @ W.T + b)``.

    Parameters
    ----------
    X : array_like, shape (N, D)
    W : array_like, shape (M, D)
        Row ``m`` holds the weights of neuron ``m``.
    b : array_like, shape (M,)
    g : callable
        Element-wise activation.

    Returns
    -------
    ndarray, shape (N, M)
    """
    X = as_float_array(X, "X")
    W = as_float_array(W, "W")
    b = as_float_array(b, "b")
    check_ndim(X, 2, "X", "(N, D)")
    check_ndim(W, 2, "W", "(M, D)")
    if W.shape[1] != X.shape[1]:
        raise ValueError(
            f"expected W of shape (M, D) with D = {X.shape[1]} (the features of X), "
            f"got shape {W.shape}"
        )
    if b.shape != (W.shape[0],):
        raise ValueError(f"expected b of shape (M,) = ({W.shape[0]},), got shape {b.shape}")
    check_callable(g, "g")
    return g(X @ W.T + b)


@reference
def xor_params() -> dict:
    """Weights of a 2-2-1 ReLU network that computes XOR exactly.

    Returns
    -------
    dict
        ``W`` (2, 2), ``b`` (2,), ``w`` (2,) and ``c`` (float) such that
        ``w @ relu(W @ x + b) + c`` is 0 for x = (0, 0), (1, 1) and 1 for (0, 1), (1, 0).

    Notes
    -----
    Both hidden units see ``s = x1 + x2``: ``h1 = relu(s)`` counts the ones and
    ``h2 = relu(s − 1)`` fires only for (1, 1). The output ``h1 − 2 h2`` is 0, 1, 1, 0.
    """
    return {
        "W": np.array([[1.0, 1.0], [1.0, 1.0]]),
        "b": np.array([0.0, -1.0]),
        "w": np.array([1.0, -2.0]),
        "c": 0.0,
    }

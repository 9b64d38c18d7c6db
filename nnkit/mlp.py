"""A two-layer ReLU network with softmax cross-entropy, trained by mini-batch SGD (lesson 03).

Parameters are a dict ``{"W1": (H, D), "b1": (H,), "W2": (K, H), "b2": (K,)}``; the forward
pass is ``scores = relu(X @ W1.T + b1) @ W2.T + b2`` and the loss the mean softmax
cross-entropy plus ``reg * (‖W1‖² + ‖W2‖²)`` (biases are not regularised).
"""

from __future__ import annotations

import numbers

import numpy as np

from ._checks import as_float_array, as_rng, check_labels, check_ndim, check_real
from ._guard import reference
from .losses import _log_softmax

__all__ = ["init_mlp", "mlp_loss", "mlp_predict", "train_mlp"]

_SHAPES = {"W1": "(H, D)", "b1": "(H,)", "W2": "(K, H)", "b2": "(K,)"}


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def init_mlp(D: int, H: int, K: int, rng=None) -> dict[str, np.ndarray]:
    """Random parameters for a ``D → H → K`` network.

    Weights are He-normal (std ``sqrt(2 / fan_in)``, suited to ReLU), biases zero.

    Parameters
    ----------
    D, H, K : int
        Input features, hidden units, classes.
    rng : numpy.random.Generator, int or None

    Returns
    -------
    dict
        ``W1`` (H, D), ``b1`` (H,), ``W2`` (K, H), ``b2`` (K,), float64.
    """
    D, H, K = _positive_int(D, "D"), _positive_int(H, "H"), _positive_int(K, "K")
    rng = as_rng(rng)
    return {
        "W1": rng.normal(0.0, np.sqrt(2.0 / D), size=(H, D)),
        "b1": np.zeros(H),
        "W2": rng.normal(0.0, np.sqrt(2.0 / H), size=(K, H)),
        "b2": np.zeros(K),
    }


def _check_params(params, d: int | None = None) -> dict[str, np.ndarray]:
    if not isinstance(params, dict):
        raise TypeError(
            f"params must be a dict with keys W1, b1, W2, b2, got {type(params).__name__}"
        )
    missing = [key for key in _SHAPES if key not in params]
    if missing:
        raise ValueError(f"params is missing {missing}; expected keys W1, b1, W2, b2")
    p = {key: as_float_array(params[key], f"params[{key!r}]") for key in _SHAPES}
    for key in ("W1", "W2"):
        check_ndim(p[key], 2, f"params[{key!r}]", _SHAPES[key])
    if d is not None and p["W1"].shape[1] != d:
        raise ValueError(
            f"expected params['W1'] of shape (H, D) with D = {d} (the features of X), "
            f"got {p['W1'].shape}"
        )
    h, k = p["W1"].shape[0], p["W2"].shape[0]
    expected = {"b1": (h,), "W2": (k, h), "b2": (k,)}
    for key, shape in expected.items():
        if p[key].shape != shape:
            raise ValueError(
                f"expected params[{key!r}] of shape {_SHAPES[key]} = {shape}, got {p[key].shape}"
            )
    return p


def _forward_backward(p, X, labels, reg):
    n = X.shape[0]
    rows = np.arange(n)
    z1 = X @ p["W1"].T + p["b1"]
    h = np.maximum(z1, 0)
    scores = h @ p["W2"].T + p["b2"]
    logp = _log_softmax(scores)
    loss = -logp[rows, labels].mean()
    loss = loss + reg * (np.sum(p["W1"] * p["W1"]) + np.sum(p["W2"] * p["W2"]))
    dscores = np.exp(logp)
    dscores[rows, labels] -= 1
    dscores /= n
    dW2 = dscores.T @ h + 2 * reg * p["W2"]
    db2 = dscores.sum(axis=0)
    dz1 = (dscores @ p["W2"]) * (z1 > 0)
    dW1 = dz1.T @ X + 2 * reg * p["W1"]
    db1 = dz1.sum(axis=0)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


@reference
def mlp_loss(params: dict, X, y, reg: float = 0.0):
    """Loss and gradients of a one-hidden-layer ReLU network with softmax cross-entropy.

    Parameters
    ----------
    params : dict
        ``W1`` (H, D), ``b1`` (H,), ``W2`` (K, H), ``b2`` (K,).
    X : array_like, shape (N, D)
    y : array_like of int, shape (N,)
        Labels in ``[0, K)``.
    reg : float, default 0.0
        L2 strength on the weights (not the biases).

    Returns
    -------
    loss : float scalar
        ``mean_i −log softmax(s_i)[y_i] + reg (‖W1‖² + ‖W2‖²)`` with
        ``s = relu(X W1ᵀ + b1) W2ᵀ + b2``.
    grads : dict
        Same keys and shapes as ``params``; ``dW += 2 reg W``.
    """
    X = as_float_array(X, "X")
    check_ndim(X, 2, "X", "(N, D)")
    if X.shape[0] == 0:
        raise ValueError("X must hold at least one sample, got shape (0, D)")
    p = _check_params(params, X.shape[1])
    labels = check_labels(y, X.shape[0], p["W2"].shape[0])
    reg = check_real(reg, "reg")
    return _forward_backward(p, X, labels, reg)


def mlp_predict(params: dict, X) -> np.ndarray:
    """Predicted class of each row of ``X``: the arg-max of the scores, shape (N,)."""
    X = as_float_array(X, "X")
    check_ndim(X, 2, "X", "(N, D)")
    p = _check_params(params, X.shape[1])
    scores = np.maximum(X @ p["W1"].T + p["b1"], 0) @ p["W2"].T + p["b2"]
    return scores.argmax(axis=1)


@reference
def train_mlp(
    X,
    y,
    hidden: int = 64,
    lr: float = 0.5,
    epochs: int = 300,
    batch_size: int = 32,
    rng=None,
    *,
    reg: float = 0.0,
) -> dict[str, np.ndarray]:
    """Train a one-hidden-layer ReLU network by plain mini-batch SGD.

    Parameters
    ----------
    X : array_like, shape (N, D)
    y : array_like of int, shape (N,)
        Labels in ``[0, K)``; ``K = max(y) + 1``.
    hidden : int, default 64
    lr : float, default 0.5
    epochs : int, default 300
        Passes over the shuffled data.
    batch_size : int, default 32
    rng : numpy.random.Generator, int or None
        Initialisation and shuffling (never the global state); same seed, same parameters.
    reg : float, default 0.0 (keyword only)
        L2 strength, as in :func:`mlp_loss`.

    Returns
    -------
    dict
        Trained ``W1``, ``b1``, ``W2``, ``b2``.

    Notes
    -----
    He-normal initialisation (:func:`init_mlp`), then each epoch visits the samples in a fresh
    random order, in mini-batches, with the update ``θ ← θ − lr ∂L/∂θ``. The defaults reach
    over 95% training accuracy on the lesson's 3-class spirals (100 points per class) in well
    under a second.
    """
    X = as_float_array(X, "X")
    check_ndim(X, 2, "X", "(N, D)")
    n, d = X.shape
    if n == 0:
        raise ValueError("X must hold at least one sample, got shape (0, D)")
    labels = check_labels(y, n, None)
    if labels.min() < 0:
        raise ValueError(f"y must hold labels in [0, K), got a minimum of {labels.min()}")
    k = int(labels.max()) + 1
    hidden = _positive_int(hidden, "hidden")
    epochs = _positive_int(epochs, "epochs")
    batch_size = _positive_int(batch_size, "batch_size")
    lr = check_real(lr, "lr")
    reg = check_real(reg, "reg")
    rng = as_rng(rng)

    params = init_mlp(d, hidden, k, rng)
    for _ in range(epochs):
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            batch = order[start : start + batch_size]
            _, grads = _forward_backward(params, X[batch], labels[batch], reg)
            for key, value in params.items():
                value -= lr * grads[key]
    return params

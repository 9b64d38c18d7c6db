"""Softmax and the losses of lesson 02, each with the gradient of its batch mean.

Conventions: scores are rows (``(N, K)`` logits for ``N`` samples and ``K`` classes), integer
labels ``y`` have shape ``(N,)`` with values in ``[0, K)``, every loss is a mean, and every
returned gradient is the gradient of that mean (so it carries the ``1/N``). Losses are returned
as NumPy scalars of the input's float dtype (float32 in, float32 out).
"""

from __future__ import annotations

import numpy as np

from ._checks import as_float_array, check_labels, check_ndim, check_real
from ._guard import reference
from .activations import _sigmoid

__all__ = [
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "log_softmax",
    "max_margin_loss",
    "mse_loss",
    "one_hot",
    "softmax",
    "softmax_cross_entropy",
    "softmax_jacobian",
]


def _check_at_least_1d(z: np.ndarray, name: str) -> None:
    if z.ndim == 0 or z.shape[-1] == 0:
        raise ValueError(f"expected {name} of shape (..., K) with K >= 1, got shape {z.shape}")


def _check_batch(logits: np.ndarray, name: str) -> None:
    check_ndim(logits, 2, name, "(N, K)")
    if logits.shape[0] == 0 or logits.shape[1] == 0:
        raise ValueError(f"expected {name} of shape (N, K) with N, K >= 1, got {logits.shape}")


def _log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@reference
def softmax(z) -> np.ndarray:
    """Softmax over the last axis, ``s_k = exp(z_k) / Σ_j exp(z_j)``, without overflow.

    Parameters
    ----------
    z : array_like, shape (K,) or (..., K)
        Scores (logits); each slice along the last axis is normalised separately.

    Returns
    -------
    ndarray, same shape as ``z``
        Probabilities: non-negative, summing to 1 along the last axis.

    Notes
    -----
    Softmax is unchanged by adding a constant to every score, so ``max(z)`` is subtracted first:
    the largest exponent is then ``exp(0) = 1`` and nothing overflows. Non-finite scores
    (``inf``, ``nan``) give ``nan``.
    """
    z = as_float_array(z, "z")
    _check_at_least_1d(z, "z")
    return _softmax(z)


@reference
def log_softmax(z) -> np.ndarray:
    """Logarithm of the softmax over the last axis, ``z_k − logΣ_j exp(z_j)``, computed stably.

    Guarded like a graded reference (:mod:`nnkit._guard`): its log-sum-exp is the heart of
    ``softmax_cross_entropy`` (and of ``softmax``), which lesson 02 asks students to write.

    Parameters
    ----------
    z : array_like, shape (K,) or (..., K)

    Returns
    -------
    ndarray, same shape as ``z``
        Log-probabilities; finite even where ``softmax(z)`` underflows to 0.
    """
    z = as_float_array(z, "z")
    _check_at_least_1d(z, "z")
    return _log_softmax(z)


@reference
def softmax_jacobian(z) -> np.ndarray:
    """Jacobian ``∂s_i/∂z_j`` of the softmax of a single score vector.

    Parameters
    ----------
    z : array_like, shape (K,)

    Returns
    -------
    ndarray, shape (K, K)
        ``J = diag(s) − s sᵀ`` with ``s = softmax(z)``; symmetric, rows sum to 0.
    """
    z = as_float_array(z, "z")
    if z.ndim != 1 or z.shape[0] == 0:
        raise ValueError(f"expected z of shape (K,) (a single score vector), got shape {z.shape}")
    s = _softmax(z)
    return np.diag(s) - np.outer(s, s)


def one_hot(y, num_classes: int | None = None, dtype=np.float64) -> np.ndarray:
    """One-hot encode integer labels.

    Parameters
    ----------
    y : array_like of int, shape (N,)
        Labels in ``[0, num_classes)``.
    num_classes : int, optional
        ``K``; defaults to ``max(y) + 1``.
    dtype : numpy dtype, default float64

    Returns
    -------
    ndarray, shape (N, K)
        Row ``i`` is 1 in column ``y[i]`` and 0 elsewhere.
    """
    y_arr = np.asarray(y)
    if y_arr.ndim != 1:
        raise ValueError(f"expected y of shape (N,), got shape {y_arr.shape}")
    if num_classes is None:
        num_classes = int(y_arr.max()) + 1 if y_arr.size else 0
    elif isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise TypeError(f"num_classes must be an int, got {type(num_classes).__name__}")
    elif num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes}")
    labels = check_labels(y_arr, y_arr.shape[0], int(num_classes))
    out = np.zeros((labels.shape[0], int(num_classes)), dtype=dtype)
    out[np.arange(labels.shape[0]), labels] = 1
    return out


@reference
def cross_entropy(probs, y):
    """Mean negative log-likelihood of the true classes under predicted probabilities.

    Parameters
    ----------
    probs : array_like, shape (N, K)
        Predicted class probabilities (rows of a softmax).
    y : array_like of int, shape (N,)
        True labels in ``[0, K)``.

    Returns
    -------
    float scalar (dtype of ``probs``)
        ``−(1/N) Σ_i log probs[i, y_i]``.

    Notes
    -----
    A probability of exactly 0 would give ``log 0 = −inf``; probabilities are floored at the
    smallest normal number of their dtype (``np.finfo(dtype).tiny``), so the loss stays finite
    (at most about 708 per sample in float64, 87 in float32). For every probability above that
    floor the value is exactly the plain formula. To train, prefer
    :func:`softmax_cross_entropy`, which never forms ``log(softmax)``.
    """
    probs = as_float_array(probs, "probs")
    _check_batch(probs, "probs")
    n, k = probs.shape
    labels = check_labels(y, n, k)
    picked = probs[np.arange(n), labels]
    return -np.log(np.maximum(picked, np.finfo(probs.dtype).tiny)).mean()


@reference
def softmax_cross_entropy(logits, y):
    """Softmax followed by cross-entropy, fused, with its gradient (PyTorch's ``F.cross_entropy``).

    Parameters
    ----------
    logits : array_like, shape (N, K)
        Unnormalised scores.
    y : array_like of int, shape (N,)
        True labels in ``[0, K)``.

    Returns
    -------
    loss : float scalar (dtype of ``logits``)
        ``−(1/N) Σ_i log softmax(logits_i)[y_i]``.
    dlogits : ndarray, shape (N, K)
        ``(softmax(logits) − onehot(y)) / N``.

    Notes
    -----
    The loss uses ``log_softmax = z − max z − log Σ exp(z − max z)``, never ``log(softmax)``,
    so it is finite for any finite logits, however far apart.
    """
    logits = as_float_array(logits, "logits")
    _check_batch(logits, "logits")
    n, k = logits.shape
    labels = check_labels(y, n, k)
    rows = np.arange(n)
    shifted = logits - logits.max(axis=1, keepdims=True)
    dlogits = np.exp(shifted)  # becomes the gradient in place below
    sum_exp = dlogits.sum(axis=1, keepdims=True)
    # log softmax of the true class only: z_y − max − log Σ exp(z − max)
    loss = -(shifted[rows, labels] - np.log(sum_exp[:, 0])).mean()
    dlogits /= sum_exp
    dlogits[rows, labels] -= 1
    dlogits /= n
    return loss, dlogits


@reference
def binary_cross_entropy_with_logits(logits, y):
    """Sigmoid followed by binary cross-entropy, fused and stable, with its gradient.

    Parameters
    ----------
    logits : array_like, any shape
        Scores ``x``; the predicted probability of class 1 is ``σ(x)``.
    y : array_like, same shape as ``logits``
        Targets in ``[0, 1]``: hard labels 0/1 or probabilities.

    Returns
    -------
    loss : float scalar (dtype of ``logits``)
        Mean over all entries of ``−[y log σ(x) + (1 − y) log(1 − σ(x))]``.
    dlogits : ndarray, same shape as ``logits``
        ``(σ(x) − y) / n`` with ``n`` the number of entries.

    Notes
    -----
    Written as ``max(x, 0) − x y + log(1 + exp(−|x|))``, which is the same quantity but never
    exponentiates a positive number: ``x = ±1000`` gives exact, finite losses (as
    ``F.binary_cross_entropy_with_logits``).
    """
    x = as_float_array(logits, "logits")
    if x.size == 0:
        raise ValueError("logits must have at least one entry, got an empty array")
    t = as_float_array(y, "y")
    if t.shape != x.shape:
        raise ValueError(f"expected y of the same shape as logits {x.shape}, got shape {t.shape}")
    if not np.all((t >= 0) & (t <= 1)):
        raise ValueError(f"y must hold targets in [0, 1], got values from {t.min()} to {t.max()}")
    t = t.astype(x.dtype, copy=False)
    per_entry = np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))
    loss = per_entry.mean()
    dlogits = (_sigmoid(x) - t) / x.size
    return loss, dlogits


@reference
def max_margin_loss(s, s_c, margin: float = 1.0):
    """Hinge (max-margin) loss: a true score ``s`` should beat its corrupt ``s_c`` by ``margin``.

    Parameters
    ----------
    s : array_like, shape (N,) (or any shape)
        Scores of the true examples.
    s_c : array_like, same shape as ``s``
        Scores of the corrupted examples.
    margin : float, default 1.0

    Returns
    -------
    loss : float scalar
        ``mean(max(0, margin + s_c − s))``.
    ds : ndarray, same shape as ``s``
        ``−1/n`` where the hinge is active, else 0.
    ds_c : ndarray, same shape as ``s_c``
        ``+1/n`` where the hinge is active, else 0.

    Notes
    -----
    The hinge counts as *active* where ``margin + s_c − s >= 0``, including exactly at the kink.
    This is the sub-gradient PyTorch's equivalent ``F.margin_ranking_loss(s, s_c, ones, margin)``
    returns (its ``clamp_min`` passes the gradient at equality). It differs from
    ``relu_grad(0) = 0``, and both are valid sub-gradients.
    """
    s_arr = as_float_array(s, "s")
    s_c_arr = as_float_array(s_c, "s_c")
    if s_c_arr.shape != s_arr.shape:
        raise ValueError(
            f"expected s_c of the same shape as s {s_arr.shape}, got shape {s_c_arr.shape}"
        )
    if s_arr.size == 0:
        raise ValueError("s must have at least one entry, got an empty array")
    margin = check_real(margin, "margin")
    gap = margin + s_c_arr - s_arr
    loss = np.maximum(gap, 0).mean()
    active = (gap >= 0).astype(gap.dtype) / gap.size
    return loss, -active, active


def mse_loss(pred, target):
    """Mean squared error over all entries, with its gradient.

    Parameters
    ----------
    pred : array_like, any shape
    target : array_like, same shape as ``pred``

    Returns
    -------
    loss : float scalar
        ``mean((pred − target)²)`` (PyTorch's ``F.mse_loss``, reduction ``"mean"``).
    dpred : ndarray, same shape as ``pred``
        ``2 (pred − target) / n`` with ``n`` the number of entries.
    """
    pred = as_float_array(pred, "pred")
    target = as_float_array(target, "target")
    if target.shape != pred.shape:
        raise ValueError(
            f"expected target of the same shape as pred {pred.shape}, got shape {target.shape}"
        )
    if pred.size == 0:
        raise ValueError("pred must have at least one entry, got an empty array")
    diff = pred - target
    return (diff * diff).mean(), diff * (2.0 / diff.size)

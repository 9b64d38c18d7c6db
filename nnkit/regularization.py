"""Weight penalties and early stopping (lesson 06).

Penalties act on the weight matrices only: the entries of ``params`` whose key starts with
``"W"`` (``W``, ``W1``, ``W2``, ...); biases and everything else are left alone.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence

import numpy as np

from ._checks import as_float_array, check_real
from ._guard import reference

__all__ = ["early_stopping_epoch", "l1_penalty", "l2_penalty"]


def _check_penalty_args(params, lam) -> tuple[dict[str, np.ndarray], float]:
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict of arrays, got {type(params).__name__}")
    lam = check_real(lam, "lam")
    if lam < 0:
        raise ValueError(f"lam must be non-negative, got {lam}")
    arrays = {key: as_float_array(value, f"params[{key!r}]") for key, value in params.items()}
    return arrays, lam


def _is_weight(key) -> bool:
    return isinstance(key, str) and key.startswith("W")


@reference
def l2_penalty(params: Mapping, lam: float):
    """L2 penalty ``lam Σ_W ‖W‖²`` over the weight matrices, with its gradient.

    Parameters
    ----------
    params : dict of arrays
        Only keys starting with ``"W"`` are penalised.
    lam : float, >= 0

    Returns
    -------
    value : float
        ``lam * Σ_{key starts with W} Σ W²``.
    grads : dict
        Every key of ``params``: ``2 lam W`` for weights, zeros (same shape) for the rest.
    """
    arrays, lam = _check_penalty_args(params, lam)
    value, grads = 0.0, {}
    for key, arr in arrays.items():
        if _is_weight(key):
            value += float(np.sum(arr * arr))
            grads[key] = 2.0 * lam * arr
        else:
            grads[key] = np.zeros_like(arr)
    return lam * value, grads


@reference
def l1_penalty(params: Mapping, lam: float):
    """L1 penalty ``lam Σ_W Σ |W|`` over the weight matrices, with a sub-gradient.

    Parameters
    ----------
    params : dict of arrays
        Only keys starting with ``"W"`` are penalised.
    lam : float, >= 0

    Returns
    -------
    value : float
        ``lam * Σ_{key starts with W} Σ |W|``.
    grads : dict
        Every key of ``params``: ``lam sign(W)`` for weights (0 where ``W = 0``, as torch's
        ``abs``), zeros for the rest.
    """
    arrays, lam = _check_penalty_args(params, lam)
    value, grads = 0.0, {}
    for key, arr in arrays.items():
        if _is_weight(key):
            value += float(np.sum(np.abs(arr)))
            grads[key] = lam * np.sign(arr)
        else:
            grads[key] = np.zeros_like(arr)
    return lam * value, grads


@reference
def early_stopping_epoch(val_losses: Sequence[float], patience: int) -> int:
    """The 0-based epoch whose parameters early stopping keeps.

    Parameters
    ----------
    val_losses : sequence of float
        Validation loss after each epoch, in order.
    patience : int, >= 1
        How many epochs in a row without a strictly lower loss end the training.

    Returns
    -------
    int
        The epoch of the lowest loss seen before stopping (the first one, on ties).

    Notes
    -----
    The scan stops at the first epoch that completes ``patience`` epochs in a row with no
    loss strictly below the best so far; losses after that epoch are never looked at. A
    ``nan`` loss counts as no improvement (and any number improves on a ``nan`` start).
    """
    losses = np.asarray(val_losses, dtype=np.float64) if len(val_losses) else np.zeros(0)
    if losses.ndim != 1 or losses.size == 0:
        raise ValueError(
            f"val_losses must be a non-empty sequence of numbers, got shape {losses.shape}"
        )
    if isinstance(patience, bool) or not isinstance(patience, numbers.Integral) or patience < 1:
        raise ValueError(f"patience must be a positive integer, got {patience!r}")
    best_epoch, best, waited = 0, losses[0], 0
    for epoch in range(1, losses.size):
        if losses[epoch] < best or (np.isnan(best) and not np.isnan(losses[epoch])):
            best_epoch, best, waited = epoch, losses[epoch], 0
        else:
            waited += 1
            if waited >= patience:
                break
    return best_epoch

"""Learning-rate schedules: the closed forms of lesson 05 and schedulers that drive an optimizer.

The functions give the learning rate at a step or epoch directly from a formula (they accept a
scalar or an array of steps, handy for plotting). The scheduler classes follow
``torch.optim.lr_scheduler``: they wrap an optimizer of :mod:`nnkit.optim` (anything with a
settable ``lr`` attribute) and change its ``lr`` each time :meth:`step` is called, normally once
per epoch after the epoch's optimizer steps.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from ._guard import reference

__all__ = [
    "ExponentialLR",
    "ReduceLROnPlateau",
    "StepLR",
    "exponential_decay",
    "inverse_time_decay",
    "step_decay",
]


def _check_positive_lr(lr0: Any) -> float:
    if isinstance(lr0, bool) or not isinstance(lr0, numbers.Real):
        raise TypeError(f"lr0 must be a real number, got {type(lr0).__name__}")
    if not lr0 >= 0:
        raise ValueError(f"lr0 must be a learning rate >= 0, got {lr0!r}")
    return float(lr0)


def _as_steps(t: Any, name: str, integer: bool) -> np.ndarray:
    arr = np.asarray(t)
    if arr.dtype.kind not in "iuf" or (integer and arr.dtype.kind == "f" and np.any(arr % 1)):
        kind = "integer" if integer else "number"
        raise TypeError(f"{name} must be a non-negative {kind} or an array of them, got {t!r}")
    if np.any(arr < 0):
        raise ValueError(f"{name} must be >= 0, got {t!r}")
    return arr


def _scalar_or_array(value: np.ndarray) -> float | np.ndarray:
    return float(value) if np.ndim(value) == 0 else value


@reference
def step_decay(
    lr0: float, epoch: int | np.ndarray, drop: float = 0.5, every: int = 10
) -> float | np.ndarray:
    """Learning rate that drops by a factor ``drop`` every ``every`` epochs.

    Parameters
    ----------
    lr0 : float
        Initial learning rate, ``>= 0``.
    epoch : int or ndarray of ints
        Epoch number(s), counted from 0.
    drop : float
        Factor applied at each drop, ``> 0``.
    every : int
        Epochs between drops, ``>= 1``.

    Returns
    -------
    float, or ndarray of the shape of ``epoch``

    Notes
    -----
    ``η(e) = η₀ · drop^⌊e / every⌋``.
    """
    lr0 = _check_positive_lr(lr0)
    epoch = _as_steps(epoch, "epoch", integer=True)
    if isinstance(drop, bool) or not isinstance(drop, numbers.Real) or not drop > 0:
        raise ValueError(f"drop must be a factor > 0, got {drop!r}")
    if isinstance(every, bool) or not isinstance(every, numbers.Integral) or every < 1:
        raise ValueError(f"every must be a positive integer number of epochs, got {every!r}")
    return _scalar_or_array(lr0 * float(drop) ** (epoch.astype(np.int64) // int(every)))


@reference
def exponential_decay(lr0: float, t: float | np.ndarray, k: float) -> float | np.ndarray:
    """Learning rate that decays exponentially with rate ``k``.

    Parameters
    ----------
    lr0 : float
        Initial learning rate, ``>= 0``.
    t : float or ndarray
        Step(s) or epoch(s), ``>= 0``.
    k : float
        Decay rate, ``>= 0``.

    Returns
    -------
    float, or ndarray of the shape of ``t``

    Notes
    -----
    ``η(t) = η₀ · e^{−k t}``.
    """
    lr0 = _check_positive_lr(lr0)
    t = _as_steps(t, "t", integer=False)
    if isinstance(k, bool) or not isinstance(k, numbers.Real) or not k >= 0:
        raise ValueError(f"k must be a decay rate >= 0, got {k!r}")
    return _scalar_or_array(lr0 * np.exp(-float(k) * t))


@reference
def inverse_time_decay(lr0: float, t: float | np.ndarray, tau: float) -> float | np.ndarray:
    """Learning rate held at ``lr0`` until step ``tau``, then decaying like ``1/t``.

    Parameters
    ----------
    lr0 : float
        Initial learning rate, ``>= 0``.
    t : float or ndarray
        Step(s) or epoch(s), ``>= 0``.
    tau : float
        Step at which the decay starts, ``> 0``.

    Returns
    -------
    float, or ndarray of the shape of ``t``

    Notes
    -----
    ``η(t) = η₀ · τ / max(t, τ)``: a sum of these step sizes diverges while the sum of their
    squares converges, the classical condition for stochastic gradient descent to converge.
    """
    lr0 = _check_positive_lr(lr0)
    t = _as_steps(t, "t", integer=False)
    if isinstance(tau, bool) or not isinstance(tau, numbers.Real) or not tau > 0:
        raise ValueError(f"tau must be > 0, got {tau!r}")
    return _scalar_or_array(lr0 * float(tau) / np.maximum(t, float(tau)))


# ----------------------------------------------------------------------------------------------
# schedulers


def _check_optimizer(optimizer: Any) -> None:
    if not hasattr(optimizer, "lr") or not hasattr(optimizer, "step"):
        raise TypeError(
            "optimizer must be an nnkit.optim optimizer (with an lr attribute), "
            f"got {type(optimizer).__name__}"
        )


class _EpochScheduler:
    """Shared machinery of the epoch-based schedulers (``last_epoch`` counts calls to ``step``)."""

    def __init__(self, optimizer: Any) -> None:
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        self.base_lr = float(optimizer.lr)
        self.last_epoch = 0

    def step(self) -> None:
        """Advance one epoch and set the optimizer's ``lr`` for the next one."""
        self.last_epoch += 1
        self.optimizer.lr = self._next_lr(float(self.optimizer.lr))

    def _next_lr(self, lr: float) -> float:
        raise NotImplementedError

    def get_last_lr(self) -> list[float]:
        """The learning rate set by the last step (a one-element list, as torch)."""
        return [float(self.optimizer.lr)]


class StepLR(_EpochScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs (``torch`` ``StepLR``).

    Parameters
    ----------
    optimizer : Optimizer
        Its ``lr`` is changed by :meth:`step`.
    step_size : int
        Epochs between decays, ``>= 1``.
    gamma : float
        Multiplicative factor, ``> 0`` (default 0.1).

    Notes
    -----
    After ``e`` calls of :meth:`step`, ``lr = lr₀ · γ^⌊e / step_size⌋`` (applied as a chain of
    multiplications, as torch does, so a learning rate changed by hand is respected).
    """

    def __init__(self, optimizer: Any, step_size: int, gamma: float = 0.1) -> None:
        if isinstance(step_size, bool) or not isinstance(step_size, numbers.Integral):
            raise TypeError(f"step_size must be an integer, got {type(step_size).__name__}")
        if step_size < 1:
            raise ValueError(f"step_size must be >= 1, got {step_size}")
        if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real) or not gamma > 0:
            raise ValueError(f"gamma must be a factor > 0, got {gamma!r}")
        super().__init__(optimizer)
        self.step_size = int(step_size)
        self.gamma = float(gamma)

    def _next_lr(self, lr: float) -> float:
        if self.last_epoch % self.step_size == 0:
            return lr * self.gamma
        return lr


class ExponentialLR(_EpochScheduler):
    """Multiply the learning rate by ``gamma`` every epoch (``torch`` ``ExponentialLR``).

    Parameters
    ----------
    optimizer : Optimizer
        Its ``lr`` is changed by :meth:`step`.
    gamma : float
        Multiplicative factor per epoch, ``> 0``.

    Notes
    -----
    After ``e`` calls of :meth:`step`, ``lr = lr₀ · γᵉ``, i.e. :func:`exponential_decay` with
    ``k = −ln γ``.
    """

    def __init__(self, optimizer: Any, gamma: float) -> None:
        if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real) or not gamma > 0:
            raise ValueError(f"gamma must be a factor > 0, got {gamma!r}")
        super().__init__(optimizer)
        self.gamma = float(gamma)

    def _next_lr(self, lr: float) -> float:
        return lr * self.gamma


class ReduceLROnPlateau:
    """Cut the learning rate when a monitored metric stops improving (``torch`` semantics).

    Parameters
    ----------
    optimizer : Optimizer
        Its ``lr`` is changed by :meth:`step`.
    mode : {"min", "max"}
        Whether the metric should go down (a loss) or up (an accuracy).
    factor : float
        New ``lr = lr · factor``; must be in ``(0, 1)``.
    patience : int
        Number of epochs without improvement tolerated; the cut happens on the next one.
    threshold : float
        Minimum change that counts as an improvement.
    threshold_mode : {"rel", "abs"}
        ``"rel"``: better than ``best · (1 ∓ threshold)``; ``"abs"``: better than
        ``best ∓ threshold``.
    cooldown : int
        Epochs after a cut during which bad epochs are not counted.
    min_lr : float
        Lower bound of the learning rate.
    eps : float
        A cut smaller than ``eps`` is not applied.

    Notes
    -----
    Each :meth:`step(metric) <step>`: if the metric improves on the best seen, it becomes the best
    and the bad-epoch count resets; otherwise the count grows. During cooldown the count stays 0.
    When the count exceeds ``patience``: ``lr ← max(lr · factor, min_lr)``, cooldown starts, and
    the count resets.
    """

    def __init__(
        self,
        optimizer: Any,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float = 0.0,
        eps: float = 1e-8,
    ) -> None:
        _check_optimizer(optimizer)
        if mode not in ("min", "max"):
            raise ValueError(f'mode must be "min" or "max", got {mode!r}')
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f'threshold_mode must be "rel" or "abs", got {threshold_mode!r}')
        if isinstance(factor, bool) or not isinstance(factor, numbers.Real):
            raise TypeError(f"factor must be a real number, got {type(factor).__name__}")
        if not 0.0 < factor < 1.0:
            raise ValueError(f"factor must be in (0, 1) so the learning rate shrinks, got {factor}")
        for name, value in (("patience", patience), ("cooldown", cooldown)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        for name, value in (("threshold", threshold), ("min_lr", min_lr), ("eps", eps)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")
        self.optimizer = optimizer
        self.mode = mode
        self.factor = float(factor)
        self.patience = int(patience)
        self.threshold = float(threshold)
        self.threshold_mode = threshold_mode
        self.cooldown = int(cooldown)
        self.min_lr = float(min_lr)
        self.eps = float(eps)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def is_better(self, value: float, best: float) -> bool:
        """Does ``value`` improve on ``best`` by more than the threshold?"""
        if self.mode == "min":
            if self.threshold_mode == "rel":
                return value < best * (1.0 - self.threshold)
            return value < best - self.threshold
        if self.threshold_mode == "rel":
            return value > best * (1.0 + self.threshold)
        return value > best + self.threshold

    def step(self, metric: float) -> None:
        """Record this epoch's ``metric`` and cut the learning rate if it has plateaued."""
        try:
            current = float(metric)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"metric must be a number (e.g. the validation loss), got {type(metric).__name__}"
            ) from exc
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            old_lr = float(self.optimizer.lr)
            new_lr = max(old_lr * self.factor, self.min_lr)
            if old_lr - new_lr > self.eps:
                self.optimizer.lr = new_lr
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0

    def get_last_lr(self) -> list[float]:
        """The optimizer's current learning rate (a one-element list, as torch)."""
        return [float(self.optimizer.lr)]

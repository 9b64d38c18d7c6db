"""Gradient-descent optimizers: the functional steps of lesson 05 and in-place optimizer classes.

Two forms of the same update rules live here.

**Step functions** (graded in lesson 05) are pure::

    new_w, state = name_step(w, dw, state, lr=..., ...)

``w`` is the current parameter array, ``dw`` the gradient of the loss at ``w`` (same shape),
``state`` whatever the rule remembers between steps (``None`` on the first call, afterwards the
value the previous call returned). They never modify ``w``, ``dw`` or the incoming ``state``.

**Optimizer classes** (``SGD``, ``Adagrad``, ``RMSprop``, ``Adam``, ``AdamW``) follow the
``torch.optim`` interface: they take an iterable of parameter objects with ``.data`` (an array
updated **in place**) and ``.grad`` (an array, or ``None`` to skip that parameter), keep a
per-parameter ``state`` dict, and offer ``step()``, ``zero_grad()`` and a settable ``lr``.
``Module.parameters()`` of :mod:`nnkit.layers` returns such objects; :class:`Param` wraps a plain
array.

Both forms reproduce ``torch.optim`` step for step at a constant learning rate: SGD momentum with
dampening 0 (the first step sets the buffer to the gradient), PyTorch's Nesterov form, Adagrad
with ``eps`` added outside the square root and an initial accumulator of 0, RMSprop with
``eps`` outside the root, Adam with bias correction and the step counter incremented before use,
AdamW with weight decay decoupled from the gradient.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from ._checks import as_float_array
from ._guard import reference

__all__ = [
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "Optimizer",
    "Param",
    "RMSprop",
    "Tensorish",
    "adagrad_step",
    "adam_step",
    "momentum_step",
    "nesterov_step",
    "rmsprop_step",
    "sgd_step",
    "velocity_momentum_step",
]


# ----------------------------------------------------------------------------------------------
# validation


def _check_real(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} ({value!r})")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name} must be a number, got nan")
    return value


def _check_lr(lr: Any) -> float:
    lr = _check_real(lr, "lr")
    if lr < 0.0:
        raise ValueError(f"Invalid learning rate: {lr:g} (lr must be >= 0)")
    return lr


def _check_nonnegative(value: Any, name: str, what: str) -> float:
    value = _check_real(value, name)
    if value < 0.0:
        raise ValueError(f"Invalid {what}: {value:g} ({name} must be >= 0)")
    return value


def _check_beta(value: Any, name: str) -> float:
    value = _check_real(value, name)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"Invalid {name} parameter: {value:g} ({name} must be in [0, 1))")
    return value


def _check_pair(w: Any, dw: Any) -> tuple[np.ndarray, np.ndarray]:
    w = as_float_array(w, "w")
    dw = as_float_array(dw, "dw")
    if w.shape != dw.shape:
        raise ValueError(f"expected dw of the same shape as w {w.shape}, got shape {dw.shape}")
    return w, dw.astype(w.dtype, copy=False)


def _check_state(state: Any, keys: tuple[str, ...], name: str) -> None:
    if state is None:
        return
    if not isinstance(state, dict) or any(k not in state for k in keys):
        raise TypeError(
            f"state must be None on the first call of {name} and afterwards the state it "
            f"returned (a dict with keys {list(keys)}), got {type(state).__name__}"
        )


# ----------------------------------------------------------------------------------------------
# step functions (lesson 05)


@reference
def sgd_step(w: np.ndarray, dw: np.ndarray, state: Any, lr: float = 0.01) -> tuple[np.ndarray, Any]:
    """One step of plain (stochastic) gradient descent.

    Parameters
    ----------
    w : ndarray, any shape
        Current parameters (not modified).
    dw : ndarray, same shape as ``w``
        Gradient of the loss at ``w``.
    state : None
        Plain SGD remembers nothing; passed through unchanged.
    lr : float
        Learning rate ``η >= 0``.

    Returns
    -------
    new_w : ndarray, same shape and dtype as ``w``
    state : None

    Notes
    -----
    ``θ ← θ − η g``.
    """
    lr = _check_lr(lr)
    w, dw = _check_pair(w, dw)
    return w - lr * dw, state


@reference
def momentum_step(
    w: np.ndarray, dw: np.ndarray, state: dict | None, lr: float = 0.01, momentum: float = 0.9
) -> tuple[np.ndarray, dict]:
    """One step of SGD with (heavy-ball) momentum, as ``torch.optim.SGD(momentum=μ)``.

    Parameters
    ----------
    w, dw : ndarray, same shape
        Parameters (not modified) and the gradient at ``w``.
    state : dict or None
        ``None`` on the first call; afterwards ``{"buf": ndarray}``, the momentum buffer.
    lr : float
        Learning rate ``η >= 0``.
    momentum : float
        Momentum coefficient ``μ >= 0``.

    Returns
    -------
    new_w : ndarray, same shape and dtype as ``w``
    state : dict ``{"buf": b}``

    Notes
    -----
    ``b ← g`` on the first step, ``b ← μ b + g`` afterwards, then ``θ ← θ − η b``. This is the
    slides' velocity form ``v ← μ v − η g; θ ← θ + v`` with ``v = −η b`` (see
    :func:`velocity_momentum_step`); the two agree while ``η`` is constant.
    """
    lr = _check_lr(lr)
    momentum = _check_nonnegative(momentum, "momentum", "momentum value")
    w, dw = _check_pair(w, dw)
    _check_state(state, ("buf",), "momentum_step")
    buf = dw.copy() if state is None else momentum * state["buf"] + dw
    return w - lr * buf, {"buf": buf}


@reference
def nesterov_step(
    w: np.ndarray, dw: np.ndarray, state: dict | None, lr: float = 0.01, momentum: float = 0.9
) -> tuple[np.ndarray, dict]:
    """One step of SGD with Nesterov momentum, as ``torch.optim.SGD(momentum=μ, nesterov=True)``.

    Parameters
    ----------
    w, dw : ndarray, same shape
        Parameters (not modified) and the gradient at ``w``.
    state : dict or None
        ``None`` on the first call; afterwards ``{"buf": ndarray}``.
    lr : float
        Learning rate ``η >= 0``.
    momentum : float
        Momentum coefficient ``μ >= 0``.

    Returns
    -------
    new_w : ndarray, same shape and dtype as ``w``
    state : dict ``{"buf": b}``

    Notes
    -----
    ``b ← g`` on the first step, ``b ← μ b + g`` afterwards, then ``θ ← θ − η (g + μ b)``.
    This is the look-ahead update of the slides rewritten in terms of the gradient at the
    current point (Sutskever et al., 2013), so no second gradient evaluation is needed.
    """
    lr = _check_lr(lr)
    momentum = _check_nonnegative(momentum, "momentum", "momentum value")
    w, dw = _check_pair(w, dw)
    _check_state(state, ("buf",), "nesterov_step")
    buf = dw.copy() if state is None else momentum * state["buf"] + dw
    return w - lr * (dw + momentum * buf), {"buf": buf}


@reference
def velocity_momentum_step(
    w: np.ndarray, dw: np.ndarray, state: dict | None, lr: float = 0.01, momentum: float = 0.9
) -> tuple[np.ndarray, dict]:
    """Momentum in the slides' velocity form; same trajectory as :func:`momentum_step`.

    Parameters
    ----------
    w, dw : ndarray, same shape
        Parameters (not modified) and the gradient at ``w``.
    state : dict or None
        ``None`` on the first call (velocity 0); afterwards ``{"v": ndarray}``.
    lr : float
        Learning rate ``η >= 0``.
    momentum : float
        Momentum coefficient ``μ >= 0``.

    Returns
    -------
    new_w : ndarray, same shape and dtype as ``w``
    state : dict ``{"v": v}``

    Notes
    -----
    ``v ← μ v − η g``, ``θ ← θ + v``, starting from ``v = 0``.
    """
    lr = _check_lr(lr)
    momentum = _check_nonnegative(momentum, "momentum", "momentum value")
    w, dw = _check_pair(w, dw)
    _check_state(state, ("v",), "velocity_momentum_step")
    v = -lr * dw if state is None else momentum * state["v"] - lr * dw
    return w + v, {"v": v}


@reference
def adagrad_step(
    w: np.ndarray, dw: np.ndarray, state: dict | None, lr: float = 0.01, eps: float = 1e-10
) -> tuple[np.ndarray, dict]:
    """One Adagrad step, as ``torch.optim.Adagrad`` (initial accumulator 0).

    Parameters
    ----------
    w, dw : ndarray, same shape
        Parameters (not modified) and the gradient at ``w``.
    state : dict or None
        ``None`` on the first call; afterwards ``{"sum": ndarray}``, the running sum of ``g²``.
    lr : float
        Learning rate ``η >= 0``.
    eps : float
        Added to the root to avoid division by zero.

    Returns
    -------
    new_w : ndarray, same shape and dtype as ``w``
    state : dict ``{"sum": r}``

    Notes
    -----
    ``r ← r + g ⊙ g``, ``θ ← θ − η g / (√r + ε)``. Every coordinate gets its own step size,
    which only ever shrinks.
    """
    lr = _check_lr(lr)
    eps = _check_nonnegative(eps, "eps", "epsilon value")
    w, dw = _check_pair(w, dw)
    _check_state(state, ("sum",), "adagrad_step")
    total = dw * dw if state is None else state["sum"] + dw * dw
    return w - lr * dw / (np.sqrt(total) + eps), {"sum": total}


@reference
def rmsprop_step(
    w: np.ndarray,
    dw: np.ndarray,
    state: dict | None,
    lr: float = 0.01,
    alpha: float = 0.99,
    eps: float = 1e-8,
) -> tuple[np.ndarray, dict]:
    """One RMSprop step, as ``torch.optim.RMSprop`` (no momentum, not centred).

    Parameters
    ----------
    w, dw : ndarray, same shape
        Parameters (not modified) and the gradient at ``w``.
    state : dict or None
        ``None`` on the first call; afterwards ``{"square_avg": ndarray}``.
    lr : float
        Learning rate ``η >= 0``.
    alpha : float
        Decay of the moving average of ``g²``, in ``[0, 1)``.
    eps : float
        Added outside the square root.

    Returns
    -------
    new_w : ndarray, same shape and dtype as ``w``
    state : dict ``{"square_avg": r}``

    Notes
    -----
    ``r ← α r + (1 − α) g ⊙ g`` (from ``r = 0``), ``θ ← θ − η g / (√r + ε)``.
    """
    lr = _check_lr(lr)
    alpha = _check_beta(alpha, "alpha")
    eps = _check_nonnegative(eps, "eps", "epsilon value")
    w, dw = _check_pair(w, dw)
    _check_state(state, ("square_avg",), "rmsprop_step")
    previous = np.zeros_like(w) if state is None else state["square_avg"]
    square_avg = alpha * previous + (1.0 - alpha) * (dw * dw)
    return w - lr * dw / (np.sqrt(square_avg) + eps), {"square_avg": square_avg}


@reference
def adam_step(
    w: np.ndarray,
    dw: np.ndarray,
    state: dict | None,
    lr: float = 1e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
) -> tuple[np.ndarray, dict]:
    """One Adam step, as ``torch.optim.Adam``.

    Parameters
    ----------
    w, dw : ndarray, same shape
        Parameters (not modified) and the gradient at ``w``.
    state : dict or None
        ``None`` on the first call; afterwards ``{"t": int, "m": ndarray, "v": ndarray}``.
    lr : float
        Learning rate ``η >= 0``.
    beta1, beta2 : float
        Decay rates of the first and second moment estimates, in ``[0, 1)``.
    eps : float
        Added to the bias-corrected root of the second moment.

    Returns
    -------
    new_w : ndarray, same shape and dtype as ``w``
    state : dict ``{"t": t, "m": m, "v": v}``

    Notes
    -----
    ``t ← t + 1``, ``m ← β₁ m + (1 − β₁) g``, ``v ← β₂ v + (1 − β₂) g ⊙ g`` (from ``m = v = 0``),
    ``m̂ = m / (1 − β₁ᵗ)``, ``v̂ = v / (1 − β₂ᵗ)``, ``θ ← θ − η m̂ / (√v̂ + ε)``.
    The bias correction undoes the pull of the zero start towards 0 in the first steps.
    """
    lr = _check_lr(lr)
    beta1 = _check_beta(beta1, "beta1")
    beta2 = _check_beta(beta2, "beta2")
    eps = _check_nonnegative(eps, "eps", "epsilon value")
    w, dw = _check_pair(w, dw)
    _check_state(state, ("t", "m", "v"), "adam_step")
    if state is None:
        t, m, v = 0, np.zeros_like(w), np.zeros_like(w)
    else:
        t, m, v = state["t"], state["m"], state["v"]
    t += 1
    m = beta1 * m + (1.0 - beta1) * dw
    v = beta2 * v + (1.0 - beta2) * (dw * dw)
    m_hat = m / (1.0 - beta1**t)
    v_hat = v / (1.0 - beta2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), {"t": t, "m": m, "v": v}


# ----------------------------------------------------------------------------------------------
# parameters and optimizer classes


class Param:
    """A minimal parameter: an array ``data`` updated in place and its gradient ``grad``.

    Lets the optimizer classes drive plain NumPy arrays::

        w = Param(np.zeros(3))
        opt = SGD([w], lr=0.1)
        w.grad = 2 * w.data - 1
        opt.step()

    Parameters
    ----------
    data : array_like
        Initial value; stored as a float array (float32 stays float32, others become float64).
    grad : ndarray or None
        Gradient of the loss with respect to ``data``; ``None`` means "no gradient, skip".
    name : str
        Optional label used in messages.
    """

    __slots__ = ("data", "grad", "name")

    def __init__(self, data: Any, grad: np.ndarray | None = None, name: str = "") -> None:
        self.data = np.array(as_float_array(data, "data"), copy=True)
        self.grad = grad
        self.name = name

    def __repr__(self) -> str:
        label = f"{self.name!r}, " if self.name else ""
        return f"Param({label}shape={self.data.shape}, dtype={self.data.dtype})"


Tensorish = Param
"""Alias of :class:`Param` (the name used in the architecture notes)."""


class Optimizer:
    """Base class: holds the parameters, their per-parameter ``state`` and the learning rate ``lr``.

    Subclasses implement :meth:`_update` for one parameter. :meth:`step` calls it for every
    parameter whose ``grad`` is not ``None``; ``data`` is changed in place so that any view of
    it (a layer's ``params`` dict) sees the new values.

    Parameters
    ----------
    params : iterable of objects with ``.data`` and ``.grad``
        For instance ``model.parameters()`` or a list of :class:`Param`.
    lr : float
        Learning rate, ``>= 0``. Schedulers change it through the ``lr`` attribute.
    """

    def __init__(self, params: Iterable[Any], lr: float) -> None:
        if callable(getattr(params, "parameters", None)):
            raise TypeError(
                f"params must be the parameters, not the {type(params).__name__} itself: "
                "pass model.parameters()"
            )
        if isinstance(params, np.ndarray) or hasattr(params, "data"):
            raise TypeError(
                "params must be an iterable of parameter objects (e.g. model.parameters() or "
                f"[Param(array)]), got a single {type(params).__name__}"
            )
        try:
            self.params: list[Any] = list(params)
        except TypeError as exc:
            raise TypeError(
                f"params must be an iterable of parameter objects, got {type(params).__name__}"
            ) from exc
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        for i, p in enumerate(self.params):
            if not (hasattr(p, "data") and hasattr(p, "grad")):
                raise TypeError(
                    f"params[{i}] must have .data and .grad attributes (wrap plain arrays in "
                    f"nnkit.optim.Param), got {type(p).__name__}"
                )
            if not isinstance(p.data, np.ndarray) or p.data.dtype.kind != "f":
                raise TypeError(
                    f"params[{i}].data must be a floating-point numpy array, "
                    f"got {type(p.data).__name__}"
                )
        self.lr = lr
        self.state: dict[int, dict[str, Any]] = {}

    @property
    def lr(self) -> float:
        """The learning rate used by the next :meth:`step`."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = _check_lr(value)

    def zero_grad(self) -> None:
        """Set every parameter's gradient to ``None`` (as torch's ``set_to_none=True``)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient, in place."""
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            grad = p.grad
            if not isinstance(grad, np.ndarray) or grad.shape != p.data.shape:
                raise ValueError(
                    f"params[{i}].grad must be an array of shape {p.data.shape}, got "
                    f"{getattr(grad, 'shape', type(grad).__name__)}"
                )
            state = self.state.setdefault(i, {})
            self._update(p.data, grad.astype(p.data.dtype, copy=False), state)

    def _update(self, data: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self._hyper().items())
        return f"{type(self).__name__}({len(self.params)} params, {fields})"

    def _hyper(self) -> dict[str, Any]:
        return {"lr": self.lr}


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and weight decay.

    Parameters
    ----------
    params : iterable of parameters
    lr : float
        Learning rate ``η``.
    momentum : float
        ``μ >= 0``; 0 gives plain SGD.
    nesterov : bool
        Use PyTorch's Nesterov form (needs ``momentum > 0``).
    weight_decay : float
        L2 coefficient ``λ``: the gradient becomes ``g + λ θ``.

    Notes
    -----
    ``g ← g + λθ``; ``b ← g`` (first step) or ``μ b + g``; ``d = g + μ b`` (Nesterov) or
    ``b``; ``θ ← θ − η d``. Dampening is 0, as torch's default.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        self.momentum = _check_nonnegative(momentum, "momentum", "momentum value")
        self.weight_decay = _check_nonnegative(weight_decay, "weight_decay", "weight_decay value")
        if nesterov and self.momentum <= 0.0:
            raise ValueError("Nesterov momentum requires a momentum > 0 (got momentum=0)")
        self.nesterov = bool(nesterov)

    def _hyper(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "momentum": self.momentum,
            "nesterov": self.nesterov,
            "weight_decay": self.weight_decay,
        }

    def _update(self, data: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> None:
        if self.weight_decay:
            grad = grad + self.weight_decay * data
        if self.momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = grad.copy()
            else:
                buf *= self.momentum
                buf += grad
            if self.nesterov:
                grad = grad + self.momentum * buf
            else:
                grad = buf
        # One temporary, then an in-place subtraction: data is never rebound.
        data -= self.lr * grad


class Adagrad(Optimizer):
    """Adagrad: per-coordinate step sizes ``η / (√(Σ g²) + ε)``.

    Parameters
    ----------
    params : iterable of parameters
    lr : float
        Learning rate ``η`` (torch default 0.01).
    eps : float
        Added outside the square root (torch default 1e-10).
    weight_decay : float
        L2 coefficient added to the gradient.
    initial_accumulator_value : float
        Starting value of the sum of squared gradients.

    Notes
    -----
    ``r ← r + g ⊙ g``, ``θ ← θ − η g / (√r + ε)``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        eps: float = 1e-10,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        self.eps = _check_nonnegative(eps, "eps", "epsilon value")
        self.weight_decay = _check_nonnegative(weight_decay, "weight_decay", "weight_decay value")
        self.initial_accumulator_value = _check_nonnegative(
            initial_accumulator_value, "initial_accumulator_value", "initial_accumulator_value"
        )

    def _hyper(self) -> dict[str, Any]:
        return {"lr": self.lr, "eps": self.eps, "weight_decay": self.weight_decay}

    def _update(self, data: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> None:
        if "sum" not in state:
            state["step"] = 0
            state["sum"] = np.full_like(data, self.initial_accumulator_value)
        state["step"] += 1
        if self.weight_decay:
            grad = grad + self.weight_decay * data
        total = state["sum"]
        total += grad * grad
        denom = np.sqrt(total)
        denom += self.eps
        data -= self.lr * grad / denom


class RMSprop(Optimizer):
    """RMSprop: divide the step by a moving root-mean-square of recent gradients.

    Parameters
    ----------
    params : iterable of parameters
    lr : float
        Learning rate ``η`` (torch default 0.01).
    alpha : float
        Decay of the moving average of ``g²``, in ``[0, 1)`` (default 0.99).
    eps : float
        Added outside the square root (default 1e-8).
    weight_decay : float
        L2 coefficient added to the gradient.
    momentum : float
        If positive, a momentum buffer accumulates the scaled steps (torch's form).
    centered : bool
        Divide by the moving standard deviation instead of the moving RMS.

    Notes
    -----
    ``r ← α r + (1 − α) g ⊙ g``, ``θ ← θ − η g / (√r + ε)``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        super().__init__(params, lr)
        self.alpha = _check_beta(alpha, "alpha")
        self.eps = _check_nonnegative(eps, "eps", "epsilon value")
        self.weight_decay = _check_nonnegative(weight_decay, "weight_decay", "weight_decay value")
        self.momentum = _check_nonnegative(momentum, "momentum", "momentum value")
        self.centered = bool(centered)

    def _hyper(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "alpha": self.alpha,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
            "momentum": self.momentum,
            "centered": self.centered,
        }

    def _update(self, data: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> None:
        if "square_avg" not in state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(data)
            if self.momentum > 0:
                state["momentum_buffer"] = np.zeros_like(data)
            if self.centered:
                state["grad_avg"] = np.zeros_like(data)
        state["step"] += 1
        if self.weight_decay:
            grad = grad + self.weight_decay * data
        square_avg = state["square_avg"]
        square_avg *= self.alpha
        square_avg += (1.0 - self.alpha) * (grad * grad)
        if self.centered:
            grad_avg = state["grad_avg"]
            grad_avg += (1.0 - self.alpha) * (grad - grad_avg)
            avg = np.sqrt(square_avg - grad_avg * grad_avg)
        else:
            avg = np.sqrt(square_avg)
        avg += self.eps
        if self.momentum > 0:
            buf = state["momentum_buffer"]
            buf *= self.momentum
            buf += grad / avg
            data -= self.lr * buf
        else:
            data -= self.lr * grad / avg


class Adam(Optimizer):
    """Adam: momentum on the gradient and RMSprop-style scaling, both bias-corrected.

    Parameters
    ----------
    params : iterable of parameters
    lr : float
        Learning rate ``η`` (default 1e-3).
    betas : tuple of two floats
        ``(β₁, β₂)``, each in ``[0, 1)`` (default ``(0.9, 0.999)``).
    eps : float
        Added to the bias-corrected root (default 1e-8).
    weight_decay : float
        L2 coefficient added to the gradient (coupled; see :class:`AdamW` for decoupled).
    amsgrad : bool
        Use the running maximum of the second moment (AMSGrad).

    Notes
    -----
    ``t ← t + 1``, ``m ← β₁ m + (1 − β₁) g``, ``v ← β₂ v + (1 − β₂) g ⊙ g``,
    ``θ ← θ − η/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)``.
    """

    _decoupled = False

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = (_check_beta(betas[0], "beta1"), _check_beta(betas[1], "beta2"))
        self.eps = _check_nonnegative(eps, "eps", "epsilon value")
        self.weight_decay = _check_nonnegative(weight_decay, "weight_decay", "weight_decay value")
        self.amsgrad = bool(amsgrad)

    def _hyper(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "betas": self.betas,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
            "amsgrad": self.amsgrad,
        }

    def _update(self, data: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> None:
        beta1, beta2 = self.betas
        if "exp_avg" not in state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(data)
            state["exp_avg_sq"] = np.zeros_like(data)
            if self.amsgrad:
                state["max_exp_avg_sq"] = np.zeros_like(data)
        state["step"] += 1
        t = state["step"]
        if self.weight_decay:
            if self._decoupled:
                data *= 1.0 - self.lr * self.weight_decay
            else:
                grad = grad + self.weight_decay * data
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg += (1.0 - beta1) * (grad - exp_avg)
        exp_avg_sq *= beta2
        exp_avg_sq += (1.0 - beta2) * (grad * grad)
        if self.amsgrad:
            np.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
            second = state["max_exp_avg_sq"]
        else:
            second = exp_avg_sq
        step_size = self.lr / (1.0 - beta1**t)
        denom = np.sqrt(second)
        denom /= math.sqrt(1.0 - beta2**t)
        denom += self.eps
        data -= step_size * exp_avg / denom


class AdamW(Adam):
    """Adam with decoupled weight decay: ``θ ← θ (1 − η λ)`` before the Adam step.

    Same parameters as :class:`Adam`; ``weight_decay`` defaults to ``1e-2`` as in torch.
    """

    _decoupled = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)

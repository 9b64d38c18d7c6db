"""How signals and gradients grow or fade through a deep stack of layers (lesson 04).

Both functions run the same bias-free stack ``h_0 = X``, ``h_l = g(h_{l-1} @ W_l.T)``, which is
what makes the effect of the initial weight scale visible: with too small weights the activations
(and gradients) shrink layer by layer, with too large ones they saturate or explode.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from . import activations as _act
from ._checks import as_float_array, check_labels, check_ndim
from ._guard import reference
from .losses import _softmax

__all__ = ["activation_stds", "gradient_norms"]

# The derivative of each activation this library knows, keyed by the function object itself.
# Private, unguarded derivative functions, so the grader's guard on a graded *_grad never fires.
_DERIVATIVES: dict[Callable, Callable] = {
    _act.identity: lambda a: np.ones_like(a),
    _act.sigmoid: _act._sigmoid_grad,
    _act.tanh: _act._tanh_grad,
    np.tanh: _act._tanh_grad,
    _act.relu: lambda a: (a > 0).astype(a.dtype),
    _act.leaky_relu: lambda a: _act._leaky_relu_grad(a, 0.01),
    _act.hard_tanh: lambda a: ((a > -1) & (a < 1)).astype(a.dtype),
    _act.softsign: _act._softsign_grad,
    _act.softplus: _act._sigmoid,
}


def _resolve(activation) -> tuple[Callable, Callable]:
    """``(fn, grad_fn)`` from a name, a ``(fn, grad_fn)`` pair or a known activation function."""
    if isinstance(activation, str):
        return _act.get_activation(activation)
    if isinstance(activation, tuple):
        if len(activation) != 2 or not all(callable(f) for f in activation):
            raise TypeError("an activation given as a tuple must be (fn, grad_fn), two callables")
        return activation
    if callable(activation):
        try:
            return activation, _DERIVATIVES[activation]
        except (KeyError, TypeError):
            pass
        name = getattr(activation, "__name__", type(activation).__name__)
        raise TypeError(
            f"gradient_norms needs the derivative of the activation {name!r}, which it does not "
            f"know; pass a (fn, grad_fn) tuple or one of the names {sorted(_act.ACTIVATIONS)}"
        )
    raise TypeError(
        "activation must be a callable such as nnkit.relu, a (fn, grad_fn) tuple or a name, "
        f"got {type(activation).__name__}"
    )


def _check_stack(X, weights) -> tuple[np.ndarray, list[np.ndarray]]:
    X = as_float_array(X, "X")
    check_ndim(X, 2, "X", "(N, D)")
    if isinstance(weights, np.ndarray) or not isinstance(weights, Sequence) or not weights:
        raise TypeError("weights must be a non-empty list of (M, D) arrays, one per layer")
    checked, width = [], X.shape[1]
    for l, W in enumerate(weights):
        W = as_float_array(W, f"weights[{l}]")
        check_ndim(W, 2, f"weights[{l}]", "(M, D)")
        if W.shape[1] != width:
            raise ValueError(
                f"expected weights[{l}] of shape (M, {width}) to fit the previous layer's "
                f"{width} outputs, got shape {W.shape}"
            )
        checked.append(W)
        width = W.shape[0]
    return X, checked


@reference
def activation_stds(X, weights: Sequence, activation: Callable) -> list[float]:
    """Standard deviation of the activations of every layer of a bias-free deep stack.

    Parameters
    ----------
    X : array_like, shape (N, D)
        Input batch, ``h_0``.
    weights : list of arrays
        ``W_l`` of shape ``(M_l, M_{l-1})`` with ``M_0 = D``, in layer order.
    activation : callable
        Element-wise activation ``g``, applied after every layer.

    Returns
    -------
    list of float, length L
        ``std(h_l)`` over all entries of ``h_l = g(h_{l-1} @ W_l.T)`` (population std,
        ``ddof = 0``), for ``l = 1..L``.
    """
    h, checked = _check_stack(X, weights)
    if not callable(activation):
        raise TypeError(f"activation must be a callable such as nnkit.tanh, got {activation!r}")
    stds = []
    for W in checked:
        h = activation(h @ W.T)
        stds.append(float(np.std(h)))
    return stds


@reference
def gradient_norms(X, y, weights: Sequence, activation) -> list[float]:
    """Frobenius norm of the loss gradient with respect to each weight matrix of a deep stack.

    Parameters
    ----------
    X : array_like, shape (N, D)
    y : array_like of int, shape (N,)
        Labels in ``[0, K)`` with ``K = M_L``, the width of the last layer.
    weights : list of arrays
        ``W_l`` of shape ``(M_l, M_{l-1})``, in layer order.
    activation : callable, (fn, grad_fn) tuple, or str
        The hidden layers' activation. A function of this library (``nnkit.relu``,
        ``nnkit.tanh``, ``nnkit.sigmoid``, ... and ``numpy.tanh``) is recognised and its
        derivative looked up; any other function must come with its derivative as a
        ``(fn, grad_fn)`` tuple (``grad_fn`` taking the pre-activation); a string is looked up
        in ``nnkit.ACTIVATIONS`` (``"relu"``). ``nnkit.leaky_relu`` is taken with its default
        slope ``k = 0.01``; for another slope pass the pair.

    Returns
    -------
    list of float, length L
        ``‖∂L/∂W_l‖_F`` for ``l = 1..L``, where the last layer has no activation and gives the
        logits of the mean softmax cross-entropy ``L``.

    Notes
    -----
    Backpropagation from ``δ_L = (softmax(z_L) − onehot(y)) / N``:
    ``∂L/∂W_l = δ_lᵀ h_{l−1}`` and ``δ_{l−1} = (δ_l W_l) ⊙ g'(z_{l−1})``.
    """
    h, checked = _check_stack(X, weights)
    fn, grad_fn = _resolve(activation)
    n = h.shape[0]
    labels = check_labels(y, n, checked[-1].shape[0])
    inputs, pre_activations = [], []
    for W in checked[:-1]:
        z = h @ W.T
        inputs.append(h)
        pre_activations.append(z)
        h = fn(z)
    inputs.append(h)
    delta = _softmax(h @ checked[-1].T)
    delta[np.arange(n), labels] -= 1
    delta /= n
    norms = []
    for l in range(len(checked) - 1, -1, -1):
        norms.append(float(np.linalg.norm(delta.T @ inputs[l])))
        if l > 0:
            delta = (delta @ checked[l]) * grad_fn(pre_activations[l - 1])
    return norms[::-1]

"""Stateless forward/backward pairs: the functions a student writes in lessons 03, 06 and 07.

Every operation comes as a pair::

    out, cache = <op>_forward(x, ...)
    dx         = <op>_backward(dout, cache)        # or (dx, dW, db), (dx, dgamma, dbeta)

``cache`` holds what the backward pass needs (opaque to callers; the layer classes in
``nnkit.layers`` store it between ``forward`` and ``backward``). ``dout`` is the gradient of the
loss with respect to ``out``; every returned gradient has the shape of its variable.

Inputs are never modified (the batch-norm ``state`` dict is the one documented exception: its
running statistics are updated in place in training mode). The hot pairs (linear, relu) only
check shapes, never values, so they cost no more than the matrix products themselves.
"""

from __future__ import annotations

from collections.abc import MutableMapping

import numpy as np

from ._checks import (
    as_float_array,
    as_rng,
    check_flag,
    check_ndim,
    check_probability,
    check_real,
)
from ._guard import reference
from .activations import (
    _leaky_relu,
    _sigmoid,
    _softplus,
    _softsign,
    _softsign_grad,
    tanh,
)

__all__ = [
    "batchnorm_backward",
    "batchnorm_backward_alt",
    "batchnorm_forward",
    "dropout_backward",
    "dropout_forward",
    "hard_tanh_backward",
    "hard_tanh_forward",
    "identity_backward",
    "identity_forward",
    "leaky_relu_backward",
    "leaky_relu_forward",
    "linear_backward",
    "linear_forward",
    "relu_backward",
    "relu_forward",
    "sigmoid_backward",
    "sigmoid_forward",
    "softplus_backward",
    "softplus_forward",
    "softsign_backward",
    "softsign_forward",
    "tanh_backward",
    "tanh_forward",
]


def _check_dout(dout: np.ndarray, shape: tuple[int, ...]) -> None:
    if dout.shape != shape:
        raise ValueError(f"expected dout of the forward output's shape {shape}, got {dout.shape}")


# ---------------------------------------------------------------- linear


@reference
def linear_forward(x, W, b):
    """Dense (affine) layer ``out = x Wᵀ + b``: the slides' ``z = W x + b`` for every row.

    Parameters
    ----------
    x : array_like, shape (N, D)
        A batch of ``N`` inputs with ``D`` features.
    W : array_like, shape (M, D)
        Weights, ``(out, in)`` as ``torch.nn.Linear``.
    b : array_like, shape (M,)
        Biases.

    Returns
    -------
    out : ndarray, shape (N, M)
    cache : tuple
        ``(x, W, b)`` for :func:`linear_backward`.
    """
    x = as_float_array(x, "x")
    W = as_float_array(W, "W")
    b = as_float_array(b, "b")
    check_ndim(x, 2, "x", "(N, D)")
    check_ndim(W, 2, "W", "(M, D)")
    if W.shape[1] != x.shape[1]:
        raise ValueError(
            f"expected W of shape (M, D) with D = {x.shape[1]} (the features of x), "
            f"got shape {W.shape}; W is (out, in) and out = x @ W.T + b"
        )
    if b.shape != (W.shape[0],):
        raise ValueError(f"expected b of shape (M,) = ({W.shape[0]},), got shape {b.shape}")
    out = x @ W.T
    if out.dtype == np.result_type(out, b):
        out += b  # in place on the fresh product: one pass, no second (N, M) temporary
    else:
        out = out + b  # a float64 bias promotes a float32 product, as NumPy would
    return out, (x, W, b)


@reference
def linear_backward(dout, cache):
    """Backward pass of :func:`linear_forward`.

    Parameters
    ----------
    dout : ndarray, shape (N, M)
        Upstream gradient ``∂L/∂out``.
    cache : tuple
        From :func:`linear_forward`.

    Returns
    -------
    dx : ndarray, shape (N, D)
        ``dout W``.
    dW : ndarray, shape (M, D)
        ``doutᵀ x``.
    db : ndarray, shape (M,)
        ``Σ_n dout[n]``.
    """
    x, W, _ = cache
    dout = np.asarray(dout)
    _check_dout(dout, (x.shape[0], W.shape[0]))
    return dout @ W, dout.T @ x, dout.sum(axis=0)


# ---------------------------------------------------------------- activations


@reference
def relu_forward(x):
    """ReLU ``max(x, 0)``, element-wise.

    Parameters
    ----------
    x : array_like, any shape

    Returns
    -------
    out : ndarray, same shape as ``x``
    cache : ndarray
        ``x`` itself, for :func:`relu_backward`.
    """
    x = as_float_array(x, "x")
    return np.maximum(x, 0), x


@reference
def relu_backward(dout, cache):
    """Backward pass of ReLU: ``dout`` where ``x > 0``, else 0 (the gradient at ``x = 0`` is 0).

    Parameters
    ----------
    dout : ndarray, same shape as ``x``
    cache : ndarray
        ``x`` from :func:`relu_forward`.

    Returns
    -------
    dx : ndarray, same shape as ``x``
    """
    x = cache
    dout = np.asarray(dout)
    _check_dout(dout, x.shape)
    return dout * (x > 0)


def sigmoid_forward(x):
    """Sigmoid ``σ(x)`` (stable); the cache is the output ``σ(x)``."""
    out = _sigmoid(as_float_array(x, "x"))
    return out, out


def sigmoid_backward(dout, cache):
    """Backward pass of the sigmoid: ``dout σ (1 − σ)`` from the cached output ``σ``."""
    s = cache
    dout = np.asarray(dout)
    _check_dout(dout, s.shape)
    return dout * s * (1.0 - s)


def tanh_forward(x):
    """Hyperbolic tangent; the cache is the output ``t = tanh(x)``."""
    # through the graded reference, so an answer cannot reach it by this path unnoticed
    out = tanh(as_float_array(x, "x"))
    return out, out


def tanh_backward(dout, cache):
    """Backward pass of tanh: ``dout (1 − t²)`` from the cached output ``t``."""
    t = cache
    dout = np.asarray(dout)
    _check_dout(dout, t.shape)
    return dout * (1.0 - t * t)


def leaky_relu_forward(x, k: float = 0.01):
    """Leaky ReLU: ``x`` where ``x > 0``, else ``k x``; the cache is ``(x, k)``."""
    x = as_float_array(x, "x")
    k = check_real(k, "k")
    return _leaky_relu(x, k), (x, k)


def leaky_relu_backward(dout, cache):
    """Backward pass of leaky ReLU: ``dout`` where ``x > 0``, else ``k dout`` (``k`` at 0)."""
    x, k = cache
    dout = np.asarray(dout)
    _check_dout(dout, x.shape)
    return np.where(x > 0, dout, k * dout)


def identity_forward(x):
    """Identity (linear activation); returns a copy of ``x`` and an empty cache (its shape)."""
    x = as_float_array(x, "x")
    return np.array(x, copy=True), x.shape


def identity_backward(dout, cache):
    """Backward pass of the identity: a copy of ``dout``."""
    dout = np.asarray(dout)
    _check_dout(dout, cache)
    return np.array(dout, copy=True)


def hard_tanh_forward(x):
    """Hard tanh: ``x`` clipped to ``[-1, 1]``; the cache is ``x``."""
    x = as_float_array(x, "x")
    return np.clip(x, -1, 1), x


def hard_tanh_backward(dout, cache):
    """Backward pass of hard tanh: ``dout`` on the open interval ``-1 < x < 1``, else 0."""
    x = cache
    dout = np.asarray(dout)
    _check_dout(dout, x.shape)
    return dout * ((x > -1) & (x < 1))


def softsign_forward(x):
    """Softsign ``x / (1 + |x|)``; the cache is ``x``."""
    x = as_float_array(x, "x")
    return _softsign(x), x


def softsign_backward(dout, cache):
    """Backward pass of softsign: ``dout / (1 + |x|)²``."""
    x = cache
    dout = np.asarray(dout)
    _check_dout(dout, x.shape)
    return dout * _softsign_grad(x)


def softplus_forward(x):
    """Softplus ``log(1 + exp(x))`` (stable); the cache is ``x``."""
    x = as_float_array(x, "x")
    return _softplus(x), x


def softplus_backward(dout, cache):
    """Backward pass of softplus: ``dout σ(x)``."""
    x = cache
    dout = np.asarray(dout)
    _check_dout(dout, x.shape)
    return dout * _sigmoid(x)


# ---------------------------------------------------------------- dropout


@reference
def dropout_forward(x, p, train, rng=None, *, mask=None):
    """Inverted dropout: drop each unit with probability ``p`` and rescale the survivors.

    Parameters
    ----------
    x : array_like, any shape
    p : float in [0, 1)
        Probability of **dropping** a unit (PyTorch's convention).
    train : bool
        Training mode drops units; evaluation mode returns ``x`` unchanged (as a copy).
    rng : numpy.random.Generator, int or None
        Source of the mask (normalised with ``nnkit._checks.as_rng``); never the global state.
        Only used in training mode without ``mask``.
    mask : array_like of bool or {0, 1}, same shape as ``x``, optional (keyword only)
        A given keep-mask (1 = keep) instead of a random one, e.g. to compare with PyTorch.

    Returns
    -------
    out : ndarray, same shape as ``x``
        Training: ``x * mask / (1 − p)``; evaluation: ``x``.
    cache : tuple
        ``(scale, train)`` with ``scale = mask / (1 − p)`` (None at evaluation).

    Notes
    -----
    Each unit is kept where ``u >= p`` for ``u = rng.random(x.shape)``, so it survives with
    probability ``1 − p``. Dividing by ``1 − p`` keeps ``E[out] = x``, so evaluation needs no
    rescaling ("inverted" dropout).
    """
    x = as_float_array(x, "x")
    p = check_probability(p, "p")
    train = check_flag(train, "train")
    if not train:
        return np.array(x, copy=True), (None, False)
    if mask is None:
        keep = as_rng(rng).random(x.shape) >= p
    else:
        keep = np.asarray(mask)
        if keep.shape != x.shape:
            raise ValueError(f"expected mask of the shape of x {x.shape}, got shape {keep.shape}")
        if keep.dtype != np.bool_:
            if not np.all((keep == 0) | (keep == 1)):
                raise ValueError("mask must hold only 0 (drop) and 1 (keep)")
    scale = keep.astype(x.dtype) / (1.0 - p)
    return x * scale, (scale, True)


@reference
def dropout_backward(dout, cache):
    """Backward pass of :func:`dropout_forward`: the same mask and scaling applied to ``dout``.

    Parameters
    ----------
    dout : ndarray, same shape as ``x``
    cache : tuple
        From :func:`dropout_forward`.

    Returns
    -------
    dx : ndarray, same shape as ``x``
        Training: ``dout * mask / (1 − p)``; evaluation: ``dout``.
    """
    scale, train = cache
    dout = np.asarray(dout)
    if not train:
        return np.array(dout, copy=True)
    _check_dout(dout, scale.shape)
    return dout * scale


# ---------------------------------------------------------------- batch normalisation


def _running_stat(state: MutableMapping, key: str, d: int, fill: float, dtype) -> np.ndarray:
    """The running statistic ``state[key]``, created as ``fill`` if absent; shape checked."""
    if key not in state:
        state[key] = np.full(d, fill, dtype=dtype)
    value = state[key]
    if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
        value = as_float_array(value, f"state[{key!r}]")
        state[key] = value
    if value.shape != (d,):
        raise ValueError(f"expected state[{key!r}] of shape (D,) = ({d},), got shape {value.shape}")
    return value


@reference
def batchnorm_forward(x, gamma, beta, state, train, momentum=0.1, eps=1e-5):
    """Batch normalisation of each feature, as ``torch.nn.BatchNorm1d``.

    Parameters
    ----------
    x : array_like, shape (N, D)
    gamma : array_like, shape (D,)
        Scale.
    beta : array_like, shape (D,)
        Shift.
    state : dict
        Holds ``running_mean`` and ``running_var``, arrays of shape ``(D,)``; missing keys are
        created as zeros and ones. In training mode both are updated **in place** (the arrays
        themselves when they are float arrays); evaluation never changes them.
    train : bool
        Training mode normalises with the batch statistics; evaluation with the running ones.
    momentum : float, default 0.1
        Weight of the new batch statistic in the running averages.
    eps : float, default 1e-5
        Added to the variance before the square root.

    Returns
    -------
    out : ndarray, shape (N, D)
        ``gamma * x̂ + beta``.
    cache : dict
        For :func:`batchnorm_backward` / :func:`batchnorm_backward_alt`.

    Notes
    -----
    Training::

        μ = mean_n x,   σ² = mean_n (x − μ)²          (biased, used to normalise)
        x̂ = (x − μ) / sqrt(σ² + eps)
        running_mean ← (1 − momentum) running_mean + momentum μ
        running_var  ← (1 − momentum) running_var  + momentum σ² N / (N − 1)   (unbiased)

    Evaluation: ``x̂ = (x − running_mean) / sqrt(running_var + eps)``. Training needs ``N >= 2``
    (one sample has no variance; PyTorch refuses it too).
    """
    x = as_float_array(x, "x")
    check_ndim(x, 2, "x", "(N, D)")
    n, d = x.shape
    gamma = as_float_array(gamma, "gamma")
    beta = as_float_array(beta, "beta")
    if gamma.shape != (d,):
        raise ValueError(f"expected gamma of shape (D,) = ({d},), got shape {gamma.shape}")
    if beta.shape != (d,):
        raise ValueError(f"expected beta of shape (D,) = ({d},), got shape {beta.shape}")
    if not isinstance(state, MutableMapping):
        raise TypeError(
            f"state must be a dict holding running_mean and running_var (pass {{}} to start), "
            f"got {type(state).__name__}"
        )
    train = check_flag(train, "train")
    momentum = check_real(momentum, "momentum")
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"momentum must be in [0, 1], got {momentum}")
    eps = check_real(eps, "eps")
    if eps <= 0:
        raise ValueError(f"eps must be positive, got {eps}")
    running_mean = _running_stat(state, "running_mean", d, 0.0, x.dtype)
    running_var = _running_stat(state, "running_var", d, 1.0, x.dtype)

    if not train:
        # running statistics may be float64 for a float32 batch: compute in x's dtype
        inv_std = (1.0 / np.sqrt(running_var + eps)).astype(x.dtype, copy=False)
        x_hat = (x - running_mean.astype(x.dtype, copy=False)) * inv_std
        cache = {"train": False, "x_hat": x_hat, "gamma": gamma, "inv_std": inv_std}
        return gamma * x_hat + beta, cache

    if n < 2:
        raise ValueError(
            "batch normalisation in training mode needs at least 2 samples, "
            f"got x of shape {x.shape}"
        )
    # the staged graph of the lesson; each name is one node
    mu = x.mean(axis=0)
    x_centered = x - mu
    var = (x_centered * x_centered).mean(axis=0)
    std = np.sqrt(var + eps)
    inv_std = 1.0 / std
    x_hat = x_centered * inv_std
    out = gamma * x_hat + beta

    running_mean *= 1.0 - momentum
    running_mean += momentum * mu
    running_var *= 1.0 - momentum
    running_var += momentum * var * (n / (n - 1))

    cache = {
        "train": True,
        "x_hat": x_hat,
        "gamma": gamma,
        "x_centered": x_centered,
        "std": std,
        "inv_std": inv_std,
    }
    return out, cache


def _batchnorm_eval_backward(dout, cache):
    # evaluation mode is affine in x: out = gamma * inv_std * x + const
    dgamma = (dout * cache["x_hat"]).sum(axis=0)
    return dout * (cache["gamma"] * cache["inv_std"]), dgamma, dout.sum(axis=0)


@reference
def batchnorm_backward(dout, cache):
    """Backward pass of :func:`batchnorm_forward`, node by node through the computational graph.

    Parameters
    ----------
    dout : ndarray, shape (N, D)
    cache : dict
        From :func:`batchnorm_forward`.

    Returns
    -------
    dx : ndarray, shape (N, D)
    dgamma : ndarray, shape (D,)
    dbeta : ndarray, shape (D,)

    Notes
    -----
    Walks back through ``out = γ x̂ + β``, ``x̂ = x_c · (1/std)``, ``std = sqrt(σ² + eps)``,
    ``σ² = mean(x_c²)``, ``x_c = x − μ``, ``μ = mean(x)``, adding the gradients of the two
    paths into ``x_c`` and into ``x``. After an evaluation-mode forward the normalisation is a
    fixed affine map, so ``dx = dout γ / sqrt(running_var + eps)``.
    """
    dout = np.asarray(dout)
    _check_dout(dout, cache["x_hat"].shape)
    if not cache["train"]:
        return _batchnorm_eval_backward(dout, cache)
    n = dout.shape[0]
    x_hat, gamma = cache["x_hat"], cache["gamma"]
    x_centered, std, inv_std = cache["x_centered"], cache["std"], cache["inv_std"]

    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    # x_hat = x_centered * inv_std
    dinv_std = (dx_hat * x_centered).sum(axis=0)
    dx_centered = dx_hat * inv_std
    # inv_std = 1 / std,  std = sqrt(var + eps)
    dstd = -dinv_std / (std * std)
    dvar = 0.5 * dstd / std
    # var = mean(x_centered ** 2)
    dx_centered = dx_centered + (2.0 / n) * x_centered * dvar
    # x_centered = x - mu,  mu = mean(x)
    dmu = -dx_centered.sum(axis=0)
    dx = dx_centered + dmu / n
    return dx, dgamma, dbeta


@reference
def batchnorm_backward_alt(dout, cache):
    """Backward pass of :func:`batchnorm_forward` in the simplified closed form.

    Parameters
    ----------
    dout : ndarray, shape (N, D)
    cache : dict
        From :func:`batchnorm_forward`.

    Returns
    -------
    dx, dgamma, dbeta
        As :func:`batchnorm_backward` (equal up to rounding).

    Notes
    -----
    With ``g = dout · γ`` (the gradient with respect to ``x̂``)::

        dx = (1 / (N std)) · (N g − Σ_n g − x̂ Σ_n (g x̂))
    """
    dout = np.asarray(dout)
    _check_dout(dout, cache["x_hat"].shape)
    if not cache["train"]:
        return _batchnorm_eval_backward(dout, cache)
    n = dout.shape[0]
    x_hat = cache["x_hat"]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    g = dout * cache["gamma"]
    dx = (cache["inv_std"] / n) * (n * g - g.sum(axis=0) - x_hat * (g * x_hat).sum(axis=0))
    return dx, dgamma, dbeta

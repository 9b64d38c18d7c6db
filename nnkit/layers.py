"""Layer classes: thin, stateful wrappers over the stateless pairs of :mod:`nnkit.functional`.

A :class:`Module` keeps what the functional pairs leave to the caller:

- ``params``: the trainable arrays (``"W"``, ``"b"``, ``"gamma"``, ...);
- ``grads``: the gradients of the loss with respect to ``params`` (same keys), *assigned* by
  :meth:`Module.backward` — each backward replaces them, it does not accumulate;
- ``buffers``: state that is not trained (BatchNorm's running statistics);
- ``training``: ``True`` in training mode, switched by :meth:`Module.train` / :meth:`Module.eval`;
- the cache of the last :meth:`Module.forward`, consumed by :meth:`Module.backward`.

:meth:`Module.parameters` returns :class:`ParamRef` objects whose ``.data`` *is* the parameter
array (optimizers update it in place) and whose ``.grad`` is the current gradient array. That is
the contract of the optimizer classes in :mod:`nnkit.optim`::

    model = Sequential(Linear(784, 512, rng=0), ReLU(), Linear(512, 10, rng=1))
    loss_fn = SoftmaxCrossEntropy()
    opt = SGD(model.parameters(), lr=0.1)
    loss = loss_fn(model(X), y)
    model.backward(loss_fn.backward())
    opt.step()
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Iterator, Mapping

import numpy as np

from . import functional as F
from ._checks import as_float_array, as_rng, check_real
from .init import get_initializer
from .losses import softmax_cross_entropy

__all__ = [
    "BatchNorm1d",
    "Dropout",
    "HardTanh",
    "Identity",
    "LeakyReLU",
    "Linear",
    "Module",
    "ParamRef",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "Softplus",
    "Softsign",
    "Tanh",
]


_NO_CACHE = object()  # marks "no forward yet" (a cache may legitimately be None)


class ParamRef:
    """A live handle on one parameter of a module: ``.data``, ``.grad`` and ``.name``.

    ``.data`` is the array stored in ``module.params[key]`` itself (not a copy), so an in-place
    update ``ref.data -= lr * ref.grad`` changes the module. ``.grad`` reads
    ``module.grads[key]`` at the moment it is accessed (``None`` before the first backward or
    after ``zero_grad``). Assigning ``ref.grad = None`` clears that gradient (what the
    optimizers' ``zero_grad`` does); assigning ``ref.data = array`` copies into the existing
    array so every other reference stays valid.
    """

    __slots__ = ("_key", "_module", "name")

    def __init__(self, module: Module, key: str, name: str) -> None:
        self._module = module
        self._key = key
        self.name = name

    @property
    def data(self) -> np.ndarray:
        return self._module.params[self._key]

    @data.setter
    def data(self, value) -> None:
        np.copyto(self._module.params[self._key], value)

    @property
    def grad(self) -> np.ndarray | None:
        return self._module.grads.get(self._key)

    @grad.setter
    def grad(self, value: np.ndarray | None) -> None:
        self._module.grads[self._key] = value

    def __repr__(self) -> str:
        data = self.data
        return f"ParamRef({self.name!r}, shape={data.shape}, dtype={data.dtype})"


class Module:
    """Base class of all layers. Subclasses implement :meth:`forward` and :meth:`backward`.

    Attributes
    ----------
    params : dict[str, ndarray]
        Trainable arrays.
    grads : dict[str, ndarray or None]
        Gradient of the loss with respect to each entry of ``params`` (same keys), set by
        :meth:`backward`; ``None`` until then.
    buffers : dict[str, ndarray]
        Non-trainable state (running statistics). Saved by :meth:`state_dict`, never given to
        an optimizer.
    training : bool
        Training (``True``) or evaluation mode.
    """

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray | None] = {}
        self.buffers: dict[str, np.ndarray] = {}
        self.training: bool = True
        self._cache = _NO_CACHE

    # -- computation -------------------------------------------------------------------------
    def forward(self, x: np.ndarray) -> np.ndarray:
        """Compute the output for input ``x`` and remember what :meth:`backward` needs."""
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """Given ``dL/dout`` of the last forward, set ``grads`` and return ``dL/dx``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def _cache_or_raise(self):
        if self._cache is _NO_CACHE:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return self._cache

    # -- structure ---------------------------------------------------------------------------
    def children(self) -> list[tuple[str, Module]]:
        """Direct sub-modules as ``(name, module)`` pairs (none for a plain layer)."""
        return []

    def modules(self) -> Iterator[Module]:
        """This module and all its descendants, depth first."""
        yield self
        for _, child in self.children():
            yield from child.modules()

    def train(self, mode: bool = True) -> Module:
        """Switch this module and all sub-modules to training (or, with ``False``, eval) mode."""
        if not isinstance(mode, (bool, np.bool_)):
            raise TypeError(f"mode must be True or False, got {type(mode).__name__} {mode!r}")
        for module in self.modules():
            module.training = bool(mode)
        return self

    def eval(self) -> Module:
        """Switch to evaluation mode (dropout off, batchnorm uses running statistics)."""
        return self.train(False)

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, ParamRef]]:
        """``(name, ParamRef)`` pairs: own parameters first, then sub-modules' as ``"0.W"``."""
        for key in self.params:
            name = prefix + key
            yield name, ParamRef(self, key, name)
        for child_name, child in self.children():
            yield from child.named_parameters(f"{prefix}{child_name}.")

    def parameters(self) -> list[ParamRef]:
        """All trainable parameters as :class:`ParamRef` objects (the optimizers' input)."""
        return [ref for _, ref in self.named_parameters()]

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Module, str]]:
        """``(name, owner, key)`` for every buffer, ``owner.buffers[key]`` being the array."""
        for key in self.buffers:
            yield prefix + key, self, key
        for child_name, child in self.children():
            yield from child.named_buffers(f"{prefix}{child_name}.")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every gradient: set it to ``None`` (default, as torch) or fill it with zeros."""
        for module in self.modules():
            for key, param in module.params.items():
                # fresh zeros rather than zeroing in place: a gradient array may be shared
                module.grads[key] = None if set_to_none else np.zeros_like(param)

    # -- saving ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer, keyed by their dotted names."""
        state = {name: ref.data.copy() for name, ref in self.named_parameters()}
        for name, owner, key in self.named_buffers():
            state[name] = np.array(owner.buffers[key], copy=True)
        return state

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Copy the arrays of ``state`` into this module's parameters and buffers, in place.

        Raises
        ------
        KeyError
            If ``state`` lacks a name this module has, or has one it does not.
        ValueError
            If an array's shape differs from the module's.
        """
        targets: dict[str, tuple[dict, str]] = {}
        for module_name, ref in self.named_parameters():
            targets[module_name] = (ref._module.params, ref._key)
        for name, owner, key in self.named_buffers():
            targets[name] = (owner.buffers, key)
        missing = sorted(set(targets) - set(state))
        unexpected = sorted(set(state) - set(targets))
        if missing or unexpected:
            raise KeyError(
                f"state does not match the module: missing keys {missing}, "
                f"unexpected keys {unexpected}"
            )
        for name, (store, key) in targets.items():
            value = np.asarray(state[name])
            if value.shape != store[key].shape:
                raise ValueError(
                    f"state[{name!r}] has shape {value.shape}, expected {store[key].shape}"
                )
        for name, (store, key) in targets.items():
            np.copyto(store[key], state[name])

    def extra_repr(self) -> str:
        """Arguments shown inside the parentheses of ``repr``."""
        return ""

    def __repr__(self) -> str:
        children = self.children()
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}("]
        for name, child in children:
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child_repr}")
        lines.append(")")
        return "\n".join(lines)


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive int, got {type(value).__name__} {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value}")
    return int(value)


def _check_input(x, features: int, layer: str, name: str) -> np.ndarray:
    x = as_float_array(x, "x")
    if x.ndim != 2 or x.shape[1] != features:
        raise ValueError(
            f"{layer} expected input x of shape (N, {features}) ({name}={features}), "
            f"got shape {x.shape}"
        )
    return x


class Linear(Module):
    """Fully connected layer ``z = x @ W.T + b``.

    Parameters
    ----------
    in_features : int
        Input size ``D``.
    out_features : int
        Output size ``M``.
    rng : numpy.random.Generator, int or None
        Randomness for the weight initialiser.
    init : str or callable
        Initialiser name from :data:`nnkit.init.INITIALIZERS` (``"he_normal"``,
        ``"xavier_uniform"``, ...) or a callable ``init(fan_in, fan_out, rng)``.
    bias : bool
        Whether to learn a bias ``b`` (initialised to zeros).

    Attributes
    ----------
    params : ``W`` of shape ``(out_features, in_features)``; ``b`` of shape ``(out_features,)``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        rng: np.random.Generator | int | None = None,
        init: str = "he_normal",
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.in_features = _check_positive_int(in_features, "in_features")
        self.out_features = _check_positive_int(out_features, "out_features")
        initializer = get_initializer(init)
        self.init = init if isinstance(init, str) else getattr(init, "__name__", repr(init))
        W = np.asarray(initializer(self.in_features, self.out_features, as_rng(rng)))
        if W.shape != (self.out_features, self.in_features):
            raise ValueError(
                f"init returned shape {W.shape}, expected (out_features, in_features) = "
                f"{(self.out_features, self.in_features)}"
            )
        self.params["W"] = np.array(W, dtype=np.float64, copy=True)
        self.grads["W"] = None
        self.bias = bool(bias)
        if self.bias:
            self.params["b"] = np.zeros(self.out_features)
            self.grads["b"] = None
        else:
            self._zero_b = np.zeros(self.out_features)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``x`` of shape ``(N, in_features)`` → ``(N, out_features)``."""
        x = _check_input(x, self.in_features, "Linear", "in_features")
        b = self.params["b"] if self.bias else self._zero_b
        out, self._cache = F.linear_forward(x, self.params["W"], b)
        self._x = x  # a reference, not a copy: lets backward skip dx when it is not needed
        return out

    def backward(self, dout: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """Set ``grads["W"]`` (and ``grads["b"]``); return ``dx`` of shape ``(N, in_features)``.

        With ``input_grad=False`` only the parameter gradients are computed and ``None`` is
        returned: the first layer of a network never needs ``dL/dx`` (a ``N × M × D`` product).
        """
        cache = self._cache_or_raise()
        if input_grad:
            dx, dW, db = F.linear_backward(dout, cache)
        else:
            dout = np.asarray(dout)
            if dout.shape != (self._x.shape[0], self.out_features):
                raise ValueError(
                    f"expected dout of shape (N, {self.out_features}) = "
                    f"{(self._x.shape[0], self.out_features)}, got shape {dout.shape}"
                )
            dx, dW, db = None, dout.T @ self._x, dout.sum(axis=0)
        self.grads["W"] = dW
        if self.bias:
            self.grads["b"] = db
        return dx

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias}, init={self.init!r}"
        )


class _Activation(Module):
    """An element-wise activation layer over a functional ``(forward, backward)`` pair."""

    kinks: tuple[float, ...] = ()
    """Inputs where the function is not differentiable (numerical gradients fail next to them)."""

    def _forward(self, x):
        raise NotImplementedError

    def _backward(self, dout, cache):
        raise NotImplementedError

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Apply the activation element-wise; output has the shape of ``x``."""
        out, self._cache = self._forward(x)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """``dx = dout * g'(x)`` for the ``x`` of the last forward."""
        return self._backward(dout, self._cache_or_raise())


class ReLU(_Activation):
    """``max(0, x)``; its derivative at 0 is taken as 0."""

    kinks = (0.0,)

    def _forward(self, x):
        return F.relu_forward(x)

    def _backward(self, dout, cache):
        return F.relu_backward(dout, cache)


class Sigmoid(_Activation):
    """``1 / (1 + exp(-x))``, computed without overflow."""

    def _forward(self, x):
        return F.sigmoid_forward(x)

    def _backward(self, dout, cache):
        return F.sigmoid_backward(dout, cache)


class Tanh(_Activation):
    """Hyperbolic tangent."""

    def _forward(self, x):
        return F.tanh_forward(x)

    def _backward(self, dout, cache):
        return F.tanh_backward(dout, cache)


class LeakyReLU(_Activation):
    """``x`` for ``x > 0``, ``k x`` otherwise.

    Parameters
    ----------
    k : float
        Slope for negative inputs (torch's ``negative_slope``), default 0.01.
    """

    kinks = (0.0,)

    def __init__(self, k: float = 0.01) -> None:
        super().__init__()
        self.k = check_real(k, "k")

    def _forward(self, x):
        return F.leaky_relu_forward(x, self.k)

    def _backward(self, dout, cache):
        return F.leaky_relu_backward(dout, cache)

    def extra_repr(self) -> str:
        return f"k={self.k}"


class Identity(_Activation):
    """The identity ``x`` (a linear output layer)."""

    def _forward(self, x):
        return F.identity_forward(x)

    def _backward(self, dout, cache):
        return F.identity_backward(dout, cache)


class HardTanh(_Activation):
    """``x`` clipped to ``[-1, 1]``."""

    kinks = (-1.0, 1.0)

    def _forward(self, x):
        return F.hard_tanh_forward(x)

    def _backward(self, dout, cache):
        return F.hard_tanh_backward(dout, cache)


class Softsign(_Activation):
    """``x / (1 + |x|)``."""

    def _forward(self, x):
        return F.softsign_forward(x)

    def _backward(self, dout, cache):
        return F.softsign_backward(dout, cache)


class Softplus(_Activation):
    """``log(1 + exp(x))``, computed without overflow."""

    def _forward(self, x):
        return F.softplus_forward(x)

    def _backward(self, dout, cache):
        return F.softplus_backward(dout, cache)


def _check_drop_probability(p) -> float:
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(
            f"dropout probability p must be a float in [0, 1), got {type(p).__name__} {p!r}"
        )
    if not 0.0 <= float(p) < 1.0:
        hint = ""
        if p == 1:
            hint = " (p is the probability of dropping a unit; p = 1 would drop them all)"
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}{hint}")
    return float(p)


class Dropout(Module):
    """Inverted dropout: in training drop each unit with probability ``p``, scale by ``1/(1-p)``.

    Parameters
    ----------
    p : float
        Probability of **dropping** a unit, in ``[0, 1)``.
    rng : numpy.random.Generator, int or None
        Source of the masks (``self.rng``); never the global NumPy state.

    Attributes
    ----------
    mask : ndarray of bool or None
        If set, training-mode forwards use this keep-mask (``True`` = keep) instead of drawing
        one: handy to compare against another implementation given the same mask.

    Notes
    -----
    Training: ``out = x * mask / (1 - p)``, ``mask ~ Bernoulli(1 - p)``. Evaluation:
    ``out = x``. The backward pass is ``dout * mask / (1 - p)`` (``dout`` in evaluation).
    """

    def __init__(self, p: float = 0.5, rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        self.p = _check_drop_probability(p)
        self.rng = as_rng(rng)
        self.mask: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Apply dropout (training mode) or pass ``x`` through (evaluation mode)."""
        out, self._cache = F.dropout_forward(x, self.p, self.training, self.rng, mask=self.mask)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """Route ``dout`` through the kept units, scaled like the forward pass."""
        return F.dropout_backward(dout, self._cache_or_raise())

    def extra_repr(self) -> str:
        return f"p={self.p}"


class BatchNorm1d(Module):
    """Batch normalisation over the batch axis of ``(N, C)`` inputs, as ``torch.nn.BatchNorm1d``.

    Parameters
    ----------
    num_features : int
        ``C``, the number of features (columns).
    momentum : float
        Weight of the new batch statistic in the running averages, in ``[0, 1]``.
    eps : float
        Added to the variance before the square root, ``> 0``.

    Attributes
    ----------
    params : ``gamma`` (ones) and ``beta`` (zeros), shape ``(C,)``.
    buffers : ``running_mean`` (zeros) and ``running_var`` (ones), shape ``(C,)``.

    Notes
    -----
    Training: ``x̂ = (x − μ_B) / sqrt(σ²_B + eps)`` with the biased batch variance,
    ``out = gamma x̂ + beta``, and ``running = (1 − momentum) running + momentum batch_stat``
    with the unbiased variance for ``running_var``. Evaluation normalises with the running
    statistics, so each row is processed on its own.
    """

    def __init__(self, num_features: int, momentum: float = 0.1, eps: float = 1e-5) -> None:
        super().__init__()
        self.num_features = _check_positive_int(num_features, "num_features")
        self.momentum = check_real(momentum, "momentum")
        if not 0.0 <= self.momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], got {momentum}")
        self.eps = check_real(eps, "eps")
        if self.eps <= 0.0:
            raise ValueError(f"eps must be > 0, got {eps}")
        self.params["gamma"] = np.ones(self.num_features)
        self.params["beta"] = np.zeros(self.num_features)
        self.grads["gamma"] = None
        self.grads["beta"] = None
        self.buffers["running_mean"] = np.zeros(self.num_features)
        self.buffers["running_var"] = np.ones(self.num_features)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Normalise ``x`` of shape ``(N, num_features)``; training updates the running stats."""
        x = _check_input(x, self.num_features, "BatchNorm1d", "num_features")
        out, self._cache = F.batchnorm_forward(
            x,
            self.params["gamma"],
            self.params["beta"],
            self.buffers,
            self.training,
            momentum=self.momentum,
            eps=self.eps,
        )
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """Set ``grads["gamma"]``, ``grads["beta"]``; return ``dx`` (through the batch statistics
        in training mode, through the fixed running statistics in evaluation mode)."""
        dx, dgamma, dbeta = F.batchnorm_backward(dout, self._cache_or_raise())
        self.grads["gamma"] = dgamma
        self.grads["beta"] = dbeta
        return dx

    def extra_repr(self) -> str:
        return f"{self.num_features}, momentum={self.momentum}, eps={self.eps}"


def _accepts_input_grad(layer: Module) -> bool:
    if isinstance(layer, (Linear, Sequential)) and "backward" not in vars(layer):
        return True  # fast path, once per training step: no signature inspection
    try:
        return "input_grad" in inspect.signature(layer.backward).parameters
    except (TypeError, ValueError):  # pragma: no cover - callables without a signature
        return False


class Sequential(Module):
    """A chain of modules: ``forward`` applies them in order, ``backward`` in reverse.

    Parameters are named by position: ``"0.W"``, ``"0.b"``, ``"2.gamma"``, ...
    """

    def __init__(self, *layers: Module) -> None:
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(
                    f"Sequential takes Module instances, got {type(layer).__name__} at position {i}"
                )
        self.layers: list[Module] = list(layers)

    def children(self) -> list[tuple[str, Module]]:
        return [(str(i), layer) for i, layer in enumerate(self.layers)]

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index: int) -> Module:
        return self.layers[index]

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Feed ``x`` through every layer in order."""
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dout: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """Back-propagate ``dout`` through the layers in reverse order; returns ``dL/dx``.

        ``input_grad=False`` is for training: if the first layer is a :class:`Linear` it skips
        ``dL/dx`` (the most expensive product of the backward pass) and ``None`` is returned.
        """
        for i in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[i]
            if i == 0 and not input_grad and _accepts_input_grad(layer):
                return layer.backward(dout, input_grad=False)
            dout = layer.backward(dout)
        return dout


class SoftmaxCrossEntropy:
    """Mean softmax cross-entropy as an object: ``loss = fn(logits, y)``, then ``fn.backward()``.

    ``forward(logits, y)`` returns the loss (a scalar) and keeps ``dL/dlogits``;
    ``backward()`` returns that ``(N, K)`` gradient (which already carries the ``1/N`` of the mean).
    """

    def __init__(self) -> None:
        self._dlogits: np.ndarray | None = None

    def forward(self, logits: np.ndarray, y: np.ndarray) -> float:
        """Loss of ``logits`` ``(N, K)`` against integer labels ``y`` ``(N,)``."""
        loss, self._dlogits = softmax_cross_entropy(logits, y)
        return loss

    def __call__(self, logits: np.ndarray, y: np.ndarray) -> float:
        return self.forward(logits, y)

    def backward(self) -> np.ndarray:
        """``dL/dlogits = (softmax(logits) − onehot(y)) / N`` for the last forward."""
        if self._dlogits is None:
            raise RuntimeError("SoftmaxCrossEntropy.backward called before forward")
        return self._dlogits

    def __repr__(self) -> str:
        return "SoftmaxCrossEntropy()"

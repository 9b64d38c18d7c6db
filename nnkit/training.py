"""Training loop helpers: mini-batches, accuracy, and ``fit`` with a per-epoch history.

``fit`` drives any model with the :mod:`nnkit.layers` interface — ``forward(x)``,
``backward(dout)``, ``parameters()``, ``train()`` / ``eval()`` — a loss object with
``forward(logits, y) -> loss`` and ``backward() -> dlogits`` (such as
``nnkit.layers.SoftmaxCrossEntropy``), and an optimizer of :mod:`nnkit.optim`.

One epoch of :func:`fit`::

    model.train()
    for Xb, yb in iterate_minibatches(X, y, batch_size, rng):
        optimizer.zero_grad()
        loss = loss_fn.forward(model.forward(Xb), yb)
        model.backward(loss_fn.backward())
        optimizer.step()
    model.eval()
    val_loss, val_acc = evaluate(model, loss_fn, X_val, y_val)
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ._checks import as_rng
from ._guard import reference
from .schedules import ReduceLROnPlateau

__all__ = ["History", "accuracy", "evaluate", "fit", "iterate_minibatches"]


def _check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer, got {type(value).__name__} {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return int(value)


def _check_pair(X: Any, y: Any, x_name: str = "X", y_name: str = "y"):
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim < 1:
        raise ValueError(f"expected {x_name} of shape (N, ...), got a scalar")
    if y.ndim < 1 or len(X) != len(y):
        raise ValueError(
            f"{x_name} and {y_name} must have the same number of samples, got {x_name} of shape "
            f"{X.shape} and {y_name} of shape {y.shape}"
        )
    return X, y


@reference
def iterate_minibatches(
    X: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    rng: np.random.Generator | int | None = None,
    shuffle: bool = True,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(X_batch, y_batch)`` pairs that together cover every sample once.

    Guarded like a graded reference (:mod:`nnkit._guard`): a new random order per epoch is
    the heart of lesson 03's ``train_mlp``.

    Parameters
    ----------
    X : ndarray of shape (N, ...)
    y : ndarray of shape (N, ...)
    batch_size : int
        Samples per batch; the last batch holds the remainder (never dropped).
    rng : Generator, int or None
        Source of the shuffling order (only used when ``shuffle``).
    shuffle : bool
        Visit the samples in a random order (``True``) or in order.

    Yields
    ------
    X_batch : ndarray of shape (B, ...)
    y_batch : ndarray of shape (B, ...)
        ``B = batch_size`` except possibly for the last batch.
    """
    X, y = _check_pair(X, y)
    batch_size = _check_positive_int(batch_size, "batch_size")
    n = len(X)
    order = as_rng(rng).permutation(n) if shuffle else None
    for start in range(0, n, batch_size):
        if order is None:
            yield X[start : start + batch_size], y[start : start + batch_size]
        else:
            index = order[start : start + batch_size]
            yield X[index], y[index]


def accuracy(scores_or_labels: np.ndarray, y: np.ndarray) -> float:
    """Fraction of correct predictions.

    Parameters
    ----------
    scores_or_labels : ndarray of shape (N, K) or (N,)
        Class scores (logits or probabilities; the prediction is the arg-max of each row) or
        predicted integer labels.
    y : ndarray of shape (N,)
        True integer labels.

    Returns
    -------
    float in [0, 1]
    """
    pred = np.asarray(scores_or_labels)
    y = np.asarray(y)
    if pred.ndim == 2:
        pred = pred.argmax(axis=1)
    elif pred.ndim != 1:
        raise ValueError(
            f"expected scores_or_labels of shape (N, K) or (N,), got shape {pred.shape}"
        )
    if y.shape != pred.shape:
        raise ValueError(f"expected y of shape ({pred.shape[0]},), got shape {y.shape}")
    if pred.size == 0:
        raise ValueError("accuracy of an empty batch is undefined (N = 0)")
    return float(np.mean(pred == y))


def _batch_accuracy(logits: np.ndarray, y: np.ndarray) -> float:
    """Accuracy for classification outputs, NaN when it does not apply (e.g. regression)."""
    if np.ndim(logits) == 2 and np.ndim(y) == 1 and np.asarray(y).dtype.kind in "iu":
        return accuracy(logits, y)
    return math.nan


def evaluate(
    model: Any, loss_fn: Any, X: np.ndarray, y: np.ndarray, batch_size: int = 1024
) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` on ``(X, y)``, in evaluation mode, batch by batch.

    The model is switched to evaluation mode for the passes and then back to the mode it was in.

    Parameters
    ----------
    model : Module
    loss_fn : loss object with ``forward(logits, y) -> float``
    X : ndarray of shape (N, D)
    y : ndarray of shape (N,)
    batch_size : int
        Samples per forward pass (limits memory only; the result does not depend on it).

    Returns
    -------
    loss : float
        Sample-weighted mean of the batch losses, i.e. the mean loss over all ``N`` samples.
    acc : float
        Accuracy (NaN if the outputs are not class scores).
    """
    X, y = _check_pair(X, y)
    batch_size = _check_positive_int(batch_size, "batch_size")
    was_training = bool(getattr(model, "training", False))
    model.eval()
    total_loss, correct_or_nan, n = 0.0, 0.0, 0
    try:
        for Xb, yb in iterate_minibatches(X, y, batch_size, shuffle=False):
            logits = model.forward(Xb)
            total_loss += float(loss_fn.forward(logits, yb)) * len(Xb)
            correct_or_nan += _batch_accuracy(logits, yb) * len(Xb)
            n += len(Xb)
    finally:
        if was_training:
            model.train()
    return total_loss / n, correct_or_nan / n


@dataclass
class History:
    """What :func:`fit` records, one entry per completed epoch.

    Attributes
    ----------
    train_loss, train_acc : list of float
        Sample-weighted means over the epoch's mini-batches, computed in training mode while
        the parameters moved (the usual running figures; dropout is active).
    val_loss, val_acc : list of float
        On the validation set in evaluation mode after the epoch (empty without validation).
    lr : list of float
        The learning rate used during each epoch.
    best_epoch : int or None
        0-based epoch with the lowest validation loss (``None`` without validation data).
    stopped_early : bool
        Whether early stopping ended training before ``epochs``.
    """

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False

    @property
    def epochs(self) -> int:
        """Number of completed epochs."""
        return len(self.train_loss)

    def as_dict(self) -> dict[str, Any]:
        """The history as a plain dict (for plotting or saving as JSON)."""
        return asdict(self)


def _backward_kwargs(model: Any) -> dict[str, bool]:
    """``{"input_grad": False}`` if ``model.backward`` can skip the gradient of the input batch.

    A training step never needs ``dL/dX`` of the data; skipping it saves the first layer's
    largest matrix product (about a fifth of an MLP step).
    """
    try:
        parameters = inspect.signature(model.backward).parameters
    except (TypeError, ValueError):
        return {}
    return {"input_grad": False} if "input_grad" in parameters else {}


def _snapshot(model: Any) -> Any:
    if hasattr(model, "state_dict"):
        return model.state_dict()
    return [np.array(p.data, copy=True) for p in model.parameters()]


def _restore(model: Any, snapshot: Any) -> None:
    if hasattr(model, "load_state_dict"):
        model.load_state_dict(snapshot)
        return
    for p, saved in zip(model.parameters(), snapshot, strict=True):
        p.data[...] = saved


def fit(
    model: Any,
    loss_fn: Any,
    optimizer: Any,
    X: np.ndarray,
    y: np.ndarray,
    epochs: int,
    batch_size: int,
    X_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    rng: np.random.Generator | int | None = None,
    early_stopping: int | None = None,
    scheduler: Any = None,
    progress: bool = True,
) -> History:
    """Train ``model`` with mini-batch gradient descent and return the per-epoch history.

    Parameters
    ----------
    model : Module
        Has ``forward``, ``backward``, ``parameters``, ``train`` and ``eval``.
    loss_fn : loss object
        ``forward(logits, y) -> float`` (a batch mean) and ``backward() -> dlogits``.
    optimizer : Optimizer
        Built on ``model.parameters()``; ``zero_grad()`` and ``step()`` are called per batch.
    X : ndarray of shape (N, D)
    y : ndarray of shape (N,)
    epochs : int
        Maximum number of passes over the training data.
    batch_size : int
        Samples per mini-batch.
    X_val, y_val : ndarray of shapes (M, D) and (M,), optional
        Validation data, evaluated after every epoch in evaluation mode.
    rng : Generator, int or None
        Shuffling order of the mini-batches (one generator for the whole run).
    early_stopping : int or None
        Patience: stop once this many epochs in a row bring no strictly lower validation loss.
        When set, the parameters (and buffers) of the epoch with the lowest validation loss are
        restored at the end, whether or not training stopped early. Needs validation data.
    scheduler : optional
        Stepped once per epoch after the epoch's updates; a :class:`ReduceLROnPlateau` is given
        the validation loss (the training loss without validation data).
    progress : bool
        Show a ``tqdm`` progress bar over the epochs; ``False`` prints nothing.

    Returns
    -------
    History
        Losses, accuracies and learning rates per epoch. The model is returned in evaluation
        mode, ready for predictions; call ``model.train()`` before training it further by hand.
    """
    from tqdm.auto import tqdm  # imported on use: keeps `import nnkit` light

    X, y = _check_pair(X, y)
    epochs = _check_positive_int(epochs, "epochs")
    batch_size = _check_positive_int(batch_size, "batch_size")
    if (X_val is None) != (y_val is None):
        raise ValueError("give both X_val and y_val, or neither")
    has_val = X_val is not None
    if has_val:
        X_val, y_val = _check_pair(X_val, y_val, "X_val", "y_val")
        if X_val.shape[1:] != X.shape[1:]:
            raise ValueError(
                f"expected X_val of shape (M, {', '.join(map(str, X.shape[1:]))}) like X, "
                f"got shape {X_val.shape}"
            )
    if early_stopping is not None:
        early_stopping = _check_positive_int(early_stopping, "early_stopping")
        if not has_val:
            raise ValueError("early_stopping needs validation data: pass X_val and y_val")
    for name in ("forward", "backward", "parameters", "train", "eval"):
        if not callable(getattr(model, name, None)):
            raise TypeError(f"model must have a {name}() method, got {type(model).__name__}")
    if not (callable(getattr(optimizer, "step", None)) and hasattr(optimizer, "lr")):
        raise TypeError(
            f"optimizer must be an nnkit.optim optimizer, got {type(optimizer).__name__}"
        )
    if scheduler is not None and not callable(getattr(scheduler, "step", None)):
        raise TypeError(f"scheduler must have a step() method, got {type(scheduler).__name__}")

    rng = as_rng(rng)
    backward_kwargs = _backward_kwargs(model)
    history = History()
    best_loss, best_state, bad_epochs = math.inf, None, 0
    bar = tqdm(range(epochs), desc="fit", unit="epoch", disable=not progress)
    for epoch in bar:
        history.lr.append(float(optimizer.lr))
        model.train()
        total_loss, total_acc, n = 0.0, 0.0, 0
        for Xb, yb in iterate_minibatches(X, y, batch_size, rng=rng):
            optimizer.zero_grad()
            logits = model.forward(Xb)
            loss = float(loss_fn.forward(logits, yb))
            model.backward(loss_fn.backward(), **backward_kwargs)
            optimizer.step()
            total_loss += loss * len(Xb)
            total_acc += _batch_accuracy(logits, yb) * len(Xb)
            n += len(Xb)
        history.train_loss.append(total_loss / n)
        history.train_acc.append(total_acc / n)
        postfix = {"loss": f"{history.train_loss[-1]:.4f}"}

        if has_val:
            val_loss, val_acc = evaluate(model, loss_fn, X_val, y_val, max(batch_size, 1024))
            history.val_loss.append(val_loss)
            history.val_acc.append(val_acc)
            postfix["val_loss"] = f"{val_loss:.4f}"
            if val_loss < best_loss:
                best_loss, history.best_epoch, bad_epochs = val_loss, epoch, 0
                if early_stopping is not None:
                    best_state = _snapshot(model)
            else:
                bad_epochs += 1
        bar.set_postfix(postfix, refresh=False)

        if scheduler is not None:
            if isinstance(scheduler, ReduceLROnPlateau):
                scheduler.step(history.val_loss[-1] if has_val else history.train_loss[-1])
            else:
                scheduler.step()

        if early_stopping is not None and bad_epochs >= early_stopping:
            history.stopped_early = epoch < epochs - 1
            break
    bar.close()

    if best_state is not None:
        _restore(model, best_state)
    model.eval()
    return history

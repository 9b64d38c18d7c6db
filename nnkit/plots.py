"""Figures the lessons draw: decision boundaries, activations, loss curves, optimizer paths.

Every helper takes an optional matplotlib ``ax``; without one it makes a new figure with
``matplotlib.pyplot`` (so a notebook shows it inline) and returns the axes it drew on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "decision_grid",
    "plot_activation",
    "plot_decision_boundary",
    "plot_loss_curves",
    "plot_trajectories",
]


def _axes(ax: Axes | None, figsize: tuple[float, float] = (5.0, 4.0)) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def decision_grid(
    predict_fn: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    resolution: int = 200,
    margin: float = 0.5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Evaluate ``predict_fn`` on a regular grid covering ``X``.

    Parameters
    ----------
    predict_fn : callable
        Maps points of shape ``(M, 2)`` to labels or scores of shape ``(M,)``.
    X : ndarray, shape (N, 2)
        The data whose bounding box (plus ``margin``) the grid covers.
    resolution : int
        Grid points along each axis.

    Returns
    -------
    xx, yy, values : ndarray, each of shape (resolution, resolution)
        ``values[i, j] = predict_fn([[xx[i, j], yy[i, j]]])``.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"expected X of shape (N, 2), got shape {X.shape}")
    if not isinstance(resolution, int | np.integer) or resolution < 2:
        raise ValueError(f"resolution must be an integer >= 2, got {resolution!r}")
    lo = X.min(axis=0) - margin
    hi = X.max(axis=0) + margin
    xx, yy = np.meshgrid(
        np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    )
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    values = np.asarray(predict_fn(grid))
    if values.ndim == 2 and values.shape[0] == grid.shape[0]:
        # Scores or probabilities per class: take the predicted class.
        values = values.argmax(axis=1) if values.shape[1] > 1 else values[:, 0]
    if values.shape != (grid.shape[0],):
        raise ValueError(
            f"predict_fn must return shape ({grid.shape[0]},) for {grid.shape[0]} points, "
            f"got shape {values.shape}"
        )
    return xx, yy, values.reshape(xx.shape)


def plot_decision_boundary(
    predict_fn: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    ax: Axes | None = None,
    resolution: int = 200,
) -> Axes:
    """Colour the plane by the class ``predict_fn`` gives each point, and scatter the data.

    Parameters
    ----------
    predict_fn : callable
        Maps ``(M, 2)`` points to integer labels ``(M,)`` (or class scores ``(M, K)``, whose
        arg-max is used).
    X : ndarray, shape (N, 2)
        Data points.
    y : ndarray, shape (N,)
        Integer labels in ``[0, K)``.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when omitted.
    resolution : int
        Grid points along each axis.

    Returns
    -------
    matplotlib Axes
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if y.shape != (X.shape[0],):
        raise ValueError(f"expected y of shape ({X.shape[0]},) to match X, got shape {y.shape}")
    xx, yy, labels = decision_grid(predict_fn, X, resolution)
    ax = _axes(ax)
    k = int(max(labels.max(initial=0), y.max(initial=0))) + 1
    cmap = "coolwarm" if k <= 2 else "tab10"
    levels = np.arange(k + 1) - 0.5
    ax.contourf(xx, yy, labels, levels=levels, cmap=cmap, alpha=0.3, vmin=-0.5, vmax=k - 0.5)
    if k >= 2:
        ax.contour(xx, yy, labels, levels=levels[1:-1], colors="k", linewidths=0.8)
    ax.scatter(
        X[:, 0],
        X[:, 1],
        c=y,
        cmap=cmap,
        vmin=-0.5,
        vmax=k - 0.5,
        s=18,
        edgecolors="k",
        linewidths=0.4,
    )
    ax.set_xlim(xx[0, 0], xx[0, -1])
    ax.set_ylim(yy[0, 0], yy[-1, 0])
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    return ax


def plot_activation(
    fn: Callable[[np.ndarray], np.ndarray],
    grad_fn: Callable[[np.ndarray], np.ndarray] | None = None,
    a_range: tuple[float, float] = (-5.0, 5.0),
    ax: Axes | None = None,
    label: str | None = None,
    num: int = 401,
) -> Axes:
    """Draw an activation ``g(a)`` and, when given, its derivative ``g'(a)`` (dashed).

    Parameters
    ----------
    fn, grad_fn : callable
        Element-wise activation and its derivative with respect to ``a``.
    a_range : (float, float)
        Range of the pre-activation ``a``.
    ax : matplotlib Axes, optional
    label : str, optional
        Legend name; defaults to ``fn.__name__``.

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax)
    a = np.linspace(float(a_range[0]), float(a_range[1]), int(num))
    name = label or getattr(fn, "__name__", "g")
    (line,) = ax.plot(a, np.asarray(fn(a), dtype=np.float64), label=f"{name}(a)")
    if grad_fn is not None:
        ax.plot(
            a,
            np.asarray(grad_fn(a), dtype=np.float64),
            ls="--",
            color=line.get_color(),
            label=f"{name}'(a)",
        )
    ax.axhline(0, color="0.7", lw=0.8)
    ax.axvline(0, color="0.7", lw=0.8)
    ax.set_xlabel("a")
    ax.legend(fontsize=8)
    return ax


def plot_loss_curves(
    history: Mapping[str, Sequence[float]] | Sequence[float],
    ax: Axes | None = None,
    log: bool = False,
) -> Axes:
    """Draw training curves against the epoch.

    Parameters
    ----------
    history : dict of str to sequence of float, or a sequence of float
        E.g. ``{"loss": [...], "val_loss": [...], "acc": [...]}``, or the ``History`` that
        ``nnkit.training.fit`` returns. Keys with ``acc`` in their name go on a second y-axis
        (right), the other curves on the left; ``lr``, empty curves and non-list entries are
        skipped, and a ``best_epoch`` entry is marked with a dotted line. A plain sequence is
        drawn as ``"loss"``.
    ax : matplotlib Axes, optional
    log : bool
        Logarithmic y-axis for the losses.

    Returns
    -------
    matplotlib Axes
        The left axes (losses).
    """
    if hasattr(history, "as_dict"):
        history = history.as_dict()
    if not isinstance(history, Mapping):
        history = {"loss": history}
    best = history.get("best_epoch")
    history = {
        k: v
        for k, v in history.items()
        if k != "lr" and isinstance(v, Sequence | np.ndarray) and not isinstance(v, str) and len(v)
    }
    if not history:
        raise ValueError("history is empty: expected at least one curve, e.g. {'loss': [...]}")
    ax = _axes(ax, figsize=(6.0, 3.5))
    acc_keys = [k for k in history if "acc" in k.lower()]
    loss_keys = [k for k in history if k not in acc_keys]
    for i, key in enumerate(loss_keys):
        values = np.asarray(history[key], dtype=np.float64)
        ax.plot(np.arange(len(values)), values, color=f"C{i}", label=key)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if log:
        ax.set_yscale("log")
    handles, labels = ax.get_legend_handles_labels()
    if acc_keys:
        ax2 = ax.twinx() if loss_keys else ax
        for j, key in enumerate(acc_keys):
            values = np.asarray(history[key], dtype=np.float64)
            ax2.plot(
                np.arange(len(values)), values, color=f"C{len(loss_keys) + j}", ls="--", label=key
            )
        ax2.set_ylabel("accuracy")
        if ax2 is not ax:
            h2, l2 = ax2.get_legend_handles_labels()
            handles, labels = handles + h2, labels + l2
        else:
            handles, labels = ax.get_legend_handles_labels()
    if isinstance(best, int | np.integer):
        ax.axvline(int(best), color="0.4", ls=":", lw=1)
        handles.append(ax.lines[-1])
        labels.append(f"best epoch ({int(best)})")
    ax.legend(handles, labels, fontsize=8)
    return ax


def plot_trajectories(
    f: Callable[[np.ndarray], np.ndarray],
    trajectories: Mapping[str, np.ndarray],
    ax: Axes | None = None,
    xlim: tuple[float, float] = (-2.0, 2.0),
    ylim: tuple[float, float] = (-2.0, 2.0),
    levels: int = 30,
    log_levels: bool = False,
) -> Axes:
    """Contours of a 2-D loss ``f`` and the paths of optimizers over it.

    Parameters
    ----------
    f : callable
        Maps points of shape ``(..., 2)`` to losses of shape ``(...)``.
    trajectories : dict of str to ndarray of shape (T + 1, 2)
        One path per optimizer, starting at the common start point.
    xlim, ylim : (float, float)
        Window of the contour plot.
    levels : int
        Number of contour levels.
    log_levels : bool
        Space the levels logarithmically above the minimum (for Rosenbrock's flat valley).

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax)
    xs = np.linspace(*xlim, 200)
    ys = np.linspace(*ylim, 200)
    xx, yy = np.meshgrid(xs, ys)
    zz = np.asarray(f(np.stack([xx, yy], axis=-1)), dtype=np.float64)
    if log_levels:
        lo = zz.min()
        lv = lo + np.logspace(-2, np.log10(max(zz.max() - lo, 1e-1)), levels)
        ax.contour(xx, yy, zz, levels=lv, cmap="viridis", linewidths=0.7, alpha=0.8)
    else:
        ax.contour(xx, yy, zz, levels=levels, cmap="viridis", linewidths=0.7, alpha=0.8)
    names = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
    for i, (name, path) in enumerate(trajectories.items()):
        path = np.asarray(path, dtype=np.float64)
        color = f"C{names.index(name)}" if name in names else f"C{i}"
        ax.plot(path[:, 0], path[:, 1], "-o", ms=2, lw=1.3, color=color, label=name)
        ax.plot(path[-1, 0], path[-1, 1], "s", ms=5, color=color)
    if trajectories:
        first = np.asarray(next(iter(trajectories.values())))
        ax.plot(first[0, 0], first[0, 1], "ko", ms=6, label="start")
        ax.legend(fontsize=8, loc="best")
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)
    ax.set_xlabel("$w_1$")
    ax.set_ylabel("$w_2$")
    return ax

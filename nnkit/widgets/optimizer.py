"""Optimizer playground (lesson 05): several optimizers race from one start point on a 2-D surface.

Surfaces: an ill-conditioned valley (curvatures 1 and 20), a saddle with two minima, and the
Rosenbrock banana. The learning rate, the momentum and the set of optimizers are on controls;
every optimizer takes the same number of steps from the same start with the same learning rate
(Adam also takes ``momentum`` as ``beta1``), so the picture shows how each one reacts to the
shape of the surface. The steps are ``nnkit.optim``'s ``*_step`` functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import ipywidgets as widgets
import numpy as np

from ._base import Explorer, quiet_call

#: A trajectory is cut where it leaves this box (|x| or |y| larger): it has diverged.
DIVERGED = 1e3


@dataclass(frozen=True)
class Surface:
    """A 2-D loss ``f(w)`` with its gradient, a default start and a window to draw."""

    name: str
    f: Callable[[np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray], np.ndarray]
    start: tuple[float, float]
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    minima: tuple[tuple[float, float], ...]
    log_levels: bool = False
    lr: float = 0.02  # a learning rate that shows the surface's lesson for SGD and momentum
    adaptive_lr: float = 0.1  # the same for Adagrad, RMSprop and Adam
    steps: int = 100


def _valley_f(w):
    return 0.5 * (w[..., 0] ** 2 + 20.0 * w[..., 1] ** 2)


def _valley_grad(w):
    return np.array([w[0], 20.0 * w[1]])


def _saddle_f(w):
    # A saddle at the origin (curving up along x, down along y) and minima at (0, ±1).
    return 0.5 * w[..., 0] ** 2 - 0.5 * w[..., 1] ** 2 + 0.25 * w[..., 1] ** 4


def _saddle_grad(w):
    return np.array([w[0], -w[1] + w[1] ** 3])


def _rosenbrock_f(w):
    return (1.0 - w[..., 0]) ** 2 + 100.0 * (w[..., 1] - w[..., 0] ** 2) ** 2


def _rosenbrock_grad(w):
    x, y = w
    return np.array([-2.0 * (1.0 - x) - 400.0 * x * (y - x**2), 200.0 * (y - x**2)])


SURFACES: dict[str, Surface] = {
    "valley": Surface(
        "valley",
        _valley_f,
        _valley_grad,
        (-4.0, 1.0),
        (-5, 5),
        (-2, 2),
        ((0, 0),),
        lr=0.02,
        adaptive_lr=0.1,
        steps=100,
    ),
    "saddle": Surface(
        "saddle",
        _saddle_f,
        _saddle_grad,
        (-2.0, 1e-3),
        (-2.5, 2.5),
        (-1.8, 1.8),
        ((0, 1), (0, -1)),
        lr=0.05,
        adaptive_lr=0.05,
        steps=100,
    ),
    "rosenbrock": Surface(
        "rosenbrock",
        _rosenbrock_f,
        _rosenbrock_grad,
        (-1.5, 2.0),
        (-2, 2),
        (-1, 3),
        ((1, 1),),
        log_levels=True,
        lr=0.001,
        adaptive_lr=0.02,
        steps=300,
    ),
}

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
#: These take steps of about ``lr`` in each coordinate, whatever the gradient's size, so their
#: learning rate lives on its own scale (and slider).
ADAPTIVE = ("adagrad", "rmsprop", "adam")


def _step_function(name: str, lr: float, momentum: float) -> Callable:
    from nnkit import optim

    if name == "sgd":
        return lambda w, g, s: optim.sgd_step(w, g, s, lr=lr)
    if name == "momentum":
        return lambda w, g, s: optim.momentum_step(w, g, s, lr=lr, momentum=momentum)
    if name == "nesterov":
        return lambda w, g, s: optim.nesterov_step(w, g, s, lr=lr, momentum=momentum)
    if name == "adagrad":
        return lambda w, g, s: optim.adagrad_step(w, g, s, lr=lr)
    if name == "rmsprop":
        return lambda w, g, s: optim.rmsprop_step(w, g, s, lr=lr)
    if name == "adam":
        return lambda w, g, s: optim.adam_step(w, g, s, lr=lr, beta1=momentum)
    raise ValueError(f"unknown optimizer {name!r}; expected one of {list(OPTIMIZERS)}")


def run_optimizer(
    surface: Surface | str,
    optimizer: str,
    *,
    lr: float,
    momentum: float = 0.9,
    steps: int = 100,
    start: tuple[float, float] | None = None,
) -> np.ndarray:
    """Trajectory of ``optimizer`` on ``surface``: the points ``w_0 .. w_T``, shape ``(T + 1, 2)``.

    Stops early (fewer rows) when a step leaves the box ``|w| < DIVERGED`` or is not finite; the
    last row is then the first point outside.
    """
    surface = SURFACES[surface] if isinstance(surface, str) else surface
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    step = _step_function(optimizer, float(lr), float(momentum))
    w = np.array(surface.start if start is None else start, dtype=np.float64)
    path = [w.copy()]
    state = None
    for _ in range(int(steps)):
        w, state = quiet_call(step, w, surface.grad(w), state)
        w = np.asarray(w, dtype=np.float64)
        path.append(w.copy())
        if not np.all(np.isfinite(w)) or np.max(np.abs(w)) > DIVERGED:
            break
    return np.array(path)


@dataclass
class PlaygroundData:
    """Trajectories ``(T_k + 1, 2)`` and losses ``(T_k + 1,)`` by optimizer name."""

    surface: Surface
    lr: float
    adaptive_lr: float
    momentum: float
    steps: int
    start: tuple[float, float]
    trajectories: dict[str, np.ndarray] = field(default_factory=dict)
    losses: dict[str, np.ndarray] = field(default_factory=dict)
    diverged: list[str] = field(default_factory=list)


def playground_data(
    surface: str = "valley",
    optimizers=("sgd", "momentum", "adam"),
    *,
    lr: float = 0.02,
    adaptive_lr: float | None = None,
    momentum: float = 0.9,
    steps: int = 100,
    start: tuple[float, float] | None = None,
) -> PlaygroundData:
    """Run every optimizer in ``optimizers`` from the same start; see ``run_optimizer``.

    ``lr`` drives SGD, momentum and Nesterov; ``adaptive_lr`` (default: ``lr``) drives
    Adagrad, RMSprop and Adam. ``momentum`` is also Adam's ``beta1``.
    """
    adaptive_lr = float(lr if adaptive_lr is None else adaptive_lr)
    if surface not in SURFACES:
        raise ValueError(f"unknown surface {surface!r}; expected one of {sorted(SURFACES)}")
    s = SURFACES[surface]
    start = tuple(s.start) if start is None else (float(start[0]), float(start[1]))
    data = PlaygroundData(s, float(lr), adaptive_lr, float(momentum), int(steps), start)
    for name in optimizers:
        rate = adaptive_lr if name in ADAPTIVE else lr
        path = run_optimizer(s, name, lr=rate, momentum=momentum, steps=steps, start=start)
        data.trajectories[name] = path
        with np.errstate(all="ignore"):
            data.losses[name] = s.f(path)
        if len(path) < steps + 1:
            data.diverged.append(name)
    return data


class OptimizerPlayground(Explorer):
    """Controls: ``surface``, ``optimizers`` (a tuple of names), ``lr`` (SGD, momentum, Nesterov),
    ``adaptive_lr`` (Adagrad, RMSprop, Adam), ``momentum`` (also Adam's β1), ``steps``.

    Choosing a surface resets ``lr``, ``adaptive_lr`` and ``steps`` to that surface's defaults.
    """

    title = "Optimizer playground: several optimizers from one start point"
    figsize = (10.0, 4.0)

    def __init__(self) -> None:
        super().__init__()
        first = SURFACES["valley"]
        rate = dict(base=10, step=0.05, continuous_update=False, readout_format=".4f")
        self.controls = {
            "surface": widgets.Dropdown(
                options=list(SURFACES), value="valley", description="surface"
            ),
            "optimizers": widgets.SelectMultiple(
                options=list(OPTIMIZERS),
                value=("sgd", "momentum", "adam"),
                description="optimizers",
                rows=len(OPTIMIZERS),
            ),
            "lr": widgets.FloatLogSlider(
                value=first.lr, min=-4, max=0, description="lr (SGD family)", **rate
            ),
            "adaptive_lr": widgets.FloatLogSlider(
                value=first.adaptive_lr, min=-4, max=0, description="lr (adaptive)", **rate
            ),
            "momentum": widgets.FloatSlider(
                value=0.9,
                min=0.0,
                max=0.99,
                step=0.01,
                description="momentum / β1",
                continuous_update=False,
            ),
            "steps": widgets.IntSlider(
                value=first.steps, min=1, max=500, description="steps", continuous_update=False
            ),
        }
        for control in self.controls.values():
            control.style.description_width = "110px"
        # Registered before the redraw observer, so a new surface redraws once, with its defaults.
        self.controls["surface"].observe(self._surface_defaults, names="value")
        self._finish_init()

    def _surface_defaults(self, change) -> None:
        surface = SURFACES[change["new"]]
        building, self._building = self._building, True
        try:
            self.controls["lr"].value = surface.lr
            self.controls["adaptive_lr"].value = surface.adaptive_lr
            self.controls["steps"].value = surface.steps
        finally:
            self._building = building

    def set(self, **values) -> OptimizerPlayground:
        """As ``Explorer.set``; a ``surface`` is applied first, so explicit rates win."""
        if "surface" in values:
            values = {"surface": values.pop("surface"), **values}
        return super().set(**values)

    def layout_controls(self) -> widgets.Widget:
        c = self.controls
        sliders = [c["surface"], c["lr"], c["adaptive_lr"], c["momentum"], c["steps"]]
        return widgets.HBox([c["optimizers"], widgets.VBox(sliders)])

    def compute(self) -> PlaygroundData:
        v = self.values
        data = playground_data(
            v["surface"],
            tuple(v["optimizers"]),
            lr=v["lr"],
            adaptive_lr=v["adaptive_lr"],
            momentum=v["momentum"],
            steps=v["steps"],
        )
        if data.diverged:
            self.notes.append(
                f"{', '.join(data.diverged)} diverged at this learning rate "
                "(the path is cut where it left)."
            )
        if not v["optimizers"]:
            self.notes.append("select at least one optimizer (ctrl/cmd-click for several).")
        return data

    def draw(self, data: PlaygroundData) -> None:
        from nnkit.plots import plot_trajectories

        ax_path, ax_loss = self.figure.subplots(1, 2, width_ratios=[1.4, 1])
        plot_trajectories(
            data.surface.f,
            data.trajectories,
            ax=ax_path,
            xlim=data.surface.xlim,
            ylim=data.surface.ylim,
            log_levels=data.surface.log_levels,
        )
        for m in data.surface.minima:
            ax_path.plot(*m, marker="*", ms=12, color="gold", mec="k", zorder=5)
        ax_path.set_title(
            f"{data.surface.name}: lr {data.lr:.3g} (adaptive {data.adaptive_lr:.3g}), "
            f"momentum {data.momentum:.2f}",
            fontsize=10,
        )
        f_min = float(data.surface.f(np.array(data.surface.minima[0], dtype=np.float64)))
        for name, loss in data.losses.items():
            gap = np.maximum(loss - f_min, 1e-12)
            ax_loss.plot(np.arange(len(gap)), gap, color=f"C{OPTIMIZERS.index(name)}", label=name)
        ax_loss.set_yscale("log")
        ax_loss.set_xlabel("step")
        ax_loss.set_ylabel("loss − minimum")
        ax_loss.set_title("loss along the path")
        if data.losses:
            ax_loss.legend(fontsize=8)


def optimizer_playground() -> OptimizerPlayground:
    """Display the optimizer playground and return it (drive it with ``.set(lr=0.01)``).

    Without a widget frontend the cell shows the valley at the default settings and a message.
    """
    return OptimizerPlayground().show()

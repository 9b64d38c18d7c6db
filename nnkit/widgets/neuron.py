"""Neuron and layer explorer (lesson 01): decision boundaries on 2-D data with weights on sliders.

* **one neuron**: class 1 where ``σ(w·x + b) > 0.5``, i.e. on one side of the line
  ``w·x + b = 0``. Move ``w`` and ``b`` and the line turns and shifts; on XOR no setting gets
  all four clusters right.
* **hidden layer** (two units): ``h = g(W x + b)``, output ``o = v·h + c``, class 1 where
  ``o > 0.5``. Each hidden unit draws its own line (dashed); the output combines the two half
  planes, which is how a hidden layer solves XOR.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np

from ._base import Explorer, quiet_call

MODES = ("one neuron", "hidden layer")


def xor_layer() -> dict:
    """Hidden-layer weights that solve XOR on the corners {0, 1}²: ``nnkit.neurons.xor_params``.

    ``h1 = relu(x1 + x2)``, ``h2 = relu(x1 + x2 - 1)``, ``o = h1 - 2 h2``: 0 on (0,0) and (1,1),
    1 on (0,1) and (1,0). Returned with the explorer's names ``W, b, v, c``.
    """
    from nnkit.neurons import xor_params

    p = xor_params()
    return {"W": np.asarray(p["W"]), "b": np.asarray(p["b"]), "v": np.asarray(p["w"]), "c": p["c"]}


def load_dataset(name: str, n: int = 200, rng=0) -> tuple[np.ndarray, np.ndarray]:
    """``(X (n, 2), y (n,))`` from ``nnkit.data`` (``make_xor`` or ``make_moons``), seeded."""
    from nnkit import data

    makers = {"xor": "make_xor", "moons": "make_moons"}
    if name not in makers:
        raise ValueError(f"unknown dataset {name!r}; expected one of {sorted(makers)}")
    X, y = getattr(data, makers[name])(n, rng=rng)
    return np.asarray(X, dtype=np.float64), np.asarray(y).astype(np.int64)


def _activation(name: str) -> Callable:
    from nnkit.activations import ACTIVATIONS

    return ACTIVATIONS[name][0]


def neuron_scores(X: np.ndarray, w, b: float) -> np.ndarray:
    """One neuron's probability of class 1, ``σ(X @ w + b)``, shape ``(N,)``."""
    z = np.asarray(X, dtype=np.float64) @ np.asarray(w, dtype=np.float64) + float(b)
    return quiet_call(_activation("sigmoid"), z)


def layer_scores(X: np.ndarray, W, b, v, c: float, activation: str = "relu") -> np.ndarray:
    """Output of a one-hidden-layer network, ``g(X @ W.T + b) @ v + c``, shape ``(N,)``.

    ``W`` is ``(H, 2)``, ``b`` and ``v`` are ``(H,)``; class 1 where the output is above 0.5.
    """
    g = _activation(activation)
    h = quiet_call(g, np.asarray(X, dtype=np.float64) @ np.asarray(W).T + np.asarray(b))
    return h @ np.asarray(v, dtype=np.float64) + float(c)


@dataclass
class NeuronData:
    """The data set, the model's score on a grid and on the points, and its accuracy."""

    mode: str
    X: np.ndarray
    y: np.ndarray
    xx: np.ndarray
    yy: np.ndarray
    grid_scores: np.ndarray  # (R, R)
    scores: np.ndarray  # (N,)
    predictions: np.ndarray  # (N,)
    accuracy: float
    threshold: float
    lines: list[tuple[float, float, float]]  # (w1, w2, b): the lines w1 x1 + w2 x2 + b = 0
    features: np.ndarray  # one neuron: z = X w + b, (N,); hidden layer: h = g(X W.T + b), (N, 2)
    readout: tuple[float, ...]  # one neuron: (); hidden layer: (v1, v2, c)


def neuron_data(
    X: np.ndarray,
    y: np.ndarray,
    mode: str,
    params: dict,
    activation: str = "relu",
    resolution: int = 120,
) -> NeuronData:
    """Evaluate one neuron (``params`` ``w (2,)``, ``b``) or a hidden layer (``W, b, v, c``)."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {list(MODES)}")
    lo = X.min(axis=0) - 0.5
    hi = X.max(axis=0) + 0.5
    xx, yy = np.meshgrid(
        np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    )
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    if mode == "one neuron":
        score = lambda P: neuron_scores(P, params["w"], params["b"])  # noqa: E731
        lines = [(float(params["w"][0]), float(params["w"][1]), float(params["b"]))]
    else:
        score = lambda P: layer_scores(  # noqa: E731
            P, params["W"], params["b"], params["v"], params["c"], activation
        )
        lines = [
            (float(Wj[0]), float(Wj[1]), float(bj))
            for Wj, bj in zip(params["W"], params["b"], strict=True)
        ]
    scores = score(X)
    predictions = (scores > 0.5).astype(np.int64)
    if mode == "one neuron":
        features = X @ np.asarray(params["w"], dtype=np.float64) + float(params["b"])
        readout: tuple[float, ...] = ()
    else:
        g = _activation(activation)
        features = quiet_call(g, X @ np.asarray(params["W"]).T + np.asarray(params["b"]))
        readout = (float(params["v"][0]), float(params["v"][1]), float(params["c"]))
    return NeuronData(
        mode=mode,
        X=X,
        y=y,
        xx=xx,
        yy=yy,
        grid_scores=score(grid).reshape(xx.shape),
        scores=scores,
        predictions=predictions,
        accuracy=float(np.mean(predictions == y)),
        threshold=0.5,
        lines=lines,
        features=features,
        readout=readout,
    )


def _slider(
    value: float, description: str, lo: float = -4.0, hi: float = 4.0
) -> widgets.FloatSlider:
    return widgets.FloatSlider(
        value=value,
        min=lo,
        max=hi,
        step=0.05,
        description=description,
        continuous_update=False,
        readout_format=".2f",
        layout=widgets.Layout(width="230px"),
        style={"description_width": "40px"},
    )


class NeuronExplorer(Explorer):
    """Controls: ``dataset``, ``mode``, ``activation``; one neuron ``w1, w2, b``; hidden layer
    ``W11, W12, W21, W22, b1, b2, v1, v2, c``."""

    title = "Neuron and layer explorer: decision boundaries on 2-D data"
    figsize = (10.0, 4.2)

    def __init__(self, dataset: str = "xor", n: int = 200, rng=0) -> None:
        super().__init__()
        self._n, self._rng = n, rng
        self._datasets: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        start = xor_layer()
        W, b, v, c = start["W"], start["b"], start["v"], float(start["c"])
        self.controls = {
            "dataset": widgets.Dropdown(
                options=["xor", "moons"], value=dataset, description="data"
            ),
            "mode": widgets.ToggleButtons(options=list(MODES), value="one neuron"),
            "activation": widgets.Dropdown(
                options=["relu", "tanh", "sigmoid"], value="relu", description="hidden g"
            ),
            "w1": _slider(1.0, "w1"),
            "w2": _slider(1.0, "w2"),
            "b": _slider(-0.5, "b"),
            "W11": _slider(W[0, 0], "W11"),
            "W12": _slider(W[0, 1], "W12"),
            "b1": _slider(b[0], "b1"),
            "W21": _slider(W[1, 0], "W21"),
            "W22": _slider(W[1, 1], "W22"),
            "b2": _slider(b[1], "b2"),
            "v1": _slider(v[0], "v1"),
            "v2": _slider(v[1], "v2"),
            "c": _slider(c, "c"),
        }
        self._finish_init()

    def dataset(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in self._datasets:
            self._datasets[name] = load_dataset(name, self._n, self._rng)
        return self._datasets[name]

    def params(self) -> dict:
        v = self.values
        if v["mode"] == "one neuron":
            return {"w": np.array([v["w1"], v["w2"]]), "b": v["b"]}
        return {
            "W": np.array([[v["W11"], v["W12"]], [v["W21"], v["W22"]]]),
            "b": np.array([v["b1"], v["b2"]]),
            "v": np.array([v["v1"], v["v2"]]),
            "c": v["c"],
        }

    def layout_controls(self) -> widgets.Widget:
        c = self.controls
        top = widgets.HBox([c["dataset"], c["mode"], c["activation"]])
        self._neuron_box = widgets.HBox([c["w1"], c["w2"], c["b"]])
        self._layer_box = widgets.VBox(
            [
                widgets.HBox([c["W11"], c["W12"], c["b1"]]),
                widgets.HBox([c["W21"], c["W22"], c["b2"]]),
                widgets.HBox([c["v1"], c["v2"], c["c"]]),
            ]
        )
        self._sync_visibility()
        c["mode"].observe(lambda _: self._sync_visibility(), names="value")
        return widgets.VBox([top, self._neuron_box, self._layer_box])

    def _sync_visibility(self) -> None:
        one = self.controls["mode"].value == "one neuron"
        if hasattr(self, "_neuron_box"):
            self._neuron_box.layout.display = None if one else "none"
            self._layer_box.layout.display = "none" if one else None
        self.controls["activation"].disabled = one

    def compute(self) -> NeuronData:
        v = self.values
        X, y = self.dataset(v["dataset"])
        return neuron_data(X, y, v["mode"], self.params(), v["activation"])

    def draw(self, data: NeuronData) -> None:
        ax, ax2 = self.figure.subplots(1, 2, width_ratios=[1.25, 1])
        draw_plane(ax, data)
        if data.mode == "one neuron":
            draw_neuron_output(ax2, data)
        else:
            draw_hidden_space(ax2, data)


def _classes(ax, P: np.ndarray, data: NeuronData) -> None:
    ax.scatter(
        P[:, 0],
        P[:, 1],
        c=data.y,
        cmap="coolwarm",
        vmin=-0.3,
        vmax=1.3,
        s=16,
        edgecolors="k",
        linewidths=0.4,
    )
    wrong = data.predictions != data.y
    ax.scatter(P[wrong, 0], P[wrong, 1], marker="x", color="k", s=22, linewidths=0.8)


def draw_plane(ax, data: NeuronData) -> None:
    """The input plane: the model's output as colour, the decision boundary, the data."""
    one = data.mode == "one neuron"
    lo, hi = (0.0, 1.0) if one else (-0.5, 1.5)
    levels = np.linspace(lo, hi, 21)
    shown = np.clip(data.grid_scores, lo, hi)
    cs = ax.contourf(data.xx, data.yy, shown, levels=levels, cmap="coolwarm", alpha=0.45)
    ax.figure.colorbar(cs, ax=ax, label="σ(w·x + b)" if one else "output o", shrink=0.9)
    if data.grid_scores.min() < data.threshold < data.grid_scores.max():
        ax.contour(
            data.xx, data.yy, data.grid_scores, levels=[data.threshold], colors="k", linewidths=1.8
        )
    _classes(ax, data.X, data)
    if not one:
        xs = np.array([data.xx[0, 0], data.xx[0, -1]])
        for j, (w1, w2, b) in enumerate(data.lines):
            style = dict(ls="--", lw=1.1, color=f"C{j + 2}", label=f"unit {j + 1}: z{j + 1} = 0")
            if abs(w2) > 1e-9:
                ax.plot(xs, -(w1 * xs + b) / w2, **style)
            elif abs(w1) > 1e-9:
                ax.axvline(-b / w1, **style)
        ax.legend(fontsize=7, loc="upper right")
    ax.set_xlim(data.xx[0, 0], data.xx[0, -1])
    ax.set_ylim(data.yy[0, 0], data.yy[-1, 0])
    ax.set_aspect("equal", adjustable="box")
    ax.set_title(f"{data.mode}: accuracy {100 * data.accuracy:.0f}%  (× = wrong)", fontsize=10)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")


def draw_neuron_output(ax, data: NeuronData) -> None:
    """Every point at its pre-activation z = w·x + b and output σ(z): one threshold at z = 0."""
    z = data.features
    span = max(4.0, float(np.max(np.abs(z))) * 1.05)
    grid = np.linspace(-span, span, 200)
    ax.plot(grid, neuron_scores(grid[:, None], [1.0], 0.0), color="0.5", lw=1)
    _classes(ax, np.column_stack([z, data.scores]), data)
    ax.axvline(0, color="k", lw=1.2)
    ax.axhline(0.5, color="k", lw=0.6, ls=":")
    ax.set_xlabel("z = w·x + b")
    ax.set_ylabel("σ(z)")
    ax.set_title("what the neuron sees: one number per point", fontsize=10)


def draw_hidden_space(ax, data: NeuronData) -> None:
    """The points in the hidden space (h1, h2) and the output's line v·h + c = 0.5 there."""
    h = data.features
    _classes(ax, h, data)
    v1, v2, c = data.readout
    lo = np.minimum(h.min(axis=0), 0.0) - 0.3
    hi = np.maximum(h.max(axis=0), 1.0) + 0.3
    xs = np.array([lo[0], hi[0]])
    if abs(v2) > 1e-9:
        ax.plot(xs, (0.5 - c - v1 * xs) / v2, color="k", lw=1.8, label="v·h + c = 0.5")
    elif abs(v1) > 1e-9:
        ax.axvline((0.5 - c) / v1, color="k", lw=1.8, label="v·h + c = 0.5")
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel("$h_1$")
    ax.set_ylabel("$h_2$")
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title("hidden space h = g(Wx + b): the output draws a line here", fontsize=10)


def neuron_explorer(dataset: str = "xor") -> NeuronExplorer:
    """Display the neuron and layer explorer on ``dataset`` (``"xor"`` or ``"moons"``); return it.

    Without a widget frontend the cell shows one neuron on the data at the default weights and
    a message.
    """
    return NeuronExplorer(dataset).show()

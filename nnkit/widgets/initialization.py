"""Initialization explorer (lesson 04): how signals and gradients travel through a deep stack.

A bias-free stack of ``depth`` square layers of ``width`` units, ``h_l = g(h_{l-1} @ W_l.T)``,
fed standard-normal inputs. The weights come from the chosen initializer times a ``scale``
(for ``"normal"`` the scale *is* the standard deviation). One backward pass from a fixed random
upstream gradient gives ``‖∂L/∂W_l‖`` per layer. With a bad scale the activations collapse to
zero (or pile up at ±1 for tanh) layer after layer and the gradient norms shrink or blow up
geometrically; Xavier for tanh and He for ReLU keep both steady.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
from matplotlib.ticker import MaxNLocator

from nnkit._checks import as_rng

from ._base import Explorer, quiet_call

ACTIVATION_CHOICES = ("tanh", "relu", "sigmoid", "identity")
INIT_CHOICES = (
    "normal",
    "xavier_normal",
    "xavier_uniform",
    "he_normal",
    "he_uniform",
    "orthogonal",
)
#: How many layers get their own histogram (evenly spread from the first to the last).
HISTOGRAMS = 6


def make_weights(init: str, depth: int, width: int, scale: float, rng) -> list[np.ndarray]:
    """``depth`` weight matrices ``(width, width)``: ``scale`` times the initializer's draw.

    ``init="normal"`` draws ``N(0, scale²)`` directly; the others call ``nnkit.init.<init>``
    with ``(fan_in, fan_out, rng)``.
    """
    rng = as_rng(rng)
    if init not in INIT_CHOICES:
        raise ValueError(f"unknown init {init!r}; expected one of {list(INIT_CHOICES)}")
    if init == "normal":
        return [scale * rng.standard_normal((width, width)) for _ in range(depth)]
    from nnkit import init as initializers

    make: Callable = getattr(initializers, init)
    return [scale * np.asarray(make(width, width, rng), dtype=np.float64) for _ in range(depth)]


def forward_backward(
    X: np.ndarray, weights: list[np.ndarray], activation: str, upstream: np.ndarray
) -> tuple[list[np.ndarray], list[float]]:
    """Activations ``h_1 .. h_L`` and the gradient norms ``‖∂L/∂W_l‖_F``.

    ``L = Σ h_L ⊙ upstream`` (a fixed random linear read-out), so ``∂L/∂h_L = upstream``.
    """
    from nnkit.activations import ACTIVATIONS

    g, g_grad = ACTIVATIONS[activation]
    hs, zs = [X], []
    for W in weights:
        z = hs[-1] @ W.T
        zs.append(z)
        hs.append(quiet_call(g, z))
    norms = [0.0] * len(weights)
    dh = upstream
    for l in range(len(weights) - 1, -1, -1):
        with np.errstate(all="ignore"):
            dz = dh * quiet_call(g_grad, zs[l])
            norms[l] = float(np.linalg.norm(dz.T @ hs[l]))
            dh = dz @ weights[l]
    return hs[1:], norms


@dataclass
class SignalData:
    """Per-layer statistics of the stack (lists of length ``depth``) and histogram samples."""

    depth: int
    width: int
    activation: str
    init: str
    scale: float
    means: list[float]
    stds: list[float]
    grad_norms: list[float]
    shown_layers: list[int]  # 1-based layer numbers that have a histogram
    samples: list[np.ndarray]  # activations of those layers, flattened


def signal_data(
    depth: int = 8,
    width: int = 256,
    activation: str = "tanh",
    init: str = "xavier_normal",
    scale: float = 1.0,
    n: int = 128,
    rng=0,
) -> SignalData:
    """Run the stack once and collect what the explorer draws. Seeded: same inputs, same data."""
    if activation not in ACTIVATION_CHOICES:
        raise ValueError(
            f"unknown activation {activation!r}; expected one of {list(ACTIVATION_CHOICES)}"
        )
    if depth < 1 or width < 1:
        raise ValueError(f"depth and width must be >= 1, got depth={depth}, width={width}")
    rng = as_rng(rng)
    X = rng.standard_normal((n, width))
    upstream = rng.standard_normal((n, width)) / n
    weights = make_weights(init, depth, width, float(scale), rng)
    hs, norms = forward_backward(X, weights, activation, upstream)
    shown = sorted(set(np.linspace(1, depth, min(HISTOGRAMS, depth)).round().astype(int).tolist()))
    return SignalData(
        depth=depth,
        width=width,
        activation=activation,
        init=init,
        scale=float(scale),
        means=[float(np.mean(h)) for h in hs],
        stds=[float(np.std(h)) for h in hs],
        grad_norms=norms,
        shown_layers=shown,
        samples=[hs[l - 1].ravel() for l in shown],
    )


class InitExplorer(Explorer):
    """Controls: ``depth``, ``width``, ``activation``, ``init``, ``scale``."""

    title = "Initialization explorer: activations and gradients layer by layer"
    figsize = (10.0, 5.2)
    layout = None  # constrained layout costs more than the rest of the redraw here

    def __init__(self, rng=0) -> None:
        super().__init__()
        self._rng = rng
        self.controls = {
            "depth": widgets.IntSlider(
                value=8, min=1, max=20, description="depth", continuous_update=False
            ),
            "width": widgets.IntSlider(
                value=256, min=16, max=512, step=16, description="width", continuous_update=False
            ),
            "activation": widgets.Dropdown(
                options=list(ACTIVATION_CHOICES), value="tanh", description="activation"
            ),
            "init": widgets.Dropdown(
                options=list(INIT_CHOICES), value="xavier_normal", description="init"
            ),
            "scale": widgets.FloatLogSlider(
                value=1.0,
                base=10,
                min=-2,
                max=1,
                step=0.05,
                description="w scale",
                continuous_update=False,
                readout_format=".3g",
            ),
        }
        self._finish_init()

    def compute(self) -> SignalData:
        v = self.values
        data = signal_data(
            v["depth"], v["width"], v["activation"], v["init"], v["scale"], rng=self._rng
        )
        last = data.stds[-1]
        if not np.isfinite(last) or last > 1e3:
            self.notes.append(f"the activations explode: std {last:.3g} at layer {data.depth}.")
        elif last < 1e-3:
            self.notes.append(f"the activations vanish: std {last:.2g} at layer {data.depth}.")
        return data

    def draw(self, data: SignalData) -> None:
        k = len(data.shown_layers)
        top = [f"h{i}" for i in range(k)]
        half = max(k // 2, 1)
        bottom = ["std"] * half + ["grad"] * (k - half) if k > 1 else ["std"]
        mosaic = [top, bottom] if k > 1 else [["h0", "std", "grad"]]
        axes = self.figure.subplot_mosaic(mosaic, height_ratios=[1, 1.1] if k > 1 else None)
        self.figure.subplots_adjust(
            left=0.07, right=0.98, top=0.87, bottom=0.1, hspace=0.45, wspace=0.35
        )
        finite = [s[np.isfinite(s)] for s in data.samples]
        span = max((np.percentile(np.abs(s), 99.5) for s in finite if s.size), default=1.0)
        span = float(span) if np.isfinite(span) and span > 0 else 1.0
        for i, (layer, sample) in enumerate(zip(data.shown_layers, finite, strict=True)):
            ax = axes[f"h{i}"]
            title = f"layer {layer}: std {data.stds[layer - 1]:.2g}"
            zero = float(np.mean(sample == 0)) if sample.size else 0.0
            if zero > 0.05:  # ReLU's exact zeros would flatten the rest of the histogram
                sample = sample[sample != 0]
                title += f", {100 * zero:.0f}% = 0"
            ax.hist(
                sample, bins=50, range=(-span, span), color="C0", alpha=0.8, histtype="stepfilled"
            )
            ax.set_title(title, fontsize=8)
            ax.set_yticks([])
            ax.tick_params(labelsize=7)
        layers = np.arange(1, data.depth + 1)
        ax = axes["std"]
        ax.plot(layers, _clip_log(data.stds), "o-", color="C0")
        ax.set_yscale("log")
        ax.set_xlabel("layer")
        ax.set_title("std of the activations")
        ax = axes["grad"]
        ax.plot(layers, _clip_log(data.grad_norms), "s-", color="C3")
        ax.set_yscale("log")
        ax.set_xlabel("layer")
        ax.set_title("gradient norm ‖∂L/∂W_l‖")
        for name in ("std", "grad"):
            _at_least_decades(axes[name], 2)
            axes[name].xaxis.set_major_locator(MaxNLocator(integer=True))
        self.figure.suptitle(
            f"{data.depth} layers × {data.width} units, {data.activation}, "
            f"{data.init} × {data.scale:.3g}",
            fontsize=10,
        )


def _clip_log(values) -> np.ndarray:
    """Values for a log axis: non-finite and extreme values pinned to 1e±30 (drawn at the edge)."""
    v = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=1e30, posinf=1e30, neginf=1e-30)
    return np.clip(v, 1e-30, 1e30)


def _at_least_decades(ax, decades: float) -> None:
    """Widen a log axis to span ``decades`` around its data, so steady curves look steady."""
    lo, hi = ax.get_ylim()
    if lo > 0 and hi > 0 and np.log10(hi / lo) < decades:
        mid = np.sqrt(lo * hi)
        half = 10 ** (decades / 2)
        ax.set_ylim(mid / half, mid * half)


def init_explorer() -> InitExplorer:
    """Display the initialization explorer and return it (drive it with ``.set(depth=12)``).

    Without a widget frontend the cell shows the default stack (8 tanh layers, Xavier) and a
    message.
    """
    return InitExplorer().show()

"""Batch-norm explorer (lesson 07): normalising pre-activations, and what evaluation uses.

Three features of pre-activations arrive with different shifts and spreads (set by ``shift``
and ``spread``). Left: their histograms over a batch before batch norm; middle: after
``nnkit.functional.batchnorm_forward`` (zero mean, unit variance, then ``γ`` and ``β``);
right: the same batch through a sigmoid, without and with batch norm — without it the shifted
features sit on the flat, saturated parts of the sigmoid. Below that, the running mean of
feature 1 over ``steps`` training batches of size ``batch_size`` (momentum 0.1), which is what
evaluation mode normalises with; small batches give noisy batch statistics.
"""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np

from ._base import Explorer, quiet_call

FEATURE_MEANS = np.array([1.0, 0.3, -0.7])
FEATURE_STDS = np.array([1.0, 0.5, 1.8])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    from nnkit.activations import ACTIVATIONS

    return quiet_call(ACTIVATIONS["sigmoid"][0], x)


@dataclass
class BatchNormData:
    """A batch before/after batch norm and the running statistics over training steps."""

    x: np.ndarray  # (B, 3) pre-activations of the displayed batch
    out: np.ndarray  # (B, 3) batch-norm output (train or eval mode)
    true_mean: np.ndarray  # (3,) mean of the distribution the batches come from
    true_var: np.ndarray  # (3,)
    running_means: np.ndarray  # (steps + 1, 3) running_mean after each training step
    running_vars: np.ndarray  # (steps + 1, 3)
    batch_means: np.ndarray  # (steps, 3) the mean of each training batch
    train: bool
    gamma: float
    beta: float
    slope_before: float  # mean sigmoid'(x) over the batch's feature 1: how much gradient flows
    slope_after: float  # the same after batch norm


def batchnorm_data(
    shift: float = 3.0,
    spread: float = 2.0,
    batch_size: int = 32,
    gamma: float = 1.0,
    beta: float = 0.0,
    train: bool = True,
    steps: int = 60,
    rng=0,
) -> BatchNormData:
    """Draw ``steps`` training batches (seeded) through batch norm, then one displayed batch.

    Feature ``j`` is ``N(shift · m_j, (spread · s_j)²)`` with ``m = FEATURE_MEANS``,
    ``s = FEATURE_STDS``. The displayed batch is normalised in ``train`` mode with its own
    statistics, else with the running statistics gathered over the ``steps`` batches.
    """
    from nnkit.functional import batchnorm_forward

    if batch_size < 2:
        raise ValueError(
            f"batch_size must be >= 2 (the variance of one sample is 0), got {batch_size}"
        )
    gen = np.random.default_rng(rng)
    mean = shift * FEATURE_MEANS
    std = spread * FEATURE_STDS
    d = mean.size
    state = {"running_mean": np.zeros(d), "running_var": np.ones(d)}
    g = np.full(d, float(gamma))
    b = np.full(d, float(beta))
    running_means = [state["running_mean"].copy()]
    running_vars = [state["running_var"].copy()]
    batch_means = []
    for _ in range(int(steps)):
        xb = mean + std * gen.standard_normal((batch_size, d))
        batch_means.append(xb.mean(axis=0))
        quiet_call(batchnorm_forward, xb, g, b, state, True)
        running_means.append(np.array(state["running_mean"], dtype=np.float64))
        running_vars.append(np.array(state["running_var"], dtype=np.float64))
    x = mean + std * gen.standard_normal((batch_size, d))
    frozen = {k: np.array(v, dtype=np.float64) for k, v in state.items()}
    out, _ = quiet_call(batchnorm_forward, x, g, b, frozen, bool(train))
    out = np.asarray(out, dtype=np.float64)
    s_before, s_after = _sigmoid(x[:, 0]), _sigmoid(out[:, 0])
    return BatchNormData(
        x=x,
        out=out,
        true_mean=mean,
        true_var=std**2,
        running_means=np.array(running_means),
        running_vars=np.array(running_vars),
        batch_means=np.array(batch_means).reshape(-1, d),
        train=bool(train),
        gamma=float(gamma),
        beta=float(beta),
        slope_before=float(np.mean(s_before * (1 - s_before))),
        slope_after=float(np.mean(s_after * (1 - s_after))),
    )


class BatchNormExplorer(Explorer):
    """Controls: ``shift``, ``spread``, ``batch_size``, ``gamma``, ``beta``, ``train``,
    ``steps``."""

    title = "Batch-norm explorer: normalised pre-activations and running statistics"
    figsize = (10.0, 5.4)

    def __init__(self) -> None:
        super().__init__()
        opts = dict(continuous_update=False)
        self.controls = {
            "shift": widgets.FloatSlider(
                value=3.0, min=-5, max=5, step=0.1, description="shift", **opts
            ),
            "spread": widgets.FloatSlider(
                value=2.0, min=0.1, max=5, step=0.1, description="spread", **opts
            ),
            "batch_size": widgets.IntSlider(
                value=32, min=2, max=256, description="batch size", **opts
            ),
            "gamma": widgets.FloatSlider(
                value=1.0, min=0.0, max=3.0, step=0.05, description="γ", **opts
            ),
            "beta": widgets.FloatSlider(
                value=0.0, min=-3.0, max=3.0, step=0.05, description="β", **opts
            ),
            "train": widgets.ToggleButtons(
                options=[("training", True), ("evaluation", False)], value=True
            ),
            "steps": widgets.IntSlider(value=60, min=0, max=200, description="train steps", **opts),
        }
        self._finish_init()

    def compute(self) -> BatchNormData:
        v = self.values
        data = batchnorm_data(
            v["shift"], v["spread"], v["batch_size"], v["gamma"], v["beta"], v["train"], v["steps"]
        )
        if not v["train"] and v["steps"] < 20:
            self.notes.append(
                f"after {v['steps']} training steps the running statistics are still far from "
                "the data's: evaluation mode normalises with them."
            )
        return data

    def draw(self, data: BatchNormData) -> None:
        axes = self.figure.subplot_mosaic(
            [["before", "after", "sigmoid"], ["running", "running", "running"]]
        )
        lo = min(data.x.min(), data.out.min(), -3)
        hi = max(data.x.max(), data.out.max(), 3)
        bins = np.linspace(lo, hi, 40)
        for j in range(data.x.shape[1]):
            axes["before"].hist(
                data.x[:, j], bins=bins, alpha=0.5, color=f"C{j}", label=f"feature {j + 1}"
            )
            axes["after"].hist(data.out[:, j], bins=bins, alpha=0.5, color=f"C{j}")
        axes["before"].set_title("pre-activations (one batch)", fontsize=9)
        axes["before"].legend(fontsize=7)
        mode = "batch statistics" if data.train else "running statistics"
        axes["after"].set_title(f"after batch norm ({mode})", fontsize=9)
        s = axes["sigmoid"]
        grid = np.linspace(lo, hi, 200)
        s.plot(grid, _sigmoid(grid), color="0.6", lw=1)
        s.scatter(
            data.x[:, 0], _sigmoid(data.x[:, 0]), s=10, color="C3", label="feature 1 without BN"
        )
        s.scatter(
            data.out[:, 0],
            _sigmoid(data.out[:, 0]) - 0.0,
            s=10,
            color="C0",
            label="feature 1 with BN",
        )
        s.set_title(
            f"through a sigmoid: mean σ' {data.slope_before:.2f} → {data.slope_after:.2f}",
            fontsize=9,
        )
        s.legend(fontsize=7, loc="upper left")
        r = axes["running"]
        steps = np.arange(data.running_means.shape[0])
        if data.batch_means.size:
            r.plot(
                steps[1:],
                data.batch_means[:, 0],
                ".",
                color="C0",
                alpha=0.4,
                label="batch mean (feature 1)",
            )
        r.plot(steps, data.running_means[:, 0], color="C0", lw=2, label="running_mean (feature 1)")
        r.axhline(data.true_mean[0], color="k", ls="--", lw=1, label="true mean")
        r.set_xlabel("training step")
        r.legend(fontsize=7, loc="lower right")
        r.set_title("running statistics (momentum 0.1) — what evaluation mode uses", fontsize=9)


def batchnorm_explorer() -> BatchNormExplorer:
    """Display the batch-norm explorer and return it (drive it with ``.set(batch_size=4)``).

    Without a widget frontend the cell shows the default settings and a message.
    """
    return BatchNormExplorer().show()

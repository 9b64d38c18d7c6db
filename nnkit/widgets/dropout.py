"""Dropout explorer (lesson 06): which units a mask drops, and why the survivors are scaled.

Left: a small network whose hidden units are dropped (hollow, crossed) by one mask from
``nnkit.functional.dropout_forward`` with drop probability ``p``; a new ``mask #`` draws another
thinned network. In evaluation mode nothing is dropped.
Right: for a fixed vector of activations, the mean training output over many masks. With the
inverted scaling ``x · mask / (1 - p)`` it matches the evaluation output ``x``; without the
scaling it shrinks to ``(1 - p) x``, so the network would see different magnitudes at test time.
"""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np

from ._base import Explorer, quiet_call

LAYER_SIZES = (4, 8, 8, 2)
#: Masks averaged for the expectation panel.
SAMPLES = 500


def _dropout(x: np.ndarray, p: float, train: bool, rng) -> np.ndarray:
    from nnkit.functional import dropout_forward

    out, _ = quiet_call(dropout_forward, x, p, train, rng)
    return np.asarray(out, dtype=np.float64)


@dataclass
class DropoutData:
    """Masks of the hidden layers of the diagram and the expectation over ``SAMPLES`` masks."""

    p: float
    train: bool
    inverted: bool
    masks: list[np.ndarray]  # one boolean (size,) per hidden layer: True = kept
    kept_fraction: float  # over the diagram's hidden units
    x: np.ndarray  # (U,) activations fed to dropout
    eval_output: np.ndarray  # (U,) = x
    mean_output: np.ndarray  # (U,) mean training output over SAMPLES masks
    keep_rate: float  # fraction of kept entries over all SAMPLES masks


def dropout_data(
    p: float = 0.5, train: bool = True, inverted: bool = True, mask_seed: int = 0
) -> DropoutData:
    """Draw the masks with seeded generators and average ``SAMPLES`` training outputs.

    Without ``inverted``, the training output is ``x · mask`` (the naive form), recovered
    from the library's inverted output as ``out · (1 - p)``.
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"p must be a probability in [0, 1), got {p!r}")
    rng = np.random.default_rng(mask_seed)
    masks = [_dropout(np.ones(size), p, train, rng) != 0 for size in LAYER_SIZES[1:-1]]
    x = np.linspace(0.5, 2.0, 8)
    batch = np.tile(x, (SAMPLES, 1))
    out = _dropout(batch, p, train, np.random.default_rng(10_000 + mask_seed))
    if train and not inverted:
        out = out * (1.0 - p)
    return DropoutData(
        p=float(p),
        train=bool(train),
        inverted=bool(inverted),
        masks=masks,
        kept_fraction=float(np.mean(np.concatenate(masks))),
        x=x,
        eval_output=_dropout(x, p, False, rng),
        mean_output=out.mean(axis=0),
        keep_rate=float(np.mean(out != 0)),
    )


class DropoutExplorer(Explorer):
    """Controls: ``p``, ``train`` (bool), ``inverted`` (bool), ``mask_seed``."""

    title = "Dropout explorer: thinned networks and inverted scaling"
    figsize = (10.0, 3.8)

    def __init__(self) -> None:
        super().__init__()
        self.controls = {
            "p": widgets.FloatSlider(
                value=0.5,
                min=0.0,
                max=0.9,
                step=0.05,
                description="drop p",
                continuous_update=False,
            ),
            "train": widgets.ToggleButtons(
                options=[("training", True), ("evaluation", False)], value=True
            ),
            "inverted": widgets.Checkbox(
                value=True,
                description="scale by 1/(1-p) (inverted dropout)",
                indent=False,
                layout=widgets.Layout(width="auto"),
            ),
            "mask_seed": widgets.IntSlider(
                value=0, min=0, max=50, description="mask #", continuous_update=False
            ),
        }
        self._finish_init()

    def compute(self) -> DropoutData:
        v = self.values
        return dropout_data(v["p"], v["train"], v["inverted"], v["mask_seed"])

    def draw(self, data: DropoutData) -> None:
        ax_net, ax_mean = self.figure.subplots(1, 2, width_ratios=[1.1, 1])
        kept = [np.ones(LAYER_SIZES[0], bool), *data.masks, np.ones(LAYER_SIZES[-1], bool)]
        pos = []
        for i, size in enumerate(LAYER_SIZES):
            ys = np.linspace(-(size - 1) / 2, (size - 1) / 2, size)
            pos.append(np.column_stack([np.full(size, float(i)), ys]))
        for i in range(len(LAYER_SIZES) - 1):
            for a, ka in zip(pos[i], kept[i], strict=True):
                for b, kb in zip(pos[i + 1], kept[i + 1], strict=True):
                    on = ka and kb
                    ax_net.plot(
                        [a[0], b[0]],
                        [a[1], b[1]],
                        color="0.3" if on else "0.9",
                        lw=0.6 if on else 0.4,
                        zorder=1,
                    )
        for i, (pts, k) in enumerate(zip(pos, kept, strict=True)):
            ax_net.scatter(
                pts[k, 0],
                pts[k, 1],
                s=120,
                color="C0" if 0 < i < len(pos) - 1 else "C7",
                zorder=2,
                edgecolors="k",
            )
            ax_net.scatter(
                pts[~k, 0], pts[~k, 1], s=120, facecolors="white", edgecolors="0.6", zorder=2
            )
            ax_net.scatter(pts[~k, 0], pts[~k, 1], s=60, marker="x", color="C3", zorder=3)
        ax_net.set_axis_off()
        mode = "training" if data.train else "evaluation"
        ax_net.set_title(
            f"{mode}, p = {data.p:.2f}: {100 * data.kept_fraction:.0f}% of hidden units kept",
            fontsize=10,
        )
        idx = np.arange(data.x.size)
        ax_mean.bar(
            idx - 0.2, data.eval_output, width=0.4, color="0.6", label="evaluation output x"
        )
        label = f"mean {mode} output over {SAMPLES} masks"
        ax_mean.bar(idx + 0.2, data.mean_output, width=0.4, color="C0", label=label)
        ax_mean.set_xlabel("unit")
        ax_mean.set_ylim(0, 2.6)
        scaling = "x·mask/(1-p)" if data.inverted else "x·mask (no scaling)"
        ax_mean.set_title(
            f"expected output, training uses {scaling}" if data.train else "evaluation: output = x",
            fontsize=10,
        )
        ax_mean.legend(fontsize=8, loc="upper left")


def dropout_explorer() -> DropoutExplorer:
    """Display the dropout explorer and return it (drive it with ``.set(p=0.2)``).

    Without a widget frontend the cell shows one mask at ``p = 0.5`` and a message.
    """
    return DropoutExplorer().show()

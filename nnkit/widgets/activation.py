"""Activation explorer (lesson 01): one neuron ``y = g(w·a + b)`` and its derivative.

Pick an activation from ``nnkit.activations.ACTIVATIONS`` (or pass your own ``fn``/``grad_fn``),
move the weight and bias of a single neuron with one input ``a``, and see

* the output ``y(a) = g(w a + b)`` (yours over the reference),
* its slope ``dy/da = w g'(w a + b)`` three ways: from your ``grad_fn``, from centred differences
  of your ``fn`` (what your ``grad_fn`` should match) and from the reference,
* the shaded ranges of ``a`` where the neuron saturates: ``|g'(z)|`` below 5 % of its peak, so
  almost no gradient flows back through it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import ipywidgets as widgets
import numpy as np

from ._base import Explorer, quiet_call
from ._safe import mismatch_fraction, safe_evaluate

#: Step of the centred differences (the course's gradient-check step).
H = 1e-5
#: A neuron is saturated where ``|g'(z)|`` is below this fraction of the peak of ``|g'|``.
SATURATION_FRACTION = 0.05
#: Fraction of grid points that may disagree (kinks of ReLU or hard tanh touch one or two).
MISMATCH_ALLOWED = 0.02


def _registry() -> dict[str, tuple[Callable, Callable]]:
    from nnkit.activations import ACTIVATIONS

    return ACTIVATIONS


def numerical_slope(
    fn: Callable, a: np.ndarray, w: float, b: float, name: str = "fn"
) -> tuple[np.ndarray | None, str | None]:
    """Centred-difference slope ``d/da fn(w a + b)`` on the grid ``a``; ``(slope, problem)``."""
    plus, problem = safe_evaluate(fn, w * (a + H) + b, name)
    if plus is None:
        return None, problem
    minus, problem = safe_evaluate(fn, w * (a - H) + b, name)
    if minus is None:
        return None, problem
    with np.errstate(all="ignore"):
        return (plus - minus) / (2 * H), None


def saturated_mask(grad_fn: Callable, z: np.ndarray) -> np.ndarray:
    """Boolean mask of ``z`` where ``|g'(z)| < SATURATION_FRACTION · max |g'|``.

    The peak of ``|g'|`` is taken over ``z`` in ``[-10, 10]`` (not just the plotted window), so
    the shading does not move when the window moves. A constant ``g'`` (identity) never saturates.
    """
    peak_grid = np.linspace(-10.0, 10.0, 4001)
    peak = float(np.max(np.abs(quiet_call(grad_fn, peak_grid))))
    slope = np.abs(np.asarray(quiet_call(grad_fn, z), dtype=np.float64))
    if peak == 0.0 or np.allclose(slope, peak):
        return np.zeros_like(z, dtype=bool)
    return slope < SATURATION_FRACTION * peak


def mask_intervals(x: np.ndarray, mask: np.ndarray) -> list[tuple[float, float]]:
    """The ``(start, stop)`` ranges of ``x`` over which ``mask`` is True (``x`` increasing)."""
    intervals = []
    start = None
    for i, m in enumerate(mask):
        if m and start is None:
            start = i
        if not m and start is not None:
            intervals.append((float(x[start]), float(x[i - 1])))
            start = None
    if start is not None:
        intervals.append((float(x[start]), float(x[-1])))
    return intervals


@dataclass
class ActivationData:
    """Everything the activation explorer draws; arrays have the shape of ``a``, ``(N,)``.

    ``y``, ``slope`` and ``numeric_slope`` come from the explored function (the student's when
    given, else the reference); a value is ``None`` when it could not be computed, and
    ``problems`` says why.
    """

    name: str
    w: float
    b: float
    a: np.ndarray
    z: np.ndarray
    y: np.ndarray | None
    slope: np.ndarray | None
    numeric_slope: np.ndarray | None
    reference_y: np.ndarray | None
    reference_slope: np.ndarray | None
    saturated: np.ndarray
    saturated_ranges: list[tuple[float, float]]
    value_mismatch: float | None = None
    slope_mismatch: float | None = None
    problems: list[str] = field(default_factory=list)


def activation_data(
    fn: Callable | None = None,
    grad_fn: Callable | None = None,
    *,
    reference: str | None = "sigmoid",
    w: float = 1.0,
    b: float = 0.0,
    a_range: tuple[float, float] = (-6.0, 6.0),
    num: int = 401,
    label: str = "your function",
) -> ActivationData:
    """Compute the curves of one neuron ``y = g(w a + b)`` for the explorer.

    Parameters
    ----------
    fn, grad_fn : callable or None
        The activation to explore and its derivative with respect to its input. ``None`` uses
        the reference. Either may raise or return garbage: that becomes a message in
        ``problems``, never an exception.
    reference : str or None
        Name in ``nnkit.activations.ACTIVATIONS`` drawn for comparison (and used to find where
        the neuron saturates); ``None`` for no reference.
    w, b : float
        Weight and bias of the neuron.
    a_range : (float, float)
        Range of the neuron's input ``a``; ``num`` points.
    label : str
        How messages name ``fn`` (``"your sigmoid"``).

    Returns
    -------
    ActivationData
        ``y``, ``slope = w·grad_fn(z)``, ``numeric_slope`` (centred differences of ``fn``, step
        ``H``), the reference curves, the saturation mask and ranges, and the fraction of points
        where ``fn`` disagrees with the reference (``value_mismatch``) and where ``grad_fn``
        disagrees with the numerical slope of ``fn`` (``slope_mismatch``).
    """
    w = float(w)
    b = float(b)
    if num < 3:
        raise ValueError(f"num must be at least 3, got {num}")
    a = np.linspace(float(a_range[0]), float(a_range[1]), int(num))
    z = w * a + b
    problems: list[str] = []

    ref_fn = ref_grad = None
    reference_y = reference_slope = None
    if reference is not None:
        registry = _registry()
        if reference not in registry:
            raise ValueError(
                f"unknown reference activation {reference!r}; expected one of {sorted(registry)}"
            )
        ref_fn, ref_grad = registry[reference]
        reference_y = np.asarray(quiet_call(ref_fn, z), dtype=np.float64)
        reference_slope = w * np.asarray(quiet_call(ref_grad, z), dtype=np.float64)

    student = fn is not None
    if fn is None:
        if ref_fn is None:
            raise ValueError("give fn or a reference activation name")
        fn, label = ref_fn, f"reference {reference}"
    if grad_fn is None and not student and ref_grad is not None:
        grad_fn = ref_grad

    y, problem = safe_evaluate(fn, z, label)
    if problem:
        problems.append(problem)
    numeric_slope = None
    if y is not None:
        numeric_slope, problem = numerical_slope(fn, a, w, b, label)
        if problem and problem not in problems:
            problems.append(problem)

    slope = None
    if grad_fn is not None:
        grad_label = f"{label}'s derivative" if student else label
        g, problem = safe_evaluate(grad_fn, z, grad_label)
        if problem:
            problems.append(problem)
        if g is not None:
            slope = w * g

    value_mismatch = slope_mismatch = None
    if student and y is not None and reference_y is not None:
        value_mismatch = mismatch_fraction(y, reference_y)
        if value_mismatch > MISMATCH_ALLOWED:
            problems.append(
                f"{label} differs from the reference {reference} at "
                f"{100 * value_mismatch:.0f}% of the points."
            )
    if slope is not None and numeric_slope is not None:
        slope_mismatch = mismatch_fraction(slope, numeric_slope)
        if slope_mismatch > MISMATCH_ALLOWED:
            problems.append(
                f"the derivative you gave disagrees with the numerical slope of {label} at "
                f"{100 * slope_mismatch:.0f}% of the points."
            )

    saturating_grad = ref_grad
    if saturating_grad is None and grad_fn is not None and slope is not None:
        saturating_grad = grad_fn
    if saturating_grad is not None:
        try:
            saturated = saturated_mask(saturating_grad, z)
        except Exception:
            saturated = np.zeros_like(a, dtype=bool)
    else:
        saturated = np.zeros_like(a, dtype=bool)

    return ActivationData(
        name=reference or label,
        w=w,
        b=b,
        a=a,
        z=z,
        y=y,
        slope=slope,
        numeric_slope=numeric_slope,
        reference_y=reference_y,
        reference_slope=reference_slope,
        saturated=saturated,
        saturated_ranges=mask_intervals(a, saturated),
        value_mismatch=value_mismatch,
        slope_mismatch=slope_mismatch,
        problems=problems,
    )


class ActivationExplorer(Explorer):
    """Controls: ``activation`` (reference name), ``w``, ``b``. See ``activation_data``."""

    title = "Activation explorer: one neuron y = g(w·a + b)"
    figsize = (9.5, 3.6)

    def __init__(self, fn: Callable | str | None = None, grad_fn: Callable | None = None) -> None:
        super().__init__()
        names = list(_registry())
        if isinstance(fn, str):  # activation_explorer("tanh"): start on a library activation
            if fn not in names:
                raise ValueError(f"unknown activation {fn!r}; expected one of {names}")
            own, fn = fn, None
        else:
            own = getattr(fn, "__name__", None)
        if fn is not None and not callable(fn):
            raise TypeError(f"fn must be a function or an activation name, got {type(fn).__name__}")
        if grad_fn is not None and not callable(grad_fn):
            raise TypeError(f"grad_fn must be a function, got {type(grad_fn).__name__}")
        self.fn = fn
        self.grad_fn = grad_fn
        start = own if own in names else ("sigmoid" if "sigmoid" in names else names[0])
        self.label = (
            f"your {own}" if fn is not None and own and own != "<lambda>" else "your function"
        )
        slider = dict(min=-5.0, max=5.0, step=0.1, continuous_update=False, readout_format=".1f")
        self.controls = {
            "activation": widgets.Dropdown(
                options=names,
                value=start,
                description="reference" if fn is not None else "activation",
            ),
            "w": widgets.FloatSlider(value=1.0, description="weight w", **slider),
            "b": widgets.FloatSlider(value=0.0, description="bias b", **slider),
        }
        self._finish_init()

    def compute(self) -> ActivationData:
        v = self.values
        data = activation_data(
            self.fn, self.grad_fn, reference=v["activation"], w=v["w"], b=v["b"], label=self.label
        )
        self.notes.extend(data.problems)
        return data

    def draw(self, data: ActivationData) -> None:
        draw_activation(self.figure, data, student=self.fn is not None, label=self.label)


def draw_activation(figure, data: ActivationData, student: bool, label: str) -> None:
    """Two panels on ``figure``: the output ``y(a)`` and its slope ``dy/da``."""
    ax_y, ax_d = figure.subplots(1, 2)
    for ax in (ax_y, ax_d):
        for lo, hi in data.saturated_ranges:
            ax.axvspan(lo, hi, color="#f4d03f", alpha=0.25, lw=0)
        ax.axhline(0, color="0.7", lw=0.8)
        ax.axvline(0, color="0.7", lw=0.8)
        ax.set_xlabel("input a")
        ax.set_xlim(data.a[0], data.a[-1])
    ref = f"reference {data.name}"
    if student:
        if data.reference_y is not None:
            ax_y.plot(data.a, data.reference_y, color="0.55", lw=4, alpha=0.5, label=ref)
        if data.y is not None:
            ax_y.plot(data.a, data.y, color="C0", lw=1.8, label=label)
        if data.reference_slope is not None:
            ax_d.plot(data.a, data.reference_slope, color="0.55", lw=4, alpha=0.5, label=ref)
        if data.slope is not None:
            ax_d.plot(data.a, data.slope, color="C1", lw=1.8, label="your derivative · w")
        if data.numeric_slope is not None:
            ax_d.plot(
                data.a,
                data.numeric_slope,
                color="C2",
                lw=1.8,
                ls="--",
                label=f"numerical slope of {label}",
            )
    else:
        ax_y.plot(data.a, data.y, color="C0", lw=1.8, label=f"g = {data.name}")
        if data.slope is not None:
            ax_d.plot(data.a, data.slope, color="C1", lw=1.8, label="w · g'(w a + b)")
        if data.numeric_slope is not None:
            ax_d.plot(
                data.a, data.numeric_slope, color="C2", lw=1.4, ls="--", label="numerical slope"
            )
    if data.y is None and student:
        ax_y.text(
            0.5,
            0.5,
            "your function: no curve yet\n(see the note above)",
            transform=ax_y.transAxes,
            ha="center",
            va="center",
            color="#a04000",
            bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "#a04000"},
        )
    ax_y.set_title(f"output y = g({data.w:.1f}·a {'+' if data.b >= 0 else '−'} {abs(data.b):.1f})")
    ax_d.set_title("slope dy/da (shaded: saturated, |g'| < 5% of peak)")
    _robust_ylim(ax_y, [data.y, data.reference_y])
    _robust_ylim(ax_d, [data.slope, data.numeric_slope, data.reference_slope])
    for ax in (ax_y, ax_d):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize=8, framealpha=0.8)


def _robust_ylim(ax, curves) -> None:
    """Limits that show the reference-sized range even when a wrong curve shoots off to 1e30."""
    values = [np.asarray(c)[np.isfinite(c)] for c in curves if c is not None]
    values = [v for v in values if v.size]
    if not values:
        return
    allv = np.concatenate(values)
    lo, hi = np.percentile(allv, [1, 99])
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    pad = 0.1 * max(hi - lo, 1e-3)
    ax.set_ylim(lo - pad, hi + pad)


def activation_explorer(
    fn: Callable | str | None = None, grad_fn: Callable | None = None
) -> ActivationExplorer:
    """Display the activation explorer and return it.

    Parameters
    ----------
    fn, grad_fn : callable, optional
        Your activation and its derivative (element-wise on arrays). Drawn over the reference
        chosen in the drop-down (the one with your function's name, when there is one), with
        the numerical slope of ``fn`` so a wrong ``grad_fn`` shows at a glance. A stub that
        raises ``NotImplementedError`` or returns garbage gives a note, not an error.
        A name such as ``"tanh"`` starts the explorer on that library activation instead.

    Returns
    -------
    ActivationExplorer
        Drive it from Python with ``explorer.set(w=2.0)``; ``explorer.data`` holds the curves.

    Without a widget frontend (nbgrader, nbclient) the cell shows the picture at the default
    settings and a message instead of the controls.
    """
    return ActivationExplorer(fn, grad_fn).show()

"""The result of a layer or model check: one entry per gradient array, printable as a table."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .numeric import DEFAULT_TOL

__all__ = ["GradCheckEntry", "GradCheckReport"]


@dataclass
class GradCheckEntry:
    """Result for one gradient array: its error and, if it failed, the diagnosis.

    ``error`` is the array's relative error as judged by :func:`check_layer` (see there):
    the larger of the error over its ``checked`` entries and over its ``directions`` random
    directions. When only some entries were checked, ``indices`` holds their flat indices
    (into ``array.reshape(-1)``) and ``analytic``/``numeric`` their values, in that order.
    """

    name: str
    error: float
    tol: float
    diagnosis: str | None = None
    checked: int = 0
    size: int = 0
    analytic: np.ndarray | None = field(default=None, repr=False)
    numeric: np.ndarray | None = field(default=None, repr=False)
    directions: int = 0
    indices: np.ndarray | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return bool(self.error <= self.tol)


@dataclass
class GradCheckReport:
    """Gradient check of every parameter and of the input of a module.

    Attributes
    ----------
    entries : dict[str, GradCheckEntry]
        ``"x"`` for the input, then the parameter names (``"W"``, ``"0.b"``, ...).
    tol : float
        Threshold on the relative error.
    title : str
        What was checked.
    notes : list[str]
        Remarks that apply to the whole check (e.g. inputs near a ReLU kink).
    """

    entries: dict[str, GradCheckEntry] = field(default_factory=dict)
    tol: float = DEFAULT_TOL
    title: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True if every gradient agrees within ``tol``."""
        return all(e.ok for e in self.entries.values())

    @property
    def worst(self) -> float:
        """The largest relative error (``nan`` if any is ``nan``)."""
        errors = [e.error for e in self.entries.values()]
        if any(np.isnan(errors)):
            return float("nan")
        return max(errors, default=0.0)

    @property
    def errors(self) -> dict[str, float]:
        """Relative error per name."""
        return {k: e.error for k, e in self.entries.items()}

    @property
    def diagnoses(self) -> dict[str, str | None]:
        """Diagnosis per name (``None`` where the gradient is right)."""
        return {k: e.diagnosis for k, e in self.entries.items()}

    def __getitem__(self, name: str) -> GradCheckEntry:
        return self.entries[name]

    def __str__(self) -> str:
        verdict = "OK" if self.ok else "FAILED"
        head = (
            f"Gradient check{' of ' + self.title if self.title else ''}: {verdict} "
            f"(worst relative error {self.worst:.2e}, threshold {self.tol:.0e})"
        )
        width = max((len(k) for k in self.entries), default=1)
        lines = [head]
        for name, e in self.entries.items():
            status = "ok" if e.ok else "FAIL"
            sampled = ""
            if e.checked < e.size:
                sampled = f"  ({e.checked} of {e.size} entries, {e.directions} directions)"
            line = f"  {name:<{width}}  {e.error:9.2e}  {status}{sampled}"
            if e.diagnosis:
                line += f"\n  {'':<{width}}  -> {e.diagnosis}"
            lines.append(line)
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)

    __repr__ = __str__

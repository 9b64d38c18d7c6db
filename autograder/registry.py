"""The grading registry: what each lesson's cases module declares, and its Python-side copy.

A lesson's cases module (``autograder/cases/lNN_*.py``) calls :func:`register` with, for every
graded function, a :class:`FunctionSpec` (seeded :class:`Case` generators per part, tolerances,
the mistake catalogue, the references to forbid) and the lesson's manifest of :class:`Part` s
(points, hidden or not). :data:`SPECS` and :data:`MANIFEST` hold them for the whole course.

When ``autograder`` is imported, :func:`remember_registry` keeps a copy, and
:func:`restore_registry` puts it back if an answer cell edited the registry (e.g. emptied a
hidden part's cases). This is the fallback for a process without the warden: the warden
protects the registry from its own copy (see :func:`autograder.framework.freeze_registry`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .diagnose import Mistake


@dataclass(frozen=True)
class Case:
    """One seeded input. ``label`` is shown to the student; ``show`` allows printing the
    inputs and the expected output (only ever honoured in visible parts, for small inputs)."""

    label: str
    args: tuple
    kwargs: dict = field(default_factory=dict)
    show: bool = False
    rtol: float | None = None
    atol: float | None = None


@dataclass
class FunctionSpec:
    """How to grade one graded function.

    ``cases`` maps a part name to a generator ``rng -> list[Case]`` (used by the default
    runner, which compares with the reference). ``runners`` maps a part name to a custom
    runner ``(ctx, fn, *companions) -> None`` that calls ``ctx.fail(...)`` on failure.
    ``companions`` names other student functions the test cell passes after ``fn`` (e.g. the
    student's ``linear_forward`` to build the cache for ``linear_backward``).
    ``output_names`` names the parts of a tuple the function returns, as its docstring does
    (``("dx", "dW", "db")``): messages then say ``dW``, not ``your output[1]``.
    ``forbid`` lists the nnkit functions the student's code may not call: the function's own
    reference and every nnkit function that computes the exercise's core (see AUTHORING.md).
    """

    name: str
    concept: str
    arg_names: tuple[str, ...]
    cases: dict[str, Callable[[np.random.Generator], list[Case]]] = field(default_factory=dict)
    mistakes: list[Mistake] = field(default_factory=list)
    runners: dict[str, Callable[..., None]] = field(default_factory=dict)
    companions: tuple[str, ...] = ()
    forbid: tuple[str, ...] = ()
    reference: str | None = None
    rtol: float = 1e-6
    atol: float = 1e-8
    float32_rtol: float = 2e-5
    float32_atol: float = 1e-6
    hint: str = ""  # generic advice when no catalogue entry matches
    output_names: tuple[str, ...] = ()  # the names of a returned tuple's parts
    keep_float32: bool = True  # float32 input must give float32 arrays (else float64 is fine)


@dataclass(frozen=True)
class Part:
    """One row of a lesson's manifest: a test cell worth ``points``."""

    lesson: str
    concept: str  # grade_id of the answer cell
    function: str
    part: str
    points: int
    hidden: bool
    description: str = ""

    @property
    def grade_id(self) -> str:
        """The grade_id of the test cell running this part."""
        return f"test_{self.function}_{self.part}"


SPECS: dict[str, FunctionSpec] = {}
MANIFEST: list[Part] = []


def register(lesson: str, specs: list[FunctionSpec], parts: list[Part]) -> None:
    """Add a lesson's function specs and manifest to the registry (called by cases modules)."""
    for spec in specs:
        SPECS[spec.name] = spec
    for part in parts:
        if part.lesson != lesson:
            raise ValueError(f"part {part.grade_id} belongs to {part.lesson}, not {lesson}")
        if part.function not in SPECS:
            raise ValueError(f"part {part.grade_id} names an unregistered function")
        spec = SPECS[part.function]
        if part.part not in spec.cases and part.part not in spec.runners:
            raise ValueError(f"{part.function} has no cases or runner for part {part.part!r}")
        MANIFEST.append(part)


def manifest(lesson: str | None = None) -> list[Part]:
    return [p for p in MANIFEST if lesson is None or p.lesson == lesson]


def find_part(function: str, part: str) -> Part | None:
    for p in MANIFEST:
        if p.function == function and p.part == part:
            return p
    return None


_FROZEN: dict[str, Any] = {}


def remember_registry() -> None:
    """Remember the registry (specs, their fields, the manifest), so that
    :func:`restore_registry` can undo an answer cell that edits it."""
    _FROZEN["specs"] = dict(SPECS)
    _FROZEN["fields"] = {
        name: {
            k: (dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v)
            for k, v in vars(spec).items()
        }
        for name, spec in SPECS.items()
    }
    _FROZEN["manifest"] = list(MANIFEST)


def restore_registry() -> list[str]:
    """Put back what :func:`remember_registry` remembered; return what was changed."""
    if not _FROZEN:
        return []
    changed = []
    if SPECS != _FROZEN["specs"]:
        SPECS.clear()
        SPECS.update(_FROZEN["specs"])
        changed.append("autograder.framework.SPECS")
    for name, fields in _FROZEN["fields"].items():
        spec = SPECS[name]
        for key, value in fields.items():
            current = getattr(spec, key, None)
            if current != value or type(current) is not type(value):
                copy_ = (
                    dict(value)
                    if isinstance(value, dict)
                    else list(value)
                    if isinstance(value, list)
                    else value
                )
                object.__setattr__(spec, key, copy_)
                changed.append(f"the grading spec of {name}")
    if MANIFEST != _FROZEN["manifest"]:
        MANIFEST[:] = _FROZEN["manifest"]
        changed.append("autograder.framework.MANIFEST")
    return changed

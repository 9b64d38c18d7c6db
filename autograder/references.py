"""The ``nnkit`` references the grader compares with: captured once, called quietly.

:func:`capture_references` remembers, when ``autograder`` is imported (before any answer cell
runs), the reference of every registered function, so a later replacement of ``nnkit.softmax``
cannot change an expected value; :func:`reference` hands them out. :func:`call_reference` runs
one on copies of the inputs with NumPy's warnings silenced. While a student's function runs,
the references it may not call are banned (see :func:`autograder.sandbox.call_student`);
:func:`allow_references` lifts the ban for the grader's own fallbacks inside such a call.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from nnkit import _guard

from . import sandbox
from .failures import _PartFailed
from .registry import SPECS

_errstate = np.errstate

_REFERENCES: dict[str, Callable] = {}


def capture_references() -> None:
    """Remember every registered function's nnkit reference (called once at import)."""
    import nnkit

    for spec in SPECS.values():
        ref_name = spec.reference or spec.name
        ref = getattr(nnkit, ref_name, None)
        if ref is not None and ref_name not in _REFERENCES:
            _REFERENCES[ref_name] = ref


def reference(name: str) -> Callable:
    """The captured nnkit reference ``name`` (never a later replacement)."""
    if name not in _REFERENCES:
        import nnkit

        ref = getattr(nnkit, name, None)
        if ref is None:
            raise _PartFailed(
                f"the course library has no reference nnkit.{name}; tell your instructor "
                "(this is not your mistake)"
            )
        _REFERENCES[name] = ref
    return _REFERENCES[name]


def _copy_args(args: tuple) -> tuple:
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def call_reference(ref: Callable, args: tuple, kwargs: dict | None = None) -> Any:
    """Call a reference on copies of the inputs, outside any forbid block, quietly."""
    import warnings

    with _errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ref(*_copy_args(args), **(kwargs or {}))


@contextlib.contextmanager
def allow_references() -> Iterator[None]:
    """Lift the reference ban inside a student call (for the grader's own fallbacks).

    Only code of the grader may do so: the warden checks that the block is opened from a
    file of the ``autograder`` package."""
    audit = "\x00autograder:sys.audit"
    box: list = []
    audit("autograder.allow.begin", box)
    token = _guard._forbidden.set(frozenset())
    try:
        yield
    finally:
        _guard._forbidden.reset(token)
        audit("autograder.allow.end", box[0] if box else None)


sandbox.embed_audit(allow_references)

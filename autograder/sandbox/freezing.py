"""Turning a student's value into plain data, so that comparing it runs none of their code.

A student's function may return an ``ndarray`` subclass with a lying ``__eq__`` or ``astype``,
a tuple subclass whose ``__len__`` inspects the grader, or an object whose ``__array__`` looks
for the expected value. :func:`freeze` copies the value into exact built-in types using only
base-class methods, *inside* the call (before the expected value exists); :func:`plain_top`
does the same for the outer layer only, for runners that pass parts of the value (a cache) back
to the student's next function.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_np_array = np.array
_np_asarray = np.asarray
_ndarray = np.ndarray
_np_generic = np.generic

_PLAIN = (int, float, complex, str, bytes, bool, type(None))
_FREEZE_DEPTH = 12


class Opaque:
    """Stands for a value of a type the grader does not compare (a student's own object)."""

    __slots__ = ("type_name",)

    def __init__(self, type_name: str):
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<{self.type_name} object>"


def freeze(value: Any, _depth: int = 0) -> Any:
    """A plain copy of ``value``: exact ndarrays, numbers, tuples, lists, dicts, else Opaque.

    Only base-class methods are used (``tuple.__iter__``, ``dict.items``, ...), so a student's
    subclass cannot lie through its overrides. Call it where student code may run (inside the
    call), never after the expected value exists.
    """
    t = type(value)
    if t in _PLAIN:
        return value
    if _depth > _FREEZE_DEPTH:
        return Opaque(t.__name__)
    try:
        if issubclass(t, _ndarray):
            arr = _np_array(value, copy=True, subok=False)
            if arr.dtype.hasobject:
                flat = [freeze(v, _depth + 1) for v in arr.ravel().tolist()]
                out = np.empty(len(flat), dtype=object)
                out[:] = flat
                return out.reshape(arr.shape)
            return arr
        if issubclass(t, _np_generic):
            if t.__module__ == "numpy":
                return value
            return freeze(_np_asarray(value), _depth + 1)[()]
        if issubclass(t, bool):
            return bool(int.__int__(value))
        if issubclass(t, int):
            return int.__int__(value)
        if issubclass(t, float):
            return float.__float__(value)
        if issubclass(t, str):
            return str.__str__(value)
        if issubclass(t, tuple):
            return tuple(freeze(v, _depth + 1) for v in tuple.__iter__(value))
        if issubclass(t, list):
            return [freeze(v, _depth + 1) for v in list.__iter__(value)]
        if issubclass(t, dict):
            return {
                freeze(k, _depth + 1): freeze(v, _depth + 1) for k, v in list(dict.items(value))
            }
    except Exception:
        return Opaque(t.__name__)
    return Opaque(t.__name__)


def _array_subclass(value: Any) -> bool:
    return isinstance(value, _ndarray) and type(value) is not _ndarray


def plain_top(value: Any) -> Any:
    """``value`` with its outer container and arrays turned into exact built-in types, using
    base-class methods only, so that a runner unpacking or measuring a student's value (``out,
    cache = got``, ``len(got)``, ``got.shape``, ``np.asarray(got)``) runs none of the student's
    code after the call. Objects inside (a cache the student's backward needs) are kept."""
    t = type(value)
    if issubclass(t, _ndarray):
        return value if t is _ndarray else value.view(_ndarray)
    if issubclass(t, tuple):
        items = tuple(tuple.__iter__(value))
        if t is tuple and not any(_array_subclass(v) for v in items):
            return value
        return tuple(v.view(_ndarray) if _array_subclass(v) else v for v in items)
    if issubclass(t, list):
        return value if t is list else list(list.__iter__(value))
    if issubclass(t, dict):
        return value if t is dict else dict(dict.items(value))
    if t not in _PLAIN and not issubclass(t, _np_generic) and hasattr(t, "__array__"):
        return _np_asarray(value)  # an array-like object: converted here, inside the call
    return value

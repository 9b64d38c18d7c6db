"""Calling a student's function once and describing what happened.

:func:`call_student` calls with copies of the inputs and reports what happened (value,
exception, warnings, printed lines, reference calls, NaN/inf, mutated inputs) instead of letting
any of it escape: nothing reaches stderr, NumPy floating-point warnings are silenced
(``np.errstate``) and reported as hints, the global NumPy random state is seeded for the call
and restored afterwards, so the same submission always gets the same score. The value is
frozen inside the call (:mod:`autograder.sandbox.freezing`). The warden is told when the call
begins and ends (:mod:`autograder.sandbox.audit`): it forbids the references named in
``forbid`` for the call, and restores whatever the call replaced.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import io
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnkit import _guard

from .audit import embed_audit
from .freezing import freeze, plain_top
from .snapshot import restore_tampered

_np_array_equal = np.array_equal
_np_errstate = np.errstate
_np_get_state = np.random.get_state
_np_set_state = np.random.set_state
_np_seed = np.random.seed
_deepcopy = copy.deepcopy
_gc_collect = gc.collect
_catch_warnings = warnings.catch_warnings
_simplefilter = warnings.simplefilter

# Seed of NumPy's global random state during a student's call: a student who (wrongly) uses
# np.random still gets the same numbers every time they are graded.
_GLOBAL_SEED = 20240601


@dataclass
class Outcome:
    """What happened when the student's function was called once."""

    value: Any = None
    frozen: Any = None
    error: BaseException | None = None
    not_implemented: bool = False
    reference_calls: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    printed: list[str] = field(default_factory=list)
    mutated: list[str] = field(default_factory=list)
    tampered: list[str] = field(default_factory=list)
    fp_errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None and not self.not_implemented and not self.reference_calls


def _copy_arg(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.copy()
    if callable(value) and not isinstance(value, (dict, list)):
        return value
    try:
        return _deepcopy(value)
    except Exception:
        return value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        try:
            return (
                isinstance(a, np.ndarray)
                and isinstance(b, np.ndarray)
                and a.shape == b.shape
                and a.dtype == b.dtype
                and bool(_np_array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
            )
        except Exception:
            return False
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return True  # scalars and callables cannot be changed in place


def call_student(
    fn: Any,
    args: tuple = (),
    kwargs: dict | None = None,
    *,
    forbid: tuple[str, ...] = (),
    arg_names: tuple[str, ...] = (),
    watch: tuple[Any, ...] = (),
    global_seed: int = _GLOBAL_SEED,
    keep_value: bool = True,
) -> Outcome:
    """Call ``fn(*args, **kwargs)`` safely and describe what happened.

    ``args`` are copied before the call, and the copies are compared with the originals
    afterwards to detect in-place changes (``arg_names`` names them in the message). Objects
    in ``watch`` (e.g. a cache the student's forward pass returned) are checked the same way.
    ``outcome.frozen`` is the value as plain data (see :func:`freeze`), ``outcome.value`` the
    value itself with its outer layer made plain (:func:`plain_top`); with ``keep_value=False``
    the student's own object is dropped inside the call, so that nothing of it (a
    ``__del__``) runs after the call.
    """
    audit = "\x00autograder:sys.audit"
    kwargs = kwargs or {}
    outcome = Outcome()
    call_args = tuple(_copy_arg(a) for a in args)
    call_kwargs = {k: _copy_arg(v) for k, v in kwargs.items()}
    watched = tuple(_copy_arg(w) for w in watch)
    out_buf, err_buf = io.StringIO(), io.StringIO()
    fp_errors: list[str] = []
    forbid = tuple(forbid)

    def on_fp_error(kind: str, _flag: int) -> None:
        if kind not in fp_errors:
            fp_errors.append(kind)

    saved_state = _np_get_state()
    _np_seed(global_seed)
    begin: list = []
    end: list = []
    try:
        with (
            _catch_warnings(record=True) as caught,
            _np_errstate(all="call", under="ignore", call=on_fp_error),
            contextlib.redirect_stdout(out_buf),
            contextlib.redirect_stderr(err_buf),
            _guard.forbid(*forbid) as calls,
        ):
            _simplefilter("always")
            audit("autograder.call.begin", forbid, begin)
            try:
                try:
                    if not callable(fn):
                        raise TypeError(f"expected a function, got {type(fn).__name__}")
                    value = fn(*call_args, **call_kwargs)
                    outcome.frozen = freeze(value)
                    if keep_value:
                        outcome.value = plain_top(value)
                    del value
                except NotImplementedError:
                    outcome.not_implemented = True
                except _guard.ReferenceCallError as exc:
                    outcome.error = exc
                except (Exception, SystemExit, KeyboardInterrupt, GeneratorExit) as exc:
                    outcome.error = exc  # student code may raise anything
                # a student's cyclic garbage is finalised here, inside the call
                _gc_collect(0)
            finally:
                audit("autograder.call.end", begin[0] if begin else None, end)
            if not frozenset(forbid) <= _guard._forbidden.get():
                # The answer switched the reference guard off from inside the call.
                outcome.reference_calls = sorted(forbid)
            else:
                outcome.reference_calls = sorted(set(calls))
    finally:
        _np_set_state(saved_state)
    report = end[0] if end else {}
    for name in report.get("calls", ()):
        if name not in outcome.reference_calls:
            outcome.reference_calls.append(name)
    outcome.fp_errors = fp_errors
    for w in caught:
        text = f"{getattr(w.category, '__name__', 'Warning')}: {w.message}"
        if text not in outcome.warnings:
            outcome.warnings.append(text)
    printed = (out_buf.getvalue() + err_buf.getvalue()).splitlines()
    outcome.printed = printed
    names = arg_names or tuple(f"argument {i + 1}" for i in range(len(args)))
    for i, (orig, used) in enumerate(zip(args, call_args, strict=True)):
        if not _same(orig, used):
            outcome.mutated.append(names[i] if i < len(names) else f"argument {i + 1}")
    for key, value in kwargs.items():
        if not _same(value, call_kwargs[key]):
            outcome.mutated.append(key)
    for i, (orig, now) in enumerate(zip(watched, watch, strict=True)):
        if not _same(orig, now):
            outcome.mutated.append(f"watched object {i + 1}")
    outcome.tampered = list(report.get("tampered", ()))
    if not end:  # no warden: the fallback
        outcome.tampered += restore_tampered()
    return outcome


embed_audit(call_student)

"""Run untrusted student code for a check, and undo what it may have changed.

Two small tools:

* :func:`call_student` calls a student's function with copies of the inputs and reports what
  happened (value, exception, warnings, printed lines, reference calls, NaN/inf, mutated inputs)
  instead of letting any of it escape: nothing reaches stderr, NumPy floating-point warnings
  are silenced (``np.errstate``) and reported as hints, the global NumPy random state is seeded
  for the call and restored afterwards, so the same submission always gets the same score.
* :class:`Snapshot` remembers the attributes of the modules the grader relies on (numpy,
  numpy.testing, numpy.linalg, nnkit and its submodules, autograder itself, builtins) when
  ``autograder`` is imported; :func:`restore_tampered` puts back anything an answer cell or a
  student's function replaced and says what it was.
"""

from __future__ import annotations

import builtins
import contextlib
import copy
import io
import sys
import types
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.linalg
import numpy.testing

from nnkit import _guard

_np_array_equal = np.array_equal
_np_errstate = np.errstate
_np_isfinite = np.isfinite
_np_get_state = np.random.get_state
_np_set_state = np.random.set_state
_np_seed = np.random.seed
_deepcopy = copy.deepcopy

# Seed of NumPy's global random state during a student's call: a student who (wrongly) uses
# np.random still gets the same numbers every time they are graded.
_GLOBAL_SEED = 20240601
_MAX_PRINTED_LINES = 5


@dataclass
class Outcome:
    """What happened when the student's function was called once."""

    value: Any = None
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
) -> Outcome:
    """Call ``fn(*args, **kwargs)`` safely and describe what happened.

    ``args`` are copied before the call, and the copies are compared with the originals
    afterwards to detect in-place changes (``arg_names`` names them in the message). Objects
    in ``watch`` (e.g. a cache the student's forward pass returned) are checked the same way.
    """
    kwargs = kwargs or {}
    outcome = Outcome()
    call_args = tuple(_copy_arg(a) for a in args)
    call_kwargs = {k: _copy_arg(v) for k, v in kwargs.items()}
    watched = tuple(_copy_arg(w) for w in watch)
    out_buf, err_buf = io.StringIO(), io.StringIO()
    fp_errors: list[str] = []

    def on_fp_error(kind: str, _flag: int) -> None:
        if kind not in fp_errors:
            fp_errors.append(kind)

    saved_state = _np_get_state()
    _np_seed(global_seed)
    try:
        with (
            warnings.catch_warnings(record=True) as caught,
            _np_errstate(all="call", under="ignore", call=on_fp_error),
            contextlib.redirect_stdout(out_buf),
            contextlib.redirect_stderr(err_buf),
            _guard.forbid(*forbid) as calls,
        ):
            warnings.simplefilter("always")
            try:
                if not callable(fn):
                    raise TypeError(f"expected a function, got {type(fn).__name__}")
                outcome.value = fn(*call_args, **call_kwargs)
            except NotImplementedError:
                outcome.not_implemented = True
            except _guard.ReferenceCallError as exc:
                outcome.error = exc
            except (Exception, SystemExit) as exc:  # student code may raise anything
                outcome.error = exc
            if not frozenset(forbid) <= _guard._forbidden.get():
                # The answer switched the reference guard off from inside the call.
                outcome.reference_calls = sorted(forbid)
            else:
                outcome.reference_calls = sorted(set(calls))
    finally:
        _np_set_state(saved_state)
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
    outcome.tampered = restore_tampered()
    return outcome


# --------------------------------------------------------------------------------------------
# Snapshot of the modules the grader relies on


def _is_builtin(value: Any) -> bool:
    return isinstance(value, (types.BuiltinFunctionType, type))


class Snapshot:
    """The attributes of some modules at one moment, and a way to put them back."""

    def __init__(self) -> None:
        self._saved: list[tuple[Any, str, dict[str, Any]]] = []

    def add(self, module: Any, label: str | None = None, only=None) -> None:
        attrs = {
            k: v
            for k, v in vars(module).items()
            if not k.startswith("__") and (only is None or only(v))
        }
        self._saved.append((module, label or module.__name__, attrs))

    def restore(self) -> list[str]:
        changed = []
        for module, label, attrs in self._saved:
            current = vars(module)
            for name, value in attrs.items():
                if current.get(name, _MISSING) is not value:
                    try:
                        setattr(module, name, value)
                    except Exception:  # pragma: no cover - read-only attribute
                        continue
                    changed.append(f"{label}.{name}")
        return changed


_MISSING = object()
_SNAPSHOT = Snapshot()


def take_snapshot() -> None:
    """Remember numpy, nnkit, autograder and builtins as they are now (called at import)."""
    _SNAPSHOT.add(np, "numpy")
    _SNAPSHOT.add(numpy.testing, "numpy.testing")
    _SNAPSHOT.add(numpy.linalg, "numpy.linalg")
    _SNAPSHOT.add(np.random, "numpy.random")
    _SNAPSHOT.add(builtins, "builtins", only=_is_builtin)
    for name, module in sorted(sys.modules.items()):
        if module is None:
            continue
        if name == "nnkit" or (name.startswith("nnkit.") and "widgets" not in name):
            _SNAPSHOT.add(module, name)
        elif name == "autograder" or name.startswith("autograder."):
            _SNAPSHOT.add(module, name)


_RESTORERS: list[Any] = []
_CODE: list[tuple[Any, Any, Any, Any]] = []


def add_restorer(restorer: Any) -> None:
    """Register ``restorer() -> list[str]`` to run with :func:`restore_tampered`."""
    _RESTORERS.append(restorer)


_CLASSES: list[tuple[type, dict[str, Any]]] = []


def snapshot_class(cls: type) -> None:
    """Remember the methods and class attributes of one of the grader's classes."""
    if all(c is not cls for c, _ in _CLASSES):
        _CLASSES.append((cls, {k: v for k, v in vars(cls).items() if not k.startswith("__")}))


def _restore_classes() -> list[str]:
    changed = []
    for cls, attrs in _CLASSES:
        for name, value in attrs.items():
            if vars(cls).get(name, _MISSING) is not value:
                setattr(cls, name, value)
                changed.append(f"{cls.__module__}.{cls.__qualname__}.{name}")
    return changed


def freeze_functions(functions: Any) -> None:
    """Remember the code and defaults of the grader's own functions (lambdas included)."""
    seen = {id(f) for f, *_ in _CODE}
    for fn in functions:
        if isinstance(fn, types.FunctionType) and id(fn) not in seen:
            seen.add(id(fn))
            _CODE.append((fn, fn.__code__, fn.__defaults__, fn.__kwdefaults__))


def _restore_code() -> list[str]:
    changed = []
    for fn, code, defaults, kwdefaults in _CODE:
        if fn.__code__ is not code or fn.__defaults__ is not defaults:
            fn.__code__, fn.__defaults__ = code, defaults
            changed.append(f"{fn.__module__}.{fn.__qualname__}")
        if fn.__kwdefaults__ is not kwdefaults:
            fn.__kwdefaults__ = kwdefaults
            changed.append(f"{fn.__module__}.{fn.__qualname__}")
    return changed


def restore_tampered() -> list[str]:
    """Put back every remembered attribute, grader function and registry entry that was
    replaced; return their names."""
    changed = _SNAPSHOT.restore()
    changed += _restore_code()
    changed += _restore_classes()
    for restorer in _RESTORERS:
        changed += restorer()
    return changed

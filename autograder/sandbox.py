"""Run untrusted student code for a check, and keep it from changing the grader.

A student's answer cells run in the same Python process as the grader, before the locked test
cells, so everything here assumes that code may have tried to break it. Three tools:

* :func:`call_student` calls a student's function with copies of the inputs and reports what
  happened (value, exception, warnings, printed lines, reference calls, NaN/inf, mutated inputs)
  instead of letting any of it escape: nothing reaches stderr, NumPy floating-point warnings
  are silenced (``np.errstate``) and reported as hints, the global NumPy random state is seeded
  for the call and restored afterwards, so the same submission always gets the same score. The
  value is also *frozen* there (:func:`freeze`): turned into plain built-in data (exact
  ``ndarray``, tuples, lists, dicts, numbers), so that the comparison after the call never runs
  a method of a student's object (an ``ndarray`` subclass with a lying ``__eq__`` or
  ``astype``, an object whose ``__array__`` looks for the expected value).
* A snapshot of the modules the grader relies on (numpy and its submodules, nnkit, autograder,
  the standard-library modules the grader calls, builtins), of the grader's classes and of the
  grading registry, taken when ``autograder`` is imported; :func:`restore_tampered` puts back
  anything an answer cell or a student's function replaced and says what it was.
* The **warden**, a ``sys.addaudithook`` hook installed once when ``autograder`` is imported
  (:func:`install_warden`). Audit hooks cannot be removed from Python, and the warden keeps its
  state (the snapshot, the references a call may not use, the signing key) in its closure only,
  so no student code can reach it. It

  - refuses to let anyone replace the code or defaults of a grader or ``nnkit`` function, turn a
    grader code object into a new function, or exec it outside the import system;
  - while a check runs, refuses stack-frame introspection (``sys._getframe``, tracebacks'
    ``tb_frame``, ``sys._current_frames``), tracing, ``gc`` and ``ctypes``: a student's function
    cannot walk up to the grader's frames and read the expected value;
  - tracks the references a student call may not use, for every thread, and catches calls
    into a reference's implementation by any other path: the unwrapped function, a copy of its
    code, a private helper behind it (each of these raises an audit event since
    :func:`_instrument` gave it a first statement), unless an allowed reference is using it;
  - in *grading mode* (switched on by the instructor's grader before the first cell of a
    submission runs, with a per-kernel key) also refuses new processes, sockets, signals,
    tracing, ``gc`` and ``ctypes`` for the whole notebook, and signs every passing check with
    the key. The grader outside the kernel counts a test cell only if it printed a valid
    signature (see :mod:`autograder.instructor.kernel_boot`), so a test cell that merely did
    not raise (a replaced ``check``, a removed test, a swallowed exception) earns nothing.

Grader code talks to the warden with ``sys.audit`` events. The functions that do embed
``sys.audit`` as a *constant* of their code (:func:`embed_audit`), so rebinding ``sys.audit``
or a module's ``sys`` cannot intercept them, and the warden checks which code object is calling.
"""

from __future__ import annotations

import builtins
import contextlib
import copy
import gc
import io
import os
import signal
import sys
import threading
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
_np_array = np.array
_np_asarray = np.asarray
_ndarray = np.ndarray
_np_generic = np.generic
_deepcopy = copy.deepcopy
_gc_collect = gc.collect
_catch_warnings = warnings.catch_warnings
_simplefilter = warnings.simplefilter

# Seed of NumPy's global random state during a student's call: a student who (wrongly) uses
# np.random still gets the same numbers every time they are graded.
_GLOBAL_SEED = 20240601
_MAX_PRINTED_LINES = 5

# A string constant in grader code that embed_audit() replaces with the real sys.audit.
AUDIT = "\x00autograder:sys.audit"

_AUTOGRADER_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_NNKIT_DIR = os.path.dirname(os.path.abspath(_guard.__file__)) + os.sep
PROTECTED_DIRS = (_AUTOGRADER_DIR, _NNKIT_DIR)


def _with_consts(code: types.CodeType, mapping: dict[str, Any]) -> types.CodeType:
    consts, changed = [], False
    for const in code.co_consts:
        new = const
        if isinstance(const, types.CodeType):
            new = _with_consts(const, mapping)
        elif type(const) is str and const in mapping:
            new = mapping[const]
        changed = changed or new is not const
        consts.append(new)
    return code.replace(co_consts=tuple(consts)) if changed else code


def embed_audit(fn: Any) -> Any:
    """Replace the string constant :data:`AUDIT` in ``fn``'s code with ``sys.audit``.

    A grader function writes ``audit = "\\x00autograder:sys.audit"`` and calls ``audit(...)``;
    after this its code holds the real ``sys.audit`` as a constant, which no student code can
    rebind (the warden refuses ``__code__`` changes of grader functions).
    """
    target = getattr(fn, "__wrapped__", fn)
    target.__code__ = _with_consts(target.__code__, {AUDIT: sys.audit})
    return fn


def _audit_box(event: str, *args: Any) -> list:
    audit = "\x00autograder:sys.audit"
    box: list = []
    audit(event, *args, box)
    return box


# --------------------------------------------------------------------------------------------
# Freezing a student's value into plain data


class Opaque:
    """Stands for a value of a type the grader does not compare (a student's own object)."""

    __slots__ = ("type_name",)

    def __init__(self, type_name: str):
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<{self.type_name} object>"


_PLAIN = (int, float, complex, str, bytes, bool, type(None))
_FREEZE_DEPTH = 12


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


# --------------------------------------------------------------------------------------------
# Calling the student


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


# --------------------------------------------------------------------------------------------
# Snapshot of the modules the grader relies on


def _is_builtin(value: Any) -> bool:
    return isinstance(value, (types.BuiltinFunctionType, type))


# builtins that IPython and ipykernel rebind themselves (input forwarding, exit, display)
_KERNEL_BUILTINS = frozenset({"input", "raw_input", "getpass", "exit", "quit", "help", "display"})


class Snapshot:
    """The attributes of some modules at one moment, and a way to put them back.

    The warden keeps its own immutable copy of this (taken by :func:`install_warden`) and
    restores from that; this object is only the list of what to remember.
    """

    def __init__(self) -> None:
        self._saved: list[tuple[Any, str, dict[str, Any]]] = []

    def add(self, module: Any, label: str | None = None, only=None) -> None:
        if any(m is module for m, _, _ in self._saved):
            return
        attrs = {
            k: v
            for k, v in vars(module).items()
            if not k.startswith("__")
            and (only is None or only(v))
            and not (module is builtins and k in _KERNEL_BUILTINS)
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

# Standard-library modules whose functions the grader calls while a check runs.
_STDLIB = (
    "contextlib",
    "copy",
    "dataclasses",
    "functools",
    "io",
    "math",
    "numbers",
    "operator",
    "zlib",
    "types",
)


def take_snapshot() -> None:
    """Remember numpy, nnkit, autograder, stdlib helpers and builtins (called at import)."""
    _SNAPSHOT.add(np, "numpy")
    _SNAPSHOT.add(numpy.testing, "numpy.testing")
    _SNAPSHOT.add(numpy.linalg, "numpy.linalg")
    _SNAPSHOT.add(np.random, "numpy.random")
    _SNAPSHOT.add(builtins, "builtins", only=_is_builtin)
    for name, module in sorted(sys.modules.items()):
        if module is None or not isinstance(module, types.ModuleType):
            continue
        if name == "nnkit" or (name.startswith("nnkit.") and "widgets" not in name):
            _SNAPSHOT.add(module, name)
        elif name == "autograder" or name.startswith("autograder."):
            _SNAPSHOT.add(module, name)
        elif name.startswith("numpy.") and not any(
            part in name
            for part in ("tests", "testing.", "f2py", "distutils", "typing", "_pyinstaller")
        ):
            _SNAPSHOT.add(module, name)
        elif name in _STDLIB:
            _SNAPSHOT.add(module, name)


_RESTORERS: list[Any] = []
_CODE: list[tuple[Any, Any, Any, Any]] = []
_OBJECTS: list[Any] = []


def add_restorer(restorer: Any) -> None:
    """Register ``restorer() -> list[str]`` to run with :func:`restore_tampered` (only until
    the warden is installed; after that the warden restores from its own copy)."""
    _RESTORERS.append(restorer)


def protect_objects(*objects: Any) -> None:
    """Remember the attributes (``vars``) of these objects, or the items of these dicts and
    lists, so that the warden restores them (the grading registry: specs, parts, mistakes)."""
    _OBJECTS.extend(objects)


_CLASSES: list[tuple[type, dict[str, Any]]] = []


def module_containers(depth: int = 3) -> list[Any]:
    """The exact dicts and lists held by ``autograder`` and ``nnkit`` modules (and the dicts and
    lists inside them, ``depth`` levels down): runners and references read them while a check
    runs, so their *contents* must be restored too, not only the module attribute."""
    internal = {id(x) for x in (_CODE, _OBJECTS, _CLASSES, _RESTORERS, _INSTALLED)}
    found: dict[int, Any] = {}

    def walk(value: Any, level: int) -> None:
        if type(value) not in (dict, list) or id(value) in found or id(value) in internal:
            return
        found[id(value)] = value
        if level < depth:
            for item in value.values() if type(value) is dict else value:
                walk(item, level + 1)

    for name, module in sorted(sys.modules.items()):
        if not isinstance(module, types.ModuleType) or "widgets" in name:
            continue
        if name.split(".")[0] in ("autograder", "nnkit"):
            for key, value in vars(module).items():
                if not key.startswith("__"):
                    walk(value, 1)
    return list(found.values())


def snapshot_class(cls: type) -> None:
    """Remember the methods and class attributes of one of the grader's classes."""
    if all(c is not cls for c, _ in _CLASSES):
        _CLASSES.append((cls, dict(vars(cls))))


def freeze_functions(functions: Any) -> None:
    """Remember the code and defaults of the grader's own functions (lambdas included).

    With the warden installed these cannot be changed at all; this is the fallback."""
    seen = {id(f) for f, *_ in _CODE}
    for fn in functions:
        if isinstance(fn, types.FunctionType) and id(fn) not in seen:
            seen.add(id(fn))
            _CODE.append((fn, fn.__code__, fn.__defaults__, fn.__kwdefaults__))


def restore_tampered() -> list[str]:
    """Put back every remembered attribute, grader class and registry entry that was
    replaced; return their names."""
    audit = "\x00autograder:sys.audit"
    box: list = []
    audit("autograder.restore", box)
    if box:
        return list(box[0])
    # no warden (installation failed or not done yet): the Python-level fallback
    changed = _SNAPSHOT.restore()
    for fn, code, defaults, _kwdefaults in _CODE:
        if fn.__code__ is not code or fn.__defaults__ is not defaults:
            fn.__code__, fn.__defaults__ = code, defaults
            changed.append(f"{fn.__module__}.{fn.__qualname__}")
    for restorer in _RESTORERS:
        changed += restorer()
    return changed


# --------------------------------------------------------------------------------------------
# The warden


class WardenError(RuntimeError):
    """Raised by the warden when student code does something grading does not allow."""


_INSTALLED: list[bool] = []


def _freeze_container(value: Any) -> Any:
    if type(value) is dict:
        return ("\x00dict", tuple(value.items()))
    if type(value) is list:
        return ("\x00list", tuple(value))
    return value


def _reference_registry() -> tuple[dict, dict, dict]:
    """(owner names of every reference implementation and helper function, wrapper code ->
    name, name -> wrapper) computed from nnkit's registry of references."""
    owners: dict[Any, set[str]] = {}
    wrappers: dict[types.CodeType, str] = {}
    by_name: dict[str, Any] = {}

    def cores(fn: Any, name: str, depth: int, seen: set) -> None:
        code = getattr(fn, "__code__", None)
        if not isinstance(code, types.CodeType) or code in seen or depth > 6:
            return
        seen.add(code)
        owners.setdefault(fn, set()).add(name)
        names: set[str] = set()
        stack = [code]
        while stack:
            c = stack.pop()
            names.update(c.co_names)
            stack.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
        g = getattr(fn, "__globals__", {})
        for n in names:
            value = g.get(n)
            candidates = []
            if isinstance(value, types.ModuleType) and value.__name__.startswith("nnkit"):
                candidates = [getattr(value, m, None) for m in names]
            else:
                candidates = [value]
            for cand in candidates:
                if (
                    isinstance(cand, types.FunctionType)
                    and cand.__module__.startswith("nnkit")
                    and cand.__module__ not in ("nnkit._checks", "nnkit._guard")
                    and not hasattr(cand, "__nnkit_reference__")
                ):
                    cores(cand, name, depth + 1, seen)

    for name, wrapper, raw in _guard.registered():
        by_name[name] = wrapper
        wrappers[wrapper.__code__] = name
        cores(raw, name, 0, set())
    return owners, wrappers, by_name


def _instrument(fn: types.FunctionType, tag: str) -> bool:
    """Give ``fn`` (an nnkit reference implementation or a helper behind one) a first statement
    that raises the audit event ``nnkit.core`` with ``tag``, in place (same function object, so
    every path to it is covered: the unwrapped function, a copy of its code, another thread).

    Its source is recompiled with the same file name and line numbers; ``sys.audit`` and the
    tag are constants of the new code. Returns False when the source is not available."""
    import ast
    import inspect
    import textwrap

    code = fn.__code__
    if code.co_freevars:
        return False
    try:
        lines, first = inspect.getsourcelines(fn)
    except (OSError, TypeError):
        return False
    tree = ast.parse(textwrap.dedent("".join(lines)))
    node = tree.body[0]
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or node.name != fn.__name__:
        return False
    probe = ast.parse('("\\x00autograder:sys.audit")("nnkit.core", "\\x00autograder:tag")').body[0]
    body = node.body
    docstring = (
        isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    )
    at = 1 if docstring else 0
    ast.copy_location(probe, body[0])
    ast.fix_missing_locations(probe)
    node.body = [*body[:at], probe, *body[at:]]
    node.decorator_list = []
    ast.increment_lineno(tree, first - 1)
    flags = code.co_flags & 0x1000000  # CO_FUTURE_ANNOTATIONS
    with _catch_warnings():
        _simplefilter("ignore")
        module_code = compile(tree, code.co_filename, "exec", flags=flags, dont_inherit=True)
    new = next(
        (
            c
            for c in module_code.co_consts
            if isinstance(c, types.CodeType) and c.co_name == fn.__name__
        ),
        None,
    )
    if new is None or (new.co_argcount, new.co_kwonlyargcount) != (
        code.co_argcount,
        code.co_kwonlyargcount,
    ):
        return False
    new = _with_consts(new, {AUDIT: sys.audit, "\x00autograder:tag": tag})
    if hasattr(code, "co_qualname"):
        new = new.replace(co_qualname=code.co_qualname)
    fn.__code__ = new
    return True


def _instrument_references() -> dict[str, frozenset]:
    """Instrument every reference implementation and its helpers; tag -> owner names."""
    owners, _, _ = _reference_registry()
    tags: dict[str, set[str]] = {}
    raws = {id(raw): name for name, _, raw in _guard.registered()}
    seen: set[int] = set()
    for fn, names in owners.items():
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        tag = f"{fn.__module__}.{fn.__qualname__}"
        if raws.get(id(fn)):
            tag = "raw:" + raws[id(fn)]
        if _instrument(fn, tag):
            tags.setdefault(tag, set()).update(names)
    return {k: frozenset(v) for k, v in tags.items()}


def install_warden(
    *, check_codes, sign_code, call_code, allow_code, seed_code=None, registry=()
) -> bool:
    """Install the audit hook (once per process). ``check_codes``: code objects allowed to
    open/close a check; ``sign_code``: the one allowed to ask for a signature; ``call_code``:
    :func:`call_student`'s; ``allow_code``: ``framework.allow_references``'s generator;
    ``seed_code``: ``framework.Context.__init__`` (asks for a hidden part's seed)."""
    if _INSTALLED:
        return False
    protect_objects(*registry)
    modules = tuple(
        (module, label, tuple(attrs.items()), frozenset(attrs))
        for module, label, attrs in _SNAPSHOT._saved
    )
    classes = tuple((cls, tuple(attrs.items()), frozenset(attrs)) for cls, attrs in _CLASSES)
    objects = []
    for obj in _OBJECTS:
        if type(obj) is dict:
            objects.append(("dict", obj, tuple(obj.items())))
        elif type(obj) is list:
            objects.append(("list", obj, tuple(obj)))
        elif hasattr(obj, "__dict__"):
            frozen = tuple((k, _freeze_container(v)) for k, v in vars(obj).items())
            objects.append(("vars", obj, frozen))
    _, wrappers, _ = _reference_registry()
    tags = _instrument_references()
    hook = _make_warden(
        modules=modules,
        classes=classes,
        objects=tuple(objects),
        check_codes=frozenset(check_codes),
        sign_code=sign_code,
        call_code=call_code,
        allow_code=allow_code,
        seed_code=seed_code,
        owners=tags,
        wrappers=dict(wrappers),
    )
    sys.addaudithook(hook)
    _INSTALLED.append(True)
    return True


def _make_warden(
    *,
    modules,
    classes,
    objects,
    check_codes,
    sign_code,
    call_code,
    allow_code,
    seed_code,
    owners,
    wrappers,
):
    """Build the audit hook. Everything it uses is bound here, in its closure (one closure
    on purpose: its state must not be reachable from outside)."""
    import _thread

    try:
        from _hashlib import hmac_digest as _hmac_digest
    except ImportError:  # pragma: no cover - Python without OpenSSL
        import hashlib

        _sha = hashlib.sha256

        def _hmac_digest(key, msg, _name):
            return _sha(key + b"\x1f" + msg).digest()

    get_ident = _thread.get_ident
    getframe = sys._getframe
    current_frames = sys._current_frames
    gc_disable, gc_enable, gc_isenabled = gc.disable, gc.enable, gc.isenabled
    isinstance_, type_, id_, len_, str_, bytes_ = isinstance, type, id, len, str, bytes
    frozenset_, tuple_, list_, sorted_ = frozenset, tuple, list, sorted
    getattr_, setattr_, vars_ = getattr, setattr, vars
    sys_module = sys
    obj_setattr, obj_delattr = object.__setattr__, object.__delattr__
    type_setattr, type_delattr = type.__setattr__, type.__delattr__
    function_type, code_type = types.FunctionType, types.CodeType
    open_ = io.open
    reference_error = _guard.ReferenceCallError
    warden_error = WardenError
    missing = object()
    protected_dirs = PROTECTED_DIRS
    nnkit_dir = _NNKIT_DIR
    autograder_dir = _AUTOGRADER_DIR
    builtin_names = frozenset_(vars_(builtins))
    builtins_module = builtins
    contextlib_file = contextlib.__file__
    main_ident = threading.main_thread().ident
    active_threads = threading._active  # the dict itself: threading mutates it in place
    library_modules = ("zmq.", "ipykernel.", "jupyter_client.", "tornado.", "comm.")
    library_prefixes = (
        *sorted_({os.path.join(p, "") for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}),
        "<frozen ",
    )
    exempt0 = frozenset_(i for i in current_frames() if i != main_ident)
    try:
        valid_signals = tuple_(signal.valid_signals())
        saved_handlers = tuple_((s, signal.getsignal(s)) for s in valid_signals)
    except Exception:  # pragma: no cover
        saved_handlers = ()
    signal_signal, getsignal = signal.signal, signal.getsignal
    setitimer, getitimer = getattr(signal, "setitimer", None), getattr(signal, "getitimer", None)
    timers = tuple_(
        getattr_(signal, n)
        for n in ("ITIMER_REAL", "ITIMER_VIRTUAL", "ITIMER_PROF")
        if hasattr(signal, n)
    )
    manifest_parts = tuple_(p for kind, _, items in objects if kind == "list" for p in items)

    from operator import is_not

    any_, map_ = any, map
    modules_fast = tuple_(
        (m, label, items, keys, tuple_(k for k, _ in items), tuple_(v for _, v in items))
        for m, label, items, keys in modules
    )
    classes_fast = tuple_(
        (c, items, keys, tuple_(k for k, _ in items), tuple_(v for _, v in items))
        for c, items, keys in classes
    )
    objects_fast, containers = [], []
    for kind, obj, items in objects:
        if kind == "dict":
            objects_fast.append(
                (kind, obj, items, tuple_(k for k, _ in items), tuple_(v for _, v in items))
            )
        elif kind == "list":
            objects_fast.append((kind, obj, items, (), ()))
        else:
            plain = []
            for k, v in items:
                if isinstance_(v, tuple_) and len_(v) == 2 and v[0] in ("\x00dict", "\x00list"):
                    original = vars_(obj)[k]
                    ikeys = tuple_(a for a, _ in v[1]) if v[0] == "\x00dict" else ()
                    ivalues = tuple_(b for _, b in v[1]) if v[0] == "\x00dict" else ()
                    containers.append((obj, k, v[0][1:], original, v[1], ikeys, ivalues))
                    plain.append((k, original))  # the container object itself
                else:
                    plain.append((k, v))
            plain = tuple_(plain)
            objects_fast.append(
                (kind, obj, plain, tuple_(k for k, _ in plain), tuple_(v for _, v in plain))
            )
    objects_fast, containers = tuple_(objects_fast), tuple_(containers)
    from itertools import chain

    dict_get = dict.get
    flat_dicts, flat_names, flat_values, flat_sized, flat_sizes = [], [], [], [], []
    for m, _label, _items, _keys, names, values in modules_fast:
        d = vars_(m)
        flat_dicts += [d] * len_(names)
        flat_names += names
        flat_values += values
        if m is not builtins_module:
            flat_sized.append(d)
            flat_sizes.append(len_(d))
    for kind, obj, items, names, values in objects_fast:
        if kind == "list":
            flat_sized.append(obj)
            flat_sizes.append(len_(items))
            continue
        d = obj if kind == "dict" else vars_(obj)
        flat_dicts += [d] * len_(names)
        flat_names += names
        flat_values += values
        flat_sized.append(d)
        flat_sizes.append(len_(d))
    list_objects = [obj for kind, obj, *_ in objects_fast if kind == "list"]
    container_lists = tuple_(
        [original for _o, _k, kind, original, *_ in containers if kind == "list"] + list_objects
    )
    container_items = tuple_(
        chain(
            *[items for _o, _k, kind, _orig, items, *_ in containers if kind == "list"],
            *[items for kind, _obj, items, *_ in objects_fast if kind == "list"],
        )
    )
    container_dicts, container_keys, container_values = [], [], []
    for _o, _k, kind, original, items, ikeys, ivalues in containers:
        if kind == "list":
            flat_sized.append(original)
            flat_sizes.append(len_(items))
        else:
            container_dicts += [original] * len_(ikeys)
            container_keys += ikeys
            container_values += ivalues
            flat_sized.append(original)
            flat_sizes.append(len_(items))
    flat_dicts, flat_names, flat_values = (
        tuple_(flat_dicts),
        tuple_(flat_names),
        tuple_(flat_values),
    )
    flat_sized = tuple_(flat_sized)
    container_dicts, container_keys = tuple_(container_dicts), tuple_(container_keys)
    container_values = tuple_(container_values)
    protected_modules = frozenset_(id_(m) for m, *_ in modules)
    module_types = tuple_((m, type_(m)) for m, *_ in modules)
    protected_classes = frozenset_(c for c, *_ in classes)
    type_specials = frozenset_({"__bases__", "__module__", "__name__", "__qualname__"})
    frame_attrs = frozenset_({"tb_frame", "gi_frame", "cr_frame", "ag_frame", "f_back"})
    introspection = frozenset_(
        {
            "sys._getframe",
            "sys._current_frames",
            "sys.settrace",
            "sys.setprofile",
            "gc.get_objects",
            "gc.get_referrers",
            "gc.get_referents",
            "sys.addaudithook",
        }
    )
    processes = frozenset_(
        {
            "os.fork",
            "os.forkpty",
            "os.posix_spawn",
            "os.spawn",
            "os.exec",
            "os.system",
            "subprocess.Popen",
            "os.kill",
            "os.killpg",
            "signal.pthread_kill",
            "sys.remote_exec",
        }
    )
    watched = (
        introspection
        | processes
        | frozenset_(
            {
                "object.__getattr__",
                "object.__setattr__",
                "object.__delattr__",
                "function.__new__",
                "code.__new__",
                "exec",
                "compile",
                "open",
            }
        )
    )

    st = {
        "busy": None,  # ident of the thread the warden itself is running in
        "checks": 0,  # open checks
        "stack": [],  # [kind, names, token, record] entries: "forbid" / "allow"
        "calls": 0,  # open student calls
        "gc": True,
        "key": None,
        "salt": b"",
        "grading": False,
        "exempt": exempt0,
        "threads": False,  # a foreign thread was seen during the current check
        "streams": (),  # the kernel's sys.stdout / sys.stderr (grading mode)
    }

    def protected_code(code):
        return isinstance_(code, code_type) and code.co_filename.startswith(protected_dirs)

    def protected_function(fn):
        return isinstance_(fn, function_type) and protected_code(fn.__code__)

    own: set = set()

    def caller():
        """The first frame outside the warden: the code that raised the audit event."""
        previous = st["busy"]
        st["busy"] = get_ident()
        try:
            f = getframe(1)
            while f is not None and f.f_code in own:
                f = f.f_back
            return f
        finally:
            st["busy"] = previous

    def caller_code():
        f = caller()
        return f.f_code if f is not None else None

    def trusted_caller():
        code = caller_code()
        return code is not None and protected_code(code)

    def forbidden_now():
        names = set()
        for entry in reversed(st["stack"]):
            if entry[0] == "allow":
                break
            names |= entry[1]
        return names

    def record(names, first_only=False):
        for entry in reversed(st["stack"]):
            if entry[0] == "forbid":
                if first_only and entry[3]:
                    return
                for n in names:
                    if n not in entry[3]:
                        entry[3].append(n)
                return

    def unchanged():
        """True when no remembered module, registry or class entry was rebound (C speed)."""
        if any_(map_(is_not, map_(dict_get, flat_dicts, flat_names), flat_values)):
            return False
        if list_(map_(len_, flat_sized)) != flat_sizes:
            return False
        if any_(map_(is_not, chain(*container_lists), container_items)):
            return False
        if any_(map_(is_not, map_(dict_get, container_dicts, container_keys), container_values)):
            return False
        for cls, _items, keys, names, values in classes_fast:
            d = vars_(cls)
            if len_(d) != len_(keys) or any_(map_(is_not, map_(d.get, names), values)):
                return False
        for module, kind in module_types:
            if type_(module) is not kind:
                return False
        return True

    def restore():
        if unchanged():
            return []
        changed = restore_module_types()
        for module, label, items, keys, names, values in modules_fast:
            d = vars_(module)
            # the common case (nothing replaced) is decided at C speed
            if any_(map_(is_not, map_(d.get, names), values)):
                for k, v in items:
                    if d.get(k, missing) is not v:
                        d[k] = v
                        changed.append(f"{label}.{k}")
            if module is not builtins_module and len_(d) != len_(keys):
                # a new module global shadowing a builtin (``len``, ``isinstance``) changes
                # every function of the module
                for k in (d.keys() - keys) & builtin_names:
                    if not k.startswith("__"):
                        del d[k]
                        changed.append(f"{label}.{k}")
        for cls, items, keys, names, values in classes_fast:
            d = vars_(cls)
            if len_(d) == len_(keys) and not any_(map_(is_not, map_(d.get, names), values)):
                continue
            for k, v in items:
                if d.get(k, missing) is not v:
                    try:
                        type_setattr(cls, k, v)
                    except (TypeError, AttributeError):
                        continue
                    changed.append(f"{cls.__module__}.{cls.__qualname__}.{k}")
            for k in list_(d.keys() - keys):
                try:
                    type_delattr(cls, k)
                except (TypeError, AttributeError):
                    continue
                changed.append(f"{cls.__module__}.{cls.__qualname__}.{k}")
        for kind, obj, items, names, values in objects_fast:
            if kind == "dict":
                if len_(obj) != len_(items) or any_(map_(is_not, map_(obj.get, names), values)):
                    obj.clear()
                    obj.update(items)
                    changed.append("the grading registry")
            elif kind == "list":
                if len_(obj) != len_(items) or any_(map_(is_not, obj, items)):
                    obj[:] = items
                    changed.append("the grading registry")
            else:
                d = vars_(obj)
                if len_(d) == len_(items) and not any_(map_(is_not, map_(d.get, names), values)):
                    continue  # nothing rebound; containers are checked below
                label = f"the grading spec {getattr_(obj, 'name', '')}"
                for k, v in items:
                    if d.get(k, missing) is not v:
                        obj_setattr(obj, k, v)
                        changed.append(label)
                for k in list_(d.keys() - set(names)):
                    obj_delattr(obj, k)
                    changed.append(label)
        for obj, k, kind, original, items, ikeys, ivalues in containers:
            cur = vars_(obj).get(k)
            if kind == "dict":
                ok = (
                    cur is original
                    and len_(cur) == len_(items)
                    and not any_(map_(is_not, map_(cur.get, ikeys), ivalues))
                )
            else:
                ok = (
                    cur is original
                    and len_(cur) == len_(items)
                    and not any_(map_(is_not, cur, items))
                )
            if not ok:
                # the original object, refilled: whoever holds it sees the restored items
                original.clear()
                if kind == "dict":
                    original.update(items)
                else:
                    original.extend(items)
                obj_setattr(obj, k, original)
                changed.append(f"the grading spec {getattr_(obj, 'name', '')}")
        return changed

    def restore_module_types():
        changed = []
        for module, kind in module_types:
            if type_(module) is not kind:
                obj_setattr(module, "__class__", kind)
                changed.append(f"{module.__name__}.__class__")
        return changed

    def reset_signals():
        if get_ident() != main_ident:
            return
        for s, handler in saved_handlers:
            try:
                if getsignal(s) is not handler:
                    signal_signal(s, handler)
            except (ValueError, OSError, TypeError):
                continue
        if setitimer is not None:
            for t in timers:
                try:
                    if getitimer(t) != (0.0, 0.0):
                        setitimer(t, 0)
                except (OSError, ValueError):
                    continue

    def library_thread(ident, frame):
        """A thread of the kernel's own libraries (pyzmq's garbage collector, ipykernel),
        running only library code, that no notebook code parametrised."""
        thread = active_threads.get(ident)
        cls = type_(thread)
        if thread is None or not cls.__module__.startswith(library_modules):
            return False
        run = getattr_(cls, "run", None)
        if "run" in vars_(thread) or not getattr_(run, "__module__", "").startswith(
            library_modules
        ):
            return False
        if getattr_(thread, "_target", None) is not None:
            return False
        while frame is not None:
            if not frame.f_code.co_filename.startswith(library_prefixes):
                return False
            frame = frame.f_back
        return True

    def foreign_threads():
        frames = current_frames()  # only called inside the protocol (busy)
        return sorted_(
            ident
            for ident, frame in frames.items()
            if ident not in st["exempt"]
            and ident != main_ident
            and not library_thread(ident, frame)
        )

    def deny(what):
        raise warden_error(f"{what} is not allowed while grading")

    def on_core(tag):
        names = owners.get(tag)
        if not names:
            return
        forb = forbidden_now()
        hit = names & forb
        if not hit:
            return
        f = caller()  # the instrumented function's own frame
        f = f.f_back if f is not None else None
        while f is not None:
            c = f.f_code
            if c in wrappers:
                if wrappers[c] not in forb:
                    return  # an allowed reference uses this helper
                break
            if not c.co_filename.startswith(nnkit_dir):
                break
            f = f.f_back
        if tag[:4] == "raw:" and tag[4:] in hit:
            record([tag[4:]])
        else:
            record(sorted_(hit), first_only=True)  # a helper behind the reference

    def hook(event, args):
        if event[:11] == "autograder." or event[:6] == "nnkit.":
            return protocol(event, args)
        if event not in watched and event[:7] != "ctypes." and event[:7] != "socket.":
            return
        ident = get_ident()
        if st["busy"] == ident:
            return
        checking = st["checks"] > 0 and ident not in st["exempt"]
        grading = st["grading"]
        if event == "object.__setattr__" or event == "object.__delattr__":
            obj, name = args[0], args[1]
            if isinstance_(obj, function_type):
                bad = protected_function(obj) or (
                    name == "__code__" and len_(args) > 2 and protected_code(args[2])
                )
                if bad and not trusted_caller():
                    deny(f"changing {name} of the grader's function {obj.__qualname__}")
            elif name == "__class__" and (
                id_(obj) in protected_modules or type_(obj) in protected_classes
            ):
                deny("changing the class of a grader object")
            elif name in type_specials and isinstance_(obj, type) and obj in protected_classes:
                deny(f"changing {name} of the grader's class {obj.__qualname__}")
            return
        if event == "function.__new__":
            if protected_code(args[0]) and not trusted_caller():
                deny("making a new function from grader or nnkit code")
            return
        if event == "object.__getattr__":
            if checking and len_(args) > 1 and args[1] in frame_attrs:
                deny("inspecting stack frames")
            return
        if event in introspection:
            if event == "sys.addaudithook":
                deny("adding an audit hook")
            if checking:
                deny(event)
            if grading and event not in ("sys._getframe",):
                deny(event)
            return
        if event[:7] == "ctypes.":
            if checking or grading:
                deny("ctypes")
            return
        if not grading:
            return
        if event in processes:
            deny(f"{event} (starting processes or sending signals)")
        if event[:7] == "socket.":
            deny("network access")
        if event == "code.__new__":
            if not trusted_caller():
                deny("building code objects")
            return
        if event == "exec":
            code = args[0] if args else None
            if protected_code(code):
                f = caller()
                name = f.f_code.co_filename if f is not None else ""
                if not name.startswith("<frozen importlib"):
                    deny("running the grader's code objects")
            return
        if event == "compile":
            filename = args[1] if len_(args) > 1 else None
            if isinstance_(filename, (str_, bytes_)):
                filename = filename.decode() if isinstance_(filename, bytes_) else filename
                if filename.startswith(protected_dirs + library_prefixes[:-1]):
                    source = args[0]
                    st["busy"] = ident
                    try:
                        with open_(filename, "rb") as fh:
                            disk = fh.read()
                    except OSError:
                        disk = None
                    finally:
                        st["busy"] = None  # events of this thread are not the warden's now
                    if isinstance_(source, str_):
                        source = source.encode("utf-8")
                    if source != disk:
                        deny("compiling code under the grader's file names")
            return
        if event == "open":
            path = args[0]
            if isinstance_(path, bytes_):
                path = path.decode(errors="replace")
            if (
                isinstance_(path, str_)
                and path.startswith("/proc/")
                and path.endswith(("/mem", "/environ"))
            ):
                deny("reading or writing process memory")
            return

    def protocol(event, args):
        ident = get_ident()
        previous = st["busy"]
        st["busy"] = ident
        try:
            return dispatch(event, args, ident)
        finally:
            st["busy"] = previous

    def dispatch(event, args, ident):
        if event == "nnkit.reference":
            name = args[0]
            if st["stack"] and name in forbidden_now():
                record([name])
                raise reference_error(
                    f"nnkit.{name} is the reference for the function you are writing; "
                    "implement it yourself instead of calling it."
                )
            return
        if event == "nnkit.core":
            if st["stack"]:
                on_core(args[0])
            return
        if event == "autograder.restore":
            args[-1].append(restore())
            return
        code = caller_code()
        box = args[-1] if args and isinstance_(args[-1], list_) else None
        if event == "autograder.call.begin":
            if code is not call_code:
                deny("opening a grading call")
            token = object()
            st["stack"].append(("forbid", frozenset_(args[0]), token, []))
            st["calls"] += 1
            box.append(token)
            return
        if event == "autograder.call.end":
            if code is not call_code:
                deny("closing a grading call")
            token = args[0]
            calls = []
            while st["stack"]:
                entry = st["stack"].pop()
                if entry[0] == "forbid":
                    calls.extend(entry[3])
                if entry[2] is token:
                    break
            st["calls"] = max(0, st["calls"] - 1)
            reset_signals()  # an alarm set by the student's function dies with the call
            if st["checks"]:
                gc_disable()  # no finaliser of a student's object runs between grader steps
                if st["grading"] and foreign_threads():
                    st["threads"] = True  # one left running could change the grader later
            box.append({"calls": calls, "tampered": restore()})
            return
        if event == "autograder.allow.begin":
            if code is not allow_code:
                deny("lifting the reference ban")
            f = caller()
            f = f.f_back if f is not None else None
            while f is not None and f.f_code.co_filename == contextlib_file:
                f = f.f_back
            if f is None or not f.f_code.co_filename.startswith(autograder_dir):
                deny("lifting the reference ban from outside the grader")
            token = object()
            st["stack"].append(("allow", frozenset_(), token, []))
            box.append(token)
            return
        if event == "autograder.allow.end":
            if code is not allow_code:
                deny("closing an allow block")
            token = args[0]
            while st["stack"]:
                entry = st["stack"].pop()
                if entry[2] is token:
                    break
            return
        if event == "autograder.check.begin":
            if code not in check_codes:
                deny("opening a check")
            st["checks"] += 1
            changed = []
            if st["checks"] == 1:
                st["gc"] = gc_isenabled()
                gc_disable()
                reset_signals()
                st["threads"] = bool(st["grading"] and foreign_threads())
                for name, stream in st["streams"]:
                    # a passing check must reach the notebook's output to be counted
                    if getattr_(sys_module, name) is not stream:
                        setattr_(sys_module, name, stream)
                        changed.append(f"sys.{name}")
            box.append(changed + restore())
            return
        if event == "autograder.check.end":
            if code not in check_codes:
                deny("closing a check")
            st["checks"] = max(0, st["checks"] - 1)
            if st["checks"] == 0 and st["gc"]:
                gc_enable()
            return
        if event == "autograder.sign":
            f = caller()
            if f is None or f.f_code is not sign_code:
                deny("asking for a signature")
            if not st["grading"]:
                box.append((None, "not grading"))
                return
            loc = f.f_locals
            part = loc.get("found")
            reason = None
            if loc.get("ok") is not True:
                reason = "the part did not pass"
            elif not any(part is p for p in manifest_parts):
                reason = "the part is not one of the course's"
            elif st["checks"] != 1 or st["calls"] != 0 or st["stack"]:
                reason = "the check was not run by the notebook's test cell"
            elif st["threads"] or foreign_threads():
                reason = (
                    "background threads started by the notebook were running during the "
                    "check; stop them (or do not start threads) and grade again"
                )
            if reason is not None:
                box.append((None, reason))
                return
            msg = f"{part.lesson}\x1f{part.function}\x1f{part.part}".encode()
            box.append((_hmac_digest(st["key"], msg, "sha256").hex()[:24], None))
            return
        if event == "autograder.grading":
            key, salt = args[0], args[1]
            if st["key"] is not None:
                box.append(False)
                return
            if not isinstance_(key, bytes_) or len_(key) < 16 or not isinstance_(salt, bytes_):
                box.append(False)
                return
            st["key"] = bytes_(key)
            st["salt"] = bytes_(salt)
            st["grading"] = True
            st["streams"] = (("stdout", sys_module.stdout), ("stderr", sys_module.stderr))
            st["exempt"] = frozenset_(i for i in current_frames() if i != main_ident)
            box.append(True)
            return
        if event == "autograder.seed":
            # the seed of a hidden part, salted in grading mode with the course's secret, so
            # that its inputs cannot be generated (and their answers looked up) in advance
            base, part = args[0], args[1]
            genuine = (
                code is seed_code
                and st["checks"] == 1
                and st["calls"] == 0
                and any(part is p for p in manifest_parts)
            )
            # anything else (a Context made outside a check, by a test or by a notebook)
            # gets the plain seed, which is not the one grading uses
            if genuine and st["grading"] and st["salt"] and part.hidden:
                digest = _hmac_digest(st["salt"], str_(base).encode(), "sha256")
                box.append(int.from_bytes(digest[:8], "little"))
            else:
                box.append(None)
            return
        if event == "autograder.status":
            box.append(
                {
                    "grading": st["grading"],
                    "checks": st["checks"],
                    "calls": st["calls"],
                    "forbidden": sorted_(forbidden_now()),
                }
            )
            return

    for fn in (
        hook,
        protocol,
        dispatch,
        caller,
        caller_code,
        trusted_caller,
        on_core,
        deny,
        restore,
        restore_module_types,
        reset_signals,
        foreign_threads,
        forbidden_now,
        record,
        protected_code,
        protected_function,
    ):
        own.add(fn.__code__)
    return hook


def warden_status() -> dict | None:
    """The warden's state (for tests and diagnostics), or ``None`` when it is not installed."""
    box = _audit_box("autograder.status")
    return box[0] if box else None


def enter_grading_mode(key: bytes, salt: bytes = b"") -> bool:
    """Switch the warden to grading mode with the signing ``key`` and the hidden parts' seed
    ``salt`` (once per process; later calls fail)."""
    box = _audit_box("autograder.grading", key, salt)
    return bool(box and box[0])


for _fn in (call_student, restore_tampered, _audit_box):
    embed_audit(_fn)
del _fn

"""What the grader remembers before any student code runs, and the fallback restore.

When ``autograder`` is imported (before any answer cell runs), the grader lists here what it
relies on: the modules it calls (numpy and its submodules, nnkit, autograder, a few standard
library modules, builtins), its own classes and functions, and the grading registry (specs,
parts, mistakes, every module-level dict and list of ``autograder`` and ``nnkit``).
:func:`immutable_copy` turns these lists into the tuples the warden keeps in its closure and
restores from (:mod:`autograder.sandbox.restoring`); after that, these lists are only the
fallback of :func:`restore_tampered` in a process without the warden, and changing them changes
nothing the warden does.
"""

from __future__ import annotations

import builtins
import sys
import types
from typing import Any

import numpy as np
import numpy.linalg
import numpy.testing

from .audit import embed_audit


def _is_builtin(value: Any) -> bool:
    return isinstance(value, (types.BuiltinFunctionType, type))


# builtins that IPython and ipykernel rebind themselves (input forwarding, exit, display)
_KERNEL_BUILTINS = frozenset({"input", "raw_input", "getpass", "exit", "quit", "help", "display"})


class Snapshot:
    """The attributes of some modules at one moment, and a way to put them back.

    The warden keeps its own immutable copy of this (taken by :func:`immutable_copy` when it is
    installed) and restores from that; this object is only the list of what to remember.
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

# Lists that grow after the snapshot is taken (so they are not part of it).
_RESTORERS: list[Any] = []
_CODE: list[tuple[Any, Any, Any, Any]] = []
_OBJECTS: list[Any] = []
_CLASSES: list[tuple[type, dict[str, Any]]] = []
_INSTALLED: list[bool] = []


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


def add_restorer(restorer: Any) -> None:
    """Register ``restorer() -> list[str]`` to run with :func:`restore_tampered` (only until
    the warden is installed; after that the warden restores from its own copy)."""
    _RESTORERS.append(restorer)


def protect_objects(*objects: Any) -> None:
    """Remember the attributes (``vars``) of these objects, or the items of these dicts and
    lists, so that the warden restores them (the grading registry: specs, parts, mistakes)."""
    _OBJECTS.extend(objects)


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


def _freeze_container(value: Any) -> Any:
    if type(value) is dict:
        return ("\x00dict", tuple(value.items()))
    if type(value) is list:
        return ("\x00list", tuple(value))
    return value


def immutable_copy() -> tuple[tuple, tuple, tuple]:
    """``(modules, classes, objects)``: the remembered state as tuples, for the warden.

    Returns
    -------
    modules : tuple of (module, label, ((name, value), ...), frozenset of names)
    classes : tuple of (class, ((name, value), ...), frozenset of names)
    objects : tuple of (kind, object, items)
        ``kind`` is ``"dict"`` or ``"list"`` (items: the dict's pairs or the list's items) or
        ``"vars"`` (items: the ``(name, value)`` pairs of the object's attributes, a dict or
        list value written as ``("\\x00dict", pairs)`` / ``("\\x00list", items)``).
    """
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
    return modules, classes, tuple(objects)


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


embed_audit(restore_tampered)

"""Finding every implementation behind a graded reference, and making each one announce itself.

A student's function may not call the reference it reimplements (``nnkit.softmax`` while
writing ``softmax``). The guard wrapper (``nnkit._guard.reference``) catches the direct call;
the other paths to the same code are the unwrapped function, a copy of its code, or a private
helper behind it (``functional.tanh_forward`` behind ``nnkit.tanh``). :func:`instrument_references`
gives each of these functions a first statement that raises the audit event ``nnkit.core``
with a tag; the warden maps the tag back to the references it belongs to
(:mod:`autograder.sandbox.tracking`).
"""

from __future__ import annotations

import ast
import inspect
import sys
import textwrap
import types
import warnings
from typing import Any

from nnkit import _guard

from .audit import AUDIT, with_consts

_TAG = "\x00autograder:tag"


def reference_registry() -> tuple[dict, dict, dict]:
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


def instrument(fn: types.FunctionType, tag: str) -> bool:
    """Give ``fn`` (an nnkit reference implementation or a helper behind one) a first statement
    that raises the audit event ``nnkit.core`` with ``tag``, in place (same function object, so
    every path to it is covered: the unwrapped function, a copy of its code, another thread).

    Its source is recompiled with the same file name and line numbers; ``sys.audit`` and the
    tag are constants of the new code. Returns False when the source is not available."""
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
    probe = ast.parse(f"({AUDIT!r})('nnkit.core', {_TAG!r})").body[0]
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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
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
    new = with_consts(new, {AUDIT: sys.audit, _TAG: tag})
    if hasattr(code, "co_qualname"):
        new = new.replace(co_qualname=code.co_qualname)
    fn.__code__ = new
    return True


def instrument_references() -> dict[str, frozenset]:
    """Instrument every reference implementation and its helpers; tag -> owner names.

    A reference's own implementation gets the tag ``"raw:<name>"``, a helper behind one or more
    references its qualified name."""
    owners, _, _ = reference_registry()
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
        if instrument(fn, tag):
            tags.setdefault(tag, set()).update(names)
    return {k: frozenset(v) for k, v in tags.items()}

"""Marks reference functions so the grader can tell when an answer calls the reference it replaces.

Every graded function in ``nnkit`` is wrapped with :func:`reference`. While the grader runs a
student's function inside :func:`forbid`, a call to one of the forbidden references raises
:class:`ReferenceCallError` *and* is recorded, so catching the error does not hide the call.

Two layers, so that nnkit works on its own and the grader cannot be talked out of it:

* without the grader, :func:`forbid` keeps the forbidden names in a context variable;
* with the grader (``autograder`` imported), every call of a reference also raises the audit
  event ``nnkit.reference`` with its name. The grader's audit hook knows, for every thread,
  which names the running student call may not use, and cannot be switched off from Python.
  The wrapper's code holds ``sys.audit`` and its own name as constants (see :func:`_make`), so
  rebinding a module global or a closure cell changes nothing.

The wrapped function is not handed out (no ``__wrapped__``); the grader also watches, during a
student call, for calls of its code by any other path (see :func:`registered`). What
``inspect.signature``, ``help()`` and JupyterLab's tooltip show is the wrapped function's
signature, given to the wrapper as ``__signature__``: a :class:`inspect.Signature` holds the
parameters' names, kinds, defaults and annotations, never the function itself.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

F = TypeVar("F", bound=Callable)

_forbidden: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar(
    "nnkit_forbidden", default=frozenset()
)
_calls: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "nnkit_forbidden_calls", default=None
)

_AUDIT = "\x00nnkit:sys.audit"
_NAME = "\x00nnkit:name"
_REGISTRY: list[tuple[str, Callable, Callable]] = []


class ReferenceCallError(RuntimeError):
    """Raised when an answer calls the ``nnkit`` reference of the function it should implement."""


def _template(func):
    def wrapper(*args, **kwargs):
        audit = "\x00nnkit:sys.audit"
        name = "\x00nnkit:name"
        audit("nnkit.reference", name)
        if name in _forbidden.get():
            record = _calls.get()
            if record is not None:
                record.append(name)
            raise ReferenceCallError(
                f"nnkit.{name} is the reference for the function you are writing; "
                "implement it yourself instead of calling it."
            )
        return func(*args, **kwargs)

    return wrapper


def _make(func: Callable, name: str) -> Callable:
    wrapper = _template(func)
    consts = tuple(
        sys.audit if c == _AUDIT else name if c == _NAME else c for c in wrapper.__code__.co_consts
    )
    wrapper.__code__ = wrapper.__code__.replace(co_consts=consts)
    return wrapper


def reference(func: F) -> F:
    """Wrap a graded reference function so :func:`forbid` can detect calls to it."""
    name = func.__name__
    wrapper = _make(func, name)
    functools.update_wrapper(wrapper, func)
    del wrapper.__wrapped__  # do not hand out an unguarded path to the reference
    wrapper.__signature__ = inspect.signature(func)  # the real signature, without the function
    wrapper.__nnkit_reference__ = name
    _REGISTRY.append((name, wrapper, func))
    return wrapper  # type: ignore[return-value]


def registered() -> list[tuple[str, Callable, Callable]]:
    """Every ``(name, wrapper, wrapped function)`` decorated so far (read once by the grader)."""
    return list(_REGISTRY)


@contextmanager
def forbid(*names: str) -> Iterator[list[str]]:
    """Forbid calls to the named references inside the block; yields the list of calls made."""
    record: list[str] = []
    token_names = _forbidden.set(_forbidden.get() | frozenset(names))
    token_calls = _calls.set(record)
    try:
        yield record
    finally:
        _forbidden.reset(token_names)
        _calls.reset(token_calls)

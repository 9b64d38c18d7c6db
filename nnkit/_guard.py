"""Marks reference functions so the grader can tell when an answer calls the reference it replaces.

Every graded function in ``nnkit`` is wrapped with :func:`reference`. While the grader runs a
student's function inside :func:`forbid`, a call to one of the forbidden references raises
:class:`ReferenceCallError` *and* is recorded, so catching the error does not hide the call.
"""

from __future__ import annotations

import contextvars
import functools
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


class ReferenceCallError(RuntimeError):
    """Raised when an answer calls the ``nnkit`` reference of the function it should implement."""


def reference(func: F) -> F:
    """Wrap a graded reference function so :func:`forbid` can detect calls to it."""
    name = func.__name__

    def wrapper(*args, **kwargs):
        if name in _forbidden.get():
            record = _calls.get()
            if record is not None:
                record.append(name)
            raise ReferenceCallError(
                f"nnkit.{name} is the reference for the function you are writing; "
                "implement it yourself instead of calling it."
            )
        return func(*args, **kwargs)

    functools.update_wrapper(wrapper, func)
    del wrapper.__wrapped__  # do not hand out an unguarded path to the reference
    wrapper.__nnkit_reference__ = name
    return wrapper  # type: ignore[return-value]


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

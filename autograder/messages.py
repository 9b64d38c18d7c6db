"""How the grader shows values to a student: small arrays, named parts, a worked example.

:func:`_worked_example` is printed under a failing *visible* case marked ``show=True`` (never
in a hidden part): the case's inputs, labelled with the argument names the student's function
uses, then the expected output and the student's, part by part (``dx``, ``grads['W1']``, ...).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .registry import Case, FunctionSpec

_array2string = np.array2string


def _small(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_small(v) for v in value) + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_small(v)}" for k, v in value.items()) + "}"
    if callable(value) and hasattr(value, "__name__"):
        return value.__name__.lstrip("_")  # the grader's _tanh is the student's tanh
    try:
        return _array2string(np.asarray(value), precision=4, suppress_small=True, separator=", ")
    except Exception:
        return repr(value)[:200]


def _show(name: str, value: Any, indent: str) -> str:
    """``name = value``, continuation lines aligned under the value's first character."""
    text = _small(value)
    lead = f"{name} = " if name else ""
    return indent + lead + text.replace("\n", "\n" + indent + " " * len(lead))


def _named_parts(value: Any, names: tuple[str, ...]) -> list[tuple[str, Any]]:
    """A value's parts with the names a student knows: ``dx``, ``grads['W1']``, ..."""
    if isinstance(value, (tuple, list)) and names and len(value) == len(names):
        parts = []
        for name, item in zip(names, value, strict=True):
            name = name.split(" (")[0]
            if isinstance(item, dict):
                parts += [(f"{name}[{k!r}]", v) for k, v in item.items()]
            else:
                parts.append((name, item))
        return parts
    if isinstance(value, dict):
        return [(f"[{k!r}]", v) for k, v in value.items()]
    return [("", value)]


def _worked_example(
    case: Case, spec: FunctionSpec, expected: Any, got: Any, names: tuple[str, ...], where: str
) -> str:
    """The inputs of a small visible case, labelled as the student's function calls them,
    then the expected and the student's output, part by part."""
    indent = "      "
    arg_names = spec.arg_names if len(spec.arg_names) == len(case.args) else ()
    inputs = [
        _show(arg_names[i] if arg_names else f"input {i + 1}", arg, indent)
        for i, arg in enumerate(case.args)
    ] + [_show(k, v, indent) for k, v in case.kwargs.items()]
    single = where.split(" (")[0] if where != "your output" else ""
    shown = {}
    for title, value in (("expected", expected), ("yours", got)):
        parts = _named_parts(value, names)
        if len(parts) == 1 and not parts[0][0]:
            parts = [(single, parts[0][1])]
        shown[title] = "\n".join(_show(name, v, indent) for name, v in parts)
    return (
        "Worked example, the inputs:\n"
        + "\n".join(inputs)
        + "\n    expected:\n"
        + shown["expected"]
        + "\n    yours:\n"
        + shown["yours"]
    )

"""Is every property that costs points stated in the exercise the student sees?

For every graded part of every lesson (hidden ones included), the instructor's correct answer
is wrapped so that it breaks exactly one property and nothing else: it returns float64 for
float32 input, changes its array arguments in place, ignores its ``rng``, or returns arrays
of another shape. When the part then fails, for that reason, the part charges for the
property, and the docstring of that function in the released answer cell must state it.
The registry's own declarations (specs with ``keep_float32`` and float32 cases, ``arg_names``
watched for mutation, an ``rng`` argument) are checked to agree, so that the wrappers do not
miss what the registry says is graded.
"""

from __future__ import annotations

import ast
import functools
import inspect
import re

import numpy as np
import pytest
from lesson_helpers import (
    LESSONS,
    cell_source,
    nbgrader_meta,
    notebook_path,
    read_nb,
    solution_functions,
)

from autograder import framework


def _arrays(value):
    if isinstance(value, np.ndarray):
        yield value
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _arrays(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _arrays(v)


def _map_arrays(value, fn):
    if isinstance(value, np.ndarray):
        return fn(value)
    if isinstance(value, tuple):
        return tuple(_map_arrays(v, fn) for v in value)
    if isinstance(value, list):
        return [_map_arrays(v, fn) for v in value]
    if isinstance(value, dict):
        return {k: _map_arrays(v, fn) for k, v in value.items()}
    if isinstance(value, np.float32):
        return fn(np.asarray(value))[()]
    return value


def _float64(fn):
    """float64 wherever the answer returned float32."""

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        out = fn(*args, **kwargs)
        return _map_arrays(out, lambda a: a.astype(np.float64) if a.dtype == np.float32 else a)

    return wrapped


def _mutating(fn):
    """Adds 1 to every float array argument after computing the (correct) result."""

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        out = fn(*args, **kwargs)
        for a in _arrays((args, kwargs)):
            if a.dtype.kind == "f" and a.size and a.flags.writeable:
                a += 1.0
        return out

    return wrapped


def _ignoring_rng(fn):
    """Draws from a fresh, unseeded generator instead of the ``rng`` it is given."""

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        bound = inspect.signature(fn).bind(*args, **kwargs)
        bound.arguments["rng"] = np.random.default_rng()
        return fn(*bound.args, **bound.kwargs)

    return wrapped


def _reshaped(fn):
    """Every returned array with an extra leading axis of length 1."""

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        return _map_arrays(fn(*args, **kwargs), lambda a: a[np.newaxis])

    return wrapped


# property: (wrapper, words of the failure it must cause, how the docstring states it)
PROPERTIES = {
    "dtype": (_float64, r"float64|dtype", r"float32|\bdtype\b"),
    "inputs unchanged": (
        _mutating,
        r"in place|changed its input|original value",
        r"\bnot\b[^.]*\bmodif|\bnever\b[^.]*\bmodif|must not change|original values",
    ),
    "rng": (_ignoring_rng, r"\brng\b|seed", r"only source of randomness"),
    "shape": (_reshaped, r"shape", r"\bshape\b"),
}


def _docstrings(lesson: str) -> dict[str, str]:
    """Each graded function's docstring, from the answer cells of the released lesson."""
    docs = {}
    for cell in read_nb(notebook_path("lessons", lesson))["cells"]:
        if nbgrader_meta(cell).get("solution"):
            for node in ast.parse(cell_source(cell)).body:
                if isinstance(node, ast.FunctionDef):
                    docs[node.name] = ast.get_docstring(node) or ""
    return docs


def _charged(lesson: str) -> dict[tuple[str, str], list[str]]:
    """``{(function, property): [parts that cost points for it]}``."""
    ns = solution_functions(lesson)
    charged: dict[tuple[str, str], list[str]] = {}
    for part in framework.manifest(lesson):
        spec = framework.SPECS[part.function]
        fn = ns[part.function]
        companions = tuple(ns[c] for c in spec.companions)
        ok, message, _ = framework._run_part(part, fn, companions)
        assert ok, f"the solution fails {part.grade_id}: {message}"
        for name, (wrap, failure, _) in PROPERTIES.items():
            if name == "rng" and "rng" not in inspect.signature(fn).parameters:
                continue
            ok, message, _ = framework._run_part(part, wrap(fn), companions)
            if not ok and re.search(failure, message):
                charged.setdefault((part.function, name), []).append(part.part)
    return charged


charged = functools.cache(_charged)  # one walk of every case per lesson


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_property_that_costs_points_is_stated(lesson):
    """Does the docstring of each graded function state every property one of its parts
    takes points for (dtype, inputs left unchanged, rng, shapes)?"""
    docs = _docstrings(lesson)
    unstated = [
        f"{function}: {name} (costs points in part {', '.join(parts)})"
        for (function, name), parts in charged(lesson).items()
        if not re.search(PROPERTIES[name][2], docs.get(function, ""), flags=re.IGNORECASE)
    ]
    assert not unstated, f"{lesson}: charged but never stated:\n" + "\n".join(unstated)


@pytest.mark.parametrize("lesson", LESSONS)
def test_the_wrappers_see_what_the_registry_grades(lesson):
    """Where the registry itself says a part grades a property (float32 cases of a spec that
    keeps float32, watched array arguments, an rng argument), do the wrappers find it charged?
    Otherwise the test above could pass by missing a property."""
    found = charged(lesson)
    for part in framework.manifest(lesson):
        spec = framework.SPECS[part.function]
        if part.part in spec.cases and spec.keep_float32:
            cases = spec.cases[part.part](np.random.default_rng(0))
            if any(a.dtype == np.float32 for c in cases for a in _arrays(c.args)):
                assert part.part in found.get((part.function, "dtype"), []), part.grade_id
        if part.part in spec.cases:
            cases = spec.cases[part.part](np.random.default_rng(0))
            if any(a.dtype.kind == "f" for c in cases for a in _arrays(c.args)):
                assert part.part in found.get((part.function, "inputs unchanged"), []), (
                    part.grade_id
                )
        if "rng" in spec.arg_names:
            assert (part.function, "rng") in found, part.function


def test_every_property_costs_points_somewhere():
    """Non-vacuity: each of the four properties is charged by some part of some lesson."""
    names = {name for lesson in LESSONS for _, name in charged(lesson)}
    assert names == set(PROPERTIES)


def test_a_statement_is_needed_for_each_property():
    """The reader itself: a docstring without the words is caught, one with them is not."""
    plain = "Softmax over the last axis.\n\nReturns\n-------\nndarray"
    stated = (
        "Returns an ndarray of the same shape; float32 input gives float32 output. The input is "
        "not modified. rng is the only source of randomness."
    )
    for name, (_, _, words) in PROPERTIES.items():
        assert not re.search(words, plain, flags=re.IGNORECASE), name
        assert re.search(words, stated, flags=re.IGNORECASE), name


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_nnkit_function_an_exercise_may_not_call_is_named_in_its_answer_cell(lesson):
    """A call of a forbidden nnkit function costs a part's points (the message says so only
    afterwards): is every such function named in the released answer cell, before the student
    writes a line?"""
    nb = read_nb(notebook_path("lessons", lesson))
    answers = {
        nbgrader_meta(c)["grade_id"]: cell_source(c)
        for c in nb["cells"]
        if nbgrader_meta(c).get("solution")
    }
    unnamed = []
    for spec in framework.SPECS.values():
        if not any(p.function == spec.name for p in framework.manifest(lesson)):
            continue
        source = answers.get(spec.concept, "")
        comment = " ".join(line for line in source.splitlines() if line.startswith("#"))
        unnamed += [
            f"{spec.concept}: {name}"
            for name in spec.forbid
            if not re.search(rf"\b{re.escape(name)}\b", comment)
        ]
    assert not unnamed, f"{lesson}: forbidden but not named in the answer cell:\n" + "\n".join(
        unnamed
    )

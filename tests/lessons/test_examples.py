"""Does every exercise show, before the student runs anything, a worked example whose printed
values are what the course's reference returns?

Each example is a markdown cell of the released notebook: a ``python`` block whose bare
expressions are followed by their expected value as ``# → ...`` comments. This test reads the
block as a student sees it, runs its lines itself with each graded function bound to its
nnkit reference, and compares every value with the printed one (to the 4 decimals shown).
A correct answer must reproduce them too (the instructor's solution does), unless the example
says its values may differ (random draws).
"""

from __future__ import annotations

import ast
import math
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

import nnkit
from autograder import framework

HEADING = "**Example.**"
MAY_DIFFER = "may differ"


def _examples(lesson: str) -> list[tuple[int, str]]:
    """``(cell index, markdown)`` of each worked example of the released lesson."""
    cells = read_nb(notebook_path("lessons", lesson))["cells"]
    return [
        (i, cell_source(c))
        for i, c in enumerate(cells)
        if c["cell_type"] == "markdown" and cell_source(c).startswith(HEADING)
    ]


def _steps(markdown: str) -> list[tuple[str, str]]:
    """``(code, expected)`` pairs: the lines since the previous value, and the value printed
    under them (its ``# → `` line and the ``#   `` lines continuing it)."""
    block = re.search(r"```python\n(.*?)\n```", markdown, flags=re.DOTALL)
    assert block, markdown
    steps, code, expected = [], [], None
    for line in block.group(1).splitlines():
        if line.startswith("# → "):
            expected = [line[4:]]
            steps.append(("\n".join(code), expected))
            code = []
        elif expected is not None and line.startswith("#   ") and not code:
            expected.append(line[4:])
        else:
            code.append(line)
            expected = None
    assert not "".join(code).strip(), f"lines without a value at the end: {code}"
    return [(c, "\n".join(e)) for c, e in steps]


def _value(code: str, namespace: dict):
    """Run ``code``; its last statement must be an expression: return its value."""
    tree = ast.parse(code)
    assert tree.body and isinstance(tree.body[-1], ast.Expr), f"no expression last in:\n{code}"
    exec(compile(ast.Module(tree.body[:-1], type_ignores=[]), "<example>", "exec"), namespace)
    return eval(compile(ast.Expression(tree.body[-1].value), "<example>", "eval"), namespace)


def _printed(text: str):
    return eval(text, {"__builtins__": {}, "nan": math.nan, "inf": math.inf})


def _same(actual, printed) -> bool:
    """Is ``actual`` what ``printed`` shows (numbers to the 4 decimals printed)?"""
    if isinstance(printed, str):
        return actual == printed
    if isinstance(printed, dict):
        return (
            isinstance(actual, dict)
            and list(actual) == list(printed)
            and all(_same(actual[k], printed[k]) for k in printed)
        )
    if isinstance(printed, tuple) and not isinstance(actual, np.ndarray):
        return (
            isinstance(actual, tuple)
            and len(actual) == len(printed)
            and all(_same(a, p) for a, p in zip(actual, printed, strict=True))
        )
    got, shown = np.asarray(actual, dtype=float), np.asarray(printed, dtype=float)
    return got.shape == shown.shape and bool(
        np.allclose(got, shown, rtol=1e-9, atol=5.1e-5, equal_nan=True)
    )


def _namespace(functions: dict) -> dict:
    names = {"np": np, "nnkit": nnkit}
    names.update(functions)
    return names


def _references(lesson: str) -> dict:
    specs = [framework.SPECS[p.function] for p in framework.manifest(lesson)]
    return {s.name: getattr(nnkit, s.reference or s.name) for s in specs}


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_exercise_shows_an_example_before_its_answer_cell(lesson):
    """Is each answer cell of the release right after a worked example that calls every
    function the cell asks for?"""
    cells = read_nb(notebook_path("lessons", lesson))["cells"]
    examples = dict(_examples(lesson))
    for i, cell in enumerate(cells):
        meta = nbgrader_meta(cell)
        if not meta.get("solution"):
            continue
        assert i - 1 in examples, f"{lesson}: no example right before {meta['grade_id']}"
        asked = [
            n.name for n in ast.parse(cell_source(cell)).body if isinstance(n, ast.FunctionDef)
        ]
        code = "\n".join(c for c, _ in _steps(examples[i - 1]))
        missing = [name for name in asked if not re.search(rf"\b{name}\(", code)]
        assert not missing, f"{lesson}: the example before {meta['grade_id']} skips {missing}"


@pytest.mark.parametrize("lesson", LESSONS)
def test_printed_values_are_the_references(lesson):
    """Does each value printed in an example equal what the nnkit reference returns?"""
    examples = _examples(lesson)
    assert examples
    for _, markdown in examples:
        namespace = _namespace(_references(lesson))
        for code, expected in _steps(markdown):
            actual = _value(code, namespace)
            assert _same(actual, _printed(expected)), (
                f"{lesson}: the example prints\n{expected}\nbut the reference gives\n{actual!r}"
                f"\nfor\n{code}"
            )


@pytest.mark.parametrize("lesson", LESSONS)
def test_a_correct_answer_reproduces_the_examples(lesson):
    """Do the instructor's solutions print the same values (except where the example says
    they may differ: random draws), so the example holds for any correct answer?"""
    checked = 0
    for _, markdown in _examples(lesson):
        if MAY_DIFFER in markdown:
            continue
        namespace = _namespace(solution_functions(lesson))
        for code, expected in _steps(markdown):
            actual = _value(code, namespace)
            assert _same(actual, _printed(expected)), (lesson, code, expected, actual)
            checked += 1
    assert checked, f"{lesson}: no deterministic example"


def test_the_comparison_can_fail():
    """The reader itself: a wrong digit, a wrong shape, a wrong key are caught."""
    assert _same(np.array([0.09, 0.2447]), _printed("[0.09  , 0.2447]"))
    assert not _same(np.array([0.09, 0.2448]), _printed("[0.09  , 0.2447]"))
    assert not _same(np.array([[0.09, 0.2447]]), _printed("[0.09  , 0.2447]"))
    assert not _same({"a": (1, 2)}, _printed("{'b': (1, 2)}"))
    assert _same((200, 400), _printed("(200, 400)")) and not _same((400, 200), (200, 400))
    steps = _steps("**Example.**\n```python\nx = 1\nx + 1\n# → [[1],\n#    [2]]\nx\n# → 1\n```")
    assert steps == [("x = 1\nx + 1", "[[1],\n [2]]"), ("x", "1")]

"""Are solutions/ and lessons/ what the build scripts and nbgrader make; is the release clean?"""

from __future__ import annotations

import ast
import json
import re
import sys

import pytest
from lesson_helpers import (
    LESSONS,
    REPO,
    cell_source,
    nbgrader_meta,
    notebook_path,
    read_nb,
)

from autograder import framework


def _code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS)
def test_lessons_equal_a_fresh_generate_assignment(fresh_course, lesson):
    """Is lessons/ exactly what `nbgrader generate_assignment` makes of solutions/ today?"""
    course, _env = fresh_course
    fresh = read_nb(course / "lessons" / lesson / f"{lesson}.ipynb")
    assert read_nb(notebook_path("lessons", lesson)) == fresh, (
        f"lessons/{lesson} is stale: run `python -m tools.build_lessons --release`"
    )


def test_solutions_equal_a_fresh_build(tmp_path):
    """Is solutions/ exactly what the build scripts write?"""
    sys.path.insert(0, str(REPO))
    try:
        from tools.build_lessons.__main__ import main
    finally:
        sys.path.remove(str(REPO))
    assert main(["--root", str(tmp_path)]) == 0
    for lesson in LESSONS:
        built = (tmp_path / "solutions" / lesson / f"{lesson}.ipynb").read_text(encoding="utf-8")
        committed = notebook_path("solutions", lesson).read_text(encoding="utf-8")
        assert built == committed, f"solutions/{lesson} is stale: run python -m tools.build_lessons"


def _solution_lines(nb: dict) -> set[str]:
    lines, inside = set(), False
    for cell in _code_cells(nb):
        for line in cell_source(cell).splitlines():
            if "### BEGIN SOLUTION" in line:
                inside = True
            elif "### END SOLUTION" in line:
                inside = False
            elif inside and line.strip() and not line.strip().startswith("#"):
                lines.add(line.strip())
    return lines


@pytest.mark.parametrize("lesson", LESSONS)
def test_release_has_no_solutions_or_hidden_tests(lesson):
    """Does the released notebook hold no solution code, no hidden test, no solution markers?"""
    source_nb = read_nb(notebook_path("solutions", lesson))
    release_nb = read_nb(notebook_path("lessons", lesson))
    text = json.dumps(release_nb)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", 'part=\\"hidden\\"'):
        assert marker not in text, marker
    answers = "\n".join(
        cell_source(c) for c in _code_cells(release_nb) if nbgrader_meta(c).get("solution")
    )
    code = re.sub(r'"""[\s\S]*?"""', "", answers)  # docstrings may state the formula
    leaked = [line for line in _solution_lines(source_nb) if len(line) > 3 and line in code]
    assert not leaked, leaked
    assert answers.count("raise NotImplementedError()") >= len(
        {p.concept for p in framework.manifest(lesson)}
    )


def _is_check_call(node: ast.stmt) -> bool:
    if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)):
        return False
    call = node.value
    simple = (ast.Constant, ast.Name)
    return (
        isinstance(call.func, ast.Name)
        and call.func.id == "check"
        and all(isinstance(a, simple) for a in call.args)
        and all(isinstance(k.value, ast.Constant) for k in call.keywords)
    )


def _is_check_import(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.ImportFrom)
        and node.module == "autograder"
        and [(a.name, a.asname) for a in node.names] == [("check", None)]
    )


@pytest.mark.parametrize("lesson", LESSONS)
def test_test_cells_hold_only_check_calls(lesson):
    """Do test cells hold nothing but `from autograder import check` (so that they work after a
    kernel restart) and a one-line check call (so no test input is in a notebook)?"""
    for cell in _code_cells(read_nb(notebook_path("solutions", lesson))):
        meta = nbgrader_meta(cell)
        if meta.get("grade"):
            tree = ast.parse(cell_source(cell))
            assert len(tree.body) == 2, cell_source(cell)
            assert _is_check_import(tree.body[0]) and _is_check_call(tree.body[1]), cell_source(
                cell
            )


@pytest.mark.parametrize("lesson", LESSONS)
def test_notebook_metadata_agrees_with_the_manifest(lesson):
    """Do grade ids, points, hidden blocks and answer cells match the cases module's manifest?"""
    nb = read_nb(notebook_path("solutions", lesson))
    manifest = framework.manifest(lesson)
    tests = [
        (
            nbgrader_meta(c)["grade_id"],
            nbgrader_meta(c)["points"],
            "BEGIN HIDDEN TESTS" in cell_source(c),
        )
        for c in _code_cells(nb)
        if nbgrader_meta(c).get("grade")
    ]
    assert tests == [(p.grade_id, p.points, p.hidden) for p in manifest]
    for cell in _code_cells(nb):
        meta = nbgrader_meta(cell)
        if meta.get("grade"):
            part = next(p for p in manifest if p.grade_id == meta["grade_id"])
            assert f'check("{part.function}", {part.function}' in cell_source(cell)
            assert f'part="{part.part}"' in cell_source(cell)
            assert meta["locked"] and not meta["solution"]
    answers = [
        nbgrader_meta(c)["grade_id"] for c in _code_cells(nb) if nbgrader_meta(c).get("solution")
    ]
    assert answers == list(dict.fromkeys(p.concept for p in manifest))
    for cell in _code_cells(nb):
        meta = nbgrader_meta(cell)
        if meta.get("solution"):
            defined = [
                n.name for n in ast.parse(cell_source(cell)).body if isinstance(n, ast.FunctionDef)
            ]
            expected = [s.name for s in framework.SPECS.values() if s.concept == meta["grade_id"]]
            assert sorted(defined) == sorted(expected), meta["grade_id"]
            assert defined[0] == meta["grade_id"]  # grade_id = the concept's first function


@pytest.mark.parametrize("lesson", LESSONS)
def test_setup_cell_is_locked_and_first(lesson):
    """Is the first code cell the locked setup cell importing numpy, nnkit and the checks?"""
    first = _code_cells(read_nb(notebook_path("lessons", lesson)))[0]
    meta = nbgrader_meta(first)
    assert meta.get("locked") and meta.get("grade_id") == "setup"
    source = cell_source(first)
    for needed in (
        "import numpy as np",
        "%matplotlib inline",
        "import nnkit",
        "from autograder import check, self_check",
    ):
        assert needed in source


@pytest.mark.slow
def test_solution_notebooks_run_top_to_bottom_without_error():
    """Does each solution notebook run top to bottom without error (nbclient)?

    How long they take (target: at most 20 s each) is a figure of
    ``benchmarks/bench_lessons.py``, not an assertion: CI machines are busy."""
    import nbclient
    import nbformat

    for lesson in LESSONS:
        nb = nbformat.read(notebook_path("solutions", lesson), as_version=4)
        client = nbclient.NotebookClient(
            nb,
            timeout=600,  # a hang guard only: a busy machine may be slow
            kernel_name="python3",
            resources={"metadata": {"path": str(REPO / "solutions" / lesson)}},
        )
        client.execute()
        errors = [
            o
            for c in nb.cells
            if c.cell_type == "code"
            for o in c.get("outputs", [])
            if o.output_type == "error"
        ]
        assert not errors, (lesson, errors[:1])


def test_no_release_mentions_hidden_case_labels():
    """Are the labels of hidden cases (which describe hidden inputs) absent from every notebook?"""
    hidden_labels = set()
    for part in framework.MANIFEST:
        spec = framework.SPECS[part.function]
        if part.hidden and part.part in spec.cases:
            rng = framework._default_rng(0)
            hidden_labels |= {c.label for c in spec.cases[part.part](rng)}
    assert hidden_labels
    for lesson in LESSONS:
        text = notebook_path("lessons", lesson).read_text(encoding="utf-8")
        found = [label for label in hidden_labels if re.search(re.escape(label), text)]
        assert not found, found


@pytest.mark.parametrize("lesson", LESSONS)
def test_the_intro_names_the_header_of_this_lessons_check_cells(lesson):
    """Does the paragraph before the setup cell say how the notebook works, naming the comment
    that opens this lesson's check cells (every code cell is grey: colour names none)?"""
    cells = read_nb(notebook_path("lessons", lesson))["cells"]
    setup = next(i for i, c in enumerate(cells) if nbgrader_meta(c).get("grade_id") == "setup")
    intro = cell_source(cells[setup - 1])
    assert intro.startswith("**How this notebook works.**")
    headers = {
        cell_source(c).splitlines()[0].split(" (")[0]
        for c in _code_cells({"cells": cells})
        if nbgrader_meta(c).get("grade") and not nbgrader_meta(c).get("solution")
    }
    assert any(f"`{header}`" in intro for header in headers), intro
    assert "raise NotImplementedError()" in intro and "Run All" in intro
    markdown = " ".join(cell_source(c) for c in cells if c["cell_type"] == "markdown")
    assert "grey cell" not in markdown.replace("\n", " ")

"""Does every graded reference show its real signature, the one the lessons and CONVENTIONS.md give?

The ``@reference`` guard wraps each graded function in ``(*args, **kwargs)``. Students read the
signature in ``help()``, JupyterLab's Shift-Tab tooltip (IPython's inspector) and their editor's
completion, all of which ask :func:`inspect.signature`. Three independent sources are compared
here: the lessons' answer cells (parsed with ``ast``), the table in CONVENTIONS.md, and the
wrapped function's own signature.
"""

from __future__ import annotations

import ast
import gc
import inspect
import json
import pydoc
import re
import types
from pathlib import Path

import pytest

import nnkit
from nnkit import _guard

REPO = Path(__file__).resolve().parents[2]
LESSONS = (
    "01_neurons",
    "02_softmax",
    "03_backprop",
    "04_init",
    "05_optimizers",
    "06_dropout",
    "07_batchnorm",
)


def _signature(args: ast.arguments) -> inspect.Signature:
    """The signature an ``ast`` argument list declares, without annotations."""
    P = inspect.Parameter
    positional = [(a, P.POSITIONAL_ONLY) for a in args.posonlyargs]
    positional += [(a, P.POSITIONAL_OR_KEYWORD) for a in args.args]
    defaults = [P.empty] * (len(positional) - len(args.defaults))
    defaults += [ast.literal_eval(d) for d in args.defaults]
    params = [P(a.arg, kind, default=d) for (a, kind), d in zip(positional, defaults, strict=True)]
    if args.vararg:
        params.append(P(args.vararg.arg, P.VAR_POSITIONAL))
    for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        default = P.empty if d is None else ast.literal_eval(d)
        params.append(P(a.arg, P.KEYWORD_ONLY, default=default))
    if args.kwarg:
        params.append(P(args.kwarg.arg, P.VAR_KEYWORD))
    return inspect.Signature(params)


def _parse(text: str) -> tuple[str, inspect.Signature]:
    """``"adam_step(w, dw, state, lr=1e-3)"`` -> name and signature."""
    node = ast.parse(f"def {text}: pass").body[0]
    return node.name, _signature(node.args)


def _bare(sig: inspect.Signature) -> inspect.Signature:
    """``sig`` without annotations (the lessons and the docs write none)."""
    return sig.replace(
        parameters=[p.replace(annotation=p.empty) for p in sig.parameters.values()],
        return_annotation=sig.empty,
    )


def _answer_cells(folder: str) -> dict[str, tuple[str, dict[str, inspect.Signature]]]:
    """``{lesson: (grade_id, {function: signature})}`` for each answer cell of ``folder``."""
    cells: dict[str, tuple[str, dict[str, inspect.Signature]]] = {}
    for lesson in LESSONS:
        notebook = json.loads((REPO / folder / lesson / f"{lesson}.ipynb").read_text())
        for cell in notebook["cells"]:
            meta = cell["metadata"].get("nbgrader", {})
            if cell["cell_type"] != "code" or not meta.get("solution"):
                continue
            tree = ast.parse("".join(cell["source"]))
            functions = {
                n.name: _signature(n.args) for n in tree.body if isinstance(n, ast.FunctionDef)
            }
            cells[f"{lesson}/{meta['grade_id']}"] = (meta["grade_id"], functions)
    return cells


def _conventions_table() -> list[tuple[str, str, dict, dict]]:
    """Rows of CONVENTIONS.md's "Graded functions" table:
    ``(lesson, grade_id, {name: student signature}, {name: reference signature})``."""
    text = (REPO / "CONVENTIONS.md").read_text()
    section = text.split("### Graded functions", 1)[1].split("\n### ", 1)[0]
    rows, lesson = [], None
    for line in section.splitlines():
        if not line.startswith("| ") or line.startswith("| lesson") or set(line) <= set("|- "):
            continue
        cols = [c.strip() for c in line.strip().strip("|").split("|")]
        lesson = cols[0].strip("`") or lesson
        student = dict(_parse(s) for s in re.findall(r"`([^`]+\))`", cols[2]))
        reference = dict(_parse(s) for s in re.findall(r"`([^`]+\))`", cols[3]))
        rows.append((lesson, cols[1].strip("`"), student, reference))
    return rows


SOLUTION_CELLS = _answer_cells("solutions")
GRADED = sorted(name for _, functions in SOLUTION_CELLS.values() for name in functions)
RAW = {name: raw for name, _, raw in _guard.registered()}


def test_there_are_48_graded_references():
    """Does the parse find every graded function, each a registered nnkit reference?"""
    assert len(GRADED) == len(set(GRADED)) == 48
    assert set(GRADED) <= set(RAW)
    assert all(getattr(nnkit, name).__nnkit_reference__ == name for name in GRADED)


@pytest.mark.parametrize("name", GRADED)
def test_reference_shows_the_signature_of_the_function_it_guards(name):
    """Is inspect.signature of the exported reference the wrapped function's, not (*args, **kw)?"""
    shown = inspect.signature(getattr(nnkit, name))
    assert shown == inspect.signature(RAW[name])
    kinds = {p.kind for p in shown.parameters.values()}
    assert inspect.Parameter.VAR_POSITIONAL not in kinds
    assert inspect.Parameter.VAR_KEYWORD not in kinds


def test_conventions_table_matches_the_answer_cells():
    """Does CONVENTIONS.md list every answer cell, with its grade_id, functions and signatures?"""
    from_docs = {
        f"{lesson}/{grade_id}": (grade_id, student)
        for lesson, grade_id, student, _ in _conventions_table()
    }
    assert from_docs == SOLUTION_CELLS
    assert _answer_cells("lessons") == SOLUTION_CELLS  # what students get says the same


@pytest.mark.parametrize("name", GRADED)
def test_reference_signature_is_the_documented_one(name):
    """Is the reference's signature the answer cell's, or the full one CONVENTIONS.md gives?"""
    (student,) = [s[name] for _, _, s, _ in _conventions_table() if name in s]
    documented = [r[name] for _, _, _, r in _conventions_table() if name in r]
    expected = documented[0] if documented else student
    assert _bare(inspect.signature(getattr(nnkit, name))) == expected
    if documented:
        # the reference only adds to what the student writes: same leading parameters,
        # extras that have defaults, so every call of the answer's form also works on it
        ref = list(documented[0].parameters.values())
        mine = list(student.parameters.values())
        assert [p.name for p in ref[: len(mine)]] == [p.name for p in mine]
        assert all(p.default is not p.empty for p in ref[len(mine) :])


@pytest.mark.parametrize("name", GRADED)
def test_help_and_the_jupyter_tooltip_show_the_signature(name):
    """Does help() (pydoc) print name(signature), and IPython's inspector give each parameter?"""
    from IPython.core.interactiveshell import InteractiveShell

    fn = getattr(nnkit, name)
    sig = inspect.signature(fn)
    text = pydoc.render_doc(fn, renderer=pydoc.plaintext)
    assert f"{name}{sig}" in text
    assert "*args" not in text

    shell = InteractiveShell.instance()
    shell.user_ns["nnkit"] = nnkit
    definition = shell.object_inspect(f"nnkit.{name}")["definition"]
    assert "*args" not in definition
    for param in sig.parameters.values():
        assert str(param) in definition


def _reachable(root: object, limit: int = 10_000) -> list[object]:
    """Objects reachable from ``root`` by references, not entering classes or modules."""
    seen, stack, found = {id(root)}, [root], []
    while stack and len(found) < limit:
        obj = stack.pop()
        found.append(obj)
        for ref in gc.get_referents(obj):
            if isinstance(ref, (type, types.ModuleType)) or id(ref) in seen:
                continue
            seen.add(id(ref))
            stack.append(ref)
    return found


@pytest.mark.parametrize("name", GRADED)
def test_signature_hands_out_no_path_to_the_guarded_function(name):
    """Can the unguarded function be reached from what the signature adds? It must not be."""
    wrapper = getattr(nnkit, name)
    assert not hasattr(wrapper, "__wrapped__")
    assert inspect.unwrap(wrapper) is wrapper
    reachable = _reachable(wrapper.__signature__)
    assert len(reachable) > 1  # the walk does see the parameters
    offenders = [
        o for o in reachable if isinstance(o, (types.FunctionType, types.CodeType, types.CellType))
    ]
    assert offenders == []
    assert all(o is not RAW[name] for o in reachable)

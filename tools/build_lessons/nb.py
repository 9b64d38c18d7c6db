"""Shared cell builders for lesson notebooks (nbformat, deterministic cell ids).

A lesson module writes::

    lesson = Lesson("02_softmax")
    lesson.setup()                                  # locked imports cell
    lesson.md(r"# Softmax ... $\\sigma(z)_i = ...$")
    lesson.answer("softmax", SOLUTION_SOURCE)       # answer cell, grade_id = "softmax"
    lesson.tests("softmax")                         # one locked test cell per manifest part
    lesson.code("demo code", tags=("skip-execution",))
    lesson.self_check()
    return lesson.notebook()

``answer`` sources hold the skeleton and the solution between ``### BEGIN SOLUTION`` and
``### END SOLUTION``; nbgrader replaces that block by ``raise NotImplementedError()``.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import nnkit
from autograder import framework

SETUP_SOURCE = """\
%matplotlib inline
import numpy as np
import matplotlib.pyplot as plt

import nnkit
from autograder import check, self_check

np.set_printoptions(precision=4, suppress=True)"""


# JupyterLab's Run All (and nbclient) stop at the first cell that raises, unless the cell is
# tagged so. A failing check raises (nbgrader scores the cell 0 from its error output, tag or
# not), and an answer cell may hold a student's SyntaxError: with the tag on both, Run All
# still reaches the explorers and self_check() at the bottom.
RUN_ALL_CONTINUES = "raises-exception"

# Each test cell imports `check` itself, so that after a kernel restart it works, or says what
# to run first, whatever ran before it (see autograder.framework.SETUP_FIRST).
CHECK_IMPORT = "from autograder import check"


def _header(part: framework.Part) -> str:
    """The comment line that opens a test cell: its points and what it checks."""
    pts = f"{part.points} point" + ("s" if part.points != 1 else "")
    if part.hidden:
        return f"# {pts}: hidden checks of {part.function}, run when your notebook is graded"
    about = f" ({part.description})" if part.description else ""
    return f"# {pts}: {part.function} · {part.part}{about}"


def off_limits(grade_id: str) -> list[str]:
    """The nnkit functions the answer cell ``grade_id`` may not call (its specs' ``forbid``)."""
    specs = [spec for spec in framework.SPECS.values() if spec.concept == grade_id]
    return sorted({name for spec in specs for name in spec.forbid}, key=str.lower)


def _off_limits_comment(grade_id: str) -> str:
    """The comment that opens an answer cell: which nnkit functions cost its points."""
    names = off_limits(grade_id)
    if not names:
        return ""
    text = (
        "Do not call these nnkit functions here (a check that sees one called gives 0 "
        "points; write the computation yourself): " + ", ".join(names) + "."
    )
    return "\n".join(textwrap.wrap(text, 96, initial_indent="# ", subsequent_indent="# ")) + "\n"


def _meta(grade_id: str, *, grade: bool, solution: bool, locked: bool, points: int = 0) -> dict:
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }
    if grade:
        meta["points"] = points
    return meta


# A worked example is a markdown cell that starts with this, then one ```python block whose
# bare expressions are each followed by their value, as comments starting with EXPECTED.
EXAMPLE_HEADING = "**Example.**"
EXPECTED = "# → "
EXAMPLE_TEXT = (
    f"{EXAMPLE_HEADING} What a correct answer gives on a small input: the values below come "
    "from the course's reference implementation, computed when this notebook was built. Once "
    "your code is written, run these lines in a new cell and compare."
)


def show(value: Any) -> str:
    """A value as the examples print it: numbers with 4 decimals (as the setup cell's
    ``np.set_printoptions``; very small or large ones with 4 significant digits), containers
    item by item."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            value = value + 0.0  # -0.0 (e.g. -active / n) prints as 0.
        return np.array2string(value, precision=4, suppress_small=True, separator=", ")
    if isinstance(value, (bool, np.bool_, str, np.dtype)) or value is None:
        return repr(value.item() if isinstance(value, np.bool_) else value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value) + 0.0
        if value != 0 and (abs(value) < 1e-4 or abs(value) >= 1e8 or not np.isfinite(value)):
            return f"{value:.4g}"
        return np.format_float_positional(value, precision=4, trim="0")
    if isinstance(value, tuple):
        inner = ", ".join(show(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {show(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"an example cannot show a {type(value).__name__}: show its parts")


def references(lesson_id: str) -> dict[str, Any]:
    """The names an example may use: np, nnkit, and each graded function of the lesson bound to
    its nnkit reference (a student runs the same lines with their own functions)."""
    names: dict[str, Any] = {"np": np, "nnkit": nnkit}
    for part in framework.manifest(lesson_id):
        spec = framework.SPECS[part.function]
        names[spec.name] = getattr(nnkit, spec.reference or spec.name)
    return names


def run_example(code: str, namespace: dict[str, Any]) -> str:
    """``code`` with the value of each top-level bare expression written under it."""
    code = textwrap.dedent(code).strip("\n")
    lines = code.splitlines()
    out: list[str] = []
    with np.errstate(all="raise", under="ignore"):
        for node in ast.parse(code).body:
            out += lines[node.lineno - 1 : node.end_lineno]
            if isinstance(node, ast.FunctionDef):
                out.append("")
            statement = ast.get_source_segment(code, node)
            if isinstance(node, ast.Expr):
                value = eval(compile(ast.Expression(node.value), "<example>", "eval"), namespace)
                shown = show(value).splitlines()
                out.append(EXPECTED + shown[0])
                out += ["#   " + line for line in shown[1:]]
            else:
                exec(compile(statement, "<example>", "exec"), namespace)
    return "\n".join(out)


class Lesson:
    """Collects the cells of one lesson notebook."""

    def __init__(self, lesson_id: str):
        self.lesson_id = lesson_id
        self.cells: list = []
        self._plain = 0

    def _next_id(self, prefix: str) -> str:
        self._plain += 1
        return f"{prefix}-{self._plain:03d}"

    def md(self, text: str) -> None:
        cell = new_markdown_cell(textwrap.dedent(text).strip("\n"))
        cell.id = self._next_id("md")
        self.cells.append(cell)

    def code(self, source: str, *, tags: tuple[str, ...] = ()) -> None:
        cell = new_code_cell(textwrap.dedent(source).strip("\n"))
        cell.id = self._next_id("code")
        if tags:
            cell.metadata["tags"] = list(tags)
        self.cells.append(cell)

    def example(self, code: str, *, note: str = "") -> None:
        """A worked example before an exercise: ``code`` run with the nnkit references when the
        lesson is built, each bare expression followed by its value (never typed by hand)."""
        shown = run_example(code, references(self.lesson_id))
        text = EXAMPLE_TEXT + (f" {note}" if note else "")
        cell = new_markdown_cell(f"{text}\n\n```python\n{shown}\n```")
        cell.id = self._next_id("md")
        self.cells.append(cell)

    def how_it_works(self) -> None:
        """The paragraph every lesson opens with: how to run it, where to write, what the
        checks are (named by the header of this lesson's first check cell)."""
        first = next(p for p in framework.manifest(self.lesson_id) if not p.hidden)
        header = _header(first).split(" (")[0]
        self.md(
            f"""
            **How this notebook works.** Run the cells from top to bottom (Shift+Enter), or
            all at once with *Run ▸ Run All Cells*: it goes on past a failing check, down to
            the last cell. Each exercise is an *answer cell* with `raise NotImplementedError()`
            in it: replace that line with your code (where the cell gives you code around it,
            as `train_mlp` does, keep that code). The worked example above each answer cell
            shows what a correct answer returns. The locked cells that begin with a comment
            such as `{header}` are the *checks*: each runs your function and tells you what
            looks wrong. The checks of hidden parts run only when your notebook is graded. The
            last cell, `self_check()`, adds up your visible points. After a kernel restart, run
            the setup cell (the first code cell) again before the others.
            """
        )

    def setup(self, extra: str = "") -> None:
        """The "how this notebook works" paragraph, then the setup cell right after it."""
        self.how_it_works()
        source = SETUP_SOURCE + ("\n" + textwrap.dedent(extra).strip("\n") if extra else "")
        cell = new_code_cell(source)
        cell.id = "setup"
        cell.metadata["nbgrader"] = _meta("setup", grade=False, solution=False, locked=True)
        self.cells.append(cell)

    def answer(self, grade_id: str, source: str, *, example: str = "", note: str = "") -> None:
        """The answer cell ``grade_id``, after its worked example (see :meth:`example`)."""
        if example:
            self.example(example, note=note)
        cell = new_code_cell(_off_limits_comment(grade_id) + textwrap.dedent(source).strip("\n"))
        cell.id = grade_id
        cell.metadata["nbgrader"] = _meta(grade_id, grade=False, solution=True, locked=False)
        cell.metadata["tags"] = [RUN_ALL_CONTINUES]
        self.cells.append(cell)

    def tests(self, function: str, companions: tuple[str, ...] | None = None) -> None:
        """One locked test cell per manifest part of ``function``, in manifest order."""
        spec = framework.SPECS[function]
        extra = companions if companions is not None else spec.companions
        call_args = ", ".join((function, *extra))
        parts = [p for p in framework.manifest(self.lesson_id) if p.function == function]
        if not parts:
            raise ValueError(f"no manifest parts for {function} in {self.lesson_id}")
        for part in parts:
            line = f'{CHECK_IMPORT}\ncheck("{function}", {call_args}, part="{part.part}")'
            if part.hidden:
                source = f"{_header(part)}\n### BEGIN HIDDEN TESTS\n{line}\n### END HIDDEN TESTS"
            else:
                source = f"{_header(part)}\n{line}"
            cell = new_code_cell(source)
            cell.id = part.grade_id
            cell.metadata["nbgrader"] = _meta(
                part.grade_id, grade=True, solution=False, locked=True, points=part.points
            )
            cell.metadata["tags"] = [RUN_ALL_CONTINUES]
            self.cells.append(cell)

    def self_check(self) -> None:
        self.md(
            """
            ## Where do you stand?
            The cell below runs every *visible* check again and adds up your points. The hidden
            checks only run when your notebook is graded, so the total here is a lower bound of
            what is at stake, not a promise.
            """
        )
        self.code("from autograder import self_check\n\nself_check()")

    def notebook(self) -> nbformat.NotebookNode:
        nb = new_notebook(cells=self.cells)
        nb.metadata = {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        }
        return nb


def write_notebook(nb: nbformat.NotebookNode, path: Path) -> None:
    """Validate and write ``nb`` (no outputs, stable formatting)."""
    nbformat.validate(nb)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        nbformat.write(nb, fh, version=4)

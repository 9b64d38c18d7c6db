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

import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

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

    def setup(self, extra: str = "") -> None:
        source = SETUP_SOURCE + ("\n" + textwrap.dedent(extra).strip("\n") if extra else "")
        cell = new_code_cell(source)
        cell.id = "setup"
        cell.metadata["nbgrader"] = _meta("setup", grade=False, solution=False, locked=True)
        self.cells.append(cell)

    def answer(self, grade_id: str, source: str) -> None:
        cell = new_code_cell(textwrap.dedent(source).strip("\n"))
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
            pts = f"{part.points} point" + ("s" if part.points != 1 else "")
            line = f'{CHECK_IMPORT}\ncheck("{function}", {call_args}, part="{part.part}")'
            if part.hidden:
                source = (
                    f"# {pts}: hidden checks of {function}, run when your notebook is graded\n"
                    f"### BEGIN HIDDEN TESTS\n{line}\n### END HIDDEN TESTS"
                )
            else:
                about = f" ({part.description})" if part.description else ""
                source = f"# {pts}: {function} · {part.part}{about}\n{line}"
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

"""Builders for the grader's tests (used by conftest.py and the tests): a tiny course,
solved/stub/wrong submissions, and the hostile catalogue (one student per hostile submission).

The tiny course has two lessons, ``01_add`` and ``02_mul``; each has a locked setup cell that
imports ``autograder`` (so the course's in-kernel guards are active, as in the real lessons), one
answer cell, a visible test cell (1 point) and a hidden test cell (2 points).
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Short limits keep the catalogue fast: a cell may run 10 s, a submission 45 s. They are still
# far above what a well-behaved cell of the tiny course needs on a busy machine (CI's is busy;
# with 4 s, printing the flood below took longer than the limit at a load average of 20).
CELL_TIMEOUT = 10
SUBMISSION_TIMEOUT = 45
MEMORY_MB = 1536

CONFIG = f"""\
c = get_config()  # noqa: F821
load_subconfig({str(REPO / "autograder" / "nbgrader_config.py")!r})  # noqa: F821
c.Execute.timeout = {CELL_TIMEOUT}
"""

LESSONS = {
    "01_add": ("add", "np.add(a, b)", "a + b", "[1, 2, 3]", "np.arange(3), 1", "(1, 2)", 3),
    "02_mul": ("mul", "np.multiply(a, b)", "a * b", "[0, 2, 4]", "np.arange(3), 2", "(2, 3)", 6),
}


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


def source_notebook(lesson: str):
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    fn, impl, _, hidden_expected, hidden_args, visible_args, visible_expected = LESSONS[lesson]
    cells = [
        new_markdown_cell(f"# {lesson}\nWrite `{fn}`."),
        new_code_cell("import numpy as np\nimport autograder"),
        new_code_cell(
            f"def {fn}(a, b):\n    ### BEGIN SOLUTION\n    return {impl}\n    ### END SOLUTION"
        ),
        new_code_cell(
            f"# 1 point: small numbers\nassert np.allclose({fn}{visible_args}, {visible_expected})"
            f"\nprint('{fn} works on small numbers')"
        ),
        new_code_cell(
            "# 2 points: hidden checks\n### BEGIN HIDDEN TESTS\n"
            f"np.testing.assert_allclose({fn}({hidden_args}), {hidden_expected})\n"
            "### END HIDDEN TESTS"
        ),
    ]
    ids = [None, "setup", fn, f"test_{fn}_visible", f"test_{fn}_hidden"]
    metas = [
        None,
        _meta("setup", grade=False, solution=False, locked=True),
        _meta(fn, grade=False, solution=True, locked=False),
        _meta(f"test_{fn}_visible", grade=True, solution=False, locked=True, points=1),
        _meta(f"test_{fn}_hidden", grade=True, solution=False, locked=True, points=2),
    ]
    for i, (cell, gid, meta) in enumerate(zip(cells, ids, metas, strict=True)):
        cell.id = gid or f"md-{i}"
        if meta:
            cell.metadata["nbgrader"] = meta
    nb = new_notebook(cells=cells)
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    nbformat.validate(nb)
    return nb


def build_course(root: Path) -> Path:
    """A released tiny course at ``root`` (gradebook filled by nbgrader generate_assignment)."""
    import nbformat

    from autograder.instructor import release
    from autograder.instructor.course import Course

    root.mkdir(parents=True, exist_ok=True)
    (root / "nbgrader_config.py").write_text(CONFIG)
    for lesson in LESSONS:
        path = root / "solutions" / lesson / f"{lesson}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(source_notebook(lesson), str(path))
    release.generate(Course.at(root))
    return root


def released(course: Path, lesson: str) -> dict:
    return json.loads((course / "lessons" / lesson / f"{lesson}.ipynb").read_text())


def _gid(cell: dict) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _cell(nb: dict, grade_id: str) -> dict:
    return next(
        c
        for c in nb["cells"]
        if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id
    )


def answer(nb: dict, lesson: str, body: str) -> dict:
    """``nb`` with the answer cell's stub replaced by ``body`` (lines of the function body)."""
    nb = copy.deepcopy(nb)
    fn = LESSONS[lesson][0]
    cell = _cell(nb, fn)
    cell["source"] = f"def {fn}(a, b):\n" + "\n".join("    " + line for line in body.splitlines())
    return nb


def solved(course: Path, lesson: str) -> dict:
    return answer(released(course, lesson), lesson, f"return {LESSONS[lesson][2]}")


def append_to_answer(nb: dict, lesson: str, code: str) -> dict:
    nb = copy.deepcopy(nb)
    cell = _cell(nb, LESSONS[lesson][0])
    cell["source"] = "".join(cell["source"]) + "\n" + code
    return nb


def _delete(nb: dict, grade_id: str) -> dict:
    nb = copy.deepcopy(nb)
    nb["cells"] = [
        c
        for c in nb["cells"]
        if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") != grade_id
    ]
    return nb


def _edit(nb: dict, grade_id: str, source: str | None = None, points: int | None = None) -> dict:
    nb = copy.deepcopy(nb)
    cell = _cell(nb, grade_id)
    if source is not None:
        cell["source"] = source
    if points is not None:
        cell["metadata"]["nbgrader"]["points"] = points
    return nb


def _move_test_first(nb: dict) -> dict:
    nb = copy.deepcopy(nb)
    test = _cell(nb, "test_add_visible")
    nb["cells"].remove(test)
    nb["cells"].insert(1, test)
    return nb


def _duplicate_test(nb: dict) -> dict:
    nb = copy.deepcopy(nb)
    test = _cell(nb, "test_add_visible")
    nb["cells"].insert(nb["cells"].index(test), copy.deepcopy(test))
    return nb


# Each entry: name -> (builder(course) -> notebook dict or bytes, expected statuses/hints,
# expected points out of 3 on lesson 01_add). Points are what the submission did not break.
def catalogue() -> dict[str, tuple[Callable[[Path], dict | bytes], set[str], float]]:
    L = "01_add"
    wrong = lambda c: answer(released(c, L), L, "return a - b")  # noqa: E731
    return {
        "solution": (lambda c: solved(c, L), {"ok"}, 3),
        "stub": (lambda c: released(c, L), {"not attempted"}, 0),
        "wrong": (wrong, {"ok"}, 0),
        "loop_top_level": (
            lambda c: append_to_answer(solved(c, L), L, "while True:\n    pass"),
            {"timed out"},
            3,
        ),
        "loop_in_function": (
            lambda c: answer(released(c, L), L, "while True:\n    pass"),
            {"timed out"},
            0,
        ),
        "memory_hog": (
            lambda c: append_to_answer(
                solved(c, L), L, "hog = [np.empty(50_000_000) for _ in range(200)]  # 80 GB"
            ),
            {"out of memory"},
            3,
        ),
        "os_exit": (
            lambda c: append_to_answer(solved(c, L), L, "import os\nos._exit(1)"),
            {"kernel died"},
            0,
        ),
        "segfault": (
            # (ctypes is refused in a grading kernel; faulthandler still crashes it for real)
            lambda c: append_to_answer(
                solved(c, L), L, "import faulthandler\nfaulthandler._sigsegv()"
            ),
            {"kernel died"},
            0,
        ),
        "sys_exit": (
            lambda c: append_to_answer(solved(c, L), L, "import sys\nsys.exit()"),
            {"error in answer cell"},
            3,
        ),
        "print_flood": (  # 20 MB of output: ten times the size the graded notebook may have
            lambda c: append_to_answer(solved(c, L), L, "print('x' * 20_000_000)"),
            {"ok"},
            3,
        ),
        "stderr_top_level": (
            lambda c: append_to_answer(
                solved(c, L), L, "import sys\nprint('debug', file=sys.stderr)"
            ),
            {"ok"},
            3,
        ),
        "invalid_json": (lambda c: b'{"cells": [', {"not a notebook"}, 0),
        "not_a_notebook_json": (lambda c: b'{"hello": "world"}', {"wrong file"}, 0),
        "wrong_lesson": (lambda c: solved(c, "02_mul"), {"wrong file"}, 0),
        "deleted_hidden_test": (
            lambda c: _delete(solved(c, L), "test_add_hidden"),
            {"test cells deleted"},
            1,
        ),
        "reordered": (lambda c: _move_test_first(solved(c, L)), {"reordered cells"}, 2),
        "duplicated": (lambda c: _duplicate_test(solved(c, L)), {"duplicated cells"}, 3),
        "assert_true": (
            lambda c: _edit(
                _edit(wrong(c), "test_add_visible", "assert True"), "test_add_hidden", "assert True"
            ),
            {"tampered"},
            0,
        ),
        "points_raised": (
            lambda c: _edit(solved(c, L), "test_add_visible", points=100),
            {"tampered"},
            3,
        ),
        "monkeypatch_numpy": (
            lambda c: append_to_answer(
                wrong(c),
                L,
                "np.allclose = lambda *a, **k: True\n"
                "np.testing.assert_allclose = lambda *a, **k: None",
            ),
            {"ok"},
            0,
        ),
    }


def write_submission(course: Path, student: str, lesson: str, content: dict | bytes) -> Path:
    path = course / "submitted" / student / lesson / f"{lesson}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(json.dumps(content, indent=1))
    return path


# --------------------------------------------------------------------------------------------
# A real lesson of the course (a representative sample through real nbgrader autograde)

_SOLUTION_BLOCK = re.compile(r"[ \t]*### BEGIN SOLUTION\n(.*?)[ \t]*### END SOLUTION\n?", re.S)


def build_real_course(root: Path, lesson: str) -> Path:
    """A course at ``root`` with one real lesson copied from the repository's ``solutions/``."""
    from autograder.instructor import release
    from autograder.instructor.course import Course

    root.mkdir(parents=True, exist_ok=True)
    (root / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"load_subconfig({str(REPO / 'autograder' / 'nbgrader_config.py')!r})  # noqa: F821\n"
    )
    shutil.copytree(REPO / "solutions" / lesson, root / "solutions" / lesson)
    release.generate(Course.at(root), [lesson])
    return root


def solved_real(course: Path, lesson: str, extra: dict[str, str] | None = None) -> dict:
    """The released notebook with every answer cell solved; ``extra`` code appended per cell."""
    source = json.loads((course / "solutions" / lesson / f"{lesson}.ipynb").read_text())
    nb = released(course, lesson)
    answers = {_gid(c): "".join(c["source"]) for c in source["cells"] if _gid(c)}
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution"):
            text = _SOLUTION_BLOCK.sub(lambda m: m.group(1), answers[_gid(cell)])
            cell["source"] = text + (
                "\n" + extra[_gid(cell)] if extra and _gid(cell) in extra else ""
            )
    return nb

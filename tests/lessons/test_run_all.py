"""Does Run All reach the last cell of a lesson with wrong or missing answers, while a failing
check still earns 0; and does a check cell work (or say what to run) after a kernel restart?

JupyterLab's Run All sends ``stop_on_error`` for every cell not tagged ``raises-exception``, and
nbclient (so nbgrader) stops the same way unless ``allow_errors`` is set: running a notebook
with nbclient and ``allow_errors=False`` is what a student's Run All does, without a browser
(``test_run_all_browser.py`` does it in JupyterLab itself).
"""

from __future__ import annotations

import json

import nbclient
import nbformat
import pytest
from lesson_helpers import (
    LESSONS,
    REPO,
    cell_outputs,
    make_course,
    nbgrader,
    nbgrader_env,
    nbgrader_meta,
    notebook_path,
    output_text,
    read_grades,
    read_nb,
    replace_answer,
    submit,
)

from autograder import framework

RUN_ALL_CONTINUES = "raises-exception"
SETUP_FIRST = "Run the setup cell at the top of the notebook first"


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _is_test(cell) -> bool:
    meta = nbgrader_meta(cell)
    return bool(meta.get("grade")) and not meta.get("solution")


def _run(nb: nbformat.NotebookNode, lesson: str) -> nbformat.NotebookNode:
    """Run ``nb`` as Run All does: stop at the first error of a cell without the tag."""
    client = nbclient.NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        allow_errors=False,
        resources={"metadata": {"path": str(REPO / "lessons" / lesson)}},
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as stopped:
        pytest.fail(f"Run All stopped in {lesson}: {str(stopped)[:1500]}")
    return nb


def _errors(cell) -> list[dict]:
    return [o for o in cell.get("outputs", []) if o["output_type"] == "error"]


@pytest.mark.parametrize("lesson", LESSONS)
def test_released_check_and_answer_cells_let_run_all_continue(lesson):
    """Does every test and answer cell of the release (what generate_assignment made) carry the
    tag that lets Run All go past a failure, and no other code cell need it?"""
    nb = read_nb(notebook_path("lessons", lesson))
    graded = [c for c in nb["cells"] if c["cell_type"] == "code" and nbgrader_meta(c)]
    tests = [c for c in graded if _is_test(c)]
    answers = [c for c in graded if nbgrader_meta(c).get("solution")]
    assert len(tests) == len(framework.manifest(lesson)) and answers
    untagged = [
        nbgrader_meta(c)["grade_id"] for c in tests + answers if RUN_ALL_CONTINUES not in _tags(c)
    ]
    assert not untagged, f"{lesson}: Run All would stop at {untagged}"


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS)
def test_run_all_of_the_release_reaches_self_check(lesson):
    """Run All of the untouched release (every answer a stub): does every code cell run, and
    does the last one print the self-check with 0 points?"""
    nb = _run(nbformat.read(notebook_path("lessons", lesson), as_version=4), lesson)
    code = [c for c in nb.cells if c.cell_type == "code"]
    not_run = [c.get("id") for c in code if c.get("execution_count") is None]
    assert not not_run, f"cells never ran: {not_run}"
    failed_checks = [c for c in code if _is_test(c) and _errors(c)]
    assert failed_checks, "no check failed on the stubs: the test is not testing Run All"
    last = output_text(code[-1].get("outputs", []))
    assert f"Self-check of {lesson}" in last and "Visible checks: 0 of" in last, last


@pytest.mark.slow
def test_run_all_goes_past_a_syntax_error_and_a_wrong_answer():
    """A SyntaxError in one answer cell and a wrong function in another: does Run All still
    reach self_check, which counts the remaining correct answers?"""
    lesson = "02_softmax"
    nb = read_nb(notebook_path("solutions", lesson))
    nb = replace_answer(nb, "softmax", "def softmax(z)\n    return z\n")
    nb = replace_answer(
        nb, "cross_entropy", "def cross_entropy(probs, y):\n    return float(probs.sum())\n"
    )
    ran = _run(nbformat.reads(json.dumps(nb), as_version=4), lesson)
    code = [c for c in ran.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") is not None for c in code)
    by_id = {nbgrader_meta(c).get("grade_id"): c for c in code if nbgrader_meta(c)}
    assert _errors(by_id["softmax"])[0]["ename"] == "SyntaxError"
    assert "softmax is not defined" in output_text(by_id["test_softmax_values"]["outputs"])
    assert _errors(by_id["test_cross_entropy_values"])
    assert not _errors(by_id["test_max_margin_loss_values"])  # after both failures, still run
    last = output_text(code[-1]["outputs"])
    assert "✓ max_margin_loss · values" in last and "✗ cross_entropy · values" in last


@pytest.mark.slow
def test_failing_checks_still_earn_zero_under_nbgrader_autograde(tmp_path):
    """Through real `generate_assignment` and `autograde`: do the tags survive both, and does a
    failing check cell still earn 0 while the cells after it run and earn their points?"""
    lesson = "02_softmax"
    course = make_course(tmp_path)
    env = nbgrader_env(tmp_path / "home")
    done = nbgrader(["generate_assignment", lesson, "--force"], course, env)
    assert done.returncode == 0, done.stdout + done.stderr
    released = read_nb(course / "lessons" / lesson / f"{lesson}.ipynb")
    tagged = [c for c in released["cells"] if RUN_ALL_CONTINUES in _tags(c)]
    assert {nbgrader_meta(c)["grade_id"] for c in tagged} >= {
        p.grade_id for p in framework.manifest(lesson)
    }
    wrong = replace_answer(
        read_nb(notebook_path("solutions", lesson)),
        "cross_entropy",
        "def cross_entropy(probs, y):\n    return float(probs.sum())\n",
    )
    submit(course, "release", lesson, released)
    submit(course, "wrong", lesson, wrong)
    done = nbgrader(["autograde", lesson], course, env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    grades = read_grades(course, env)
    total = sum(p.points for p in framework.manifest(lesson))
    lost = sum(p.points for p in framework.manifest(lesson) if p.function == "cross_entropy")
    assert grades[(lesson, "release")] == 0.0
    assert grades[(lesson, "wrong")] == total - lost
    graded = read_nb(course / "autograded" / "wrong" / lesson / f"{lesson}.ipynb")
    cells = {nbgrader_meta(c).get("grade_id"): c for c in graded["cells"] if nbgrader_meta(c)}
    failing = cells["test_cross_entropy_values"]
    assert RUN_ALL_CONTINUES in _tags(failing) and _errors(failing)
    after = cells["test_max_margin_loss_values"]
    assert after["execution_count"] is not None and not _errors(after)
    outputs = cell_outputs(course, "release", lesson)
    assert all(
        _errors({"outputs": outputs[p.grade_id]})
        for p in framework.manifest(lesson)
        if not p.hidden
    )


# --------------------------------------------------------------------------------------------
# After a kernel restart


def _cells(lesson: str, kind: str, keep) -> nbformat.NotebookNode:
    nb = nbformat.read(notebook_path(kind, lesson), as_version=4)
    nb.cells = [c for c in nb.cells if keep(c)]
    return nb


def _texts(nb) -> list[str]:
    return [output_text(c.get("outputs", [])) for c in nb.cells if c.cell_type == "code"]


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS)
def test_check_cells_after_a_restart_say_run_the_setup_cell(lesson):
    """In a fresh kernel where only the visible check cells run (a restart, then a click on a
    check): does each one fail with "run the setup cell first", never a NameError?"""
    nb = _cells(
        lesson, "lessons", lambda c: _is_test(c) and "check(" in "".join(c.get("source", ""))
    )
    assert nb.cells
    for text in _texts(_run(nb, lesson)):
        assert SETUP_FIRST in text, text
        assert "NameError" not in text and "Traceback" not in text, text


@pytest.mark.slow
@pytest.mark.parametrize(
    ("order", "expected"),
    [
        (("softmax", "test_softmax_values"), [SETUP_FIRST, "name 'np' is not defined"]),
        (("setup", "test_softmax_values"), ["softmax is not defined: run its answer cell"]),
        (("self_check",), [SETUP_FIRST]),
    ],
    ids=["answer then check", "setup then check", "self_check alone"],
)
def test_after_a_restart_every_order_of_cells_is_explained(order, expected):
    """After a restart, a few cells run in some order: does the last one say what to run first
    (np missing inside the student's function, the function not defined), never NameError?"""
    lesson = "02_softmax"
    source = nbformat.read(notebook_path("solutions", lesson), as_version=4)
    self_check_cell = [c for c in source.cells if c.cell_type == "code"][-1]
    assert "self_check()" in self_check_cell.source

    def name(cell) -> str:
        return "self_check" if cell is self_check_cell else nbgrader_meta(cell).get("grade_id")

    source.cells = [c for c in source.cells if name(c) in order]
    assert [name(c) for c in source.cells] == list(order)
    text = _texts(_run(source, lesson))[-1]
    for phrase in expected:
        assert phrase in text, text
    assert "Traceback" not in text, text

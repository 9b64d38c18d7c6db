"""Does `python -m autograder check NB` tell a student everything a failing check said: the
headline and the diagnosis in full, then the worked example?"""

from __future__ import annotations

import json

import numpy as np
import pytest
from lesson_helpers import notebook_path, read_nb, replace_answer

import nnkit
from autograder import cli, framework
from autograder.instructor.student_check import _message

DB_MEAN = """
def linear_forward(x, W, b):
    return x @ W.T + b, (x, W, b)


def linear_backward(dout, cache):
    x, W, b = cache
    return dout @ W, dout.T @ x, dout.mean(axis=0)
"""


def _in_process_message(part: str) -> list[str]:
    """What the same check says in-process (the oracle): headline, then the message lines."""
    ns: dict = {"np": np, "nnkit": nnkit}
    exec(DB_MEAN, ns)
    found = framework.find_part("linear_backward", part)
    ok, message, _ = framework._run_part(found, ns["linear_backward"], (ns["linear_forward"],))
    assert not ok
    points = f"{found.points} point" + ("s" if found.points != 1 else "")
    return [f"✗ linear_backward · {part}: 0 of {points}", *message.splitlines()]


@pytest.mark.slow
def test_check_prints_each_failure_in_full_diagnosis_before_example(tmp_path, capsys):
    """A saved lesson whose db is averaged: is every line of each failing check's message in
    the report (nothing cut), with "This looks like" before the worked example?"""
    lesson = "03_backprop"
    nb = replace_answer(read_nb(notebook_path("lessons", lesson)), "linear_forward", DB_MEAN)
    path = tmp_path / f"{lesson}.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    assert cli.main(["check", str(path), "--timeout", "60"]) == 1
    out = capsys.readouterr().out
    report = [line.strip() for line in out.splitlines()]
    for part in ("values", "gradient"):
        expected = _in_process_message(part)
        assert any("This looks like:" in line for line in expected)  # a named diagnosis
        missing = [line for line in expected if line.strip() not in report]
        assert not missing, f"cut from the report: {missing}\n{out}"
    values = report.index("✗ linear_backward · values: 0 of 2 points")
    diagnosis = next(i for i, line in enumerate(report) if line.startswith("This looks like"))
    example = next(i for i, line in enumerate(report) if line.startswith("Worked example"))
    assert values < diagnosis < example


def test_a_long_worked_example_goes_after_the_hints():
    """Outputs of a failing cell (hints on stdout, then the error): is the order headline,
    diagnosis, hints, example, and is any other error shown with its name?"""
    outputs = [
        {"output_type": "stream", "name": "stdout", "text": "  hint: your code printed 3\n"},
        {
            "output_type": "error",
            "ename": "CheckFailed",
            "evalue": "✗ f · values: 0 of 2 points\n  On the case x: differs.\n"
            "    This looks like: a sign error.\n    Worked example: input [[1, 2],\n"
            " [3, 4]]\n    expected [1]\n    got      [2]",
        },
    ]
    lines = [line.strip() for line in _message(outputs).splitlines()]
    assert lines[:4] == [
        "✗ f · values: 0 of 2 points",
        "On the case x: differs.",
        "This looks like: a sign error.",
        "hint: your code printed 3",
    ]
    assert lines[4].startswith("Worked example") and lines[-1] == "got      [2]"
    other = [{"output_type": "error", "ename": "NameError", "evalue": "name 'np' is not defined"}]
    assert _message(other) == "NameError: name 'np' is not defined"

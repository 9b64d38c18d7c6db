"""``check`` (for students): run the *saved* notebook in a fresh kernel, as grading will.

Prints each visible test's result and points, what remains hidden, and two warnings grading
would otherwise teach the hard way:

* unsaved work: an answer cell of the saved file is still the stub (``raise
  NotImplementedError``) although the file's outputs show it ran, or a test that passed in the
  saved outputs fails in the fresh run;
* out-of-order execution: the saved execution counts do not increase down the notebook.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from .course import _source, grade_id_of

STUB = "raise NotImplementedError"


@dataclass
class CheckReport:
    visible: list[tuple[str, float, float, str]] = field(default_factory=list)  # id, got, max, msg
    hidden: list[tuple[str, float]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def earned(self) -> float:
        return sum(got for _, got, _, _ in self.visible)

    @property
    def all_passed(self) -> bool:
        return all(got >= pts for _, got, pts, _ in self.visible)


def _meta(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _is_test(cell: dict) -> bool:
    m = _meta(cell)
    return bool(m.get("grade")) and not m.get("solution") and cell.get("cell_type") == "code"


def _is_hidden(cell: dict) -> bool:
    """A released hidden test cell has no code left, only comments."""
    lines = [line.strip() for line in _source(cell).splitlines() if line.strip()]
    return all(line.startswith("#") for line in lines)


def _failed(outputs: list[dict]) -> bool:
    return any(
        o.get("output_type") == "error"
        or (o.get("output_type") == "stream" and o.get("name") == "stderr")
        for o in outputs
    )


def _message(outputs: list[dict]) -> str:
    """What a failing test cell told the student, in full and in this order: the check's
    headline (``✗ fn · part: 0 of N points``) and diagnosis, the hints it printed, then its
    worked example (inputs, expected, got), which can be long and is last in the message.

    Any error other than ``CheckFailed`` is shown as ``Name: message``.
    """
    diagnosis, example, printed = [], [], []
    for o in outputs:
        if o.get("output_type") == "stream":
            text = o.get("text", "")
            printed += ("".join(text) if isinstance(text, list) else text).splitlines()
        elif o.get("output_type") == "error":
            name, value = o.get("ename", ""), o.get("evalue", "")
            lines = (value if name == "CheckFailed" else f"{name}: {value}").splitlines()
            start = next((i for i, line in enumerate(lines) if _EXAMPLE.match(line)), len(lines))
            diagnosis += lines[:start]
            example += lines[start:]
    return "\n".join(line.rstrip() for line in diagnosis + printed + example if line.strip())


_EXAMPLE = re.compile(r"^\s*Worked example\b")


def static_warnings(nb: dict) -> list[str]:
    """Warnings from the saved file alone: execution order, stubs that seem to have run."""
    warnings = []
    counts = [
        c.get("execution_count")
        for c in nb.get("cells", [])
        if c.get("cell_type") == "code" and c.get("execution_count") is not None
    ]
    if any(b <= a for a, b in pairwise(counts)):
        warnings.append(
            "cells were run out of order (execution counts do not increase down the notebook); "
            "grading runs them top to bottom — use Kernel > Restart Kernel and Run All Cells"
        )
    cells = nb.get("cells", [])
    for i, cell in enumerate(cells):
        if not _meta(cell).get("solution") or STUB not in _source(cell):
            continue
        ran = cell.get("execution_count") is not None
        later = [c for c in cells[i + 1 :] if _is_test(c) and c.get("outputs")]
        passed_later = any(not _failed(c["outputs"]) and not _is_hidden(c) for c in later[:1])
        if ran and passed_later:
            warnings.append(
                f"answer cell {grade_id_of(cell)!r} is still the stub in the saved file, but the "
                "saved outputs show your code ran: save the notebook (Ctrl+S) and check again"
            )
    return warnings


def check_notebook(path: Path, timeout: int = 60) -> CheckReport:
    """Run a copy of the saved notebook in a fresh kernel and collect the test results."""
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    saved = json.loads(path.read_text(encoding="utf-8"))
    report = CheckReport(warnings=static_warnings(saved))
    nb = nbformat.reads(json.dumps(saved), as_version=4)
    client = NotebookClient(
        copy.deepcopy(nb),
        timeout=timeout,
        allow_errors=True,
        interrupt_on_timeout=True,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent.resolve())}},
        extra_arguments=["--HistoryManager.hist_file=:memory:", "--IPKernelApp.log_level=ERROR"],
    )
    ran = client.execute()
    saved_cells = {grade_id_of(c): c for c in saved.get("cells", []) if grade_id_of(c)}
    for cell in ran.cells:
        if not _is_test(cell):
            continue
        gid, pts = grade_id_of(cell), float(_meta(cell).get("points", 0))
        if _is_hidden(cell):
            report.hidden.append((gid, pts))
            continue
        outputs = [dict(o) for o in cell.get("outputs", [])]
        failed = _failed(outputs)
        report.visible.append((gid, 0.0 if failed else pts, pts, _message(outputs)))
        before = saved_cells.get(gid, {}).get("outputs")
        if failed and before and not _failed(before):
            report.warnings.append(
                f"{gid} passed in your saved outputs but fails in a fresh kernel: unsaved "
                "changes, or code that depends on cells run out of order or since deleted"
            )
    return report


def format_report(report: CheckReport, name: str) -> str:
    lines = [f"Checking {name} in a fresh kernel, as grading will."]
    for gid, got, pts, msg in report.visible:
        mark = "PASS" if got >= pts else "FAIL"
        lines.append(f"  [{mark}] {gid}: {got:g}/{pts:g}")
        if mark == "FAIL" and msg:
            lines.extend("         " + line for line in msg.splitlines())
    total = sum(p for _, _, p, _ in report.visible)
    lines.append(f"Visible tests: {report.earned:g} of {total:g} points.")
    if report.hidden:
        pts = sum(p for _, p in report.hidden)
        lines.append(
            f"Hidden tests: {len(report.hidden)} cells worth {pts:g} points run only when your "
            "notebook is graded."
        )
    for warning in report.warnings:
        lines.append(f"WARNING: {warning}")
    return "\n".join(lines)


def main(path: Path, timeout: int = 60) -> int:
    """Print the report; exit status 0 when every visible test passes and nothing is amiss."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"notebook {str(path)!r} does not exist")
    try:
        report = check_notebook(path, timeout=timeout)
    except ValueError as exc:
        print(f"{path} is not a readable notebook: {exc}")
        return 2
    print(format_report(report, str(path)))
    return 0 if report.all_passed and not report.warnings else 1


__all__: list[Any] = ["CheckReport", "check_notebook", "format_report", "main", "static_warnings"]

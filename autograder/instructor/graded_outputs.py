"""What the graded notebook says: per test cell its points, message, signatures and mistakes.

Three of the worker's grading steps (:data:`.grade_steps.GRADE_STEPS`), run after nbgrader has
scored the notebook, reading its outputs (evidence only: the kernel ran student code):

* :func:`read_outputs`: per test cell, the student's message (printed lines and the error's
  name and message, never a traceback) and what went wrong (time, memory, a dead kernel, a
  locked cell that failed before any student code ran);
* :func:`verify_signatures`: a test cell keeps its points only if every ``check`` of its
  (restored) source printed a valid signature of this kernel's key ("unverified pass");
* :func:`record_mistakes`: for every test cell that lost points, the mistake each of its
  checks found, from the warden's signed ledger window of that cell (``STATE.windows``).
"""

from __future__ import annotations

import json

from . import kernel_boot, pipeline
from .course import grade_id_of
from .pipeline import Submission
from .worker_state import STATE


def _text(output: dict) -> str:
    text = output.get("text", "")
    return "".join(text) if isinstance(text, list) else str(text)


def _student_message(outputs: list[dict], hidden: bool) -> str:
    """Printed lines plus the error's name and message; never a traceback."""
    lines = []
    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream" and out.get("name") == "stdout":
            lines.append(kernel_boot.strip_signatures(_text(out)).rstrip("\n"))
        elif kind == "error":
            ename, evalue = out.get("ename", "Error"), str(out.get("evalue", ""))
            if ename == "CheckFailed":
                if evalue and evalue not in "\n".join(lines):
                    lines.append(evalue)
            elif hidden:  # the error text of a hidden test may quote hidden inputs or values
                lines.append(f"{ename} in a hidden check (details stay hidden)")
            else:
                lines.append(f"{ename}: {evalue}".strip(": "))
    message = "\n".join(line for line in lines if line)
    return message[:4000]


def _graded_code_cells(sub: Submission) -> list[tuple[str, dict]]:
    """``(grade_id, cell)`` of the graded notebook's code cells, first occurrence of each id;
    read once per submission (the steps below each walk them)."""
    if sub.graded_cells is None or sub.graded_cells[0] != sub.autograded:
        nb = json.loads(sub.autograded.read_text(encoding="utf-8"))
        seen: dict[str, dict] = {}
        for cell in nb.get("cells", []):
            gid = grade_id_of(cell)
            if cell.get("cell_type") == "code" and gid and gid not in seen:
                seen[gid] = cell
        sub.graded_cells = (sub.autograded, list(seen.items()))
    return sub.graded_cells[1]


def read_outputs(sub: Submission) -> None:
    """Per test: points and student message; statuses and hints from what the cells printed."""
    info = sub.lesson_info
    if sub.autograded is None:
        if not sub.statuses:
            sub.flag(pipeline.GRADER_CRASHED, "nbgrader produced no graded notebook")
        return
    answered = False  # has an answer cell (student code) run yet?
    for gid, cell in _graded_code_cells(sub):
        outputs = cell.get("outputs", [])
        enames = [o.get("ename") for o in outputs if o.get("output_type") == "error"]
        answered = answered or gid in info["answers"]
        if enames and not answered and gid not in info["grades"]:
            # a locked cell (the lesson's setup) failed before any student code ran: the
            # grading environment is broken, and every score of this notebook would be a lie
            error = next(o for o in outputs if o.get("output_type") == "error")
            sub.flag(
                pipeline.GRADER_CRASHED,
                f"the locked cell {gid} failed before any answer cell ran "
                f"({error.get('ename')}: {str(error.get('evalue', ''))[:200]}); "
                "the grading environment is broken, not the notebook",
            )
        if "CellTimeoutError" in enames or "TimeLimitExceeded" in enames:
            sub.flag(pipeline.TIMED_OUT, f"{gid} ran out of time")
        if "MemoryError" in enames:
            sub.flag(pipeline.OUT_OF_MEMORY, f"{gid} ran out of memory")
        if "DeadKernelError" in enames:
            sub.flag(pipeline.KERNEL_DIED, f"the kernel died in {gid}")
        if gid in info["answers"]:
            if "NotImplementedError" in enames:
                sub.hint(pipeline.NOT_ATTEMPTED, f"{gid} still raises NotImplementedError")
            elif enames:
                sub.hint(pipeline.ANSWER_ERROR, f"{gid} raised {enames[0]}")
            continue
        if gid not in info["grades"]:
            continue
        hidden = gid in info["hidden"]
        grade = sub.grades.get(gid, {})
        message = _student_message(outputs, hidden)
        if any(o.get("name") == "stderr" for o in outputs if o.get("output_type") == "stream"):
            sub.hint(pipeline.STDERR, f"{gid} wrote to stderr (nbgrader scores that 0)")
        if "NotImplementedError" in message:
            sub.hint(pipeline.NOT_ATTEMPTED, f"{gid} met an unfinished function")
        if "NaN" in message or " nan" in message:
            sub.hint(pipeline.NAN_OUTPUT, f"{gid} saw NaN values")
        sub.tests[gid] = {
            "score": grade.get("score"),
            "max": grade.get("max", info["grades"][gid]),
            "hidden": hidden,
            "message": message,
        }
    for gid in info["tests"]:
        if gid not in sub.tests:
            sub.tests[gid] = {
                "score": sub.grades.get(gid, {}).get("score", 0.0) or 0.0,
                "max": info["grades"][gid],
                "hidden": gid in info["hidden"],
                "message": "this test cell was missing from the submitted notebook",
            }


def verify_signatures(sub: Submission) -> None:
    """Zero every test cell whose ``check`` calls did not all print a valid signature.

    The kernel ran student code, so its outputs are only evidence; a signature is made by the
    warden in the kernel with a key this process generated, for a part that really passed."""
    checks = sub.lesson_info.get("checks") or {}
    if sub.autograded is None or not checks:
        return
    if STATE.key is None or STATE.boot_error:
        sub.flag(
            pipeline.GRADER_CRASHED,
            f"the kernel could not be switched to grading mode ({STATE.boot_error})",
        )
        for gid in checks:
            if gid in sub.grades:
                sub.grades[gid]["score"], sub.grades[gid]["manual"] = 0.0, True
        return
    for gid, cell in _graded_code_cells(sub):
        if gid not in checks:
            continue
        grade = sub.grades.get(gid)
        if not grade or not grade.get("score"):
            continue
        stdout = "".join(
            _text(o)
            for o in cell.get("outputs", [])
            if o.get("output_type") == "stream" and o.get("name") == "stdout"
        )
        missing = kernel_boot.verified(STATE.key, sub.lesson, checks[gid], stdout)
        if missing:
            grade["score"] = 0.0
            sub.flag(pipeline.UNVERIFIED, f"{gid}: no valid pass from " + ", ".join(missing))
            if gid in sub.tests:
                sub.tests[gid]["score"] = 0.0
                sub.tests[gid]["message"] = (
                    sub.tests[gid].get("message", "") + "\n(0 points: the grader could not "
                    "confirm that the check ran and passed)"
                ).strip()


# Why a failing check has no mistake from the ledger, from what the worker itself saw
_CELL_FATES = (
    ({"CellTimeoutError", "TimeLimitExceeded"}, "timed out", "the cell ran out of time"),
    ({"MemoryError"}, "out of memory", "the cell ran out of memory"),
    ({"DeadKernelError", "KernelNotRunning"}, "kernel died", "the kernel died before or here"),
)
UNVERIFIED_MISTAKE = (
    "unverified",
    "no signed record of this check alone reached the grader, so its mistake is unknown",
)
NOT_SCORED = (
    "passed, not scored",
    "the check passed, but the cell earned no points (stderr output, or an error after it)",
)


def record_mistakes(sub: Submission) -> None:
    """For every test cell that lost points: the mistake each of its checks found.

    ``sub.tests[gid]["mistakes"]`` lists ``{"function", "part", "mistake", "headline"}`` per
    failing check, from the warden's ledger entries of that cell, which must be exactly the
    cell's own ``check`` calls (its restored source), in order; anything else (no entry, a
    ledger that could not be read, extra checks run by the notebook while the cell ran) makes
    them "unverified", or says what the worker saw instead (timed out, kernel died, ...).
    """
    checks = sub.lesson_info.get("checks") or {}
    if sub.autograded is None or not checks:
        return
    outputs = {
        gid: {o.get("ename") for o in cell.get("outputs", []) if o.get("output_type") == "error"}
        for gid, cell in _graded_code_cells(sub)
    }
    for gid, calls in checks.items():
        test = sub.tests.get(gid)
        if test is None:
            continue
        if (test.get("score") or 0) >= test.get("max", 0):
            test["mistakes"] = []
            continue
        window = STATE.windows.get(gid, "the cell did not run")
        own = isinstance(window, list) and [(o.lesson, o.function, o.part) for o in window] == [
            (sub.lesson, f, p) for f, p in calls
        ]
        if isinstance(window, list) and not own:
            sub.details.append(
                f"{gid}: the ledger holds {len(window)} check(s) for this cell's {len(calls)}; "
                "its mistakes count as unverified"
            )
        if own:
            failed = [o for o in window if not o.passed]
            found = [(o.function, o.part, o.mistake, o.headline) for o in failed]
            found = found or [(f, p, *NOT_SCORED) for f, p in calls]
        else:
            fate = next((f for f in _CELL_FATES if f[0] & outputs.get(gid, set())), None)
            reason = fate[1:] if fate is not None else UNVERIFIED_MISTAKE
            found = [(f, p, *reason) for f, p in calls]
        mistakes = [
            {"function": f, "part": p, "mistake": mistake, "headline": headline}
            for f, p, mistake, headline in found
        ]
        test["mistakes"] = mistakes

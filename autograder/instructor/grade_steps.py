"""The grading steps a worker runs per submission, in order: :data:`GRADE_STEPS`.

The kernel-free inspection steps of :mod:`.pipeline`, then :func:`autograde` (nbgrader's own
``Autograde`` converter, in-process, on the worker's private course, with
:class:`~.execute.GuardedExecute` in place of ``Execute`` and a watchdog that kills the kernel
once the submission exceeds its time limit), :func:`collect_grades` (the scores nbgrader saved
in the worker's gradebook), then the steps that read the graded notebook
(:mod:`.graded_outputs`).
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.converters import Autograde
from nbgrader.converters.base import NbGraderException
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import Execute

from . import pipeline
from .execute import GuardedExecute, TruncateOutputs
from .graded_outputs import read_outputs, record_mistakes, verify_signatures
from .kernels import _kill_group
from .pipeline import Submission
from .worker_state import STATE


def _rmtree(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)


def autograde(sub: Submission) -> None:
    """nbgrader's Autograde converter, in-process, on the worker's private course."""
    w = STATE.course
    nb_name = sub.lesson_info["notebook"]
    dest = w.root / "submitted" / sub.student / sub.lesson
    _rmtree(dest)
    dest.mkdir(parents=True)
    (dest / f"{nb_name}.ipynb").write_bytes(sub.data)
    stamp = sub.path.parent / "timestamp.txt"
    if stamp.is_file():
        shutil.copyfile(stamp, dest / "timestamp.txt")
    out = w.root / "autograded" / sub.student / sub.lesson
    _rmtree(out)

    cfg = w.config.copy()
    cfg.CourseDirectory.assignment_id = sub.lesson
    cfg.CourseDirectory.student_id = sub.student
    cell_timeout = int(cfg.Execute.get("timeout", 30) or 30)
    limit = STATE.limits
    cell_timeout = min(cell_timeout, limit.cell_timeout or cell_timeout, max(1, int(limit.timeout)))
    cfg.Execute.timeout = cell_timeout
    coursedir = CourseDirectory(config=cfg)
    converter = Autograde(coursedir=coursedir, config=cfg)
    steps = [GuardedExecute if p is Execute else p for p in converter.autograde_preprocessors]
    steps.insert(steps.index(GuardedExecute) + 1, TruncateOutputs)
    converter.autograde_preprocessors = steps

    STATE.timed_out, STATE.kernel_pid = False, None
    remaining = max(1.0, STATE.deadline - time.monotonic())
    watchdog = threading.Timer(remaining, _time_is_up)
    watchdog.daemon = True
    watchdog.start()
    errors = _ErrorLines()
    converter.log.addHandler(errors)
    try:
        converter.start()
    except NbGraderException:
        sub.details.append(f"nbgrader could not grade this notebook ({errors.reason()})")
    finally:
        converter.log.removeHandler(errors)
        watchdog.cancel()
    notebook = out / f"{nb_name}.ipynb"
    sub.autograded = notebook if notebook.is_file() else None


class _ErrorLines(logging.Handler):
    """The errors nbgrader logs while it grades one notebook (the worker's log is removed
    with the run's folder, so the reason must travel with the result)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.extend(record.getMessage().strip().splitlines())

    def reason(self) -> str:
        """The last exception line of a logged traceback, else the last error logged."""
        for line in reversed(self.lines):
            head = line.split(":", 1)[0]
            if head and not line.startswith(" ") and head.replace(".", "").isidentifier():
                if head.endswith(("Error", "Exception", "Exit", "Interrupt")):
                    return line[:300]
        return self.lines[-1][:300] if self.lines else "no error was logged"


def _time_is_up() -> None:
    STATE.timed_out = True
    if STATE.kernel_pid:
        _kill_group(STATE.kernel_pid)


def collect_grades(sub: Submission) -> None:
    """Scores nbgrader saved in the worker's gradebook."""
    nb_name = sub.lesson_info["notebook"]
    with Gradebook(STATE.course.db_url()) as gb:
        try:
            nb = gb.find_submission_notebook(nb_name, sub.lesson, sub.student)
        except MissingEntry:
            sub.zero_grades()
            return
        sub.grades = {
            g.name: {
                "score": None if g.auto_score is None else float(g.auto_score),
                "max": float(g.max_score),
                "manual": bool(g.needs_manual_grade),
            }
            for g in nb.grades
        }
        sub.comments = {c.name: c.auto_comment for c in nb.comments}
    if sub.autograded is None:
        for grade in sub.grades.values():
            grade["score"], grade["manual"] = 0.0, True


GRADE_STEPS: list[pipeline.Step] = [
    *pipeline.INSPECT_STEPS,
    autograde,
    collect_grades,
    read_outputs,
    verify_signatures,
    record_mistakes,
]

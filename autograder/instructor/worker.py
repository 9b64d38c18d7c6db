"""A long-lived grading worker: nbgrader imported once, each submission in its own fresh kernel.

The parent (``autograder.instructor.grade``) starts N of these and sends them one task at a time
over a pipe. A worker owns a private course folder (:class:`~.worker_state.WorkerCourse`): a
symlink to the course's source notebooks and its *own copy* of the gradebook, so workers never
write the course's gradebook (the parent copies each result into it, in one place). Per task it
runs :data:`~.grade_steps.GRADE_STEPS`: the kernel-free inspection steps of :mod:`.pipeline`,
then nbgrader's own ``Autograde`` converter in-process (sanitize, restore tampered cells,
execute, score), then reads the grades back.

Limits, per submission:

* memory: ``RLIMIT_AS`` set on the kernel process right after it starts (``prlimit``), so a
  runaway allocation raises ``MemoryError`` inside the kernel instead of hurting the machine
  (:class:`~.kernels.LimitedKernelManager`);
* wall clock: each cell gets nbgrader's per-cell timeout (capped by the submission's limit), and a
  watchdog kills the kernel once the whole submission exceeds its limit (:mod:`.grade_steps`);
* a dying kernel (``os._exit``, a segfault, the watchdog) no longer aborts nbgrader's run:
  :class:`~.execute.GuardedExecute` marks the cell that killed it and every later cell as
  failed, so nbgrader still scores the cells that ran before.

Trust, per submission (see :mod:`.kernel_boot`):

* every kernel gets a private folder (its working directory, ``TMPDIR``, ``IPYTHONDIR``) and
  is started by ``kernel_boot``, which confines it with Landlock before ipykernel starts: it
  cannot write outside that folder, read the course folder, open sockets or signal the worker
  (:mod:`.kernels`);
* before the first cell, the worker runs ``kernel_boot.boot()`` in it: grading mode with a
  random per-kernel key that only the worker and the warden know (:mod:`.execute`);
* after nbgrader has scored the notebook, :func:`~.graded_outputs.verify_signatures` keeps the
  points of a test cell only if every ``check`` of its (restored) source printed a valid
  signature; a test cell that merely did not raise earns nothing ("unverified pass");
* after every cell, :class:`~.execute.GuardedExecute` reads the warden's signed ledger of the
  checks that ran during it (:func:`kernel_boot.read_ledger`), and
  :func:`~.graded_outputs.record_mistakes` stores, for every check of a test cell that lost
  points, the mistake it found, or why none is known ("unverified" when the cell's checks left
  no valid record, or more than its own);
* the worker is a child subreaper: whatever a kernel started is killed after its submission.

This module is the worker process itself (:func:`worker_main`, :func:`grade_task`); the names
that lived here before it was split into modules are still importable from here.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from . import pipeline
from .grade_steps import GRADE_STEPS
from .kernels import WARM, _kill_group
from .pipeline import Submission
from .worker_state import STATE, Limits, WorkerCourse

# Names of the worker that other code imports from here (the grader, tests).
from .graded_outputs import read_outputs as read_outputs  # isort: skip
from .graded_outputs import record_mistakes as record_mistakes  # isort: skip
from .graded_outputs import verify_signatures as verify_signatures  # isort: skip
from .kernels import LimitedKernelManager as LimitedKernelManager  # isort: skip


KERNEL_ENV = {
    # One BLAS thread per kernel: N workers already use the N cores.
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MPLBACKEND": "Agg",
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
}


def grade_task(task: dict[str, Any]) -> dict[str, Any]:
    """Grade one (student, lesson) submission; never raises."""
    started = time.monotonic()
    STATE.key, STATE.boot_error, STATE.windows = None, None, {}
    STATE.tests = frozenset(task["lesson_info"].get("checks") or ())
    STATE.salt = bytes.fromhex(task.get("salt", ""))
    STATE.limits = Limits(**task["limits"])
    STATE.deadline = started + STATE.limits.timeout
    sub = Submission(
        student=task["student"],
        lesson=task["lesson"],
        path=Path(task["path"]),
        lesson_info=task["lesson_info"],
        all_lessons=task["all_lessons"],
    )
    try:
        pipeline.run_steps(sub, GRADE_STEPS)
    except Exception as exc:  # a bug or an unreadable file: record it, keep the worker alive
        logging.getLogger("autograder.worker").exception("grading %s failed", task["path"])
        sub.flag(pipeline.GRADER_CRASHED, f"{type(exc).__name__}: {exc}")
        if not sub.grades:
            sub.zero_grades()
    sub.seconds = time.monotonic() - started
    return sub.result()


def _become_subreaper() -> None:
    """Orphans of this worker's kernels (a daemonised process) become its children."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except Exception:  # pragma: no cover - not Linux
        pass


def _children() -> list[int]:
    me, out = os.getpid(), []
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == me:
            out.append(int(entry.name))
    return out


def _kill_strays() -> None:
    """Kill every child of this worker except the kernel started ahead for the next task."""
    keep = {getattr(WARM.km, "kernel_pid", None)} if WARM.km is not None else set()
    for _ in range(5):
        strays = [pid for pid in _children() if pid not in keep]
        if not strays:
            return
        for pid in strays:
            _kill_group(pid)
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        time.sleep(0.05)


def _warm_caches() -> None:
    """Build matplotlib's font cache once, in this worker; every kernel starts with a copy.

    A confined kernel may write only inside its own folder, so it gets its own
    ``MPLCONFIGDIR`` there (:class:`LimitedKernelManager`); without a cache matplotlib would
    rebuild it in every kernel, and without a writable folder it would fail at import."""
    try:
        import matplotlib
        import matplotlib.font_manager  # builds the cache

        STATE.font_caches = tuple(Path(matplotlib.get_cachedir()).glob("fontlist-*.json"))
    except Exception:  # pragma: no cover
        STATE.font_caches = ()


def _setup_logging(log_path: Path) -> None:
    handler = logging.FileHandler(log_path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    for name in ("traitlets", "autograder.worker", "nbgrader"):
        log = logging.getLogger(name)
        log.handlers[:] = [handler]
        log.setLevel(logging.WARNING)
        log.propagate = False


def worker_main(conn: Any, root: str, course_root: str, template_db: str) -> None:
    """Entry point of a worker process: receive tasks, send results, until told to stop."""
    from .course import Course

    os.environ.update(KERNEL_ENV)
    course = Course(Path(course_root))
    STATE.course = WorkerCourse(Path(root), course.config(), course.source_dir, Path(template_db))
    _setup_logging(Path(root) / "worker.log")
    STATE.conn = conn
    # kernels may not read the course (gradebook, submissions, solutions) nor the workers' copies
    STATE.hide = (str(course.root), str(Path(root).parent))
    _become_subreaper()
    _warm_caches()
    conn.send(("ready", os.getpid()))
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            WARM.shutdown()
            return
        fault = task.get("fault")
        if fault == "crash-worker":  # fault injection for the supervisor's tests
            os._exit(3)
        result = grade_task(task)
        _kill_strays()
        conn.send(("result", result))

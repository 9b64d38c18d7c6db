"""A long-lived grading worker: nbgrader imported once, each submission in its own fresh kernel.

The parent (``autograder.instructor.grade``) starts N of these and sends them one task at a time
over a pipe. A worker owns a private course folder: a symlink to the course's source notebooks
and its *own copy* of the gradebook, so workers never write the course's gradebook (the parent
copies each result into it, in one place). Per task it runs :data:`GRADE_STEPS`: the
kernel-free inspection steps of :mod:`.pipeline`, then nbgrader's own ``Autograde`` converter
in-process (sanitize, restore tampered cells, execute, score), then reads the grades back.

Limits, per submission:

* memory: ``RLIMIT_AS`` set on the kernel process right after it starts (``prlimit``), so a
  runaway allocation raises ``MemoryError`` inside the kernel instead of hurting the machine;
* wall clock: each cell gets nbgrader's per-cell timeout (capped by the submission's limit), and a
  watchdog kills the kernel once the whole submission exceeds its limit;
* a dying kernel (``os._exit``, a segfault, the watchdog) no longer aborts nbgrader's run:
  :class:`GuardedExecute` marks the cell that killed it and every later cell as failed, so
  nbgrader still scores the cells that ran before.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import shutil
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbclient.exceptions import DeadKernelError
from nbclient.util import run_sync as nb_run_sync
from nbconvert.preprocessors import Preprocessor
from nbformat.notebooknode import NotebookNode
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.converters import Autograde
from nbgrader.converters.base import NbGraderException
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import Execute
from traitlets import Bool

from . import pipeline
from .course import grade_id_of
from .pipeline import Submission

KERNEL_ENV = {
    # One BLAS thread per kernel: N workers already use the N cores.
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MPLBACKEND": "Agg",
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
}


@dataclass
class Limits:
    """Per-submission limits: wall clock in seconds, address space in bytes (0 = none)."""

    timeout: float = 120.0
    memory: int = 2 * 1024**3
    cell_timeout: int | None = None


class _State:
    """What the running task's kernel manager and watchdog share with the worker loop."""

    conn: Any = None
    limits: Limits = Limits()
    kernel_pid: int | None = None
    timed_out: bool = False
    deadline: float = 0.0


STATE = _State()


def _kill_group(pid: int) -> None:
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
            return
        except (ProcessLookupError, PermissionError):
            continue


class LimitedKernelManager(AsyncKernelManager):
    """Starts the kernel, then caps its address space and tells the parent its pid."""

    async def start_kernel(self, **kw: Any) -> None:
        await super()._async_start_kernel(**kw)
        pid = self.provisioner.pid if self.provisioner else None
        self.kernel_pid = pid
        if pid is None:
            return
        if STATE.limits.memory:
            limit = int(STATE.limits.memory)
            resource.prlimit(pid, resource.RLIMIT_AS, (limit, limit))
        if STATE.conn is not None:
            STATE.conn.send(("kernel", pid))


class WarmKernel:
    """One kernel started ahead for the *next* submission, so its boot overlaps this one's run.

    It is still a fresh kernel per submission (never reused); it only starts earlier, with the
    same limits, and moves to the submission's folder before the first cell runs.
    """

    def __init__(self) -> None:
        self.km: LimitedKernelManager | None = None

    def take(self) -> LimitedKernelManager | None:
        km, self.km = self.km, None
        if km is not None and not run_sync(km.is_alive)():
            self._stop(km)
            return None
        return km

    def prestart(self, config: Any, kernel_name: str, extra_arguments: list[str], cwd: str) -> None:
        if self.km is not None:
            return
        km = LimitedKernelManager(config=config, kernel_name=kernel_name)
        try:
            run_sync(km.start_kernel)(extra_arguments=extra_arguments, cwd=cwd)
        except Exception:  # no warm kernel: nbclient starts one itself
            logging.getLogger("autograder.worker").exception("could not start a warm kernel")
            return
        self.km = km

    @staticmethod
    def _stop(km: LimitedKernelManager) -> None:
        try:
            run_sync(km.shutdown_kernel)(now=True)
        except Exception:
            if getattr(km, "kernel_pid", None):
                _kill_group(km.kernel_pid)

    def shutdown(self) -> None:
        if self.km is not None:
            self._stop(self.km)
            self.km = None


WARM = WarmKernel()


class TruncateOutputs(Preprocessor):
    """Cap every text output (nbgrader's ``LimitOutput`` counts lines; 100 MB is one line)."""

    enabled = Bool(True)
    max_chars = 20_000

    def preprocess_cell(self, cell, resources, index):
        for out in cell.get("outputs", []):
            if "text" in out and len(out["text"]) > self.max_chars:
                cut = len(out["text"]) - self.max_chars
                out["text"] = out["text"][: self.max_chars] + f"\n... [{cut} more characters cut]\n"
        return cell, resources


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(
        output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]
    )


class GuardedExecute(Execute):
    """nbgrader's Execute that survives the death of the kernel (see the module docstring)
    and takes a kernel started ahead (:class:`WarmKernel`) when one is ready."""

    use_warm_kernel = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["kernel_manager_class"] = LimitedKernelManager
        super().__init__(*args, **kwargs)
        self._dead: str | None = None
        self._chdir: str | None = None

    def preprocess(self, nb, resources=None, km=None):
        self._dead = None
        warm = WARM.take() if self.use_warm_kernel and km is None else None
        self._chdir = (resources or {}).get("metadata", {}).get("path") if warm else None
        if self.use_warm_kernel and WORKER is not None:
            name = nb.metadata.get("kernelspec", {}).get("name", "python3")
            WARM.prestart(self.config, name, list(self.extra_arguments), str(WORKER.root))
        try:
            return super().preprocess(nb, resources, warm or km)
        finally:
            if warm is not None:
                if self.kc is not None:
                    self.kc.stop_channels()
                WarmKernel._stop(warm)

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        STATE.kernel_pid = getattr(self.km, "kernel_pid", None) or self.km.provisioner.pid
        if STATE.timed_out:
            _kill_group(STATE.kernel_pid)
        if self._chdir:
            msg_id = kc.execute(
                f"import os as _os; _os.chdir({self._chdir!r}); del _os",
                silent=True,
                store_history=False,
            )
            await self.async_wait_for_reply(msg_id)
        return kc

    # nbclient binds the sync name to its own coroutine at class creation: rebind to ours
    start_new_kernel_client = nb_run_sync(async_start_new_kernel_client)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        if self._dead:
            cell.outputs = [_error("KernelNotRunning", f"not run: {self._dead}")]
            return cell, resources
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            if STATE.timed_out:
                self._dead = "the submission ran past its time limit and was stopped"
                cell.outputs.append(_error("TimeLimitExceeded", self._dead))
            else:
                self._dead = "the kernel died in an earlier cell"
                cell.outputs.append(
                    _error("DeadKernelError", "the kernel died while running this cell")
                )
            return cell, resources


# --------------------------------------------------------------------------------------------
# The worker's private course and the grading steps that need it


class WorkerCourse:
    """A private course folder: symlinked sources, its own gradebook copy, its own outputs."""

    def __init__(self, root: Path, course_config: Any, source_dir: Path, template_db: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        source_name = str(course_config.CourseDirectory.get("source_directory", "source"))
        link = root / source_name
        if not link.exists():
            link.symlink_to(source_dir, target_is_directory=True)
        self.db_path = root / "gradebook.db"
        shutil.copyfile(template_db, self.db_path)
        self.config = course_config.copy()
        self.config.CourseDirectory.root = str(root)
        self.config.CourseDirectory.db_url = f"sqlite:///{self.db_path}"
        self.config.BaseConverter.force = True

    def db_url(self) -> str:
        return f"sqlite:///{self.db_path}"


WORKER: WorkerCourse | None = None


def _rmtree(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)


def autograde(sub: Submission) -> None:
    """nbgrader's Autograde converter, in-process, on the worker's private course."""
    w = WORKER
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
    try:
        converter.start()
    except NbGraderException:
        sub.details.append("nbgrader could not grade this notebook (see the worker log)")
    finally:
        watchdog.cancel()
    notebook = out / f"{nb_name}.ipynb"
    sub.autograded = notebook if notebook.is_file() else None


def _time_is_up() -> None:
    STATE.timed_out = True
    if STATE.kernel_pid:
        _kill_group(STATE.kernel_pid)


def collect_grades(sub: Submission) -> None:
    """Scores nbgrader saved in the worker's gradebook."""
    nb_name = sub.lesson_info["notebook"]
    with Gradebook(WORKER.db_url()) as gb:
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


def _text(output: dict) -> str:
    text = output.get("text", "")
    return "".join(text) if isinstance(text, list) else str(text)


def _student_message(outputs: list[dict], hidden: bool) -> str:
    """Printed lines plus the error's name and message; never a traceback."""
    lines = []
    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream" and out.get("name") == "stdout":
            lines.append(_text(out).rstrip("\n"))
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


def read_outputs(sub: Submission) -> None:
    """Per test: points and student message; statuses and hints from what the cells printed."""
    info = sub.lesson_info
    if sub.autograded is None:
        if not sub.statuses:
            sub.flag(pipeline.GRADER_CRASHED, "nbgrader produced no graded notebook")
        return
    nb = json.loads(sub.autograded.read_text(encoding="utf-8"))
    seen: set[str] = set()
    for cell in nb.get("cells", []):
        gid = grade_id_of(cell)
        if cell.get("cell_type") != "code" or not gid or gid in seen:
            continue
        seen.add(gid)
        outputs = cell.get("outputs", [])
        enames = [o.get("ename") for o in outputs if o.get("output_type") == "error"]
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


GRADE_STEPS: list[pipeline.Step] = [
    *pipeline.INSPECT_STEPS,
    autograde,
    collect_grades,
    read_outputs,
]


# --------------------------------------------------------------------------------------------
# The worker process


def grade_task(task: dict[str, Any]) -> dict[str, Any]:
    """Grade one (student, lesson) submission; never raises."""
    started = time.monotonic()
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
    global WORKER
    WORKER = WorkerCourse(Path(root), course.config(), course.source_dir, Path(template_db))
    _setup_logging(Path(root) / "worker.log")
    STATE.conn = conn
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
        conn.send(("result", result))

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

Trust, per submission (see :mod:`.kernel_boot`):

* every kernel gets a private folder (its working directory, ``TMPDIR``, ``IPYTHONDIR``) and
  is started by ``kernel_boot``, which confines it with Landlock before ipykernel starts: it
  cannot write outside that folder, read the course folder, open sockets or signal the worker;
* before the first cell, the worker runs ``kernel_boot.boot()`` in it: grading mode with a
  random per-kernel key that only the worker and the warden know;
* after nbgrader has scored the notebook, :func:`verify_signatures` keeps the points of a test
  cell only if every ``check`` of its (restored) source printed a valid signature; a test cell
  that merely did not raise earns nothing ("unverified pass");
* after every cell, :class:`GuardedExecute` reads the warden's signed ledger of the checks that
  ran during it (:func:`kernel_boot.read_ledger`), and :func:`record_mistakes` stores, for
  every check of a test cell that lost points, the mistake it found, or why none is known
  ("unverified" when the cell's checks left no valid record, or more than its own);
* the worker is a child subreaper: whatever a kernel started is killed after its submission.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import shutil
import signal
import tempfile
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

from . import kernel_boot, landlock, pipeline
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
    key: bytes | None = None  # signing key of the kernel that ran the current submission
    boot_error: str | None = None  # why that kernel could not be switched to grading mode
    hide: tuple[str, ...] = ()  # folders a kernel may not read (the course)
    salt: bytes = b""  # the course's secret for hidden parts' seeds (course.course_secret)
    font_caches: tuple[Path, ...] = ()  # matplotlib's font cache, copied into every kernel
    # per graded cell: the warden's ledger entries of the checks that ran during it, or why
    # they are unknown (see GuardedExecute._read_ledger)
    windows: dict[str, list[kernel_boot.LedgerEntry] | str] = {}  # noqa: RUF012 - new per task
    tests: frozenset[str] = frozenset()  # grade_ids of the lesson's test cells that call check


STATE = _State()


def _kill_group(pid: int) -> None:
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
            return
        except (ProcessLookupError, PermissionError):
            continue


# A Unix socket's path holds at most 107 bytes; the kernel's sockets are "<prefix>-<n>".
_MAX_SOCKET_PREFIX = 100


class LimitedKernelManager(AsyncKernelManager):
    """Starts a confined kernel in a private folder with a fresh signing key, then caps its
    address space and tells the parent its pid."""

    autograder_key: bytes | None = None
    autograder_dir: Path | None = None

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        if "-m" in cmd and "ipykernel_launcher" in cmd:  # run landlock.py by path, see there
            i = cmd.index("-m")
            if cmd[i + 1] == "ipykernel_launcher":
                cmd[i : i + 2] = [landlock.__file__]
        return cmd

    def _private_folder(self) -> Path:
        base = (WORKER.root if WORKER is not None else Path(tempfile.gettempdir())) / "kernels"
        base.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="k", dir=base))
        for sub in ("tmp", "ipython", "matplotlib"):
            (folder / sub).mkdir()
        for cache in STATE.font_caches:
            shutil.copyfile(cache, folder / "matplotlib" / cache.name)
        key = os.urandom(32)
        fd = os.open(folder / kernel_boot.KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key + STATE.salt)
        self.autograder_key, self.autograder_dir = key, folder
        return folder

    async def start_kernel(self, **kw: Any) -> None:
        folder = self._private_folder()
        env = dict(kw.pop("env", None) or os.environ)
        env.update(
            {
                kernel_boot.ENV_DIR: str(folder),
                kernel_boot.ENV_EXCLUDE: os.pathsep.join(STATE.hide),
                "TMPDIR": str(folder / "tmp"),
                "IPYTHONDIR": str(folder / "ipython"),
                "MPLCONFIGDIR": str(folder / "matplotlib"),
            }
        )
        kw["env"], kw["cwd"] = env, str(folder)
        sockets = str(folder / "zmq")
        if len(sockets.encode()) <= _MAX_SOCKET_PREFIX:
            # Unix sockets in the kernel's folder, not TCP ports: jupyter_client picks free TCP
            # ports by binding and releasing them, so two kernels starting at once (N workers,
            # each with a warm kernel) can be handed the same port, and one dies at start
            # (jupyter_client#154). A socket file in a private folder cannot collide.
            self.transport, self.ip, self.cache_ports = "ipc", sockets, False
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
    same limits, in its own private folder (see :class:`LimitedKernelManager`).
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
        if km.autograder_dir is not None:
            shutil.rmtree(km.autograder_dir, ignore_errors=True)

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
        self._since = 0  # ledger entries read so far
        self._ledger_lost: str | None = None  # why the ledger can no longer be trusted
        self._ask_after: set[int] = set()  # cells after which the ledger is read

    def preprocess(self, nb, resources=None, km=None):
        self._dead = None
        self._since, self._ledger_lost = 0, None
        # the ledger is read after every test cell, and before it (after the code cell that
        # precedes it), so that each test cell's window holds the checks of that cell alone
        code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
        tests = [k for k, i in enumerate(code) if grade_id_of(nb.cells[i]) in STATE.tests]
        self._ask_after = {code[k] for k in tests} | {code[k - 1] for k in tests if k > 0}
        warm = WARM.take() if self.use_warm_kernel and km is None else None
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
            elif self.km is not None and getattr(self.km, "autograder_dir", None):
                shutil.rmtree(self.km.autograder_dir, ignore_errors=True)

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        STATE.kernel_pid = getattr(self.km, "kernel_pid", None) or self.km.provisioner.pid
        if STATE.timed_out:
            _kill_group(STATE.kernel_pid)
        # Grading mode before the first cell of the notebook (kernel_boot.boot): the kernel
        # reads and deletes its key file; only then does any student code run.
        STATE.key = getattr(self.km, "autograder_key", None)
        STATE.boot_error = None
        msg_id = kc.execute(
            "import autograder.instructor.kernel_boot as _kb; _kb.boot(); del _kb",
            silent=True,
            store_history=False,
        )
        reply = await self.async_wait_for_reply(msg_id)
        content = (reply or {}).get("content", {})
        if content.get("status") != "ok":
            STATE.boot_error = f"{content.get('ename', 'no reply')}: {content.get('evalue', '')}"
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
            done = super().preprocess_cell(cell, resources, index)
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
        if index in self._ask_after:
            window = self._read_ledger()
            gid = grade_id_of(cell)
            if gid in STATE.tests and gid not in STATE.windows:
                STATE.windows[gid] = window
        return done

    def _read_ledger(self) -> list[kernel_boot.LedgerEntry] | str:
        """The checks that ran since the last call, from the warden's signed ledger."""
        if STATE.key is None or STATE.boot_error:
            return "the kernel is not in grading mode"
        if self._ledger_lost:
            return self._ledger_lost
        nonce = os.urandom(12).hex()
        expression = kernel_boot.ledger_expression(nonce, self._since)
        try:
            msg_id = self.kc.execute(
                "", silent=True, store_history=False, user_expressions={"ledger": expression}
            )
            reply = self.wait_for_reply(msg_id)
        except Exception as exc:  # a dead or stuck kernel: nothing after this is known
            self._ledger_lost = f"the ledger could not be read ({type(exc).__name__})"
            return self._ledger_lost
        answer = ((reply or {}).get("content", {}).get("user_expressions") or {}).get("ledger")
        text = ((answer or {}).get("data") or {}).get("text/plain", "")
        read = kernel_boot.read_ledger(STATE.key, nonce, self._since, str(text))
        if read is None:
            self._ledger_lost = "the kernel's answer for the ledger was not the warden's"
            return self._ledger_lost
        self._since, outcomes = read
        return outcomes


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


def _graded_code_cells(path: Path) -> list[tuple[str, dict]]:
    """``(grade_id, cell)`` of the graded notebook's code cells, first occurrence of each id."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    seen: dict[str, dict] = {}
    for cell in nb.get("cells", []):
        gid = grade_id_of(cell)
        if cell.get("cell_type") == "code" and gid and gid not in seen:
            seen[gid] = cell
    return list(seen.items())


def read_outputs(sub: Submission) -> None:
    """Per test: points and student message; statuses and hints from what the cells printed."""
    info = sub.lesson_info
    if sub.autograded is None:
        if not sub.statuses:
            sub.flag(pipeline.GRADER_CRASHED, "nbgrader produced no graded notebook")
        return
    answered = False  # has an answer cell (student code) run yet?
    for gid, cell in _graded_code_cells(sub.autograded):
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
    for gid, cell in _graded_code_cells(sub.autograded):
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
        for gid, cell in _graded_code_cells(sub.autograded)
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


GRADE_STEPS: list[pipeline.Step] = [
    *pipeline.INSPECT_STEPS,
    autograde,
    collect_grades,
    read_outputs,
    verify_signatures,
    record_mistakes,
]


# --------------------------------------------------------------------------------------------
# The worker process


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
    global WORKER
    WORKER = WorkerCourse(Path(root), course.config(), course.source_dir, Path(template_db))
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

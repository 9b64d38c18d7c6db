"""``grade``: autograde every submitted (student, lesson) pair with N supervised workers.

The parent process

1. lists ``submitted/<student>/<lesson>/<lesson>.ipynb`` and skips files whose hash is the one
   graded last time (unless ``force``);
2. snapshots the gradebook and starts N :mod:`.worker` processes (forkserver, nbgrader imported
   once), each on a private course copy; every kernel is confined and switched to grading mode
   (:mod:`.kernel_boot`), and hidden parts are seeded with the course's secret
   (``.autograder-secret`` in the course root, created on first use: keep it private);
3. hands out one task at a time, shows a progress bar with ETA, and for every result writes the
   grades into the course's gradebook through nbgrader's ``Gradebook`` API, copies the graded
   notebook into ``autograded/``, and saves ``grading_status.json`` — all in this one process,
   so concurrent SQLite writes cannot happen;
4. supervises: a worker that dies or overruns its hard deadline is killed with its kernels, the
   submission is recorded ("grader crashed" / "timed out") and a fresh worker takes over.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from . import pipeline
from .course import Course, StatusStore, course_secret, lesson_info, snapshot_gradebook
from .misnamed import WRONG_NAME, Misnamed, find_misnamed, record_misnamed
from .misnamed import accept_names as accept_names_of
from .pipeline import Submission

__all__ = ["WRONG_NAME", "GradeSummary", "Misnamed", "find_misnamed", "find_tasks", "grade"]

# Time a worker gets beyond a submission's own limit (kernel start, nbgrader's bookkeeping)
# before the parent kills it.
GRACE_SECONDS = 60.0


@dataclass
class Task:
    student: str
    lesson: str
    path: Path
    sha256: str


@dataclass
class GradeSummary:
    graded: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    misnamed: list[Misnamed] = field(default_factory=list)  # not graded: wrong file name
    renamed: list[tuple[Path, Path]] = field(default_factory=list)  # by accept_names

    def counts(self) -> Counter:
        return Counter(s for r in self.graded for s in r["status"])


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def find_tasks(
    course: Course,
    lessons: Iterable[str],
    store: StatusStore,
    *,
    force: bool = False,
    students: Iterable[str] | None = None,
) -> tuple[list[Task], list[tuple[str, str]]]:
    """Submissions to grade, and the (student, lesson) pairs skipped as unchanged."""
    tasks, skipped = [], []
    wanted = set(students) if students else None
    if not course.submitted_dir.is_dir():
        return tasks, skipped
    for student_dir in sorted(p for p in course.submitted_dir.iterdir() if p.is_dir()):
        if wanted is not None and student_dir.name not in wanted:
            continue
        for lesson in lessons:
            path = student_dir / lesson / f"{lesson}.ipynb"
            if not path.is_file():
                continue
            sha = _sha256(path)
            before = store.get(student_dir.name, lesson)
            graded = (
                course.autograded_dir / student_dir.name / lesson / f"{lesson}.ipynb"
            ).is_file() or (before and before.get("autograded") is None)
            if (
                not force
                and before
                and before.get("sha256") == sha
                and pipeline.GRADER_CRASHED not in before.get("status", [])
                and graded
            ):
                skipped.append((student_dir.name, lesson))
                continue
            tasks.append(Task(student_dir.name, lesson, path, sha))
    return tasks, skipped


# --------------------------------------------------------------------------------------------
# Writing results into the course (parent process only)


def write_gradebook(gb: Any, result: dict[str, Any], info: dict[str, Any], course: Course) -> None:
    """Copy one submission's grades into the course's gradebook (nbgrader's API)."""
    from nbgrader.utils import parse_utc

    student, lesson = result["student"], result["lesson"]
    gb.update_or_create_student(student)
    stamp = course.submitted_dir / student / lesson / "timestamp.txt"
    kwargs = {}
    if stamp.is_file():
        try:
            kwargs["timestamp"] = parse_utc(stamp.read_text().strip())
        except Exception:
            pass
    gb.update_or_create_submission(lesson, student, **kwargs)
    nb = gb.find_submission_notebook(info["notebook"], lesson, student)
    for grade in nb.grades:
        mine = result["grades"].get(grade.name)
        if mine is None:
            grade.auto_score, grade.needs_manual_grade = 0.0, True
        else:
            grade.auto_score, grade.needs_manual_grade = mine["score"], mine["manual"]
    for comment in nb.comments:
        comment.auto_comment = result.get("comments", {}).get(comment.name)
    gb.db.commit()


def install_autograded(result: dict[str, Any], course: Course) -> None:
    """Move the worker's graded notebook to ``autograded/<student>/<lesson>/``."""
    dest = course.autograded_dir / result["student"] / result["lesson"]
    if dest.exists():
        shutil.rmtree(dest)
    src = result.get("autograded")
    if not src or not Path(src).is_file():
        result["autograded"] = None
        return
    shutil.copytree(Path(src).parent, dest)
    result["autograded"] = str((dest / Path(src).name).relative_to(course.root))


# --------------------------------------------------------------------------------------------
# Supervised worker pool


def _context() -> multiprocessing.context.BaseContext:
    # fork: a worker starts in milliseconds with nbgrader already imported by the parent, and
    # nothing re-runs the parent's __main__. The parent forks before it starts any thread
    # (tqdm's monitor thread is disabled) and never shares its gradebook session with a child.
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


class _Slot:
    def __init__(self, index: int):
        self.index = index
        self.proc: Any = None
        self.conn: Any = None
        self.task: Task | None = None
        self.started = 0.0
        self.kernels: set[int] = set()
        self.ready = False


class WorkerPool:
    """N worker processes, each fed one task at a time, watched by the parent."""

    def __init__(self, n: int, run_dir: Path, course: Course, template_db: Path):
        self.n, self.run_dir, self.course, self.template_db = n, run_dir, course, template_db
        self.ctx = _context()
        self.slots = [_Slot(i) for i in range(n)]
        self.restarts = 0
        self.failed_starts = 0

    def _start(self, slot: _Slot) -> None:
        from .worker import worker_main

        parent_conn, child_conn = self.ctx.Pipe()
        root = self.run_dir / f"worker-{slot.index}-{self.restarts}"
        slot.proc = self.ctx.Process(
            target=worker_main,
            args=(child_conn, str(root), str(self.course.root), str(self.template_db)),
            daemon=True,
        )
        slot.proc.start()
        child_conn.close()
        slot.conn, slot.task, slot.kernels, slot.ready = parent_conn, None, set(), False

    def _kill(self, slot: _Slot) -> None:
        from .worker import _kill_group

        for pid in slot.kernels:
            _kill_group(pid)
        if slot.proc is not None and slot.proc.is_alive():
            slot.proc.kill()
        if slot.proc is not None:
            slot.proc.join(5)
        slot.conn.close()

    def run(
        self,
        tasks: list[Task],
        make_payload: Callable[[Task], dict[str, Any]],
        on_result: Callable[[dict[str, Any]], None],
        on_failure: Callable[[Task, str, str], None],
        hard_limit: float,
    ) -> None:
        pending = deque(tasks)
        for slot in self.slots:
            self._start(slot)
        try:
            while pending or any(s.task for s in self.slots):
                for slot in self.slots:
                    if slot.ready and slot.task is None and pending:
                        slot.task = pending.popleft()
                        slot.started = time.monotonic()
                        slot.kernels = set()
                        slot.conn.send(make_payload(slot.task))
                waitables = [s.conn for s in self.slots] + [s.proc.sentinel for s in self.slots]
                ready = wait(waitables, timeout=1.0)
                for slot in self.slots:
                    if slot.conn in ready:
                        try:
                            while slot.conn.poll():
                                kind, payload = slot.conn.recv()
                                if kind == "ready":
                                    slot.ready = True
                                elif kind == "kernel":
                                    slot.kernels.add(payload)
                                elif kind == "result":
                                    slot.task = None
                                    on_result(payload)
                        except (EOFError, OSError):
                            pass
                    overdue = slot.task and time.monotonic() - slot.started > hard_limit
                    if not slot.proc.is_alive() or overdue:
                        if not slot.ready:
                            self.failed_starts += 1
                            if self.failed_starts >= 3:
                                raise RuntimeError(
                                    "grading workers die while starting; see worker.log in "
                                    f"{self.run_dir}"
                                )
                        task = slot.task
                        self._kill(slot)
                        self.restarts += 1
                        if task is not None:
                            if overdue:
                                on_failure(task, pipeline.TIMED_OUT, "the grader stopped it")
                            else:
                                on_failure(task, pipeline.GRADER_CRASHED, "a worker process died")
                        self._start(slot)
        finally:
            for slot in self.slots:
                try:
                    slot.conn.send(None)
                except (OSError, ValueError):
                    pass
            for slot in self.slots:
                slot.proc.join(5)
                if slot.proc.is_alive():
                    self._kill(slot)


# --------------------------------------------------------------------------------------------
# The grade step


def grade(
    course: Course,
    *,
    lessons: Iterable[str] | None = None,
    students: Iterable[str] | None = None,
    workers: int | None = None,
    timeout: float = 120.0,
    memory_mb: int = 2048,
    cell_timeout: int | None = None,
    force: bool = False,
    progress: bool = True,
    faults: dict[str, str] | None = None,
    accept_names: bool = False,
) -> GradeSummary:
    """Autograde every submission that changed since it was last graded.

    Parameters
    ----------
    course : Course
        The course folder (holds ``nbgrader_config.py`` and ``gradebook.db``).
    lessons, students : iterable of str, optional
        Restrict to these lesson ids / student ids (default: all).
    workers : int, optional
        Worker processes (default: the number of cores).
    timeout : float
        Wall-clock limit of one submission, seconds.
    memory_mb : int
        Address-space limit of one submission's kernel, MiB (0 for none).
    cell_timeout : int, optional
        Per-cell limit; default nbgrader's ``Execute.timeout`` from the course configuration.
    force : bool
        Re-grade unchanged submissions too.
    faults : dict, optional
        Fault injection for tests: ``{"student/lesson": "crash-worker"}``.
    accept_names : bool
        A lesson folder without ``<lesson>.ipynb`` but with one notebook under another name
        (``02_softmax_final (1).ipynb``): rename it to ``<lesson>.ipynb`` and grade it. Without
        it such a submission is not graded and gets the status ``wrong file name``.
    """
    from .worker import Limits

    started = time.monotonic()
    if timeout <= 0:
        raise ValueError(f"timeout must be positive seconds, got {timeout}")
    if memory_mb < 0:
        raise ValueError(f"memory_mb must be >= 0 (0 = no limit), got {memory_mb}")
    info = lesson_info(course)
    if not info:
        raise ValueError(
            f"the gradebook {course.db_path} knows no lesson yet; run `python -m autograder "
            "release` (nbgrader generate_assignment) first"
        )
    wanted = list(lessons) if lessons else sorted(info)
    unknown = [lesson for lesson in wanted if lesson not in info]
    if unknown:
        raise ValueError(f"lessons {unknown} are not in the gradebook; known: {sorted(info)}")
    store = StatusStore(course.status_path)
    students = list(students) if students else None
    summary = GradeSummary()
    misnamed = find_misnamed(course, wanted, students)
    if accept_names:
        misnamed = accept_names_of(misnamed, summary.renamed)
    record_misnamed(course, misnamed, store, info, (wanted, students))
    summary.misnamed = misnamed
    tasks, summary.skipped = find_tasks(course, wanted, store, force=force, students=students)
    if not tasks:
        summary.seconds = time.monotonic() - started
        return summary

    n = max(1, min(workers or os.cpu_count() or 1, len(tasks)))
    limits = Limits(timeout=timeout, memory=memory_mb * 1024**2, cell_timeout=cell_timeout)
    faults = faults or {}
    from nbgrader.api import Gradebook
    from tqdm.auto import tqdm

    salt = course_secret(course).hex()
    run_dir = Path(tempfile.mkdtemp(prefix="autograder-run-"))
    try:
        template = run_dir / "gradebook-template.db"
        snapshot_gradebook(course.db_path, template)

        def payload(task: Task) -> dict[str, Any]:
            return {
                "student": task.student,
                "lesson": task.lesson,
                "path": str(task.path),
                "lesson_info": info[task.lesson],
                "all_lessons": info,
                "limits": asdict(limits),
                "salt": salt,
                "fault": faults.get(f"{task.student}/{task.lesson}"),
            }

        tqdm.monitor_interval = 0  # no monitor thread: workers are forked from this process
        bar = tqdm(
            total=len(tasks),
            unit="nb",
            desc=f"grading ({n} workers)",
            disable=not progress,
            file=sys.stderr,
            dynamic_ncols=True,
        )
        with Gradebook(course.db_url) as gb:

            def on_result(result: dict[str, Any]) -> None:
                install_autograded(result, course)
                write_gradebook(gb, result, info[result["lesson"]], course)
                store.put(result)
                summary.graded.append(result)
                bar.update(1)
                if result["status"] != [pipeline.OK]:
                    bar.write(
                        f"{result['student']}/{result['lesson']}: " + ", ".join(result["status"])
                    )

            def on_failure(task: Task, status: str, detail: str) -> None:
                sub = Submission(task.student, task.lesson, task.path, info[task.lesson])
                sub.sha256 = task.sha256
                sub.flag(status, detail)
                sub.zero_grades()
                on_result(sub.result())

            pool = WorkerPool(n, run_dir, course, template)
            pool.run(tasks, payload, on_result, on_failure, timeout + GRACE_SECONDS)
        bar.close()
    except BaseException:
        keep_logs = True
        raise
    else:
        keep_logs = False
    finally:
        if not keep_logs:
            shutil.rmtree(run_dir, ignore_errors=True)
    summary.seconds = time.monotonic() - started
    return summary

"""What a grading worker's steps share: the submission's limits, the worker's private course, and
the state of the running task (its kernel, its signing key, the ledger windows of its cells).

One :data:`STATE` per worker process. :func:`autograder.instructor.worker.worker_main` sets
what lasts for the process (the pipe to the parent, the private :class:`WorkerCourse`, the
folders a kernel may not read); :func:`autograder.instructor.worker.grade_task` resets what
belongs to one submission; the kernel manager (:mod:`.kernels`), the guarded execution
(:mod:`.execute`) and the grading steps (:mod:`.grade_steps`, :mod:`.graded_outputs`) read and
fill it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import kernel_boot


@dataclass
class Limits:
    """Per-submission limits: wall clock in seconds, address space in bytes (0 = none)."""

    timeout: float = 120.0
    memory: int = 2 * 1024**3
    cell_timeout: int | None = None


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
    # they are unknown (see execute.GuardedExecute._read_ledger)
    windows: dict[str, list[kernel_boot.LedgerEntry] | str] = {}  # noqa: RUF012 - new per task
    tests: frozenset[str] = frozenset()  # grade_ids of the lesson's test cells that call check
    course: WorkerCourse | None = None  # the worker's private course (set by worker_main)


STATE = _State()

"""The kernel a submission runs in: started confined, in its own folder, with a fresh key.

:class:`LimitedKernelManager` starts every kernel through ``landlock.py`` (confined by the OS
before ipykernel starts, see :mod:`.landlock`), in a private folder (its working directory,
``TMPDIR``, ``IPYTHONDIR``, ``MPLCONFIGDIR``, its Unix sockets) holding the kernel's signing
key and the course's salt (read and deleted by :func:`.kernel_boot.boot`), caps its address
space (``RLIMIT_AS``) and tells the parent its pid. :class:`WarmKernel` starts the *next*
submission's kernel while the current one runs (still a fresh kernel per submission).
"""

from __future__ import annotations

import logging
import os
import resource
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync

from . import kernel_boot, landlock
from .worker_state import STATE


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
        course = STATE.course
        base = (course.root if course is not None else Path(tempfile.gettempdir())) / "kernels"
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

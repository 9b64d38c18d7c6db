"""Helpers for the tests that start a real Jupyter server (``make lab``, the browser test)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess


def free_port() -> int:
    """A TCP port on loopback that is free now (the server is told to take no other)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process_group(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """Stop a server started with ``start_new_session=True`` by its PID: SIGTERM to its whole
    process group, SIGKILL if it is still there after ``grace`` seconds."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass

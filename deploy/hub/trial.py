"""A throwaway class hub on this machine, for the end-to-end test and the load benchmark.

Its accounts, groups and folders carry the prefix ``nnktest-`` (no real account has it), its
ports are free loopback ports, and it shares the runtime under /opt with the real hub. A lock
keeps two trials (or a trial and an install of the runtime) from running at once, and each
trial first removes what a killed trial left behind: accounts of the prefix (with their
processes and homes), groups, folders.
"""

from __future__ import annotations

import contextlib
import csv
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from . import system
from .settings import DEFAULT_SETTINGS, HubSettings, from_dict, load, read_toml
from .setup import REPO, teardown

PREFIX = "nnktest-"
TRIAL_ROOT = Path(f"/srv/{PREFIX}hub")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def trial_toml(lessons: tuple[str, ...], folder: Path) -> Path:
    """Write the trial's settings (the default ``hub.toml`` with the trial's names, folders
    and free loopback ports) into ``folder``; return the file."""
    data = read_toml(DEFAULT_SETTINGS)
    data["course"].update(id=f"{PREFIX}course", lessons=list(lessons))
    data["accounts"].update(
        students_group=f"{PREFIX}students", instructors_group=f"{PREFIX}instructors"
    )
    data["paths"].update(hub_dir=str(TRIAL_ROOT), exchange=f"{TRIAL_ROOT}-exchange")
    ports = set()
    while len(ports) < 3:
        ports.add(free_port())
    port, hub_port, proxy_port = sorted(ports)
    data["hub"].update(ip="127.0.0.1", port=port, hub_port=hub_port, proxy_api_port=proxy_port)
    lines = []
    for section, table in data.items():
        lines.append(f"[{section}]")
        for key, value in table.items():
            lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    path = folder / "trial-hub.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    from_dict(data, str(path))  # a trial must be a valid hub
    return path


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


@contextlib.contextmanager
def exclusive(settings: HubSettings) -> Iterator[None]:
    """One trial at a time on this machine, and no runtime install under a running trial
    (another checkout's test or ``make hub-runtime`` waits here)."""
    with system.runtime_lock(settings):
        yield


def remove_leftovers(settings: HubSettings) -> None:
    """Remove everything a trial (killed or not) may have left, its running hub first."""
    teardown(settings, say=lambda _: None)  # stops the hub, then removes what it made
    for account in pwd.getpwall():
        if account.pw_name.startswith(PREFIX):  # outside the groups: killed mid-setup
            system.remove_account(account.pw_name)
    for home in Path("/home").glob(f"{PREFIX}*"):
        shutil.rmtree(home, ignore_errors=True)
    for folder in (TRIAL_ROOT, Path(f"{TRIAL_ROOT}-exchange")):
        if folder.exists():
            shutil.rmtree(folder)


def passwords(settings: HubSettings) -> dict[str, str]:
    """The initial passwords setup wrote (root only)."""
    with open(settings.state_dir / "initial-passwords.csv", newline="") as fh:
        return {row["username"]: row["initial_password"] for row in csv.DictReader(fh)}


def hub_url(settings: HubSettings) -> str:
    return f"http://127.0.0.1:{settings.port}"


def start(settings_file: Path, log_path: Path, timeout: float = 120.0) -> subprocess.Popen:
    """Start the hub (``python -m deploy.hub start``) in its own process group; wait until it
    answers."""
    settings = load(settings_file)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "deploy.hub", "--settings", str(settings_file), "start"],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    url = f"{hub_url(settings)}/hub/api/"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the hub exited with code {proc.returncode}; log: {log_path}")
        try:
            with urllib.request.urlopen(url, timeout=3) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.5)
    stop(proc)
    raise RuntimeError(f"the hub did not answer within {timeout:.0f} s; log: {log_path}")


def stop(proc: subprocess.Popen, grace: float = 30.0) -> None:
    """SIGTERM to the hub's process group (it stops the users' servers), SIGKILL if needed."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass

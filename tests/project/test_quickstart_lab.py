"""Does the README's quick start for students do what it says: `make lab` serves a work folder
of the student's own, seeded from lessons/ and never overwritten, with only the runtime
packages installed; `make check NB=...` works without activating anything?

`make lab` runs exactly as the README says (the venv exists already when the suite runs, so
make only seeds the work folder and starts the server), with `WORK` pointing into a temporary
folder and `LAB_ARGS` for a free loopback port, no token and no browser; the server is asked
for its root folder through its REST API and stopped by its process group.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from server_helpers import free_port, stop_process_group

REPO = Path(__file__).resolve().parents[2]
LESSONS = sorted(d.name for d in (REPO / "lessons").iterdir() if d.is_dir())

needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is the quick start")


def _get_json(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def _plain_env(home: Path) -> dict:
    """The environment of a fresh shell: no venv activated, no make or Jupyter settings."""
    venv_bin = str(Path(sys.executable).parent)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JUPYTER", "MAKE", "MFLAGS", "VIRTUAL_ENV"))
    }
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    env.update(HOME=str(home), JUPYTER_RUNTIME_DIR=str(home / "runtime"))
    return env


def _make(*args: str, env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "-C", str(REPO), "--no-print-directory", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@needs_make
def test_make_lab_installs_only_the_runtime_packages(tmp_path):
    """On a fresh clone (no venv), would `make lab` install the package without its test extras
    (no PyTorch, no Playwright), while `make test` adds them?"""
    venv = tmp_path / "fresh-venv"  # does not exist: make shows what a fresh clone would run
    lab = _make("-n", "lab", f"VENV={venv}", env=_plain_env(tmp_path))
    assert lab.returncode == 0, lab.stderr
    installs = [line for line in lab.stdout.splitlines() if "pip install" in line]
    assert any(line.rstrip().endswith("-e .") for line in installs), lab.stdout
    assert not any("[dev]" in line for line in installs), installs
    assert "torch" not in lab.stdout and "playwright" not in lab.stdout
    test = _make("-n", "test", f"VENV={venv}", env=_plain_env(tmp_path))
    assert test.returncode == 0, test.stderr
    assert any("[dev]" in line for line in test.stdout.splitlines() if "pip install" in line)


@pytest.mark.slow
@needs_make
def test_make_lab_serves_a_work_folder_seeded_from_the_lessons(tmp_path):
    """Does `make lab` (also as root) copy every lesson into the work folder, leave the
    student's existing notebook as it is, and serve that folder?"""
    work = tmp_path / "work"
    mine = work / LESSONS[0] / f"{LESSONS[0]}.ipynb"
    mine.parent.mkdir(parents=True)
    mine.write_text('{"student": "my own answers"}')
    port = free_port()
    lab_args = (
        f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.port_retries=0 "
        "--IdentityProvider.token= --ServerApp.password="
    )
    log_path = tmp_path / "lab.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            ["make", "-C", str(REPO), "lab", f"WORK={work}", f"LAB_ARGS={lab_args}"],
            env=_plain_env(tmp_path),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        listing, deadline = None, time.monotonic() + 120
        while listing is None and time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"`make lab` exited with {proc.returncode}:\n{log_path.read_text()}")
            try:
                listing = _get_json(f"http://127.0.0.1:{port}/api/contents")
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        assert listing is not None, f"no answer within 120 s:\n{log_path.read_text()[-3000:]}"
        served = {item["name"] for item in listing["content"]}
        assert served == {p.name for p in work.iterdir() if not p.name.startswith(".")}
        assert set(LESSONS) <= served, f"served {sorted(served)}, lessons {LESSONS}"
        assert mine.read_text() == '{"student": "my own answers"}'  # never overwritten
        for lesson in LESSONS[1:]:
            copy = work / lesson / f"{lesson}.ipynb"
            assert copy.read_bytes() == (REPO / "lessons" / lesson / copy.name).read_bytes()
        second = LESSONS[1]
        notebook = _get_json(f"http://127.0.0.1:{port}/api/contents/{second}/{second}.ipynb")
        assert notebook["type"] == "notebook"
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/lab", timeout=5).read()
        assert b"JupyterLab" in page
    finally:
        stop_process_group(proc, grace=15)


@pytest.mark.slow
@needs_make
def test_make_check_works_without_activating_the_venv(tmp_path):
    """Does the README's `make check NB=...` run a saved lesson in a fresh kernel from a shell
    without the venv on PATH, and report its 0 points (exit status 1)?"""
    lesson = "02_softmax"
    nb = tmp_path / "work" / lesson / f"{lesson}.ipynb"
    nb.parent.mkdir(parents=True)
    shutil.copyfile(REPO / "lessons" / lesson / f"{lesson}.ipynb", nb)
    done = _make("check", f"NB={nb}", env=_plain_env(tmp_path))
    assert done.returncode != 0, done.stdout  # every visible check fails on the stubs
    assert "No module named" not in done.stdout + done.stderr
    assert f"Checking {nb} in a fresh kernel" in done.stdout, done.stdout + done.stderr
    assert "Visible tests: 0 of" in done.stdout
    usage = _make("check", env=_plain_env(tmp_path))
    assert usage.returncode != 0 and "usage: make check NB=" in usage.stderr

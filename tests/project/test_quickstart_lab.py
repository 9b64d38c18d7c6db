"""Does the README's first quick-start command, `make lab`, really serve the lessons in JupyterLab?

It runs `make lab` exactly as the README says (the venv exists already when the suite runs, so
make only starts the server), with `LAB_ARGS` for a free loopback port, no token and no browser,
then asks the server's REST API for its root folder and stops the server by its process group.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from server_helpers import free_port, stop_process_group

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _get_json(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


@pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is part of the quick start")
def test_make_lab_serves_the_lessons_folder(tmp_path):
    """Does `make lab` start (also as root) and serve lessons/ with every lesson in it?"""
    port = free_port()
    lab_args = (
        f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.port_retries=0 "
        "--IdentityProvider.token= --ServerApp.password="
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "MAKE", "MFLAGS"))}
    env.update(HOME=str(tmp_path), JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    log_path = tmp_path / "lab.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            ["make", "-C", str(REPO), "lab", f"LAB_ARGS={lab_args}"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        listing, deadline = None, time.monotonic() + 60
        while listing is None and time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"`make lab` exited with {proc.returncode}:\n{log_path.read_text()}")
            try:
                listing = _get_json(f"http://127.0.0.1:{port}/api/contents")
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        assert listing is not None, f"no answer within 60 s:\n{log_path.read_text()[-3000:]}"
        served = {item["name"] for item in listing["content"]}
        lessons = {d.name for d in (REPO / "lessons").iterdir() if d.is_dir()}
        assert lessons and lessons <= served, f"served {sorted(served)}, lessons {sorted(lessons)}"
        first = sorted(lessons)[0]
        notebook = _get_json(f"http://127.0.0.1:{port}/api/contents/{first}/{first}.ipynb")
        assert notebook["type"] == "notebook"
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/lab", timeout=5).read()
        assert b"JupyterLab" in page
    finally:
        stop_process_group(proc, grace=15)

"""Does each role see the right nbgrader tools, in a real browser?

``make lab`` is the student's JupyterLab: no Nbgrader menu, no Formgrader, no Create Assignment
panel, no Validate button, and the Assignments tab opens from Course > Assignment List.
``make lab-instructor`` has all of nbgrader's tools and the formgrader on the course. Both are
started exactly as the README says (with ``LAB_ARGS`` for a free loopback port, no token) and
driven in headless Chromium; the servers are stopped by their process group. The instructor's
runs in a copy of the course (sharing ``.venv``), since the formgrader writes a gradebook there.
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
from browser_helpers import LabServer, chromium_page, open_notebook, screenshot
from hub_browser import NBGRADER_TOOLS, menu_bar, open_assignments
from server_helpers import free_port, stop_process_group

REPO = Path(__file__).resolve().parents[2]
# The environment is the repository's .venv: make must never (re)install it from a copy.
KEEP_VENV = ("-o", ".venv/.installed-runtime", "-o", ".venv/.installed")
ARTIFACTS = REPO / "test-artifacts"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which("make") is None, reason="GNU make starts the servers"),
]


def _get_json(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def _course_copy(tmp_path: Path) -> Path:
    """The repository's tracked files in ``tmp_path/course``, with the repository's .venv."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True, text=True, check=True
    ).stdout.split("\0")
    course = tmp_path / "course"
    for rel in filter(None, listed):
        if (REPO / rel).is_file():
            (course / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, course / rel)
    (course / ".venv").symlink_to(REPO / ".venv")
    return course


def _start(target: str, tmp_path: Path, root: Path = REPO) -> LabServer:
    port = free_port()
    lab_args = (
        f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.port_retries=0 "
        "--IdentityProvider.token= --ServerApp.password="
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "MAKE", "MFLAGS"))}
    env.update(HOME=str(tmp_path), JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    log_path = tmp_path / f"{target}.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            ["make", "-C", str(root), *KEEP_VENV, target, f"LAB_ARGS={lab_args}"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"`make {target}` exited with {proc.returncode}:\n{log_path.read_text()}")
        try:
            _get_json(f"http://127.0.0.1:{port}/api/status")
            return LabServer(port=port, proc=proc, log=log_path, home=tmp_path, root=root)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    stop_process_group(proc, grace=15)
    pytest.fail(f"`make {target}` did not answer within 90 s:\n{log_path.read_text()[-3000:]}")


def _a_notebook(port: int, path: str = "", depth: int = 2) -> str | None:
    """The path of a notebook under the server's root (lesson 01's if there is one)."""
    listing = _get_json(f"http://127.0.0.1:{port}/api/contents/{path}")
    items = sorted(listing["content"], key=lambda i: i["name"])
    for item in items:
        if item["type"] == "notebook":
            return item["path"]
    if depth:
        for item in items:
            if item["type"] == "directory" and not item["name"].startswith("."):
                found = _a_notebook(port, item["path"], depth - 1)
                if found:
                    return found
    return None


def _in_browser(target: str, tmp_path: Path, check, root: Path = REPO) -> None:
    """Start ``make target``, open a notebook in Chromium, run ``check(page, port)``."""
    lab = _start(target, tmp_path, root)
    try:
        notebook = _a_notebook(lab.port)
        assert notebook, f"`make {target}` serves no notebook"
        with chromium_page(f"roles-{target}") as page:
            open_notebook(page, lab, notebook)  # the toolbar, nbgrader's button included, is up
            check(page, lab.port)
            screenshot(page, f"roles-{target}")
    finally:
        stop_process_group(lab.proc, grace=15)


def test_make_lab_shows_a_student_no_instructor_tools(tmp_path):
    """No Nbgrader menu, Formgrader, Create Assignment or Validate; the Assignments tab opens."""

    def check(page, port):
        shown = {tool for tool, sel in NBGRADER_TOOLS.items() if page.locator(sel).count()}
        assert not shown, f"the student's JupyterLab shows {sorted(shown)}"
        assert "Nbgrader" not in menu_bar(page)
        formgrader = page.request.get(f"http://127.0.0.1:{port}/formgrader")
        assert formgrader.status == 404, f"the formgrader answered {formgrader.status}"
        xsrf = next(c["value"] for c in page.context.cookies() if c["name"] == "_xsrf")
        validate = page.request.post(
            f"http://127.0.0.1:{port}/assignments/validate",
            headers={"X-XSRFToken": xsrf},
            data=json.dumps({"path": "x.ipynb"}),
        )
        assert validate.status == 404, f"the validate handler answered {validate.status}"
        open_assignments(page)
        assert page.locator("#nbgrader-assignment-list").is_visible()

    _in_browser("lab", tmp_path, check)


def test_make_lab_instructor_has_nbgrader_tools_on_the_course(tmp_path):
    """Nbgrader menu, Create Assignment panel, Validate button; the formgrader on the course."""

    def check(page, port):
        for tool, selector in NBGRADER_TOOLS.items():
            try:
                page.locator(selector).first.wait_for(state="attached", timeout=30_000)
            except Exception as exc:
                raise AssertionError(f"the instructor's JupyterLab lacks the {tool}") from exc
        page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
        items = page.locator(".lm-Menu-itemLabel").all_inner_texts()
        assert "Formgrader" in items and "Assignment List" in items, items
        page.keyboard.press("Escape")
        page.goto(f"http://127.0.0.1:{port}/formgrader")
        page.wait_for_selector("text=Manage Assignments", timeout=30_000)
        lessons = sorted(d.name for d in (REPO / "solutions").iterdir() if d.is_dir())
        page.wait_for_selector(f"text={lessons[0]}", timeout=30_000)

    _in_browser("lab-instructor", tmp_path, check, root=_course_copy(tmp_path))

"""Does Run All reach the last cell of a released lesson in JupyterLab itself, in a browser?

The released lesson (every answer a stub, so every visible check fails) is opened in JupyterLab
in headless Chromium (Debian's package, through Playwright). Run ▸ Run All Cells must run every
code cell down to the last one, `self_check()`, whose output must appear; then Kernel ▸ Restart
Kernel and Run All Cells must do the same in the fresh kernel. JupyterLab stops a Run All at the
first cell that raises unless that cell is tagged `raises-exception` (it sends `stop_on_error`),
so this fails when the check cells lose their tag. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from server_helpers import free_port, stop_process_group

pytestmark = [pytest.mark.slow, pytest.mark.browser]

REPO = Path(__file__).resolve().parents[2]
LESSON = "02_softmax"
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Generous: the machine running the suite may be busy.
READY_S, IDLE_S, RUN_ALL_S = 90, 120, 240

# Prompts and outputs of every code cell, read from the DOM (textContent: JupyterLab does not
# lay out cells scrolled out of view, but they are in the document).
CELLS_JS = """() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell')].map(c => ({
    prompt: (c.querySelector('.jp-InputPrompt')?.textContent || '').trim(),
    output: c.querySelector('.jp-OutputArea')?.textContent || '',
}))"""
KERNEL_IDLE_JS = """() => [...document.querySelectorAll('.jp-StatusBar-Item')].some(e => {
    const text = e.innerText.trim();
    return /\\|\\s*Idle$/.test(text) && !text.startsWith('No Kernel');
})"""


def _start_lab(root: Path, home: Path, port: int, log) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "MPLBACKEND"))}
    env.update(
        HOME=str(home),
        JUPYTER_CONFIG_DIR=str(home / "jupyter-config"),
        JUPYTER_DATA_DIR=str(home / "jupyter-data"),
        JUPYTER_RUNTIME_DIR=str(home / "jupyter-runtime"),
        IPYTHONDIR=str(home / "ipython"),
        MPLCONFIGDIR=str(home / "mpl"),
    )
    cmd = [
        str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1",
        f"--port={port}", "--ServerApp.port_retries=0", "--IdentityProvider.token=",
        "--ServerApp.password=", f"--ServerApp.root_dir={root}",
    ]  # fmt: skip
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    return subprocess.Popen(
        cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def _wait_ready(proc: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + READY_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"jupyter lab exited with code {proc.returncode}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=5):
                return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"jupyter lab did not answer within {READY_S} s")


@contextlib.contextmanager
def _lesson_page(tmp_path: Path):
    """A Chromium page showing the released lesson in JupyterLab, kernel idle."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (Debian's chromium)")
    from playwright.sync_api import sync_playwright

    root, home = tmp_path / "work", tmp_path / "home"
    shutil.copytree(REPO / "lessons" / LESSON, root)
    home.mkdir()
    port = free_port()
    with open(tmp_path / "jupyter-lab.log", "w") as log:
        proc = _start_lab(root, home, port, log)
    try:
        _wait_ready(proc, port)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
            )
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(f"http://127.0.0.1:{port}/lab/tree/{LESSON}.ipynb")
                _wait(page, lambda: page.evaluate(KERNEL_IDLE_JS), IDLE_S, "kernel idle")
                yield page
            finally:
                browser.close()
    finally:
        stop_process_group(proc, grace=15)


def _dialog(page) -> str | None:
    dialog = page.locator(".jp-Dialog")
    if dialog.count() and dialog.first.is_visible():
        return " ".join(dialog.first.inner_text().split())
    return None


def _wait(page, condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            ARTIFACTS.mkdir(exist_ok=True)
            shot = ARTIFACTS / f"run-all-{what.replace(' ', '-')}-failure.png"
            page.screenshot(path=str(shot))
            raise AssertionError(
                f"no {what} within {seconds} s (dialog on the page: {_dialog(page)!r}); "
                f"screenshot {shot.relative_to(REPO)}"
            )
        page.wait_for_timeout(250)


def _menu(page, menu: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=menu).first.click()
    page.locator(".lm-Menu-itemLabel", has_text=item).first.click()


def _cells(page) -> list[dict]:
    return page.evaluate(CELLS_JS)


def _all_ran(page) -> bool:
    """Has every code cell a number in its prompt, and the last one the self-check's output?"""
    cells = _cells(page)
    return (
        bool(cells)
        and all(c["prompt"].strip("[]: ").isdigit() for c in cells)
        and (f"Self-check of {LESSON}" in cells[-1]["output"])
    )


def _queued(page) -> bool:
    return any(c["prompt"].startswith("[*]") for c in _cells(page))


def _wait_run_all(page, started, what: str) -> None:
    """Wait until the run has started (``started()``), then until no cell is queued or
    running and the kernel is idle: a Run All that stopped early ends there too."""
    _wait(page, lambda: started() or _all_ran(page), 60, f"start of {what}")
    _wait(
        page,
        lambda: _all_ran(page) or (not _queued(page) and page.evaluate(KERNEL_IDLE_JS)),
        RUN_ALL_S,
        f"end of {what}",
    )


def _assert_ran_to_the_end(page, when: str) -> None:
    deadline = time.monotonic() + 15  # the page may show the last output a moment late
    while not _all_ran(page) and time.monotonic() < deadline:
        page.wait_for_timeout(250)
    cells = _cells(page)
    not_run = [i for i, c in enumerate(cells) if not c["prompt"].strip("[]: ").isdigit()]
    assert not not_run, f"{when}: code cells {not_run} of {len(cells)} never ran"
    assert "Visible checks: 0 of" in cells[-1]["output"], cells[-1]["output"]
    failed = [c for c in cells if "✗" in c["output"] and "0 of" in c["output"]]
    assert failed, f"{when}: no check failed on the stubs, so nothing was tested"


def test_run_all_and_restart_run_all_reach_self_check_in_jupyterlab(tmp_path):
    """Run All, then Restart Kernel and Run All, on the stub release: does the last cell,
    self_check(), print its summary both times, past every failing check?"""
    with _lesson_page(tmp_path) as page:
        _menu(page, "Run", "Run All Cells")
        _wait_run_all(page, lambda: _queued(page), "Run All")
        _assert_ran_to_the_end(page, "Run All")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "run-all-self-check.png"))

        _menu(page, "Kernel", "Restart Kernel and Run All Cells")
        _wait(page, lambda: _dialog(page) is not None, 30, "restart dialog")
        assert "Restart" in (_dialog(page) or "")
        page.locator(".jp-Dialog .jp-mod-accept").first.click()
        # every cell is queued again ([*]), the last one too, before a new self-check shows
        _wait_run_all(
            page, lambda: _cells(page)[-1]["prompt"].startswith("[*]"), "Restart Kernel and Run All"
        )
        _assert_ran_to_the_end(page, "Restart Kernel and Run All")

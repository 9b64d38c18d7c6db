"""Do the explorers really work where students use them: JupyterLab 4 in a real browser?

Starts JupyterLab from the project's environment on loopback, on a temporary copy of lesson 01,
opens it in headless Chromium (Debian's package) through Playwright, runs every cell, moves the
weight slider of the activation explorer with the keyboard and checks that the figure changed.
Screenshots go to ``test-artifacts/``. Missing Chromium, a widget frontend that does not render,
or a plot that does not react are failures, never skips.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import os
import re
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
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"
LESSON = REPO / "lessons" / "01_neurons"
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
BROKEN_WIDGET_TEXTS = ("Error displaying widget", "Loading widget...", "Failed to load model class")


EXPLORER_CALLS = re.compile(
    r"^\s*\w*\s*=?\s*(activation_explorer|neuron_explorer|init_explorer|optimizer_playground"
    r"|dropout_explorer|batchnorm_explorer)\(",
    re.MULTILINE,
)


def _count_explorer_calls(path: Path) -> int:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    return sum(len(EXPLORER_CALLS.findall(c.source)) for c in nb.cells if c.cell_type == "code")


def _prepare_notebook(root: Path) -> Path:
    """Copy lesson 01 into ``root`` (or write a one-explorer notebook while it does not exist).

    Every code cell is tagged ``raises-exception`` in the copy: the released lesson holds stubs
    whose checks fail, and JupyterLab's "Run All" would otherwise stop at the first failure
    before reaching the explorers.
    """
    import nbformat

    if (LESSON / "01_neurons.ipynb").exists():
        shutil.copytree(LESSON, root, dirs_exist_ok=True)
        path = root / "01_neurons.ipynb"
        nb = nbformat.read(path, as_version=4)
    else:  # fallback until the lesson is built
        path = root / "explorer.ipynb"
        nb = nbformat.v4.new_notebook()
        nb.cells = [
            nbformat.v4.new_code_cell(
                "from nnkit.widgets import activation_explorer\n\nactivation_explorer()"
            )
        ]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    for cell in nb.cells:
        if cell.cell_type == "code":
            tags = cell.metadata.setdefault("tags", [])
            if "raises-exception" not in tags:
                tags.append("raises-exception")
    nbformat.write(nb, path)
    return path


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
    jupyter = Path(sys.executable).parent / "jupyter"
    cmd = [
        str(jupyter), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        "--IdentityProvider.token=", "--ServerApp.password=",
        f"--ServerApp.root_dir={root}", "--ServerApp.open_browser=False",
    ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    # Own process group, so that a signal to the server's PID reaches any helper it spawned;
    # kernels run in sessions of their own and are shut down through the API (see _stop).
    return subprocess.Popen(
        cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def _wait_ready(proc: subprocess.Popen, port: int, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"jupyter lab exited with code {proc.returncode} before ready")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"jupyter lab did not answer on port {port} within {timeout:.0f} s")


def _api(port: int):
    """An opener that talks to the server's REST API, with the XSRF cookie it asks for."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(f"http://127.0.0.1:{port}/lab", timeout=10).close()
    xsrf = next((c.value for c in jar if c.name == "_xsrf"), "")
    opener.addheaders = [("X-XSRFToken", xsrf)]
    return opener


def _shutdown_kernels(port: int) -> list[str]:
    """Ask the server to shut its kernels down; return their ids (best effort)."""
    try:
        api = _api(port)
        with api.open(f"http://127.0.0.1:{port}/api/kernels", timeout=5) as r:
            ids = [k["id"] for k in json.load(r)]
        for kernel_id in ids:
            url = f"http://127.0.0.1:{port}/api/kernels/{kernel_id}"
            api.open(urllib.request.Request(url, method="DELETE"), timeout=15).close()
        return ids
    except OSError:
        return []


def _stop(proc: subprocess.Popen, port: int) -> None:
    """Stop the server by its PID: kernels first, then SIGTERM (SIGKILL after 10 s)."""
    if proc.poll() is not None:
        return
    _shutdown_kernels(port)
    stop_process_group(proc, grace=10)


def _run_all_cells(page, attempts: int = 3) -> None:
    """Run > Run All Cells, again if no cell started (a click before the kernel connected)."""
    started = (
        "() => [...document.querySelectorAll('.jp-InputPrompt')]"
        ".some(e => /\\[(\\*|\\d+)\\]/.test(e.innerText))"
    )
    for _ in range(attempts):
        page.wait_for_selector(
            ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=45_000
        )
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            page.wait_for_function(started, timeout=15_000)
            return
        except Exception:
            page.keyboard.press("Escape")
    raise AssertionError("JupyterLab did not start running the cells after Run All Cells")


def _image_src(img) -> str:
    return img.evaluate("e => e.currentSrc || e.src")


def _wait_stable_src(page, img, timeout: float = 20.0, quiet: float = 1.0) -> str:
    """Wait until the image's src stops changing for ``quiet`` seconds; return it."""
    deadline = time.monotonic() + timeout
    last, since = _image_src(img), time.monotonic()
    while time.monotonic() < deadline:
        page.wait_for_timeout(200)
        now = _image_src(img)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet and last:
            return last
    return last


@contextlib.contextmanager
def _lesson_in_browser(tmp_path: Path, widgets_enabled: bool = True):
    """Yield ``(page, notebook)``: JupyterLab on a copy of the lesson, all cells run.

    The server is stopped by its PID (process group) on the way out, whatever happened.
    """
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the real-browser widget test needs Debian's chromium "
            "(run `make browser`, or apt-get install chromium chromium-driver)"
        )
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    root, home = tmp_path / "lesson", tmp_path / "home"
    root.mkdir()
    home.mkdir()
    if not widgets_enabled:  # what a broken install looks like: no widget manager in the page
        labconfig = home / "jupyter-config" / "labconfig"
        labconfig.mkdir(parents=True)
        (labconfig / "page_config.json").write_text(
            json.dumps({"disabledExtensions": {"@jupyter-widgets/jupyterlab-manager": True}})
        )
    notebook = _prepare_notebook(root)
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
                page.goto(f"http://127.0.0.1:{port}/lab/tree/{notebook.name}")
                _run_all_cells(page)
                yield page, notebook
            finally:
                browser.close()
    finally:
        _stop(proc, port)
        assert proc.poll() is not None, "jupyter lab is still running after stop"


def _find_live_explorer(page, title: str, name: str):
    """The explorer's live widget, or a loud failure naming what the page shows instead."""
    live = page.locator(".jp-OutputArea-output .widget-vbox", has_text=title)
    fallback = page.get_by_text("need a widget frontend")  # no widget manager in the page
    error = page.get_by_text("Error displaying widget")
    # Counting attached elements, not visible ones: JupyterLab skips rendering cells scrolled
    # out of view. "Loading widget..." is transient, so only a deadline turns it into a failure.
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        if live.count():
            live.first.scroll_into_view_if_needed()
            live.first.wait_for(state="visible", timeout=10_000)
            return live.first
        if fallback.count() or error.count():
            break
        page.wait_for_timeout(250)
    page.screenshot(path=str(ARTIFACTS / f"{name}-failure.png"))
    body = page.evaluate("document.body.textContent")  # innerText skips off-screen cells
    shows = [t for t in (*BROKEN_WIDGET_TEXTS, "need a widget frontend") if t in body]
    raise AssertionError(
        f"the {title!r} never rendered as a live widget in JupyterLab: the widget frontend is "
        f"missing or broken (the page shows {shows or 'no widget output'}); "
        f"screenshot in test-artifacts/{name}-failure.png"
    )


def test_activation_explorer_reacts_to_its_slider_in_jupyterlab(tmp_path):
    """Run lesson 01 in JupyterLab + Chromium, press → on the weight slider: does the plot change?

    Also: does every explorer of the lesson render as a live widget?
    """
    started = time.monotonic()
    with _lesson_in_browser(tmp_path) as (page, notebook):
        explorer = _find_live_explorer(page, "Activation explorer", "widgets-browser")
        outputs = page.locator(".jp-OutputArea-output .widget-vbox")
        expected = _count_explorer_calls(notebook)
        rendered = outputs.filter(has=page.locator("img.widget-image"))
        deadline = time.monotonic() + 30
        while rendered.count() < expected and time.monotonic() < deadline:
            page.wait_for_timeout(250)
        assert rendered.count() == expected, (
            f"{rendered.count()} of the notebook's {expected} explorers rendered as widgets"
        )
        explorer.scroll_into_view_if_needed()
        img = explorer.locator("img.widget-image").first
        img.wait_for(state="visible", timeout=20_000)
        before_src = _wait_stable_src(page, img)
        box = img.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 100, (
            f"the explorer's figure is not drawn at a visible size: {box}"
        )
        body = page.evaluate("document.body.textContent")  # innerText skips off-screen cells
        broken = [t for t in BROKEN_WIDGET_TEXTS if t in body]
        assert not broken, f"JupyterLab shows {broken} for a widget"
        explorer.screenshot(path=str(ARTIFACTS / "activation-explorer-before.png"))
        before_png = img.screenshot()

        slider = explorer.locator(".widget-slider", has_text="weight w").first
        readout = slider.locator(".widget-readout")
        assert readout.inner_text().strip() == "1.0"
        slider.locator(".noUi-handle").first.focus()
        for _ in range(5):
            page.keyboard.press("ArrowRight")
        page.wait_for_function(
            "el => el.innerText.trim() === '1.5'", arg=readout.element_handle(), timeout=10_000
        )
        deadline = time.monotonic() + 20
        while _image_src(img) == before_src and time.monotonic() < deadline:
            page.wait_for_timeout(200)
        after_src = _wait_stable_src(page, img)
        explorer.screenshot(path=str(ARTIFACTS / "activation-explorer-after.png"))
        page.screenshot(path=str(ARTIFACTS / "jupyterlab-lesson-01.png"))
        after_png = img.screenshot()
        assert after_src != before_src, "moving the weight slider did not redraw the plot"
        assert after_png != before_png, "the plot's pixels did not change with the slider"
        neuron = outputs.filter(has_text="Neuron and layer explorer")
        if neuron.count():  # lesson 01 embeds it too: keep a picture of it as an artifact
            neuron.first.scroll_into_view_if_needed()
            neuron.first.screenshot(path=str(ARTIFACTS / "neuron-explorer.png"))
    elapsed = time.monotonic() - started
    assert elapsed < 90, f"the browser test took {elapsed:.0f} s (budget 90 s)"


def test_a_missing_widget_frontend_is_detected_loudly(tmp_path):
    """With ipywidgets' JupyterLab extension disabled, does the check fail (not pass or skip)?"""
    with _lesson_in_browser(tmp_path, widgets_enabled=False) as (page, _):
        with pytest.raises(AssertionError, match="never rendered as a live widget") as failure:
            _find_live_explorer(page, "Activation explorer", "widgets-disabled")
    assert "need a widget frontend" in str(failure.value)  # the static fallback was shown

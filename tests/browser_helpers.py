"""Helpers for tests that drive JupyterLab in a real browser (Debian's Chromium via Playwright).

Everything a browser test needs, and nothing about what it checks::

    from browser_helpers import jupyter_lab, chromium_page, open_notebook, run_all_cells

    with jupyter_lab(tmp_path, root=folder) as lab, chromium_page("my-test") as page:
        open_notebook(page, lab, "lesson.ipynb")
        run_all_cells(page)

* :func:`jupyter_lab` starts ``jupyter lab`` from the project's environment on loopback, on a
  free port, with a throw-away home, and stops it by its process group whatever happens.
* :func:`chromium_page` launches headless Chromium with the flags that work on these machines
  and gives a page that watches for JupyterLab dialogs (below); on a failure inside the block
  it keeps a screenshot in ``test-artifacts/<name>-failure.png``.
* Dialogs: a ``.jp-Dialog`` covers the page and swallows clicks. On a busy machine JupyterLab
  opens some by itself (see :data:`KNOWN_DIALOGS`). The page dismisses those that are known
  and harmless (with the button that leaves the work as it is); any other dialog is a failure
  that names its text and keeps a screenshot (:class:`UnexpectedDialog`).
* :func:`wait_kernel_idle`, :func:`run_all_cells`, :func:`wait_until` (a polling wait that
  handles dialogs), :func:`screenshot`.

Waits are for conditions, with generous deadlines: these tests must pass on a busy machine.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from server_helpers import free_port, stop_process_group

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
# Deadlines for a machine whose cores are all busy (measured idle: ready in 4-5 s, kernel idle
# within 10 s of opening a notebook).
SERVER_READY_S = 90.0
KERNEL_IDLE_MS = 120_000
CELLS_STARTED_MS = 30_000


# --------------------------------------------------------------------------------------------
# JupyterLab


@dataclass
class LabServer:
    """A running ``jupyter lab``: its port, process, log file and throw-away home."""

    port: int
    proc: subprocess.Popen
    log: Path
    home: Path
    root: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def lab_environment(home: Path) -> dict[str, str]:
    """The environment for a server whose settings and runtime files all live under ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "MPLBACKEND"))}
    env.update(
        HOME=str(home),
        JUPYTER_CONFIG_DIR=str(home / "jupyter-config"),
        JUPYTER_DATA_DIR=str(home / "jupyter-data"),
        JUPYTER_RUNTIME_DIR=str(home / "jupyter-runtime"),
        IPYTHONDIR=str(home / "ipython"),
        MPLCONFIGDIR=str(home / "mpl"),
    )
    return env


def start_lab(
    root: Path, home: Path, port: int, log, extra_args: Sequence[str] = ()
) -> subprocess.Popen:
    """Start ``jupyter lab`` (no token, no browser) serving ``root`` on ``127.0.0.1:port``."""
    jupyter = Path(sys.executable).parent / "jupyter"
    cmd = [
        str(jupyter), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        "--ServerApp.port_retries=0", "--IdentityProvider.token=", "--ServerApp.password=",
        f"--ServerApp.root_dir={root}", "--ServerApp.open_browser=False", *extra_args,
    ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    # Own process group, so that a signal to the server's PID reaches any helper it spawned;
    # kernels run in sessions of their own and are shut down through the API (stop_lab).
    return subprocess.Popen(
        cmd, env=lab_environment(home), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def wait_ready(proc: subprocess.Popen, port: int, timeout: float = SERVER_READY_S) -> None:
    """Wait until the server answers ``/api/status``; fail if it exits or never answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"jupyter lab exited with code {proc.returncode} before ready")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"jupyter lab did not answer on port {port} within {timeout:.0f} s")


def api_opener(port: int) -> urllib.request.OpenerDirector:
    """An opener for the server's REST API, carrying the XSRF cookie it asks for."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(f"http://127.0.0.1:{port}/lab", timeout=10).close()
    xsrf = next((c.value for c in jar if c.name == "_xsrf"), "")
    opener.addheaders = [("X-XSRFToken", xsrf)]
    return opener


def shutdown_kernels(port: int) -> list[str]:
    """Ask the server to shut its kernels down; return their ids (best effort)."""
    try:
        api = api_opener(port)
        with api.open(f"http://127.0.0.1:{port}/api/kernels", timeout=10) as r:
            ids = [k["id"] for k in json.load(r)]
        for kernel_id in ids:
            url = f"http://127.0.0.1:{port}/api/kernels/{kernel_id}"
            api.open(urllib.request.Request(url, method="DELETE"), timeout=30).close()
        return ids
    except OSError:
        return []


def stop_lab(proc: subprocess.Popen, port: int) -> None:
    """Stop the server by its PID: kernels first, then SIGTERM to its group (SIGKILL after 10 s)."""
    if proc.poll() is not None:
        return
    shutdown_kernels(port)
    stop_process_group(proc, grace=10)


@contextlib.contextmanager
def jupyter_lab(
    tmp_path: Path,
    root: Path,
    *,
    home: Path | None = None,
    extra_args: Sequence[str] = (),
) -> Iterator[LabServer]:
    """Yield a :class:`LabServer` serving ``root``; stopped by its PID on the way out.

    ``home`` (default ``tmp_path / "home"``) holds the server's settings; write a
    ``jupyter-config/labconfig/page_config.json`` there before entering to change the page.
    """
    home = home or tmp_path / "home"
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = tmp_path / "jupyter-lab.log"
    with open(log, "w") as out:
        proc = start_lab(root, home, port, out, extra_args)
    try:
        wait_ready(proc, port)
        yield LabServer(port=port, proc=proc, log=log, home=home, root=root)
    except BaseException as exc:
        with contextlib.suppress(Exception):
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
            exc.add_note(f"last lines of the JupyterLab server's log ({log}):\n{tail}")
        raise
    finally:
        stop_lab(proc, port)
        assert proc.poll() is not None, "jupyter lab is still running after stop"


# --------------------------------------------------------------------------------------------
# Dialogs


@dataclass(frozen=True)
class KnownDialog:
    """A dialog JupyterLab may open by itself, how to close it, and why that is harmless."""

    title: str  # a regular expression matched against the dialog's title
    button: str  # the label of the button that closes it (exactly as shown)
    why: str
    # not harmless after all when its drop-down list shows one of these
    unless_selected: tuple[str, ...] = ()


KNOWN_DIALOGS: tuple[KnownDialog, ...] = (
    KnownDialog(
        title=r"^Select Kernel$",
        button="Select",
        why=(
            "JupyterLab 4 (SessionContext.startKernel) asks when it cannot pick the notebook's "
            "kernel itself: getDefaultKernel returns null while the list of kernel specs has "
            "not arrived, and a session request that failed ends the same way. On a busy "
            "machine the requests are slow; the dialog then offers the notebook's own kernel, "
            "and Select starts it, as JupyterLab would have done."
        ),
        unless_selected=("No Kernel",),
    ),
)


class UnexpectedDialog(AssertionError):
    """A JupyterLab dialog that no test expects covers the page."""


@dataclass
class DialogWatch:
    """What the dialog watch saw on one page: texts of dialogs dismissed, and of unknown ones."""

    name: str
    dismissed: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def dialog_text(page) -> str | None:
    """The visible ``.jp-Dialog``'s text (title and body, one line), or None when there is none."""
    dialog = page.locator(".jp-Dialog").first
    try:
        if not dialog.count() or not dialog.is_visible():
            return None
        return " ".join(dialog.inner_text(timeout=5_000).split())
    except Exception:  # it closed between two calls
        return None


def _known(page) -> KnownDialog | None:
    dialog = page.locator(".jp-Dialog").first
    header = dialog.locator(".jp-Dialog-header").first
    try:
        title = " ".join(header.inner_text(timeout=5_000).split()) if header.count() else ""
        known = next((k for k in KNOWN_DIALOGS if re.search(k.title, title)), None)
        if known is None or not known.unless_selected:
            return known
        selected = dialog.evaluate(
            "d => [...d.querySelectorAll('select')].map(s => s.selectedOptions[0]?.text ?? '')"
        )
    except Exception:
        return None
    return None if set(selected) & set(known.unless_selected) else known


def unexpected_dialog(page, watch: DialogWatch, text: str) -> UnexpectedDialog:
    """The failure for a dialog no test expects: its text, and a screenshot of the page."""
    shot = screenshot(page, f"{watch.name}-dialog")
    return UnexpectedDialog(
        f"JupyterLab opened a dialog no test expects: {text!r}; screenshot in "
        f"{shot.relative_to(REPO)} (if it is harmless, add it to KNOWN_DIALOGS in "
        "tests/browser_helpers.py with the button that closes it)"
    )


def handle_dialog(page, watch: DialogWatch, fail: bool = True) -> None:
    """Close a known, harmless dialog. Any other dialog raises :class:`UnexpectedDialog`
    (``fail=False``: is only recorded in ``watch.unknown``)."""
    for _ in range(5):  # the locator handler may close the same dialog while we look at it
        text = dialog_text(page)
        if text is None:
            return
        known = _known(page)
        if known is not None:
            dialog = page.locator(".jp-Dialog").first
            try:
                button = dialog.locator(".jp-Dialog-button", has_text=known.button).first
                button.click(timeout=10_000)
                dialog.wait_for(state="hidden", timeout=30_000)
            except Exception:
                continue  # closed meanwhile: look again
            watch.dismissed.append(text)
            return
        if dialog_text(page) != text:
            continue  # it closed or changed while we looked
        if not fail:
            if text not in watch.unknown:
                watch.unknown.append(text)
            return
        raise unexpected_dialog(page, watch, text)


def watch_dialogs(page, name: str) -> DialogWatch:
    """Close known dialogs before every click, fill or press on ``page`` (Playwright's locator
    handler runs the moment a dialog would swallow the action). An unknown dialog is recorded;
    the action then times out and :func:`chromium_page` names the dialog in the failure (an
    exception inside a locator handler does not reach the action, so it cannot fail there)."""
    watch = DialogWatch(name)

    def handler(_dialog) -> None:
        with contextlib.suppress(Exception):
            handle_dialog(page, watch, fail=False)

    page.add_locator_handler(page.locator(".jp-Dialog"), handler, no_wait_after=True)
    return watch


def check_dialogs(page, watch: DialogWatch) -> None:
    """Handle a dialog now; for loops that only wait (the locator handler runs before actions)."""
    handle_dialog(page, watch)


def wait_until(page, condition, timeout: float, every_ms: int = 250) -> bool:
    """Poll ``condition()`` until it is true or ``timeout`` seconds pass (handling dialogs
    meanwhile); return its last value's truth. The caller asserts, with its own message."""
    deadline = time.monotonic() + timeout
    while True:
        check_dialogs(page, page.dialogs)
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        page.wait_for_timeout(every_ms)


# --------------------------------------------------------------------------------------------
# The browser


def require_chromium() -> None:
    """Fail (never skip) when Debian's Chromium is missing."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the real-browser tests need Debian's chromium "
            "(run `make browser`, or apt-get install chromium chromium-driver)"
        )


def screenshot(page, name: str) -> Path:
    """Save a picture of the whole page as ``test-artifacts/<name>.png``; return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


@contextlib.contextmanager
def chromium_page(name: str, viewport=(1400, 1000)):
    """Yield a Chromium page watching for dialogs (``page.dialogs`` is its :class:`DialogWatch`).

    On any failure inside the block, a screenshot goes to ``test-artifacts/<name>-failure.png``
    (the error says so) before the browser closes; a failure while an unknown dialog covers
    the page becomes :class:`UnexpectedDialog` naming it. Known dialogs that were closed are
    reported as warnings (pytest's warnings summary lists them).
    """
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_FLAGS)
        )
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            page.dialogs = watch_dialogs(page, name)
            try:
                yield page
            except UnexpectedDialog:
                raise
            except Exception as exc:
                # a dialog covering the page is the likeliest reason an action timed out
                text = dialog_text(page) or (page.dialogs.unknown or [None])[-1]
                if text is not None:
                    raise unexpected_dialog(page, page.dialogs, text) from exc
                with contextlib.suppress(Exception):
                    shot = screenshot(page, f"{name}-failure")
                    exc.add_note(f"screenshot of the page: {shot.relative_to(REPO)}")
                raise
            for text in page.dialogs.dismissed:  # shown in pytest's warnings summary
                warnings.warn(f"closed a known JupyterLab dialog: {text!r}", stacklevel=3)
        finally:
            browser.close()


def open_notebook(page, lab: LabServer, path: str) -> None:
    """Open ``path`` (relative to the server's root) in JupyterLab and wait for its kernel."""
    page.goto(f"{lab.url}/lab/tree/{path}")
    wait_kernel_idle(page)


# The status bar's kernel item reads "Python 3 (ipykernel) | Idle" once a kernel is connected
# and idle. (The toolbar's execution indicator says "idle" too early: before any kernel.)
_KERNEL_IDLE_JS = """() => [...document.querySelectorAll('.jp-StatusBar-Item')].some(e => {
    const text = e.innerText.trim();
    return /\\|\\s*Idle$/.test(text) && !text.startsWith('No Kernel');
})"""


def wait_kernel_idle(page, timeout_ms: int = KERNEL_IDLE_MS) -> None:
    """Wait until the notebook's kernel is connected and idle, handling dialogs meanwhile."""
    if not wait_until(page, lambda: page.evaluate(_KERNEL_IDLE_JS), timeout_ms / 1000):
        shot = screenshot(page, f"{page.dialogs.name}-kernel")
        raise AssertionError(
            f"the notebook's kernel was not connected and idle within {timeout_ms / 1000:.0f} s; "
            f"screenshot in {shot.relative_to(REPO)}"
        )


def run_all_cells(page, attempts: int = 3) -> None:
    """Run > Run All Cells, again if no cell started (a click before the kernel connected)."""
    started = (
        "() => [...document.querySelectorAll('.jp-InputPrompt')]"
        ".some(e => /\\[(\\*|\\d+)\\]/.test(e.innerText))"
    )
    for _ in range(attempts):
        wait_kernel_idle(page)
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        deadline = time.monotonic() + CELLS_STARTED_MS / 1000
        while time.monotonic() < deadline:
            check_dialogs(page, page.dialogs)
            if page.evaluate(started):
                return
            page.wait_for_timeout(250)
        page.keyboard.press("Escape")
    raise AssertionError("JupyterLab did not start running the cells after Run All Cells")

"""Does Run All reach the last cell of a released lesson in JupyterLab itself, in a browser?

The released lesson (every answer a stub, so every visible check fails) is opened in JupyterLab
in headless Chromium (Debian's package, through Playwright; see ``tests/browser_helpers.py``).
Run ▸ Run All Cells must run every code cell down to the last one, `self_check()`, whose output
must appear; then Kernel ▸ Restart Kernel and Run All Cells must do the same in the fresh
kernel. JupyterLab stops a Run All at the first cell that raises unless that cell is tagged
`raises-exception` (it sends `stop_on_error`), so this fails, naming the cells that never ran,
when the check cells lose their tag. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from browser_helpers import (
    chromium_page,
    dialog_text,
    jupyter_lab,
    open_notebook,
    run_all_cells,
    screenshot,
    wait_until,
)
from browser_helpers import _KERNEL_IDLE_JS as KERNEL_IDLE_JS

pytestmark = [pytest.mark.slow, pytest.mark.browser]

REPO = Path(__file__).resolve().parents[2]
LESSON = "02_softmax"
RUN_ALL_S = 240  # generous: the machine running the suite may be busy

# Prompts and outputs of every code cell, read from the DOM (textContent: JupyterLab does not
# lay out cells scrolled out of view, but they are in the document).
CELLS_JS = """() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell')].map(c => ({
    prompt: (c.querySelector('.jp-InputPrompt')?.textContent || '').trim(),
    output: c.querySelector('.jp-OutputArea')?.textContent || '',
}))"""


def _cells(page) -> list[dict]:
    return page.evaluate(CELLS_JS)


def _ran(cell: dict) -> bool:
    return cell["prompt"].strip("[]: ").isdigit()


def _all_ran(page) -> bool:
    """Has every code cell a number in its prompt, and the last one the self-check's output?"""
    cells = _cells(page)
    return (
        bool(cells)
        and all(_ran(c) for c in cells)
        and f"Self-check of {LESSON}" in cells[-1]["output"]
    )


def _queued(page) -> bool:
    return any(c["prompt"].startswith("[*]") for c in _cells(page))


def _wait_until_run_ends(page, what: str) -> None:
    """Wait until no cell is queued or running and the kernel is idle (a Run All that stopped
    early ends there too), or every cell ran."""
    ended = wait_until(
        page,
        lambda: _all_ran(page) or (not _queued(page) and page.evaluate(KERNEL_IDLE_JS)),
        RUN_ALL_S,
    )
    assert ended, f"{what} was still running after {RUN_ALL_S} s"
    # the page may show the last output a moment after the kernel went idle
    wait_until(page, lambda: _all_ran(page), 15)


def _assert_ran_to_the_end(page, what: str) -> None:
    cells = _cells(page)
    not_run = [i for i, c in enumerate(cells) if not _ran(c)]
    assert not not_run, f"{what}: code cells {not_run} of {len(cells)} never ran"
    assert f"Self-check of {LESSON}" in cells[-1]["output"], cells[-1]["output"]
    assert "Visible checks: 0 of" in cells[-1]["output"], cells[-1]["output"]
    failed = [c for c in cells if "✗" in c["output"] and "0 of" in c["output"]]
    assert failed, f"{what}: no check failed on the stubs, so nothing was tested"


def _restart_and_run_all(page) -> None:
    """Kernel ▸ Restart Kernel and Run All Cells, confirming JupyterLab's "Restart Kernel?"
    (a dialog this test expects, so it is answered here, not by the dialog watch)."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Kernel").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Restart Kernel and Run All Cells").first.click()
    deadline = time.monotonic() + 30
    while "Restart" not in (dialog_text(page) or "") and time.monotonic() < deadline:
        page.wait_for_timeout(250)
    assert "Restart" in (dialog_text(page) or ""), f"no restart dialog: {dialog_text(page)!r}"
    dialog = page.locator(".jp-Dialog").first
    dialog.locator(".jp-mod-accept").first.click(no_wait_after=True)
    dialog.wait_for(state="hidden", timeout=30_000)
    page.dialogs.unknown[:] = [t for t in page.dialogs.unknown if "Restart" not in t]


def test_run_all_and_restart_run_all_reach_self_check_in_jupyterlab(tmp_path):
    """Run All, then Restart Kernel and Run All, on the stub release: does the last cell,
    self_check(), print its summary both times, past every failing check?"""
    root = tmp_path / "work"
    shutil.copytree(REPO / "lessons" / LESSON, root)
    with jupyter_lab(tmp_path, root=root) as lab, chromium_page("run-all") as page:
        open_notebook(page, lab, f"{LESSON}.ipynb")
        run_all_cells(page)
        _wait_until_run_ends(page, "Run All")
        _assert_ran_to_the_end(page, "Run All")
        screenshot(page, "run-all-self-check")

        _restart_and_run_all(page)
        # every cell is queued again ([*]), the last one too, before a new self-check shows
        started = wait_until(
            page, lambda: _cells(page)[-1]["prompt"].startswith("[*]") or _all_ran(page), 60
        )
        assert started, "Restart Kernel and Run All did not start running the cells"
        _wait_until_run_ends(page, "Restart Kernel and Run All")
        _assert_ran_to_the_end(page, "Restart Kernel and Run All")

"""Do the explorers really work where students use them: JupyterLab 4 in a real browser?

Starts JupyterLab from the project's environment on loopback, on a temporary copy of lesson 01,
opens it in headless Chromium (Debian's package) through Playwright, runs every cell, moves the
weight slider of the activation explorer with the keyboard and checks that the figure changed.
Screenshots go to ``test-artifacts/``. Missing Chromium, a widget frontend that does not render,
or a plot that does not react are failures, never skips.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import time
from pathlib import Path

import pytest
from browser_helpers import (
    ARTIFACTS,
    REPO,
    chromium_page,
    jupyter_lab,
    open_notebook,
    run_all_cells,
    screenshot,
    wait_until,
)

pytestmark = [pytest.mark.slow, pytest.mark.browser]

LESSON = REPO / "lessons" / "01_neurons"
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
    """Copy lesson 01 into ``root`` as released (or write a one-explorer notebook while it does
    not exist). Its check cells fail on the stubs; Run All goes on past them because the
    release tags them ``raises-exception`` (tests/lessons/test_run_all_browser.py)."""
    import nbformat

    if (LESSON / "01_neurons.ipynb").exists():
        shutil.copytree(LESSON, root, dirs_exist_ok=True)
        return root / "01_neurons.ipynb"
    path = root / "explorer.ipynb"  # fallback until the lesson is built
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "from nnkit.widgets import activation_explorer\n\nactivation_explorer()"
        )
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(nb, path)
    return path


def _image_src(img) -> str:
    return img.evaluate("e => e.currentSrc || e.src")


def _wait_stable_src(page, img, timeout: float = 60.0, quiet: float = 1.0) -> str:
    """Wait until the image's src stops changing for ``quiet`` seconds; return it."""
    seen = {"src": _image_src(img), "since": time.monotonic()}

    def stable() -> bool:
        now = _image_src(img)
        if now != seen["src"]:
            seen.update(src=now, since=time.monotonic())
        return bool(now) and time.monotonic() - seen["since"] >= quiet

    wait_until(page, stable, timeout)
    return seen["src"]


@contextlib.contextmanager
def _lesson_in_browser(tmp_path: Path, name: str, widgets_enabled: bool = True):
    """Yield ``(page, notebook)``: JupyterLab on a copy of the lesson, all cells run.

    The server is stopped by its PID (process group) on the way out, whatever happened.
    """
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
    with jupyter_lab(tmp_path, root, home=home) as lab, chromium_page(name) as page:
        open_notebook(page, lab, notebook.name)
        run_all_cells(page)
        yield page, notebook


def _find_live_explorer(page, title: str, name: str):
    """The explorer's live widget, or a loud failure naming what the page shows instead."""
    live = page.locator(".jp-OutputArea-output .widget-vbox", has_text=title)
    fallback = page.get_by_text("need a widget frontend")  # no widget manager in the page
    error = page.get_by_text("Error displaying widget")
    # Counting attached elements, not visible ones: JupyterLab skips rendering cells scrolled
    # out of view. "Loading widget..." is transient, so only a deadline turns it into a failure.
    wait_until(page, lambda: live.count() or fallback.count() or error.count(), 120)
    if live.count():
        live.first.scroll_into_view_if_needed()
        live.first.wait_for(state="visible", timeout=30_000)
        return live.first
    shot = screenshot(page, f"{name}-failure")
    body = page.evaluate("document.body.textContent")  # innerText skips off-screen cells
    shows = [t for t in (*BROKEN_WIDGET_TEXTS, "need a widget frontend") if t in body]
    raise AssertionError(
        f"the {title!r} never rendered as a live widget in JupyterLab: the widget frontend is "
        f"missing or broken (the page shows {shows or 'no widget output'}); "
        f"screenshot in {shot.relative_to(REPO)}"
    )


def test_activation_explorer_reacts_to_its_slider_in_jupyterlab(tmp_path):
    """Run lesson 01 in JupyterLab + Chromium, press → on the weight slider: does the plot change?

    Also: does every explorer of the lesson render as a live widget?
    """
    with _lesson_in_browser(tmp_path, "widgets-browser") as (page, notebook):
        explorer = _find_live_explorer(page, "Activation explorer", "widgets-browser")
        outputs = page.locator(".jp-OutputArea-output .widget-vbox")
        expected = _count_explorer_calls(notebook)
        rendered = outputs.filter(has=page.locator("img.widget-image"))
        wait_until(page, lambda: rendered.count() >= expected, 120)
        assert rendered.count() == expected, (
            f"{rendered.count()} of the notebook's {expected} explorers rendered as widgets"
        )
        explorer.scroll_into_view_if_needed()
        img = explorer.locator("img.widget-image").first
        img.wait_for(state="visible", timeout=60_000)
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
            "el => el.innerText.trim() === '1.5'", arg=readout.element_handle(), timeout=60_000
        )
        wait_until(page, lambda: _image_src(img) != before_src, 60)
        after_src = _wait_stable_src(page, img)
        explorer.screenshot(path=str(ARTIFACTS / "activation-explorer-after.png"))
        screenshot(page, "jupyterlab-lesson-01")
        after_png = img.screenshot()
        assert after_src != before_src, "moving the weight slider did not redraw the plot"
        assert after_png != before_png, "the plot's pixels did not change with the slider"
        neuron = outputs.filter(has_text="Neuron and layer explorer")
        if neuron.count():  # lesson 01 embeds it too: keep a picture of it as an artifact
            neuron.first.scroll_into_view_if_needed()
            neuron.first.screenshot(path=str(ARTIFACTS / "neuron-explorer.png"))


def test_a_missing_widget_frontend_is_detected_loudly(tmp_path):
    """With ipywidgets' JupyterLab extension disabled, does the check fail (not pass or skip)?"""
    with _lesson_in_browser(tmp_path, "widgets-disabled", widgets_enabled=False) as (page, _):
        with pytest.raises(AssertionError, match="never rendered as a live widget") as failure:
            _find_live_explorer(page, "Activation explorer", "widgets-disabled")
    assert "need a widget frontend" in str(failure.value)  # the static fallback was shown

"""Playwright steps of a student or instructor on the class hub or in a role's JupyterLab.

The browser itself, the dialog watch and the kernel waits are ``tests/browser_helpers.py``'s.
"""

from __future__ import annotations

import html
import re
import time
from html.parser import HTMLParser

NBGRADER_TOOLS = {
    "Nbgrader menu": ".lm-MenuBar-itemLabel:text-is('Nbgrader')",
    "Create Assignment panel": ".jp-SideBar .lm-TabBar-tab[data-id='nbgrader-create_assignemnt']",
    "Validate toolbar button": ".validate-button",
}


def log_in(page, url: str, user: str, password: str) -> None:
    """The hub's login form, then wait for JupyterLab's menu bar (the server starts first)."""
    page.goto(f"{url}/hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", password)
    page.click("#login_submit")
    page.wait_for_selector(".lm-MenuBar-itemLabel", timeout=180_000)


def menu_bar(page) -> list[str]:
    return [t.strip() for t in page.locator(".lm-MenuBar-itemLabel").all_inner_texts()]


def open_assignments(page) -> None:
    """Course > Assignment List, as a student opens the Assignments tab; wait for its lists."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Course").click()
    page.locator(".lm-Menu-itemLabel", has_text="Assignment List").click()
    page.wait_for_selector("#nbgrader-assignment-list #released_assignments_list", timeout=30_000)
    wait_lists_loaded(page)


def wait_lists_loaded(page, timeout: float = 60.0) -> None:
    page.wait_for_function(
        "() => [...document.querySelectorAll('#nbgrader-assignment-list .list_loading')]"
        ".every(e => e.hidden)",
        timeout=timeout * 1000,
    )


def refresh_assignments(page) -> None:
    page.locator("#refresh_assignments_list").click()
    page.wait_for_timeout(300)
    wait_lists_loaded(page)


def click_row_button(page, list_id: str, lesson: str, label: str, timeout: float = 60.0):
    """Click the button ``label`` on the row of ``lesson`` in one of the Assignments lists."""
    row = page.locator(f"#{list_id} > .list_item", has_text=lesson).first
    button = row.locator(".item_status button", has_text=label).first
    button.wait_for(state="visible", timeout=timeout * 1000)
    deadline = time.monotonic() + timeout
    while button.is_disabled() and time.monotonic() < deadline:
        refresh_assignments(page)
        row = page.locator(f"#{list_id} > .list_item", has_text=lesson).first
        button = row.locator(".item_status button", has_text=label).first
    button.click()
    return row


def error_text(page) -> str:
    """What the Assignments tab shows as errors (nbgrader puts them in .list_error boxes)."""
    boxes = page.locator("#nbgrader-assignment-list .list_error:not([hidden])")
    return " | ".join(t.strip() for t in boxes.all_inner_texts() if t.strip())


def replace_cell_source(page, marker: str, source: str) -> None:
    """Replace the whole text of the answer cell (the stub, ``NotImplementedError``) that
    contains ``marker`` by ``source``."""
    cells = page.locator(".jp-CodeCell", has_text=marker)
    cell = cells.filter(has_text="raise NotImplementedError()").first
    cell.scroll_into_view_if_needed()
    editor = cell.locator(".cm-content").first
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(source)  # as pasted: no auto-indent, no bracket closing


def save_notebook(page) -> None:
    page.keyboard.press("Control+s")
    page.wait_for_function(
        "() => !document.querySelector('.jp-DocumentWidget.jp-mod-current .jp-mod-dirty')"
        " && !document.querySelector('.lm-TabBar-tab.jp-mod-current.jp-mod-dirty')",
        timeout=30_000,
    )


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("style", "script") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def html_text(document: str) -> str:
    """The text a reader sees in an HTML page (tags, styles and scripts removed)."""
    parser = _Text()
    parser.feed(document)
    return re.sub(r"\s+", " ", html.unescape(" ".join(parser.parts)))

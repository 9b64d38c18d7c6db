"""Do the browser helpers close the dialogs they know, and fail loudly on the others?

A notebook whose kernel spec no longer exists makes JupyterLab 4 open its "Select Kernel"
dialog every time - the same dialog a busy machine provokes at random (see KNOWN_DIALOGS in
``tests/browser_helpers.py``) - so the helpers' way of closing it is tested deterministically
here. The kernel menu's "Restart Kernel…" opens a dialog no helper expects.
"""

from __future__ import annotations

import nbformat
import pytest
from browser_helpers import (
    REPO,
    UnexpectedDialog,
    chromium_page,
    jupyter_lab,
    open_notebook,
    run_all_cells,
    wait_kernel_idle,
    wait_until,
)

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_a_known_dialog_is_closed_and_an_unknown_one_fails_naming_its_text(tmp_path):
    """Select Kernel: closed with Select, and the notebook's cells then run in a Python kernel.
    Restart Kernel?: the failure quotes the dialog and keeps a screenshot."""
    root = tmp_path / "notebooks"
    root.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")])
    nb.metadata["kernelspec"] = {"name": "gone", "display_name": "A kernel that is gone"}
    nbformat.write(nb, root / "gone.ipynb")
    closed = pytest.warns(UserWarning, match="closed a known JupyterLab dialog: 'Select Kernel")
    with closed, jupyter_lab(tmp_path, root) as lab, chromium_page("helpers-dialogs") as page:
        open_notebook(page, lab, "gone.ipynb")
        assert [t for t in page.dialogs.dismissed if t.startswith("Select Kernel")], (
            page.dialogs.dismissed
        )
        run_all_cells(page)
        output = page.locator(".jp-OutputArea-output", has_text="42")
        assert wait_until(page, lambda: output.count() > 0, 120), "the cell did not print 42"

        page.locator(".lm-MenuBar-itemLabel", has_text="Kernel").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Restart Kernel").first.click()
        with pytest.raises(UnexpectedDialog, match=r"Restart Kernel\?") as failure:
            wait_kernel_idle(page)
    message = str(failure.value)
    assert "screenshot in test-artifacts/helpers-dialogs-dialog.png" in message
    assert (REPO / "test-artifacts" / "helpers-dialogs-dialog.png").stat().st_size > 1000

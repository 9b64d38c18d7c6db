"""Without a widget frontend (nbclient, as nbgrader runs it): a picture, a message, no stderr?"""

from __future__ import annotations

import base64

import pytest

pytestmark = pytest.mark.slow

CELLS = [
    "import numpy as np\nfrom nnkit.widgets import *",
    "def sigmoid(a):\n    raise NotImplementedError()\n\n"
    "activation_explorer(fn=sigmoid, grad_fn=sigmoid)",
    "def relu(a):\n    return np.maximum(a, 0)\n\ndef relu_grad(a):\n    return a\n\n"
    "ex = activation_explorer(relu, relu_grad)",
    "activation_explorer();",
    "neuron_explorer()",
    "neuron_explorer(dataset='moons')",
    "init_explorer()",
    "optimizer_playground()",
    "dropout_explorer()",
    "batchnorm_explorer()",
    "ex",  # displaying the returned explorer again in a later cell shows it again
    "print(ex.data.slope_mismatch > 0.5, ex.notes)",
]


def test_explorers_show_one_picture_and_a_message_each_under_nbclient(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    NotebookClient(
        nb,
        timeout=600,  # a hang guard only: a busy machine may be slow
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
        extra_arguments=["--HistoryManager.hist_file=:memory:", "--IPKernelApp.log_level=ERROR"],
    ).execute()
    for i, cell in enumerate(nb.cells[1:-1], start=1):
        streams = [o for o in cell.outputs if o.output_type == "stream"]
        assert not [o for o in streams if o.name == "stderr"], (CELLS[i], streams)
        shown = [o for o in cell.outputs if o.output_type in ("display_data", "execute_result")]
        assert len(shown) == 1, f"cell {i} ({CELLS[i]!r}) shows {len(shown)} outputs, want 1"
        data = shown[0].data
        assert base64.b64decode(data["image/png"]).startswith(b"\x89PNG")
        assert "need a widget frontend" in data["text/plain"]
        assert "application/vnd.jupyter.widget-view+json" in data
    assert "is not written yet" in nb.cells[1].outputs[0].data["text/plain"]
    last = nb.cells[-1].outputs
    assert last[0].name == "stdout" and last[0].text.startswith("True")
    assert "derivative you gave disagrees" in last[0].text

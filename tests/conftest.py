"""Suite-wide fixtures. Sub-folders keep their own conftest.py for their fixtures."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# One BLAS thread per process (also for the kernels the tests start, which inherit it): on a
# busy 2-core machine, BLAS threads waiting for a core made numeric tests up to 30x slower
# (nnkit.check_model at load 19: 304 s with two OpenBLAS threads, 9.3 s with one). Set before
# any test module imports numpy; a value the caller set wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # server_helpers


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(autouse=True, scope="session")
def _isolated_home(tmp_path_factory):
    """Keep Jupyter, IPython and matplotlib from writing into the user's home during tests."""
    home = tmp_path_factory.mktemp("home")
    saved = {k: os.environ.get(k) for k in ("HOME", "IPYTHONDIR", "MPLCONFIGDIR", "MPLBACKEND")}
    os.environ.update(
        HOME=str(home),
        IPYTHONDIR=str(home / ".ipython"),
        MPLCONFIGDIR=str(home / ".mpl"),
        MPLBACKEND="Agg",
    )
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value

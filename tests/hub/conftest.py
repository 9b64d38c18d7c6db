"""The class hub's tests import ``deploy.hub`` (not an installed package) and the browser
steps in ``hub_browser.py``."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for path in (HERE, HERE.parents[1]):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

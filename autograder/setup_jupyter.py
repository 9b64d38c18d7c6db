"""JupyterLab settings of this environment, and the role folders a server can be started with.

``python -m autograder.setup_jupyter`` (run by ``make`` after install, and by the class hub's
installer for its runtime) merges ``course_roles/lab_overrides.json`` — no news pop-up, no
update check, a Course menu that opens the Assignments tab — into
``<sys.prefix>/share/jupyter/lab/settings/overrides.json``, keeping any other setting there.

``python -m autograder.setup_jupyter --role student`` prints the role's Jupyter configuration
folder instead (put it first in ``JUPYTER_CONFIG_PATH``); see :mod:`course_roles`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from course_roles import LAB_OVERRIDES, ROLES, role_dir


def overrides() -> dict:
    """The environment's JupyterLab settings, as ``course_roles/lab_overrides.json`` has them."""
    return json.loads(LAB_OVERRIDES.read_text(encoding="utf-8"))


def main(prefix: str = sys.prefix) -> Path:
    """Merge :func:`overrides` into the prefix's ``overrides.json``; return its path."""
    path = Path(prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    current = json.loads(path.read_text()) if path.exists() else {}
    current.update(overrides())
    path.write_text(json.dumps(current, indent=2) + "\n")
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m autograder.setup_jupyter")
    parser.add_argument("--role", choices=ROLES, help="print this role's configuration folder")
    parser.add_argument("--prefix", default=sys.prefix, help="environment to configure")
    args = parser.parse_args()
    if args.role:
        print(role_dir(args.role))
    else:
        print(f"wrote {main(args.prefix)}")

"""``python -m tools.build_lessons [LESSON ...] [--release]``.

Writes ``solutions/NN_name/NN_name.ipynb`` for every lesson module (or the ones named), and with
``--release`` runs ``nbgrader generate_assignment NN_name --force`` for each, refreshing
``lessons/``. Run it from anywhere; it works in the repository root.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from . import lesson_modules
from .nb import write_notebook

REPO = Path(__file__).resolve().parents[2]


def release(lesson: str, course_root: Path = REPO) -> None:
    """Run ``nbgrader generate_assignment`` for one lesson in ``course_root``."""
    nbgrader = Path(sys.executable).with_name("nbgrader")
    cmd = [
        str(nbgrader) if nbgrader.exists() else "nbgrader",
        "generate_assignment",
        lesson,
        "--force",
    ]
    env = dict(os.environ)
    # nbgrader runs `alembic` for its database; it must find the venv's scripts.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    done = subprocess.run(cmd, cwd=course_root, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(
            f"nbgrader generate_assignment {lesson} failed:\n{done.stdout}\n{done.stderr}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.build_lessons", description=__doc__)
    parser.add_argument("lessons", nargs="*", help="lesson ids, e.g. 01_neurons (default: all)")
    parser.add_argument("--release", action="store_true", help="also regenerate lessons/")
    parser.add_argument("--root", type=Path, default=REPO, help="course root (default: the repo)")
    args = parser.parse_args(argv)
    for module in lesson_modules():
        if args.lessons and module.LESSON not in args.lessons:
            continue
        path = args.root / "solutions" / module.LESSON / f"{module.LESSON}.ipynb"
        write_notebook(module.build(), path)
        print(f"wrote {path.relative_to(args.root)}")
        if args.release:
            release(module.LESSON, args.root)
            print(f"released lessons/{module.LESSON}/{module.LESSON}.ipynb")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

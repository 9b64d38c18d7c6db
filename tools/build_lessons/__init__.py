"""Build scripts that write the nbgrader source notebooks ``solutions/NN_name/NN_name.ipynb``.

One module per lesson, ``lNN_<name>.py``, defines ``LESSON = "NN_name"`` and ``build()``
returning an ``nbformat`` notebook (use :class:`tools.build_lessons.nb.Lesson`).
``python -m tools.build_lessons`` finds the modules automatically; see ``autograder/AUTHORING.md``.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def lesson_modules() -> list[ModuleType]:
    """Every ``lNN_*`` module of this package, in lesson order."""
    mods = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name[:1] == "l" and info.name[1:3].isdigit():
            mods.append(importlib.import_module(f"{__name__}.{info.name}"))
    return mods

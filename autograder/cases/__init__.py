"""Seeded cases, mistake catalogues and manifests of every graded lesson.

Each module ``lNN_<name>.py`` in this package grades one lesson: it builds
:class:`autograder.registry.FunctionSpec` s and a manifest of
:class:`autograder.registry.Part` s and calls :func:`autograder.registry.register`. Modules are
found automatically (sorted by name), so a new lesson only adds a file here.
"""

from __future__ import annotations

import importlib
import pkgutil

LOADED: list[str] = []


def load_all() -> list[str]:
    """Import every ``lNN_*`` module of this package once; return their names."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name[:1] == "l" and info.name[1:3].isdigit() and info.name not in LOADED:
            importlib.import_module(f"{__name__}.{info.name}")
            LOADED.append(info.name)
    return list(LOADED)

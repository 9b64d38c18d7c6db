"""Everything about grading: test-cell helpers, nbgrader configuration, the instructor command line.

A lesson's test cells call, one line per part::

    from autograder import check, self_check
    check("softmax", softmax, part="values")

See ``autograder/AUTHORING.md`` for how a lesson is written and graded.
"""

from __future__ import annotations

from . import framework, sandbox
from .cases import load_all as _load_cases
from .framework import CheckFailed, check, self_check

__all__ = ["CheckFailed", "check", "self_check"]

_load_cases()
framework.capture_references()
sandbox.take_snapshot()
framework.freeze_registry()
framework.protect_names_in_notebook(check=check, self_check=self_check)

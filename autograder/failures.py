"""How a check fails: the exceptions of the test-cell API and of a part's runner.

* :class:`CheckFailed` is what a test cell raises when a part failed, so nbgrader gives the
  cell 0 points; IPython renders it as the message alone (``_render_traceback_``), so a failing
  hidden test shows neither its source nor its inputs.
* :class:`_PartFailed` stops a part's runner (``ctx.fail(...)``) with the message for the
  student and the id of the mistake it diagnoses (:mod:`autograder.mistake_ids`).
* :class:`NotDefinedError` is raised by the stand-in of a graded function whose answer cell
  has not defined it (see :func:`autograder.framework.protect_names_in_notebook`).
"""

from __future__ import annotations


class CheckFailed(Exception):
    """A part of a check failed. Renders in Jupyter as the student message only."""

    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines

    def _render_traceback_(self) -> list[str]:
        return list(self.lines)


class _PartFailed(Exception):
    """A part failed. ``mistake`` identifies the named mistake the message diagnoses (the
    ``Mistake.name`` of a catalogue entry, or the name a runner gives its own diagnosis);
    ``None`` when the message names no mistake."""

    def __init__(self, message: str, mistake: str | None = None):
        super().__init__(message)
        self.message = message
        self.mistake = mistake


class NotDefinedError(Exception):
    """Raised by the stand-in of a graded function whose answer cell has not defined it."""

"""The stable name of a failed check's diagnosis: the mistake *id* the class analytics count.

A failing part carries an id (``Context.fail(message, mistake=...)``), and :func:`diagnosis`
turns it into the pair ``(id, headline)`` that ``check`` hands to the warden's ledger:

* a catalogue entry matched (``This looks like: ...``): the id is its :attr:`Mistake.name`
  (several entries for several wrong parts: their names joined by `` + ``), the headline the
  first sentence of its message;
* the grader itself named what went wrong: one of the fixed ids below (a call of the
  reference, an exception of some type, an input changed in place, a wrong shape or dtype, ...);
* only "differs in k of n entries" could be said: :data:`UNNAMED`;
* a custom runner failed the part with a message and no id: the id is the message's diagnosis
  in normal form (:func:`from_message`: the case label, numbers and quoted text taken out), so
  the same sentence gives the same id for every student.

The id and the headline travel from the kernel to the instructor's grader in the warden's
signed ledger (see :mod:`autograder.instructor.kernel_boot`); they never hold an input or an
expected value of a hidden case: a headline is a fixed text, a catalogue entry's sentence, or
part of the message the student is shown.
"""

from __future__ import annotations

import re
from typing import Any

UNNAMED = "unnamed"
NOT_IMPLEMENTED = "not implemented"
NOT_DEFINED = "not defined"
CALLS_REFERENCE = "called the reference"
MUTATES_INPUT = "changed an input in place"
NAN_OR_INF = "nan or inf"
COULD_NOT_EVALUATE = "could not evaluate"
RAISED = "raised "  # + the exception's type name

# the grader's own diagnoses, with their headline
FIXED: dict[str, str] = {
    UNNAMED: "the values differ and no catalogue entry explains how",
    NOT_IMPLEMENTED: "still raises NotImplementedError",
    NOT_DEFINED: "the function is not defined (its answer cell failed or was not run)",
    CALLS_REFERENCE: "calls the course's reference instead of computing",
    MUTATES_INPUT: "changes an input array in place",
    NAN_OR_INF: "NaN or inf where a finite value was expected (an overflow?)",
    COULD_NOT_EVALUATE: "returned an object the check could not evaluate",
    "wrong type": "returns the wrong type (a list, a tuple, a number instead of an array...)",
    "wrong shape": "returns an array of the wrong shape",
    "wrong dtype": "returns the wrong dtype (integers, or float64 for float32 input)",
    "wrong keys": "returns a dict with the wrong keys",
    "wrong length": "returns a tuple with the wrong number of elements",
}

_MISMATCH = {
    "type": "wrong type",
    "shape": "wrong shape",
    "dtype": "wrong dtype",
    "keys": "wrong keys",
    "length": "wrong length",
    "nonfinite": NAN_OR_INF,
    "values": UNNAMED,
}

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_CASE = re.compile(r'^\s*On the case "[^"]*"(?: \([^)]*\))?:\s*')
_QUOTED = re.compile(r'"[^"]*"|`[^`]*`')
# a measured number (decimals, exponent, percent): plain integers are a message's constants
_NUMBER = re.compile(r"[-+]?(?:\d*\.\d+(?:e[-+]?\d+)?%?|\d+e[-+]?\d+%?|\d+%)", re.I)
_SENTENCE_END = re.compile(r"[.;:](?:\s|$)")


def clean(text: str, limit: int = 160) -> str:
    """One line of plain text (no control characters), at most ``limit`` characters."""
    text = _CONTROL.sub(" ", str(text)).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def first_sentence(text: str) -> str:
    """The first sentence of ``text``'s first line (up to ``.``, ``;`` or ``:`` + space)."""
    line = str(text).strip().splitlines()[0] if str(text).strip() else ""
    match = _SENTENCE_END.search(line)
    return line[: match.start()] if match else line


def for_mismatch(kind: str) -> str:
    """The id of what :func:`autograder.diagnose.compare` found, when no entry matched."""
    return _MISMATCH.get(kind, UNNAMED)


def raised(type_name: str) -> str:
    """The id of an exception of type ``type_name`` raised by the student's function."""
    return RAISED + clean(type_name, 60)


def diagnosis(spec: Any, message: str, mistake: str | None) -> tuple[str, str]:
    """``(id, headline)`` of a failed part of ``spec``'s function (see the module docstring)."""
    if not mistake:
        return from_message(message)
    entries = {m.name: m.message for m in getattr(spec, "mistakes", ())}
    names = mistake.split(" + ")
    if all(name in entries for name in names):
        headline = "; ".join(first_sentence(entries[name]) for name in names)
    elif mistake in FIXED:
        headline = FIXED[mistake]
    elif mistake.startswith(RAISED):
        headline = "raises " + mistake[len(RAISED) :]
    else:
        headline = from_message(message)[1]
    return clean(mistake, 100), clean(headline)


def from_message(message: str) -> tuple[str, str]:
    """The diagnosis of a custom runner's message, in a normal form shared by every student.

    The headline is the message's first line without the case label; the id is its first
    sentence with quoted text replaced by ``…`` and measured numbers (decimals,
    exponents, percentages; not the integers of a formula such as ``1 − p``) by ``#``.

    >>> from_message('On the case "p = 0.3": the kept units are not rescaled: divide by 1 − p')
    ('the kept units are not rescaled', 'the kept units are not rescaled: divide by 1 − p')
    >>> from_message('On the case "x": 31.2% of the units survive; with p = 0.5 about 50% should.')
    ('# of the units survive', '31.2% of the units survive; with p = 0.5 about 50% should.')
    """
    first = str(message).strip().splitlines()[0] if str(message).strip() else ""
    headline = _CASE.sub("", first)
    sentence = first_sentence(headline)
    key = _NUMBER.sub("#", _QUOTED.sub("…", sentence))
    key = re.sub(r"\s+", " ", key).strip(" .")
    return clean(key or UNNAMED, 80), clean(headline)

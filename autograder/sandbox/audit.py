"""The audit-event protocol: how grader code talks to the warden.

Grader code and the warden (:mod:`autograder.sandbox.warden`) share no Python object: the
grader raises ``sys.audit`` events and the warden, an audit hook, answers by appending to the
last argument, a fresh list (the *box*). The warden checks which code object raised each event
(``caller``), so an event raised by anything else is refused::

    Event (arguments)                  raised only by                    reply in the box
    ---------------------------------  --------------------------------  -------------------------
    autograder.call.begin(forbid)      calls.call_student                a token
    autograder.call.end(token)         calls.call_student                {"calls", "tampered"}
    autograder.allow.begin()           references.allow_references       a token
    autograder.allow.end(token)        references.allow_references       -
    autograder.check.begin()           framework.check / self_check      what it restored
    autograder.check.end()             framework.check / self_check      -
    autograder.sign()                  framework.check (its found, ok,   (signature, reason);
                                       mistake)                          records the outcome
    autograder.ledger(nonce, since)    anyone (grading mode)             (records, HMAC)
    autograder.seed(base, part)        context.Context.__init__          a salted seed, or None
    autograder.restore()               anyone                            what it restored
    autograder.grading(key, salt)      anyone, once per process          True / False
    autograder.status()                anyone                            counters, no secrets
    nnkit.reference(name)              a reference's guard wrapper       - (raises if forbidden)
    nnkit.core(tag)                    an instrumented implementation    -

The functions that raise these events embed ``sys.audit`` as a *constant* of their code
(:func:`embed_audit`), so rebinding ``sys.audit`` or a module's ``sys`` cannot intercept them.
"""

from __future__ import annotations

import os
import sys
import types
from typing import Any

from nnkit import _guard

# A string constant in grader code that embed_audit() replaces with the real sys.audit.
AUDIT = "\x00autograder:sys.audit"

AUTOGRADER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
NNKIT_DIR = os.path.dirname(os.path.abspath(_guard.__file__)) + os.sep
# Code compiled from files under these folders is the grader's: the warden protects it.
PROTECTED_DIRS = (AUTOGRADER_DIR, NNKIT_DIR)


class WardenError(RuntimeError):
    """Raised by the warden when student code does something grading does not allow."""


def with_consts(code: types.CodeType, mapping: dict[str, Any]) -> types.CodeType:
    """``code`` (and the code objects nested in it) with string constants found in ``mapping``
    replaced by their values."""
    consts, changed = [], False
    for const in code.co_consts:
        new = const
        if isinstance(const, types.CodeType):
            new = with_consts(const, mapping)
        elif type(const) is str and const in mapping:
            new = mapping[const]
        changed = changed or new is not const
        consts.append(new)
    return code.replace(co_consts=tuple(consts)) if changed else code


def embed_audit(fn: Any) -> Any:
    """Replace the string constant :data:`AUDIT` in ``fn``'s code with ``sys.audit``.

    A grader function writes ``audit = "\\x00autograder:sys.audit"`` and calls ``audit(...)``;
    after this its code holds the real ``sys.audit`` as a constant, which no student code can
    rebind (the warden refuses ``__code__`` changes of grader functions).
    """
    target = getattr(fn, "__wrapped__", fn)
    target.__code__ = with_consts(target.__code__, {AUDIT: sys.audit})
    return fn


def audit_box(event: str, *args: Any) -> list:
    """Raise ``event`` with ``args`` and a fresh box; return the box (empty: no warden)."""
    audit = "\x00autograder:sys.audit"
    box: list = []
    audit(event, *args, box)
    return box


def warden_status() -> dict | None:
    """The warden's counters (for tests and diagnostics), or ``None`` when it is not installed.

    Returns
    -------
    dict or None
        ``{"grading": bool, "checks": int, "calls": int, "forbidden": list[str]}``.
    """
    box = audit_box("autograder.status")
    return box[0] if box else None


def ledger(nonce: str, since: int) -> tuple[str, str]:
    """The warden's records of the checks after the first ``since``, as ``(payload, tag)``.

    ``tag`` is the HMAC, with the kernel's signing key, of the ``nonce`` the instructor's
    grader chose and the records; ``("", "")`` outside grading mode. The grader parses and
    checks it with :func:`autograder.instructor.kernel_boot.read_ledger`.
    """
    box = audit_box("autograder.ledger", nonce, since)
    return box[0] if box else ("", "")


def enter_grading_mode(key: bytes, salt: bytes = b"") -> bool:
    """Switch the warden to grading mode with the signing ``key`` (16 bytes or more) and the
    hidden parts' seed ``salt`` (once per process; later calls return False)."""
    box = audit_box("autograder.grading", key, salt)
    return bool(box and box[0])


embed_audit(audit_box)

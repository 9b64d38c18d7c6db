"""The warden's side of the audit-event protocol: checks, calls, signatures, grading mode.

:func:`make_protocol` builds ``protocol(event, args)``, which answers the events listed in
:mod:`autograder.sandbox.audit`. Each event is accepted only from the code object allowed to
raise it (``caller_code()``); anything else raising it gets a
:class:`~autograder.sandbox.audit.WardenError`. It keeps the counters of open checks and
student calls, opens and closes the reference scopes (:mod:`autograder.sandbox.tracking`),
restores the grader at each check's start and after each call
(:mod:`autograder.sandbox.restoring`), and in grading mode holds the signing key and the
hidden parts' salt, which never leave it: it hands out only a signature of a passing part, a
seed derived from the salt, or its *ledger* signed with the key.

The ledger is the outcome of every check the notebook's cells ran (a pass, or a failure with
the mistake id and headline that ``check`` holds), appended when the check asks for its
signature; it only grows. The instructor's grader reads it after the cells that matter with a
fresh nonce (``autograder.ledger``) and checks the HMAC outside the kernel
(:func:`autograder.instructor.kernel_boot.read_ledger`).
"""

from __future__ import annotations

import contextlib
import gc
import sys
import threading
from typing import Any

try:
    from _hashlib import hmac_digest as _hmac_digest
except ImportError:  # pragma: no cover - Python without OpenSSL
    import hashlib

    def _hmac_digest(key, msg, _name, _sha=hashlib.sha256):
        return _sha(key + b"\x1f" + msg).digest()


def make_protocol(
    state: dict,
    *,
    caller: Any,
    caller_code: Any,
    deny: Any,
    restore: Any,
    reset_signals: Any,
    foreign_threads: Any,
    tracking: tuple,
    check_codes: frozenset,
    sign_code: Any,
    call_code: Any,
    allow_code: Any,
    seed_code: Any,
    manifest_parts: tuple,
    autograder_dir: str,
) -> Any:
    """Build ``protocol(event, args)``.

    Parameters
    ----------
    state : dict
        The warden's state (see :func:`autograder.sandbox.warden.make_warden`).
    caller, caller_code : callable
        The first frame outside the warden, and its code object.
    deny : callable
        ``deny(what)`` raises :class:`~autograder.sandbox.audit.WardenError`.
    restore, reset_signals, foreign_threads : callable
        From :func:`~autograder.sandbox.restoring.make_restorer` and
        :func:`~autograder.sandbox.threads.make_process_guard`.
    tracking : tuple
        ``(forbidden_now, push, pop, on_reference, on_core)`` from
        :func:`~autograder.sandbox.tracking.make_tracking`.
    check_codes, sign_code, call_code, allow_code, seed_code
        The code objects allowed to open/close a check, to ask for a signature, to open/close
        a student call, to lift the reference ban, to ask for a hidden part's seed.
    manifest_parts : tuple
        The course's parts (only these are signed or get a salted seed).
    autograder_dir : str
        Folder of the grader: the reference ban is lifted only from code there.
    """
    # Everything the closures below use is bound here: they read no global variable.
    forbidden_now, push, pop, on_reference, on_core = tracking
    get_ident = threading.get_ident
    current_frames = sys._current_frames
    main_ident = threading.main_thread().ident
    gc_disable, gc_enable, gc_isenabled = gc.disable, gc.enable, gc.isenabled
    hmac_digest = _hmac_digest
    sys_module = sys
    contextlib_file = contextlib.__file__
    isinstance_, len_, str_, bytes_, list_, bool_ = isinstance, len, str, bytes, list, bool
    type_, tuple_, int_ = type, tuple, int
    any_, max_, sorted_, frozenset_ = any, max, sorted, frozenset
    getattr_, setattr_ = getattr, setattr
    int_from_bytes = int.from_bytes
    stack = state["stack"]
    ledger = state["ledger"]

    def is_course_part(part):
        return any_(part is p for p in manifest_parts)

    def protocol(event, args):
        ident = get_ident()
        previous = state["busy"]
        state["busy"] = ident
        try:
            return dispatch(event, args)
        finally:
            state["busy"] = previous

    def dispatch(event, args):
        if event == "nnkit.reference":
            return on_reference(args[0])
        if event == "nnkit.core":
            return on_core(args[0])
        if event == "autograder.restore":
            args[-1].append(restore())
            return
        code = caller_code()
        box = args[-1] if args and isinstance_(args[-1], list_) else None
        if event == "autograder.call.begin":
            if code is not call_code:
                deny("opening a grading call")
            state["calls"] += 1
            box.append(push("forbid", args[0]))
            return
        if event == "autograder.call.end":
            if code is not call_code:
                deny("closing a grading call")
            calls = pop(args[0])
            state["calls"] = max_(0, state["calls"] - 1)
            reset_signals()  # an alarm set by the student's function dies with the call
            if state["checks"]:
                gc_disable()  # no finaliser of a student's object runs between grader steps
                if state["grading"] and foreign_threads():
                    state["threads"] = True  # one left running could change the grader later
            box.append({"calls": calls, "tampered": restore()})
            return
        if event == "autograder.allow.begin":
            return allow_begin(code, box)
        if event == "autograder.allow.end":
            if code is not allow_code:
                deny("closing an allow block")
            pop(args[0])
            return
        if event == "autograder.check.begin":
            return check_begin(code, box)
        if event == "autograder.check.end":
            if code not in check_codes:
                deny("closing a check")
            state["checks"] = max_(0, state["checks"] - 1)
            if state["checks"] == 0 and state["gc"]:
                gc_enable()
            return
        if event == "autograder.sign":
            return sign(box)
        if event == "autograder.ledger":
            return read_ledger(args[0], args[1], box)
        if event == "autograder.grading":
            return grading(args[0], args[1], box)
        if event == "autograder.seed":
            return seed(code, args[0], args[1], box)
        if event == "autograder.status":
            box.append(
                {
                    "grading": state["grading"],
                    "checks": state["checks"],
                    "calls": state["calls"],
                    "forbidden": sorted_(forbidden_now()),
                }
            )
            return

    def allow_begin(code, box):
        if code is not allow_code:
            deny("lifting the reference ban")
        f = caller()
        f = f.f_back if f is not None else None
        while f is not None and f.f_code.co_filename == contextlib_file:
            f = f.f_back
        if f is None or not f.f_code.co_filename.startswith(autograder_dir):
            deny("lifting the reference ban from outside the grader")
        box.append(push("allow", ()))

    def check_begin(code, box):
        if code not in check_codes:
            deny("opening a check")
        state["checks"] += 1
        changed = []
        if state["checks"] == 1:
            state["gc"] = gc_isenabled()
            gc_disable()
            reset_signals()
            state["threads"] = bool_(state["grading"] and foreign_threads())
            for name, stream in state["streams"]:
                # a passing check must reach the notebook's output to be counted
                if getattr_(sys_module, name) is not stream:
                    setattr_(sys_module, name, stream)
                    changed.append(f"sys.{name}")
        box.append(changed + restore())

    def sign(box):
        f = caller()
        if f is None or f.f_code is not sign_code:
            deny("asking for a signature")
        if not state["grading"]:
            box.append((None, "not grading"))
            return
        loc = f.f_locals
        part = loc.get("found")
        passed = loc.get("ok") is True
        reason = None
        if not is_course_part(part):
            reason = "the part is not one of the course's"
        elif state["checks"] != 1 or state["calls"] != 0 or stack:
            reason = "the check was not run by the notebook's test cell"
        elif passed and (state["threads"] or foreign_threads()):
            reason = (
                "background threads started by the notebook were running during the "
                "check; stop them (or do not start threads) and grade again"
            )
        if reason is None:
            record(part, passed, loc.get("mistake"))
        if not passed:
            reason = reason or "the part did not pass"
        if reason is not None:
            box.append((None, reason))
            return
        msg = f"{part.lesson}\x1f{part.function}\x1f{part.part}".encode()
        box.append((hmac_digest(state["key"], msg, "sha256").hex()[:24], None))

    def field(value, limit):
        """A ledger field: an exact str without the ledger's separators, at most ``limit``."""
        if type_(value) is not str_:
            return ""
        for separator in ("\x1d", "\x1e", "\x1f"):
            value = value.replace(separator, " ")
        return value[:limit]

    def record(part, passed, mistake):
        mistake_id, headline = "", ""
        if not passed:
            mistake_id = "unnamed"
            if type_(mistake) is tuple_ and len_(mistake) == 2:
                mistake_id, headline = field(mistake[0], 100), field(mistake[1], 240)
        seq = str_(len_(ledger) + 1)
        entry = (seq, part.lesson, part.function, part.part, "1" if passed else "0")
        ledger.append("\x1f".join((*entry, mistake_id, headline)))

    def read_ledger(nonce, since, box):
        # anyone may ask: the records tell only what the notebook's own checks found, and
        # only the grader, which chose the nonce, can check the signature
        if not state["grading"] or type_(nonce) is not str_ or type_(since) is not int_:
            box.append(("", ""))
            return
        records = ledger[max_(0, since) :]
        complete = "1" if len_(records) <= 500 else "0"
        fields = (field(nonce, 64), str_(since), str_(len_(ledger)), complete)
        payload = "\x1d".join((*fields, "\x1e".join(records[:500])))
        digest = hmac_digest(state["key"], b"ledger\x1f" + payload.encode(), "sha256")
        box.append((payload, digest.hex()))

    def grading(key, salt, box):
        if state["key"] is not None:
            box.append(False)
            return
        if not isinstance_(key, bytes_) or len_(key) < 16 or not isinstance_(salt, bytes_):
            box.append(False)
            return
        state["key"] = bytes_(key)
        state["salt"] = bytes_(salt)
        state["grading"] = True
        state["streams"] = (("stdout", sys_module.stdout), ("stderr", sys_module.stderr))
        state["exempt"] = frozenset_(i for i in current_frames() if i != main_ident)
        box.append(True)

    def seed(code, base, part, box):
        # the seed of a hidden part, salted in grading mode with the course's secret, so
        # that its inputs cannot be generated (and their answers looked up) in advance
        genuine = (
            code is seed_code
            and state["checks"] == 1
            and state["calls"] == 0
            and is_course_part(part)
        )
        # anything else (a Context made outside a check, by a test or by a notebook)
        # gets the plain seed, which is not the one grading uses
        if genuine and state["grading"] and state["salt"] and part.hidden:
            digest = hmac_digest(state["salt"], str_(base).encode(), "sha256")
            box.append(int_from_bytes(digest[:8], "little"))
        else:
            box.append(None)

    return protocol

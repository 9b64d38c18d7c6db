"""The warden: an audit hook, installed once, that guards the grader inside the kernel.

Audit hooks cannot be removed from Python. :func:`install_warden` builds the hook with
:func:`make_warden` and adds it. The hook's state - its copy of what the grader relies on, the
references a call may not use, the signing key and the hidden parts' salt - is created inside
one call of :func:`make_warden` and lives only in the closures it builds (one per idea, in the
modules of this package: :mod:`~autograder.sandbox.refusals`,
:mod:`~autograder.sandbox.protocol`, :mod:`~autograder.sandbox.tracking`,
:mod:`~autograder.sandbox.restoring`, :mod:`~autograder.sandbox.threads`). None of these
closures is stored anywhere but in another of them and in the interpreter's list of audit
hooks, none returns the state, and none reads a global variable, so no student code can reach
or redirect the state (``tests/autograder/test_sandbox_package.py`` checks this).
"""

from __future__ import annotations

import os
import sys
import threading
import types
from typing import Any

from .audit import AUTOGRADER_DIR, NNKIT_DIR, PROTECTED_DIRS, WardenError
from .protocol import make_protocol
from .references import instrument_references, reference_registry
from .refusals import make_hook
from .restoring import make_restorer
from .snapshot import _INSTALLED, immutable_copy, protect_objects
from .threads import make_process_guard
from .tracking import make_tracking

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def install_warden(
    *, check_codes, sign_code, call_code, allow_code, seed_code=None, registry=()
) -> bool:
    """Install the audit hook (once per process; later calls return False).

    Parameters
    ----------
    check_codes : iterable of code objects
        Allowed to open/close a check (``framework.check``, ``framework.self_check``).
    sign_code : code object
        The one allowed to ask for a signature (``framework.check``).
    call_code : code object
        :func:`~autograder.sandbox.calls.call_student`'s.
    allow_code : code object
        ``references.allow_references``'s generator.
    seed_code : code object, optional
        ``context.Context.__init__`` (asks for a hidden part's seed).
    registry : iterable
        The grading registry (specs, parts, mistakes, module containers) to protect.
    """
    if _INSTALLED:
        return False
    protect_objects(*registry)
    modules, classes, objects = immutable_copy()
    _, wrappers, _ = reference_registry()
    tags = instrument_references()
    hook = make_warden(
        modules=modules,
        classes=classes,
        objects=objects,
        check_codes=frozenset(check_codes),
        sign_code=sign_code,
        call_code=call_code,
        allow_code=allow_code,
        seed_code=seed_code,
        owners=tags,
        wrappers=dict(wrappers),
    )
    sys.addaudithook(hook)
    _INSTALLED.append(True)
    return True


def make_warden(
    *,
    modules,
    classes,
    objects,
    check_codes,
    sign_code,
    call_code,
    allow_code,
    seed_code,
    owners,
    wrappers,
):
    """Build the audit hook; its state is created here and bound only in its closures.

    The parameters are those computed by :func:`install_warden`: ``modules``, ``classes``,
    ``objects`` from :func:`~autograder.sandbox.snapshot.immutable_copy`; the code objects
    allowed to raise each protocol event; ``owners`` (instrumentation tag -> reference names)
    and ``wrappers`` (guard wrapper code -> reference name).
    """
    getframe = sys._getframe
    get_ident = threading.get_ident
    isinstance_, code_type = isinstance, types.CodeType
    warden_error = WardenError
    protected_dirs = PROTECTED_DIRS
    main_ident = threading.main_thread().ident
    state = {
        "busy": None,  # ident of the thread the warden itself is running in
        "checks": 0,  # open checks
        "stack": [],  # (kind, names, token, caught) entries: "forbid" / "allow" (tracking)
        "calls": 0,  # open student calls
        "gc": True,
        "key": None,
        "salt": b"",
        "grading": False,
        "exempt": frozenset(i for i in sys._current_frames() if i != main_ident),
        "threads": False,  # a foreign thread was seen during the current check
        "streams": (),  # the kernel's sys.stdout / sys.stderr (grading mode)
        "ledger": [],  # grading mode: one record per check the notebook ran, in order
    }
    own: set = set()  # code objects of the warden's functions: caller() skips their frames

    def protected_code(code):
        return isinstance_(code, code_type) and code.co_filename.startswith(protected_dirs)

    def caller():
        """The first frame outside the warden: the code that raised the audit event."""
        previous = state["busy"]
        state["busy"] = get_ident()
        try:
            f = getframe(1)
            while f is not None and f.f_code in own:
                f = f.f_back
            return f
        finally:
            state["busy"] = previous

    def caller_code():
        f = caller()
        return f.f_code if f is not None else None

    def trusted_caller():
        code = caller_code()
        return code is not None and protected_code(code)

    def deny(what):
        raise warden_error(f"{what} is not allowed while grading")

    reset_signals, foreign_threads = make_process_guard(state)
    protocol = make_protocol(
        state,
        caller=caller,
        caller_code=caller_code,
        deny=deny,
        restore=make_restorer(modules, classes, objects),
        reset_signals=reset_signals,
        foreign_threads=foreign_threads,
        tracking=make_tracking(
            state, caller, owners=owners, wrappers=wrappers, nnkit_dir=NNKIT_DIR
        ),
        check_codes=check_codes,
        sign_code=sign_code,
        call_code=call_code,
        allow_code=allow_code,
        seed_code=seed_code,
        manifest_parts=tuple(p for kind, _, items in objects if kind == "list" for p in items),
        autograder_dir=AUTOGRADER_DIR,
    )
    hook = make_hook(
        state,
        protocol,
        caller=caller,
        trusted_caller=trusted_caller,
        protected_code=protected_code,
        deny=deny,
        protected_modules=frozenset(id(m) for m, *_ in modules),
        protected_classes=frozenset(c for c, *_ in classes),
        protected_dirs=protected_dirs,
    )
    own.update(fn.__code__ for fn in warden_functions(hook))
    return hook


def warden_functions(hook: Any) -> list[types.FunctionType]:
    """The functions of this package reachable from ``hook`` through closure cells: every
    function the warden's frames can belong to (found, not listed, so none is forgotten)."""
    found: dict[int, types.FunctionType] = {}
    todo = [hook]
    while todo:
        fn = todo.pop()
        if id(fn) in found:
            continue
        found[id(fn)] = fn
        for cell in fn.__closure__ or ():
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            if isinstance(value, types.FunctionType) and value.__code__.co_filename.startswith(
                _PACKAGE_DIR
            ):
                todo.append(value)
    return list(found.values())

"""Run untrusted student code for a check, and keep it from changing the grader.

A student's answer cells run in the same Python process as the grader, before the locked test
cells, so everything here assumes that code may have tried to break it. Three tools:

* :func:`call_student` (:mod:`.calls`) calls a student's function with copies of the inputs
  and reports what happened (value, exception, warnings, printed lines, reference calls,
  NaN/inf, mutated inputs) instead of letting any of it escape; the value is *frozen* inside
  the call (:func:`freeze`, :mod:`.freezing`) into plain built-in data, so that the comparison
  after the call never runs a method of a student's object.
* A snapshot (:mod:`.snapshot`) of the modules the grader relies on (numpy and its
  submodules, nnkit, autograder, the standard-library modules the grader calls, builtins), of
  the grader's classes and of the grading registry, taken when ``autograder`` is imported;
  :func:`restore_tampered` puts back anything an answer cell or a student's function replaced
  and says what it was.
* The **warden** (:mod:`.warden`), a ``sys.addaudithook`` hook installed once when
  ``autograder`` is imported (:func:`install_warden`). Audit hooks cannot be removed from
  Python, and the warden keeps its state (its copy of the snapshot, the references a call may
  not use, the signing key) in closures only, so no student code can reach it. It

  - refuses to let anyone replace the code or defaults of a grader or ``nnkit`` function, turn a
    grader code object into a new function, or exec it outside the import system; while a
    check runs, refuses stack-frame introspection, tracing, ``gc`` and ``ctypes``
    (:mod:`.refusals`);
  - tracks the references a student call may not use and catches calls into a reference's
    implementation by any path (:mod:`.tracking`, :mod:`.references`);
  - restores what a call replaced, from its own copy (:mod:`.restoring`), and cancels the
    alarms and notices the threads a call left behind (:mod:`.threads`);
  - in *grading mode* (switched on by the instructor's grader before the first cell of a
    submission runs, with a per-kernel key) also refuses new processes, sockets, signals,
    tracing, ``gc`` and ``ctypes`` for the whole notebook, and signs every passing check with
    the key (:mod:`.protocol`). The grader outside the kernel counts a test cell only if it
    printed a valid signature (see :mod:`autograder.instructor.kernel_boot`), so a test cell
    that merely did not raise (a replaced ``check``, a removed test, a swallowed exception)
    earns nothing. It also keeps a ledger of every check's outcome (a failure with its
    mistake), which the grader reads, signed, after the test cells (:func:`ledger`).

Grader code talks to the warden with ``sys.audit`` events (:mod:`.audit` lists them).
"""

from __future__ import annotations

from .audit import (
    AUDIT,
    PROTECTED_DIRS,
    WardenError,
    embed_audit,
    enter_grading_mode,
    ledger,
    warden_status,
)
from .calls import Outcome, call_student
from .freezing import Opaque, freeze, plain_top
from .snapshot import (
    Snapshot,
    add_restorer,
    freeze_functions,
    module_containers,
    protect_objects,
    restore_tampered,
    snapshot_class,
    take_snapshot,
)
from .warden import install_warden

# The Python-side lists of what to remember, under their old names (a test empties them to
# show that the warden does not depend on them).
from .snapshot import _CLASSES as _CLASSES  # isort: skip
from .snapshot import _CODE as _CODE  # isort: skip
from .snapshot import _SNAPSHOT as _SNAPSHOT  # isort: skip

__all__ = [
    "AUDIT",
    "PROTECTED_DIRS",
    "Opaque",
    "Outcome",
    "Snapshot",
    "WardenError",
    "add_restorer",
    "call_student",
    "embed_audit",
    "enter_grading_mode",
    "freeze",
    "freeze_functions",
    "install_warden",
    "ledger",
    "module_containers",
    "plain_top",
    "protect_objects",
    "restore_tampered",
    "snapshot_class",
    "take_snapshot",
    "warden_status",
]

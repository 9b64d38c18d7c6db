"""The test-cell API: ``check(name, fn, part=...)`` and ``self_check()``.

A lesson's cases module (``autograder/cases/lNN_*.py``) registers, for every graded function, a
:class:`FunctionSpec` (seeded case generators per part, tolerances, the mistake catalogue, the
references to forbid) and a manifest of :class:`Part` s (points, hidden or not), in
:mod:`autograder.registry`. A test cell calls ``check("softmax", softmax, part="values")``; the
grader

1. restores anything an answer cell replaced in numpy/nnkit/autograder (and says so),
2. runs the part in a :class:`~autograder.context.Context`: each seeded case goes through
   :func:`autograder.sandbox.call_student` (copies of the inputs, no stderr, reference calls
   forbidden, warnings turned into hints, the value frozen into plain data inside the call),
3. only then computes the expected value with the ``nnkit`` reference captured when
   ``autograder`` was imported (:mod:`autograder.references`; so no student code ever runs
   while an expected value exists), compares, and on a mismatch asks the mistake catalogue
   which plausible mistake produces the student's output,
4. prints a short report on stdout, and raises :class:`CheckFailed` when any case failed, so
   nbgrader gives the cell 0 points. ``CheckFailed`` renders as the message alone (IPython's
   ``_render_traceback_``), so a failing hidden test shows neither its source nor its inputs.
   In grading mode a pass also prints a signature (``⟪...⟫``) made by the warden; the
   instructor's grader counts a test cell only with it (see :mod:`autograder.sandbox`).

Custom runners get the same protection from the warden: while a check runs, a student's
function cannot inspect stack frames, so an oracle computed before the call stays out of reach.

This module also installs the warden (:func:`freeze_registry`, with the code objects of
``check``, ``self_check`` and the other grader functions allowed to talk to it) and keeps
``check`` / ``self_check`` bound in a notebook (:func:`protect_names_in_notebook`). The names
that lived here before the grader was split into modules are still importable from here.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import mistake_ids, sandbox
from .context import Context
from .failures import CheckFailed, NotDefinedError, _PartFailed
from .references import allow_references
from .registry import (
    MANIFEST,
    SPECS,
    Part,
    find_part,
    manifest,
    remember_registry,
    restore_registry,
)

# Names of the grader that other code imports from here (cases modules, tools, tests).
from . import diagnose as diagnose  # isort: skip
from .context import _default_rng as _default_rng  # isort: skip
from .references import _REFERENCES as _REFERENCES  # isort: skip
from .references import call_reference as call_reference  # isort: skip
from .references import capture_references as capture_references  # isort: skip
from .references import reference as reference  # isort: skip
from .registry import Case as Case  # isort: skip
from .registry import FunctionSpec as FunctionSpec  # isort: skip
from .registry import register as register  # isort: skip


def freeze_registry() -> None:
    """Remember the registry (specs, their fields, the manifest) and the grader's functions,
    so that an answer cell that edits them (e.g. empties a hidden part's cases) is undone."""
    remember_registry()
    functions = []
    for spec in SPECS.values():
        functions += list(spec.cases.values()) + list(spec.runners.values())
        functions += [m.compute for m in spec.mistakes]
    for name, module in list(sys.modules.items()):
        if module is not None and (name == "autograder" or name.startswith("autograder.")):
            functions += [v for v in vars(module).values() if callable(v)]
            for value in vars(module).values():
                if isinstance(value, type) and value.__module__ == name:
                    functions += [f for f in vars(value).values() if callable(f)]
                    sandbox.snapshot_class(value)
    sandbox.freeze_functions(functions)
    sandbox.add_restorer(restore_registry)
    registry: list[Any] = [SPECS, MANIFEST, *SPECS.values(), *MANIFEST]
    for spec in SPECS.values():
        registry += [m for m in spec.mistakes if hasattr(m, "__dict__")]
    # every module-level dict and list of the grader and of nnkit, and those inside them (the
    # captured references, runners' settings such as training epochs, nnkit's lookup tables)
    _PROTECTED.update(check=check, self_check=self_check)  # before the warden's snapshot
    registry += sandbox.module_containers()
    sandbox.install_warden(
        check_codes=(check.__code__, self_check.__code__),
        sign_code=check.__code__,
        call_code=sandbox.call_student.__code__,
        allow_code=allow_references.__wrapped__.__code__,
        seed_code=Context.__init__.__code__,
        registry=registry,
    )


# --------------------------------------------------------------------------------------------
# The test-cell helpers


@dataclass(frozen=True)
class PartResult:
    """What running one part gave: passed or not, the message, hints, and ``mistake``, the
    stable identifier of the named mistake the message diagnoses (``"unnamed"`` when only the
    values differ; ``None`` when a runner's message names none)."""

    ok: bool
    message: str
    hints: list[str]
    mistake: str | None = None


def run_part(part: Part, fn: Any, companions: tuple) -> PartResult:
    """Run one part of the manifest on a student's function (and its companions)."""
    spec = SPECS[part.function]
    ctx = Context(spec, part)
    try:
        runner = spec.runners.get(part.part)
        if runner is not None:
            runner(ctx, fn, *companions)
        else:
            ctx.run_cases(fn)
    except _PartFailed as failed:
        return PartResult(False, failed.message, ctx.hints, failed.mistake)
    except Exception as exc:  # a student object broke the grader's own code
        return PartResult(
            False,
            f"The check could not evaluate your {part.function}: {type(exc).__name__}: "
            f"{str(exc)[:200]}",
            ctx.hints,
            mistake_ids.COULD_NOT_EVALUATE,
        )
    return PartResult(True, "", ctx.hints)


def _run_part(part: Part, fn: Any, companions: tuple) -> tuple[bool, str, list[str]]:
    result = run_part(part, fn, companions)
    return result.ok, result.message, result.hints


# A passing check in grading mode prints "✓ fn · part: passed (N points) ⟪signature⟫"; the
# instructor's grader counts a test cell only with a valid signature (see instructor.verify).
SIGNATURE_OPEN = "⟪"


def check(name: str, fn: Any, *companions: Any, part: str = "values") -> None:
    """Grade one part of one function; raise :class:`CheckFailed` unless every case passes.

    Examples
    --------
    >>> check("softmax", softmax, part="values")                     # doctest: +SKIP
    >>> check("linear_backward", linear_backward, linear_forward, part="values")  # doctest: +SKIP
    """
    audit = "\x00autograder:sys.audit"
    begin: list = []
    audit("autograder.check.begin", begin)
    try:
        tampered = list(begin[0]) if begin else []
        tampered += sandbox.restore_tampered()
        found = find_part(name, part)
        if found is None:
            raise CheckFailed([f"There is no check {part!r} for {name!r}; tell your instructor."])
        result = run_part(found, fn, companions)
        ok, message, hints = result.ok, result.message, result.hints
        if tampered:
            hints.insert(
                0,
                "your notebook replaced " + ", ".join(tampered[:5]) + "; the grader restored the "
                "originals before checking (replacing library functions cannot change a grade)",
            )
        title = f"{name} · {part}" + (" (hidden)" if found.hidden else "")
        points = f"{found.points} point" + ("s" if found.points != 1 else "")
        hint_lines = [f"  hint: {h}" for h in hints]
        # In grading mode the warden signs a pass, and records every outcome in its ledger
        # (a failure with its mistake id and headline), which the instructor's grader reads
        # outside the kernel after the cell (autograder.instructor.kernel_boot).
        spec = SPECS[found.function]
        mistake = None if ok else mistake_ids.diagnosis(spec, message, result.mistake)  # noqa: F841
        signed: list = []
        audit("autograder.sign", signed)
        if ok:
            tag, reason = signed[0] if signed else (None, "the grader's warden is missing")
            if tag is None and reason != "not grading":
                ok, message = False, f"The grader could not confirm this pass: {reason}."
        if ok:
            print(f"✓ {title}: passed ({points})" + (f" {SIGNATURE_OPEN}{tag}⟫" if tag else ""))
            for line in hint_lines:
                print(line)
            return
        for line in hint_lines:
            print(line)
        setup = [f"  {SETUP_FIRST}"] if _setup_missing() else []
        raise CheckFailed([f"✗ {title}: 0 of {points}", *setup, f"  {message}"])
    finally:
        audit("autograder.check.end")


# What the locked setup cell at the top of every lesson binds. After a kernel restart a check
# cell imports `check` itself, but a student's code still needs these.
SETUP_NAMES = ("np", "nnkit")
SETUP_FIRST = (
    "Run the setup cell at the top of the notebook first: np and nnkit are not defined in "
    "this kernel (it was restarted, or that cell never ran). Then run your answer cells and "
    "this cell again."
)


def _notebook_namespace() -> dict | None:
    """The namespace of the IPython shell this runs in, or None outside IPython."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except Exception:  # pragma: no cover - IPython missing
        return None
    return None if shell is None else shell.user_ns


def _setup_missing() -> bool:
    """In a notebook, has the lesson's setup cell not run in this kernel (e.g. a restart)?"""
    ns = _notebook_namespace()
    return ns is not None and any(name not in ns for name in SETUP_NAMES)


def _default_namespace(depth: int = 2) -> dict:
    ns = _notebook_namespace()
    return ns if ns is not None else sys._getframe(depth).f_globals


def _guess_lesson(namespace: dict) -> str | None:
    counts: dict[str, int] = {}
    for p in MANIFEST:
        if _defined(namespace.get(p.function)):
            counts[p.lesson] = counts.get(p.lesson, 0) + 1
    return max(sorted(counts), key=lambda k: counts[k]) if counts else None


def self_check(namespace: dict | None = None, *, lesson: str | None = None) -> dict:
    """Run every visible part for the graded functions defined in the notebook; print a summary.

    Prints the points earned so far out of the visible points, and how many hidden parts,
    worth how many points, are still to come when the notebook is graded. Never raises for a
    student's mistake. Returns the numbers it printed (for tests).
    """
    ns = namespace if namespace is not None else _default_namespace()
    audit = "\x00autograder:sys.audit"
    audit("autograder.check.begin", [])
    try:
        return _self_check(ns, lesson)
    finally:
        audit("autograder.check.end")


def _self_check(ns: dict, lesson: str | None) -> dict:
    sandbox.restore_tampered()
    if ns is _notebook_namespace() and _setup_missing():
        print(SETUP_FIRST)
    lesson = lesson or _guess_lesson(ns)
    if lesson is None:
        print("No graded function of any lesson is defined yet: run the answer cells first.")
        return {"lesson": None, "earned": 0, "visible": 0, "hidden_parts": 0, "hidden_points": 0}
    parts = manifest(lesson)
    visible = [p for p in parts if not p.hidden]
    hidden = [p for p in parts if p.hidden]
    earned = 0
    print(f"Self-check of {lesson}: visible checks only")
    for p in visible:
        spec = SPECS[p.function]
        fn = ns.get(p.function)
        label = f"{p.function} · {p.part}"
        if not _defined(fn):
            print(f"  ✗ {label:<34} 0/{p.points}  not defined: run its answer cell")
            continue
        companions = tuple(ns.get(c) for c in spec.companions)
        ok, message, _ = _run_part(p, fn, companions)
        if ok:
            earned += p.points
            print(f"  ✓ {label:<34} {p.points}/{p.points}")
        elif "NotImplementedError" in message:
            print(f"  ✗ {label:<34} 0/{p.points}  not written yet")
        else:
            first = message.splitlines()[0]
            print(f"  ✗ {label:<34} 0/{p.points}  {first[:160]}")
    total_visible = sum(p.points for p in visible)
    hidden_points = sum(p.points for p in hidden)
    print(f"Visible checks: {earned} of {total_visible} points earned so far.")
    if hidden:
        print(
            f"Hidden checks: {len(hidden)} more parts worth {hidden_points} points run only when "
            "your notebook is graded; passing the visible checks does not guarantee them."
        )
    sandbox.restore_tampered()
    return {
        "lesson": lesson,
        "earned": earned,
        "visible": total_visible,
        "hidden_parts": len(hidden),
        "hidden_points": hidden_points,
    }


# --------------------------------------------------------------------------------------------
# Keep `check` and `self_check` bound in a notebook even if an answer cell rebinds them

_PROTECTED: dict[str, Any] = {}


def _placeholder(name: str) -> Callable:
    def not_defined(*_args: Any, **_kwargs: Any) -> None:
        raise NotDefinedError(
            f"{name} is not defined: run its answer cell (if that cell shows an error, such as "
            "a SyntaxError, fix it first)."
        )

    not_defined.__name__ = name
    not_defined.__autograder_placeholder__ = True
    return not_defined


def _defined(fn: Any) -> bool:
    return callable(fn) and not getattr(fn, "__autograder_placeholder__", False)


def protect_names_in_notebook(**names: Any) -> None:
    """Before every cell, rebind ``check``/``self_check`` if an answer cell replaced them."""
    _PROTECTED.update(names)
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except Exception:  # pragma: no cover
        return
    if shell is None or getattr(shell, "_autograder_guard", False):
        return

    bound: set[str] = set()

    def _guard(*_args: Any) -> None:
        ns = shell.user_ns
        for name in SPECS:
            # A graded function whose answer cell failed (e.g. a SyntaxError) still has a
            # name, so its test cells report "not defined" instead of a NameError traceback
            # that would show the (possibly hidden) test cell's source.
            if name not in ns:
                ns[name] = _placeholder(name)
        for key in _PROTECTED:
            if key in ns:
                bound.add(key)
        # deleted too: after `del check`, a `check` put into builtins would take its place
        replaced = [k for k, v in _PROTECTED.items() if k in bound and ns.get(k) is not v]
        for key in replaced:
            ns[key] = _PROTECTED[key]
        tampered = sandbox.restore_tampered()
        if replaced or tampered:
            print(
                "note: "
                + ", ".join(replaced + tampered)
                + " had been replaced; the course's originals are back in place."
            )

    shell.events.register("pre_run_cell", _guard)
    shell._autograder_guard = True
    # Now too, not only before the next cell: after a kernel restart the first cell to import
    # autograder may be a test cell, whose next line names a function no answer cell defined.
    _guard()


for _fn in (check, self_check):
    sandbox.embed_audit(_fn)
del _fn

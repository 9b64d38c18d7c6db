"""The test-cell API: ``check(name, fn, part=...)`` and ``self_check()``.

A lesson's cases module (``autograder/cases/lNN_*.py``) registers, for every graded function, a
:class:`FunctionSpec` (seeded case generators per part, tolerances, the mistake catalogue, the
references to forbid) and a manifest of :class:`Part` s (points, hidden or not). A test cell
calls ``check("softmax", softmax, part="values")``; the grader

1. restores anything an answer cell replaced in numpy/nnkit/autograder (and says so),
2. runs the part: each seeded case goes through :func:`autograder.sandbox.call_student`
   (copies of the inputs, no stderr, reference calls forbidden, warnings turned into hints,
   the value frozen into plain data inside the call),
3. only then computes the expected value with the ``nnkit`` reference captured when
   ``autograder`` was imported (so no student code ever runs while an expected value exists),
   compares, and on a mismatch asks the mistake catalogue which plausible mistake produces the
   student's output,
4. prints a short report on stdout, and raises :class:`CheckFailed` when any case failed, so
   nbgrader gives the cell 0 points. ``CheckFailed`` renders as the message alone (IPython's
   ``_render_traceback_``), so a failing hidden test shows neither its source nor its inputs.
   In grading mode a pass also prints a signature (``⟪...⟫``) made by the warden; the
   instructor's grader counts a test cell only with it (see :mod:`autograder.sandbox`).

Custom runners get the same protection from the warden: while a check runs, a student's
function cannot inspect stack frames, so an oracle computed before the call stays out of reach.
"""

from __future__ import annotations

import contextlib
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnkit import _guard

from . import diagnose, mistake_ids, sandbox
from .diagnose import Mistake

_default_rng = np.random.default_rng
_array2string = np.array2string
_errstate = np.errstate


# --------------------------------------------------------------------------------------------
# What a cases module declares


@dataclass(frozen=True)
class Case:
    """One seeded input. ``label`` is shown to the student; ``show`` allows printing the
    inputs and the expected output (only ever honoured in visible parts, for small inputs)."""

    label: str
    args: tuple
    kwargs: dict = field(default_factory=dict)
    show: bool = False
    rtol: float | None = None
    atol: float | None = None


@dataclass
class FunctionSpec:
    """How to grade one graded function.

    ``cases`` maps a part name to a generator ``rng -> list[Case]`` (used by the default
    runner, which compares with the reference). ``runners`` maps a part name to a custom
    runner ``(ctx, fn, *companions) -> None`` that calls ``ctx.fail(...)`` on failure.
    ``companions`` names other student functions the test cell passes after ``fn`` (e.g. the
    student's ``linear_forward`` to build the cache for ``linear_backward``).
    ``output_names`` names the parts of a tuple the function returns, as its docstring does
    (``("dx", "dW", "db")``): messages then say ``dW``, not ``your output[1]``.
    ``forbid`` lists the nnkit functions the student's code may not call: the function's own
    reference and every nnkit function that computes the exercise's core (see AUTHORING.md).
    """

    name: str
    concept: str
    arg_names: tuple[str, ...]
    cases: dict[str, Callable[[np.random.Generator], list[Case]]] = field(default_factory=dict)
    mistakes: list[Mistake] = field(default_factory=list)
    runners: dict[str, Callable[..., None]] = field(default_factory=dict)
    companions: tuple[str, ...] = ()
    forbid: tuple[str, ...] = ()
    reference: str | None = None
    rtol: float = 1e-6
    atol: float = 1e-8
    float32_rtol: float = 2e-5
    float32_atol: float = 1e-6
    hint: str = ""  # generic advice when no catalogue entry matches
    output_names: tuple[str, ...] = ()  # the names of a returned tuple's parts
    keep_float32: bool = True  # float32 input must give float32 arrays (else float64 is fine)


@dataclass(frozen=True)
class Part:
    """One row of a lesson's manifest: a test cell worth ``points``."""

    lesson: str
    concept: str  # grade_id of the answer cell
    function: str
    part: str
    points: int
    hidden: bool
    description: str = ""

    @property
    def grade_id(self) -> str:
        """The grade_id of the test cell running this part."""
        return f"test_{self.function}_{self.part}"


SPECS: dict[str, FunctionSpec] = {}
MANIFEST: list[Part] = []


def register(lesson: str, specs: list[FunctionSpec], parts: list[Part]) -> None:
    """Add a lesson's function specs and manifest to the registry (called by cases modules)."""
    for spec in specs:
        SPECS[spec.name] = spec
    for part in parts:
        if part.lesson != lesson:
            raise ValueError(f"part {part.grade_id} belongs to {part.lesson}, not {lesson}")
        if part.function not in SPECS:
            raise ValueError(f"part {part.grade_id} names an unregistered function")
        spec = SPECS[part.function]
        if part.part not in spec.cases and part.part not in spec.runners:
            raise ValueError(f"{part.function} has no cases or runner for part {part.part!r}")
        MANIFEST.append(part)


_FROZEN: dict[str, Any] = {}


def freeze_registry() -> None:
    """Remember the registry (specs, their fields, the manifest) and the grader's functions,
    so that an answer cell that edits them (e.g. empties a hidden part's cases) is undone."""
    _FROZEN["specs"] = dict(SPECS)
    _FROZEN["fields"] = {
        name: {
            k: (dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v)
            for k, v in vars(spec).items()
        }
        for name, spec in SPECS.items()
    }
    _FROZEN["manifest"] = list(MANIFEST)
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
    sandbox.add_restorer(_restore_registry)
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


def _restore_registry() -> list[str]:
    if not _FROZEN:
        return []
    changed = []
    if SPECS != _FROZEN["specs"]:
        SPECS.clear()
        SPECS.update(_FROZEN["specs"])
        changed.append("autograder.framework.SPECS")
    for name, fields in _FROZEN["fields"].items():
        spec = SPECS[name]
        for key, value in fields.items():
            current = getattr(spec, key, None)
            if current != value or type(current) is not type(value):
                copy_ = (
                    dict(value)
                    if isinstance(value, dict)
                    else list(value)
                    if isinstance(value, list)
                    else value
                )
                object.__setattr__(spec, key, copy_)
                changed.append(f"the grading spec of {name}")
    if MANIFEST != _FROZEN["manifest"]:
        MANIFEST[:] = _FROZEN["manifest"]
        changed.append("autograder.framework.MANIFEST")
    return changed


def manifest(lesson: str | None = None) -> list[Part]:
    return [p for p in MANIFEST if lesson is None or p.lesson == lesson]


def find_part(function: str, part: str) -> Part | None:
    for p in MANIFEST:
        if p.function == function and p.part == part:
            return p
    return None


# --------------------------------------------------------------------------------------------
# Failures


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


# --------------------------------------------------------------------------------------------
# References, captured once

_REFERENCES: dict[str, Callable] = {}


def capture_references() -> None:
    """Remember every registered function's nnkit reference (called once at import)."""
    import nnkit

    for spec in SPECS.values():
        ref_name = spec.reference or spec.name
        ref = getattr(nnkit, ref_name, None)
        if ref is not None and ref_name not in _REFERENCES:
            _REFERENCES[ref_name] = ref


def reference(name: str) -> Callable:
    """The captured nnkit reference ``name`` (never a later replacement)."""
    if name not in _REFERENCES:
        import nnkit

        ref = getattr(nnkit, name, None)
        if ref is None:
            raise _PartFailed(
                f"the course library has no reference nnkit.{name}; tell your instructor "
                "(this is not your mistake)"
            )
        _REFERENCES[name] = ref
    return _REFERENCES[name]


# --------------------------------------------------------------------------------------------
# The context a part runner works with


def _copy_args(args: tuple) -> tuple:
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def _small(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_small(v) for v in value) + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_small(v)}" for k, v in value.items()) + "}"
    if callable(value) and hasattr(value, "__name__"):
        return value.__name__.lstrip("_")  # the grader's _tanh is the student's tanh
    try:
        return _array2string(np.asarray(value), precision=4, suppress_small=True, separator=", ")
    except Exception:
        return repr(value)[:200]


class Context:
    """What a part runner gets: the spec, the part, an rng, and helpers that fail politely."""

    def __init__(self, spec: FunctionSpec, part: Part):
        self.spec = spec
        self.part = part
        self.hidden = part.hidden
        audit = "\x00autograder:sys.audit"
        base = f"{spec.name}:{part.part}"
        salted: list = []
        # in grading mode, a hidden part's seed is salted with a secret of the course
        audit("autograder.seed", base, part, salted)
        seed = zlib.crc32(base.encode())
        self.rng = _default_rng(seed if not salted or salted[0] is None else [seed, salted[0]])
        self.hints: list[str] = []

    # -- failing and hinting
    def fail(self, message: str, mistake: str | None = None) -> None:
        """Fail the part with ``message``. A message that diagnoses a particular mistake
        passes its stable identifier as ``mistake`` (short, unique within the function)."""
        raise _PartFailed(message, mistake)

    def hint(self, message: str) -> None:
        if message not in self.hints:
            self.hints.append(message)

    # -- calling the student
    def call(
        self,
        fn: Any,
        args: tuple = (),
        kwargs: dict | None = None,
        *,
        label: str = "",
        arg_names: tuple[str, ...] | None = None,
        watch: tuple = (),
        who: str | None = None,
        global_seed: int | None = None,
    ) -> Any:
        """Call a student function; fail the part on an exception, reference call or mutation."""
        return self._call(
            fn,
            args,
            kwargs,
            label=label,
            arg_names=arg_names,
            watch=watch,
            who=who,
            global_seed=global_seed,
        ).value

    def _call(
        self,
        fn: Any,
        args: tuple = (),
        kwargs: dict | None = None,
        *,
        label: str = "",
        arg_names: tuple[str, ...] | None = None,
        watch: tuple = (),
        who: str | None = None,
        global_seed: int | None = None,
        keep_value: bool = True,
    ) -> sandbox.Outcome:
        who = who or self.spec.name
        names = arg_names if arg_names is not None else self.spec.arg_names
        forbid = self.spec.forbid or (self.spec.name,)
        extra = {} if global_seed is None else {"global_seed": global_seed}
        outcome = sandbox.call_student(
            fn,
            args,
            kwargs,
            forbid=forbid,
            arg_names=names,
            watch=watch,
            keep_value=keep_value,
            **extra,
        )
        on = f' on the case "{label}"' if label else ""
        if outcome.fp_errors:
            self.hint(
                f"NumPy reported a floating-point {' / '.join(outcome.fp_errors)} inside {who}{on} "
                "(e.g. np.exp of a large number, or 0/0); even when the result comes out right, "
                "rewrite the formula so no intermediate value overflows"
            )
        for w in outcome.warnings[:3]:
            if self.hidden:  # a warning's text may quote hidden inputs: its category only
                w = w.split(":", 1)[0] + " (its message stays hidden during grading)"
            self.hint(f"{who} raised a warning{on}: {w}")
        if outcome.printed:
            if self.hidden:
                self.hint(f"{who} printed {len(outcome.printed)} line(s); hidden during grading.")
            else:
                shown = "\n      ".join(outcome.printed[:5])
                self.hint(f"{who} printed:\n      {shown}")
        if outcome.tampered:
            self.hint(
                "your code replaced " + ", ".join(outcome.tampered[:5]) + "; the grader put the "
                "originals back (replacing library functions cannot change a grade)"
            )
        if outcome.reference_calls:
            refs = ", ".join(f"nnkit.{r}" for r in outcome.reference_calls)
            self.fail(
                f"Your {who} calls {refs}, the course's reference for what you are asked to "
                "write (it computes the heart of this exercise for you). A part that uses it "
                "earns no points: write it yourself with NumPy operations.",
                mistake="called the reference",
            )
        if outcome.not_implemented:
            self.fail(
                f"Your {who} raises NotImplementedError: replace `raise NotImplementedError()` in "
                "its answer cell with your code and run that cell again.",
                mistake="not implemented",
            )
        if isinstance(outcome.error, NotDefinedError):
            self.fail(str(outcome.error), mistake="not defined")
        if outcome.error is not None:
            err = outcome.error
            text = str(err).splitlines()[0][:300] if str(err) else ""
            shown = text
            if self.hidden:  # an exception's text may quote hidden inputs or shapes
                shown = "(its message stays hidden during grading)"
            self.fail(
                f"Your {who} raised {type(err).__name__}{on}: {shown}"
                + (
                    "\n    (shape errors in matrix products often mean a transposed matrix: "
                    "samples are rows, X is (N, D) and W is (M, D), so use X @ W.T)"
                    if "matmul" in text or "aligned" in text
                    else "\n    (a broadcasting error: a sum or max over an axis needs "
                    "keepdims=True to combine with the original array, and a per-column "
                    "vector such as b is added as X @ W.T + b)"
                    if "broadcast" in text
                    else ""
                ),
                mistake=mistake_ids.raised(type(err).__name__),
            )
        if outcome.mutated:
            self.fail(
                f"Your {who} changed its input {', '.join(f'`{m}`' for m in outcome.mutated)} in "
                f"place{on} (e.g. `z -= ...`, `z[...] = ...`, `+=` on an argument). The caller's "
                "data must stay untouched: work on a new array (`z = z - ...`) or a copy.",
                mistake="changed an input in place",
            )
        return outcome

    # -- the standard comparison with the reference
    def compare_case(
        self,
        fn: Any,
        case: Case,
        expected: Any = None,
        ref: Callable | None = None,
        *,
        select: int | tuple[int, ...] | None = None,
        names: tuple[str, ...] | None = None,
        where: str | None = None,
    ):
        """Run ``fn`` on ``case`` and compare with the reference (or ``expected``).

        The student's function runs *first*, and its value is frozen into plain data inside
        the call (:func:`autograder.sandbox.freeze`); only then is the expected value computed
        (``expected`` may be a zero-argument callable, called at that point). So no student
        code ever runs while an expected value exists.

        ``select`` compares only some of the returned values (``1``: the second; ``(1, 2)``:
        the second and third), e.g. the gradient of a ``(loss, dlogits)`` pair against a
        numerical one; the mistake catalogue is then matched on the same values, and messages
        use the spec's ``output_names``. ``names`` labels the parts of a tuple that is not the
        function's return value (a runner's composite, such as the output and the running
        statistics of batch norm); ``where`` names a single compared value (``"out"`` of a
        forward pass whose cache is not compared).
        """
        spec = self.spec
        got = whole = self._call(
            fn, case.args, case.kwargs, label=case.label, keep_value=False
        ).frozen
        if select is not None:
            got = self._select(whole, select)
        if expected is None:
            ref = ref or reference(spec.reference or spec.name)
            expected = call_reference(ref, case.args, case.kwargs)
        elif callable(expected):
            expected = expected()
        is32 = any(isinstance(a, np.ndarray) and a.dtype == np.float32 for a in case.args)
        rtol = case.rtol if case.rtol is not None else (spec.float32_rtol if is32 else spec.rtol)
        atol = case.atol if case.atol is not None else (spec.float32_atol if is32 else spec.atol)
        where, labels, returned = (
            (where, None, False) if where is not None else self._labels(expected, select, names)
        )
        mismatch = diagnose.compare(
            got,
            expected,
            rtol=rtol,
            atol=atol,
            float32=is32 and spec.keep_float32,
            reveal=not self.hidden,
            where=where,
            names=labels,
            returned=returned,
        )
        if mismatch is None:
            return got
        lines = [f'On the case "{case.label}": {mismatch}.']
        project = None if select is None else (lambda value: _select_values(value, select))
        # with select, an entry reproducing the whole output is preferred (see match_mistake)
        whole_output = {} if select is None else {"project": project, "whole": whole}
        identifier = None
        if mismatch.kind != "dtype":
            mistake = diagnose.match_mistake(
                spec.mistakes, case.args, case.kwargs, got, _copy_args, expected, **whole_output
            )
            if mistake is not None:
                lines.append(f"This looks like: {mistake.message}")
                identifier = mistake.name
            else:
                parts = diagnose.match_mistake_parts(
                    spec.mistakes,
                    case.args,
                    case.kwargs,
                    got,
                    _copy_args,
                    expected,
                    names=labels,
                    project=project,
                    rtol=rtol,
                    atol=atol,
                )
                if len(parts) == 1:
                    ((labels_, mistake),) = parts
                    lines.append(f"This looks like (in {', '.join(labels_)}): {mistake.message}")
                elif parts:
                    lines.append(
                        "This looks like several mistakes at once:"
                        + "".join(f"\n      {', '.join(lb)}: {m.message}" for lb, m in parts)
                    )
                identifier = " + ".join(m.name for _, m in parts) or None
        if identifier is None and mismatch.kind == "nonfinite":
            lines.append(
                "Look for an overflow: np.exp of a large number is inf, and inf/inf or "
                "inf - inf is NaN. Rewrite the formula so that no intermediate value explodes."
            )
        elif identifier is None and spec.hint:
            lines.append(spec.hint)
        if case.show and not self.hidden:
            lines.append(_worked_example(case, spec, expected, got, labels or (), where))
        # no entry named it: what compare found names it (wrong shape, NaN, or "unnamed")
        identifier = identifier or mistake_ids.for_mismatch(mismatch.kind)
        self.fail("\n    ".join(lines), mistake=identifier)
        return got

    def _select(self, value: Any, select: int | tuple[int, ...]) -> Any:
        try:
            return _select_values(value, select)
        except (TypeError, IndexError, KeyError):
            names = self.spec.output_names
            want = f"a tuple ({', '.join(names)})" if names else "a tuple"
            self.fail(f"{self.spec.name} must return {want}; got {diagnose.describe_type(value)}.")

    def _labels(
        self, expected: Any, select: int | tuple[int, ...] | None, names: tuple[str, ...] | None
    ) -> tuple[str, tuple[str, ...] | None, bool]:
        """(where, names of a tuple's parts, whether they are returned values) for compare."""
        if names is not None:
            return "your output", names, False
        outputs = self.spec.output_names
        if not outputs:
            return "your output", None, True
        if select is None:
            return "your output", outputs, True

        def label(i: int, value: Any) -> str:
            if isinstance(value, (dict, tuple)):
                return outputs[i]
            return f"{outputs[i]} (the {diagnose.ordinal(i + 1)} value returned)"

        if isinstance(select, int):
            return label(select, expected), None, False
        parts = expected if isinstance(expected, tuple) else (None,) * len(select)
        return "your output", tuple(label(i, v) for i, v in zip(select, parts, strict=False)), False

    def run_cases(self, fn: Any) -> None:
        for case in self.spec.cases[self.part.part](self.rng):
            self.compare_case(fn, case)


@contextlib.contextmanager
def allow_references() -> Iterator[None]:
    """Lift the reference ban inside a student call (for the grader's own fallbacks).

    Only code of the grader may do so: the warden checks that the block is opened from a
    file of the ``autograder`` package."""
    audit = "\x00autograder:sys.audit"
    box: list = []
    audit("autograder.allow.begin", box)
    token = _guard._forbidden.set(frozenset())
    try:
        yield
    finally:
        _guard._forbidden.reset(token)
        audit("autograder.allow.end", box[0] if box else None)


def _select_values(value: Any, select: int | tuple[int, ...]) -> Any:
    """``value[select]``, or the tuple of ``value[i]`` for a tuple ``select``; raises
    ``TypeError`` unless ``value`` is a tuple or list long enough."""
    if not isinstance(value, (tuple, list)):
        raise TypeError(f"expected a tuple, got {type(value).__name__}")
    if isinstance(select, int):
        return value[select]
    return tuple(value[i] for i in select)


def _show(name: str, value: Any, indent: str) -> str:
    """``name = value``, continuation lines aligned under the value's first character."""
    text = _small(value)
    lead = f"{name} = " if name else ""
    return indent + lead + text.replace("\n", "\n" + indent + " " * len(lead))


def _named_parts(value: Any, names: tuple[str, ...]) -> list[tuple[str, Any]]:
    """A value's parts with the names a student knows: ``dx``, ``grads['W1']``, ..."""
    if isinstance(value, (tuple, list)) and names and len(value) == len(names):
        parts = []
        for name, item in zip(names, value, strict=True):
            name = name.split(" (")[0]
            if isinstance(item, dict):
                parts += [(f"{name}[{k!r}]", v) for k, v in item.items()]
            else:
                parts.append((name, item))
        return parts
    if isinstance(value, dict):
        return [(f"[{k!r}]", v) for k, v in value.items()]
    return [("", value)]


def _worked_example(
    case: Case, spec: FunctionSpec, expected: Any, got: Any, names: tuple[str, ...], where: str
) -> str:
    """The inputs of a small visible case, labelled as the student's function calls them,
    then the expected and the student's output, part by part."""
    indent = "      "
    arg_names = spec.arg_names if len(spec.arg_names) == len(case.args) else ()
    inputs = [
        _show(arg_names[i] if arg_names else f"input {i + 1}", arg, indent)
        for i, arg in enumerate(case.args)
    ] + [_show(k, v, indent) for k, v in case.kwargs.items()]
    single = where.split(" (")[0] if where != "your output" else ""
    shown = {}
    for title, value in (("expected", expected), ("yours", got)):
        parts = _named_parts(value, names)
        if len(parts) == 1 and not parts[0][0]:
            parts = [(single, parts[0][1])]
        shown[title] = "\n".join(_show(name, v, indent) for name, v in parts)
    return (
        "Worked example, the inputs:\n"
        + "\n".join(inputs)
        + "\n    expected:\n"
        + shown["expected"]
        + "\n    yours:\n"
        + shown["yours"]
    )


def call_reference(ref: Callable, args: tuple, kwargs: dict | None = None) -> Any:
    """Call a reference on copies of the inputs, outside any forbid block, quietly."""
    import warnings

    with _errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ref(*_copy_args(args), **(kwargs or {}))


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


class NotDefinedError(Exception):
    """Raised by the stand-in of a graded function whose answer cell has not defined it."""


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


for _fn in (check, self_check, allow_references, Context.__init__):
    sandbox.embed_audit(_fn)
del _fn

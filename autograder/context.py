"""The context a part runs in: the student's calls, the comparison, the messages on failure.

:func:`autograder.framework.run_part` makes one :class:`Context` per part. A part's runner (or
the default one, :meth:`Context.run_cases`) calls the student's function through
:meth:`Context.call` / :meth:`Context.compare_case` and fails the part with
:meth:`Context.fail`. A student call goes through :func:`autograder.sandbox.call_student`
(copies of the inputs, no stderr, reference calls forbidden, warnings turned into hints, the
value frozen into plain data inside the call); whatever it did wrong (raised, mutated an input,
called the reference, printed) becomes a hint or a failure written for the student. Only after
the call is the expected value computed with the ``nnkit`` reference captured at import
(:mod:`autograder.references`), so no student code ever runs while an expected value exists;
on a mismatch the mistake catalogue is asked which plausible mistake produces the student's
output (:mod:`autograder.diagnose`).

A hidden part's rng is seeded, in grading mode, with a secret of the course: the seed comes
from the warden, which answers only :meth:`Context.__init__` (see :mod:`autograder.sandbox`).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

import numpy as np

from . import diagnose, mistake_ids, sandbox
from .failures import NotDefinedError, _PartFailed
from .messages import _worked_example
from .references import _copy_args, call_reference, reference
from .registry import Case, FunctionSpec, Part

_default_rng = np.random.default_rng


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
                mistake=mistake_ids.CALLS_REFERENCE,
            )
        if outcome.not_implemented:
            self.fail(
                f"Your {who} raises NotImplementedError: replace `raise NotImplementedError()` in "
                "its answer cell with your code and run that cell again.",
                mistake=mistake_ids.NOT_IMPLEMENTED,
            )
        if isinstance(outcome.error, NotDefinedError):
            self.fail(str(outcome.error), mistake=mistake_ids.NOT_DEFINED)
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
                mistake=mistake_ids.MUTATES_INPUT,
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


def _select_values(value: Any, select: int | tuple[int, ...]) -> Any:
    """``value[select]``, or the tuple of ``value[i]`` for a tuple ``select``; raises
    ``TypeError`` unless ``value`` is a tuple or list long enough."""
    if not isinstance(value, (tuple, list)):
        raise TypeError(f"expected a tuple, got {type(value).__name__}")
    if isinstance(select, int):
        return value[select]
    return tuple(value[i] for i in select)


sandbox.embed_audit(Context.__init__)

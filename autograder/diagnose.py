"""Compare a student's output with the expected one, and name the mistake it looks like.

:func:`compare` walks the output structure (arrays, numbers, tuples, dicts) and returns a
:class:`Mismatch` describing the first difference in words a student understands (wrong type,
wrong shape, wrong dtype, NaN/inf, values off by how much), never the expected values.

:func:`match_mistake` is the oracle behind "this looks like …": every graded function has a
catalogue of :class:`Mistake` s, small functions computing the *wrong* output a plausible
mistake produces from the same inputs. The first entry whose output equals the student's names
the mistake.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

_asarray = np.asarray
_isfinite = np.isfinite
_isnan = np.isnan
_abs = np.abs
_max = np.max
_errstate = np.errstate
_allclose = np.allclose


_NOTHING = object()


@dataclass(frozen=True)
class Mistake:
    """A plausible wrong implementation and what to tell a student whose output matches it.

    ``compute`` takes the same arguments as the graded function and returns the wrong output
    (it may raise; then it matches nothing). ``message`` names the mistake and how to fix it.
    """

    name: str
    compute: Callable[..., Any]
    message: str


@dataclass(frozen=True)
class Mismatch:
    """How a student's output differs from the expected one."""

    kind: str  # "type", "shape", "dtype", "nonfinite", "values", "keys", "length"
    where: str  # e.g. "the output", "dlogits (element 2 of the tuple)"
    text: str

    def __str__(self) -> str:
        return self.text


def describe_type(value: Any) -> str:
    """``an array of shape (2, 3) and dtype float64``, ``a list``: what a value is, in words."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    return f"a {type(value).__name__}"


def _as_number_array(value: Any) -> np.ndarray | None:
    try:
        arr = _asarray(value)
    except Exception:
        return None
    if arr.dtype.kind not in "biuf":
        return None
    return arr


def compare(
    got: Any,
    expected: Any,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    float32: bool = False,
    where: str = "your output",
    reveal: bool = True,
    names: Sequence[str] | None = None,
    returned: bool = True,
) -> Mismatch | None:
    """Return ``None`` when ``got`` matches ``expected`` (same structure, close values).

    ``names`` label the elements of a tuple output with the names the exercise gives them
    (``("dx", "dW", "db")``), so that a message says ``dW`` instead of ``your output[1]``;
    with ``returned`` a leaf also says which returned value it is ("dW (the 2nd value
    returned)"), so a student who returns the values in another order sees it. Dict entries are
    named by their keys (``grads['W1']``).
    """
    if isinstance(expected, tuple) and names is not None and len(names) == len(expected):
        if not isinstance(got, (tuple, list)):
            return Mismatch(
                "type",
                where,
                f"{where} is {describe_type(got)}; expected a tuple ({', '.join(names)})",
            )
        if len(got) != len(expected):
            return Mismatch(
                "length",
                where,
                f"{where} has {len(got)} elements; expected {len(expected)}: ({', '.join(names)})",
            )
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            label = names[i]
            if returned and not isinstance(e, (dict, tuple)):
                label = f"{label} (the {ordinal(i + 1)} value returned)"
            bad = compare(g, e, rtol=rtol, atol=atol, float32=float32, where=label, reveal=reveal)
            if bad:
                return bad
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return Mismatch("type", where, f"{where} is {describe_type(got)}; expected a dict")
        missing = sorted(set(expected) - set(got))
        extra = sorted(set(got) - set(expected))
        if missing or extra:
            return Mismatch(
                "keys",
                where,
                f"{where} has keys {sorted(map(str, got))}; expected {sorted(map(str, expected))}",
            )
        for key in expected:
            bad = compare(
                got[key],
                expected[key],
                rtol=rtol,
                atol=atol,
                float32=float32,
                where=f"{where}[{key!r}]",
                reveal=reveal,
            )
            if bad:
                return bad
        return None
    if isinstance(expected, tuple):
        if not isinstance(got, (tuple, list)):
            return Mismatch(
                "type",
                where,
                f"{where} is {describe_type(got)}; expected a tuple of {len(expected)}",
            )
        if len(got) != len(expected):
            return Mismatch(
                "length", where, f"{where} has {len(got)} elements; expected {len(expected)}"
            )
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            bad = compare(
                g, e, rtol=rtol, atol=atol, float32=float32, where=f"{where}[{i}]", reveal=reveal
            )
            if bad:
                return bad
        return None
    if isinstance(expected, numbers.Number) and not isinstance(expected, np.ndarray):
        arr = None if isinstance(got, (list, tuple)) else _as_number_array(got)
        if arr is None or arr.size != 1 or (isinstance(got, np.ndarray) and got.ndim > 0):
            return Mismatch("type", where, f"{where} is {describe_type(got)}; expected a number")
        return _compare_values(
            arr.reshape(()), _asarray(expected, dtype=float), rtol, atol, where, reveal
        )
    expected = _asarray(expected)
    if not isinstance(got, np.ndarray):
        if isinstance(got, (list, tuple)):
            return Mismatch(
                "type",
                where,
                f"{where} is a {type(got).__name__}; return a NumPy array (np.array(...)) instead",
            )
        if expected.ndim == 0 and _as_number_array(got) is not None:
            got = _asarray(got)
        else:
            return Mismatch("type", where, f"{where} is {describe_type(got)}; expected an array")
    if got.shape != expected.shape:
        want = f"expected shape {expected.shape}" if reveal else "not the expected shape"
        return Mismatch("shape", where, f"{where} has shape {got.shape}; {want}")
    if expected.dtype.kind == "f" and got.dtype.kind not in "f":
        return Mismatch(
            "dtype",
            where,
            f"{where} has dtype {got.dtype}; expected floating-point numbers "
            "(convert with .astype(float) or build it from float arithmetic)",
        )
    if float32 and expected.dtype == np.float32 and got.dtype != np.float32:
        return Mismatch(
            "dtype",
            where,
            f"{where} has dtype {got.dtype} for float32 input; keep the input's dtype "
            "(float32 in, float32 out), e.g. avoid mixing in float64 arrays or Python-created "
            "float64 constants of array type",
        )
    return _compare_values(got, expected, rtol, atol, where, reveal)


def _compare_values(
    got: np.ndarray,
    expected: np.ndarray,
    rtol: float,
    atol: float,
    where: str,
    reveal: bool = True,
) -> Mismatch | None:
    with _errstate(all="ignore"):
        g = got.astype(np.float64)
        e = expected.astype(np.float64)
        g_fin, e_fin = _isfinite(g), _isfinite(e)
        if (~g_fin & e_fin).any():
            count = int((~g_fin & e_fin).sum())
            what = "NaN" if _isnan(g[~g_fin & e_fin]).any() else "inf"
            return Mismatch(
                "nonfinite",
                where,
                f"{where} contains {what} in {_entries(count, g.size, reveal)} where a finite "
                "value was expected (an overflow, log(0) or 0/0 somewhere?)",
            )
        if (g_fin != e_fin).any() or (~e_fin & (g != e) & ~(_isnan(g) & _isnan(e))).any():
            return Mismatch(
                "values", where, f"{where} is finite where the expected value is not (or differs)"
            )
        diff = _abs(g - e)[e_fin]
        tol = (atol + rtol * _abs(e))[e_fin]
        if diff.size and (diff > tol).any():
            worst = float(_max(diff))
            scale = float(_max(_abs(e[e_fin]))) if e_fin.any() else 0.0
            rel = worst / max(scale, 1e-12)
            bad = int((diff > tol).sum())
            if reveal:
                size = (
                    f"largest difference {worst:.3g}, while every expected value is 0"
                    if scale == 0.0
                    else f"largest difference {worst:.3g}, {_percent(rel)} of the largest "
                    "expected value"
                )
            else:  # hidden test: a rough size only, from which no expected value can be recovered
                size = (
                    "a small relative error, below 1e-3"
                    if rel < 1e-3
                    else "a noticeable relative error, below 10%"
                    if rel < 0.1
                    else "a large relative error, 10% or more"
                )
            return Mismatch(
                "values",
                where,
                f"{where} differs from the expected values in {_entries(bad, g.size, reveal)} "
                f"({size})",
            )
    return None


def _percent(ratio: float) -> str:
    """``1.0 -> "100%"``, ``0.031 -> "3.1%"``, ``2e-7 -> "2e-05%"``: a ratio as a percentage."""
    pct = 100.0 * ratio
    if pct >= 10:
        return f"{pct:.0f}%"
    if pct >= 0.1:
        return f"{pct:.2g}%"
    return f"{pct:.1g}%"


def ordinal(n: int) -> str:
    """``1 -> "1st"``, ``2 -> "2nd"``, ``11 -> "11th"``."""
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _entries(count: int, size: int, reveal: bool) -> str:
    """``3 of 20 entries``; for a hidden test a rough share, which does not give the size."""
    if reveal:
        return f"{count} of {size} entries"
    if count == size:
        return "every entry"
    share = count / size
    return "a few entries" if share < 0.25 else "many entries" if share < 0.75 else "most entries"


def outputs_equal(a: Any, b: Any, rtol: float = 1e-6, atol: float = 1e-9) -> bool:
    """Loose structural equality used to match a student's output with a mistake's output."""
    if isinstance(b, dict):
        return (
            isinstance(a, dict)
            and a.keys() == b.keys()
            and all(outputs_equal(a[k], b[k], rtol, atol) for k in b)
        )
    if isinstance(b, (tuple, list)):
        return (
            isinstance(a, (tuple, list))
            and len(a) == len(b)
            and all(outputs_equal(x, y, rtol, atol) for x, y in zip(a, b, strict=True))
        )
    ga, gb = _as_number_array(a), _as_number_array(b)
    if ga is None or gb is None or ga.shape != gb.shape:
        return False
    with _errstate(all="ignore"):
        return bool(
            _allclose(ga.astype(float), gb.astype(float), rtol=rtol, atol=atol, equal_nan=True)
        )


def match_mistake(
    mistakes: list[Mistake],
    args: tuple,
    kwargs: dict,
    got: Any,
    copy_args: Callable[[tuple], tuple],
    expected: Any = _NOTHING,
    project: Callable[[Any], Any] | None = None,
    whole: Any = _NOTHING,
) -> Mistake | None:
    """The first catalogue entry whose wrong output equals ``got`` on these inputs.

    Entries whose output also equals ``expected`` on these inputs explain nothing and are skipped.
    ``project`` maps an entry's output to the part that was compared (e.g. the gradient of a
    ``(loss, dlogits)`` pair), when ``got`` is only that part; ``whole`` is then the student's
    entire output: an entry that reproduces all of it is preferred to one that only
    reproduces the compared part (a gradient N times too large, with or without the loss).
    """
    candidates = []
    for mistake in mistakes:
        raw = _wrong_output(mistake, args, kwargs, copy_args, None)
        if raw is _NOTHING:
            continue
        wrong = raw
        if project is not None:
            try:
                wrong = project(raw)
            except Exception:
                continue
        if not outputs_equal(got, wrong):
            continue
        if expected is not _NOTHING and outputs_equal(wrong, expected, rtol=1e-9, atol=1e-12):
            continue
        if whole is _NOTHING or outputs_equal(whole, raw):
            return mistake
        candidates.append(mistake)
    return candidates[0] if candidates else None


def _wrong_output(
    mistake: Mistake,
    args: tuple,
    kwargs: dict,
    copy_args: Callable[[tuple], tuple],
    project: Callable[[Any], Any] | None,
) -> Any:
    """The entry's output on these inputs (projected), or ``_NOTHING`` if it raises."""
    try:
        with _errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wrong = mistake.compute(*copy_args(args), **kwargs)
            return wrong if project is None else project(wrong)
    except Exception:
        return _NOTHING


def _leaves(value: Any, path: tuple = ()) -> list[tuple[tuple, Any]]:
    """The parts of a tuple/dict output (recursively) as ``[(path, leaf)]``; lists are leaves."""
    if isinstance(value, dict):
        return [leaf for key in value for leaf in _leaves(value[key], (*path, key))]
    if isinstance(value, tuple):
        return [leaf for i, item in enumerate(value) for leaf in _leaves(item, (*path, i))]
    return [(path, value)]


def part_label(path: tuple, names: Sequence[str] | None = None) -> str:
    """``(1,) -> "dW"`` with ``names = ("dx", "dW", "db")``; ``(1, "W1") -> "grads['W1']"``."""
    if not path:
        return "your output"
    head, rest = path[0], path[1:]
    if isinstance(head, int) and names is not None and head < len(names):
        label = names[head]
    elif isinstance(head, int):
        label = f"your output[{head}]"
    else:
        label = f"your output[{head!r}]"
    return label + "".join(f"[{key!r}]" for key in rest)


def match_mistake_parts(
    mistakes: list[Mistake],
    args: tuple,
    kwargs: dict,
    got: Any,
    copy_args: Callable[[tuple], tuple],
    expected: Any,
    names: Sequence[str] | None = None,
    project: Callable[[Any], Any] | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-8,
) -> list[tuple[list[str], Mistake]]:
    """For an output of several parts that no single entry explains as a whole: the entries
    that explain its wrong parts one by one, as ``[(part labels, mistake)]`` in output order.

    A student often makes two mistakes at once (``dx`` with ``W.T`` *and* a transposed
    ``dW``); each is in the catalogue, their combination is not. For every wrong part, the
    first entry whose output has the student's value there is chosen, preferring entries
    that change that part only. A part is wrong when it fails the comparison's tolerances
    (``rtol``, ``atol``), and so is an entry's part that explains it.
    """
    expected_leaves = _leaves(expected)
    if len(expected_leaves) < 2:
        return []
    got_leaves = dict(_leaves(got)) if isinstance(got, (tuple, dict)) else {}
    wrong = [
        (path, leaf)
        for path, leaf in expected_leaves
        if path in got_leaves and not outputs_equal(got_leaves[path], leaf, rtol, atol)
    ]
    if not wrong:
        return []
    outputs: list[tuple[Mistake, dict]] = []
    for mistake in mistakes:
        value = _wrong_output(mistake, args, kwargs, copy_args, project)
        if value is not _NOTHING:
            outputs.append((mistake, dict(_leaves(value))))
    expected_by_path = dict(expected_leaves)
    groups: dict[str, tuple[list[str], Mistake]] = {}
    for path, leaf in wrong:
        found = []
        for mistake, leaves in outputs:
            theirs = leaves.get(path, _NOTHING)
            if theirs is _NOTHING or not outputs_equal(got_leaves[path], theirs):
                continue
            if outputs_equal(theirs, leaf, rtol, atol):
                continue
            only_here = all(
                other == path or outputs_equal(leaves.get(other), value, rtol, atol)
                for other, value in expected_by_path.items()
            )
            found.append((not only_here, len(found), mistake))
        if found:
            mistake = min(found, key=lambda item: item[:2])[2]
            labels, _ = groups.setdefault(mistake.name, ([], mistake))
            labels.append(part_label(path, names))
    return list(groups.values())

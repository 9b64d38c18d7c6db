"""Measuring a module's gradients: frozen forward passes, sampled entries, random directions.

The machinery behind :func:`~nnkit.gradcheck.check_layer` and
:func:`~nnkit.gradcheck.check_model` (their docstring states the verdict). Dropout is made
deterministic by restoring every sub-module's ``rng`` state before each forward pass (all
evaluations see the same mask), and batch statistics are handled by always perturbing one entry
of the *whole* batch and re-running the whole forward pass; running statistics are restored so
a check leaves the module as it found it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np

from .._checks import as_float_array, check_real
from .diagnosis import diagnose
from .numeric import _check_h, _numeric_at, rel_error
from .report import GradCheckEntry, GradCheckReport

# Entries per array taken by single-entry differences (the rest is covered by random
# directions), directions per sampled array, and the round-off allowance (see _allowance).
DEFAULT_MAX_ENTRIES = 100
DEFAULT_DIRECTIONS = 4
NOISE_FACTOR = 100.0
_EPS = float(np.finfo(np.float64).eps)


class _Freeze:
    """Makes repeated forwards of a module identical: same dropout masks, untouched buffers."""

    def __init__(self, module) -> None:
        # duck-typed models without modules()/named_buffers() are treated as one plain module
        modules = list(module.modules()) if hasattr(module, "modules") else [module]
        self.rngs = [
            (m.rng, m.rng.bit_generator.state)
            for m in modules
            if isinstance(getattr(m, "rng", None), np.random.Generator)
        ]
        if hasattr(module, "named_buffers"):
            owners = [(owner, key) for _, owner, key in module.named_buffers()]
        else:
            owners = [(m, key) for m in modules for key in getattr(m, "buffers", {}) or {}]
        self.buffers = [
            (owner, key, np.array(owner.buffers[key], copy=True)) for owner, key in owners
        ]

    def before(self) -> None:
        for rng, state in self.rngs:
            rng.bit_generator.state = state

    def after(self) -> None:
        for owner, key, saved in self.buffers:
            current = owner.buffers[key]
            if isinstance(current, np.ndarray) and current.shape == saved.shape:
                np.copyto(current, saved)
            else:
                owner.buffers[key] = saved.copy()


def _kink_note(module, x: np.ndarray, freeze: _Freeze, radius: float) -> str | None:
    """If a kinked activation inside a Sequential sees inputs near its kink, say so."""
    layers = getattr(module, "layers", None)
    if layers is None:
        return None
    closest = np.inf
    freeze.before()
    try:
        h = x
        for layer in layers:
            kinks = getattr(layer, "kinks", ())
            if kinks and h.size:
                closest = min(closest, float(min(np.min(np.abs(h - k)) for k in kinks)))
            h = layer.forward(h)
    finally:
        freeze.after()
    if closest <= radius:
        return (
            f"an activation input lies {closest:.1e} from a kink (ReLU at 0, ...): a finite "
            "difference that crosses it is wrong there, so a failure may be a false alarm"
        )
    return None


# A finite difference whose step crosses a kink (ReLU at 0) is wrong while, and only while, the
# step crosses it; a wrong analytic gradient stays wrong at every step. So entries and
# directions that disagree are measured again with these smaller steps (in units of h).
RETRY_STEPS = (0.1, 0.01)


def _allowance(scale, magnitude: float, step, tol: float):
    """The smallest denominator of a relative error (see :func:`check_layer`): the gradient
    magnitude ``scale``, or the round-off of a centred difference with ``step`` of an objective
    of size ``magnitude`` divided by ``tol``, whichever is larger. Measured on correct models,
    that round-off is about ``eps * |L| / step`` (at most 6 times that); ``NOISE_FACTOR``
    leaves room above it."""
    return np.maximum(np.maximum(scale, NOISE_FACTOR * _EPS * magnitude / (step * tol)), 1e-300)


def _measure_entries(loss, diff, arr, indices, a, h, magnitude, tol):
    """Numerical gradient at ``indices`` (with retries at smaller steps where it disagrees
    with ``a``); returns ``(numeric, error, floors)``."""
    numeric = _numeric_at(loss, arr, indices, h, diff, actual_step=True)
    if a is None or a.shape != numeric.shape:
        return numeric, float("nan"), None
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(numeric))):
        return numeric, float("nan"), None
    steps = np.full(numeric.shape, h)
    scale = float(np.max(np.abs(a) + np.abs(numeric))) if a.size else 0.0
    for factor in RETRY_STEPS:
        floors = _allowance(scale, magnitude, steps, tol)
        bad = np.flatnonzero(np.abs(a - numeric) > tol * floors)
        if not bad.size:
            break
        again = [indices[k] for k in bad]
        numeric.flat[bad] = _numeric_at(loss, arr, again, h * factor, diff, actual_step=True)
        steps.flat[bad] = h * factor
    floors = _allowance(scale, magnitude, steps, tol)
    error = float(np.max(np.abs(a - numeric) / floors)) if a.size else 0.0
    return numeric, error, floors


def _directional_errors(loss, diff, arr, a, n_dirs, h, rng, magnitude, tol) -> list[tuple]:
    """``(error, numeric, analytic)`` for ``n_dirs`` random unit directions ``v`` of ``arr``.

    The objective is evaluated at ``arr ± s v`` (``s = h``, again with the smaller steps of
    ``RETRY_STEPS`` while they disagree); the analytic change is ``⟨a, Δ⟩ / 2s`` with ``Δ`` the
    difference of the two points as stored (exact also for float32 parameters).
    """
    saved = arr.copy()
    rms = float(np.linalg.norm(a)) / np.sqrt(a.size)  # typical ⟨a, v⟩ of a random unit v
    results = []
    for _ in range(n_dirs):
        v = rng.standard_normal(arr.shape)
        v /= np.linalg.norm(v) or 1.0
        for step in (h, *(h * f for f in RETRY_STEPS)):
            try:
                np.copyto(arr, saved + step * v, casting="same_kind")
                plus = np.array(arr, dtype=np.float64)
                fp = loss()
                np.copyto(arr, saved - step * v, casting="same_kind")
                minus = np.array(arr, dtype=np.float64)
                fm = loss()
            finally:
                np.copyto(arr, saved)
            numeric = ((fp - fm) if diff is None else diff(fp, fm)) / (2 * step)
            analytic = float(np.vdot(a, plus - minus)) / (2 * step)
            scale = max(abs(numeric) + abs(analytic), rms)
            error = abs(numeric - analytic) / float(_allowance(scale, magnitude, step, tol))
            if error <= tol:
                break
        results.append((error, numeric, analytic))
    return results


def _direction_diagnosis(directions: list[tuple], checked: int, size: int) -> str:
    worst = max(directions, key=lambda d: d[0])
    return (
        f"the {checked} sampled entries agree, but along a random direction through all "
        f"{size} entries the analytic change {worst[2]:.6g} differs from the numeric "
        f"{worst[1]:.6g}: some entries that were not sampled are wrong; run the check with "
        "max_entries=None to find them"
    )


def _upstream_for(upstream: np.ndarray, arr: np.ndarray, flat) -> np.ndarray | None:
    """``dout`` as the diagnosis of a bias needs it: ``(N, M)`` columns of the checked entries."""
    if upstream.ndim != 2 or arr.ndim != 1 or upstream.shape[1] != arr.size:
        return upstream if flat is None else None
    return upstream if flat is None else upstream[:, flat]


def _sampled_transpose(a: np.ndarray, flat, numeric: np.ndarray, tol: float) -> str | None:
    """For a sampled square matrix: does the transpose of the analytic gradient match?"""
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        return None
    if rel_error(a.T.reshape(-1)[flat], numeric) <= max(tol, 1e-6):
        return (
            f"transposed: at the {len(flat)} sampled entries the analytic gradient equals the "
            "transpose of the numeric one"
        )
    return None


@contextlib.contextmanager
def _one_blas_thread():
    """NumPy's BLAS on one thread while a check runs (threadpoolctl comes with scikit-learn).

    A check makes about a thousand small forward passes, one after the other. BLAS threads
    do not speed them up, and on a machine whose cores are busy they wait for each other: the
    default check of a 99k-parameter MLP took 304 s with OpenBLAS's two threads and 9 s with one
    (load average 19, 2 cores)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn is a dependency
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _check_module(*args, **kwargs) -> GradCheckReport:
    with _one_blas_thread():
        return _check_module_body(*args, **kwargs)


def _check_module_body(
    module,
    x,
    make_objective: Callable[[np.ndarray], tuple[Callable, Callable | None, np.ndarray, float]],
    *,
    h: float,
    tol: float,
    max_entries: int | None,
    directions: int,
    rng: np.random.Generator,
    title: str,
) -> GradCheckReport:
    if not (hasattr(module, "forward") and hasattr(module, "backward")):
        raise TypeError(f"expected an nnkit Module, got {type(module).__name__}")
    h = _check_h(h)
    tol = check_real(tol, "tol")
    if max_entries is not None and (not isinstance(max_entries, int) or max_entries < 1):
        raise ValueError(f"max_entries must be a positive int or None, got {max_entries!r}")
    if not isinstance(directions, int) or directions < 0:
        raise ValueError(f"directions must be an int >= 0, got {directions!r}")
    x = np.array(as_float_array(x, "x"), dtype=np.float64, copy=True)
    freeze = _Freeze(module)

    def run() -> np.ndarray:
        freeze.before()
        try:
            return module.forward(x)
        finally:
            freeze.after()

    out = run()
    objective, diff, upstream, magnitude = make_objective(np.asarray(out))
    analytic = {"x": module.backward(upstream)}
    if hasattr(module, "named_parameters"):
        refs = dict(module.named_parameters())
    else:
        refs = {getattr(r, "name", "") or str(i): r for i, r in enumerate(module.parameters())}
    for name, ref in refs.items():
        grad = ref.grad
        analytic[name] = None if grad is None else np.array(grad, dtype=np.float64, copy=True)

    def loss():
        return objective(run())

    batch = x.shape[0] if x.ndim else None
    kinks = getattr(module, "kinks", None)
    report = GradCheckReport(tol=tol, title=title)
    targets = {"x": x} | {name: ref.data for name, ref in refs.items()}
    for name, arr in targets.items():
        a = analytic[name]
        usable = a is not None and a.shape == arr.shape
        if usable and not np.all(np.isfinite(a)):
            # known at every entry, so no finite difference is needed to see it is broken
            report.entries[name] = GradCheckEntry(
                name, float("nan"), tol, diagnose(a, np.zeros_like(a)), size=arr.size
            )
            continue
        sample = usable and max_entries is not None and arr.size > max_entries
        flat = None
        if not sample:
            indices = list(np.ndindex(arr.shape))
        else:
            flat = np.sort(rng.choice(arr.size, size=max_entries, replace=False))
            indices = [np.unravel_index(i, arr.shape) for i in flat]
        if len(indices) == arr.size:
            a_cmp, x_cmp = a, x if name == "x" else None
        else:
            a_cmp = np.array([a[i] for i in indices])
            x_cmp = np.array([x[i] for i in indices]) if name == "x" else None
        # a missing gradient or one of the wrong shape is measured, then diagnosed
        flat_a = np.asarray(a_cmp).reshape(-1) if usable else None
        numeric, err, floors = _measure_entries(loss, diff, arr, indices, flat_a, h, magnitude, tol)
        if len(indices) == arr.size:
            numeric = numeric.reshape(arr.shape)
        floor = 1e-8 if floors is None else floors.reshape(numeric.shape)
        diag = None
        if not err <= tol:
            diag = diagnose(
                a_cmp,
                numeric,
                x=x_cmp,
                kinks=kinks if name == "x" else None,
                h=h,
                tol=tol,
                dout=None if name == "x" else _upstream_for(upstream, arr, flat),
                batch_size=batch,
                floor=floor,
            )
            if flat is not None and diag is not None and diag.startswith("mismatch"):
                diag = _sampled_transpose(a, flat, numeric, tol) or diag
        walked = []
        if sample and directions and not np.isnan(err):
            walked = _directional_errors(loss, diff, arr, a, directions, h, rng, magnitude, tol)
            worst_direction = max(d[0] for d in walked)
            if not worst_direction <= err:
                err = worst_direction
                if not err <= tol and diag is None:
                    diag = _direction_diagnosis(walked, len(indices), arr.size)
        report.entries[name] = GradCheckEntry(
            name,
            err,
            tol,
            diag,
            checked=len(indices),
            size=arr.size,
            analytic=a_cmp,
            numeric=numeric,
            directions=len(walked),
            indices=flat,
        )
    if not report.ok:
        note = _kink_note(module, x, freeze, radius=100 * h)
        if note:
            report.notes.append(note)
    freeze.before()  # leave every rng where it was: the check consumed no randomness
    return report

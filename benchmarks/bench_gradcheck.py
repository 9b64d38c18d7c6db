"""Time ``nnkit.check_model`` on a correct 200-300-130 ReLU MLP (99,430 parameters, batch 64).

The model is ``Sequential(Linear(200, 300), ReLU(), Linear(300, 130))`` with
``nnkit.softmax_cross_entropy``, float64, random inputs and labels (seed 0). The check runs with
its defaults (per array: 100 sampled entries and 4 random directions; seed 0), ``--reps`` times.
Printed: the verdict and worst error (a correct model must pass), the number of forward passes
one check makes, and the median wall-clock and CPU time of a check. With ``--exhaustive`` the
script also times a fixed number of single-entry differences and extrapolates the cost of
checking every entry (``max_entries=None``), which is what the check did by default before.

BLAS threads: ``check_model`` itself runs NumPy's BLAS on one thread (threadpoolctl), so every
timed check does; the first line printed shows the setting outside the checks.

Usage::

    python benchmarks/bench_gradcheck.py
    python benchmarks/bench_gradcheck.py --reps 10 --exhaustive
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nnkit
from nnkit.layers import Linear, ReLU, Sequential

SIZES = (200, 300, 130)
BATCH = 64


def build(seed: int = 0):
    """The model, its input batch and labels."""
    rng = np.random.default_rng(seed)
    model = Sequential(
        Linear(SIZES[0], SIZES[1], rng=rng), ReLU(), Linear(SIZES[1], SIZES[2], rng=rng)
    )
    x = rng.standard_normal((BATCH, SIZES[0]))
    y = rng.integers(0, SIZES[2], BATCH)
    return model, x, y


class CountingModel:
    """Wraps a model and counts its forward passes (the check's unit of work)."""

    def __init__(self, model) -> None:
        self.model, self.forwards = model, 0

    def __getattr__(self, name):
        return getattr(self.model, name)

    def forward(self, x):
        self.forwards += 1
        return self.model.forward(x)


def _blas_threads() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return "unknown (threadpoolctl not installed)"
    pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    return ", ".join(f"{p['internal_api']} {p['num_threads']}" for p in pools) or "unknown"


def time_checks(reps: int) -> None:
    model, x, y = build()
    parameters = sum(ref.data.size for ref in model.parameters())
    report = nnkit.check_model(model, nnkit.softmax_cross_entropy, x, y)
    print(report)
    if not report.ok:
        raise SystemExit("the check of a correct model FAILED: a false alarm")
    counting = CountingModel(model)
    nnkit.check_model(counting, nnkit.softmax_cross_entropy, x, y)
    print(f"\nparameters: {parameters}; forward passes per check: {counting.forwards}")
    walls, cpus = [], []
    for _ in range(reps):
        wall, cpu = time.perf_counter(), time.process_time()
        nnkit.check_model(model, nnkit.softmax_cross_entropy, x, y)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    print(
        f"check_model, {reps} runs: wall median {statistics.median(walls):.2f} s "
        f"(min {min(walls):.2f} s, max {max(walls):.2f} s); "
        f"CPU median {statistics.median(cpus):.2f} s"
    )


def estimate_exhaustive(entries: int = 400) -> None:
    """Cost of ``max_entries=None``: time ``entries`` single-entry differences, extrapolate."""
    model, x, y = build()
    counting = CountingModel(model)
    wall, cpu = time.perf_counter(), time.process_time()
    nnkit.check_model(counting, nnkit.softmax_cross_entropy, x, y, max_entries=entries // 5)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    per_forward_wall, per_forward_cpu = wall / counting.forwards, cpu / counting.forwards
    total = 2 * (x.size + sum(ref.data.size for ref in model.parameters()))
    print(
        f"every entry (max_entries=None) would take {total} forward passes: about "
        f"{total * per_forward_wall:.0f} s wall ({total * per_forward_cpu:.0f} s CPU) at "
        f"{per_forward_wall * 1e3:.2f} ms per forward pass measured here"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--reps", type=int, default=5, help="timed checks (default 5)")
    parser.add_argument("--exhaustive", action="store_true", help="estimate max_entries=None")
    args = parser.parse_args(argv)
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    threads = _blas_threads()
    print(f"numpy {np.__version__}, BLAS threads outside checks: {threads}, load {load}\n")
    time_checks(args.reps)
    if args.exhaustive:
        estimate_exhaustive()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

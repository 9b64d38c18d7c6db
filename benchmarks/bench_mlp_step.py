"""Time one training step of a 784-512-512-10 ReLU MLP: nnkit layers versus hand-fused NumPy.

One step = forward, mean softmax cross-entropy, backward, plain SGD update, on a batch of 256.
Three implementations of the *same* network (same initial weights, same batch) are timed in
the same run, interleaved repetition by repetition so that machine noise hits all of them alike:

- ``nnkit``: ``nnkit.layers.Sequential(Linear, ReLU, Linear, ReLU, Linear)``,
  ``SoftmaxCrossEntropy`` and ``nnkit.optim.SGD`` — the way the course trains a model;
- ``fused``: the same step written by hand in NumPy (in-place bias/ReLU/softmax, no input
  gradient for the first layer, in-place updates) — the speed the library should approach;
- ``torch``: ``torch.nn`` + ``torch.optim.SGD``, when torch is importable (a reference point).

Also reported, to explain the gap:

- ``fused+dX``: the hand-fused step that additionally computes the gradient with respect to
  the input batch, ``dX = dh1 @ W1`` (a 256×512×784 product that a training step never needs);
- ``nnkit-noDX``: a what-if — the nnkit step with the first ``Linear``'s backward patched (in
  this script only) to skip that product.

If ``Sequential.backward`` accepts ``input_grad=False`` the ``nnkit`` row passes it.

BLAS threads: respected from the environment (``OMP_NUM_THREADS`` / ``OPENBLAS_NUM_THREADS``)
unless ``--threads N`` is given, in which case NumPy's BLAS (via threadpoolctl) and torch are
both limited to ``N``. The thread counts in force are printed.

Usage::

    python benchmarks/bench_mlp_step.py                 # float32 and float64, 50 repetitions
    python benchmarks/bench_mlp_step.py --threads 1 --reps 100
    python benchmarks/bench_mlp_step.py --profile       # cProfile of the nnkit step as well
"""

from __future__ import annotations

import argparse
import cProfile
import inspect
import io
import itertools
import os
import platform
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nnkit.layers import Linear, ReLU, Sequential, SoftmaxCrossEntropy
from nnkit.optim import SGD

SIZES = (784, 512, 512, 10)
LR = 0.01


def _blas_threads() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return "unknown (threadpoolctl not installed)"
    pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    if not pools:
        return "unknown"
    return ", ".join(f"{p['internal_api']} {p['num_threads']}" for p in pools)


def _initial_weights(rng: np.random.Generator) -> list[np.ndarray]:
    """He-normal weights (M, D) and zero biases, float64: the starting point shared by all."""
    out = []
    for fan_in, fan_out in itertools.pairwise(SIZES):
        out.append(rng.standard_normal((fan_out, fan_in)) * np.sqrt(2.0 / fan_in))
        out.append(np.zeros(fan_out))
    return out


def _supports_input_grad(model) -> bool:
    """Does ``model.backward`` accept ``input_grad=False`` (skip the unneeded ``dL/dX``)?"""
    try:
        return "input_grad" in inspect.signature(model.backward).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return False


def _skip_first_layer_input_grad(first: Linear) -> None:
    """What-if only: make the first Linear's backward set dW, db and skip dx = dout @ W."""

    def backward(dout):
        x = first._cache[0]
        first.grads["W"] = dout.T @ x
        first.grads["b"] = dout.sum(axis=0)
        return None

    first.backward = backward


def make_nnkit_step(weights, X, y, what_if_no_dx: bool = False) -> Callable[[], float]:
    layers = []
    for i in range(len(SIZES) - 1):
        layers.append(Linear(SIZES[i], SIZES[i + 1], rng=i))
        if i < len(SIZES) - 2:
            layers.append(ReLU())
    model = Sequential(*layers)
    linears = [m for m in model.layers if isinstance(m, Linear)]
    for layer, W, b in zip(linears, weights[0::2], weights[1::2], strict=True):
        layer.params["W"] = W.astype(X.dtype, copy=True)
        layer.params["b"] = b.astype(X.dtype, copy=True)
    if what_if_no_dx:
        _skip_first_layer_input_grad(linears[0])
    backward_kwargs = {"input_grad": False} if _supports_input_grad(model) else {}
    loss_fn = SoftmaxCrossEntropy()
    optimizer = SGD(model.parameters(), lr=LR)

    def step() -> float:
        optimizer.zero_grad()
        loss = loss_fn.forward(model.forward(X), y)
        model.backward(loss_fn.backward(), **backward_kwargs)
        optimizer.step()
        return float(loss)

    step.params = [p.data for p in model.parameters()]  # type: ignore[attr-defined]
    return step


def make_fused_step(weights, X, y, input_grad: bool = False) -> Callable[[], float]:
    W1, b1, W2, b2, W3, b3 = (w.astype(X.dtype, copy=True) for w in weights)
    n = X.shape[0]
    rows = np.arange(n)

    def step() -> float:
        h1 = X @ W1.T
        h1 += b1
        np.maximum(h1, 0, out=h1)
        h2 = h1 @ W2.T
        h2 += b2
        np.maximum(h2, 0, out=h2)
        z = h2 @ W3.T
        z += b3
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        loss = -np.log(z[rows, y]).mean()
        z[rows, y] -= 1.0
        z /= n  # dz
        dW3, db3 = z.T @ h2, z.sum(axis=0)
        dh2 = z @ W3
        dh2 *= h2 > 0
        dW2, db2 = dh2.T @ h1, dh2.sum(axis=0)
        dh1 = dh2 @ W2
        dh1 *= h1 > 0
        dW1, db1 = dh1.T @ X, dh1.sum(axis=0)
        if input_grad:
            step.dX = dh1 @ W1  # type: ignore[attr-defined]
        for p, g in ((W1, dW1), (b1, db1), (W2, dW2), (b2, db2), (W3, dW3), (b3, db3)):
            p -= LR * g
        return float(loss)

    step.params = [W1, b1, W2, b2, W3, b3]  # type: ignore[attr-defined]
    return step


def make_torch_step(weights, X, y) -> Callable[[], float] | None:
    try:
        import torch
    except ImportError:
        return None
    dtype = {np.float32: torch.float32, np.float64: torch.float64}[X.dtype.type]
    model = torch.nn.Sequential(
        torch.nn.Linear(SIZES[0], SIZES[1]),
        torch.nn.ReLU(),
        torch.nn.Linear(SIZES[1], SIZES[2]),
        torch.nn.ReLU(),
        torch.nn.Linear(SIZES[2], SIZES[3]),
    ).to(dtype)
    with torch.no_grad():
        for layer, W, b in zip(model[0::2], weights[0::2], weights[1::2], strict=True):
            layer.weight.copy_(torch.from_numpy(W))
            layer.bias.copy_(torch.from_numpy(b))
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)

    def step() -> float:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(Xt), yt)
        loss.backward()
        optimizer.step()
        return loss.item()

    step.params = [p.detach().numpy() for p in model.parameters()]  # type: ignore[attr-defined]
    return step


def _check_same_network(steps: dict[str, Callable[[], float]], dtype) -> None:
    """Three steps from the same start must give the same losses and weights (within dtype)."""
    tol = 1e-4 if dtype == np.float32 else 1e-10
    losses = {name: [fn() for _ in range(3)] for name, fn in steps.items()}
    ref = losses["fused"]
    for name, values in losses.items():
        if not np.allclose(values, ref, rtol=tol, atol=tol):
            raise SystemExit(f"{name} disagrees with the hand-fused step: {values} vs {ref}")
    ref_params = steps["fused"].params  # type: ignore[attr-defined]
    for name, fn in steps.items():
        for a, b in zip(fn.params, ref_params, strict=True):  # type: ignore[attr-defined]
            if not np.allclose(a, b, rtol=tol, atol=tol):
                raise SystemExit(f"{name}'s weights after 3 steps differ from the hand-fused ones")


def time_interleaved(
    steps: dict[str, Callable[[], float]], reps: int, warmup: int
) -> dict[str, list[float]]:
    names = list(steps)
    for _ in range(warmup):
        for name in names:
            steps[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for rep in range(reps):
        order = names[rep % len(names) :] + names[: rep % len(names)]  # rotate who goes first
        for name in order:
            t0 = time.perf_counter()
            steps[name]()
            times[name].append(time.perf_counter() - t0)
    return times


def profile_nnkit(dtype, X, y, weights, n: int = 30) -> str:
    step = make_nnkit_step(weights, X, y)
    step()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n):
        step()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(14)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--reps", type=int, default=50, help="timed repetitions (>= 30)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed warm-up steps")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--threads", type=int, default=None, help="pin BLAS/torch threads")
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    parser.add_argument("--no-torch", action="store_true", help="skip the torch reference")
    parser.add_argument("--profile", action="store_true", help="cProfile the nnkit step")
    args = parser.parse_args(argv)
    if args.reps < 30:
        parser.error("--reps must be at least 30 for a meaningful median")

    limiter = None
    if args.threads is not None:
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(limits=args.threads, user_api="blas")
    torch_threads = None
    if not args.no_torch:
        try:
            import torch

            if args.threads is not None:
                torch.set_num_threads(args.threads)
            torch_threads = torch.get_num_threads()
        except ImportError:
            pass

    env = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS") if k in os.environ}
    print(f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs")
    print(f"BLAS threads: {_blas_threads()}; torch threads: {torch_threads}; env: {env or '-'}")
    print(f"MLP {'-'.join(map(str, SIZES))}, batch {args.batch}, SGD lr={LR}")
    print(f"{args.warmup} warm-up steps, {args.reps} interleaved timed repetitions; median times")
    print()
    header = f"{'dtype':8} {'impl':10} {'median ms':>10} {'p25 ms':>8} {'p75 ms':>8} {'/ fused':>8}"
    print(header)
    print("-" * len(header))

    rng = np.random.default_rng(0)
    weights = _initial_weights(rng)
    X64 = rng.standard_normal((args.batch, SIZES[0]))
    y = rng.integers(0, SIZES[-1], size=args.batch)
    ratios = {}
    for dtype_name in args.dtypes:
        dtype = np.dtype(dtype_name).type
        X = X64.astype(dtype)
        steps = {
            "nnkit": make_nnkit_step(weights, X, y),
            "nnkit-noDX": make_nnkit_step(weights, X, y, what_if_no_dx=True),
            "fused": make_fused_step(weights, X, y),
            "fused+dX": make_fused_step(weights, X, y, input_grad=True),
        }
        if not args.no_torch:
            torch_step = make_torch_step(weights, X, y)
            if torch_step is not None:
                steps["torch"] = torch_step
        _check_same_network(steps, dtype)
        times = time_interleaved(steps, args.reps, args.warmup)
        fused = statistics.median(times["fused"])
        for name, values in times.items():
            q1, med, q3 = np.percentile(values, [25, 50, 75])
            print(
                f"{dtype_name:8} {name:10} {1e3 * med:10.2f} {1e3 * q1:8.2f} {1e3 * q3:8.2f} "
                f"{med / fused:8.2f}"
            )
        ratios[dtype_name] = statistics.median(times["nnkit"]) / fused
    print()
    for dtype_name, ratio in ratios.items():
        verdict = "ok" if ratio <= 1.10 else "SLOWER than the 1.10x target"
        print(f"nnkit / hand-fused ({dtype_name}): {ratio:.2f}x  [{verdict}]")

    if args.profile:
        for dtype_name in args.dtypes:
            X = X64.astype(np.dtype(dtype_name).type)
            print(f"\ncProfile of 30 nnkit steps ({dtype_name}), by own time:")
            print(profile_nnkit(dtype_name, X, y, weights))
    if limiter is not None:
        limiter.restore_original_limits()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

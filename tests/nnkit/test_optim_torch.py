"""Do nnkit's step functions and optimizer classes follow torch.optim step for step?

Each run takes 50 steps on a smooth, non-quadratic objective whose gradient is evaluated at the
current point, so any difference in the update rule compounds along the trajectory.
"""

from __future__ import annotations

import numpy as np
import pytest

from nnkit import optim

torch = pytest.importorskip("torch")

STEPS = 50
SHAPE = (3, 4)


def _objective():
    """Gradient of f(w) = ½ vec(w)ᵀ A vec(w) + Σ log cosh(w − c): ill-conditioned, not quadratic."""
    rng = np.random.default_rng(1234)
    n = int(np.prod(SHAPE))
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = q @ np.diag(np.geomspace(0.3, 8.0, n)) @ q.T
    c = rng.standard_normal(SHAPE)

    def grad(w: np.ndarray) -> np.ndarray:
        return (A @ w.ravel()).reshape(SHAPE) + np.tanh(w - c)

    w0 = 2.0 * rng.standard_normal(SHAPE)
    return grad, w0


def _torch_trajectory(make_opt, w0, grad):
    p = torch.nn.Parameter(torch.tensor(w0, dtype=torch.float64))
    opt = make_opt([p])
    out = []
    for _ in range(STEPS):
        g = grad(p.detach().numpy().copy())
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        out.append(p.detach().numpy().copy())
    return np.array(out)


def _step_trajectory(step_fn, kwargs, w0, grad):
    w, state, out = w0.copy(), None, []
    for _ in range(STEPS):
        w, state = step_fn(w, grad(w), state, **kwargs)
        out.append(w.copy())
    return np.array(out)


def _class_trajectory(cls, kwargs, w0, grad):
    p = optim.Param(w0)
    opt = cls([p], **kwargs)
    out = []
    for _ in range(STEPS):
        p.grad = grad(p.data)
        opt.step()
        out.append(p.data.copy())
    return np.array(out)


def _assert_close(ours, theirs):
    scale = max(1.0, float(np.abs(theirs).max()))
    diff = float(np.abs(ours - theirs).max())
    assert diff <= 1e-12 * scale, f"max abs difference {diff:.3e} over {STEPS} steps"
    # The trajectory must actually move, or the comparison would be vacuous.
    assert np.abs(theirs[-1] - theirs[0]).max() > 1e-3


# (nnkit step function, its kwargs, torch constructor)
STEP_CASES = {
    "sgd default": (optim.sgd_step, {}, lambda p: torch.optim.SGD(p, lr=0.01)),
    "sgd lr=0.1": (optim.sgd_step, {"lr": 0.1}, lambda p: torch.optim.SGD(p, lr=0.1)),
    "momentum default": (
        optim.momentum_step,
        {},
        lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9),
    ),
    "momentum lr=0.03 mu=0.5": (
        optim.momentum_step,
        {"lr": 0.03, "momentum": 0.5},
        lambda p: torch.optim.SGD(p, lr=0.03, momentum=0.5),
    ),
    "velocity momentum default": (
        optim.velocity_momentum_step,
        {},
        lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9),
    ),
    "nesterov default": (
        optim.nesterov_step,
        {},
        lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True),
    ),
    "nesterov lr=0.05 mu=0.7": (
        optim.nesterov_step,
        {"lr": 0.05, "momentum": 0.7},
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.7, nesterov=True),
    ),
    "adagrad default": (optim.adagrad_step, {}, lambda p: torch.optim.Adagrad(p, lr=0.01)),
    "adagrad lr=0.5 eps=1e-3": (
        optim.adagrad_step,
        {"lr": 0.5, "eps": 1e-3},
        lambda p: torch.optim.Adagrad(p, lr=0.5, eps=1e-3),
    ),
    "rmsprop default": (optim.rmsprop_step, {}, lambda p: torch.optim.RMSprop(p, lr=0.01)),
    "rmsprop lr=0.002 alpha=0.9 eps=1e-4": (
        optim.rmsprop_step,
        {"lr": 0.002, "alpha": 0.9, "eps": 1e-4},
        lambda p: torch.optim.RMSprop(p, lr=0.002, alpha=0.9, eps=1e-4),
    ),
    "adam default": (optim.adam_step, {}, lambda p: torch.optim.Adam(p)),
    "adam lr=0.05 betas=(0.5,0.9) eps=1e-6": (
        optim.adam_step,
        {"lr": 0.05, "beta1": 0.5, "beta2": 0.9, "eps": 1e-6},
        lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.5, 0.9), eps=1e-6),
    ),
}


@pytest.mark.parametrize("case", list(STEP_CASES))
def test_step_function_matches_torch(case):
    """Does the step function trace torch's trajectory over 50 steps in float64?"""
    step_fn, kwargs, make_opt = STEP_CASES[case]
    grad, w0 = _objective()
    _assert_close(
        _step_trajectory(step_fn, kwargs, w0, grad), _torch_trajectory(make_opt, w0, grad)
    )


# (nnkit class, its kwargs, torch class, torch kwargs)
CLASS_CASES = {
    "SGD plain": (optim.SGD, {"lr": 0.05}, "SGD", {"lr": 0.05}),
    "SGD momentum": (
        optim.SGD,
        {"lr": 0.01, "momentum": 0.9},
        "SGD",
        {"lr": 0.01, "momentum": 0.9},
    ),
    "SGD nesterov + weight decay": (
        optim.SGD,
        {"lr": 0.02, "momentum": 0.8, "nesterov": True, "weight_decay": 0.1},
        "SGD",
        {"lr": 0.02, "momentum": 0.8, "nesterov": True, "weight_decay": 0.1},
    ),
    "Adagrad default": (optim.Adagrad, {}, "Adagrad", {}),
    "Adagrad non-default": (
        optim.Adagrad,
        {"lr": 0.3, "eps": 1e-4, "weight_decay": 0.05, "initial_accumulator_value": 0.1},
        "Adagrad",
        {"lr": 0.3, "eps": 1e-4, "weight_decay": 0.05, "initial_accumulator_value": 0.1},
    ),
    "RMSprop default": (optim.RMSprop, {}, "RMSprop", {}),
    "RMSprop momentum centered": (
        optim.RMSprop,
        {"lr": 0.003, "alpha": 0.9, "momentum": 0.5, "centered": True, "weight_decay": 0.01},
        "RMSprop",
        {"lr": 0.003, "alpha": 0.9, "momentum": 0.5, "centered": True, "weight_decay": 0.01},
    ),
    "Adam default": (optim.Adam, {}, "Adam", {}),
    "Adam non-default": (
        optim.Adam,
        {"lr": 0.05, "betas": (0.8, 0.95), "eps": 1e-6, "weight_decay": 0.1},
        "Adam",
        {"lr": 0.05, "betas": (0.8, 0.95), "eps": 1e-6, "weight_decay": 0.1},
    ),
    "Adam amsgrad": (
        optim.Adam,
        {"lr": 0.05, "amsgrad": True},
        "Adam",
        {"lr": 0.05, "amsgrad": True},
    ),
    "AdamW default": (optim.AdamW, {}, "AdamW", {}),
    "AdamW non-default": (
        optim.AdamW,
        {"lr": 0.02, "betas": (0.7, 0.99), "weight_decay": 0.3},
        "AdamW",
        {"lr": 0.02, "betas": (0.7, 0.99), "weight_decay": 0.3},
    ),
}


@pytest.mark.parametrize("case", list(CLASS_CASES))
def test_optimizer_class_matches_torch(case):
    """Does the in-place optimizer class trace torch's trajectory over 50 steps in float64?"""
    cls, kwargs, torch_name, torch_kwargs = CLASS_CASES[case]
    grad, w0 = _objective()
    torch_cls = getattr(torch.optim, torch_name)
    theirs = _torch_trajectory(lambda p: torch_cls(p, **torch_kwargs), w0, grad)
    _assert_close(_class_trajectory(cls, kwargs, w0, grad), theirs)


def test_class_defaults_are_torch_defaults():
    """Do the classes' default hyperparameters equal torch.optim's?"""
    p = [optim.Param(np.zeros(2))]
    t = [torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))]
    pairs = [
        (optim.Adagrad(p), torch.optim.Adagrad(t), ["lr", "eps", "weight_decay"]),
        (optim.RMSprop(p), torch.optim.RMSprop(t), ["lr", "alpha", "eps", "momentum"]),
        (optim.Adam(p), torch.optim.Adam(t), ["lr", "betas", "eps", "weight_decay", "amsgrad"]),
        (optim.AdamW(p), torch.optim.AdamW(t), ["lr", "betas", "eps", "weight_decay"]),
        (optim.SGD(p, lr=0.1), torch.optim.SGD(t, lr=0.1), ["momentum", "weight_decay"]),
    ]
    for ours, theirs, names in pairs:
        group = theirs.param_groups[0]
        for name in names:
            assert getattr(ours, name) == group[name], (type(ours).__name__, name)


def test_lr_change_between_steps_matches_torch():
    """Changing ``lr`` mid-run (as a scheduler does) gives torch's trajectory too."""
    grad, w0 = _objective()
    p = optim.Param(w0)
    ours = optim.SGD([p], lr=0.05, momentum=0.9)
    tp = torch.nn.Parameter(torch.tensor(w0))
    theirs = torch.optim.SGD([tp], lr=0.05, momentum=0.9)
    for k in range(STEPS):
        lr = 0.05 * 0.9 ** (k // 5)
        ours.lr = lr
        theirs.param_groups[0]["lr"] = lr
        p.grad = grad(p.data)
        tp.grad = torch.tensor(grad(tp.detach().numpy().copy()))
        ours.step()
        theirs.step()
    np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "case",
    ["momentum default", "nesterov default", "adam default", "rmsprop default", "adagrad default"],
)
def test_float32_step_functions_stay_float32_accurate(case):
    """In float32 the trajectory stays within float32 rounding of torch's float32 trajectory."""
    step_fn, kwargs, make_opt = STEP_CASES[case]
    grad64, w0 = _objective()

    def grad(w):
        return grad64(w.astype(np.float64)).astype(np.float32)

    w, state, ours = w0.astype(np.float32), None, []
    for _ in range(STEPS):
        w, state = step_fn(w, grad(w), state, **kwargs)
        assert w.dtype == np.float32
        ours.append(w)
    p = torch.nn.Parameter(torch.tensor(w0, dtype=torch.float32))
    opt, theirs = make_opt([p]), []
    for _ in range(STEPS):
        p.grad = torch.from_numpy(grad(p.detach().numpy().copy()))
        opt.step()
        theirs.append(p.detach().numpy().copy())
    np.testing.assert_allclose(np.array(ours), np.array(theirs), rtol=0, atol=2e-6)

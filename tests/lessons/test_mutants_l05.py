"""Lesson 05: do plausible wrong optimizers and schedules lose points with the right message,
do other state layouts pass, and do the grader's trajectories agree with nnkit and torch?"""

from __future__ import annotations

import numpy as np
import pytest
from lesson_helpers import assert_correct, assert_wrong, solution_functions

import nnkit
from autograder.cases import l05_optimizers as cases

L = "05_optimizers"


def _sgd_sign(w, g, s, lr=0.01):
    return w + lr * g, s


def _sgd_no_lr(w, g, s, lr=0.01):
    return w - g, s


def _sgd_div(w, g, s, lr=0.01):
    return w - g / lr, s


def _sgd_inplace(w, g, s, lr=0.01):
    w -= lr * g
    return w, s


def _mom(damp=False, sign=1.0, stale=False, keep=True):
    def step(w, g, s, lr=0.01, momentum=0.9):
        b = g.copy() if s is None else momentum * s + ((1 - momentum) * g if damp else g)
        used = (g if s is None else s) if stale else b
        return w - sign * lr * used, (b if keep else None)

    return step


def _nest(kind):
    def step(w, g, s, lr=0.01, momentum=0.9):
        b = g.copy() if s is None else momentum * s + g
        if kind == "plain":
            return w - lr * b, b
        if kind == "sign":
            return w - lr * (g - momentum * b), b
        if kind == "nomu":
            return w - lr * (g + b), b
        b = g.copy() if s is None else momentum * s + (1 - momentum) * g
        return w - lr * (g + momentum * b), b

    return step


def _adagrad(kind):
    def step(w, g, s, lr=0.01, eps=1e-10):
        r = (0 if s is None else s) + g * g
        if kind == "inside":
            return w - lr * g / np.sqrt(r + eps), r
        if kind == "nosqrt":
            return w - lr * g / (r + eps), r
        if kind == "noacc":
            return w - lr * g / (np.abs(g) + eps), r
        r = (0 if s is None else s) + np.abs(g)
        return w - lr * g / (r + eps), r

    return step


def _rms(kind):
    def step(w, g, s, lr=0.01, alpha=0.99, eps=1e-8):
        prev = 0.0 if s is None else s
        if kind == "swap":
            r = alpha * g * g + (1 - alpha) * prev
        elif kind == "start":
            r = g * g if s is None else alpha * s + (1 - alpha) * g * g
        else:
            r = alpha * prev + (1 - alpha) * g * g
        if kind == "inside":
            return w - lr * g / np.sqrt(r + eps), r
        if kind == "nosqrt":
            return w - lr * g / (r + eps), r
        return w - lr * g / (np.sqrt(r) + eps), r

    return step


def _adam(kind):
    def step(w, g, s, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        if s is None:
            s = [np.zeros_like(g), np.zeros_like(g), 0]
        m, v, t = s
        if kind != "late":
            t += 1
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        if kind == "nobias":
            mh, vh = m, v
        else:
            mh, vh = m / (1 - beta1**t), v / (1 - beta2**t)
        if kind == "late":
            t += 1
        if kind == "inside":
            return w - lr * mh / np.sqrt(vh + eps), [m, v, t]
        return w - lr * mh / (np.sqrt(vh) + eps), [m, v, t]

    return step


WRONG = [
    ("sgd_step", _sgd_sign, "uphill"),
    ("sgd_step", _sgd_no_lr, "learning rate is missing"),
    ("sgd_step", _sgd_div, "divided by lr"),
    ("sgd_step", _sgd_inplace, "in place"),
    ("momentum_step", _mom(damp=True), "dampening"),
    ("momentum_step", _mom(sign=-1.0), "wrong sign"),
    ("momentum_step", _mom(stale=True), "before adding the current gradient"),
    ("momentum_step", _mom(keep=False), "not carried"),
    ("nesterov_step", _nest("plain"), "plain (heavy-ball) momentum"),
    ("nesterov_step", _nest("sign"), "wrong sign"),
    ("nesterov_step", _nest("nomu"), "lacks the momentum factor"),
    ("nesterov_step", _nest("damp"), "damped"),
    ("adagrad_step", _adagrad("inside"), "inside the square root"),
    ("adagrad_step", _adagrad("nosqrt"), "square root is missing"),
    ("adagrad_step", _adagrad("noacc"), "not accumulated"),
    ("adagrad_step", _adagrad("abs"), "sums |g|"),
    ("rmsprop_step", _rms("inside"), "inside the square root"),
    ("rmsprop_step", _rms("swap"), "alpha weighs the wrong term"),
    ("rmsprop_step", _rms("start"), "starts at g²"),
    ("rmsprop_step", _rms("nosqrt"), "square root is missing"),
    ("adam_step", _adam("nobias"), "bias correction is missing"),
    ("adam_step", _adam("late"), "incremented after use"),
    ("adam_step", _adam("inside"), "inside the square root"),
    (
        "step_decay",
        lambda lr0, e, drop=0.5, every=10: lr0 * drop ** (e / every),
        "integer division",
    ),
    (
        "step_decay",
        lambda lr0, e, drop=0.5, every=10: lr0 * drop ** ((e + 1) // every),
        "one epoch early",
    ),
    ("step_decay", lambda lr0, e, drop=0.5, every=10: lr0 * drop**e, "every epoch"),
    (
        "step_decay",
        lambda lr0, e, drop=0.5, every=10: lr0 * drop * (e // every),
        "raised to the power",
    ),
    ("exponential_decay", lambda lr0, t, k: lr0 * np.exp(k * t), "grows"),
    ("exponential_decay", lambda lr0, t, k: lr0 / (1 + k * t), "inverse-time"),
    ("exponential_decay", lambda lr0, t, k: np.exp(-k * t), "lr0 is missing"),
    ("exponential_decay", lambda lr0, t, k: lr0 * (1 - k) ** t, "(1 − k)^t"),
    ("inverse_time_decay", lambda lr0, t, tau: lr0 / (1 + t / tau), "lr0 / (1 + t/tau)"),
    ("inverse_time_decay", lambda lr0, t, tau: lr0 * max(t, tau) / tau, "upside down"),
    ("inverse_time_decay", lambda lr0, t, tau: lr0 * tau / t if t else np.inf, "max is missing"),
    ("inverse_time_decay", lambda lr0, t, tau: lr0 * tau / max(t + 1, tau), None),
]


def _adagrad2(kind):
    def step(w, g, s, lr=0.01, eps=1e-10):
        if kind == "mean":
            r, t = (np.zeros_like(w), 0) if s is None else s
            r, t = r + g**2, t + 1
            return w - lr * g / (np.sqrt(r / t) + eps), (r, t)
        r = np.zeros_like(w) if s is None else s  # "after": the step uses the old r
        return w - lr * g / (np.sqrt(r) + eps), r + g**2

    return step


def _rms2(kind):
    def step(w, g, s, lr=0.01, alpha=0.99, eps=1e-8):
        if kind == "no1ma":
            r = g**2 if s is None else alpha * s + g**2
            return w - lr * g / (np.sqrt(r) + eps), r
        if kind == "after":
            r = np.zeros_like(w) if s is None else s
            return w - lr * g / (np.sqrt(r) + eps), alpha * r + (1 - alpha) * g**2
        r, t = (np.zeros_like(w), 0) if s is None else s  # "bias": corrected like Adam
        r, t = alpha * r + (1 - alpha) * g**2, t + 1
        return w - lr * g / (np.sqrt(r / (1 - alpha**t)) + eps), (r, t)

    return step


def _adam2(kind):
    def step(w, g, s, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        st = {"m": 0 * g, "v": 0 * g, "t": 0} if s is None else dict(s)
        st["t"] = 1 if kind == "t_stuck" else st["t"] + 1
        t = st["t"]
        st["m"] = beta1 * st["m"] + (1 - beta1) * g
        st["v"] = beta2 * st["v"] + (1 - beta2) * g * g
        mh = st["m"] if kind == "no_m_corr" else st["m"] / (1 - beta1**t)
        vh = st["v"] if kind == "no_v_corr" else st["v"] / (1 - beta2**t)
        if kind == "g":
            mh = g
        if kind == "t_stuck":
            st["t"] = 0
        if kind == "nosqrt":
            return w - lr * mh / (vh + eps), st
        return w - lr * mh / (np.sqrt(vh) + eps), st

    return step


def _with_default(**defaults):
    """Correct momentum arithmetic, but other default hyperparameters in the signature."""
    hp = {"lr": 0.01, "momentum": 0.9, **defaults}

    def step(w, dw, state, lr=hp["lr"], momentum=hp["momentum"]):
        b = dw.copy() if state is None else momentum * state + dw
        return w - lr * b, b

    return step


def _nest_mu_on_g(w, g, s, lr=0.01, momentum=0.9):
    b = g.copy() if s is None else momentum * s + g
    return w - lr * (momentum * g + b), b


def _adagrad_from(start):
    """Adagrad with the accumulator starting at ``start`` (Keras' initial_accumulator_value)."""

    def step(w, g, s, lr=0.01, eps=1e-10):
        r = (np.full(np.shape(w), start) if s is None else s) + g * g
        return w - lr * g / (np.sqrt(r) + eps), r

    return step


WRONG += [
    # new in the red-team pass
    ("adagrad_step", _adagrad2("mean"), "mean of g²"),
    ("adagrad_step", _adagrad2("after"), "before adding the current g²"),
    ("rmsprop_step", _rms2("no1ma"), "not weighted by (1 − alpha)"),
    ("rmsprop_step", _rms2("after"), "before adding the current g²"),
    ("rmsprop_step", _rms2("bias"), "bias-corrected like Adam"),
    ("adam_step", _adam2("no_v_corr"), "only m is bias-corrected"),
    ("adam_step", _adam2("no_m_corr"), "only v is bias-corrected"),
    ("adam_step", _adam2("g"), "instead of the first moment"),
    ("adam_step", _adam2("t_stuck"), "t is not carried over"),
    ("adam_step", _adam2("nosqrt"), "square root is missing"),
    ("momentum_step", _with_default(momentum=0.99), "default value of `momentum`"),
    ("momentum_step", _with_default(lr=0.1), "default value of `lr`"),
    ("sgd_step", lambda w, dw, state, lr=1e-3: (w - lr * dw, state), "default value of `lr`"),
    ("sgd_step", lambda w, dw, state, lr: (w - lr * dw, state), "no default value"),
    (
        "adam_step",
        lambda w, dw, state, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8: (w, state),
        "no parameter `beta1`",
    ),
    ("step_decay", lambda lr0, e, drop=0.5, every=10: lr0 * drop ** round(e / every), "nearest"),
    ("step_decay", lambda lr0, e, drop=0.5, every=10: lr0 * drop ** np.ceil(e / every), "up"),
    (
        "step_decay",
        lambda lr0, e, drop=0.5, every=10: lr0 * drop ** (e // every + 1),
        "already dropped at epoch 0",
    ),
    ("step_decay", lambda lr0, e, drop=0.1, every=10: lr0 * drop ** (e // every), "`drop`"),
    ("exponential_decay", lambda lr0, t, k: lr0 * np.exp(-t / k), "divided by k"),
    ("exponential_decay", lambda lr0, t, k: lr0 * k**t, "k^t"),
    ("exponential_decay", lambda lr0, t, k: lr0 * np.exp(-k * int(t)), "fractional"),
    ("inverse_time_decay", lambda lr0, t, tau: lr0 / max(t, tau), "tau is missing"),
    ("nesterov_step", _nest_mu_on_g, "multiplies the gradient instead of the buffer"),
    ("adagrad_step", _adagrad_from(0.1), "r starts at 0.1"),
    ("step_decay", lambda lr0, e, drop=0.5, every=10: lr0 * (1 - drop) ** (e // every), "1 − drop"),
    (
        "inverse_time_decay",
        lambda lr0, t, tau: lr0 * tau / min(t, tau) if min(t, tau) else lr0,
        "not min",
    ),
]


@pytest.mark.parametrize(("function", "wrong", "phrase"), WRONG)
def test_wrong_optimizers_and_schedules_fail(function, wrong, phrase):
    if phrase is None:  # no catalogue entry: must still fail
        from lesson_helpers import grade

        assert not all(ok for ok, _ in grade(function, wrong).values())
        return
    assert_wrong(function, L, wrong, phrase)


def _adam_tuple_state(w, g, s, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """Another correct layout: a tuple, the corrections folded into the step size."""
    m, v, t = (0.0, 0.0, 0) if s is None else s
    t += 1
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g**2
    c2 = np.sqrt(1 - beta2**t)
    step_size = lr * c2 / (1 - beta1**t)
    return w - step_size * m / (np.sqrt(v) + eps * c2), (m, v, t)


def _velocity(w, g, s, lr=0.01, momentum=0.9):
    v = -lr * g if s is None else momentum * s["v"] - lr * g
    return w + v, {"v": v}


def _nesterov_lookahead(w, g, s, lr=0.01, momentum=0.9):
    """The velocity form of Nesterov (Bengio et al.): v' = μv − ηg; w += −μv + (1+μ)v'."""
    v = np.zeros_like(w) if s is None else s
    v_new = momentum * v - lr * g
    return w - momentum * v + (1 + momentum) * v_new, v_new


def _adagrad_dict(w, g, s, lr=0.01, eps=1e-10):
    s = {"G": np.zeros_like(w)} if s is None else s
    G = s["G"] + g**2
    return w - lr / (np.sqrt(G) + eps) * g, {"G": G}


def _rms_list(w, g, s, lr=0.01, alpha=0.99, eps=1e-8):
    r = [np.zeros_like(w)] if s is None else s
    r0 = alpha * r[0] + (1 - alpha) * np.square(g)
    return w - lr * g / (np.sqrt(r0) + eps), [r0]


def _slide_velocity(w, g, s, lr=0.01, momentum=0.9):
    """The slides' form v = μv − ηg; θ ← θ + v (v = 0 at first): torch's trajectory."""
    v = np.zeros_like(w) if s is None else s
    v = momentum * v - lr * g
    return w + v, v


def _lr_in_buffer(w, g, s, lr=0.01, momentum=0.9):
    """v = μv + ηg; θ ← θ − v: the same trajectory at a constant learning rate."""
    v = lr * g if s is None else momentum * s + lr * g
    return w - v, v


def _in_place_buffer(w, g, s, lr=0.01, momentum=0.9):
    """The state array updated in place (it belongs to the function)."""
    if s is None:
        return w - lr * g, g.copy()
    s *= momentum
    s += g
    return w - lr * s, s


def _nesterov_bengio_alt(w, g, s, lr=0.01, momentum=0.9):
    """v' = μv − ηg; θ ← θ + μv' − ηg."""
    v = np.zeros_like(w) if s is None else s
    v = momentum * v - lr * g
    return w + momentum * v - lr * g, v


def _adam_torch_form(w, g, s, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """torch's arithmetic: step lr / (1 − β1^t), denominator sqrt(v) / sqrt(1 − β2^t) + eps."""
    m, v, t = (np.zeros_like(w), np.zeros_like(w), 0) if s is None else s
    t += 1
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    denom = np.sqrt(v) / np.sqrt(1 - beta2**t) + eps
    return w - lr / (1 - beta1**t) * m / denom, (m, v, t)


def _adam_dict_in_place(w, g, s, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    if s is None:
        s = {"m": np.zeros_like(w), "v": np.zeros_like(w), "t": 0}
    s["t"] += 1
    s["m"] *= beta1
    s["m"] += (1 - beta1) * g
    s["v"] *= beta2
    s["v"] += (1 - beta2) * g**2
    mh, vh = s["m"] / (1 - beta1 ** s["t"]), s["v"] / (1 - beta2 ** s["t"])
    return w - lr * mh / (np.sqrt(vh) + eps), s


@pytest.mark.parametrize(
    ("function", "fn"),
    [
        ("momentum_step", _velocity),
        ("nesterov_step", _nesterov_lookahead),
        ("adagrad_step", _adagrad_dict),
        ("rmsprop_step", _rms_list),
        ("adam_step", _adam_tuple_state),
        ("sgd_step", lambda w, dw, state, lr=0.01: (np.subtract(w, lr * dw), {"calls": 1})),
        (
            "step_decay",
            lambda lr0, e, drop=0.5, every=10: lr0 * pow(drop, int(np.floor(e / every))),
        ),
        ("exponential_decay", lambda lr0, t, k: lr0 / np.exp(k * t)),
        ("inverse_time_decay", lambda lr0, t, tau: lr0 * min(1.0, tau / t) if t else lr0),
        # new in the red-team pass: other correct forms
        ("momentum_step", _slide_velocity),
        ("momentum_step", _lr_in_buffer),
        ("momentum_step", _in_place_buffer),
        ("nesterov_step", _nesterov_bengio_alt),
        ("adam_step", _adam_torch_form),
        ("adam_step", _adam_dict_in_place),
        ("step_decay", lambda lr0, epoch, drop=0.5, every=10: lr0 * drop ** int(epoch / every)),
        ("exponential_decay", lambda lr0, t, k: lr0 * np.exp(-k) ** t),
    ],
)
def test_other_correct_formulations_pass(function, fn):
    assert_correct(function, L, fn)


def test_solutions_pass():
    ns = solution_functions(L)
    for name in (
        "sgd_step",
        "momentum_step",
        "nesterov_step",
        "adagrad_step",
        "rmsprop_step",
        "adam_step",
        "step_decay",
        "exponential_decay",
        "inverse_time_decay",
    ):
        assert_correct(name, L, ns[name])


REFS = [
    (cases._sgd, nnkit.sgd_step, {"lr": 1e-3}),
    (cases._mom, nnkit.momentum_step, {"lr": 1e-4}),
    (cases._nest, nnkit.nesterov_step, {"lr": 1e-4, "momentum": 0.7}),
    (cases._adagrad, nnkit.adagrad_step, {"lr": 0.3, "eps": 0.5}),
    (cases._rms, nnkit.rmsprop_step, {"lr": 0.02, "alpha": 0.9}),
    (cases._adam, nnkit.adam_step, {"lr": 0.1, "beta1": 0.8}),
]


@pytest.mark.parametrize(("mine", "ref", "hp"), REFS)
def test_grader_steps_equal_the_nnkit_references(mine, ref, hp):
    a = cases.trajectory(mine, "rosenbrock", [-1.2, 1.0], 100, **hp)
    b = cases.trajectory(ref, "rosenbrock", [-1.2, 1.0], 100, **hp)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_grader_steps_follow_torch():
    torch = pytest.importorskip("torch")
    setups = [
        (cases._mom, lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9), {"lr": 0.01}),
        (
            cases._nest,
            lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True),
            {"lr": 0.01},
        ),
        (cases._adagrad, lambda p: torch.optim.Adagrad(p, lr=0.3), {"lr": 0.3}),
        (cases._rms, lambda p: torch.optim.RMSprop(p, lr=0.02), {"lr": 0.02}),
        (cases._adam, lambda p: torch.optim.Adam(p, lr=0.1), {"lr": 0.1}),
    ]
    for mine, make, hp in setups:
        w = torch.tensor([2.0, 1.0], dtype=torch.float64, requires_grad=True)
        opt = make([w])
        path = [w.detach().numpy().copy()]
        for _ in range(50):
            opt.zero_grad()
            loss = 0.5 * (w[0] ** 2 + 20 * w[1] ** 2)
            loss.backward()
            opt.step()
            path.append(w.detach().numpy().copy())
        ours = cases.trajectory(mine, "valley", [2.0, 1.0], 50, **hp)
        np.testing.assert_allclose(ours, np.array(path), rtol=1e-10, atol=1e-12)

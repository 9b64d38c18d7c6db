"""Lesson 05_optimizers: step functions graded on trajectories, learning-rate schedules."""

from __future__ import annotations

import numpy as np

from ..diagnose import Mistake
from ..framework import Case, FunctionSpec, Part, register
from .l04_init import check_defaults, ranked_cases_runner

LESSON = "05_optimizers"

# ------------------------------------------------------------------------ surfaces


def _valley(w):
    return np.array([1.0, 20.0]) * w  # f = ½ (x² + 20 y²)


def _rosenbrock(w):
    x, y = w
    return np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])


def _saddle(w):
    return np.array([w[0], -w[1]]) * np.array([1.0, 0.5])  # f = ½ (x² − ½ y²)


def _bowl(w):
    return w * np.linspace(0.5, 2.0, w.size).reshape(w.shape)


SURFACES = {"valley": _valley, "rosenbrock": _rosenbrock, "saddle": _saddle, "bowl": _bowl}


def trajectory(step, surface: str, w0, steps: int, **hp):
    """Run ``steps`` updates from ``w0`` with gradients at the current point; all iterates."""
    grad = SURFACES[surface]
    w = np.array(w0, dtype=float)
    state = None
    path = [w.copy()]
    for _ in range(steps):
        result = step(w, grad(w), state, **hp)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise TypeError(f"expected a pair (new_w, state), got {type(result).__name__}")
        w, state = result
        w = np.asarray(w, dtype=float)
        path.append(w.copy())
    return np.array(path)


# the hyperparameters and defaults of the spec's signatures
DEFAULTS = {
    "sgd_step": {"lr": 0.01},
    "momentum_step": {"lr": 0.01, "momentum": 0.9},
    "nesterov_step": {"lr": 0.01, "momentum": 0.9},
    "adagrad_step": {"lr": 0.01, "eps": 1e-10},
    "rmsprop_step": {"lr": 0.01, "alpha": 0.99, "eps": 1e-8},
    "adam_step": {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
    "step_decay": {"drop": 0.5, "every": 10},
}


def _runner(name, ref_step, cases):
    def run(ctx, fn):
        check_defaults(ctx, fn, DEFAULTS[name])
        # one step first: w must stay untouched, the pair must come back
        w0 = np.array([1.5, -0.5])
        ctx.call(
            fn,
            (w0, _valley(w0), None),
            label="one step from state None",
            arg_names=("w", "dw", "state"),
        )
        for label, surface, w0, steps, hp in cases(ctx.hidden):
            case = Case(
                label, (surface, np.array(w0, dtype=float), steps), hp, rtol=1e-6, atol=1e-9
            )
            expected = trajectory(ref_step, surface, case.args[1], steps, **hp)
            ctx.compare_case(
                lambda s, w, n, **k: trajectory(fn, s, w, n, **k), case, expected=expected
            )

    return run


def _cases(default_hp: dict, extra: list[dict]):
    def cases(hidden):
        if hidden:
            return [
                ("hidden bowl (3, 2)", "bowl", np.linspace(-1, 1, 6).reshape(3, 2), 60, extra[0]),
                ("hidden saddle", "saddle", [0.8, 1e-3], 80, extra[-1]),
            ]
        return [
            ("100 steps on the valley ½(x² + 20 y²), defaults", "valley", [2.0, 1.0], 100, {}),
            ("100 steps on Rosenbrock", "rosenbrock", [-1.2, 1.0], 100, default_hp),
            *[(f"100 steps on the valley, {k}", "valley", [-1.5, 0.5], 100, k) for k in extra],
        ]

    return cases


# ------------------------------------------------------------------------ the correct steps


def _sgd(w, g, s, lr=0.01):
    return w - lr * g, s


def _mom(w, g, s, lr=0.01, momentum=0.9, damp=0.0, sign=1.0, kind="ok"):
    b = g.copy() if s is None else momentum * s + (1 - damp) * g
    if kind == "stale":
        return w - lr * (g if s is None else s), b
    if kind == "nobuf":
        return w - lr * g, None
    return w - sign * lr * b, b


def _nest(w, g, s, lr=0.01, momentum=0.9, kind="ok"):
    b = g.copy() if s is None else momentum * s + g
    if kind == "plain":
        return w - lr * b, b
    if kind == "sign":
        return w - lr * (g - momentum * b), b
    if kind == "nomu":
        return w - lr * (g + b), b
    if kind == "mu on g":
        return w - lr * (momentum * g + b), b
    if kind == "damp":
        b = g.copy() if s is None else momentum * s + (1 - momentum) * g
        return w - lr * (g + momentum * b), b
    return w - lr * (g + momentum * b), b


def _adagrad(w, g, s, lr=0.01, eps=1e-10, kind="ok"):
    if kind == "starts at 0.1":
        s = np.full_like(np.asarray(w, dtype=float), 0.1) if s is None else s
    if kind == "mean":
        r, t = (0, 0) if s is None else s
        r, t = r + g * g, t + 1
        return w - lr * g / (np.sqrt(r / t) + eps), (r, t)
    if kind == "after":
        r = 0 if s is None else s
        return w - lr * g / (np.sqrt(r) + eps), r + g * g
    r = (0 if s is None else s) + g * g
    if kind == "inside":
        return w - lr * g / np.sqrt(r + eps), r
    if kind == "nosqrt":
        return w - lr * g / (r + eps), r
    if kind == "noacc":
        return w - lr * g / (np.sqrt(g * g) + eps), r
    if kind == "abs":
        r = (0 if s is None else s) + np.abs(g)
        return w - lr * g / (r + eps), r
    if kind == "eps_lr":
        return w - (lr / np.sqrt(r) + eps) * g if np.all(r > 0) else w, r
    return w - lr * g / (np.sqrt(r) + eps), r


def _rms(w, g, s, lr=0.01, alpha=0.99, eps=1e-8, kind="ok"):
    if kind == "after":
        r = 0 if s is None else s
        return w - lr * g / (np.sqrt(r) + eps), alpha * r + (1 - alpha) * g * g
    if kind in ("bias", "centred"):
        r, m, t = (0, 0, 0) if s is None else s
        r, m, t = alpha * r + (1 - alpha) * g * g, alpha * m + (1 - alpha) * g, t + 1
        den = np.sqrt(r / (1 - alpha**t)) if kind == "bias" else np.sqrt(r - m * m)
        return w - lr * g / (den + eps), (r, m, t)
    prev = 0 if s is None else s
    if kind == "no 1-alpha":
        r = alpha * prev + g * g
    elif kind == "swap":
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


def _adam(w, g, s, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, kind="ok"):
    m, v, t = (0 * g, 0 * g, 0) if s is None else s
    if kind == "t stuck":
        t = 0
    t_used = t + 1
    if kind == "late":
        t_used = t
    if kind == "early":
        t_used = t + 2
    t = t + 1
    if kind == "swap":
        m = beta2 * m + (1 - beta2) * g
        v = beta1 * v + (1 - beta1) * g * g
    else:
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
    if kind == "nobias":
        mh, vh = m, v
    else:
        with np.errstate(all="ignore"):
            mh, vh = m / (1 - beta1**t_used), v / (1 - beta2**t_used)
    if kind == "m only":
        vh = v
    if kind == "v only":
        mh = m
    if kind == "g not m":
        mh = g
    if kind == "inside":
        return w - lr * mh / np.sqrt(vh + eps), (m, v, t)
    if kind == "nosqrt":
        return w - lr * mh / (vh + eps), (m, v, t)
    with np.errstate(all="ignore"):
        return w - lr * mh / (np.sqrt(vh) + eps), (m, v, t)


def _traj_mistake(step, message, **fixed):
    def compute(surface, w0, steps, **hp):
        return trajectory(
            lambda w, g, s, **k: step(w, g, s, **k, **fixed), surface, w0, steps, **hp
        )

    return compute


def M(name, step, message, **fixed):
    return Mistake(name, _traj_mistake(step, message, **fixed), message)


SGD_MISTAKES = [
    Mistake(
        "sign",
        _traj_mistake(lambda w, g, s, lr=0.01: (w + lr * g, s), ""),
        "the update goes uphill: w_new = w − lr · dw.",
    ),
    Mistake(
        "no lr",
        _traj_mistake(lambda w, g, s, lr=0.01: (w - g, s), ""),
        "the learning rate is missing: w_new = w − lr · dw.",
    ),
    Mistake(
        "divided by lr",
        _traj_mistake(lambda w, g, s, lr=0.01: (w - g / lr, s), ""),
        "the gradient is divided by lr; multiply: w_new = w − lr · dw.",
    ),
    Mistake(
        "lr squared",
        _traj_mistake(lambda w, g, s, lr=0.01: (w - lr * lr * g, s), ""),
        "the step uses lr² instead of lr.",
    ),
]
MOMENTUM_MISTAKES = [
    M(
        "dampening",
        _mom,
        "the buffer is damped (b = μ b + (1 − μ) g); torch's SGD uses b = μ b + g (no dampening).",
        damp=None,
    ),
    M("sign", _mom, "the update has the wrong sign: w_new = w − lr · b.", sign=-1.0),
    M(
        "stale buffer",
        _mom,
        "the step uses the buffer before adding the current gradient; "
        "update b = μ b + g first, then w − lr · b.",
        kind="stale",
    ),
    M(
        "no state",
        _mom,
        "the momentum buffer is not carried between steps (plain SGD): return "
        "it as the state and use it in the next call.",
        kind="nobuf",
    ),
]
# "dampening" needs damp = momentum: a dedicated function
MOMENTUM_MISTAKES[0] = Mistake(
    "dampening",
    _traj_mistake(
        lambda w, g, s, lr=0.01, momentum=0.9: _mom(w, g, s, lr, momentum, damp=momentum), ""
    ),
    MOMENTUM_MISTAKES[0].message,
)
NESTEROV_MISTAKES = [
    M(
        "plain momentum",
        _nest,
        "this is plain (heavy-ball) momentum: Nesterov steps with "
        "g + μ b, the gradient plus the look-ahead.",
        kind="plain",
    ),
    M("sign", _nest, "the look-ahead has the wrong sign: w_new = w − lr · (g + μ b).", kind="sign"),
    M(
        "no mu in the look-ahead",
        _nest,
        "the look-ahead term lacks the momentum factor: w_new = w − lr · (g + μ b).",
        kind="nomu",
    ),
    M("dampening", _nest, "the buffer is damped with (1 − μ); use b = μ b + g.", kind="damp"),
    M(
        "mu on the gradient",
        _nest,
        "the momentum factor multiplies the gradient instead of the buffer: "
        "w_new = w − lr · (g + μ b).",
        kind="mu on g",
    ),
]
ADAGRAD_MISTAKES = [
    M(
        "eps inside",
        _adagrad,
        "eps is inside the square root: divide by sqrt(r) + eps.",
        kind="inside",
    ),
    M("no sqrt", _adagrad, "the square root is missing: divide by sqrt(r) + eps.", kind="nosqrt"),
    M(
        "not accumulated",
        _adagrad,
        "r is not accumulated: Adagrad sums g² over all steps "
        "(r = r + g²) and keeps r in the state.",
        kind="noacc",
    ),
    M("abs", _adagrad, "r sums |g|; Adagrad sums g² and divides by its square root.", kind="abs"),
    M(
        "eps added to the step",
        _adagrad,
        "eps is added to the step size; it belongs in the denominator: lr · g / (sqrt(r) + eps).",
        kind="eps_lr",
    ),
    M(
        "mean",
        _adagrad,
        "r is the mean of g² over the steps; Adagrad divides by the square root of their "
        "sum (r = r + g², not divided by t).",
        kind="mean",
    ),
    M(
        "r after the step",
        _adagrad,
        "the step uses r before adding the current g²: update r = r + g² first, then "
        "divide by sqrt(r) + eps.",
        kind="after",
    ),
    M(
        "accumulator starts at 0.1",
        _adagrad,
        "r starts at 0.1 (Keras' initial_accumulator_value); the course, like torch, starts "
        "the sum of g² at 0, so the first step is lr · g / (|g| + eps).",
        kind="starts at 0.1",
    ),
]
RMSPROP_MISTAKES = [
    M(
        "eps inside",
        _rms,
        "eps is inside the square root: divide by sqrt(r) + eps (torch's convention).",
        kind="inside",
    ),
    M(
        "alpha swapped",
        _rms,
        "alpha weighs the wrong term: r = alpha · r + (1 − alpha) · g².",
        kind="swap",
    ),
    M(
        "starts at g²",
        _rms,
        "the average starts at g²; it starts at 0: r = (1 − alpha) g² on the first step.",
        kind="start",
    ),
    M("no sqrt", _rms, "the square root is missing: divide by sqrt(r) + eps.", kind="nosqrt"),
    M(
        "no 1 - alpha",
        _rms,
        "g² is not weighted by (1 − alpha): r = alpha · r + (1 − alpha) · g².",
        kind="no 1-alpha",
    ),
    M(
        "r after the step",
        _rms,
        "the step uses r before adding the current g²: update r = alpha · r + (1 − alpha) · g² "
        "first, then divide by sqrt(r) + eps.",
        kind="after",
    ),
    M(
        "bias corrected",
        _rms,
        "r is bias-corrected like Adam's v; RMSprop (torch) uses r itself: "
        "w − lr · g / (sqrt(r) + eps).",
        kind="bias",
    ),
    M(
        "centred",
        _rms,
        "this is the centred RMSprop (r − m²); the plain one divides by sqrt(r) + eps.",
        kind="centred",
    ),
]
ADAM_MISTAKES = [
    M(
        "no bias correction",
        _adam,
        "the bias correction is missing: m̂ = m / (1 − beta1^t), v̂ = v / (1 − beta2^t).",
        kind="nobias",
    ),
    M(
        "t after use",
        _adam,
        "t is incremented after use (the first correction divides by "
        "1 − beta^0 = 0): increment t first, t = 1 on the first step.",
        kind="late",
    ),
    M("t too large", _adam, "t is off by one: it must be 1 on the first step.", kind="early"),
    M(
        "eps inside",
        _adam,
        "eps is inside the square root: divide by sqrt(v̂) + eps.",
        kind="inside",
    ),
    M(
        "betas swapped",
        _adam,
        "beta1 and beta2 are swapped: m uses beta1, v uses beta2.",
        kind="swap",
    ),
    M(
        "v not corrected",
        _adam,
        "only m is bias-corrected: v̂ = v / (1 − beta2^t) is missing.",
        kind="m only",
    ),
    M(
        "m not corrected",
        _adam,
        "only v is bias-corrected: m̂ = m / (1 − beta1^t) is missing.",
        kind="v only",
    ),
    M(
        "no sqrt",
        _adam,
        "the square root is missing: divide by sqrt(v̂) + eps.",
        kind="nosqrt",
    ),
    M(
        "g not m",
        _adam,
        "the step uses the gradient g instead of the first moment m̂: w − lr · m̂ / (sqrt(v̂) + eps).",
        kind="g not m",
    ),
    M(
        "t not kept",
        _adam,
        "t is not carried over in the state, so it is 1 at every step: keep t in the state "
        "and increment it on each call.",
        kind="t stuck",
    ),
]

_STEP_FORBID = (
    "sgd_step",
    "momentum_step",
    "nesterov_step",
    "velocity_momentum_step",
    "adagrad_step",
    "rmsprop_step",
    "adam_step",
    "SGD",
    "Adagrad",
    "RMSprop",
    "Adam",
    "AdamW",
)


def _spec(name, concept, ref, mistakes, default_hp, extra):
    cases = _cases(default_hp, extra)
    run = _runner(name, ref, cases)
    return FunctionSpec(
        name=name,
        concept=concept,
        arg_names=("w", "dw", "state"),
        runners={"trajectory": run, "hidden": run},
        mistakes=mistakes,
        forbid=_STEP_FORBID,
        rtol=1e-6,
        atol=1e-9,
    )


# ------------------------------------------------------------------------ schedules


def _sched_cases(which):
    def cases(rng):
        if which == "step_decay":
            return [
                Case(f"lr0 = 0.1, epoch = {e}", (0.1, e), show=e == 25)
                for e in (0, 9, 10, 14, 16, 25)
            ] + [Case("drop = 0.1, every = 3, epoch = 7", (0.3, 7), {"drop": 0.1, "every": 3})]
        if which == "exponential_decay":
            return [
                Case(f"lr0 = 0.5, t = {t}, k = 0.1", (0.5, t, 0.1), show=t == 3) for t in (0, 3, 20)
            ] + [Case("k = 2, t = 0.25", (1.0, 0.25, 2.0))]
        return [
            Case(f"lr0 = 0.2, t = {t}, tau = 10", (0.2, t, 10), show=t == 40)
            for t in (0, 5, 10, 40)
        ] + [Case("tau = 3, t = 7", (1.0, 7, 3))]

    return cases


def _hidden_sched(which):
    def cases(rng):
        if which == "step_decay":
            return [
                Case("hidden schedule check A", (0.05, 33), {"drop": 0.3, "every": 7}),
                Case("hidden schedule check B", (1.0, 4), {"every": 4}),
            ]
        if which == "exponential_decay":
            return [Case("hidden schedule check C", (0.02, 13, 0.05))]
        return [
            Case("hidden schedule check D", (0.3, 2, 8)),
            Case("hidden schedule check E", (0.3, 17, 8)),
        ]

    return cases


STEP_DECAY_MISTAKES = [
    Mistake(
        "no floor",
        lambda lr0, e, drop=0.5, every=10: lr0 * drop ** (e / every),
        "the exponent is epoch / every; use the integer division epoch // every.",
    ),
    Mistake(
        "every ignored",
        lambda lr0, e, drop=0.5, every=10: lr0 * drop**e,
        "the rate drops every epoch: the exponent is epoch // every.",
    ),
    Mistake(
        "one too early",
        lambda lr0, e, drop=0.5, every=10: lr0 * drop ** ((e + 1) // every),
        "the drop comes one epoch early: lr0 · drop ** (epoch // every), rounded down (not "
        "round or ceil), and epochs start at 0.",
    ),
    Mistake(
        "rounded",
        lambda lr0, e, drop=0.5, every=10: lr0 * drop ** round(e / every),
        "the exponent is rounded to the nearest integer; it is rounded down: epoch // every.",
    ),
    Mistake(
        "ceil",
        lambda lr0, e, drop=0.5, every=10: lr0 * drop ** -(-e // every),
        "the exponent is rounded up; it is rounded down: epoch // every.",
    ),
    Mistake(
        "drop at epoch 0",
        lambda lr0, e, drop=0.5, every=10: lr0 * drop ** (e // every + 1),
        "the rate has already dropped at epoch 0: the exponent is epoch // every, 0 for the "
        "first `every` epochs (lr0 at the start).",
    ),
    Mistake(
        "times not power",
        lambda lr0, e, drop=0.5, every=10: lr0 * drop * (e // every),
        "drop is multiplied, not raised to the power epoch // every.",
    ),
    Mistake(
        "1 - drop",
        lambda lr0, e, drop=0.5, every=10: lr0 * (1 - drop) ** (e // every),
        "the rate is multiplied by 1 − drop; drop is the factor itself: "
        "lr0 · drop ** (epoch // every) (with drop = 0.1 the rate falls tenfold).",
    ),
]
EXP_DECAY_MISTAKES = [
    Mistake("sign", lambda lr0, t, k: lr0 * np.exp(k * t), "the rate grows: lr0 · exp(−k t)."),
    Mistake(
        "inverse",
        lambda lr0, t, k: lr0 / (1 + k * t),
        "this is inverse-time decay; exponential decay is lr0 · exp(−k t).",
    ),
    Mistake("no lr0", lambda lr0, t, k: np.exp(-k * t), "lr0 is missing: lr0 · exp(−k t)."),
    Mistake(
        "power",
        lambda lr0, t, k: lr0 * (1 - k) ** t,
        "you used (1 − k)^t; the schedule is lr0 · exp(−k t).",
    ),
    Mistake(
        "t / k",
        lambda lr0, t, k: lr0 * np.exp(-t / k),
        "t is divided by k; k is a rate that multiplies t: lr0 · exp(−k t).",
    ),
    Mistake(
        "k^t",
        lambda lr0, t, k: lr0 * k**t,
        "you used k^t; the schedule is lr0 · exp(−k t).",
    ),
    Mistake(
        "integer t",
        lambda lr0, t, k: lr0 * np.exp(-k * int(t)),
        "t was rounded to an integer; t may be fractional (a step inside an epoch).",
    ),
]
INV_DECAY_MISTAKES = [
    Mistake(
        "no max",
        lambda lr0, t, tau: lr0 * tau / t if t else np.inf,
        "the rate must stay lr0 until t reaches tau and then decay like 1/t: "
        "lr0 · tau / max(t, tau) (the max is missing, or a min is used).",
    ),
    Mistake(
        "1 + t/tau",
        lambda lr0, t, tau: lr0 / (1 + t / tau),
        "this is lr0 / (1 + t/tau); the course's schedule is lr0 · tau / max(t, tau).",
    ),
    Mistake(
        "upside down",
        lambda lr0, t, tau: lr0 * max(t, tau) / tau,
        "the fraction is upside down: lr0 · tau / max(t, tau).",
    ),
    Mistake(
        "min", lambda lr0, t, tau: lr0 * tau / max(min(t, tau), 1e-300), "use max(t, tau), not min."
    ),
    Mistake(
        "t + tau",
        lambda lr0, t, tau: lr0 * tau / (t + tau),
        "this is lr0 · tau / (t + tau) = lr0 / (1 + t/tau); the course's schedule is "
        "lr0 · tau / max(t, tau).",
    ),
    Mistake(
        "no tau",
        lambda lr0, t, tau: lr0 / max(t, tau),
        "tau is missing from the numerator: lr0 · tau / max(t, tau).",
    ),
]


def _sched_spec(name, mistakes, args):
    def defaults(ctx, fn):
        if name in DEFAULTS:
            check_defaults(ctx, fn, DEFAULTS[name])

    return FunctionSpec(
        name=name,
        concept="step_decay",
        arg_names=args,
        cases={"values": _sched_cases(name), "hidden": _hidden_sched(name)},
        runners={
            "values": ranked_cases_runner(_sched_cases(name), defaults),
            "hidden": ranked_cases_runner(_hidden_sched(name), defaults),
        },
        mistakes=mistakes,
        forbid=("step_decay", "exponential_decay", "inverse_time_decay"),
        rtol=1e-9,
        atol=1e-12,
        keep_float32=False,
    )


SPECS = [
    _spec("sgd_step", "sgd_step", _sgd, SGD_MISTAKES, {"lr": 1e-3}, [{"lr": 0.05}]),
    _spec(
        "momentum_step",
        "sgd_step",
        _mom,
        MOMENTUM_MISTAKES,
        {"lr": 1e-4},
        [{"lr": 0.02, "momentum": 0.7}],
    ),
    _spec(
        "nesterov_step",
        "sgd_step",
        _nest,
        NESTEROV_MISTAKES,
        {"lr": 1e-4},
        [{"lr": 0.02, "momentum": 0.6}],
    ),
    _spec(
        "adagrad_step",
        "adagrad_step",
        _adagrad,
        ADAGRAD_MISTAKES,
        {"lr": 0.05},
        [{"lr": 0.3, "eps": 0.5}],
    ),
    _spec(
        "rmsprop_step",
        "adagrad_step",
        _rms,
        RMSPROP_MISTAKES,
        {"lr": 1e-3},
        [{"lr": 0.02, "alpha": 0.9, "eps": 0.05}],
    ),
    _spec(
        "adam_step",
        "adam_step",
        _adam,
        ADAM_MISTAKES,
        {"lr": 0.02},
        [{"lr": 0.1, "beta1": 0.8, "beta2": 0.99, "eps": 0.01}],
    ),
    _sched_spec("step_decay", STEP_DECAY_MISTAKES, ("lr0", "epoch")),
    _sched_spec("exponential_decay", EXP_DECAY_MISTAKES, ("lr0", "t", "k")),
    _sched_spec("inverse_time_decay", INV_DECAY_MISTAKES, ("lr0", "t", "tau")),
]

_P = Part
MANIFEST = []
for _name, _concept, _pts in (
    ("sgd_step", "sgd_step", 1),
    ("momentum_step", "sgd_step", 2),
    ("nesterov_step", "sgd_step", 2),
    ("adagrad_step", "adagrad_step", 2),
    ("rmsprop_step", "adagrad_step", 2),
    ("adam_step", "adam_step", 2),
):
    MANIFEST.append(
        _P(
            LESSON,
            _concept,
            _name,
            "trajectory",
            _pts,
            False,
            "trajectories on a valley and Rosenbrock, against torch's update",
        )
    )
    MANIFEST.append(_P(LESSON, _concept, _name, "hidden", 1, True))
for _name in ("step_decay", "exponential_decay", "inverse_time_decay"):
    MANIFEST.append(_P(LESSON, "step_decay", _name, "values", 1, False))
    MANIFEST.append(_P(LESSON, "step_decay", _name, "hidden", 1, True))

register(LESSON, SPECS, MANIFEST)

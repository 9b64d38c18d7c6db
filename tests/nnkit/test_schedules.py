"""Do the learning-rate schedules equal their formulas, and the schedulers torch's?"""

from __future__ import annotations

import math

import numpy as np
import pytest

import nnkit
from nnkit import schedules
from nnkit._guard import ReferenceCallError, forbid
from nnkit.optim import SGD, Param


def _optimizer(lr=0.1):
    return SGD([Param(np.zeros(2))], lr=lr)


def test_step_decay_formula():
    """step_decay = lr0 · drop^⌊epoch / every⌋, checked against a Python loop."""
    for epoch in range(35):
        expected = 0.2
        for _ in range(epoch // 10):
            expected *= 0.5
        assert schedules.step_decay(0.2, epoch) == pytest.approx(expected, rel=1e-15)
    assert schedules.step_decay(1.0, 7, drop=0.1, every=3) == pytest.approx(0.01, rel=1e-15)


def test_exponential_decay_formula():
    """exponential_decay = lr0 · e^{−kt}; equal to a repeated factor e^{−k} at integer t."""
    assert schedules.exponential_decay(0.5, 0, 0.3) == 0.5
    lr = 0.5
    for t in range(1, 20):
        lr *= math.exp(-0.3)
        assert schedules.exponential_decay(0.5, t, 0.3) == pytest.approx(lr, rel=1e-13)
    assert schedules.exponential_decay(0.5, 2.5, 0.3) == pytest.approx(0.5 * math.exp(-0.75))


def test_inverse_time_decay_formula():
    """inverse_time_decay = lr0 · τ / max(t, τ): flat until τ, then ∝ 1/t."""
    assert [schedules.inverse_time_decay(1.0, t, 4) for t in (0, 2, 4)] == [1.0, 1.0, 1.0]
    assert schedules.inverse_time_decay(1.0, 8, 4) == 0.5
    assert schedules.inverse_time_decay(0.3, 40, 10) == pytest.approx(0.075, rel=1e-15)


def test_schedules_accept_arrays_and_return_floats_for_scalars():
    t = np.arange(50)
    np.testing.assert_allclose(
        schedules.exponential_decay(0.1, t, 0.05), [0.1 * math.exp(-0.05 * i) for i in t]
    )
    np.testing.assert_allclose(
        schedules.step_decay(0.1, t, drop=0.3, every=7), [0.1 * 0.3 ** (i // 7) for i in t]
    )
    np.testing.assert_allclose(
        schedules.inverse_time_decay(0.1, t, 5), [0.1 * 5 / max(i, 5) for i in t]
    )
    assert type(schedules.step_decay(0.1, 3)) is float


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: schedules.step_decay(-0.1, 3), ValueError, "lr0"),
        (lambda: schedules.step_decay(0.1, -1), ValueError, "epoch"),
        (lambda: schedules.step_decay(0.1, 1.5), TypeError, "epoch"),
        (lambda: schedules.step_decay(0.1, 3, every=0), ValueError, "every"),
        (lambda: schedules.step_decay(0.1, 3, drop=0), ValueError, "drop"),
        (lambda: schedules.exponential_decay(0.1, 3, -1.0), ValueError, "k"),
        (lambda: schedules.exponential_decay(0.1, -3, 1.0), ValueError, "t"),
        (lambda: schedules.inverse_time_decay(0.1, 3, 0), ValueError, "tau"),
        (lambda: schedules.inverse_time_decay("0.1", 3, 1), TypeError, "lr0"),
    ],
)
def test_schedules_reject_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("name", ["step_decay", "exponential_decay", "inverse_time_decay"])
def test_schedules_are_guarded_references(name):
    fn = getattr(nnkit, name)
    with forbid(name) as calls, pytest.raises(ReferenceCallError):
        fn(0.1, 1, 1)
    assert calls == [name]


def test_steplr_and_exponentiallr_follow_the_closed_forms():
    """StepLR is step_decay and ExponentialLR is exponential_decay with k = −ln γ."""
    opt_a, opt_b = _optimizer(0.3), _optimizer(0.3)
    step_lr = schedules.StepLR(opt_a, step_size=4, gamma=0.5)
    exp_lr = schedules.ExponentialLR(opt_b, gamma=0.9)
    for epoch in range(1, 30):
        step_lr.step()
        exp_lr.step()
        assert opt_a.lr == pytest.approx(
            schedules.step_decay(0.3, epoch, drop=0.5, every=4), rel=1e-14
        )
        assert opt_b.lr == pytest.approx(
            schedules.exponential_decay(0.3, epoch, -math.log(0.9)), rel=1e-12
        )
        assert step_lr.get_last_lr() == [opt_a.lr]


def test_schedulers_match_torch():
    """StepLR and ExponentialLR give torch's learning rate at every epoch."""
    torch = pytest.importorskip("torch")
    for ours_cls, theirs_cls, kwargs in [
        (schedules.StepLR, torch.optim.lr_scheduler.StepLR, {"step_size": 3, "gamma": 0.2}),
        (schedules.ExponentialLR, torch.optim.lr_scheduler.ExponentialLR, {"gamma": 0.8}),
    ]:
        opt = _optimizer(0.05)
        t_opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.05)
        ours, theirs = ours_cls(opt, **kwargs), theirs_cls(t_opt, **kwargs)
        for _ in range(25):
            t_opt.step()
            ours.step()
            theirs.step()
            assert opt.lr == pytest.approx(t_opt.param_groups[0]["lr"], rel=1e-15, abs=0)


# A scripted validation-loss curve: improvement, a long plateau, tiny "improvements" below the
# relative threshold, a real improvement, more plateaus — enough to exercise patience, cooldown,
# threshold and the min_lr floor.
_LOSSES = (
    [1.0, 0.8, 0.7, 0.7, 0.71, 0.7, 0.69999, 0.72, 0.7, 0.6, 0.6, 0.61, 0.6, 0.59995]
    + [0.5, 0.5, 0.5, 0.5, 0.5, 0.49, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    + [0.4 - 0.001 * i for i in range(5)]
    + [0.45] * 20
)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"patience": 2},
        {"patience": 1, "cooldown": 2, "factor": 0.5},
        {"patience": 0, "cooldown": 1, "factor": 0.5, "min_lr": 0.02},
        {"patience": 2, "threshold": 0.05, "threshold_mode": "abs", "min_lr": 1e-3},
        {"mode": "max", "patience": 1, "cooldown": 3, "threshold": 0.02},
        {"mode": "max", "patience": 2, "threshold_mode": "abs", "threshold": 0.0, "factor": 0.3},
    ],
    ids=repr,
)
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    """On a scripted loss sequence, is the learning rate torch's after every epoch?"""
    torch = pytest.importorskip("torch")
    opt = _optimizer(0.1)
    t_opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1)
    ours = schedules.ReduceLROnPlateau(opt, **kwargs)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(t_opt, **kwargs)
    sign = -1.0 if kwargs.get("mode") == "max" else 1.0
    lrs = []
    for loss in _LOSSES:
        ours.step(sign * loss)
        theirs.step(sign * loss)
        assert opt.lr == t_opt.param_groups[0]["lr"]
        lrs.append(opt.lr)
    assert len(set(lrs)) >= 2, "the script should trigger at least one cut"


def test_reduce_lr_on_plateau_by_hand():
    """patience=1, cooldown=1, min_lr floor: the cuts land where the rule says."""
    opt = _optimizer(1.0)
    sched = schedules.ReduceLROnPlateau(opt, factor=0.5, patience=1, cooldown=1, min_lr=0.3)
    lrs = []
    for loss in [5, 4, 4, 4, 4, 4, 4, 4, 4]:
        sched.step(loss)
        lrs.append(opt.lr)
    # epoch 3 is the 2nd bad epoch → cut; epoch 4 in cooldown; epochs 5, 6 bad → cut; then floor.
    assert lrs == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.3, 0.3, 0.3]


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"mode": "minimum"}, ValueError, "mode"),
        ({"mode": "Max"}, ValueError, "mode"),
        ({"threshold_mode": "relative"}, ValueError, "threshold_mode"),
        ({"factor": 1.0}, ValueError, "factor"),
        ({"factor": 0.0}, ValueError, "factor"),
        ({"patience": -1}, ValueError, "patience"),
        ({"cooldown": 1.5}, ValueError, "cooldown"),
        ({"min_lr": -1e-3}, ValueError, "min_lr"),
        ({"threshold": -0.1}, ValueError, "threshold"),
    ],
)
def test_reduce_lr_on_plateau_rejects_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        schedules.ReduceLROnPlateau(_optimizer(), **kwargs)


def test_schedulers_reject_bad_arguments():
    with pytest.raises(ValueError, match="step_size"):
        schedules.StepLR(_optimizer(), step_size=0)
    with pytest.raises(ValueError, match="gamma"):
        schedules.ExponentialLR(_optimizer(), gamma=-0.5)
    with pytest.raises(TypeError, match="optimizer"):
        schedules.StepLR(object(), step_size=2)
    with pytest.raises(TypeError, match="metric"):
        schedules.ReduceLROnPlateau(_optimizer()).step("low")

"""Are the signal statistics of lesson 04 and the penalties / early stopping of lesson 06 right?"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import nnkit
from nnkit import losses as L
from nnkit import regularization as R
from nnkit import signals as S
from nnkit._guard import ReferenceCallError, forbid


def rel_error(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def numerical_gradient(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        fp = float(f(x))
        x[idx] = old - h
        fm = float(f(x))
        x[idx] = old
        grad[idx] = (fp - fm) / (2 * h)
    return grad


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def stack(rng, widths, scale=1.0):
    return [rng.normal(size=(m, d)) * scale / np.sqrt(d) for d, m in itertools.pairwise(widths)]


# ---------------------------------------------------------------- activation_stds


def test_stds_of_a_linear_stack_scale_by_the_weight_factor(rng):
    """With identity activation and W = c I, each layer multiplies the std by exactly |c|."""
    X = rng.normal(size=(100, 5))
    stds = S.activation_stds(X, [0.5 * np.eye(5)] * 4, nnkit.identity)
    np.testing.assert_allclose(stds, X.std() * 0.5 ** np.arange(1, 5), rtol=1e-13)
    assert all(isinstance(s, float) for s in stds)


def test_stds_follow_the_definition_for_a_nonlinear_stack(rng):
    X = rng.normal(size=(64, 8))
    weights = stack(rng, [8, 16, 16, 4])
    h, expected = X, []
    for W in weights:
        h = np.tanh(h @ W.T)
        expected.append(h.std())
    np.testing.assert_allclose(S.activation_stds(X, weights, nnkit.tanh), expected, rtol=1e-14)


def test_small_weights_make_tanh_signals_vanish(rng):
    X = rng.normal(size=(200, 50))
    stds = S.activation_stds(X, stack(rng, [50] * 11, scale=0.3), nnkit.tanh)
    assert len(stds) == 10
    assert all(b < a for a, b in itertools.pairwise(stds))
    assert stds[-1] < 1e-3


def test_stack_shapes_are_checked(rng):
    X = rng.normal(size=(10, 4))
    with pytest.raises(ValueError, match=r"weights\[1\] of shape \(M, 6\)"):
        S.activation_stds(X, [np.ones((6, 4)), np.ones((3, 5))], nnkit.relu)
    with pytest.raises(TypeError, match="non-empty list"):
        S.activation_stds(X, [], nnkit.relu)


# ---------------------------------------------------------------- gradient_norms


def stack_loss(X, y, weights, fn):
    h = X
    for W in weights[:-1]:
        h = fn(h @ W.T)
    return L.softmax_cross_entropy(h @ weights[-1].T, y)[0]


@pytest.mark.parametrize("activation", [nnkit.tanh, nnkit.sigmoid, nnkit.softplus, np.tanh])
def test_gradient_norms_are_norms_of_numerical_gradients(activation, rng):
    X = rng.normal(size=(12, 5))
    y = rng.integers(0, 3, size=12)
    weights = stack(rng, [5, 7, 6, 3], scale=1.5)
    norms = S.gradient_norms(X, y, weights, activation)
    assert len(norms) == 3 and all(isinstance(v, float) for v in norms)
    expected = []
    for l in range(3):
        work = [W.copy() for W in weights]

        def f(v, l=l, work=work):
            work[l] = v
            return stack_loss(X, y, work, activation)

        expected.append(np.linalg.norm(numerical_gradient(f, weights[l].copy())))
    assert rel_error(norms, expected) <= 1e-7


def test_gradient_norms_accept_a_name_or_a_pair(rng):
    X = rng.normal(size=(10, 4))
    y = rng.integers(0, 2, size=10)
    weights = stack(rng, [4, 6, 2])
    by_fn = S.gradient_norms(X, y, weights, nnkit.relu)
    by_name = S.gradient_norms(X, y, weights, "relu")
    by_pair = S.gradient_norms(X, y, weights, (nnkit.relu, nnkit.relu_grad))
    np.testing.assert_allclose(by_name, by_fn, rtol=1e-15)
    np.testing.assert_allclose(by_pair, by_fn, rtol=1e-15)


def test_gradient_norms_explain_what_to_pass_for_an_unknown_activation(rng):
    X = rng.normal(size=(10, 4))
    y = rng.integers(0, 2, size=10)
    with pytest.raises(TypeError, match=r"\(fn, grad_fn\) tuple"):
        S.gradient_norms(X, y, stack(rng, [4, 6, 2]), lambda a: np.maximum(a, 0))
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        S.gradient_norms(X, y, stack(rng, [4, 6, 2]), "gelu")
    with pytest.raises(ValueError, match=r"labels in \[0, 2\)"):
        S.gradient_norms(X, np.full(10, 2), stack(rng, [4, 6, 2]), "relu")


# ---------------------------------------------------------------- penalties


def test_l2_penalty_value_and_gradient(rng):
    params = {"W1": rng.normal(size=(3, 2)), "b1": rng.normal(size=3), "W2": rng.normal(size=2)}
    before = {k: v.copy() for k, v in params.items()}
    value, grads = R.l2_penalty(params, 0.3)
    assert value == pytest.approx(0.3 * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2)))
    assert set(grads) == set(params)
    np.testing.assert_array_equal(grads["b1"], np.zeros(3))
    for key in ("W1", "W2"):

        def f(v, key=key):
            return R.l2_penalty({**params, key: v}, 0.3)[0]

        assert rel_error(grads[key], numerical_gradient(f, params[key].copy())) <= 1e-7
    for key in params:
        np.testing.assert_array_equal(params[key], before[key])


def test_l1_penalty_value_and_subgradient(rng):
    params = {"W": rng.normal(size=(4, 3)), "gamma": rng.normal(size=3)}
    params["W"][0, 0] = 0.0
    value, grads = R.l1_penalty(params, 0.2)
    assert value == pytest.approx(0.2 * np.sum(np.abs(params["W"])))
    assert grads["W"][0, 0] == 0.0  # torch's abs has sub-gradient 0 at 0
    np.testing.assert_array_equal(grads["gamma"], np.zeros(3))
    w = params["W"].copy()
    w[0, 0] = 0.5  # away from the kink, compare with centred differences
    numeric = numerical_gradient(lambda v: R.l1_penalty({"W": v}, 0.2)[0], w.copy())
    assert rel_error(R.l1_penalty({"W": w}, 0.2)[1]["W"], numeric) <= 1e-7


def test_penalties_reject_bad_arguments():
    with pytest.raises(ValueError, match="lam must be non-negative"):
        R.l2_penalty({"W": np.ones(2)}, -1.0)
    with pytest.raises(TypeError, match="lam must be a real number"):
        R.l1_penalty({"W": np.ones(2)}, "0.1")
    with pytest.raises(TypeError, match="params must be a dict"):
        R.l2_penalty([np.ones(2)], 0.1)


# ---------------------------------------------------------------- early stopping


def early_stopping_by_windows(losses, patience):
    """A second formulation: stop at the first t whose last `patience` losses never beat the
    best before them; keep the first arg-min of the losses up to t."""
    for t in range(patience, len(losses)):
        if min(losses[t - patience + 1 : t + 1]) >= min(losses[: t - patience + 1]):
            return int(np.argmin(losses[: t + 1]))
    return int(np.argmin(losses))


def test_early_stopping_hand_worked_examples():
    # best 1.9 at epoch 3; epochs 4, 5 bring nothing lower -> stop at 5 with patience 2
    assert R.early_stopping_epoch([3.0, 2.0, 2.5, 1.9, 2.0, 2.0, 1.0], 2) == 3
    # with patience 3 the run reaches epoch 6, whose 1.0 is a new best
    assert R.early_stopping_epoch([3.0, 2.0, 2.5, 1.9, 2.0, 2.0, 1.0], 3) == 6
    # a tie is not an improvement: the first epoch of the best value is kept
    assert R.early_stopping_epoch([1.0, 1.0, 1.0], 5) == 0
    assert R.early_stopping_epoch([5.0, 4.0, 3.0], 1) == 2
    assert R.early_stopping_epoch([2.0], 1) == 0


def test_early_stopping_agrees_with_a_second_formulation(rng):
    for _ in range(300):
        losses = list(np.round(rng.uniform(0, 1, size=rng.integers(1, 15)), 1))
        patience = int(rng.integers(1, 5))
        assert R.early_stopping_epoch(losses, patience) == early_stopping_by_windows(
            losses, patience
        ), (losses, patience)


def test_early_stopping_rejects_bad_arguments():
    with pytest.raises(ValueError, match="non-empty"):
        R.early_stopping_epoch([], 2)
    with pytest.raises(ValueError, match="patience must be a positive integer"):
        R.early_stopping_epoch([1.0, 2.0], 0)


GRADED = [
    "activation_stds",
    "gradient_norms",
    "l2_penalty",
    "l1_penalty",
    "early_stopping_epoch",
]


@pytest.mark.parametrize("name", GRADED)
def test_graded_functions_are_exported_and_guarded(name):
    assert name in (S.__all__ + R.__all__)
    fn = getattr(nnkit, name)
    assert getattr(fn, "__nnkit_reference__", None) == name
    with forbid(name), pytest.raises(ReferenceCallError):
        fn()

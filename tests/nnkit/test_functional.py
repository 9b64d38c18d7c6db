"""Do the stateless forward/backward pairs compute the right values and the true gradients?"""

from __future__ import annotations

import numpy as np
import pytest

from nnkit import activations as A
from nnkit import functional as F
from nnkit._guard import ReferenceCallError, forbid


def rel_error(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def numerical_gradient(f, x, h=1e-5):
    """Centred differences of a scalar function f at x (x is restored afterwards)."""
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


def projected(forward, dout):
    """Scalar L = Σ forward(v) * dout, whose gradient is exactly what backward(dout) returns."""
    return lambda v: np.sum(forward(v) * dout)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# ---------------------------------------------------------------- linear


def test_linear_forward_is_w_x_plus_b_per_row(rng):
    x, W, b = rng.normal(size=(4, 3)), rng.normal(size=(5, 3)), rng.normal(size=5)
    out, _ = F.linear_forward(x, W, b)
    assert out.shape == (4, 5)
    for n in range(4):
        np.testing.assert_allclose(out[n], W @ x[n] + b, rtol=1e-13)


def test_linear_backward_matches_numerical_gradients(rng):
    x, W, b = rng.normal(size=(4, 3)), rng.normal(size=(5, 3)), rng.normal(size=5)
    dout = rng.normal(size=(4, 5))
    _, cache = F.linear_forward(x, W, b)
    dx, dW, db = F.linear_backward(dout, cache)
    assert (dx.shape, dW.shape, db.shape) == (x.shape, W.shape, b.shape)
    num_x = numerical_gradient(projected(lambda v: F.linear_forward(v, W, b)[0], dout), x.copy())
    num_W = numerical_gradient(projected(lambda v: F.linear_forward(x, v, b)[0], dout), W.copy())
    num_b = numerical_gradient(projected(lambda v: F.linear_forward(x, W, v)[0], dout), b.copy())
    assert rel_error(dx, num_x) <= 1e-7
    assert rel_error(dW, num_W) <= 1e-7
    assert rel_error(db, num_b) <= 1e-7


def test_linear_rejects_a_transposed_weight_and_says_why(rng):
    x, W, b = rng.normal(size=(4, 3)), rng.normal(size=(3, 5)), rng.normal(size=5)
    with pytest.raises(ValueError, match=r"W of shape \(M, D\) with D = 3.*\(3, 5\)"):
        F.linear_forward(x, W, b)
    with pytest.raises(ValueError, match=r"b of shape \(M,\) = \(5,\), got shape \(3,\)"):
        F.linear_forward(x, W.T, np.zeros(3))
    with pytest.raises(ValueError, match=r"x of shape \(N, D\)"):
        F.linear_forward(np.zeros(3), W.T, b)
    _, cache = F.linear_forward(x, W.T, b)
    with pytest.raises(ValueError, match="dout"):
        F.linear_backward(np.zeros((5, 4)), cache)


def test_linear_keeps_float32(rng):
    x = rng.normal(size=(4, 3)).astype(np.float32)
    W = rng.normal(size=(2, 3)).astype(np.float32)
    b = np.zeros(2, dtype=np.float32)
    out, cache = F.linear_forward(x, W, b)
    grads = F.linear_backward(np.ones((4, 2), dtype=np.float32), cache)
    assert out.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)


# ---------------------------------------------------------------- activation pairs

PAIRS = {
    "relu": (F.relu_forward, F.relu_backward, A.relu, A.relu_grad),
    "sigmoid": (F.sigmoid_forward, F.sigmoid_backward, A.sigmoid, A.sigmoid_grad),
    "tanh": (F.tanh_forward, F.tanh_backward, A.tanh, A.tanh_grad),
    "leaky_relu": (F.leaky_relu_forward, F.leaky_relu_backward, A.leaky_relu, A.leaky_relu_grad),
    "identity": (F.identity_forward, F.identity_backward, A.identity, A.identity_grad),
    "hard_tanh": (F.hard_tanh_forward, F.hard_tanh_backward, A.hard_tanh, A.hard_tanh_grad),
    "softsign": (F.softsign_forward, F.softsign_backward, A.softsign, A.softsign_grad),
    "softplus": (F.softplus_forward, F.softplus_backward, A.softplus, A.softplus_grad),
}
KINKS = {"relu": [0.0], "leaky_relu": [0.0], "hard_tanh": [-1.0, 1.0]}


def input_away_from_kinks(name, rng):
    x = rng.uniform(-3, 3, size=(5, 4))
    for kink in KINKS.get(name, []):
        x[np.abs(x - kink) < 1e-3] += 0.01
    return x


@pytest.mark.parametrize("name", PAIRS)
def test_activation_pair_agrees_with_the_activation_module(name, rng):
    forward, backward, fn, grad = PAIRS[name]
    x = rng.normal(size=(6, 3)) * 2
    x[0, 0] = 0.0  # a kink point: backward must use the same convention as *_grad
    dout = rng.normal(size=x.shape)
    out, cache = forward(x)
    np.testing.assert_allclose(out, fn(x), rtol=1e-15)
    np.testing.assert_allclose(backward(dout, cache), dout * grad(x), rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("name", PAIRS)
def test_activation_backward_matches_numerical_gradient(name, rng):
    forward, backward, _, _ = PAIRS[name]
    x = input_away_from_kinks(name, rng)
    dout = rng.normal(size=x.shape)
    _, cache = forward(x)
    numeric = numerical_gradient(projected(lambda v: forward(v)[0], dout), x.copy())
    assert rel_error(backward(dout, cache), numeric) <= 1e-7


@pytest.mark.parametrize("name", PAIRS)
def test_activation_pairs_do_not_modify_inputs_and_keep_float32(name, rng):
    forward, backward, _, _ = PAIRS[name]
    x = rng.normal(size=(3, 4)).astype(np.float32)
    dout = rng.normal(size=(3, 4)).astype(np.float32)
    x0, d0 = x.copy(), dout.copy()
    out, cache = forward(x)
    dx = backward(dout, cache)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(dout, d0)
    assert out.dtype == np.float32 and dx.dtype == np.float32
    assert not np.shares_memory(out, x) and not np.shares_memory(dx, dout)
    with pytest.raises(ValueError, match="dout"):
        backward(np.zeros((4, 3)), cache)


def test_leaky_relu_pair_uses_its_slope(rng):
    x = input_away_from_kinks("leaky_relu", rng)
    dout = rng.normal(size=x.shape)
    out, cache = F.leaky_relu_forward(x, k=0.3)
    np.testing.assert_array_equal(out, np.where(x > 0, x, 0.3 * x))
    numeric = numerical_gradient(projected(lambda v: F.leaky_relu_forward(v, 0.3)[0], dout), x)
    assert rel_error(F.leaky_relu_backward(dout, cache), numeric) <= 1e-7


# ---------------------------------------------------------------- dropout


def test_dropout_keeps_units_at_rate_one_minus_p_and_preserves_the_mean(rng):
    x = np.ones((400, 250))
    out, _ = F.dropout_forward(x, 0.3, True, rng)
    kept = out != 0
    # 100000 Bernoulli(0.7) draws: std of the rate is 0.0014; 0.006 is over 4 sigma
    assert abs(kept.mean() - 0.7) < 0.006
    np.testing.assert_allclose(out[kept], 1 / 0.7, rtol=1e-15)
    assert abs(out.mean() - 1.0) < 0.01


def test_dropout_given_a_mask_scales_exactly_and_backward_uses_the_mask(rng):
    x = rng.normal(size=(5, 6))
    mask = rng.random(size=x.shape) > 0.5
    dout = rng.normal(size=x.shape)
    out, cache = F.dropout_forward(x, 0.25, True, mask=mask)
    np.testing.assert_allclose(out, np.where(mask, x / 0.75, 0.0), rtol=1e-15)
    dx = F.dropout_backward(dout, cache)
    np.testing.assert_allclose(dx, np.where(mask, dout / 0.75, 0.0), rtol=1e-15)
    f = projected(lambda v: F.dropout_forward(v, 0.25, True, mask=mask)[0], dout)
    assert rel_error(dx, numerical_gradient(f, x.copy())) <= 1e-7
    int_mask_out, _ = F.dropout_forward(x, 0.25, True, mask=mask.astype(int))
    np.testing.assert_array_equal(int_mask_out, out)


def test_dropout_at_evaluation_is_the_identity(rng):
    x = rng.normal(size=(3, 4))
    dout = rng.normal(size=(3, 4))
    out, cache = F.dropout_forward(x, 0.9, False, rng)
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(F.dropout_backward(dout, cache), dout)
    assert not np.shares_memory(out, x)


def test_dropout_with_p_zero_keeps_everything(rng):
    x = rng.normal(size=(3, 4))
    out, _ = F.dropout_forward(x, 0.0, True, rng)
    np.testing.assert_array_equal(out, x)


def test_dropout_uses_only_its_rng():
    """Same seed, same mask; reseeding the global state changes nothing."""
    x = np.ones((20, 30))
    np.random.seed(1)  # noqa: NPY002 - the global state must not matter
    a, _ = F.dropout_forward(x, 0.5, True, np.random.default_rng(42))
    np.random.seed(2)  # noqa: NPY002
    b, _ = F.dropout_forward(x, 0.5, True, np.random.default_rng(42))
    c, _ = F.dropout_forward(x, 0.5, True, 42)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    d, _ = F.dropout_forward(x, 0.5, True, np.random.default_rng(43))
    assert not np.array_equal(a, d)
    state = np.random.get_state()[1].copy()  # noqa: NPY002
    F.dropout_forward(x, 0.5, True, None)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002


@pytest.mark.parametrize("p", [1.0, -0.1, 1.5, "0.5", None])
def test_dropout_rejects_bad_probabilities(p):
    with pytest.raises(ValueError, match=r"p must be a probability in \[0, 1\)"):
        F.dropout_forward(np.ones(3), p, True, 0)


def test_dropout_rejects_bad_mode_mask_and_rng():
    with pytest.raises(TypeError, match="train must be True or False"):
        F.dropout_forward(np.ones(3), 0.5, "train", 0)
    with pytest.raises(ValueError, match="mask of the shape of x"):
        F.dropout_forward(np.ones(3), 0.5, True, mask=np.ones(4))
    with pytest.raises(ValueError, match="only 0"):
        F.dropout_forward(np.ones(3), 0.5, True, mask=np.array([0, 1, 2]))
    with pytest.raises(TypeError, match="rng"):
        F.dropout_forward(np.ones(3), 0.5, True, rng="seed")


# ---------------------------------------------------------------- batch normalisation


def bn_inputs(rng, n=6, d=4):
    x = rng.normal(size=(n, d)) * rng.uniform(0.5, 3, size=d) + rng.normal(size=d)
    return x, rng.normal(size=d), rng.normal(size=d)


def test_batchnorm_train_output_has_mean_beta_and_std_gamma(rng):
    x, gamma, beta = bn_inputs(rng, n=50)
    out, _ = F.batchnorm_forward(x, gamma, beta, {}, True)
    np.testing.assert_allclose(out.mean(axis=0), beta, atol=1e-12)
    # biased std of x_hat is sqrt(var / (var + eps)), just below 1
    var = x.var(axis=0)
    np.testing.assert_allclose(out.std(axis=0), np.abs(gamma) * np.sqrt(var / (var + 1e-5)))


def test_batchnorm_running_statistics_follow_torch_rule(rng):
    """running = 0.9 running + 0.1 batch_stat, with the unbiased variance, updated in place."""
    x, gamma, beta = bn_inputs(rng)
    state = {}
    F.batchnorm_forward(x, gamma, beta, state, True)
    mean_array, var_array = state["running_mean"], state["running_var"]
    np.testing.assert_allclose(mean_array, 0.1 * x.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(var_array, 0.9 + 0.1 * x.var(axis=0, ddof=1), rtol=1e-14)
    x2 = x * 2 + 1
    F.batchnorm_forward(x2, gamma, beta, state, True, momentum=0.3)
    assert state["running_mean"] is mean_array  # the same array, updated in place
    np.testing.assert_allclose(
        state["running_mean"], 0.7 * 0.1 * x.mean(axis=0) + 0.3 * x2.mean(axis=0), rtol=1e-14
    )
    np.testing.assert_allclose(
        state["running_var"],
        0.7 * (0.9 + 0.1 * x.var(axis=0, ddof=1)) + 0.3 * x2.var(axis=0, ddof=1),
        rtol=1e-14,
    )


def test_batchnorm_eval_uses_running_statistics_and_never_updates_them(rng):
    x, gamma, beta = bn_inputs(rng)
    state = {"running_mean": rng.normal(size=4), "running_var": rng.uniform(0.5, 2, size=4)}
    before = {k: v.copy() for k, v in state.items()}
    out, _ = F.batchnorm_forward(x, gamma, beta, state, False)
    expected = gamma * (x - before["running_mean"]) / np.sqrt(before["running_var"] + 1e-5) + beta
    np.testing.assert_allclose(out, expected, rtol=1e-13)
    for key in before:
        np.testing.assert_array_equal(state[key], before[key])
    single, _ = F.batchnorm_forward(x[:1], gamma, beta, state, False)  # one sample is fine
    np.testing.assert_allclose(single, expected[:1], rtol=1e-13)


@pytest.mark.parametrize("backward", [F.batchnorm_backward, F.batchnorm_backward_alt])
@pytest.mark.parametrize("train", [True, False])
def test_batchnorm_backward_matches_numerical_gradients(backward, train, rng):
    x, gamma, beta = bn_inputs(rng)
    dout = rng.normal(size=x.shape)
    start = {"running_mean": rng.normal(size=4), "running_var": rng.uniform(0.5, 2, size=4)}

    def fwd(xv, gv, bv):
        return F.batchnorm_forward(xv, gv, bv, {k: v.copy() for k, v in start.items()}, train)[0]

    _, cache = F.batchnorm_forward(x, gamma, beta, {k: v.copy() for k, v in start.items()}, train)
    dx, dgamma, dbeta = backward(dout, cache)
    num_x = numerical_gradient(projected(lambda v: fwd(v, gamma, beta), dout), x.copy())
    num_g = numerical_gradient(projected(lambda v: fwd(x, v, beta), dout), gamma.copy())
    num_b = numerical_gradient(projected(lambda v: fwd(x, gamma, v), dout), beta.copy())
    assert rel_error(dx, num_x) <= 1e-7
    assert rel_error(dgamma, num_g) <= 1e-7
    assert rel_error(dbeta, num_b) <= 1e-7


def test_batchnorm_staged_and_closed_form_backward_agree(rng):
    x, gamma, beta = bn_inputs(rng, n=32, d=10)
    dout = rng.normal(size=x.shape)
    _, cache = F.batchnorm_forward(x, gamma, beta, {}, True)
    for a, b in zip(
        F.batchnorm_backward(dout, cache), F.batchnorm_backward_alt(dout, cache), strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)


def test_batchnorm_creates_missing_state_and_checks_it(rng):
    x, gamma, beta = bn_inputs(rng)
    state = {}
    F.batchnorm_forward(x, gamma, beta, state, False)
    np.testing.assert_array_equal(state["running_mean"], np.zeros(4))
    np.testing.assert_array_equal(state["running_var"], np.ones(4))
    with pytest.raises(ValueError, match=r"state\['running_var'\] of shape \(D,\) = \(4,\)"):
        F.batchnorm_forward(x, gamma, beta, {"running_var": np.ones(3)}, True)
    with pytest.raises(TypeError, match="state must be a dict"):
        F.batchnorm_forward(x, gamma, beta, None, True)
    with pytest.raises(ValueError, match=r"gamma of shape \(D,\) = \(4,\)"):
        F.batchnorm_forward(x, gamma[:3], beta, {}, True)
    with pytest.raises(ValueError, match="at least 2 samples"):
        F.batchnorm_forward(x[:1], gamma, beta, {}, True)
    with pytest.raises(TypeError, match="train"):
        F.batchnorm_forward(x, gamma, beta, {}, "eval")


def test_batchnorm_does_not_modify_x_gamma_beta_and_keeps_float32(rng):
    x, gamma, beta = (a.astype(np.float32) for a in bn_inputs(rng))
    copies = [a.copy() for a in (x, gamma, beta)]
    out, cache = F.batchnorm_forward(x, gamma, beta, {}, True)
    grads = F.batchnorm_backward(np.ones_like(x), cache)
    for before, after in zip(copies, (x, gamma, beta), strict=True):
        np.testing.assert_array_equal(before, after)
    assert out.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)
    ref, _ = F.batchnorm_forward(x.astype(np.float64), gamma, beta, {}, True)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- hygiene

GRADED = [
    "linear_forward",
    "linear_backward",
    "relu_forward",
    "relu_backward",
    "dropout_forward",
    "dropout_backward",
    "batchnorm_forward",
    "batchnorm_backward",
    "batchnorm_backward_alt",
]


@pytest.mark.parametrize("name", GRADED)
def test_graded_pairs_are_exported_and_guarded(name):
    import nnkit

    assert name in F.__all__
    fn = getattr(nnkit, name)
    assert getattr(fn, "__nnkit_reference__", None) == name
    with forbid(name), pytest.raises(ReferenceCallError):
        fn(None, None)


def test_linear_does_not_modify_inputs_and_promotes_like_numpy(rng):
    x, W, b = rng.normal(size=(4, 3)), rng.normal(size=(2, 3)), rng.normal(size=2)
    dout = rng.normal(size=(4, 2))
    copies = [a.copy() for a in (x, W, b, dout)]
    out, cache = F.linear_forward(x, W, b)
    F.linear_backward(dout, cache)
    for before, after in zip(copies, (x, W, b, dout), strict=True):
        np.testing.assert_array_equal(before, after)
    out32, _ = F.linear_forward(x.astype(np.float32), W.astype(np.float32), b)
    assert out32.dtype == np.float64  # a float64 bias promotes, as x @ W.T + b would
    np.testing.assert_allclose(out32, out, rtol=1e-6)


def test_dropout_keeps_float32(rng):
    x = rng.normal(size=(4, 5)).astype(np.float32)
    out, cache = F.dropout_forward(x, 0.5, True, rng)
    dx = F.dropout_backward(np.ones_like(x), cache)
    assert out.dtype == np.float32 and dx.dtype == np.float32
    np.testing.assert_array_equal(out, np.where(dx != 0, x * np.float32(2.0), 0))

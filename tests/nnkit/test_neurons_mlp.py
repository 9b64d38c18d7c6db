"""Do the neuron, layer, XOR network and two-layer MLP of lessons 01 and 03 behave as taught?"""

from __future__ import annotations

import numpy as np
import pytest

import nnkit
from nnkit import functional as F
from nnkit import losses as L
from nnkit import mlp as M
from nnkit import neurons as Nn
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


def make_spirals(n_per_class, n_classes, rng):
    """The lesson's spirals: class j runs along radius 0..1 over angles [4j, 4j + 4] + noise."""
    X = np.zeros((n_per_class * n_classes, 2))
    y = np.zeros(n_per_class * n_classes, dtype=np.int64)
    for j in range(n_classes):
        rows = slice(n_per_class * j, n_per_class * (j + 1))
        r = np.linspace(0.0, 1.0, n_per_class)
        t = np.linspace(4.0 * j, 4.0 * (j + 1), n_per_class) + rng.normal(size=n_per_class) * 0.2
        X[rows] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[rows] = j
    return X, y


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# ---------------------------------------------------------------- neurons


def test_neuron_forward_applies_g_to_each_weighted_sum(rng):
    X, w, b = rng.normal(size=(5, 3)), rng.normal(size=3), 0.4
    out = Nn.neuron_forward(X, w, b, nnkit.sigmoid)
    assert out.shape == (5,)
    for n in range(5):
        z = sum(X[n, d] * w[d] for d in range(3)) + b
        assert out[n] == pytest.approx(1 / (1 + np.exp(-z)), rel=1e-13)


def test_layer_forward_is_a_stack_of_neurons(rng):
    X, W, b = rng.normal(size=(5, 3)), rng.normal(size=(4, 3)), rng.normal(size=4)
    out = Nn.layer_forward(X, W, b, nnkit.tanh)
    assert out.shape == (5, 4)
    for m in range(4):
        np.testing.assert_allclose(
            out[:, m], Nn.neuron_forward(X, W[m], b[m], nnkit.tanh), rtol=1e-13
        )


def test_neuron_and_layer_reject_mismatched_shapes(rng):
    X = rng.normal(size=(5, 3))
    with pytest.raises(ValueError, match=r"w of shape \(D,\) = \(3,\)"):
        Nn.neuron_forward(X, np.ones(4), 0.0, nnkit.relu)
    with pytest.raises(ValueError, match=r"W of shape \(M, D\) with D = 3"):
        Nn.layer_forward(X, np.ones((3, 4)), np.zeros(3), nnkit.relu)
    with pytest.raises(ValueError, match=r"b of shape \(M,\) = \(4,\)"):
        Nn.layer_forward(X, np.ones((4, 3)), np.zeros(3), nnkit.relu)
    with pytest.raises(TypeError, match="g must be a callable"):
        Nn.layer_forward(X, np.ones((4, 3)), np.zeros(4), "relu")


def test_xor_params_compute_xor_exactly():
    p = Nn.xor_params()
    assert p["W"].shape == (2, 2) and p["b"].shape == (2,) and p["w"].shape == (2,)
    assert isinstance(p["c"], float)
    for x, target in [((0, 0), 0), ((0, 1), 1), ((1, 0), 1), ((1, 1), 0)]:
        x = np.array(x, dtype=float)
        assert p["w"] @ np.maximum(p["W"] @ x + p["b"], 0) + p["c"] == target
    p["W"][0, 0] = 99.0  # a caller's change must not leak into the next call
    assert Nn.xor_params()["W"][0, 0] != 99.0


# ---------------------------------------------------------------- mlp_loss


def test_mlp_loss_equals_the_composition_of_the_layer_pairs(rng):
    params = M.init_mlp(4, 6, 3, rng)
    X, y = rng.normal(size=(7, 4)), rng.integers(0, 3, size=7)
    loss, grads = M.mlp_loss(params, X, y, reg=0.05)
    h, c1 = F.linear_forward(X, params["W1"], params["b1"])
    a, c2 = F.relu_forward(h)
    s, c3 = F.linear_forward(a, params["W2"], params["b2"])
    data_loss, ds = L.softmax_cross_entropy(s, y)
    reg_loss = 0.05 * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))
    assert loss == pytest.approx(data_loss + reg_loss, rel=1e-13)
    da, dW2, db2 = F.linear_backward(ds, c3)
    _, dW1, db1 = F.linear_backward(F.relu_backward(da, c2), c1)
    np.testing.assert_allclose(grads["W2"], dW2 + 0.1 * params["W2"], rtol=1e-12)
    np.testing.assert_allclose(grads["W1"], dW1 + 0.1 * params["W1"], rtol=1e-12)
    np.testing.assert_allclose(grads["b1"], db1, rtol=1e-12)
    np.testing.assert_allclose(grads["b2"], db2, rtol=1e-12)


@pytest.mark.parametrize("reg", [0.0, 0.1])
def test_mlp_loss_gradients_match_numerical_gradients(reg, rng):
    params = M.init_mlp(3, 5, 4, rng)
    X, y = rng.normal(size=(6, 3)), rng.integers(0, 4, size=6)
    _, grads = M.mlp_loss(params, X, y, reg=reg)
    assert set(grads) == set(params)
    for key in params:
        work = {k: v.copy() for k, v in params.items()}

        def f(v, key=key, work=work):
            work[key] = v
            return M.mlp_loss(work, X, y, reg=reg)[0]

        numeric = numerical_gradient(f, params[key].copy())
        assert grads[key].shape == params[key].shape
        assert rel_error(grads[key], numeric) <= 1e-7, key


def test_mlp_loss_at_zero_weights_is_log_k(rng):
    params = {"W1": np.zeros((5, 3)), "b1": np.zeros(5), "W2": np.zeros((4, 5)), "b2": np.zeros(4)}
    loss, _ = M.mlp_loss(params, rng.normal(size=(8, 3)), rng.integers(0, 4, size=8))
    assert loss == pytest.approx(np.log(4), rel=1e-14)


def test_mlp_loss_rejects_bad_params_and_labels(rng):
    params = M.init_mlp(3, 5, 4, rng)
    X, y = rng.normal(size=(6, 3)), rng.integers(0, 4, size=6)
    with pytest.raises(ValueError, match=r"missing \['b2'\]"):
        M.mlp_loss({k: v for k, v in params.items() if k != "b2"}, X, y)
    with pytest.raises(ValueError, match=r"params\['W1'\] of shape \(H, D\) with D = 3"):
        M.mlp_loss({**params, "W1": params["W1"].T}, X, y)
    with pytest.raises(ValueError, match=r"params\['W2'\] of shape \(K, H\) = \(4, 5\)"):
        M.mlp_loss({**params, "W2": params["W2"][:, :4]}, X, y)
    with pytest.raises(ValueError, match=r"labels in \[0, 4\)"):
        M.mlp_loss(params, X, np.full(6, 4))
    with pytest.raises(TypeError, match="params must be a dict"):
        M.mlp_loss([params], X, y)


def test_mlp_loss_does_not_modify_inputs(rng):
    params = M.init_mlp(3, 5, 4, rng)
    X, y = rng.normal(size=(6, 3)), rng.integers(0, 4, size=6)
    before = {k: v.copy() for k, v in params.items()}
    X0, y0 = X.copy(), y.copy()
    M.mlp_loss(params, X, y, reg=0.1)
    for key in params:
        np.testing.assert_array_equal(params[key], before[key])
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


# ---------------------------------------------------------------- training


def test_train_mlp_fits_the_spirals():
    """The graded target: >= 95% training accuracy on 3-class spirals (its run time, a couple
    of seconds, is a figure of benchmarks/bench_lessons.py, not an assertion)."""
    X, y = make_spirals(100, 3, np.random.default_rng(0))
    params = M.train_mlp(X, y, rng=0)
    accuracy = np.mean(M.mlp_predict(params, X) == y)
    assert accuracy >= 0.95, accuracy
    assert params["W1"].shape == (64, 2) and params["W2"].shape == (3, 64)


@pytest.mark.parametrize("seed", [0, 1])
def test_train_mlp_fits_the_course_data_set(seed):
    """Same target on the spirals of nnkit.data (written by another part of the course)."""
    make = getattr(nnkit.data, "make_spirals", None)
    if make is None:
        pytest.skip("nnkit.data.make_spirals is not there yet")
    X, y = make(100, 3, rng=seed)
    params = M.train_mlp(X, y, rng=seed)
    assert np.mean(M.mlp_predict(params, X) == y) >= 0.95


def test_train_mlp_uses_only_its_rng():
    """Same seed, same parameters, whatever the global state; another seed, other parameters."""
    X, y = make_spirals(30, 3, np.random.default_rng(1))
    X0, y0 = X.copy(), y.copy()
    np.random.seed(0)  # noqa: NPY002 - the global state must not matter
    a = M.train_mlp(X, y, hidden=8, epochs=5, rng=np.random.default_rng(7))
    np.random.seed(1)  # noqa: NPY002
    b = M.train_mlp(X, y, hidden=8, epochs=5, rng=7)
    c = M.train_mlp(X, y, hidden=8, epochs=5, rng=8)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["W1"], c["W1"])
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


def test_train_mlp_rejects_bad_hyperparameters():
    X, y = make_spirals(5, 3, np.random.default_rng(1))
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        M.train_mlp(X, y, batch_size=0, rng=0)
    with pytest.raises(ValueError, match=r"y of shape \(15,\)"):
        M.train_mlp(X, y[:-1], rng=0)


def test_init_mlp_shapes_and_scale():
    p = M.init_mlp(200, 300, 10, 0)
    assert {k: v.shape for k, v in p.items()} == {
        "W1": (300, 200),
        "b1": (300,),
        "W2": (10, 300),
        "b2": (10,),
    }
    assert p["W1"].std() == pytest.approx(np.sqrt(2 / 200), rel=0.02)
    np.testing.assert_array_equal(p["b1"], 0.0)


@pytest.mark.parametrize(
    "name", ["neuron_forward", "layer_forward", "xor_params", "mlp_loss", "train_mlp"]
)
def test_graded_functions_are_exported_and_guarded(name):
    assert name in (Nn.__all__ + M.__all__)
    fn = getattr(nnkit, name)
    assert getattr(fn, "__nnkit_reference__", None) == name
    with forbid(name), pytest.raises(ReferenceCallError):
        fn()


def _valid_calls():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(6, 3)), np.array([0, 1, 2, 0, 1, 2])
    params = M.init_mlp(3, 4, 3, rng)
    _, lin = F.linear_forward(X, params["W1"], params["b1"])
    _, rel = F.relu_forward(X)
    _, drop = F.dropout_forward(X, 0.5, True, 0)
    _, bn = F.batchnorm_forward(X, np.ones(3), np.zeros(3), {}, True)
    a = X[:, 0]
    probs = L.softmax(X)
    return {
        "sigmoid": lambda: nnkit.sigmoid(a),
        "sigmoid_grad": lambda: nnkit.sigmoid_grad(a),
        "tanh": lambda: nnkit.tanh(a),
        "tanh_grad": lambda: nnkit.tanh_grad(a),
        "relu": lambda: nnkit.relu(a),
        "relu_grad": lambda: nnkit.relu_grad(a),
        "leaky_relu": lambda: nnkit.leaky_relu(a),
        "leaky_relu_grad": lambda: nnkit.leaky_relu_grad(a),
        "neuron_forward": lambda: nnkit.neuron_forward(X, np.ones(3), 0.0, np.tanh),
        "layer_forward": lambda: nnkit.layer_forward(X, params["W1"], params["b1"], np.tanh),
        "xor_params": nnkit.xor_params,
        "softmax": lambda: nnkit.softmax(X),
        "softmax_jacobian": lambda: nnkit.softmax_jacobian(a),
        "cross_entropy": lambda: nnkit.cross_entropy(probs, y),
        "softmax_cross_entropy": lambda: nnkit.softmax_cross_entropy(X, y),
        "binary_cross_entropy_with_logits": lambda: nnkit.binary_cross_entropy_with_logits(
            a, a > 0
        ),
        "max_margin_loss": lambda: nnkit.max_margin_loss(a, X[:, 1]),
        "linear_forward": lambda: nnkit.linear_forward(X, params["W1"], params["b1"]),
        "linear_backward": lambda: nnkit.linear_backward(np.ones((6, 4)), lin),
        "relu_forward": lambda: nnkit.relu_forward(X),
        "relu_backward": lambda: nnkit.relu_backward(X, rel),
        "mlp_loss": lambda: nnkit.mlp_loss(params, X, y, reg=0.1),
        "train_mlp": lambda: nnkit.train_mlp(X, y, hidden=4, epochs=2, rng=0),
        "activation_stds": lambda: nnkit.activation_stds(X, [params["W1"]], np.tanh),
        "gradient_norms": lambda: nnkit.gradient_norms(X, y, [params["W1"], params["W2"]], np.tanh),
        "dropout_forward": lambda: nnkit.dropout_forward(X, 0.5, True, 0),
        "dropout_backward": lambda: nnkit.dropout_backward(X, drop),
        "l2_penalty": lambda: nnkit.l2_penalty(params, 0.1),
        "l1_penalty": lambda: nnkit.l1_penalty(params, 0.1),
        "early_stopping_epoch": lambda: nnkit.early_stopping_epoch([3.0, 2.0, 2.5], 1),
        "batchnorm_forward": lambda: nnkit.batchnorm_forward(X, np.ones(3), np.zeros(3), {}, True),
        "batchnorm_backward": lambda: nnkit.batchnorm_backward(X, bn),
        "batchnorm_backward_alt": lambda: nnkit.batchnorm_backward_alt(X, bn),
        # guarded helpers: they do the core of a graded exercise
        "log_softmax": lambda: nnkit.log_softmax(X),
        "softplus": lambda: nnkit.softplus(a),
        "iterate_minibatches": lambda: list(nnkit.iterate_minibatches(X, y, 4, rng=0)),
    }


def test_each_reference_works_while_every_other_reference_is_forbidden():
    """No reference calls another through its guard, so grading one never trips another.

    (Callables passed in as arguments, such as the activation ``g``, are the caller's: here
    ``np.tanh``, which is not guarded.)"""
    calls = _valid_calls()
    for name, call in calls.items():
        assert getattr(nnkit, name).__nnkit_reference__ == name
        others = [other for other in calls if other != name]
        with forbid(*others) as record:
            call()
        assert record == [], (name, record)

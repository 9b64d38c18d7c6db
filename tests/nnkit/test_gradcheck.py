"""Tests of nnkit.gradcheck: numerical gradients, module checks and the diagnosis of planted bugs.

The modules here are small pure-NumPy layers written in this file (independent of
nnkit.functional), each with a switch that plants one classic backward-pass bug.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from nnkit import gradcheck
from nnkit._guard import ReferenceCallError, forbid
from nnkit.gradcheck import (
    GradCheckReport,
    check_layer,
    check_model,
    diagnose,
    directional_gradcheck,
    numerical_gradient,
    numerical_gradient_array,
    rel_error,
    sparse_gradcheck,
)
from nnkit.layers import Module

# ----------------------------------------------------------------------------------------------
# test modules


class Dense(Module):
    """``x @ W.T + b`` with a switch that plants one bug in backward."""

    def __init__(self, d, m, bug=None, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.params["W"] = rng.standard_normal((m, d))
        self.params["b"] = rng.standard_normal(m)
        self.bug = bug

    def forward(self, x):
        self._cache = x
        return x @ self.params["W"].T + self.params["b"]

    def backward(self, dout):
        x = self._cache
        dW = dout.T @ x
        db = dout.sum(axis=0)
        dx = dout @ self.params["W"]
        if self.bug == "sign":
            dW = -dW
        elif self.bug == "transpose":
            dW = dW.T
        elif self.bug == "bias_per_sample":
            db = dout
        elif self.bug == "bias_first_row":
            db = dout[0]
        elif self.bug == "bias_mean":
            db = dout.mean(axis=0)
        elif self.bug == "double":
            dW = 2 * dW
        elif self.bug == "zero":
            dW = np.zeros_like(dW)
        elif self.bug == "nan":
            dW = dW.copy()
            dW[0, 0] = np.nan
        elif self.bug == "one_entry":
            dW = dW.copy()
            dW[1, 0] += 0.5
        self.grads["W"], self.grads["b"] = dW, db
        return dx


class Square(Module):
    """``x²`` element-wise; ``bug="forgot_2"`` returns ``dout * x``."""

    def __init__(self, bug=None):
        super().__init__()
        self.bug = bug

    def forward(self, x):
        self._cache = x
        return x * x

    def backward(self, dout):
        x = self._cache
        return dout * x if self.bug == "forgot_2" else 2 * dout * x


class Rectifier(Module):
    """A correct ReLU written here, with its kink declared."""

    kinks = (0.0,)

    def forward(self, x):
        self._cache = x
        return np.maximum(x, 0)

    def backward(self, dout):
        return dout * (self._cache > 0)


class Centre(Module):
    """``x − mean over the batch``: every output depends on every sample of the batch.

    ``bug="per_sample"`` forgets the path through the mean (a per-row gradient).
    """

    def __init__(self, bug=None):
        super().__init__()
        self.bug = bug

    def forward(self, x):
        self._cache = x.shape[0]
        return x - x.mean(axis=0)

    def backward(self, dout):
        if self.bug == "per_sample":
            return dout.copy()
        return dout - dout.mean(axis=0)


class NoisyDrop(Module):
    """Dropout drawing a fresh mask from ``self.rng`` on every forward."""

    def __init__(self, p, seed):
        super().__init__()
        self.p = p
        self.rng = np.random.default_rng(seed)

    def forward(self, x):
        self._cache = (self.rng.random(x.shape) >= self.p) / (1 - self.p)
        return x * self._cache

    def backward(self, dout):
        return dout * self._cache


class Counter(Module):
    """Identity with a buffer changed by every forward (like batchnorm's running statistics)."""

    def __init__(self):
        super().__init__()
        self.buffers["calls"] = np.zeros(1)

    def forward(self, x):
        self.buffers["calls"] += 1
        return x.copy()

    def backward(self, dout):
        return dout


class Chain(Module):
    """Minimal sequential container for the tests (so they do not rely on nnkit.layers' one)."""

    def __init__(self, *layers):
        super().__init__()
        self.layers = list(layers)

    def children(self):
        return [(str(i), m) for i, m in enumerate(self.layers)]

    def forward(self, x):
        for m in self.layers:
            x = m.forward(x)
        return x

    def backward(self, dout):
        for m in reversed(self.layers):
            dout = m.backward(dout)
        return dout


def mse(bug=None):
    """Batch mean of the squared error ``(1/N) Σ_i ‖out_i − y_i‖²`` as ``(loss, dout)``.

    ``bug="no_mean"`` forgets the ``1/N`` in the gradient; ``bug="mean_twice"`` divides twice.
    """

    def loss_fn(out, y):
        diff = out - y
        n = out.shape[0]
        grad = 2 * diff / n
        if bug == "no_mean":
            grad = 2 * diff
        elif bug == "mean_twice":
            grad = 2 * diff / n / n
        return np.sum(diff**2) / n, grad

    return loss_fn


@pytest.fixture
def x():
    return np.random.default_rng(1).standard_normal((6, 4))


def centred_loop(f, x, h=1e-5):
    """An independent centred-difference gradient: perturb a copy, one entry at a time."""
    grad = np.zeros_like(x)
    flat = x.reshape(-1)
    for i in range(flat.size):
        plus, minus = flat.copy(), flat.copy()
        plus[i] += h
        minus[i] -= h
        grad.reshape(-1)[i] = (f(plus.reshape(x.shape)) - f(minus.reshape(x.shape))) / (2 * h)
    return grad


# ----------------------------------------------------------------------------------------------
# numbers


def test_rel_error_is_the_spec_formula():
    """Does rel_error take the largest element-wise |a-b| / max(1e-8, |a|+|b|)?"""
    a = np.array([1.0, 2.0, 0.0, 1e-12])
    b = np.array([1.0, 2.2, 0.0, 0.0])
    expected = max(0.0, 0.2 / 4.2, 0.0, 1e-12 / 1e-8)
    assert rel_error(a, b) == pytest.approx(expected, rel=1e-12)
    assert rel_error(b, a) == rel_error(a, b)
    assert np.isnan(rel_error([np.nan], [1.0]))
    with pytest.raises(ValueError, match="same shape"):
        rel_error(np.zeros(3), np.zeros(4))


def test_numerical_gradient_matches_the_derivative():
    """Is the centred difference within 1e-8 of the analytic gradient of a smooth function?"""
    x = np.random.default_rng(0).standard_normal((3, 4))
    grad = numerical_gradient(lambda v: np.sum(np.sin(v) * v), x)
    assert grad.shape == x.shape
    assert rel_error(grad, np.cos(x) * x + np.sin(x)) < 1e-8


def test_numerical_gradient_restores_x_exactly_even_when_f_raises():
    """Is x bit-for-bit unchanged afterwards, also if f fails half-way?"""
    x = np.random.default_rng(0).standard_normal(5) / 3
    before = x.copy()
    numerical_gradient(lambda v: np.sum(v**3), x)
    assert np.array_equal(x, before)

    calls = []

    def failing(v):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("boom")
        return float(v.sum())

    with pytest.raises(RuntimeError, match="boom"):
        numerical_gradient(failing, x)
    assert np.array_equal(x, before)


def test_numerical_gradient_rejects_what_it_cannot_perturb():
    """Does an integer array or a list give a TypeError naming x?"""
    with pytest.raises(TypeError, match="x must be a floating-point numpy array"):
        numerical_gradient(np.sum, np.arange(3))
    with pytest.raises(TypeError, match="x must be"):
        numerical_gradient(np.sum, [1.0, 2.0])
    with pytest.raises(ValueError, match="h must be a positive"):
        numerical_gradient(np.sum, np.zeros(2), h=0.0)
    with pytest.raises(ValueError, match="scalar"):
        numerical_gradient(lambda v: v * 2, np.zeros(2))


def test_numerical_gradient_is_a_guarded_reference():
    """Does the grader's guard catch an answer that calls the reference?"""
    with forbid("numerical_gradient") as calls, pytest.raises(ReferenceCallError):
        numerical_gradient(np.sum, np.zeros(2))
    assert calls == ["numerical_gradient"]


def test_numerical_gradient_array_is_the_vector_jacobian_product():
    """For out = x @ A, is the gradient of sum(out * dout) equal to dout @ A.T?"""
    rng = np.random.default_rng(2)
    x, A, dout = (
        rng.standard_normal((3, 4)),
        rng.standard_normal((4, 5)),
        rng.standard_normal((3, 5)),
    )
    grad = numerical_gradient_array(lambda v: v @ A, x, dout)
    assert rel_error(grad, dout @ A.T) < 1e-8


def test_sparse_and_directional_checks_accept_right_and_reject_wrong_gradients():
    """Do the cheap checks pass the true gradient and catch a single wrong entry?"""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 4))
    before = x.copy()

    def f(v):
        return np.sum(np.tanh(v) ** 2)

    true = 2 * np.tanh(x) * (1 - np.tanh(x) ** 2)
    wrong = true.copy()
    wrong[2, 1] += 0.3
    assert sparse_gradcheck(f, x, true, n_checks=8, rng=0) < 1e-8
    assert sparse_gradcheck(f, x, wrong, n_checks=x.size, rng=0) > 1e-2
    assert directional_gradcheck(f, x, true, n_dirs=4, rng=0) < 1e-7
    assert directional_gradcheck(f, x, wrong, n_dirs=4, rng=0) > 1e-3
    assert np.array_equal(x, before)


# ----------------------------------------------------------------------------------------------
# module checks against an independent loop


def test_check_layer_agrees_with_an_independent_loop(x):
    """Are check_layer's numerical gradients the ones an independent loop computes?"""
    layer = Dense(4, 3, seed=5)
    dout = np.random.default_rng(9).standard_normal((6, 3))
    report = check_layer(layer, x, dout=dout)
    W, b = layer.params["W"].copy(), layer.params["b"].copy()

    def loss_x(v):
        return np.sum((v @ W.T + b) * dout)

    def loss_W(v):
        return np.sum((x @ v.T + b) * dout)

    def loss_b(v):
        return np.sum((x @ W.T + v) * dout)

    for name, fn, at in (("x", loss_x, x), ("W", loss_W, W), ("b", loss_b, b)):
        independent = centred_loop(fn, at.copy())
        assert np.allclose(report[name].numeric, independent, rtol=1e-6, atol=1e-8), name
    assert np.allclose(report["W"].analytic, dout.T @ x)
    assert report.ok and report.worst < 1e-7
    assert set(report.errors) == {"x", "W", "b"}
    assert all(d is None for d in report.diagnoses.values())
    assert np.array_equal(layer.params["W"], W)  # parameters restored


def test_check_model_agrees_with_an_independent_loop(x):
    """Is check_model's input gradient the independent loop's, for a loss through two layers?"""
    model = Chain(Dense(4, 5, seed=1), Square(), Dense(5, 2, seed=2))
    y = np.random.default_rng(4).standard_normal((6, 2))
    report = check_model(model, mse(), x, y)
    independent = centred_loop(lambda v: mse()(model.forward(v), y)[0], x.copy())
    assert np.allclose(report["x"].numeric, independent, rtol=1e-6, atol=1e-9)
    assert report.ok, str(report)
    assert set(report.errors) == {"x", "0.W", "0.b", "2.W", "2.b"}


def test_batch_dependent_layer_is_checked_through_the_whole_batch(x):
    """A layer that mixes samples passes; its per-sample (wrong) backward fails."""
    assert check_layer(Centre(), x, rng=0).ok
    report = check_layer(Centre(bug="per_sample"), x, rng=0)
    assert not report.ok
    assert report["x"].error > 1e-3


def test_random_masks_are_frozen_during_a_check(x):
    """Does a layer drawing a fresh dropout mask per forward still pass, rng state unchanged?"""
    layer = NoisyDrop(0.4, seed=3)
    state = layer.rng.bit_generator.state
    report = check_layer(layer, x, rng=0)
    assert report.ok, str(report)
    assert layer.rng.bit_generator.state == state


def test_buffers_are_left_as_they_were(x):
    """Does a check leave the running statistics (buffers) as it found them?"""
    layer = Counter()
    assert check_layer(layer, x, rng=0).ok
    assert layer.buffers["calls"][0] == 0


def test_max_entries_checks_a_random_subset(x):
    """Does max_entries limit the work and still catch a wrong gradient?"""
    report = check_layer(Dense(4, 3, bug="double", seed=0), x, rng=0, max_entries=5)
    assert report["W"].checked == 5 and report["W"].size == 12
    assert not report.ok and "2 times" in report.diagnoses["W"]


# ----------------------------------------------------------------------------------------------
# diagnosis of planted bugs


def test_a_correct_backward_gets_no_diagnosis(x):
    """No false diagnosis for right gradients, in a layer or in a model."""
    report = check_layer(Dense(4, 3), x, rng=0)
    assert report.ok and all(d is None for d in report.diagnoses.values())
    y = np.zeros((6, 3))
    assert check_model(Dense(4, 3), mse(), x, y).ok
    a = np.random.default_rng(0).standard_normal((3, 3))
    assert diagnose(a, a.copy()) is None


def test_missing_batch_mean_is_reported_with_n(x):
    """A loss gradient without the 1/N gives every gradient N = 6 times too large."""
    report = check_model(Dense(4, 3), mse("no_mean"), x, np.zeros((6, 3)))
    for name in ("W", "b", "x"):
        assert "N = 6" in report.diagnoses[name] and "missing batch mean" in report.diagnoses[name]


def test_extra_batch_mean_is_reported_as_one_over_n(x):
    """Dividing by N twice gives gradients 1/N of the true ones."""
    report = check_model(Dense(4, 3), mse("mean_twice"), x, np.zeros((6, 3)))
    assert "1/N = 1/6" in report.diagnoses["W"]
    assert "extra batch mean" in report.diagnoses["W"]


def test_sign_error_is_named(x):
    report = check_layer(Dense(4, 3, bug="sign"), x, rng=0)
    assert report.diagnoses["W"].startswith("sign error")
    assert report.diagnoses["b"] is None and report.diagnoses["x"] is None


def test_transposed_weight_gradient_is_named(x):
    """dW transposed: for a non-square W (shape swap) and a square one (same shape)."""
    report = check_layer(Dense(4, 3, bug="transpose"), x, rng=0)
    assert report.diagnoses["W"].startswith("transposed")
    report = check_layer(Dense(4, 4, bug="transpose"), x, rng=0)
    assert report.diagnoses["W"].startswith("transposed")
    assert np.isnan(check_layer(Dense(4, 3, bug="transpose"), x, rng=0).errors["W"])


def test_bias_not_summed_over_the_batch_is_named(x):
    """db per sample (N, M), one row of dout, or the batch mean instead of the sum."""
    per_sample = check_layer(Dense(4, 3, bug="bias_per_sample"), x, rng=0).diagnoses["b"]
    assert "not summed over the batch" in per_sample and "(6, 3)" in per_sample
    assert "sum of the rows matches" in per_sample
    first_row = check_layer(Dense(4, 3, bug="bias_first_row"), x, rng=0).diagnoses["b"]
    assert "not summed over the batch" in first_row and "row 0" in first_row
    mean = check_layer(Dense(4, 3, bug="bias_mean"), x, rng=0).diagnoses["b"]
    assert "1/N = 1/6" in mean and "averaged over the batch instead of summed" in mean


def test_forgotten_factor_two_of_a_square_is_named(x):
    report = check_layer(Square(bug="forgot_2"), x, rng=0)
    assert "half" in report.diagnoses["x"] and "factor 2" in report.diagnoses["x"]
    report = check_layer(Dense(4, 3, bug="double"), x, rng=0)
    assert "2 times" in report.diagnoses["W"]


def test_relu_kink_is_stepped_past_or_called_a_false_alarm(monkeypatch):
    """Inputs within h of 0: the centred difference straddles the kink. Measured again with a
    smaller step it does not, and the right backward passes; closer than the smallest step
    (h/100), the mismatch is reported as a false alarm, not as a bug."""
    x = np.random.default_rng(0).standard_normal((4, 5))
    x[1, 2], x[3, 0] = 3e-6, -4e-6
    assert check_layer(Rectifier(), x, rng=0).ok
    with monkeypatch.context() as patch:  # without the second measurement: a false alarm
        patch.setattr(gradcheck.measure, "RETRY_STEPS", ())
        assert check_layer(Rectifier(), x, rng=0).diagnoses["x"].startswith("false alarm")
    x[1, 2], x[3, 0] = 3e-8, -4e-8
    report = check_layer(Rectifier(), x, rng=0)
    assert not report.ok
    diag = report.diagnoses["x"]
    assert diag.startswith("false alarm") and "kink" in diag and "2 of 20" in diag
    x[1, 2], x[3, 0] = 0.3, -0.4
    assert check_layer(Rectifier(), x, rng=0).ok


def test_relu_kink_inside_a_model_adds_a_note():
    """A hidden ReLU input next to its kink: the report says the failure may be a false alarm."""
    layer = Dense(4, 3, seed=0)
    x = np.random.default_rng(2).standard_normal((5, 4))
    pre = x @ layer.params["W"].T
    layer.params["b"][:] = -pre[2]  # sample 2's pre-activations sit exactly on the kink
    report = check_layer(Chain(layer, Rectifier()), x, rng=0)
    assert not report.ok
    assert any("kink" in note for note in report.notes)
    assert "false alarm" in str(report)


def test_other_failures_are_named():
    """All zeros, NaN, plain shape mismatch, a missing gradient, a single wrong entry."""
    rng = np.random.default_rng(0)
    n = rng.standard_normal((3, 4))
    assert diagnose(np.zeros_like(n), n).startswith("analytic gradient is all zeros")
    bad = n.copy()
    bad[0, 1] = np.inf
    assert "NaN/inf" in diagnose(bad, n)
    assert "shape mismatch" in diagnose(np.zeros(5), n)
    assert "missing" in diagnose(None, n)
    one = n.copy()
    one[2, 3] += 1.0
    assert "index (2, 3)" in diagnose(one, n)
    three = diagnose(3.0 * n, n, batch_size=5)
    assert "3 times" in three and "batch size" in three
    assert "1.7 × numeric" in diagnose(1.7 * n, n)


def test_report_reads_well(x):
    """Does str(report) name each gradient, its error, FAIL and the diagnosis?"""
    report = check_layer(Dense(4, 3, bug="sign"), x, rng=0)
    assert isinstance(report, GradCheckReport)
    text = str(report)
    assert "FAILED" in text and "sign error" in text
    for name in ("x", "W", "b"):
        assert f"  {name} " in text
    assert report.worst == max(report.errors.values())
    ok_text = str(check_layer(Dense(4, 3), x, rng=0))
    assert ok_text.startswith("Gradient check of Dense: OK")


def test_a_gradient_that_is_truly_zero_is_not_called_a_bug(x):
    """A bias followed by batch centring has zero gradient; round-off is not a mismatch."""
    report = check_layer(Chain(Dense(4, 3, seed=0), Centre()), x, rng=0)
    assert report.diagnoses["0.W"] is None and report.diagnoses["x"] is None
    diag = report.diagnoses["0.b"]
    assert diag is None or diag.startswith("both gradients are zero up to round-off")
    assert diagnose(np.array([1e-16, -2e-16]), np.array([3e-11, 0.0])).startswith("both")


def test_duck_typed_models_are_checked_too(x):
    """A model with only forward/backward/parameters() (no Module base class) can be checked."""

    class Ref:
        def __init__(self, owner, key):
            self.owner, self.key, self.name = owner, key, key

        @property
        def data(self):
            return self.owner.params[self.key]

        @property
        def grad(self):
            return self.owner.grads.get(self.key)

    class Plain:
        def __init__(self):
            self.params = {"W": np.random.default_rng(0).standard_normal((3, 4))}
            self.grads = {}

        def forward(self, v):
            self._v = v
            return np.tanh(v @ self.params["W"].T)

        def backward(self, dout):
            dz = dout * (1 - np.tanh(self._v @ self.params["W"].T) ** 2)
            self.grads["W"] = dz.T @ self._v
            return dz @ self.params["W"]

        def parameters(self):
            return [Ref(self, "W")]

    report = check_layer(Plain(), x, rng=0)
    assert report.ok and set(report.errors) == {"x", "W"}


# ----------------------------------------------------------------------------------------------
# correct models of several sizes and dtypes: no false alarms (torch as the independent oracle)


def _mlp(sizes, activation, seed, dtype=np.float64):
    """nnkit's Sequential of Linear layers with ``activation`` between them, params in dtype."""
    from nnkit.layers import Linear, Sequential

    rng = np.random.default_rng(seed)
    layers = []
    for i, (d, m) in enumerate(itertools.pairwise(sizes)):
        layers.append(Linear(d, m, rng=rng))
        layers[-1].params["b"][:] = rng.normal(0, 0.1, size=m)  # nonzero biases
        if i < len(sizes) - 2:
            layers.append(activation())
    for layer in layers:
        for key in layer.params:
            layer.params[key] = layer.params[key].astype(dtype)
    return Sequential(*layers)


def _torch_gradients(model, x, y) -> dict[str, np.ndarray]:
    """The exact gradients of the mean softmax cross-entropy, by torch autograd in float64."""
    import torch

    from nnkit.layers import Linear, ReLU, Sigmoid, Tanh

    functions = {ReLU: torch.relu, Tanh: torch.tanh, Sigmoid: torch.sigmoid}
    xt = torch.tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
    leaves = {"x": xt}
    h = xt
    for i, layer in enumerate(model.layers):
        if isinstance(layer, Linear):
            W = torch.tensor(layer.params["W"].astype(np.float64), requires_grad=True)
            b = torch.tensor(layer.params["b"].astype(np.float64), requires_grad=True)
            leaves[f"{i}.W"], leaves[f"{i}.b"] = W, b
            h = h @ W.T + b
        else:
            h = functions[type(layer)](h)
    loss = torch.nn.functional.cross_entropy(h, torch.tensor(np.asarray(y), dtype=torch.long))
    loss.backward()
    return {name: leaf.grad.numpy() for name, leaf in leaves.items()}


def test_the_issues_small_mlp_passes_at_every_entry():
    """Sequential(Linear(50, 60), ReLU(), Linear(60, 10)), softmax cross-entropy, batch 16,
    float64, every entry: a correct model gets OK (it used to fail at a few tiny entries whose
    relative error is finite-difference noise)."""
    import nnkit
    from nnkit.layers import ReLU

    for seed in range(3):
        model = _mlp((50, 60, 10), ReLU, seed)
        rng = np.random.default_rng(100 + seed)
        x, y = rng.standard_normal((16, 50)), rng.integers(0, 10, 16)
        report = check_model(model, nnkit.softmax_cross_entropy, x, y, max_entries=None)
        assert report.ok, str(report)
        assert report.worst < 1e-8, str(report)  # far below the threshold, not just under it
        assert all(e.checked == e.size for e in report.entries.values())


@pytest.mark.parametrize(
    ("sizes", "activation", "batch", "dtype"),
    [
        ((5, 4, 3), "Tanh", 3, np.float64),
        ((50, 60, 10), "ReLU", 16, np.float32),
        ((30, 40, 40, 20), "Sigmoid", 8, np.float64),
        ((200, 300, 130), "ReLU", 64, np.float64),
        ((200, 300, 130), "Tanh", 64, np.float32),
    ],
)
def test_correct_models_pass_and_agree_with_torch(sizes, activation, batch, dtype):
    """A correct model of any size, float64 or float32 parameters, passes the default check;
    its backward equals torch's gradients, and so do the numerical gradients of the sampled
    entries, within the finite difference's error."""
    import nnkit
    from nnkit import layers

    model = _mlp(sizes, getattr(layers, activation), seed=len(sizes), dtype=dtype)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((batch, sizes[0])).astype(dtype)
    y = rng.integers(0, sizes[-1], batch)
    report = check_model(model, nnkit.softmax_cross_entropy, x, y)
    assert report.ok, str(report)
    exact = _torch_gradients(model, x, y)
    assert set(report.entries) == set(exact)
    for name, entry in report.entries.items():
        truth = exact[name].reshape(-1)
        if entry.indices is not None:
            truth = truth[entry.indices]
            assert entry.checked == 100 and entry.directions == 4, name
        scale = np.max(np.abs(exact[name]))
        assert np.allclose(entry.analytic.reshape(-1), truth, rtol=1e-9, atol=1e-12 * scale)
        assert np.max(np.abs(entry.numeric.reshape(-1) - truth)) <= 1e-7 * scale, name
    for ref in model.parameters():
        assert ref.data.dtype == dtype  # the check leaves the parameters' dtype alone


def test_the_default_check_of_a_large_model_is_repeatable():
    """rng=None is a fixed seed: the same entries, hence the same report, every time."""
    import nnkit
    from nnkit.layers import ReLU

    model = _mlp((200, 300, 130), ReLU, seed=0)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 200)), rng.integers(0, 130, 64)
    first = check_model(model, nnkit.softmax_cross_entropy, x, y)
    second = check_model(model, nnkit.softmax_cross_entropy, x, y)
    assert first.errors == second.errors
    assert np.array_equal(first["0.W"].indices, second["0.W"].indices)


@pytest.mark.parametrize(
    ("bug", "name", "named"),
    [
        ("sign", "W", "sign error"),
        ("double", "W", "2 times"),
        ("zero", "W", "all zeros"),
        ("transpose", "W", "transposed"),
        ("one_entry", "W", "not sampled are wrong"),
        ("bias_mean", "b", "1/N = 1/8"),
        ("bias_first_row", "b", "row 0"),
        ("nan", "W", "NaN/inf"),
    ],
)
def test_every_mutant_is_caught_and_named_when_entries_are_sampled(bug, name, named):
    """A layer too large to check every entry (W 120 × 120, b 120): each planted bug is still
    caught, and named, by the sampled entries or the random directions."""
    x = np.random.default_rng(1).standard_normal((8, 120))
    report = check_layer(Dense(120, 120, bug=bug, seed=3), x, rng=0)
    assert report[name].checked < report[name].size  # really sampled
    assert not report.ok and not report[name].ok
    assert named in report.diagnoses[name], report.diagnoses[name]
    assert check_layer(Dense(120, 120, seed=3), x, rng=0).ok  # and without the bug: OK


def test_a_check_with_bad_settings_says_what_to_pass():
    x = np.zeros((2, 4))
    with pytest.raises(ValueError, match="max_entries must be a positive int or None"):
        check_layer(Dense(4, 3), x, max_entries=0)
    with pytest.raises(ValueError, match="directions must be an int >= 0"):
        check_layer(Dense(4, 3), x, directions=-1)


def test_lesson_03_states_the_thresholds_of_the_code():
    """The lesson's gradient-checking paragraph gives the numbers the checker uses."""
    from pathlib import Path

    text = (Path(__file__).parents[2] / "tools" / "build_lessons" / "l03_backprop.py").read_text()
    paragraph = text[
        text.index("## 3. Gradient checking") : text.index("Write `numerical_gradient`")
    ]
    assert gradcheck.DEFAULT_H == 1e-5 and "h = 10^{-5}" in paragraph
    assert gradcheck.DEFAULT_TOL == 1e-7 and "10^{-7}" in paragraph
    assert gradcheck.NOISE_FACTOR == 100 and "100" in paragraph
    assert gradcheck.DEFAULT_MAX_ENTRIES == 100 and gradcheck.DEFAULT_DIRECTIONS == 4
    assert "100 entries" in paragraph and "4 random directions" in paragraph
    assert "check_model" in paragraph

"""Tests of nnkit.layers: gradients, Module interface, randomness, bad input, torch agreement."""

from __future__ import annotations

import numpy as np
import pytest

from nnkit.gradcheck import check_layer, check_model, rel_error
from nnkit.layers import (
    BatchNorm1d,
    Dropout,
    HardTanh,
    Identity,
    LeakyReLU,
    Linear,
    Module,
    ParamRef,
    ReLU,
    Sequential,
    Sigmoid,
    SoftmaxCrossEntropy,
    Softplus,
    Softsign,
    Tanh,
)
from nnkit.losses import softmax_cross_entropy
from nnkit.optim import SGD

TOL = 1e-7  # float64 gradient checks: every layer below stays under it


def batch(n=5, d=4, seed=0):
    x = np.random.default_rng(seed).standard_normal((n, d))
    # keep inputs away from the kinks of ReLU (0) and hard tanh (±1), where a centred
    # difference straddles the kink and is not a derivative
    for kink in (0.0, -1.0, 1.0):
        near = np.abs(x - kink) < 1e-3
        x[near] += 1e-2
    return x


def mlp(rng=0, p=0.2):
    return Sequential(
        Linear(4, 6, rng=rng, bias=False),  # a bias before batchnorm would be cancelled by it
        BatchNorm1d(6),
        ReLU(),
        Dropout(p, rng=rng),
        Linear(6, 3, rng=rng, init="xavier_uniform"),
    )


# ----------------------------------------------------------------------------------------------
# gradient checks


LAYERS = {
    "linear": lambda: Linear(4, 3, rng=1),
    "linear_no_bias": lambda: Linear(4, 3, rng=1, bias=False),
    "relu": ReLU,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "leaky_relu": lambda: LeakyReLU(0.1),
    "identity": Identity,
    "hard_tanh": HardTanh,
    "softsign": Softsign,
    "softplus": Softplus,
    "dropout_train": lambda: Dropout(0.3, rng=2),
    "dropout_eval": lambda: Dropout(0.3, rng=2).eval(),
    "batchnorm_train": lambda: BatchNorm1d(4),
    "batchnorm_eval": lambda: _warm_batchnorm().eval(),
    "mlp_train": mlp,
    "mlp_eval": lambda: mlp().eval(),
}


def _warm_batchnorm():
    bn = BatchNorm1d(4)
    bn.params["gamma"][:] = [0.5, 1.5, -1.0, 2.0]
    bn.params["beta"][:] = [0.1, -0.2, 0.3, 0.0]
    for seed in range(3):
        bn.forward(batch(8, seed=10 + seed) * 2 + 1)
    return bn


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_every_layer_passes_a_gradient_check(name):
    """Does every layer's backward agree with centred differences to 1e-7 in float64?"""
    layer = LAYERS[name]()
    if isinstance(layer, BatchNorm1d) and layer.training:
        layer.params["gamma"][:] = [0.5, 1.5, -1.0, 2.0]
    report = check_layer(layer, batch(), rng=3)
    assert report.ok, str(report)
    assert report.worst <= TOL
    assert all(d is None for d in report.diagnoses.values())
    expected = {"x"} | {n for n, _ in layer.named_parameters()}
    assert set(report.errors) == expected


def test_check_layer_on_batchnorm_agrees_with_an_independent_loop():
    """check_layer's numbers for training-mode batchnorm equal a plain centred-difference loop."""
    x = batch(6)
    dout = np.random.default_rng(4).standard_normal((6, 4))
    layer = BatchNorm1d(4)
    layer.params["gamma"][:] = [0.5, 1.5, -1.0, 2.0]
    report = check_layer(layer, x, dout=dout)

    def loss(v, gamma):
        mu = v.mean(axis=0)
        var = v.var(axis=0)
        return np.sum((gamma * (v - mu) / np.sqrt(var + 1e-5)) * dout)

    gamma = layer.params["gamma"].copy()
    numeric = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[i] += 1e-5
        minus[i] -= 1e-5
        numeric[i] = (loss(plus, gamma) - loss(minus, gamma)) / 2e-5
    assert np.allclose(report["x"].numeric, numeric, rtol=1e-5, atol=1e-8)
    assert rel_error(report["x"].analytic, numeric) <= TOL
    assert np.array_equal(layer.buffers["running_mean"], np.zeros(4))  # check left them alone


def test_dropout_gradient_uses_the_forward_mask():
    """dx = dout * mask / (1 - p) with the very mask of the forward pass."""
    layer = Dropout(0.5, rng=0)
    x = batch(20, 6)
    out = layer(x)
    keep = out != 0
    dx = layer.backward(np.ones_like(x))
    assert np.array_equal(dx, keep / 0.5)
    assert np.allclose(out, x * keep / 0.5)


def test_model_gradient_check_with_softmax_cross_entropy():
    """A whole MLP (batchnorm and dropout in training mode) under softmax cross-entropy."""
    x = batch(8)
    y = np.array([0, 1, 2, 1, 0, 2, 2, 1])
    model = mlp()
    report = check_model(model, SoftmaxCrossEntropy(), x, y)
    assert report.ok, str(report)
    report = check_model(model, softmax_cross_entropy, x, y)
    assert report.ok, str(report)


def test_softmax_cross_entropy_object_matches_the_function():
    logits = batch(5, 3)
    y = np.array([0, 2, 1, 1, 0])
    loss_fn = SoftmaxCrossEntropy()
    with pytest.raises(RuntimeError, match="before forward"):
        loss_fn.backward()
    loss, dlogits = softmax_cross_entropy(logits, y)
    assert loss_fn(logits, y) == loss
    assert np.array_equal(loss_fn.backward(), dlogits)


# ----------------------------------------------------------------------------------------------
# Module interface


def test_parameters_are_named_by_position_and_are_the_arrays_themselves():
    model = mlp()
    names = [name for name, _ in model.named_parameters()]
    assert names == ["0.W", "1.gamma", "1.beta", "4.W", "4.b"]
    refs = model.parameters()
    assert all(isinstance(r, ParamRef) for r in refs)
    assert refs[0].data is model[0].params["W"]
    assert refs[0].grad is None
    assert model[0].params["W"].shape == (6, 4) and "b" not in model[0].params
    assert Linear(4, 6, rng=0).params["b"].shape == (6,)
    assert "running_mean" not in {n.split(".")[-1] for n in names}


def test_backward_assigns_gradients_without_copies_and_sgd_updates_in_place():
    """grads are assigned by backward; ParamRef.grad is that array; an optimizer step is seen."""
    model = mlp(p=0.0)
    x, y = batch(8), np.array([0, 1, 2, 1, 0, 2, 2, 1])
    loss_fn = SoftmaxCrossEntropy()
    loss_fn(model(x), y)
    model.backward(loss_fn.backward())
    refs = dict(model.named_parameters())
    assert refs["0.W"].grad is model[0].grads["W"]
    assert refs["1.gamma"].grad is model[1].grads["gamma"]
    W = model[0].params["W"]
    expected = W - 0.1 * model[0].grads["W"]
    SGD(model.parameters(), lr=0.1).step()
    assert model[0].params["W"] is W
    assert np.allclose(W, expected)


def test_zero_grad_clears_or_zeros():
    model = mlp()
    loss_fn = SoftmaxCrossEntropy()
    loss_fn(model(batch(8)), np.zeros(8, dtype=int))
    model.backward(loss_fn.backward())
    model.zero_grad(set_to_none=False)
    assert all(np.all(r.grad == 0) for r in model.parameters())
    model.zero_grad()
    assert all(r.grad is None for r in model.parameters())
    ref = model.parameters()[0]
    ref.grad = np.ones((6, 4))
    assert model[0].grads["W"] is ref.grad


def test_train_and_eval_recurse_and_return_self():
    model = mlp()
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    assert model.train() is model
    assert all(m.training for m in model.modules())
    assert model.train(False) is model and not model[3].training
    with pytest.raises(TypeError, match="mode"):
        model.train("eval")


def test_state_dict_copies_parameters_and_buffers():
    """state_dict holds copies of params and running stats; load_state_dict restores them."""
    model = mlp()
    model(batch(8))  # moves the running statistics
    state = model.state_dict()
    assert set(state) == {
        "0.W",
        "1.gamma",
        "1.beta",
        "1.running_mean",
        "1.running_var",
        "4.W",
        "4.b",
    }
    assert not np.shares_memory(state["0.W"], model[0].params["W"])
    other = mlp(rng=99)
    W_before = other[0].params["W"]
    other.load_state_dict(state)
    assert other[0].params["W"] is W_before  # copied in place
    for key, value in other.state_dict().items():
        assert np.array_equal(value, state[key]), key
    bad = dict(state)
    bad["0.W"] = np.zeros((4, 6))
    with pytest.raises(ValueError, match=r"state\['0.W'\] has shape"):
        other.load_state_dict(bad)
    with pytest.raises(KeyError, match="missing keys"):
        other.load_state_dict({k: v for k, v in state.items() if k != "4.b"})
    with pytest.raises(KeyError, match="unexpected keys"):
        other.load_state_dict(state | {"0.b": np.zeros(6)})


def test_repr_shows_the_structure():
    text = repr(mlp())
    assert "(0): Linear(in_features=4, out_features=6" in text
    assert "(3): Dropout(p=0.2)" in text and "BatchNorm1d(6" in text


def test_batchnorm_running_statistics_are_buffers_used_in_eval():
    bn = BatchNorm1d(3)
    x = batch(10, 3) * 3 + 2
    bn(x)
    assert set(bn.buffers) == {"running_mean", "running_var"}
    assert set(bn.params) == {"gamma", "beta"}
    assert np.allclose(bn.buffers["running_mean"], 0.1 * x.mean(axis=0))
    assert np.allclose(bn.buffers["running_var"], 0.9 + 0.1 * x.var(axis=0, ddof=1))
    bn.eval()
    single = bn(x[:1])  # evaluation works on one sample and uses the running stats
    expected = (x[:1] - bn.buffers["running_mean"]) / np.sqrt(bn.buffers["running_var"] + 1e-5)
    assert np.allclose(single, expected)


def test_dropout_is_the_identity_in_eval_and_keeps_about_1_minus_p():
    layer = Dropout(0.3, rng=0)
    x = np.ones((200, 100))
    kept = np.mean(layer(x) != 0)
    assert abs(kept - 0.7) < 0.01  # 20000 Bernoulli(0.7): std 0.0032
    layer.eval()
    assert np.array_equal(layer(x), x)
    assert np.array_equal(layer.backward(x * 2), x * 2)


# ----------------------------------------------------------------------------------------------
# randomness


def test_no_global_random_state():
    """Same seed → same init and masks, whatever np.random's global seed; global state unused."""

    def build(seed):
        lin, drop = Linear(5, 4, rng=seed), Dropout(0.5, rng=seed)
        return lin.params["W"].copy(), drop(np.ones((6, 5)))

    np.random.seed(1)  # noqa: NPY002
    global_state = np.random.get_state()[1].copy()  # noqa: NPY002
    W1, m1 = build(7)
    Linear(5, 4)  # rng=None: fresh OS entropy, still not the global state
    Dropout(0.5)(np.ones((3, 3)))
    assert np.array_equal(np.random.get_state()[1], global_state)  # noqa: NPY002
    np.random.seed(2)  # noqa: NPY002
    W2, m2 = build(7)
    assert np.array_equal(W1, W2) and np.array_equal(m1, m2)
    W3, m3 = build(8)
    assert not np.array_equal(W1, W3) and not np.array_equal(m1, m3)
    assert np.array_equal(
        Linear(5, 4, rng=np.random.default_rng(5)).params["W"], Linear(5, 4, rng=5).params["W"]
    )


def test_successive_dropout_masks_differ():
    layer = Dropout(0.5, rng=0)
    x = np.ones((10, 10))
    assert not np.array_equal(layer(x), layer(x))


# ----------------------------------------------------------------------------------------------
# bad input


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match=r"expected input x of shape \(N, 4\).*in_features=4"):
        Linear(4, 3, rng=0)(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"in_features"):
        Linear(4, 3, rng=0)(np.zeros(4))
    with pytest.raises(
        ValueError, match=r"dropout probability has to be between 0 and 1, but got 1\.5"
    ):
        Dropout(1.5)
    with pytest.raises(ValueError, match="but got 1"):
        Dropout(1)
    with pytest.raises(ValueError, match=r"but got -0\.1"):
        Dropout(-0.1)
    with pytest.raises(TypeError, match="dropout probability p"):
        Dropout("0.5")
    with pytest.raises(ValueError, match="unknown init 'he'"):
        Linear(4, 3, init="he")
    with pytest.raises(ValueError, match="in_features must be a positive int, got 0"):
        Linear(0, 3)
    with pytest.raises(TypeError, match="out_features must be a positive int"):
        Linear(3, 2.5)
    with pytest.raises(ValueError, match="num_features must be a positive int"):
        BatchNorm1d(-2)
    with pytest.raises(ValueError, match=r"BatchNorm1d expected input x of shape \(N, 3\)"):
        BatchNorm1d(3)(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="momentum"):
        BatchNorm1d(3, momentum=1.5)
    with pytest.raises(TypeError, match="Sequential takes Module instances, got ufunc"):
        Sequential(Linear(2, 2), np.tanh)
    with pytest.raises(RuntimeError, match=r"Linear\.backward called before forward"):
        Linear(2, 2).backward(np.zeros((1, 2)))
    with pytest.raises(NotImplementedError):
        Module()(np.zeros(1))


# ----------------------------------------------------------------------------------------------
# agreement with torch (float64)


def test_linear_matches_torch():
    torch = pytest.importorskip("torch")
    layer = Linear(5, 3, rng=0)
    x = batch(4, 5)
    dout = np.random.default_rng(1).standard_normal((4, 3))
    ref = torch.nn.Linear(5, 3, dtype=torch.float64)
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(layer.params["W"]))
        ref.bias.copy_(torch.from_numpy(layer.params["b"]))
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    out_t = ref(xt)
    out_t.backward(torch.from_numpy(dout))
    out = layer(x)
    dx = layer.backward(dout)
    assert np.allclose(out, out_t.detach().numpy(), rtol=1e-12, atol=1e-12)
    assert np.allclose(dx, xt.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert np.allclose(layer.grads["W"], ref.weight.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert np.allclose(layer.grads["b"], ref.bias.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_dropout_matches_torch_given_the_same_mask():
    """Given torch's mask (read off its zeros), are output and gradient torch's?"""
    torch = pytest.importorskip("torch")
    p = 0.3
    x = batch(30, 8) + 5.0  # no zeros in x, so the zeros of torch's output are its dropped units
    dout = np.random.default_rng(2).standard_normal(x.shape)
    torch.manual_seed(0)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    out_t = torch.nn.functional.dropout(xt, p=p, training=True)
    out_t.backward(torch.from_numpy(dout))
    keep = (out_t != 0).numpy()
    assert 0.5 < keep.mean() < 0.9
    layer = Dropout(p, rng=0)
    layer.mask = keep
    assert np.allclose(layer(x), out_t.detach().numpy(), rtol=1e-12, atol=0)
    assert np.allclose(layer.backward(dout), xt.grad.numpy(), rtol=1e-12, atol=0)


def test_batchnorm_matches_torch_in_training_and_evaluation():
    """Outputs, running statistics over several batches, and all gradients, train then eval."""
    torch = pytest.importorskip("torch")
    bn = BatchNorm1d(4, momentum=0.2)
    ref = torch.nn.BatchNorm1d(4, momentum=0.2, eps=1e-5, dtype=torch.float64)
    gamma = np.array([0.5, 1.5, -1.0, 2.0])
    beta = np.array([0.1, -0.2, 0.3, 0.0])
    bn.params["gamma"][:] = gamma
    bn.params["beta"][:] = beta
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(gamma))
        ref.bias.copy_(torch.from_numpy(beta))
    rng = np.random.default_rng(0)
    for mode in ("train", "train", "train", "eval"):
        bn.train(mode == "train")
        ref.train(mode == "train")
        x = rng.standard_normal((7, 4)) * 2 + 3
        dout = rng.standard_normal((7, 4))
        ref.zero_grad()
        xt = torch.from_numpy(x.copy()).requires_grad_(True)
        out_t = ref(xt)
        out_t.backward(torch.from_numpy(dout))
        out = bn(x)
        dx = bn.backward(dout)
        assert np.allclose(out, out_t.detach().numpy(), rtol=1e-10, atol=1e-12), mode
        assert np.allclose(dx, xt.grad.numpy(), rtol=1e-9, atol=1e-12), mode
        assert np.allclose(bn.grads["gamma"], ref.weight.grad.numpy(), rtol=1e-10, atol=1e-12)
        assert np.allclose(bn.grads["beta"], ref.bias.grad.numpy(), rtol=1e-10, atol=1e-12)
        assert np.allclose(bn.buffers["running_mean"], ref.running_mean.numpy(), rtol=1e-12)
        assert np.allclose(bn.buffers["running_var"], ref.running_var.numpy(), rtol=1e-12)


def test_a_bias_before_batchnorm_is_diagnosed_as_a_zero_gradient():
    """Batchnorm cancels the bias before it: the check says the gradient is 0, not a bug."""
    model = Sequential(Linear(4, 6, rng=0), BatchNorm1d(6))
    report = check_layer(model, batch(), rng=3)
    diag = report.diagnoses["0.b"]
    assert diag is None or "zero up to round-off" in diag
    assert np.max(np.abs(report["0.b"].numeric)) < 1e-7
    assert all(d is None for name, d in report.diagnoses.items() if name != "0.b")


def test_input_grad_false_skips_only_the_input_gradient():
    """Training mode of backward: same parameter gradients, no dL/dx (returns None)."""
    x, y = batch(8), np.array([0, 1, 2, 1, 0, 2, 2, 1])
    grads = []
    for input_grad in (True, False):
        model = Sequential(Linear(4, 6, rng=0), Tanh(), Linear(6, 3, rng=1))
        loss_fn = SoftmaxCrossEntropy()
        loss_fn(model(x), y)
        dx = model.backward(loss_fn.backward(), input_grad=input_grad)
        assert (dx is None) == (not input_grad)
        grads.append({name: ref.grad.copy() for name, ref in model.named_parameters()})
    for name in grads[0]:
        assert np.array_equal(grads[0][name], grads[1][name]), name
    with pytest.raises(ValueError, match="expected dout of shape"):
        layer = Linear(4, 3, rng=0)
        layer(x)
        layer.backward(np.zeros((8, 2)), input_grad=False)


@pytest.mark.parametrize(
    ("layer", "kink"), [(ReLU(), 0.0), (LeakyReLU(0.2), 0.0), (HardTanh(), 1.0)]
)
def test_kinked_layers_report_a_false_alarm_next_to_the_kink(layer, kink):
    """Inputs closer to a kink than the check's smallest step (h/100) fail the numeric check;
    the diagnosis says it is not a bug."""
    x = batch()
    x[0, 0] = kink + 4e-8
    x[2, 3] = kink - 2e-8
    report = check_layer(layer, x, rng=0)
    assert not report.ok
    assert report.diagnoses["x"].startswith("false alarm")


def test_layers_train_a_classifier_with_fit_and_adam():
    """End to end: layers + SoftmaxCrossEntropy + Adam + nnkit.fit learn the spirals."""
    from nnkit.data import make_spirals
    from nnkit.optim import Adam
    from nnkit.training import fit

    X, y = make_spirals(100, 3, rng=0)
    model = Sequential(
        Linear(2, 64, rng=0, bias=False),
        BatchNorm1d(64),
        ReLU(),
        Dropout(0.1, rng=1),
        Linear(64, 3, rng=2),
    )
    fit(
        model,
        SoftmaxCrossEntropy(),
        Adam(model.parameters(), lr=0.01),
        X,
        y,
        100,
        32,
        rng=0,
        progress=False,
    )
    model.eval()
    assert np.mean(model(X).argmax(axis=1) == y) >= 0.9  # chance is 1/3
    assert not np.allclose(model[1].buffers["running_mean"], 0)

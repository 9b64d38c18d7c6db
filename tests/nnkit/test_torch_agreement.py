"""Does nnkit agree with PyTorch (float64, autograd) on every operation both libraries have?"""

from __future__ import annotations

import numpy as np
import pytest

import nnkit
from nnkit import activations as A
from nnkit import functional as Fn
from nnkit import losses as L
from nnkit import mlp as M
from nnkit import regularization as R
from nnkit import signals as S

torch = pytest.importorskip("torch")
TF = torch.nn.functional

RTOL, ATOL = 1e-12, 1e-14


def t(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def close(ours, theirs, rtol=RTOL, atol=ATOL):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    np.testing.assert_allclose(np.asarray(ours), theirs, rtol=rtol, atol=atol)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def activation_input(rng):
    a = rng.normal(size=(6, 5)) * 3
    a[0, :] = [0.0, 1.0, -1.0, 40.0, -40.0]  # kinks and saturation
    return a


TORCH_ACTIVATIONS = {
    "identity": lambda x: x * 1.0,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu": lambda x: TF.leaky_relu(x, 0.01),
    "hard_tanh": TF.hardtanh,
    "softsign": TF.softsign,
    "softplus": TF.softplus,
}


@pytest.mark.parametrize("name", list(TORCH_ACTIVATIONS))
def test_activations_and_derivatives_match_autograd(name, rng):
    """Values and derivatives (including the kink conventions) agree with torch autograd."""
    fn, grad = A.get_activation(name)
    a = activation_input(rng)
    x = t(a, grad=True)
    y = TORCH_ACTIVATIONS[name](x)
    y.sum().backward()
    # torch's softplus returns x itself above 20 (ours is exact); sigmoid'(±40) ~ 4e-18 where
    # torch forms s(1 - s) = 0: absolute tolerances well below anything a test could notice
    close(fn(a), y, atol=3e-9 if name == "softplus" else ATOL)
    close(grad(a), x.grad, atol=1e-15)


def test_leaky_relu_with_another_slope_matches_torch(rng):
    a = activation_input(rng)
    x = t(a, grad=True)
    TF.leaky_relu(x, 0.2).sum().backward()
    close(A.leaky_relu(a, 0.2), TF.leaky_relu(t(a), 0.2))
    close(A.leaky_relu_grad(a, 0.2), x.grad)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "softplus", "hard_tanh"])
def test_functional_activation_backward_matches_autograd(name, rng):
    forward = getattr(Fn, f"{name}_forward")
    backward = getattr(Fn, f"{name}_backward")
    a = activation_input(rng)
    dout = rng.normal(size=a.shape)
    x = t(a, grad=True)
    TORCH_ACTIVATIONS[name](x).backward(t(dout))
    _, cache = forward(a)
    close(backward(dout, cache), x.grad, atol=1e-15)


def test_softmax_and_log_softmax_match_torch(rng):
    z = rng.normal(size=(2, 3, 6)) * 20
    close(L.softmax(z), torch.softmax(t(z), dim=-1), atol=1e-300)
    close(L.log_softmax(z), torch.log_softmax(t(z), dim=-1))


def test_softmax_jacobian_matches_autograd_jacobian(rng):
    z = rng.normal(size=5)
    J = torch.autograd.functional.jacobian(lambda v: torch.softmax(v, dim=0), t(z))
    close(L.softmax_jacobian(z), J)


def test_softmax_cross_entropy_matches_f_cross_entropy(rng):
    logits = rng.normal(size=(9, 5)) * 4
    logits[0] = [500.0, -500.0, 0.0, 1.0, 2.0]
    y = rng.integers(0, 5, size=9)
    y[0] = 1
    x = t(logits, grad=True)
    ref = TF.cross_entropy(x, torch.tensor(y))
    ref.backward()
    loss, dlogits = L.softmax_cross_entropy(logits, y)
    close(loss, ref)
    close(dlogits, x.grad)


def test_cross_entropy_matches_nll_of_log_probs(rng):
    probs = L.softmax(rng.normal(size=(7, 4)))
    y = rng.integers(0, 4, size=7)
    close(L.cross_entropy(probs, y), TF.nll_loss(torch.log(t(probs)), torch.tensor(y)))


@pytest.mark.parametrize("soft", [False, True])
def test_bce_with_logits_matches_torch(soft, rng):
    logits = rng.normal(size=(6, 3)) * 5
    logits[0] = [1000.0, -1000.0, 0.0]
    y = rng.uniform(size=(6, 3)) if soft else rng.integers(0, 2, size=(6, 3)).astype(float)
    x = t(logits, grad=True)
    ref = TF.binary_cross_entropy_with_logits(x, t(y))
    ref.backward()
    loss, dlogits = L.binary_cross_entropy_with_logits(logits, y)
    close(loss, ref)
    close(dlogits, x.grad)


def test_max_margin_loss_matches_margin_ranking_loss_including_the_kink(rng):
    s = rng.normal(size=8)
    s_c = rng.normal(size=8)
    s[:2], s_c[:2] = [2.0, 0.5], [1.0, -0.5]  # exactly at the hinge: margin + s_c - s == 0
    ts, tc = t(s, grad=True), t(s_c, grad=True)
    ref = TF.margin_ranking_loss(ts, tc, torch.ones(8, dtype=torch.float64), margin=1.0)
    ref.backward()
    loss, ds, ds_c = L.max_margin_loss(s, s_c)
    close(loss, ref)
    close(ds, ts.grad)
    close(ds_c, tc.grad)


def test_mse_loss_matches_torch(rng):
    pred, target = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    x = t(pred, grad=True)
    ref = TF.mse_loss(x, t(target))
    ref.backward()
    loss, dpred = L.mse_loss(pred, target)
    close(loss, ref)
    close(dpred, x.grad)


def test_linear_matches_f_linear_and_its_gradients(rng):
    x, W, b = rng.normal(size=(5, 4)), rng.normal(size=(3, 4)), rng.normal(size=3)
    dout = rng.normal(size=(5, 3))
    tx, tW, tb = t(x, True), t(W, True), t(b, True)
    ref = TF.linear(tx, tW, tb)
    ref.backward(t(dout))
    out, cache = Fn.linear_forward(x, W, b)
    dx, dW, db = Fn.linear_backward(dout, cache)
    close(out, ref)
    close(dx, tx.grad)
    close(dW, tW.grad)
    close(db, tb.grad)


def test_dropout_given_torch_mask_matches_torch(rng):
    """Draw a mask with torch's dropout on ones, then compare outputs and gradients."""
    p = 0.3
    x = rng.normal(size=(8, 10))
    dout = rng.normal(size=x.shape)
    torch.manual_seed(0)
    mask = (TF.dropout(torch.ones(8, 10, dtype=torch.float64), p, training=True) != 0).numpy()
    torch.manual_seed(0)
    tx = t(x, True)
    ref = TF.dropout(tx, p, training=True)
    ref.backward(t(dout))
    assert 0 < mask.sum() < mask.size
    out, cache = Fn.dropout_forward(x, p, True, mask=mask)
    close(out, ref)
    close(Fn.dropout_backward(dout, cache), tx.grad)
    ev, _ = Fn.dropout_forward(x, p, False, 0)
    close(ev, TF.dropout(t(x), p, training=False))


@pytest.mark.parametrize("backward", [Fn.batchnorm_backward, Fn.batchnorm_backward_alt])
def test_batchnorm_matches_batchnorm1d_over_several_steps(backward, rng):
    """Training steps with a changing batch, then evaluation: outputs, running stats, grads."""
    d = 4
    gamma, beta = rng.normal(size=d), rng.normal(size=d)
    bn = torch.nn.BatchNorm1d(d, momentum=0.1, eps=1e-5).double()
    with torch.no_grad():
        bn.weight.copy_(t(gamma))
        bn.bias.copy_(t(beta))
    state = {}
    for step in range(4):
        x = rng.normal(size=(7, d)) * (1 + step) + step
        dout = rng.normal(size=x.shape)
        bn.train()
        bn.zero_grad()
        tx = t(x, True)
        ref = bn(tx)
        ref.backward(t(dout))
        out, cache = Fn.batchnorm_forward(x, gamma, beta, state, True)
        dx, dgamma, dbeta = backward(dout, cache)
        close(out, ref)
        close(state["running_mean"], bn.running_mean)
        close(state["running_var"], bn.running_var)
        close(dx, tx.grad, atol=1e-13)
        close(dgamma, bn.weight.grad, atol=1e-13)
        close(dbeta, bn.bias.grad, atol=1e-13)
    bn.eval()
    bn.zero_grad()
    x = rng.normal(size=(3, d))
    dout = rng.normal(size=x.shape)
    tx = t(x, True)
    ref = bn(tx)
    ref.backward(t(dout))
    before = {k: v.copy() for k, v in state.items()}
    out, cache = Fn.batchnorm_forward(x, gamma, beta, state, False)
    dx, dgamma, dbeta = backward(dout, cache)
    close(out, ref)
    close(dx, tx.grad)
    close(dgamma, bn.weight.grad)
    close(dbeta, bn.bias.grad)
    close(state["running_var"], before["running_var"], rtol=0, atol=0)


def test_mlp_loss_matches_autograd(rng):
    params = M.init_mlp(4, 6, 3, rng)
    X, y = rng.normal(size=(8, 4)), rng.integers(0, 3, size=8)
    tp = {k: t(v, True) for k, v in params.items()}
    scores = TF.linear(torch.relu(TF.linear(t(X), tp["W1"], tp["b1"])), tp["W2"], tp["b2"])
    ref = TF.cross_entropy(scores, torch.tensor(y)) + 0.05 * (
        (tp["W1"] ** 2).sum() + (tp["W2"] ** 2).sum()
    )
    ref.backward()
    loss, grads = M.mlp_loss(params, X, y, reg=0.05)
    close(loss, ref)
    for key in params:
        close(grads[key], tp[key].grad)


@pytest.mark.parametrize("name", ["relu", "tanh", "sigmoid", "leaky_relu"])
def test_gradient_norms_match_autograd(name, rng):
    X = rng.normal(size=(16, 6))
    y = rng.integers(0, 3, size=16)
    weights = [rng.normal(size=s) for s in [(8, 6), (8, 8), (3, 8)]]
    tws = [t(W, True) for W in weights]
    h = t(X)
    for W in tws[:-1]:
        h = TORCH_ACTIVATIONS[name](h @ W.T)
    TF.cross_entropy(h @ tws[-1].T, torch.tensor(y)).backward()
    expected = [float(torch.linalg.norm(W.grad)) for W in tws]
    fn, _ = A.get_activation(name)
    np.testing.assert_allclose(S.gradient_norms(X, y, weights, fn), expected, rtol=1e-12)


def test_penalty_gradients_match_autograd(rng):
    params = {"W1": rng.normal(size=(3, 4)), "b1": rng.normal(size=3), "W2": rng.normal(size=4)}
    tp = {k: t(v, True) for k, v in params.items()}
    l2 = 0.3 * sum((tp[k] ** 2).sum() for k in ("W1", "W2"))
    l1 = 0.2 * sum(tp[k].abs().sum() for k in ("W1", "W2"))
    l2_value, l2_grads = R.l2_penalty(params, 0.3)
    close(l2_value, l2)
    l2.backward()
    for key in ("W1", "W2"):
        close(l2_grads[key], tp[key].grad)
        tp[key].grad = None
    l1_value, l1_grads = R.l1_penalty(params, 0.2)
    close(l1_value, l1)
    l1.backward()
    for key in ("W1", "W2"):
        close(l1_grads[key], tp[key].grad)


def test_nnkit_itself_never_imports_torch():
    """The library must run without torch: no nnkit module may have torch among its globals."""
    import sys

    for name, module in list(sys.modules.items()):
        if name == "nnkit" or name.startswith("nnkit."):
            assert "torch" not in vars(module), name
    assert nnkit.softmax is L.softmax

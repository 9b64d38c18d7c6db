"""Do the optimizers behave as the lesson says, independently of torch?"""

from __future__ import annotations

import numpy as np
import pytest

import nnkit
from nnkit import optim
from nnkit._guard import ReferenceCallError, forbid

STEP_FUNCTIONS = [
    optim.sgd_step,
    optim.momentum_step,
    optim.nesterov_step,
    optim.velocity_momentum_step,
    optim.adagrad_step,
    optim.rmsprop_step,
    optim.adam_step,
]
CLASSES = [
    (optim.SGD, {"lr": 0.1, "momentum": 0.9}),
    (optim.Adagrad, {}),
    (optim.RMSprop, {}),
    (optim.Adam, {}),
    (optim.AdamW, {}),
]


def _quadratic_grad(w):
    """Gradient of ½ Σ k·w_k² with curvatures 1..n along the flattened array."""
    return np.arange(1, w.size + 1, dtype=w.dtype).reshape(w.shape) * w


@pytest.mark.parametrize("step", STEP_FUNCTIONS, ids=lambda f: f.__name__)
def test_step_function_leaves_inputs_untouched(step):
    """Does a step function leave w, dw and the incoming state unmodified?"""
    rng = np.random.default_rng(0)
    w, dw = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    w_copy, dw_copy = w.copy(), dw.copy()
    new_w, state = step(w, dw, None)
    assert new_w is not w
    np.testing.assert_array_equal(w, w_copy)
    np.testing.assert_array_equal(dw, dw_copy)
    assert not np.array_equal(new_w, w)
    if state is not None:
        snapshot = {k: np.copy(v) for k, v in state.items()}
        step(new_w, dw, state)
        for key, value in snapshot.items():
            np.testing.assert_array_equal(state[key], value)


@pytest.mark.parametrize("step", STEP_FUNCTIONS, ids=lambda f: f.__name__)
def test_step_function_keeps_float32(step):
    """Does float32 input give a float32 result of the same shape?"""
    w = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    state = None
    for _ in range(3):
        w, state = step(w, _quadratic_grad(w), state)
    assert w.dtype == np.float32 and w.shape == (2, 3)


@pytest.mark.parametrize("step", STEP_FUNCTIONS, ids=lambda f: f.__name__)
def test_step_function_descends_a_quadratic(step):
    """Does every rule, at its default settings, lower a convex quadratic over 300 steps?"""
    w = np.array([1.0, -2.0, 0.5])
    loss0 = 0.5 * np.sum(np.arange(1, 4) * w**2)
    state = None
    for _ in range(300):
        w, state = step(w, _quadratic_grad(w), state)
    assert 0.5 * np.sum(np.arange(1, 4) * w**2) < 0.9 * loss0


def test_sgd_step_is_w_minus_lr_g():
    """Plain SGD: θ − η g, with no state."""
    w, g = np.array([1.0, 2.0]), np.array([0.5, -4.0])
    new_w, state = optim.sgd_step(w, g, None, lr=0.1)
    np.testing.assert_array_equal(new_w, [0.95, 2.4])
    assert state is None


def test_velocity_form_equals_momentum_step():
    """The slides' v ← μv − ηg; θ ← θ + v traces the same path as torch's buffer form."""
    rng = np.random.default_rng(3)
    w_a = w_b = rng.standard_normal(5)
    s_a = s_b = None
    for _ in range(100):
        w_a, s_a = optim.momentum_step(w_a, _quadratic_grad(w_a), s_a, lr=0.05, momentum=0.8)
        w_b, s_b = optim.velocity_momentum_step(
            w_b, _quadratic_grad(w_b), s_b, lr=0.05, momentum=0.8
        )
        np.testing.assert_allclose(w_a, w_b, rtol=0, atol=1e-13)
    np.testing.assert_allclose(s_b["v"], -0.05 * s_a["buf"], rtol=0, atol=1e-13)


def test_momentum_first_step_is_plain_sgd():
    """Torch's first momentum step sets the buffer to g, so it moves exactly like SGD."""
    w, g = np.array([1.0, -1.0]), np.array([3.0, 0.25])
    np.testing.assert_array_equal(
        optim.momentum_step(w, g, None, lr=0.1)[0], optim.sgd_step(w, g, None, lr=0.1)[0]
    )


def test_nesterov_two_steps_by_hand():
    """Nesterov: b₁ = g₁, θ₁ = θ₀ − η(g₁ + μg₁); b₂ = μb₁ + g₂, θ₂ = θ₁ − η(g₂ + μb₂)."""
    lr, mu = 0.1, 0.9
    w0, g1, g2 = np.array([1.0]), np.array([2.0]), np.array([-1.0])
    w1, s = optim.nesterov_step(w0, g1, None, lr=lr, momentum=mu)
    w2, _ = optim.nesterov_step(w1, g2, s, lr=lr, momentum=mu)
    b2 = mu * g1 + g2
    np.testing.assert_allclose(w1, w0 - lr * (g1 + mu * g1))
    np.testing.assert_allclose(w2, w1 - lr * (g2 + mu * b2))


def test_adam_first_step_is_lr_times_sign():
    """With bias correction, Adam's first step has size η·|g|/(|g| + ε) ≈ η in every coordinate."""
    w, g = np.zeros(4), np.array([1e-3, -5.0, 40.0, -0.2])
    new_w, state = optim.adam_step(w, g, None, lr=0.01)
    np.testing.assert_allclose(new_w, -0.01 * g / (np.abs(g) + 1e-8), rtol=1e-12)
    assert state["t"] == 1


def test_adagrad_and_rmsprop_first_steps_by_hand():
    """Adagrad: η g/(|g|+ε); RMSprop: η g/(√(1−α)|g| + ε) on the first step."""
    w, g = np.zeros(3), np.array([0.5, -2.0, 3.0])
    np.testing.assert_allclose(
        optim.adagrad_step(w, g, None, lr=0.1)[0], -0.1 * g / (np.abs(g) + 1e-10), rtol=1e-14
    )
    np.testing.assert_allclose(
        optim.rmsprop_step(w, g, None, lr=0.1, alpha=0.9)[0],
        -0.1 * g / (np.sqrt(0.1) * np.abs(g) + 1e-8),
        rtol=1e-14,
    )


@pytest.mark.parametrize(
    ("step", "cls", "step_kwargs", "cls_kwargs"),
    [
        (optim.sgd_step, optim.SGD, {"lr": 0.05}, {"lr": 0.05}),
        (optim.momentum_step, optim.SGD, {}, {"lr": 0.01, "momentum": 0.9}),
        (optim.nesterov_step, optim.SGD, {}, {"lr": 0.01, "momentum": 0.9, "nesterov": True}),
        (optim.adagrad_step, optim.Adagrad, {}, {}),
        (optim.rmsprop_step, optim.RMSprop, {}, {}),
        (optim.adam_step, optim.Adam, {"lr": 0.01}, {"lr": 0.01}),
    ],
)
def test_class_agrees_with_step_function(step, cls, step_kwargs, cls_kwargs):
    """The in-place class and the pure step function are two spellings of one rule."""
    rng = np.random.default_rng(7)
    w = rng.standard_normal((3, 2))
    p = optim.Param(w)
    opt = cls([p], **cls_kwargs)
    state = None
    for _ in range(40):
        w, state = step(w, _quadratic_grad(w), state, **step_kwargs)
        p.grad = _quadratic_grad(p.data)
        opt.step()
    np.testing.assert_allclose(p.data, w, rtol=1e-12, atol=1e-14)


class _DuckParam:
    """What nnkit.layers hands out: an object with .data, .grad and .name (no Param involved)."""

    def __init__(self, data):
        self.data, self.grad, self.name = data, None, "W"


@pytest.mark.parametrize(("cls", "kwargs"), CLASSES, ids=lambda c: getattr(c, "__name__", ""))
def test_class_updates_data_in_place_and_skips_missing_grads(cls, kwargs):
    """Is .data changed in place (views see it), and is a parameter with grad None left alone?"""
    owner = {"W": np.ones((2, 2)), "b": np.ones(2)}
    view = owner["W"]
    w, b = _DuckParam(owner["W"]), _DuckParam(owner["b"])
    opt = cls([w, b], **kwargs)
    w.grad = np.full((2, 2), 0.5)
    opt.step()
    assert w.data is view and owner["W"] is view
    assert np.all(view < 1.0)
    np.testing.assert_array_equal(owner["b"], np.ones(2))
    assert 1 not in opt.state or not opt.state[1]


@pytest.mark.parametrize(("cls", "kwargs"), CLASSES, ids=lambda c: getattr(c, "__name__", ""))
def test_class_keeps_float32_parameters_float32(cls, kwargs):
    p = optim.Param(np.ones(3, dtype=np.float32))
    opt = cls([p], **kwargs)
    for _ in range(3):
        p.grad = np.array([1.0, -1.0, 0.5])  # float64 gradient on a float32 parameter
        opt.step()
    assert p.data.dtype == np.float32


def test_zero_grad_clears_and_lr_is_settable():
    p = optim.Param(np.zeros(2), grad=np.ones(2))
    opt = optim.SGD([p], lr=0.1)
    opt.zero_grad()
    assert p.grad is None
    opt.lr = 0.5
    p.grad = np.ones(2)
    opt.step()
    np.testing.assert_array_equal(p.data, [-0.5, -0.5])
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        opt.lr = -1


def test_param_copies_and_converts():
    """Param owns a float copy of its data; ints become float64."""
    source = np.array([1, 2, 3])
    p = optim.Param(source)
    assert p.data.dtype == np.float64 and p.grad is None
    p.data += 1
    np.testing.assert_array_equal(source, [1, 2, 3])
    assert optim.Tensorish is optim.Param


@pytest.mark.parametrize(
    ("make", "exc", "match"),
    [
        (lambda p: optim.SGD(p, lr=-1), ValueError, "Invalid learning rate: -1"),
        (lambda p: optim.Adam(p, lr=-0.5), ValueError, "Invalid learning rate: -0.5"),
        (lambda p: optim.SGD(p, lr=0.1, momentum=-0.1), ValueError, "momentum"),
        (lambda p: optim.SGD(p, lr=0.1, nesterov=True), ValueError, "Nesterov"),
        (lambda p: optim.Adam(p, betas=(1.0, 0.999)), ValueError, "beta1"),
        (lambda p: optim.Adam(p, betas=(0.9, -0.1)), ValueError, "beta2"),
        (lambda p: optim.Adam(p, betas=0.9), TypeError, "betas"),
        (lambda p: optim.AdamW(p, eps=-1e-8), ValueError, "eps"),
        (lambda p: optim.RMSprop(p, alpha=1.5), ValueError, "alpha"),
        (lambda p: optim.Adagrad(p, weight_decay=-1), ValueError, "weight_decay"),
        (lambda p: optim.SGD(p, lr="0.1"), TypeError, "lr"),
        (lambda p: optim.SGD(np.zeros(3), lr=0.1), TypeError, "params"),
        (lambda p: optim.SGD([np.zeros(3)], lr=0.1), TypeError, r"params\[0\]"),
        (lambda p: optim.SGD([], lr=0.1), ValueError, "empty"),
    ],
)
def test_class_rejects_bad_hyperparameters(make, exc, match):
    with pytest.raises(exc, match=match):
        make([optim.Param(np.zeros(3))])


def test_class_tells_to_pass_model_parameters():
    from nnkit.layers import Linear, Sequential

    with pytest.raises(TypeError, match=r"model\.parameters\(\)"):
        optim.Adam(Sequential(Linear(2, 2, rng=0)))


def test_class_rejects_gradient_of_wrong_shape():
    p = optim.Param(np.zeros(3), grad=np.zeros(4))
    with pytest.raises(ValueError, match=r"grad must be an array of shape \(3,\)"):
        optim.SGD([p], lr=0.1).step()


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (
            lambda: optim.sgd_step(np.zeros(2), np.zeros(2), None, lr=-1),
            ValueError,
            "learning rate",
        ),
        (lambda: optim.momentum_step(np.zeros(2), np.zeros(3), None), ValueError, "dw"),
        (lambda: optim.adam_step(np.zeros(2), np.zeros(2), None, beta1=1.0), ValueError, "beta1"),
        (lambda: optim.adam_step(np.zeros(2), np.zeros(2), None, beta2=1.2), ValueError, "beta2"),
        (
            lambda: optim.rmsprop_step(np.zeros(2), np.zeros(2), None, alpha=-0.1),
            ValueError,
            "alpha",
        ),
        (lambda: optim.adagrad_step(np.zeros(2), np.zeros(2), None, eps=-1.0), ValueError, "eps"),
        (lambda: optim.adam_step(np.zeros(2), np.zeros(2), {"m": 0}), TypeError, "state"),
        (lambda: optim.sgd_step(np.zeros(2), np.zeros(2), None, lr=None), TypeError, "lr"),
    ],
)
def test_step_functions_reject_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("step", STEP_FUNCTIONS, ids=lambda f: f.__name__)
def test_step_functions_are_guarded_references(step):
    """Inside forbid(name) a call to the reference raises and is recorded; exported at top level."""
    name = step.__name__
    assert getattr(nnkit, name) is step
    with forbid(name) as calls, pytest.raises(ReferenceCallError):
        step(np.zeros(2), np.ones(2), None)
    assert calls == [name]


def test_classes_do_not_go_through_guarded_references():
    """A grader forbidding adam_step must not break a model trained with nnkit.Adam."""
    p = optim.Param(np.ones(2), grad=np.ones(2))
    with forbid("adam_step", "sgd_step", "momentum_step") as calls:
        optim.Adam([p]).step()
        optim.SGD([p], lr=0.1, momentum=0.9).step()
    assert calls == []


def test_optimizers_drive_real_layer_parameters():
    """On Module.parameters() (ParamRef objects) a step updates the layer's own arrays."""
    from nnkit.layers import Linear

    layer = Linear(3, 2, rng=0)
    W_before = layer.params["W"].copy()
    W_array = layer.params["W"]
    opt = optim.SGD(layer.parameters(), lr=0.1, momentum=0.9)
    x = np.random.default_rng(1).standard_normal((5, 3))
    layer.forward(x)
    layer.backward(np.ones((5, 2)))
    dW = layer.grads["W"].copy()
    opt.step()
    assert layer.params["W"] is W_array
    np.testing.assert_allclose(layer.params["W"], W_before - 0.1 * dW, rtol=1e-15)
    opt.zero_grad()
    assert layer.grads["W"] is None and layer.grads["b"] is None
    opt.step()  # no gradients: nothing moves
    np.testing.assert_allclose(layer.params["W"], W_before - 0.1 * dW, rtol=1e-15)

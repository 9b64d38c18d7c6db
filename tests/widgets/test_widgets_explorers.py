"""Do the explorers compute the right data when their controls move (driven from Python)?"""

from __future__ import annotations

import base64
import warnings

import numpy as np
import pytest

from nnkit.widgets import (
    ActivationExplorer,
    BatchNormExplorer,
    DropoutExplorer,
    InitExplorer,
    NeuronExplorer,
    OptimizerPlayground,
    activation_data,
    batchnorm_data,
    dropout_data,
    neuron_data,
    playground_data,
    signal_data,
)
from nnkit.widgets.initialization import make_weights
from nnkit.widgets.optimizer import SURFACES, run_optimizer

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # a second formula, not nnkit's


# ---------------------------------------------------------------------------------------------
# Activation explorer
# ---------------------------------------------------------------------------------------------
def test_activation_curves_follow_the_weight_and_bias_sliders():
    """Moving w and b: is y = σ(w a + b) and the slope w σ'(w a + b), three ways?"""
    ex = ActivationExplorer()
    ex.controls["w"].value = 2.0
    ex.controls["b"].value = -1.0
    d = ex.data
    assert (d.w, d.b) == (2.0, -1.0)
    s = _sigmoid(2.0 * d.a - 1.0)
    np.testing.assert_allclose(d.y, s, atol=1e-12)
    np.testing.assert_allclose(d.slope, 2.0 * s * (1 - s), atol=1e-12)
    np.testing.assert_allclose(d.numeric_slope, d.slope, atol=1e-7)
    np.testing.assert_allclose(d.reference_slope, d.slope, atol=1e-12)
    assert ex.notes == []


@pytest.mark.parametrize(
    ("name", "w", "b", "edge"),
    [
        # sigmoid: σ(1-σ) < 0.05 * 0.25  <=>  |z| > log(s / (1 - s)) with s the larger root
        ("sigmoid", 1.0, 0.0, np.log((1 + np.sqrt(1 - 0.05)) / (1 - np.sqrt(1 - 0.05)))),
        ("tanh", 2.0, 0.0, np.arctanh(np.sqrt(0.95)) / 2.0),
    ],
)
def test_saturated_ranges_are_where_the_derivative_is_below_5_percent(name, w, b, edge):
    """Are the shaded ranges |a| > edge for the closed-form edge of each activation?"""
    d = activation_data(reference=name, w=w, b=b, num=1201)
    step = d.a[1] - d.a[0]
    assert len(d.saturated_ranges) == 2
    (lo0, hi0), (lo1, hi1) = d.saturated_ranges
    assert lo0 == d.a[0] and hi1 == d.a[-1]
    assert abs(hi0 + edge) <= step and abs(lo1 - edge) <= step


def test_relu_saturates_exactly_on_the_dead_side_and_identity_never():
    d = activation_data(reference="relu", w=-2.0, b=1.0)  # z = -2a + 1 <= 0  <=>  a >= 0.5
    np.testing.assert_array_equal(d.saturated, d.z <= 0)
    assert not activation_data(reference="identity", w=3.0).saturated.any()


def test_correct_student_functions_give_no_note():
    def sigmoid(a):
        return 1.0 / (1.0 + np.exp(-a))

    def sigmoid_grad(a):
        return sigmoid(a) * (1.0 - sigmoid(a))

    ex = ActivationExplorer(sigmoid, sigmoid_grad)
    assert ex.controls["activation"].value == "sigmoid"  # picked by the function's name
    assert ex.notes == [] and ex.data.slope_mismatch == 0.0 and ex.data.value_mismatch == 0.0


def test_a_wrong_derivative_is_flagged_against_the_numerical_slope():
    """sigmoid_grad returning σ instead of σ(1-σ): is the mismatch measured and reported?"""

    def sigmoid(a):
        return 1.0 / (1.0 + np.exp(-a))

    ex = ActivationExplorer(sigmoid, sigmoid)
    assert ex.data.slope_mismatch > 0.5
    assert any("derivative" in n and "numerical slope" in n for n in ex.notes)
    # the numerical slope is of the student's function, i.e. the true derivative here
    s = _sigmoid(ex.data.a)
    np.testing.assert_allclose(ex.data.numeric_slope, s * (1 - s), atol=1e-7)


def test_a_wrong_function_is_flagged_against_the_reference():
    def tanh(a):
        return np.tanh(2 * a)

    def tanh_grad(a):
        return 2 / np.cosh(2 * a) ** 2

    ex = ActivationExplorer(tanh, tanh_grad)
    assert ex.controls["activation"].value == "tanh"
    assert ex.data.value_mismatch > 0.5 and ex.data.slope_mismatch == 0.0
    assert len(ex.notes) == 1 and "differs from the reference tanh" in ex.notes[0]


def _stub(a):
    raise NotImplementedError()


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        (_stub, "not written yet"),
        (lambda a: None, "returned None"),
        (lambda a: 3.0, "single number"),
        (lambda a: a[:5], "returned shape (5,)"),
        (lambda a: "sigmoid", "not an array of numbers"),
        (lambda a: a / 0.0, "nan or inf"),
        (lambda a: a["x"], "raised"),
    ],
)
def test_student_stubs_and_garbage_give_a_note_not_a_crash(fn, expected, capfd):
    """A stub or garbage: no exception, a friendly note, the reference still drawn, no stderr."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ex = ActivationExplorer(fn, fn)
        ex.set(w=-2.0, b=0.5)
    assert any(expected in n for n in ex.notes), ex.notes
    assert ex.data.reference_y is not None
    assert ex.png.startswith(PNG_MAGIC)
    assert capfd.readouterr().err == ""


def test_scalar_only_function_and_overflowing_sigmoid_still_work(capfd):
    """math.exp-style scalar code is retried element-wise; overflow warnings stay silent."""
    import math

    ex = ActivationExplorer(lambda a: 1 / (1 + math.exp(-a)), None)
    assert ex.notes == []
    np.testing.assert_allclose(ex.data.y, _sigmoid(ex.data.a), atol=1e-12)

    def sigmoid(a):
        return 1 / (1 + np.exp(-a))  # overflows for a < -709

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ex = ActivationExplorer(sigmoid, None)
        ex.set(w=5.0)
        d = activation_data(sigmoid, reference="sigmoid", a_range=(-800, 800))
    assert np.isfinite(d.y).all() and d.value_mismatch == 0.0
    assert capfd.readouterr().err == ""


def test_student_function_editing_its_input_cannot_move_the_grid():
    def relu(a):
        a[a < 0] = 0.0
        return a

    d = activation_data(relu, reference="relu", w=1.0, b=0.0)
    np.testing.assert_allclose(d.a, np.linspace(-6, 6, 401))
    np.testing.assert_allclose(d.y, np.maximum(d.a, 0))


def test_display_bundle_has_widget_view_picture_and_message():
    ex = ActivationExplorer()
    bundle = ex.mimebundle()
    view = bundle["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == ex.widget.model_id
    assert base64.b64decode(bundle["image/png"]).startswith(PNG_MAGIC)
    assert "widget frontend" in bundle["text/plain"]
    before = ex.png
    ex.set(b=2.0)
    assert ex.png != before  # the picture follows the controls


def test_set_rejects_unknown_controls():
    with pytest.raises(KeyError, match="weight"):
        ActivationExplorer().set(weight=2.0)


# ---------------------------------------------------------------------------------------------
# Neuron and layer explorer
# ---------------------------------------------------------------------------------------------
def test_one_neuron_predictions_are_the_side_of_its_line():
    ex = NeuronExplorer("xor")
    ex.set(w1=1.5, w2=-2.0, b=0.3)
    d = ex.data
    expected = (d.X @ np.array([1.5, -2.0]) + 0.3 > 0).astype(int)
    np.testing.assert_array_equal(d.predictions, expected)
    assert d.accuracy == pytest.approx(np.mean(expected == d.y))
    assert d.lines == [(1.5, -2.0, 0.3)]


def test_no_single_neuron_solves_xor_but_the_default_hidden_layer_does():
    """The lesson's claim: one line gets at most ~3 of 4 XOR clusters; two ReLU units get all."""
    from nnkit.data import make_xor

    X, y = make_xor(200, rng=0)
    rng = np.random.default_rng(1)
    best = max(
        neuron_data(
            X, y, "one neuron", {"w": rng.normal(size=2) * 3, "b": rng.normal() * 2}
        ).accuracy
        for _ in range(300)
    )
    assert best <= 0.8
    ex = NeuronExplorer("xor")
    ex.controls["mode"].value = "hidden layer"
    assert ex.data.accuracy >= 0.95
    W, b, v = np.ones((2, 2)), np.array([0.0, -1.0]), np.array([1.0, -2.0])
    np.testing.assert_allclose(ex.data.scores, np.maximum(ex.data.X @ W.T + b, 0) @ v)
    ex.set(v2=0.0)  # without the second unit's veto, (1, 1) becomes class 1
    assert ex.data.accuracy < 0.8


def test_neuron_explorer_switches_dataset_and_activation():
    from nnkit.data import make_moons

    ex = NeuronExplorer("xor")
    ex.set(dataset="moons", mode="hidden layer", activation="tanh")
    X, y = make_moons(200, rng=0)
    np.testing.assert_allclose(ex.data.X, X)
    np.testing.assert_array_equal(ex.data.y, y)
    p = ex.params()
    expected = np.tanh(X @ p["W"].T + p["b"]) @ p["v"] + p["c"]
    np.testing.assert_allclose(ex.data.scores, expected, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Initialization explorer
# ---------------------------------------------------------------------------------------------
def _replay_stack(depth, width, init, scale, n=256, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, width))
    upstream = rng.standard_normal((n, width)) / n
    return X, upstream, make_weights(init, depth, width, scale, rng)


def test_init_statistics_match_nnkit_signals_and_torch_autograd():
    """Stds against nnkit.signals.activation_stds; gradient norms against torch autograd."""
    torch = pytest.importorskip("torch")
    from nnkit.signals import activation_stds

    d = signal_data(depth=5, width=32, activation="tanh", init="xavier_normal", scale=1.5, n=64)
    X, upstream, weights = _replay_stack(5, 32, "xavier_normal", 1.5, n=64)
    np.testing.assert_allclose(d.stds, activation_stds(X, weights, np.tanh), rtol=1e-10)
    Ws = [torch.tensor(W, requires_grad=True) for W in weights]
    h = torch.tensor(X)
    for W in Ws:
        h = torch.tanh(h @ W.T)
    (h * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(d.grad_norms, [W.grad.norm().item() for W in Ws], rtol=1e-8)


def test_init_explorer_shows_vanishing_and_healthy_signals():
    ex = InitExplorer()
    ex.set(activation="tanh", init="normal", scale=0.01, depth=10)
    assert ex.data.stds[-1] < 1e-6 and any("vanish" in n for n in ex.notes)
    assert max(ex.data.grad_norms) < 1e-4  # ~4 with Xavier: the gradients vanish as well
    ex.set(activation="relu", init="he_normal", scale=1.0)
    ratio = ex.data.stds[-1] / ex.data.stds[0]
    assert 0.3 < ratio < 3 and ex.notes == []
    ex.set(activation="tanh", init="normal", scale=1.0)  # std 1 with 256 inputs: saturated
    assert np.mean(np.abs(ex.data.samples[-1]) > 0.99) > 0.5
    ex.set(depth=3)
    assert len(ex.data.stds) == len(ex.data.grad_norms) == 3
    assert ex.data.shown_layers == [1, 2, 3]


# ---------------------------------------------------------------------------------------------
# Optimizer playground
# ---------------------------------------------------------------------------------------------
def test_sgd_on_the_valley_follows_the_closed_form():
    """On f = (x² + 20 y²)/2, SGD multiplies each coordinate by (1 - lr λ) per step."""
    path = run_optimizer("valley", "sgd", lr=0.04, steps=30, start=(-4.0, 1.0))
    t = np.arange(31)
    np.testing.assert_allclose(path[:, 0], -4.0 * (1 - 0.04) ** t, rtol=1e-12)
    np.testing.assert_allclose(path[:, 1], 1.0 * (1 - 0.8) ** t, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("name", ["momentum", "nesterov", "adam", "rmsprop", "adagrad"])
def test_trajectories_match_torch_optim_on_rosenbrock(name):
    torch = pytest.importorskip("torch")
    lr, mom, steps = 1e-3, 0.8, 40
    ours = run_optimizer("rosenbrock", name, lr=lr, momentum=mom, steps=steps)
    w = torch.tensor(SURFACES["rosenbrock"].start, dtype=torch.float64, requires_grad=True)
    opt = {
        "momentum": lambda: torch.optim.SGD([w], lr=lr, momentum=mom),
        "nesterov": lambda: torch.optim.SGD([w], lr=lr, momentum=mom, nesterov=True),
        "adam": lambda: torch.optim.Adam([w], lr=lr, betas=(mom, 0.999)),
        "rmsprop": lambda: torch.optim.RMSprop([w], lr=lr),
        "adagrad": lambda: torch.optim.Adagrad([w], lr=lr),
    }[name]()
    theirs = [w.detach().numpy().copy()]
    for _ in range(steps):
        opt.zero_grad()
        x, y = w[0], w[1]
        ((1 - x) ** 2 + 100 * (y - x**2) ** 2).backward()
        opt.step()
        theirs.append(w.detach().numpy().copy())
    np.testing.assert_allclose(ours, np.array(theirs), rtol=1e-9, atol=1e-12)


def test_playground_controls_divergence_and_momentum_advantage():
    pg = OptimizerPlayground()
    pg.set(surface="valley", optimizers=("sgd", "momentum"), lr=0.01, momentum=0.9, steps=150)
    d = pg.data
    assert set(d.trajectories) == {"sgd", "momentum"}
    assert all(len(p) == 151 for p in d.trajectories.values())
    np.testing.assert_array_equal(d.trajectories["sgd"][0], d.trajectories["momentum"][0])
    assert d.losses["momentum"][-1] < 1e-3 * d.losses["sgd"][-1]  # momentum beats the valley
    pg.set(lr=0.2)  # 1 - 0.2·20 = -3: SGD blows up along the steep axis
    assert "sgd" in pg.data.diverged and len(pg.data.trajectories["sgd"]) < 151
    assert any("diverged" in n for n in pg.notes)
    d = playground_data("saddle", ("sgd",), lr=0.1, steps=300)
    assert abs(abs(d.trajectories["sgd"][-1][1]) - 1.0) < 1e-3  # escaped the saddle to y = ±1


# ---------------------------------------------------------------------------------------------
# Dropout explorer
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_keep_rate_and_inverted_scaling(p):
    d = dropout_data(p=p, train=True, inverted=True)
    m = d.x.size * 500
    assert abs(d.keep_rate - (1 - p)) < 5 * np.sqrt(p * (1 - p) / m)
    sd = d.x * np.sqrt(p / (1 - p) / 500)  # std of the mean of x·mask/(1-p) over 500 masks
    assert np.all(np.abs(d.mean_output - d.x) < 5 * sd)
    naive = dropout_data(p=p, train=True, inverted=False)
    assert np.all(np.abs(naive.mean_output - (1 - p) * d.x) < 5 * (1 - p) * sd)


def test_dropout_evaluation_keeps_everything_and_seeds_change_the_mask():
    ex = DropoutExplorer()
    ex.set(train=False)
    assert all(m.all() for m in ex.data.masks)
    np.testing.assert_allclose(ex.data.mean_output, ex.data.x, rtol=1e-12)
    ex.set(train=True, p=0.5, mask_seed=0)
    first = np.concatenate(ex.data.masks)
    ex.set(mask_seed=1)
    assert not np.array_equal(first, np.concatenate(ex.data.masks))


# ---------------------------------------------------------------------------------------------
# Batch-norm explorer
# ---------------------------------------------------------------------------------------------
def test_batchnorm_training_output_has_beta_mean_and_gamma_std():
    ex = BatchNormExplorer()
    ex.set(shift=4.0, spread=3.0, gamma=2.0, beta=-1.0, batch_size=64)
    out = ex.data.out
    np.testing.assert_allclose(out.mean(axis=0), -1.0, atol=1e-10)
    np.testing.assert_allclose(out.std(axis=0), 2.0, rtol=1e-4)


def test_batchnorm_running_statistics_recursion_and_evaluation_mode():
    """running = 0.9 running + 0.1 batch mean; eval with no training is almost the identity."""
    d = batchnorm_data(shift=3.0, spread=1.0, batch_size=16, steps=80)
    r = np.zeros(3)
    for t, bm in enumerate(d.batch_means, start=1):
        r = 0.9 * r + 0.1 * bm
        np.testing.assert_allclose(d.running_means[t], r, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(d.running_means[-1], d.true_mean, atol=0.25)
    e = batchnorm_data(shift=3.0, spread=1.0, batch_size=16, steps=0, train=False)
    np.testing.assert_allclose(e.out, e.x / np.sqrt(1 + 1e-5), rtol=1e-12)
    with pytest.raises(ValueError, match="batch_size"):
        batchnorm_data(batch_size=1)


def test_surface_choice_resets_rates_and_adaptive_rate_drives_only_adaptive_optimizers():
    pg = OptimizerPlayground()
    pg.set(lr=0.3, steps=7)
    pg.controls["surface"].value = "rosenbrock"
    rosen = SURFACES["rosenbrock"]
    assert (pg.values["lr"], pg.values["adaptive_lr"], pg.values["steps"]) == (
        rosen.lr,
        rosen.adaptive_lr,
        rosen.steps,
    )
    pg.set(surface="valley", lr=0.001)  # an explicit rate wins over the surface's default
    assert pg.values["lr"] == pytest.approx(0.001) and pg.data.lr == pytest.approx(0.001)
    d = playground_data("valley", ("sgd", "adam"), lr=1e-12, adaptive_lr=0.1, steps=20)
    assert np.abs(d.trajectories["sgd"][-1] - d.trajectories["sgd"][0]).max() < 1e-9
    assert np.abs(d.trajectories["adam"][-1] - d.trajectories["adam"][0]).max() > 0.5


# ---------------------------------------------------------------------------------------------
# Every explorer at the ends of its controls
# ---------------------------------------------------------------------------------------------
def _extremes(ex) -> list[dict]:
    """Settings to try: all sliders at their minimum, all at their maximum, then each option of
    every drop-down / toggle (cycled together) with the sliders back at their defaults."""
    import ipywidgets as widgets

    low, high, default, choices = {}, {}, {}, {}
    for name, c in ex.controls.items():
        default[name] = c.value
        if isinstance(c, widgets.FloatLogSlider):
            low[name], high[name] = c.base**c.min, c.base**c.max
        elif isinstance(c, widgets.IntSlider | widgets.FloatSlider):
            low[name], high[name] = c.min, c.max
        elif isinstance(c, widgets.Dropdown | widgets.ToggleButtons):
            choices[name] = list(c._options_values)
    settings = [low, high]
    for i in range(max((len(v) for v in choices.values()), default=0)):
        settings.append({**default, **{k: v[i % len(v)] for k, v in choices.items()}})
    return settings


@pytest.mark.parametrize(
    "make",
    [
        ActivationExplorer,
        NeuronExplorer,
        InitExplorer,
        OptimizerPlayground,
        DropoutExplorer,
        BatchNormExplorer,
    ],
)
def test_explorers_survive_the_ends_of_every_control(make, capfd):
    """Extreme settings (exploding stacks, diverging optimizers, p = 0.9 ...): no exception,
    no warning, the controls hold the values, nothing on stderr."""
    ex = make()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for setting in _extremes(ex):
            ex.set(**setting)
            assert ex.error is None, (setting, ex.error)
            assert ex.png.startswith(PNG_MAGIC)
            for name, value in setting.items():
                assert ex.values[name] == pytest.approx(value), name
    assert capfd.readouterr().err == ""


def test_outside_ipython_the_factory_prints_one_line_and_returns_the_explorer(capsys):
    from nnkit.widgets import dropout_explorer

    ex = dropout_explorer()
    out = capsys.readouterr().out
    assert isinstance(ex, DropoutExplorer) and out.count("\n") == 1 and "JupyterLab" in out


def test_activation_explorer_takes_a_library_name_and_rejects_non_functions():
    ex = ActivationExplorer("tanh")
    assert ex.fn is None and ex.controls["activation"].value == "tanh"
    np.testing.assert_allclose(ex.data.y, np.tanh(ex.data.a), atol=1e-12)
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        ActivationExplorer("swish")
    with pytest.raises(TypeError, match="grad_fn must be a function, got int"):
        ActivationExplorer(np.tanh, 3)

"""Do the lesson figure helpers in nnkit.plots draw the data they are given?"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from nnkit.plots import (
    decision_grid,
    plot_activation,
    plot_decision_boundary,
    plot_loss_curves,
    plot_trajectories,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_decision_grid_evaluates_the_classifier_on_every_grid_point():
    X = np.array([[0.0, 0.0], [1.0, 2.0]])
    xx, yy, labels = decision_grid(lambda P: (P[:, 0] > 0.5).astype(int), X, resolution=11)
    assert xx.shape == yy.shape == labels.shape == (11, 11)
    assert (xx.min(), xx.max(), yy.min(), yy.max()) == (-0.5, 1.5, -0.5, 2.5)
    np.testing.assert_array_equal(labels, (xx > 0.5).astype(int))
    # class scores (M, K) are reduced with argmax
    _, _, from_scores = decision_grid(lambda P: np.column_stack([P[:, 0], 1 - P[:, 0]]), X, 11)
    np.testing.assert_array_equal(from_scores, (xx < 0.5).astype(int))


def test_plot_decision_boundary_scatters_the_data_and_draws_the_boundary():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 2))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    ax = plot_decision_boundary(lambda P: (P.sum(axis=1) > 0).astype(int), X, y, resolution=50)
    scatter = [c for c in ax.collections if c.get_offsets().shape == (50, 2)]
    assert len(scatter) == 1
    np.testing.assert_allclose(scatter[0].get_offsets(), X)
    _, own = plt.subplots()
    assert plot_decision_boundary(lambda P: np.zeros(len(P), int), X, y, ax=own) is own


@pytest.mark.parametrize(
    ("predict", "y", "match"),
    [
        (lambda P: np.zeros(3), np.zeros(4, int), "predict_fn must return shape"),
        (lambda P: np.zeros(len(P)), np.zeros(3, int), "expected y of shape"),
    ],
)
def test_plot_decision_boundary_rejects_bad_shapes(predict, y, match):
    with pytest.raises(ValueError, match=match):
        plot_decision_boundary(predict, np.zeros((4, 2)), y, resolution=5)
    with pytest.raises(ValueError, match=r"X of shape \(N, 2\)"):
        decision_grid(predict, np.zeros((4, 3)))


def test_plot_activation_draws_the_function_and_its_derivative():
    ax = plot_activation(np.tanh, lambda a: 1 - np.tanh(a) ** 2, a_range=(-3, 3), num=61)
    fn_line, grad_line = [line for line in ax.lines if len(line.get_xdata()) == 61]
    a = np.linspace(-3, 3, 61)
    np.testing.assert_allclose(fn_line.get_ydata(), np.tanh(a))
    np.testing.assert_allclose(grad_line.get_ydata(), 1 / np.cosh(a) ** 2)
    assert fn_line.get_label() == "tanh(a)"


def test_plot_loss_curves_puts_accuracy_on_a_second_axis():
    history = {"loss": [1.0, 0.5, 0.25], "val_loss": [1.1, 0.7, 0.6], "val_acc": [0.5, 0.7, 0.8]}
    ax = plot_loss_curves(history)
    assert [line.get_label() for line in ax.lines] == ["loss", "val_loss"]
    np.testing.assert_allclose(ax.lines[1].get_ydata(), history["val_loss"])
    twin = [a for a in ax.figure.axes if a is not ax]
    assert len(twin) == 1 and twin[0].lines[0].get_label() == "val_acc"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["loss", "val_loss", "val_acc"]
    plain = plot_loss_curves([3.0, 2.0], log=True)
    assert plain.get_yscale() == "log" and plain.lines[0].get_label() == "loss"
    with pytest.raises(ValueError, match="history is empty"):
        plot_loss_curves({})


def test_plot_trajectories_draws_each_path_over_the_contours():
    paths = {"sgd": np.array([[1.0, 1.0], [0.5, 0.2], [0.1, 0.0]]), "adam": np.zeros((2, 2))}
    ax = plot_trajectories(lambda w: w[..., 0] ** 2 + w[..., 1] ** 2, paths, xlim=(-1, 2))
    drawn = {line.get_label(): line for line in ax.lines}
    np.testing.assert_allclose(drawn["sgd"].get_xydata(), paths["sgd"])
    np.testing.assert_allclose(drawn["adam"].get_xydata(), paths["adam"])
    assert ax.get_xlim() == (-1, 2)


def test_plot_loss_curves_reads_a_training_history():
    """fit's History: curves drawn, lr and empty lists skipped, the best epoch marked."""
    from nnkit.training import History

    h = History(train_loss=[1.0, 0.6, 0.5], val_loss=[1.1, 0.8, 0.9], lr=[0.1] * 3, best_epoch=1)
    ax = plot_loss_curves(h)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["train_loss", "val_loss", "best epoch (1)"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), h.train_loss)
    assert len(ax.figure.axes) == 1  # no accuracy recorded: no second axis

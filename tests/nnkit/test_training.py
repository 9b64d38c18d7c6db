"""Does the training helper iterate, measure and fit the way the lessons describe?"""

from __future__ import annotations

import numpy as np
import pytest

from nnkit import data, schedules, training
from nnkit.layers import BatchNorm1d, Dropout, Linear, ReLU, Sequential, SoftmaxCrossEntropy
from nnkit.optim import SGD, Adam, Param


def _model(d=4, k=3, hidden=16, seed=0, batchnorm=False):
    """A small nnkit.layers MLP: Linear → (BatchNorm1d →) ReLU → Linear."""
    layers = [Linear(d, hidden, rng=seed)]
    if batchnorm:
        layers.append(BatchNorm1d(hidden))
    layers += [ReLU(), Linear(hidden, k, rng=seed + 1)]
    return Sequential(*layers)


class _ModeSpy(Sequential):
    """A real Sequential that records the training flag at every forward pass."""

    def __init__(self, *layers):
        super().__init__(*layers)
        self.forward_modes: list[bool] = []

    def forward(self, x):
        self.forward_modes.append(self.training)
        return super().forward(x)


def _blobs():
    X, y = data.make_blobs(300, centers=3, n_features=4, cluster_std=2.5, rng=0)
    return data.train_val_test_split(X, y, val=0.3, test=0.0, rng=1)


# ----------------------------------------------------------------------------------------------
# iterate_minibatches and accuracy


def test_minibatches_cover_every_sample_once_with_pairs_intact():
    X = np.arange(23)[:, None] * 10
    y = np.arange(23)
    batches = list(training.iterate_minibatches(X, y, 5, rng=0))
    assert [len(b[1]) for b in batches] == [5, 5, 5, 5, 3]
    seen = np.concatenate([yb for _, yb in batches])
    np.testing.assert_array_equal(np.sort(seen), np.arange(23))
    assert not np.array_equal(seen, np.arange(23))  # shuffled
    for Xb, yb in batches:
        np.testing.assert_array_equal(Xb[:, 0], 10 * yb)


def test_minibatches_order_is_seeded_or_sequential():
    X, y = np.zeros((10, 1)), np.arange(10)
    first = [yb for _, yb in training.iterate_minibatches(X, y, 4, rng=3)]
    again = [yb for _, yb in training.iterate_minibatches(X, y, 4, rng=3)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    ordered = [yb for _, yb in training.iterate_minibatches(X, y, 4, shuffle=False)]
    np.testing.assert_array_equal(np.concatenate(ordered), np.arange(10))


@pytest.mark.parametrize(
    ("batch_size", "n_y", "exc", "match"),
    [
        (0, 10, ValueError, "batch_size"),
        (-3, 10, ValueError, "batch_size"),
        (2.5, 10, TypeError, "batch_size"),
        (4, 9, ValueError, "same number of samples"),
    ],
)
def test_minibatches_reject_bad_input(batch_size, n_y, exc, match):
    with pytest.raises(exc, match=match):
        next(training.iterate_minibatches(np.zeros((10, 2)), np.zeros(n_y), batch_size))


def test_accuracy_from_scores_and_from_labels():
    scores = np.array([[0.1, 2.0], [3.0, -1.0], [0.0, 0.5], [5.0, 1.0]])
    y = np.array([1, 0, 0, 0])
    assert training.accuracy(scores, y) == 0.75
    assert training.accuracy(np.array([1, 0, 1, 0]), y) == 0.75
    with pytest.raises(ValueError, match="y"):
        training.accuracy(scores, y[:3])
    with pytest.raises(ValueError, match="scores_or_labels"):
        training.accuracy(np.zeros((2, 2, 2)), y[:2])


# ----------------------------------------------------------------------------------------------
# fit


def test_fit_lowers_the_loss_on_a_learnable_problem():
    (X, y), (X_val, y_val), _ = _blobs()
    model = _model()
    loss_fn = SoftmaxCrossEntropy()
    before, _ = training.evaluate(model, loss_fn, X_val, y_val)
    hist = training.fit(
        model,
        loss_fn,
        SGD(model.parameters(), lr=0.05),
        X,
        y,
        15,
        16,
        X_val,
        y_val,
        rng=0,
        progress=False,
    )
    assert hist.epochs == 15 and len(hist.val_loss) == 15 and len(hist.lr) == 15
    assert hist.train_loss[-1] < 0.5 * hist.train_loss[0]
    assert hist.val_loss[-1] < 0.5 * before
    assert hist.val_acc[-1] > 0.8
    # The recorded validation figures are what evaluate() reports for the final parameters.
    final_loss, final_acc = training.evaluate(model, loss_fn, X_val, y_val)
    assert final_loss == pytest.approx(hist.val_loss[-1], rel=1e-12)
    assert final_acc == hist.val_acc[-1]


def test_fit_uses_train_mode_for_steps_and_eval_mode_for_validation():
    (X, y), (X_val, y_val), _ = _blobs()
    model = _ModeSpy(*_model().layers)
    training.fit(
        model,
        SoftmaxCrossEntropy(),
        SGD(model.parameters(), lr=0.05),
        X,
        y,
        2,
        70,
        X_val,
        y_val,
        rng=0,
        progress=False,
    )
    steps_per_epoch = -(-len(X) // 70)
    evals_per_epoch = -(-len(X_val) // 1024)
    expected = ([True] * steps_per_epoch + [False] * evals_per_epoch) * 2
    assert model.forward_modes == expected
    assert model.training is False and all(not m.training for m in model.modules())


def test_evaluate_restores_the_mode_and_fit_returns_in_eval_mode():
    (X, y), _, _ = _blobs()
    model = _ModeSpy(*_model().layers)
    training.evaluate(model, SoftmaxCrossEntropy(), X, y)
    assert model.forward_modes == [False] and model.training is True
    model.eval()
    training.evaluate(model, SoftmaxCrossEntropy(), X, y)
    assert model.training is False
    model.train()
    training.fit(
        model,
        SoftmaxCrossEntropy(),
        SGD(model.parameters(), lr=0.1),
        X,
        y,
        1,
        64,
        rng=0,
        progress=False,
    )
    assert all(not m.training for m in model.modules())


def test_fit_is_reproducible_given_the_seed():
    (X, y), _, _ = _blobs()
    runs = []
    for _ in range(2):
        model = _model()
        runs.append(
            training.fit(
                model,
                SoftmaxCrossEntropy(),
                Adam(model.parameters(), lr=0.01),
                X,
                y,
                3,
                8,
                rng=5,
                progress=False,
            ).train_loss
        )
    assert runs[0] == runs[1]


def test_early_stopping_stops_and_restores_the_best_epoch():
    """Validation labels that contradict training make val loss rise: stop after `patience`."""
    (X, y), (X_val, y_val), _ = _blobs()
    y_val_wrong = (y_val + 1) % 3
    model = _model()
    loss_fn = SoftmaxCrossEntropy()
    hist = training.fit(
        model,
        loss_fn,
        SGD(model.parameters(), lr=0.05),
        X,
        y,
        50,
        16,
        X_val,
        y_val_wrong,
        rng=0,
        early_stopping=3,
        progress=False,
    )
    best = int(np.argmin(hist.val_loss))
    assert hist.best_epoch == best
    assert hist.stopped_early and hist.epochs == best + 4 < 50
    assert all(v >= hist.val_loss[best] for v in hist.val_loss[best + 1 :])
    restored, _ = training.evaluate(model, loss_fn, X_val, y_val_wrong)
    assert restored == pytest.approx(hist.val_loss[best], rel=1e-12)
    assert restored < hist.val_loss[-1]


def test_early_stopping_matches_the_lesson_rule():
    """Epoch kept = argmin up to the stop, as regularization.early_stopping_epoch defines it."""
    (X, y), (X_val, y_val), _ = _blobs()
    model = _model()
    hist = training.fit(
        model,
        SoftmaxCrossEntropy(),
        SGD(model.parameters(), lr=0.5),
        X,
        y,
        40,
        4,
        X_val,
        y_val,
        rng=2,
        early_stopping=2,
        progress=False,
    )
    losses, bad = hist.val_loss, 0
    best = 0
    for epoch in range(1, len(losses)):
        if losses[epoch] < losses[best]:
            best, bad = epoch, 0
        else:
            bad += 1
    assert hist.best_epoch == best
    assert bad == 2 or len(losses) == 40


def test_progress_false_prints_nothing_and_true_shows_a_bar(capsys):
    (X, y), (X_val, y_val), _ = _blobs()
    model = _model()
    training.fit(
        model,
        SoftmaxCrossEntropy(),
        SGD(model.parameters(), lr=0.05),
        X,
        y,
        2,
        32,
        X_val,
        y_val,
        progress=False,
        rng=0,
    )
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    training.fit(
        model,
        SoftmaxCrossEntropy(),
        SGD(model.parameters(), lr=0.05),
        X,
        y,
        2,
        32,
        X_val,
        y_val,
        progress=True,
        rng=0,
    )
    out = capsys.readouterr()
    assert "2/2" in out.out + out.err


def test_scheduler_changes_the_learning_rate_per_epoch():
    (X, y), _, _ = _blobs()
    model = _model()
    opt = SGD(model.parameters(), lr=0.1)
    hist = training.fit(
        model,
        SoftmaxCrossEntropy(),
        opt,
        X,
        y,
        7,
        32,
        rng=0,
        progress=False,
        scheduler=schedules.StepLR(opt, step_size=2, gamma=0.5),
    )
    expected = [schedules.step_decay(0.1, e, drop=0.5, every=2) for e in range(7)]
    np.testing.assert_allclose(hist.lr, expected, rtol=1e-15)
    assert opt.lr == pytest.approx(schedules.step_decay(0.1, 7, drop=0.5, every=2))


def test_plateau_scheduler_is_fed_the_validation_loss():
    """Replaying history.val_loss into a fresh ReduceLROnPlateau reproduces history.lr."""
    (X, y), (X_val, y_val), _ = _blobs()
    model = _model()
    opt = SGD(model.parameters(), lr=0.5)
    sched = schedules.ReduceLROnPlateau(opt, factor=0.5, patience=0)
    hist = training.fit(
        model,
        SoftmaxCrossEntropy(),
        opt,
        X,
        y,
        12,
        8,
        X_val,
        (y_val + 1) % 3,
        rng=0,
        progress=False,
        scheduler=sched,
    )
    replay_opt = SGD([Param(np.zeros(1))], lr=0.5)
    replay = schedules.ReduceLROnPlateau(replay_opt, factor=0.5, patience=0)
    lrs = []
    for loss in hist.val_loss:
        lrs.append(replay_opt.lr)
        replay.step(loss)
    assert hist.lr == lrs
    assert len(set(hist.lr)) > 1


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"epochs": -1}, ValueError, "epochs"),
        ({"epochs": 1.5}, TypeError, "epochs"),
        ({"y": np.zeros(5, dtype=int)}, ValueError, "same number of samples"),
        ({"X_val": np.zeros((3, 4))}, ValueError, "X_val and y_val"),
        ({"X_val": np.zeros((3, 4)), "y_val": np.zeros(2, int)}, ValueError, "X_val"),
        ({"X_val": np.zeros((3, 5)), "y_val": np.zeros(3, int)}, ValueError, "X_val"),
        ({"early_stopping": 3}, ValueError, "early_stopping"),
        (
            {"early_stopping": 0, "X_val": np.zeros((3, 4)), "y_val": np.zeros(3, int)},
            ValueError,
            "early_stopping",
        ),
        ({"optimizer": object()}, TypeError, "optimizer"),
        ({"model": object()}, TypeError, "model"),
        ({"scheduler": 0.5}, TypeError, "scheduler"),
    ],
)
def test_fit_rejects_bad_input(kwargs, exc, match):
    model = _model()
    args = {
        "model": model,
        "loss_fn": SoftmaxCrossEntropy(),
        "optimizer": SGD(model.parameters(), lr=0.1),
        "X": np.zeros((10, 4)),
        "y": np.zeros(10, dtype=int),
        "epochs": 2,
        "batch_size": 4,
        "progress": False,
    } | kwargs
    with pytest.raises(exc, match=match):
        training.fit(**args)


def test_history_as_dict():
    h = training.History(train_loss=[1.0, 0.5], lr=[0.1, 0.1], best_epoch=1)
    assert h.epochs == 2
    assert h.as_dict()["train_loss"] == [1.0, 0.5] and h.as_dict()["best_epoch"] == 1


class _InputGradSpy(Sequential):
    def __init__(self, *layers):
        super().__init__(*layers)
        self.input_grad_flags: list[bool] = []

    def backward(self, dout, input_grad=True):
        self.input_grad_flags.append(input_grad)
        return super().backward(dout, input_grad=input_grad)


def test_fit_asks_the_model_to_skip_the_input_gradient_when_it_can():
    """A training step never needs dL/dX; fit passes input_grad=False to models that accept it."""
    (X, y), _, _ = _blobs()
    model = _InputGradSpy(*_model().layers)
    training.fit(
        model,
        SoftmaxCrossEntropy(),
        SGD(model.parameters(), lr=0.1),
        X,
        y,
        2,
        50,
        rng=0,
        progress=False,
    )
    assert model.input_grad_flags == [False] * (2 * -(-len(X) // 50))


def test_fit_trains_a_real_mlp_on_spirals():
    """Sequential(Linear, ReLU, Linear) + SoftmaxCrossEntropy + Adam learns the spirals."""
    X, y = data.make_spirals(100, 3, rng=0)
    model = Sequential(Linear(2, 64, rng=1), ReLU(), Linear(64, 3, rng=2))
    loss_fn = SoftmaxCrossEntropy()
    hist = training.fit(
        model, loss_fn, Adam(model.parameters(), lr=0.02), X, y, 60, 32, rng=3, progress=False
    )
    assert hist.train_loss[-1] < 0.3 * hist.train_loss[0]
    _, acc = training.evaluate(model, loss_fn, X, y)
    assert acc > 0.9
    # The linear classifier's ceiling on spirals is far lower: the hidden layer is doing work.
    linear = Sequential(Linear(2, 3, rng=1))
    training.fit(
        linear, loss_fn, Adam(linear.parameters(), lr=0.02), X, y, 60, 32, rng=3, progress=False
    )
    assert training.evaluate(linear, loss_fn, X, y)[1] < 0.7


def test_early_stopping_restores_buffers_too():
    """With BatchNorm, the best epoch's running statistics come back with its weights."""
    (X, y), (X_val, y_val), _ = _blobs()
    y_val_wrong = (y_val + 1) % 3
    model = _model(batchnorm=True)
    loss_fn = SoftmaxCrossEntropy()
    hist = training.fit(
        model,
        loss_fn,
        SGD(model.parameters(), lr=0.05),
        X,
        y,
        50,
        16,
        X_val,
        y_val_wrong,
        rng=0,
        early_stopping=2,
        progress=False,
    )
    assert hist.stopped_early
    restored, _ = training.evaluate(model, loss_fn, X_val, y_val_wrong)
    assert restored == pytest.approx(hist.val_loss[hist.best_epoch], rel=1e-12)


def test_evaluate_is_deterministic_with_dropout():
    """Evaluation runs in eval mode: dropout is off, so two evaluations agree exactly."""
    (X, y), _, _ = _blobs()
    model = Sequential(Linear(4, 32, rng=0), ReLU(), Dropout(0.5, rng=1), Linear(32, 3, rng=2))
    loss_fn = SoftmaxCrossEntropy()
    first = training.evaluate(model, loss_fn, X, y, batch_size=7)
    second = training.evaluate(model, loss_fn, X, y)
    assert first[0] == pytest.approx(second[0], rel=1e-12) and first[1] == second[1]
    model.train()
    noisy = [loss_fn.forward(model.forward(X), y) for _ in range(2)]
    assert noisy[0] != noisy[1]

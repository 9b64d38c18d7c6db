"""Are softmax and the losses of lesson 02 right, stable, and are their gradients the true ones?"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from nnkit import losses as L
from nnkit._guard import ReferenceCallError, forbid

GRADED = [
    "softmax",
    "softmax_jacobian",
    "cross_entropy",
    "softmax_cross_entropy",
    "binary_cross_entropy_with_logits",
    "max_margin_loss",
]


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


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# ---------------------------------------------------------------- softmax


def test_softmax_matches_the_definition_on_moderate_scores(rng):
    z = rng.normal(size=(5, 4))
    expected = [[math.exp(v) / sum(math.exp(u) for u in row) for v in row] for row in z]
    assert rel_error(L.softmax(z), expected) < 1e-13


def test_softmax_is_a_distribution_over_the_last_axis_for_nd_input(rng):
    """N-D input: every last-axis slice is softmaxed on its own."""
    z = rng.normal(size=(2, 3, 5)) * 3
    s = L.softmax(z)
    assert s.shape == z.shape
    np.testing.assert_allclose(s.sum(axis=-1), 1.0, rtol=1e-14)
    for i, j in np.ndindex(2, 3):
        np.testing.assert_allclose(s[i, j], L.softmax(z[i, j]), rtol=1e-14)


def test_softmax_is_shift_invariant_and_does_not_overflow():
    z = np.array([1.0, 2.0, 3.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        big = L.softmax(z + 1000.0)
        far = L.softmax(np.array([1000.0, 0.0, -1000.0]))
        logp = L.log_softmax(np.array([1000.0, 0.0, -1000.0]))
    np.testing.assert_allclose(big, L.softmax(z), rtol=1e-14)
    np.testing.assert_allclose(far, [1.0, 0.0, 0.0])
    np.testing.assert_allclose(logp, [0.0, -1000.0, -2000.0])


def test_log_softmax_is_log_of_softmax(rng):
    z = rng.normal(size=(6, 5))
    np.testing.assert_allclose(L.log_softmax(z), np.log(L.softmax(z)), rtol=1e-13)


def test_softmax_keeps_float32(rng):
    z = rng.normal(size=(3, 4)).astype(np.float32) * 10
    s = L.softmax(z)
    assert s.dtype == np.float32
    np.testing.assert_allclose(s, L.softmax(z.astype(np.float64)), rtol=1e-5, atol=1e-7)


def test_softmax_rejects_scalars():
    with pytest.raises(ValueError, match="z"):
        L.softmax(3.0)


def test_softmax_jacobian_matches_numerical_jacobian(rng):
    z = rng.normal(size=5)
    s = L.softmax(z)
    numeric = np.stack(
        [numerical_gradient(lambda v, i=i: L.softmax(v)[i], z.copy()) for i in range(5)]
    )
    J = L.softmax_jacobian(z)
    assert J.shape == (5, 5)
    assert rel_error(J, numeric) <= 1e-7
    np.testing.assert_allclose(J, np.diag(s) - np.outer(s, s), rtol=1e-14)


def test_softmax_jacobian_wants_a_single_vector():
    with pytest.raises(ValueError, match=r"shape \(K,\)"):
        L.softmax_jacobian(np.zeros((2, 3)))


def test_one_hot():
    np.testing.assert_array_equal(L.one_hot([2, 0], 3), [[0, 0, 1], [1, 0, 0]])
    assert L.one_hot(np.array([1, 3])).shape == (2, 4)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        L.one_hot([0, 3], 3)


# ---------------------------------------------------------------- cross-entropy


def test_cross_entropy_is_the_mean_negative_log_likelihood(rng):
    probs = L.softmax(rng.normal(size=(7, 4)))
    y = rng.integers(0, 4, size=7)
    expected = -sum(math.log(probs[i, y[i]]) for i in range(7)) / 7
    assert L.cross_entropy(probs, y) == pytest.approx(expected, rel=1e-14)


def test_cross_entropy_of_a_zero_probability_is_finite_and_quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = L.cross_entropy(np.array([[0.0, 1.0]]), np.array([0]))
    assert np.isfinite(loss) and loss > 700


@pytest.mark.parametrize(
    ("y", "error", "match"),
    [
        (np.array([0, 3]), ValueError, r"labels in \[0, 3\)"),
        (np.array([0, -1]), ValueError, r"labels in \[0, 3\)"),
        (np.array([0.5, 1.0]), TypeError, "integer class labels"),
        (np.array([0, 1, 2]), ValueError, r"shape \(2,\)"),
    ],
)
def test_bad_labels_are_rejected(y, error, match):
    logits = np.zeros((2, 3))
    with pytest.raises(error, match=match):
        L.softmax_cross_entropy(logits, y)
    with pytest.raises(error, match=match):
        L.cross_entropy(L.softmax(logits), y)


def test_logits_must_be_a_batch():
    with pytest.raises(ValueError, match=r"logits of shape \(N, K\)"):
        L.softmax_cross_entropy(np.zeros(3), np.array([0]))


def test_softmax_cross_entropy_equals_cross_entropy_of_softmax(rng):
    logits = rng.normal(size=(8, 5))
    y = rng.integers(0, 5, size=8)
    loss, _ = L.softmax_cross_entropy(logits, y)
    assert loss == pytest.approx(L.cross_entropy(L.softmax(logits), y), rel=1e-13)


def test_softmax_cross_entropy_gradient_is_numerically_right(rng):
    logits = rng.normal(size=(6, 4))
    y = rng.integers(0, 4, size=6)
    _, dlogits = L.softmax_cross_entropy(logits, y)
    numeric = numerical_gradient(lambda z: L.softmax_cross_entropy(z, y)[0], logits.copy())
    assert rel_error(dlogits, numeric) <= 1e-7
    np.testing.assert_allclose(dlogits, (L.softmax(logits) - L.one_hot(y, 4)) / 6, rtol=1e-14)


def test_softmax_cross_entropy_is_finite_for_huge_logits():
    logits = np.array([[1000.0, -1000.0], [-1e6, 1e6]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, dlogits = L.softmax_cross_entropy(logits, np.array([1, 1]))
    assert loss == pytest.approx(1000.0)  # (2000 + 0) / 2
    np.testing.assert_allclose(dlogits, [[0.5, -0.5], [0.0, 0.0]])


def test_softmax_cross_entropy_float32_and_labels_given_as_whole_floats(rng):
    logits = rng.normal(size=(4, 3)).astype(np.float32)
    loss, d = L.softmax_cross_entropy(logits, np.array([0.0, 2.0, 1.0, 1.0]))
    loss64, d64 = L.softmax_cross_entropy(logits.astype(np.float64), [0, 2, 1, 1])
    assert d.dtype == np.float32 and np.asarray(loss).dtype == np.float32
    assert loss == pytest.approx(loss64, rel=1e-6)
    np.testing.assert_allclose(d, d64, rtol=1e-5, atol=1e-8)


# ---------------------------------------------------------------- binary cross-entropy


def test_bce_with_logits_matches_the_naive_formula_on_moderate_logits(rng):
    x = rng.normal(size=(5, 3))
    y = rng.uniform(size=(5, 3))  # soft targets are allowed
    p = 1 / (1 + np.exp(-x))
    naive = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    loss, dx = L.binary_cross_entropy_with_logits(x, y)
    assert loss == pytest.approx(naive, rel=1e-13)
    np.testing.assert_allclose(dx, (p - y) / x.size, rtol=1e-13)


def test_bce_with_logits_gradient_is_numerically_right(rng):
    x = rng.normal(size=7) * 2
    y = rng.integers(0, 2, size=7)
    _, dx = L.binary_cross_entropy_with_logits(x, y)
    numeric = numerical_gradient(lambda z: L.binary_cross_entropy_with_logits(z, y)[0], x.copy())
    assert rel_error(dx, numeric) <= 1e-7


def test_bce_with_logits_is_exact_for_huge_logits():
    x = np.array([1000.0, -1000.0, 1000.0, -1000.0])
    y = np.array([1.0, 0.0, 0.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, dx = L.binary_cross_entropy_with_logits(x, y)
    assert loss == pytest.approx(500.0)  # two free samples, two costing 1000 each
    np.testing.assert_allclose(dx, [0.0, 0.0, 0.25, -0.25])


def test_bce_with_logits_rejects_bad_targets():
    with pytest.raises(ValueError, match=r"targets in \[0, 1\]"):
        L.binary_cross_entropy_with_logits(np.zeros(2), np.array([0.0, 2.0]))
    with pytest.raises(ValueError, match="same shape as logits"):
        L.binary_cross_entropy_with_logits(np.zeros(2), np.zeros(3))


# ---------------------------------------------------------------- hinge and MSE


def test_max_margin_loss_matches_a_loop_and_its_gradients_are_right(rng):
    s = rng.normal(size=9)
    s_c = rng.normal(size=9)
    loss, ds, ds_c = L.max_margin_loss(s, s_c, margin=0.7)
    expected = sum(max(0.0, 0.7 + b - a) for a, b in zip(s, s_c, strict=True)) / 9
    assert loss == pytest.approx(expected)
    assert np.all(np.abs(0.7 + s_c - s) > 1e-3)  # no sample within h of the kink
    num_s = numerical_gradient(lambda v: L.max_margin_loss(v, s_c, 0.7)[0], s.copy())
    num_c = numerical_gradient(lambda v: L.max_margin_loss(s, v, 0.7)[0], s_c.copy())
    assert rel_error(ds, num_s) <= 1e-7
    assert rel_error(ds_c, num_c) <= 1e-7


def test_max_margin_subgradient_at_the_hinge_counts_as_active():
    """At margin + s_c - s == 0 exactly the gradient is the active one (torch's clamp_min)."""
    loss, ds, ds_c = L.max_margin_loss(np.array([1.0, 5.0]), np.array([0.0, 0.0]))
    assert loss == 0.0
    np.testing.assert_array_equal(ds, [-0.5, 0.0])
    np.testing.assert_array_equal(ds_c, [0.5, 0.0])


def test_max_margin_loss_checks_shapes():
    with pytest.raises(ValueError, match="s_c"):
        L.max_margin_loss(np.zeros(3), np.zeros(2))


def test_mse_loss_and_gradient(rng):
    pred = rng.normal(size=(4, 3))
    target = rng.normal(size=(4, 3))
    loss, d = L.mse_loss(pred, target)
    assert loss == pytest.approx(np.sum((pred - target) ** 2) / 12, rel=1e-14)
    numeric = numerical_gradient(lambda p: L.mse_loss(p, target)[0], pred.copy())
    assert rel_error(d, numeric) <= 1e-7
    with pytest.raises(ValueError, match="target"):
        L.mse_loss(pred, target.T)


# ---------------------------------------------------------------- hygiene


def test_losses_do_not_modify_their_inputs(rng):
    logits = rng.normal(size=(4, 3))
    y = np.array([0, 1, 2, 1])
    probs = L.softmax(logits)
    copies = [a.copy() for a in (logits, y, probs)]
    L.softmax(logits)
    L.softmax_cross_entropy(logits, y)
    L.cross_entropy(probs, y)
    L.binary_cross_entropy_with_logits(logits, (logits > 0).astype(float))
    L.max_margin_loss(logits[:, 0], logits[:, 1])
    L.mse_loss(logits, probs)
    for before, after in zip(copies, (logits, y, probs), strict=True):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("name", GRADED)
def test_graded_functions_are_exported_and_guarded(name):
    import nnkit

    assert name in L.__all__
    fn = getattr(nnkit, name)
    assert getattr(fn, "__nnkit_reference__", None) == name
    with forbid(name), pytest.raises(ReferenceCallError):
        fn(np.zeros((1, 2)), np.zeros(1, dtype=int))


def test_remaining_losses_keep_float32_with_float32_accuracy(rng):
    x = rng.normal(size=(5, 3)).astype(np.float32)
    t = rng.uniform(size=(5, 3)).astype(np.float32)
    calls = [
        lambda a, b: L.binary_cross_entropy_with_logits(a, b),
        lambda a, b: L.mse_loss(a, b),
        lambda a, b: L.max_margin_loss(a[:, 0], b[:, 0]),
    ]
    for call in calls:
        out32 = call(x, t)
        out64 = call(x.astype(np.float64), t.astype(np.float64))
        for a32, a64 in zip(out32, out64, strict=True):
            assert np.asarray(a32).dtype == np.float32
            np.testing.assert_allclose(a32, a64, rtol=1e-5, atol=1e-7)
    probs = L.softmax(x)
    ce = L.cross_entropy(probs, np.array([0, 1, 2, 0, 1]))
    assert np.asarray(ce).dtype == np.float32

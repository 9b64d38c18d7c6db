"""Are the activation functions of lesson 01 right, stable, dtype-preserving and guarded?"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from nnkit import activations as A
from nnkit._guard import ReferenceCallError, forbid

NAMES = list(A.ACTIVATIONS)
GRADED = [
    "sigmoid",
    "sigmoid_grad",
    "tanh",
    "tanh_grad",
    "relu",
    "relu_grad",
    "leaky_relu",
    "leaky_relu_grad",
]
# Points where an activation has a kink: centred differences are meaningless within h of them.
KINKS = {"relu": [0.0], "leaky_relu": [0.0], "hard_tanh": [-1.0, 1.0]}


def rel_error(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def elementwise_numerical_derivative(f, a, h=1e-5):
    """Centred difference of an element-wise function: (f(a + h) - f(a - h)) / 2h."""
    return (f(a + h) - f(a - h)) / (2 * h)


def away_from_kinks(name, rng, n=200):
    a = rng.uniform(-4, 4, size=n)
    for kink in KINKS.get(name, []):
        a = a[np.abs(a - kink) > 1e-3]
    return a


# Independent oracles: plain textbook formulas in Python floats, on moderate inputs only.
ORACLES = {
    "identity": lambda x: x,
    "sigmoid": lambda x: 1.0 / (1.0 + math.exp(-x)),
    "tanh": lambda x: (math.exp(x) - math.exp(-x)) / (math.exp(x) + math.exp(-x)),
    "relu": lambda x: x if x > 0 else 0.0,
    "leaky_relu": lambda x: x if x > 0 else 0.01 * x,
    "hard_tanh": lambda x: min(1.0, max(-1.0, x)),
    "softsign": lambda x: x / (1.0 + abs(x)),
    "softplus": lambda x: math.log(1.0 + math.exp(x)),
}


@pytest.mark.parametrize("name", NAMES)
def test_values_match_the_textbook_formula(name):
    """Does each activation give the textbook value on moderate inputs?"""
    fn, _ = A.get_activation(name)
    a = np.random.default_rng(0).uniform(-6, 6, size=50)
    expected = np.array([ORACLES[name](float(x)) for x in a])
    assert rel_error(fn(a), expected) < 1e-12


@pytest.mark.parametrize("name", NAMES)
def test_grad_matches_centred_differences(name):
    """Is each *_grad the derivative of its function (rel. error <= 1e-7 away from kinks)?"""
    fn, grad = A.get_activation(name)
    a = away_from_kinks(name, np.random.default_rng(1))
    numeric = elementwise_numerical_derivative(fn, a)
    assert rel_error(grad(a), numeric) <= 1e-7


def test_leaky_relu_slope_argument_is_used():
    """Do leaky_relu and its grad use k, and agree with centred differences for k = 0.2?"""
    a = away_from_kinks("leaky_relu", np.random.default_rng(2))
    np.testing.assert_array_equal(A.leaky_relu(a, k=0.2), np.where(a > 0, a, 0.2 * a))
    numeric = elementwise_numerical_derivative(lambda x: A.leaky_relu(x, 0.2), a)
    assert rel_error(A.leaky_relu_grad(a, 0.2), numeric) <= 1e-7


def test_derivatives_at_the_kinks_follow_torch():
    """relu_grad(0) = 0, leaky_relu_grad(0) = k, hard_tanh_grad(±1) = 0 (torch's choices)."""
    assert A.relu_grad(np.array([0.0]))[0] == 0.0
    assert A.leaky_relu_grad(np.array([0.0]), k=0.1)[0] == 0.1
    np.testing.assert_array_equal(A.hard_tanh_grad(np.array([-1.0, 1.0])), [0.0, 0.0])


HUGE = np.array([-np.inf, -1e308, -1e4, -800.0, -50.0, 50.0, 800.0, 1e4, 1e308, np.inf])


@pytest.mark.parametrize("name", NAMES)
def test_huge_inputs_give_finite_limits_without_warnings(name):
    """No overflow, nan or RuntimeWarning for huge |a|; the limits are the right ones."""
    fn, grad = A.get_activation(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, g = fn(HUGE), grad(HUGE)
    assert not np.isnan(out).any() and not np.isnan(g).any()
    assert np.all(np.isfinite(g))


def test_saturating_limits_are_exact():
    """σ(±1000) is exactly 1/0, tanh and softsign reach ±1, their grads vanish."""
    big = np.array([-1000.0, 1000.0])
    np.testing.assert_array_equal(A.sigmoid(big), [0.0, 1.0])
    np.testing.assert_array_equal(A.tanh(big), [-1.0, 1.0])
    np.testing.assert_array_equal(A.sigmoid_grad(big), [0.0, 0.0])
    np.testing.assert_array_equal(A.tanh_grad(big), [0.0, 0.0])
    np.testing.assert_array_equal(A.softsign(np.array([-np.inf, np.inf])), [-1.0, 1.0])
    np.testing.assert_array_equal(A.softplus(big), [0.0, 1000.0])


def test_tails_keep_relative_accuracy():
    """σ(-30) and σ'(±30) are accurate to the last digits, not rounded to 0 or to 1 - 1."""
    assert A.sigmoid(np.array([-30.0]))[0] == pytest.approx(math.exp(-30) / (1 + math.exp(-30)))
    exact = math.exp(-30) / (1 + math.exp(-30)) ** 2
    assert A.sigmoid_grad(np.array([30.0]))[0] == pytest.approx(exact, rel=1e-14)
    assert A.tanh_grad(np.array([-20.0]))[0] == pytest.approx(1 / math.cosh(20) ** 2, rel=1e-14)
    assert A.softplus(np.array([-40.0]))[0] == pytest.approx(math.log1p(math.exp(-40)), rel=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_float32_in_float32_out_with_float32_accuracy(name):
    """float32 input gives float32 output, within float32 rounding of the float64 result."""
    fn, grad = A.get_activation(name)
    a32 = np.random.default_rng(3).uniform(-5, 5, size=(4, 7)).astype(np.float32)
    a64 = a32.astype(np.float64)
    for f in (fn, grad):
        out = f(a32)
        assert out.dtype == np.float32 and out.shape == a32.shape
        np.testing.assert_allclose(out, f(a64), rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("name", NAMES)
def test_integer_and_list_inputs_become_float64(name):
    fn, grad = A.get_activation(name)
    assert fn([-2, 0, 3]).dtype == np.float64
    assert grad(np.array([[-2, 0, 3]])).shape == (1, 3)


@pytest.mark.parametrize("name", NAMES)
def test_inputs_are_not_modified_and_output_is_a_new_array(name):
    fn, grad = A.get_activation(name)
    a = np.random.default_rng(4).normal(size=(3, 5))
    before = a.copy()
    out = fn(a)
    grad(a)
    np.testing.assert_array_equal(a, before)
    assert not np.shares_memory(out, a)


def test_get_activation_rejects_unknown_names_and_lists_the_valid_ones():
    with pytest.raises(ValueError, match="swish") as info:
        A.get_activation("swish")
    for name in NAMES:
        assert name in str(info.value)
    with pytest.raises(TypeError, match="string"):
        A.get_activation(A.relu)


def test_registry_pairs_functions_with_their_own_derivatives():
    assert A.get_activation("relu") == (A.relu, A.relu_grad)
    assert set(NAMES) == {
        "identity",
        "sigmoid",
        "tanh",
        "relu",
        "leaky_relu",
        "hard_tanh",
        "softsign",
        "softplus",
    }


def test_bad_slope_is_rejected_with_a_message():
    with pytest.raises(TypeError, match="k must be a real number"):
        A.leaky_relu(np.ones(2), k="0.1")
    with pytest.raises(TypeError, match="k"):
        A.leaky_relu_grad(np.ones(2), k=None)


def test_non_numeric_input_is_rejected():
    with pytest.raises(TypeError, match="a must hold numbers"):
        A.sigmoid(np.array(["x", "y"]))


@pytest.mark.parametrize("name", GRADED)
def test_graded_functions_are_exported_and_guarded(name):
    """Is each graded function in __all__, at top level, and blocked inside forbid(name)?"""
    import nnkit

    assert name in A.__all__
    fn = getattr(nnkit, name)
    assert fn is getattr(A, name)
    assert getattr(fn, "__nnkit_reference__", None) == name
    with forbid(name) as calls, pytest.raises(ReferenceCallError):
        fn(np.zeros(2))
    assert calls == [name]

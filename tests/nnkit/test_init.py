"""Tests of nnkit.init: shapes, distributions against the formulas, orthogonality, rng, errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from nnkit import init
from nnkit._guard import ReferenceCallError, forbid

FAN_IN, FAN_OUT = 300, 60  # unequal fans, so a formula using the wrong one is far off
# 18,000 draws per matrix: the KS statistic of a right distribution is ~0.01, below CRITICAL
# with probability 1 - 1e-5; a std off by 10% moves it to ~0.03.
CRITICAL = 0.0185

RANDOM = {
    "xavier_uniform": stats.uniform(
        loc=-np.sqrt(6 / (FAN_IN + FAN_OUT)), scale=2 * np.sqrt(6 / (FAN_IN + FAN_OUT))
    ),
    "xavier_normal": stats.norm(scale=np.sqrt(2 / (FAN_IN + FAN_OUT))),
    "he_normal": stats.norm(scale=np.sqrt(2 / FAN_IN)),
    "he_uniform": stats.uniform(loc=-np.sqrt(6 / FAN_IN), scale=2 * np.sqrt(6 / FAN_IN)),
    "lecun_normal": stats.norm(scale=np.sqrt(1 / FAN_IN)),
    "normal": stats.norm(scale=0.01),
}


def ks(sample: np.ndarray, dist) -> float:
    return stats.kstest(sample.ravel(), dist.cdf).statistic


@pytest.mark.parametrize("name", sorted(RANDOM))
def test_random_initialisers_follow_their_formula(name):
    """Is each initialiser's sample distributed as the course's formula says (KS test)?"""
    W = init.get_initializer(name)(FAN_IN, FAN_OUT, np.random.default_rng(0))
    assert W.shape == (FAN_OUT, FAN_IN) and W.dtype == np.float64
    assert ks(W, RANDOM[name]) < CRITICAL
    assert abs(W.std() - RANDOM[name].std()) < 0.03 * RANDOM[name].std()


@pytest.mark.parametrize(
    ("name", "wrong"),
    [
        ("he_normal", stats.norm(scale=np.sqrt(2 / FAN_OUT))),  # fan_out instead of fan_in
        ("he_normal", stats.norm(scale=np.sqrt(1 / FAN_IN))),  # LeCun instead of He
        ("xavier_normal", stats.norm(scale=np.sqrt(6 / (FAN_IN + FAN_OUT)))),  # 6 instead of 2
        ("xavier_uniform", stats.uniform(loc=-np.sqrt(2 / 360), scale=2 * np.sqrt(2 / 360))),
        ("he_uniform", stats.uniform(loc=-np.sqrt(6 / FAN_OUT), scale=2 * np.sqrt(6 / FAN_OUT))),
    ],
)
def test_the_statistics_tell_a_wrong_constant_apart(name, wrong):
    """Does the KS criterion reject a plausible wrong constant? (it must, or it is vacuous)"""
    W = init.get_initializer(name)(FAN_IN, FAN_OUT, np.random.default_rng(0))
    assert ks(W, wrong) > 3 * CRITICAL
    sample_of_wrong = wrong.rvs(size=W.shape, random_state=np.random.default_rng(1))
    assert ks(sample_of_wrong, RANDOM[name]) > 3 * CRITICAL


def test_uniform_initialisers_stay_inside_their_bound():
    bound = np.sqrt(6 / (FAN_IN + FAN_OUT))
    W = init.xavier_uniform(FAN_IN, FAN_OUT, 0)
    assert np.abs(W).max() <= bound and np.abs(W).max() > 0.99 * bound
    bound = np.sqrt(6 / FAN_IN)
    W = init.he_uniform(FAN_IN, FAN_OUT, 0)
    assert np.abs(W).max() <= bound and np.abs(W).max() > 0.99 * bound


@pytest.mark.parametrize(("fan_in", "fan_out"), [(8, 5), (5, 8), (6, 6), (1, 7), (7, 1)])
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_orthogonal_has_orthonormal_rows_or_columns(fan_in, fan_out, gain):
    """W Wᵀ = gain² I if fan_out <= fan_in, else Wᵀ W = gain² I."""
    W = init.orthogonal(fan_in, fan_out, np.random.default_rng(3), gain=gain)
    assert W.shape == (fan_out, fan_in)
    gram = W @ W.T if fan_out <= fan_in else W.T @ W
    assert np.allclose(gram, gain**2 * np.eye(min(fan_in, fan_out)), atol=1e-12)


def test_orthogonal_is_not_biased_by_the_qr_sign_convention():
    """With the sign correction Q is Haar distributed: every entry has mean 0 over many draws."""
    rng = np.random.default_rng(0)
    draws = np.array([init.orthogonal(3, 3, rng) for _ in range(4000)])
    # each entry has variance 1/3; the mean of 4000 has std 0.009; without the correction
    # the diagonal of numpy's Q is biased: E[W00] is about -0.5 (measured)
    assert np.abs(draws.mean(axis=0)).max() < 0.05


def test_deterministic_inits():
    assert np.array_equal(init.zeros(3, 2), np.zeros((2, 3)))
    assert np.array_equal(init.constant(3, 2, value=0.5), np.full((2, 3), 0.5))
    assert init.get_initializer("constant")(4, 1, None, value=2.0).shape == (1, 4)


@pytest.mark.parametrize(
    "name", ["xavier_uniform", "xavier_normal", "he_normal", "he_uniform", "orthogonal", "normal"]
)
def test_randomness_only_through_rng(name):
    """Same seed → same matrix whatever the global seed; other seeds differ; global unused."""
    fn = init.get_initializer(name)
    np.random.seed(0)  # noqa: NPY002
    a = fn(5, 4, 11)
    state = np.random.get_state()[1].copy()  # noqa: NPY002
    fn(5, 4, None)
    assert np.array_equal(np.random.get_state()[1], state)  # noqa: NPY002
    np.random.seed(1)  # noqa: NPY002
    assert np.array_equal(fn(5, 4, np.random.default_rng(11)), a)
    assert not np.array_equal(fn(5, 4, 12), a)


def test_matches_torch_statistics():
    """torch's initialisers (float64) have the same spread as ours: same formulas, same fans."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    pairs = {
        "xavier_uniform": torch.nn.init.xavier_uniform_,
        "xavier_normal": torch.nn.init.xavier_normal_,
        "he_normal": torch.nn.init.kaiming_normal_,  # defaults: fan_in, leaky_relu with a=0
        "he_uniform": lambda t: torch.nn.init.kaiming_uniform_(t, a=0, nonlinearity="relu"),
    }
    for name, torch_init in pairs.items():
        t = torch.empty(FAN_OUT, FAN_IN, dtype=torch.float64)  # torch's (out, in) layout too
        torch_init(t)
        ours = init.get_initializer(name)(FAN_IN, FAN_OUT, 0)
        assert ks(t.numpy(), RANDOM[name]) < CRITICAL, name
        assert abs(t.numpy().std() / ours.std() - 1) < 0.04, name
    t = torch.empty(FAN_OUT, FAN_IN, dtype=torch.float64)
    torch.nn.init.orthogonal_(t, gain=1.5)
    ours = init.orthogonal(FAN_IN, FAN_OUT, 0, gain=1.5)
    assert np.allclose(t.numpy() @ t.numpy().T, ours @ ours.T, atol=1e-10)


def test_graded_initialisers_are_guarded_references():
    for name in ("xavier_uniform", "xavier_normal", "he_normal", "he_uniform", "orthogonal"):
        with forbid(name), pytest.raises(ReferenceCallError):
            getattr(init, name)(3, 2, 0)


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="fan_in must be a positive int, got 0"):
        init.he_normal(0, 3, 0)
    with pytest.raises(ValueError, match="fan_out must be a positive int, got -1"):
        init.orthogonal(3, -1, 0)
    with pytest.raises(TypeError, match="fan_in must be a positive int, got float"):
        init.xavier_uniform(2.0, 3, 0)
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator"):
        init.xavier_normal(2, 3, "seed")
    with pytest.raises(ValueError, match=r"unknown init 'kaiming'; expected one of \["):
        init.get_initializer("kaiming")
    with pytest.raises(TypeError, match="init must be a string or a callable"):
        init.get_initializer(3)
    with pytest.raises(ValueError, match="std must be >= 0"):
        init.normal(2, 2, 0, std=-1.0)
    assert init.get_initializer(init.he_normal) is init.he_normal

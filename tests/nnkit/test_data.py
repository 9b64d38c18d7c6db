"""Are the offline data sets, the split and the standardiser what the lessons rely on?"""

from __future__ import annotations

import numpy as np
import pytest

from nnkit import data

GENERATORS = {
    "xor": lambda rng: data.make_xor(101, 0.1, rng),
    "spirals": lambda rng: data.make_spirals(50, 4, 0.2, rng),
    "moons": lambda rng: data.make_moons(101, noise=0.1, rng=rng),
    "circles": lambda rng: data.make_circles(101, noise=0.05, rng=rng),
    "blobs": lambda rng: data.make_blobs(101, centers=3, n_features=5, rng=rng),
}
EXPECTED = {  # name: (n, D, K)
    "xor": (101, 2, 2),
    "spirals": (200, 2, 4),
    "moons": (101, 2, 2),
    "circles": (101, 2, 2),
    "blobs": (101, 5, 3),
}


@pytest.mark.parametrize("name", list(GENERATORS))
def test_shapes_dtypes_labels_and_balance(name):
    """(N, D) float64 inputs, (N,) int64 labels in [0, K), classes as balanced as N allows."""
    X, y = GENERATORS[name](0)
    n, d, k = EXPECTED[name]
    assert X.shape == (n, d) and X.dtype == np.float64
    assert y.shape == (n,) and y.dtype == np.int64
    assert set(np.unique(y)) == set(range(k))
    counts = np.bincount(y, minlength=k)
    if name == "xor":  # two corners per class
        assert abs(int(counts[0]) - int(counts[1])) <= 2
    else:
        assert counts.max() - counts.min() <= 1
    assert np.all(np.isfinite(X))


@pytest.mark.parametrize("name", list(GENERATORS))
def test_seeded_generators_are_deterministic_and_ignore_global_state(name):
    """Same seed → same data whatever np.random's global state; the global state is untouched."""
    # The legacy global state is used on purpose: it is what a careless generator would read.
    np.random.seed(1)  # noqa: NPY002
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    X1, y1 = GENERATORS[name](42)
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # noqa: NPY002
    np.random.seed(2)  # noqa: NPY002
    X2, y2 = GENERATORS[name](np.random.default_rng(42))
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    X3, _ = GENERATORS[name](43)
    assert not np.array_equal(X1, X3)
    X4, _ = GENERATORS[name](None)
    X5, _ = GENERATORS[name](None)
    assert not np.array_equal(X4, X5)


@pytest.mark.parametrize("name", list(GENERATORS))
def test_generators_reject_a_bad_rng(name):
    with pytest.raises(TypeError, match="rng"):
        GENERATORS[name]("seed")


def test_spirals_follow_the_classic_construction():
    """Noise 0: arm j is r·(sin θ, cos θ), θ = linspace(4j, 4(j+1)), r = linspace(0, 1)."""
    X, y = data.make_spirals(n_per_class=30, n_classes=3, noise=0.0, rng=0)
    for j in range(3):
        r = np.linspace(0, 1, 30)
        t = np.linspace(4 * j, 4 * (j + 1), 30)
        np.testing.assert_allclose(X[y == j], np.c_[r * np.sin(t), r * np.cos(t)], atol=1e-15)
        np.testing.assert_array_equal(y[30 * j : 30 * (j + 1)], j)
    X_noisy, _ = data.make_spirals(n_per_class=30, n_classes=3, noise=0.2, rng=0)
    # Noise moves the angle, not the radius.
    np.testing.assert_allclose(np.hypot(*X_noisy.T), np.hypot(*X.T), atol=1e-12)


def test_xor_labels_are_the_exclusive_or_of_the_nearest_corner():
    X, y = data.make_xor(400, noise=0.05, rng=1)
    corner = (X > 0.5).astype(int)
    np.testing.assert_array_equal(y, corner[:, 0] ^ corner[:, 1])


def _sorted_rows(X):
    return X[np.lexsort(X.T[::-1])]


@pytest.mark.parametrize("name", ["moons", "circles"])
def test_noise_free_shapes_match_scikit_learn(name):
    """Without noise, our moons and circles are the very points scikit-learn generates."""
    datasets = pytest.importorskip("sklearn.datasets")
    if name == "moons":
        X, y = data.make_moons(100, noise=0.0, rng=0)
        X_ref, y_ref = datasets.make_moons(100, shuffle=False, noise=None)
    else:
        X, y = data.make_circles(100, noise=0.0, factor=0.3, rng=0)
        X_ref, y_ref = datasets.make_circles(100, shuffle=False, noise=None, factor=0.3)
    for label in (0, 1):
        np.testing.assert_allclose(
            _sorted_rows(X[y == label]), _sorted_rows(X_ref[y_ref == label]), atol=1e-12
        )


def test_noise_has_the_requested_standard_deviation():
    """Noisy minus noise-free moons (same order after sorting labels) has std ≈ noise."""
    X, y = data.make_moons(4000, noise=0.3, rng=3)
    radius_dev = np.concatenate(
        [np.hypot(*X[y == 0].T) - 1.0, np.hypot(X[y == 1, 0] - 1.0, X[y == 1, 1] - 0.5) - 1.0]
    )
    # The radial component of isotropic N(0, σ²) noise has std ≈ σ (slightly more, curvature).
    assert 0.27 < radius_dev.std() < 0.36


def test_blobs_given_centres_have_the_right_means_and_spread():
    centres = np.array([[0.0, 0.0, 0.0], [5.0, -5.0, 2.0]])
    X, y = data.make_blobs(2000, centers=centres, cluster_std=0.5, rng=7)
    assert X.shape == (2000, 3)
    for k in range(2):
        members = X[y == k]
        # Sample mean within 5 standard errors; sample std within 10 %.
        assert np.all(np.abs(members.mean(axis=0) - centres[k]) < 5 * 0.5 / np.sqrt(len(members)))
        np.testing.assert_allclose(members.std(axis=0), 0.5, rtol=0.1)


def test_blobs_random_centres_lie_in_the_box():
    X, y = data.make_blobs(300, centers=4, cluster_std=0.01, center_box=(-2, 3), rng=1)
    means = np.array([X[y == k].mean(axis=0) for k in range(4)])
    assert np.all(means > -2.01) and np.all(means < 3.01)


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: data.make_xor(0), ValueError, "n"),
        (lambda: data.make_xor(10, noise=-1), ValueError, "noise"),
        (lambda: data.make_spirals(n_per_class=2.5), TypeError, "n_per_class"),
        (lambda: data.make_spirals(n_classes=1), ValueError, "n_classes"),
        (lambda: data.make_circles(factor=1.0), ValueError, "factor"),
        (lambda: data.make_blobs(centers=np.zeros(3)), ValueError, "centers"),
        (lambda: data.make_blobs(cluster_std=-0.1), ValueError, "cluster_std"),
    ],
)
def test_generators_reject_bad_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_load_digits_is_the_bundled_data_set():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    X, y = data.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 16
    assert set(np.unique(y)) == set(range(10))
    reference = sklearn_datasets.load_digits()
    np.testing.assert_array_equal(X, reference.data)
    Xs, ys = data.load_digits(rng=0)
    Xs2, _ = data.load_digits(rng=0)
    np.testing.assert_array_equal(Xs, Xs2)
    assert not np.array_equal(ys, y)
    # A permutation of the same samples, pairs kept together.
    np.testing.assert_array_equal(np.sort(Xs.sum(axis=1)), np.sort(X.sum(axis=1)))
    assert np.array_equal(np.bincount(ys), np.bincount(y))


def test_split_is_disjoint_covering_and_sized():
    X = np.arange(200).reshape(100, 2)
    y = np.arange(100) % 3
    (X_tr, y_tr), (X_va, y_va), (X_te, y_te) = data.train_val_test_split(
        X, y, val=0.2, test=0.1, rng=0
    )
    assert (len(X_tr), len(X_va), len(X_te)) == (70, 20, 10)
    ids = np.concatenate([X_tr[:, 0], X_va[:, 0], X_te[:, 0]]) // 2
    np.testing.assert_array_equal(np.sort(ids), np.arange(100))
    # Rows stay paired with their labels.
    for Xp, yp in [(X_tr, y_tr), (X_va, y_va), (X_te, y_te)]:
        np.testing.assert_array_equal(yp, (Xp[:, 0] // 2) % 3)
    again = data.train_val_test_split(X, y, val=0.2, test=0.1, rng=0)
    np.testing.assert_array_equal(again[1][0], X_va)


def test_stratified_split_keeps_class_proportions():
    y = np.repeat([0, 1, 2], [100, 60, 40])
    X = np.arange(200)[:, None].astype(float)
    (X_tr, y_tr), (X_va, y_va), (X_te, y_te) = data.train_val_test_split(
        X, y, val=0.15, test=0.25, rng=3, stratify=True
    )
    np.testing.assert_array_equal(np.bincount(y_va), [15, 9, 6])
    np.testing.assert_array_equal(np.bincount(y_te), [25, 15, 10])
    np.testing.assert_array_equal(np.bincount(y_tr), [60, 36, 24])
    assert len(np.intersect1d(X_tr, X_va)) == 0 and len(np.intersect1d(X_va, X_te)) == 0


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"y": np.zeros(9)}, ValueError, "same length"),
        ({"val": -0.1}, ValueError, "val"),
        ({"test": 1.0}, ValueError, "test"),
        ({"val": 0.5, "test": 0.5}, ValueError, "val \\+ test"),
        ({"val": "0.1"}, TypeError, "val"),
    ],
)
def test_split_rejects_bad_arguments(kwargs, exc, match):
    args = {"X": np.zeros((10, 2)), "y": np.zeros(10)} | kwargs
    with pytest.raises(exc, match=match):
        data.train_val_test_split(**args)


def test_standardizer_uses_training_statistics_only():
    """Statistics come from X_train alone: transforming other data never changes them."""
    rng = np.random.default_rng(0)
    X_train = rng.normal(3.0, 2.0, size=(500, 4))
    X_val = rng.normal(-7.0, 0.1, size=(50, 4))  # deliberately different distribution
    scaler = data.Standardizer().fit(X_train)
    mean, scale = scaler.mean_.copy(), scaler.scale_.copy()
    Z_val = scaler.transform(X_val)
    np.testing.assert_array_equal(scaler.mean_, mean)
    np.testing.assert_array_equal(scaler.scale_, scale)
    np.testing.assert_allclose(Z_val, (X_val - X_train.mean(0)) / X_train.std(0))
    assert np.all(Z_val.mean(axis=0) < -4)  # val is NOT re-centred on its own mean
    Z_train = scaler.transform(X_train)
    np.testing.assert_allclose(Z_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(Z_train.std(axis=0), 1, atol=1e-12)
    np.testing.assert_allclose(scaler.inverse_transform(Z_val), X_val, atol=1e-12)


def test_standardizer_matches_scikit_learn():
    preprocessing = pytest.importorskip("sklearn.preprocessing")
    X = np.random.default_rng(5).gamma(2.0, 3.0, size=(80, 6))
    X[:, 2] = 4.2  # constant feature
    ours = data.Standardizer().fit_transform(X)
    theirs = preprocessing.StandardScaler().fit_transform(X)
    np.testing.assert_allclose(ours, theirs, atol=1e-12)


def test_standardizer_constant_feature_gives_no_nan():
    X = np.column_stack([np.full(10, 0.1), np.arange(10.0), np.full(10, -1e6)])
    scaler = data.Standardizer().fit(X)
    Z = scaler.transform(X)
    assert np.all(np.isfinite(Z))
    np.testing.assert_allclose(Z[:, [0, 2]], 0.0, atol=1e-15)
    np.testing.assert_allclose(scaler.inverse_transform(Z), X)


def test_standardizer_keeps_float32_and_reports_misuse():
    X = np.arange(12, dtype=np.float32).reshape(4, 3)
    assert data.Standardizer().fit_transform(X).dtype == np.float32
    with pytest.raises(RuntimeError, match="fit"):
        data.Standardizer().transform(X)
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        data.Standardizer().fit(X).transform(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        data.Standardizer().fit(np.zeros(5))

"""Lesson 04: do plausible wrong initialisers and signal diagnostics lose points with the
right message, and do different-but-correct answers get full marks?"""

from __future__ import annotations

import numpy as np
import pytest
from lesson_helpers import assert_correct, assert_wrong, grade, solution_functions

import nnkit

L = "04_init"


def _rng(rng):
    return np.random.default_rng(rng)


WRONG_INITS = [
    # (function, wrong implementation, phrase of the expected message)
    ("he_normal", lambda i, o, r: _rng(r).normal(0, np.sqrt(2 / o), (o, i)), "fan_out"),
    (
        "xavier_normal",
        lambda i, o, r: _rng(r).normal(0, np.sqrt(6 / (i + o)), (o, i)),
        "uniform distribution's bound",
    ),
    (
        "xavier_uniform",
        lambda i, o, r: _rng(r).uniform(-1, 1, (o, i)) * np.sqrt(2 / (i + o)),
        "normal distribution's standard deviation",
    ),
    (
        "xavier_uniform",
        lambda i, o, r: _rng(r).normal(0, np.sqrt(2 / (i + o)), (o, i)),
        "normal distribution",
    ),
    (
        "he_uniform",
        lambda i, o, r: _rng(r).uniform(-1, 1, (o, i)) * np.sqrt(2 / i),
        "normal distribution's standard deviation",
    ),
    (
        "he_normal",
        lambda i, o, r: _rng(r).uniform(-1, 1, (o, i)) * np.sqrt(6 / i),
        "uniform distribution",
    ),
    (
        "he_normal",
        lambda i, o, r: _rng(r).normal(0, 2 / i, (o, i)),
        "a variance used as the standard",
    ),
    ("he_normal", lambda i, o, r: _rng(r).normal(0, np.sqrt(2 / i), (i, o)), "(fan_out, fan_in)"),
    (
        "xavier_normal",
        lambda i, o, r: np.random.normal(0, np.sqrt(2 / (i + o)), (o, i)),  # noqa: NPY002
        "global random state",
    ),
    (
        "he_uniform",
        lambda i, o, r: _rng(0).uniform(-1, 1, (o, i)) * np.sqrt(6 / i),
        "rng argument is ignored",
    ),
    ("he_normal", lambda i, o, r: _rng(r).normal(0, np.sqrt(1 / i), (o, i)), "LeCun"),
    # new in the red-team pass
    (
        "xavier_uniform",
        lambda i, o, r: _rng(r).uniform(-1, 1, (o, i)) * np.sqrt(3 / (i + o)),
        "3 instead of 6",
    ),
    (
        "xavier_uniform",
        lambda i, o, r: _rng(r).uniform(-1, 1, (o, i)) * np.sqrt(6 / i),
        "uses both fans",
    ),
    (
        "he_uniform",
        lambda i, o, r: _rng(r).uniform(-1, 1, (o, i)) * np.sqrt(6 / (i + o)),
        "He/Kaiming uses fan_in only",
    ),
    ("he_uniform", lambda i, o, r: _rng(r).uniform(0, np.sqrt(6 / i), (o, i)), "not centred"),
    (
        "xavier_normal",
        lambda i, o, r: _rng(r).normal(0, 2 / (i + o), (o, i)),
        "square root is missing",
    ),
    (
        "he_normal",
        lambda i, o, r: np.random.default_rng().normal(0, np.sqrt(2 / i), (o, i)),
        "with no argument",
    ),
    (
        "he_normal",
        lambda i, o, r: np.random.randn(o, i) * np.sqrt(2 / i),  # noqa: NPY002
        "global random state",
    ),
]


def _seeds_global(i, o, r):
    """Seeds the global state from the rng argument: reproducible, but still global state."""
    np.random.seed(r if isinstance(r, int) else 0)  # noqa: NPY002
    a = np.sqrt(6 / (i + o))
    return np.random.uniform(-a, a, (o, i))  # noqa: NPY002


def test_seeding_the_global_state_is_still_the_global_state():
    assert_wrong("xavier_uniform", L, _seeds_global, "global random state")


def _stream(kind, k):
    """A correct initialiser whose draws come from another stream (a different seed for
    each k, derived from the rng argument), so its statistics differ from the reference's."""

    def init(i, o, r):
        g = np.random.default_rng([r, k]) if isinstance(r, int) else r
        if kind == "xavier_uniform":
            return g.uniform(-1, 1, (o, i)) * np.sqrt(6 / (i + o))
        if kind == "he_uniform":
            return g.uniform(-np.sqrt(6 / i), np.sqrt(6 / i), (i, o)).T
        if kind == "xavier_normal":
            return g.normal(0, np.sqrt(2 / (i + o)), (o, i))
        return g.standard_normal((o, i)) * np.sqrt(2 / i)

    return init


@pytest.mark.parametrize("kind", ["xavier_uniform", "he_uniform", "xavier_normal", "he_normal"])
def test_correct_initialisers_pass_whatever_the_random_stream(kind):
    # the statistics must not depend on one random stream (a uniform's max/std ratio used to
    # fail about a quarter of correct draws)
    for k in range(12):
        assert_correct(kind, L, _stream(kind, k))


@pytest.mark.parametrize(("function", "wrong", "phrase"), WRONG_INITS)
def test_wrong_initialisers_fail_with_their_message(function, wrong, phrase):
    assert_wrong(function, L, wrong, phrase)


def _qr_orth(i, o, r, gain=1.0, power=1):
    q, _ = np.linalg.qr(_rng(r).standard_normal((max(i, o), min(i, o))))
    return gain**power * (q.T if o < i else q)


WRONG_ORTHO = [
    (lambda i, o, r, gain=1.0: _qr_orth(i, o, r, gain, power=2), "gain²"),
    (lambda i, o, r, gain=1.0: _qr_orth(i, o, r, gain, power=0), "gain is missing"),
    (lambda i, o, r, gain=1.0: gain * _rng(r).normal(0, 1 / np.sqrt(i), (o, i)), "not (semi-)"),
    (lambda i, o, r, gain=1.0: gain * np.linalg.qr(_rng(r).standard_normal((o, i)))[0], "shape"),
    (lambda i, o, r, gain=1.0: _qr_orth(i, o, None, gain), "seed"),
    (lambda i, o, r, gain=1.0: np.sqrt(gain) * _qr_orth(i, o, r), "sqrt(gain)"),
    (lambda i, o, r, gain=2.0: _qr_orth(i, o, r, gain), "default is gain=1.0"),
    (lambda i, o, r, gain=1.0: gain * np.eye(o, i), "are zero"),
    (
        lambda i, o, r, gain=1.0: _qr_orth(i, o, r, gain) + 0 * np.random.rand(),  # noqa: NPY002
        "global random state",
    ),
]


def _padded_qr(i, o, r, gain=1.0):
    """Orthonormal rows, but zero columns: np.linalg.qr of an (o, i) matrix padded."""
    q, _ = np.linalg.qr(_rng(r).standard_normal((o, i)))
    if q.shape[1] < i:
        q = np.pad(q, ((0, 0), (0, i - q.shape[1])))
    return gain * q[:o, :i]


def test_orthogonal_with_zero_columns_fails():
    assert_wrong("orthogonal", L, _padded_qr, "are zero")


def test_other_correct_orthogonal_pass():
    def no_sign_fix(i, o, r, gain=1.0):  # still orthogonal: accepted
        return _qr_orth(i, o, r, gain)

    def square_sliced(i, o, r, gain=1.0):  # a full square Q, sliced to (o, i)
        q, _ = np.linalg.qr(_rng(r).standard_normal((max(i, o), max(i, o))))
        return gain * q[:o, :i]

    def as_float32(i, o, r, gain=1.0):
        return _qr_orth(i, o, r, gain).astype(np.float32)

    for fn in (no_sign_fix, square_sliced, as_float32):
        assert_correct("orthogonal", L, fn)


@pytest.mark.parametrize(("wrong", "phrase"), WRONG_ORTHO)
def test_wrong_orthogonal_fails(wrong, phrase):
    assert_wrong("orthogonal", L, wrong, phrase)


def test_correct_initialisers_other_formulations_pass():
    # uniform via rng.random, normal via standard_normal * std, a Generator passed through
    assert_correct(
        "xavier_uniform", L, lambda i, o, r: np.sqrt(6 / (i + o)) * (2 * _rng(r).random((o, i)) - 1)
    )
    assert_correct("he_normal", L, lambda i, o, r: _rng(r).normal(size=(o, i)) / np.sqrt(i / 2))
    assert_correct(
        "xavier_normal", L, lambda i, o, r: _rng(r).standard_normal((i, o)).T * np.sqrt(2 / (i + o))
    )
    assert_correct(
        "he_uniform",
        L,
        lambda i, o, r: _rng(r).uniform(-np.sqrt(6 / i), np.sqrt(6 / i), size=(o, i)),
    )

    # orthogonal through the SVD instead of QR
    def svd_orth(i, o, r, gain=1.0):
        u, _, vt = np.linalg.svd(_rng(r).standard_normal((o, i)), full_matrices=False)
        return gain * u @ vt

    assert_correct("orthogonal", L, svd_orth)
    ns = solution_functions(L)
    for name in ("xavier_uniform", "xavier_normal", "he_normal", "he_uniform", "orthogonal"):
        assert_correct(name, L, ns[name])


def _stds(X, Ws, act, **kw):
    h, out = X, []
    for W in Ws:
        z = h @ W.T
        h = act(z)
        out.append(float(np.std(z if kw.get("pre") else h, ddof=kw.get("ddof", 0))))
    return [float(np.std(X)), *out] if kw.get("input_too") else out


@pytest.mark.parametrize(
    ("wrong", "phrase"),
    [
        (lambda X, Ws, a: _stds(X, Ws, a, input_too=True), "std of the input"),
        (lambda X, Ws, a: _stds(X, Ws, a, pre=True), "pre-activations"),
        (lambda X, Ws, a: _stds(X, Ws, a, ddof=1), "ddof"),
        (lambda X, Ws, a: _stds(X, [W.T for W in Ws], a), "untransposed"),
    ],
)
def test_wrong_activation_stds_fail(wrong, phrase):
    assert_wrong("activation_stds", L, wrong, phrase)


def _stds2(X, Ws, act, kind):
    h, out = X, []
    for k, W in enumerate(Ws):
        z = (X if kind == "unchained" else h) @ W.T
        last = k == len(Ws) - 1
        h = z if (kind == "linear_last" and last) else (np.tanh(z) if kind == "tanh" else act(z))
        if kind == "var":
            out.append(float(h.var()))
        elif kind == "rms":
            out.append(float(np.sqrt(np.mean(h**2))))
        elif kind == "per_sample":
            out.append(float(h.std(axis=1).mean()))
        elif kind == "per_unit":
            out.append(float(h.std(axis=0).mean()))
        else:
            out.append(float(h.std()))
    if kind == "input_not_last":
        return [float(X.std()), *out[:-1]]
    return out


@pytest.mark.parametrize(
    ("kind", "phrase"),
    [
        ("var", "variances"),
        ("rms", "root mean square"),
        ("per_sample", "each sample"),
        ("per_unit", "per-unit"),
        ("linear_last", "the last one too"),
        ("input_not_last", "misses the last layer"),
        ("tanh", "hard-coded"),
        ("unchained", "instead of the previous layer"),
    ],
)
def test_more_wrong_activation_stds_fail(kind, phrase):
    assert_wrong("activation_stds", L, lambda X, Ws, a: _stds2(X, Ws, a, kind), phrase)


def test_correct_activation_stds_pass():
    def as_array(X, Ws, act):  # a NumPy array and a sqrt of the mean square deviation
        out, h = [], X
        for W in Ws:
            h = act(np.einsum("nd,md->nm", h, W))
            out.append(np.sqrt(np.mean((h - h.mean()) ** 2)))
        return np.array(out)

    assert_correct("activation_stds", L, as_array)
    assert_correct("activation_stds", L, solution_functions(L)["activation_stds"])


GRADS = {nnkit.tanh: nnkit.tanh_grad, nnkit.relu: nnkit.relu_grad}


def _norms(
    X,
    y,
    Ws,
    act,
    *,
    per_n=True,
    reverse=False,
    last_act=False,
    squared=False,
    onehot=True,
    deriv="ok",
    norm="fro",
):
    hs, zs = [X], []
    for i, W in enumerate(Ws):
        z = hs[-1] @ W.T
        zs.append(z)
        hs.append(act(z) if (i < len(Ws) - 1 or last_act) else z)
    s = hs[-1] - hs[-1].max(1, keepdims=True)
    d = np.exp(s) / np.exp(s).sum(1, keepdims=True)
    if onehot:
        d[np.arange(len(y)), y] -= 1
    if per_n:
        d = d / len(y)
    if last_act:
        d = d * GRADS[act](zs[-1])
    out = []
    for i in range(len(Ws) - 1, -1, -1):
        g = d.T @ hs[i]
        if squared:
            out.append(float(np.sum(g**2)))
        else:
            out.append(float(np.linalg.norm(g) if norm == "fro" else np.linalg.norm(g, 2)))
        if i:
            d = d @ Ws[i]
            if deriv == "ok":
                d = d * GRADS[act](zs[i - 1])
            elif deriv == "tanh":
                d = d * (1 - hs[i] ** 2)
    return out if reverse else out[::-1]


@pytest.mark.parametrize(
    ("kw", "phrase"),
    [
        ({"per_n": False}, "N times too large"),
        ({"reverse": True}, "wrong order"),
        ({"last_act": True}, "last layer"),
        ({"squared": True}, "squared norms"),
        ({"onehot": False}, "subtract onehot(y)"),
        ({"deriv": "none"}, "derivative is missing"),
        ({"deriv": "tanh"}, "whatever the activation"),
        ({"norm": "spectral"}, "largest singular value"),
    ],
)
def test_wrong_gradient_norms_fail(kw, phrase):
    assert_wrong("gradient_norms", L, lambda X, y, Ws, a: _norms(X, y, Ws, a, **kw), phrase)


def test_correct_gradient_norms_pass():
    def with_onehot(X, y, Ws, act):  # one-hot matrix, a list of deltas, np.sqrt(np.sum(...))
        Y = np.eye(Ws[-1].shape[0])[y]
        hs, zs = [X], []
        for W in Ws[:-1]:
            zs.append(hs[-1] @ W.T)
            hs.append(act(zs[-1]))
        logits = hs[-1] @ Ws[-1].T
        e = np.exp(logits - logits.max(1, keepdims=True))
        d = (e / e.sum(1, keepdims=True) - Y) / len(y)
        grads = [None] * len(Ws)
        for i in reversed(range(len(Ws))):
            grads[i] = np.sqrt(np.sum((d.T @ hs[i]) ** 2))
            if i:
                d = (d @ Ws[i]) * GRADS[act](zs[i - 1])
        return grads

    assert_correct("gradient_norms", L, with_onehot)
    assert_correct("gradient_norms", L, solution_functions(L)["gradient_norms"])


def _stds_with_layer_forward(X, weights, activation):
    h, stds = X, []
    for W in weights:
        h = nnkit.layer_forward(h, W, np.zeros(len(W)), activation)
        stds.append(float(np.std(h)))
    return stds


def _norms_with_layers(X, y, weights, activation):
    layer_of = {nnkit.tanh: nnkit.Tanh, nnkit.relu: nnkit.ReLU, nnkit.sigmoid: nnkit.Sigmoid}
    modules = []
    for i, W in enumerate(weights):
        linear = nnkit.Linear(W.shape[1], W.shape[0], bias=False)
        linear.params["W"][...] = W
        modules += [linear] + ([layer_of[activation]()] if i < len(weights) - 1 else [])
    model, loss_fn = nnkit.Sequential(*modules), nnkit.SoftmaxCrossEntropy()
    loss_fn(model(X), y)
    model.backward(loss_fn.backward())
    return [float(np.linalg.norm(m.grads["W"])) for m in modules if isinstance(m, nnkit.Linear)]


@pytest.mark.parametrize(
    ("function", "fn", "called"),
    [
        ("activation_stds", _stds_with_layer_forward, "nnkit.layer_forward"),
        ("gradient_norms", _norms_with_layers, "nnkit.linear_forward"),
    ],
)
def test_a_stack_built_from_nnkit_layers_earns_nothing(function, fn, called):
    """The exercise is the pass through the layers: nnkit's layer functions or classes would
    do it (here, a Sequential of Linear layers and its backward pass)."""
    for part, (ok, message) in grade(function, fn).items():
        assert not ok and f"calls {called}" in message, (part, message)

"""Lesson 07: do plausible wrong batch-normalisation answers lose points with the right
message, and do different-but-correct answers (other cache and state layouts) pass?"""

from __future__ import annotations

import numpy as np
import pytest
from lesson_helpers import assert_correct, assert_wrong, grade, solution_functions

import nnkit
from autograder.cases import l07_batchnorm as cases

L = "07_batchnorm"


def _fw(
    unbiased_norm=False,
    eval_updates=False,
    biased_running=False,
    reversed_m=False,
    replace_state=False,
    eval_batch=False,
):
    def forward(x, gamma, beta, state, train, momentum=0.1, eps=1e-5):
        n = len(x)
        mu, var = x.mean(0), x.var(0)
        if train or eval_updates:
            m = 1 - momentum if reversed_m else momentum
            rv_new = var if biased_running else x.var(0, ddof=1)
            new = {
                "running_mean": (1 - m) * state["running_mean"] + m * mu,
                "running_var": (1 - m) * state["running_var"] + m * rv_new,
            }
            if replace_state:
                state = new  # rebinds the local name only: the caller's dict is unchanged
            else:
                state.update(new)
        if train or eval_batch:
            v = x.var(0, ddof=1) if unbiased_norm else var
            xh = (x - mu) / np.sqrt(v + eps)
        else:
            xh = (x - state["running_mean"]) / np.sqrt(state["running_var"] + eps)
        del n
        return gamma * xh + beta, {"xh": xh, "g": gamma, "s": 1 / np.sqrt(var + eps)}

    return forward


@pytest.mark.parametrize(
    ("kw", "phrase"),
    [
        ({"unbiased_norm": True}, "unbiased variance (ddof=1)"),
        ({"eval_updates": True}, "updated in evaluation mode"),
        ({"biased_running": True}, "running_var is updated with the biased"),
        ({"reversed_m": True}, "momentum convention is reversed"),
        ({"replace_state": True}, "did not change"),
        ({"eval_batch": True}, "evaluation normalises with the batch"),
    ],
)
def test_wrong_batchnorm_forward_fails(kw, phrase):
    assert_wrong("batchnorm_forward", L, _fw(**kw), phrase)


def _fw2(kind):
    def forward(x, gamma, beta, state, train, momentum=0.1, eps=1e-5):
        n = len(x)
        if train:
            mu, var = x.mean(0), x.var(0)
            batch_var = {
                "inverse_bessel": var * (n - 1) / n,
                "running_std": np.sqrt(var * n / (n - 1)),
            }.get(kind, var * n / (n - 1))
            state["running_mean"] = (1 - momentum) * state["running_mean"] + momentum * mu
            state["running_var"] = (1 - momentum) * state["running_var"] + momentum * batch_var
            if kind == "train_running":
                mu, var = state["running_mean"], state["running_var"]
            if kind == "features":
                mu, var = x.mean(1, keepdims=True), x.var(1, keepdims=True)
        else:
            mu, var = state["running_mean"], state["running_var"]
            if kind == "eval_no_eps":
                eps = 0.0
        xh = (x - mu) / np.sqrt(var + eps)
        if kind == "swap":
            return beta * xh + gamma, None
        if kind == "no_affine":
            return xh, None
        return gamma * xh + beta, None

    return forward


@pytest.mark.parametrize(
    ("kind", "phrase"),
    [
        ("inverse_bessel", "var · (N − 1) / N"),
        ("running_std", "standard deviation"),
        ("train_running", "just updated"),
        ("features", "layer norm"),
        ("eval_no_eps", "eps is missing at evaluation"),
        ("swap", "gamma and beta are swapped"),
        ("no_affine", "x̂ alone"),
    ],
)
def test_more_wrong_batchnorm_forward_fail(kind, phrase):
    assert_wrong("batchnorm_forward", L, _fw2(kind), phrase, part="values")


@pytest.mark.parametrize(
    ("defaults", "phrase"),
    [({"momentum": 0.9}, "default value of `momentum`"), ({"eps": 1e-3}, "default value of `eps`")],
)
def test_wrong_defaults_of_batchnorm_forward_fail(defaults, phrase):
    hp = {"momentum": 0.1, "eps": 1e-5, **defaults}

    def forward(x, gamma, beta, state, train, momentum=hp["momentum"], eps=hp["eps"]):
        return _fw()(x, gamma, beta, state, train, momentum, eps)

    assert_wrong("batchnorm_forward", L, forward, phrase)


def test_correct_batchnorm_forward_variants_pass():
    def in_place(x, gamma, beta, state, train, momentum=0.1, eps=1e-5):
        # updates the arrays themselves; the normalisation through np.std
        if train:
            mu, sd = x.mean(0), np.sqrt(x.var(0) + eps)
            state["running_mean"] *= 1 - momentum
            state["running_mean"] += momentum * mu
            state["running_var"] *= 1 - momentum
            state["running_var"] += momentum * x.var(0, ddof=1)
        else:
            mu, sd = state["running_mean"], np.sqrt(state["running_var"] + eps)
        return (x - mu) / sd * gamma + beta, None

    assert_correct("batchnorm_forward", L, in_place)

    def new_arrays(x, gamma, beta, state, train, momentum=0.1, eps=1e-5):
        # new arrays stored under the caller's keys; the variance from a two-pass formula
        if train:
            mu = x.mean(0)
            var = ((x - mu) ** 2).mean(0)
            n = len(x)
            state["running_mean"] = (1 - momentum) * state["running_mean"] + momentum * mu
            state["running_var"] = (1 - momentum) * state["running_var"] + momentum * (
                ((x - mu) ** 2).sum(0) / (n - 1)
            )
        else:
            mu, var = state["running_mean"], state["running_var"]
        return gamma * (x - mu) / np.sqrt(var + eps) + beta, {"unused": True}

    assert_correct("batchnorm_forward", L, new_arrays)
    assert_correct("batchnorm_forward", L, solution_functions(L)["batchnorm_forward"])


def test_grader_forward_agrees_with_nnkit_and_torch():
    rng = np.random.default_rng(0)
    x = rng.normal(2, 3, size=(8, 4))
    g, b = rng.normal(size=4), rng.normal(size=4)
    rm, rv = rng.normal(size=4), rng.uniform(0.5, 2, size=4)
    for train in (True, False):
        out, m, v = cases._bn(x, g, b, rm, rv, train, momentum=0.2)
        state = {"running_mean": rm.copy(), "running_var": rv.copy()}
        ref = nnkit.batchnorm_forward(x, g, b, state, train, momentum=0.2)[0]
        np.testing.assert_allclose(out, ref, rtol=1e-12)
        np.testing.assert_allclose(m, state["running_mean"], rtol=1e-12)
        np.testing.assert_allclose(v, state["running_var"], rtol=1e-12)
    torch = pytest.importorskip("torch")
    layer = torch.nn.BatchNorm1d(4, momentum=0.2).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(g))
        layer.bias.copy_(torch.tensor(b))
        layer.running_mean.copy_(torch.tensor(rm))
        layer.running_var.copy_(torch.tensor(rv))
    out_t = layer(torch.tensor(x)).detach().numpy()
    out, m, v = cases._bn(x, g, b, rm, rv, True, momentum=0.2)
    np.testing.assert_allclose(out, out_t, rtol=1e-10)
    np.testing.assert_allclose(v, layer.running_var.numpy(), rtol=1e-10)


def _cache_fw(x, gamma, beta, state, train, momentum=0.1, eps=1e-5):
    mu, var = x.mean(0), x.var(0)
    xh = (x - mu) / np.sqrt(var + eps)
    return gamma * xh + beta, (x, gamma, mu, var, eps)


def _bw(kind):
    def backward(dout, cache):
        x, gamma, mu, var, eps = cache
        n = len(x)
        if kind == "unbiased":
            var = x.var(0, ddof=1)
        if kind == "no_eps":
            eps = 0.0
        s = 1 / np.sqrt(var + eps)
        xh = (x - mu) * s
        dgamma, dbeta = (dout * xh).sum(0), dout.sum(0)
        dxh = dout if kind == "nogamma" else dout * gamma
        t = dout if kind == "dout_sums" else dxh
        if kind == "const":
            dx = dxh * s
        elif kind == "meanonly":
            dx = s * (dxh - dxh.mean(0))
        elif kind == "n_twice":
            dx = s / n * (n * dxh - dxh.sum(0) - xh * (dxh * xh).sum(0) / n)
        elif kind == "no_n":
            dx = s / n * (dxh - dxh.sum(0) - xh * (dxh * xh).sum(0))
        elif kind == "plus":
            dx = s / n * (n * dxh - dxh.sum(0) + xh * (dxh * xh).sum(0))
        elif kind == "no_s":
            dx = (n * dxh - dxh.sum(0) - xh * (dxh * xh).sum(0)) / n
        else:
            dx = s / n * (n * dxh - t.sum(0) - xh * (t * xh).sum(0))
        if kind == "meanparams":
            dgamma, dbeta = dgamma / n, dbeta / n
        if kind == "swap":
            dgamma, dbeta = dbeta, dgamma
        if kind == "dgamma_gamma":
            dgamma = dgamma * gamma
        return dx, dgamma, dbeta

    return backward


@pytest.mark.parametrize("name", ["batchnorm_backward", "batchnorm_backward_alt"])
@pytest.mark.parametrize(
    ("kind", "phrase"),
    [
        ("const", "constants"),
        ("meanonly", "through the variance is missing"),
        ("nogamma", "gamma is missing"),
        ("meanparams", "averaged"),
        ("unbiased", "unbiased"),
        ("no_eps", "eps is missing"),
        ("dout_sums", "the sums in dx use dout"),
        ("n_twice", "divided by N twice"),
        ("no_n", "factor N in front"),
        ("plus", "wrong sign"),
        ("no_s", "1 / sqrt(var + eps) is missing"),
        ("swap", "dgamma and dbeta are swapped"),
        ("dgamma_gamma", "multiplied by gamma"),
    ],
)
def test_wrong_batchnorm_backward_fails(name, kind, phrase):
    assert_wrong(name, L, _bw(kind), phrase, companions=(_cache_fw,))


def test_correct_backward_variants_pass():
    for name in ("batchnorm_backward", "batchnorm_backward_alt"):
        assert_correct(name, L, _bw("ok"), companions=(_cache_fw,))
        assert_correct(name, L, solution_functions(L)[name])

    # the staged graph with the other cache layout
    def staged(dout, cache):
        x, gamma, mu, var, eps = cache
        n = len(x)
        xc = x - mu
        std = np.sqrt(var + eps)
        xh = xc / std
        dxh = dout * gamma
        dvar = np.sum(dxh * xc, 0) * -0.5 * std**-3
        dmu = np.sum(-dxh / std, 0) + dvar * np.mean(-2 * xc, 0)
        dx = dxh / std + dvar * 2 * xc / n + dmu / n
        return dx, np.sum(dout * xh, 0), np.sum(dout, 0)

    assert_correct("batchnorm_backward", L, staged, companions=(_cache_fw,))


def _staged_wrong(dout, cache, half=0.5, denom_n=True):
    """The staged graph with a wrong variance path."""
    x, gamma, mu, var, eps = cache
    n = len(x)
    xc = x - mu
    std = np.sqrt(var + eps)
    dxh = dout * gamma
    dvar = np.sum(dxh * xc, 0) * -half * std**-3
    dmu = np.sum(-dxh / std, 0)
    dx = dxh / std + dvar * 2 * xc / (n if denom_n else n - 1) + dmu / n
    return dx, np.sum(dout * xc / std, 0), np.sum(dout, 0)


@pytest.mark.parametrize(
    ("kw", "phrase"),
    [({"half": 1.0}, "factor −1/2 in dvar"), ({"denom_n": False}, "divides by N − 1")],
)
def test_wrong_staged_backward_fails(kw, phrase):
    assert_wrong(
        "batchnorm_backward",
        L,
        lambda d, c: _staged_wrong(d, c, **kw),
        phrase,
        companions=(_cache_fw,),
    )


def test_backward_graded_alone_when_forward_is_a_stub():
    def stub(*args, **kwargs):
        raise NotImplementedError()

    def through_nnkit_cache(dout, cache):  # the reference cache layout
        n = len(dout)
        dxh = dout * cache["gamma"]
        xh = cache["x_hat"]
        dx = cache["inv_std"] / n * (n * dxh - dxh.sum(0) - xh * (dxh * xh).sum(0))
        return dx, (dout * xh).sum(0), dout.sum(0)

    assert_correct("batchnorm_backward_alt", L, through_nnkit_cache, companions=(stub,))


# ------------------------------------------------------------------ named messages and parts


def _staged(dout, cache, mean_term="ok"):
    """The staged graph (μ → x − μ → σ² → std → x̂), stopping after dxc or adding dμ wrongly."""
    x, gamma, mu, var, eps = cache
    n = len(x)
    xc = x - mu
    std = np.sqrt(var + eps)
    dxh = dout * gamma
    dvar = np.sum(dxh * xc, 0) * -0.5 * std**-3
    dxc = dxh / std + dvar * 2 * xc / n
    dmu = -np.sum(dxc, 0)
    dx = {"ok": dxc + dmu / n, "missing": dxc, "no_n": dxc + dmu}[mean_term]
    return dx, np.sum(dout * xc / std, 0), np.sum(dout, 0)


@pytest.mark.parametrize("name", ["batchnorm_backward", "batchnorm_backward_alt"])
@pytest.mark.parametrize(
    ("mean_term", "phrase"),
    [
        ("missing", "the path through the batch mean is missing from dx: dx = dxc"),
        ("no_n", "the path through the batch mean is added without 1/N"),
    ],
)
@pytest.mark.parametrize("part", ["values", "gradient"])
def test_backward_without_the_mean_term_is_named(name, mean_term, phrase, part):
    """dx = dxc (the staged graph stopped before dμ) is named, in the values part and in
    the gradient check alike."""
    backward = lambda d, c: _staged(d, c, mean_term)  # noqa: E731
    assert_wrong(name, L, backward, phrase, part=part, companions=(_cache_fw,))
    assert "dx (the 1st value returned)" in grade(name, backward, (_cache_fw,))[part][1]


def test_the_staged_graph_with_the_mean_term_passes():
    assert_correct("batchnorm_backward", L, lambda d, c: _staged(d, c), companions=(_cache_fw,))


def _fw_eval(kind):
    """Forward passes that change the running statistics in evaluation mode, in several ways."""

    def forward(x, gamma, beta, state, train, momentum=0.1, eps=1e-5):
        n = len(x)
        mu, var = x.mean(0), x.var(0)
        old_mean, old_var = state["running_mean"].copy(), state["running_var"].copy()
        batch_var = var if kind == "biased_update" and not train else var * n / (n - 1)
        state["running_mean"] = (1 - momentum) * state["running_mean"] + momentum * mu
        if kind != "mean_only":
            state["running_var"] = (1 - momentum) * state["running_var"] + momentum * batch_var
        elif train:
            state["running_var"] = (1 - momentum) * state["running_var"] + momentum * batch_var
        if not train and kind != "ignore_train":
            mu, var = old_mean, old_var
        return gamma * (x - mu) / np.sqrt(var + eps) + beta, None

    return forward


@pytest.mark.parametrize(
    ("kind", "phrase"),
    [
        ("always", "the running statistics were updated in evaluation mode"),
        ("biased_update", "the running statistics were updated in evaluation mode"),
        ("mean_only", "(train=False changed state['running_mean'])"),
        ("ignore_train", "with train=False your batchnorm_forward does what training does"),
    ],
)
def test_running_statistics_changed_in_evaluation_mode_are_named(kind, phrase):
    """However the running statistics change with train=False (updated with the biased
    variance, only the mean, or the train flag ignored altogether), the message says so."""
    assert_wrong("batchnorm_forward", L, _fw_eval(kind), phrase, part="values")
    assert_wrong("batchnorm_forward", L, _fw_eval(kind), "evaluation mode", part="hidden")


def test_forward_messages_name_the_state_entries():
    """A wrong running variance is called state['running_var'], not output[2]."""
    message = grade("batchnorm_forward", _fw(biased_running=True), ())["values"][1]
    assert "state['running_var'] differs from the expected values" in message, message
    assert "output[" not in message
    assert "state['running_mean'] = " in message and "state['running_var'] = " in message


def test_backward_messages_name_dgamma_and_dbeta():
    message = grade("batchnorm_backward", _bw("meanparams"), (_cache_fw,))["values"][1]
    assert message.startswith('On the case "N = 4, D = 3": dgamma (the 2nd value returned)')
    assert "dbeta = " in message and "dout = " in message and "gamma = " in message

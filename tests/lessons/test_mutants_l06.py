"""Lesson 06: do plausible wrong dropout, penalty and early-stopping answers lose points with the
right message, and do different-but-correct answers get full marks?"""

from __future__ import annotations

import numpy as np
import pytest
from lesson_helpers import assert_correct, assert_wrong, solution_functions

import nnkit

L = "06_dropout"


def _rng(r):
    return np.random.default_rng(r)


def _fw(
    scale="inv",
    keep_is_p=False,
    eval_scale=False,
    global_state=False,
    fixed=False,
    unseeded=False,
    shared=None,
):
    def forward(x, p, train, rng):
        if not train:
            return (x * (1 - p) if eval_scale else x.copy()), None
        if global_state:
            u = np.random.random(x.shape)  # noqa: NPY002
        elif unseeded:
            u = np.random.default_rng().random(x.shape)
        elif shared == "rows":  # one decision per sample, broadcast over the features
            u = np.broadcast_to(_rng(rng).random((x.shape[0], 1)), x.shape)
        elif shared == "cols":  # one mask for every sample
            u = np.broadcast_to(_rng(rng).random(x.shape[1]), x.shape)
        else:
            u = _rng(0 if fixed else rng).random(x.shape)
        keep = u < p if keep_is_p else u >= p
        factor = {"inv": 1 / (1 - p), "none": 1.0, "mul": 1 - p, "p": 1 / p if p else 1.0}[scale]
        mask = (keep * factor).astype(x.dtype)
        return x * mask, mask

    return forward


@pytest.mark.parametrize(
    ("wrong", "phrase"),
    [
        (_fw(eval_scale=True), "scaled by 1 − p at evaluation"),
        (_fw(keep_is_p=True, scale="p"), "divided by p"),
        (_fw(keep_is_p=True), "fraction p of the units survive"),
        (_fw(scale="none"), "not rescaled"),
        (_fw(scale="mul"), "multiplied by 1 − p"),
        (_fw(global_state=True), "global random state"),
        (_fw(fixed=True), "rng argument is ignored"),
        (_fw(unseeded=True), "with no argument"),
        (_fw(shared="rows"), "kept or dropped as a whole"),
        (_fw(shared="cols"), "every sample (row) gets the same mask"),
    ],
)
def test_wrong_dropout_forward_fails(wrong, phrase):
    assert_wrong("dropout_forward", L, wrong, phrase)


def _bw(kind):
    def backward(dout, cache):
        if cache is None:
            return dout.copy()
        mask01 = (cache != 0).astype(dout.dtype)
        if kind == "nomask":
            return dout.copy()
        if kind == "noscale":
            return dout * mask01
        if kind == "inverted":
            return dout * (1 - mask01) * cache.max()
        return dout * cache / 2

    return backward


@pytest.mark.parametrize(
    ("wrong", "phrase"),
    [
        (_bw("nomask"), "ignores the mask"),
        (_bw("noscale"), "not scaled"),
        (_bw("inverted"), "inverted"),
        (_bw("half"), "dout * mask / (1 − p)"),
    ],
)
def test_wrong_dropout_backward_fails(wrong, phrase):
    assert_wrong("dropout_backward", L, wrong, phrase, companions=(_fw(),))


def _fw_out_cache(x, p, train, rng):
    """A correct forward whose cache is (out, p): the backward rebuilds the mask from it."""
    if not train:
        return x.copy(), None
    keep = _rng(rng).random(x.shape) >= p
    out = (x * keep / (1 - p)).astype(x.dtype)
    return out, (out, p)


def _bw_from_out(dout, cache):
    if cache is None:
        return dout.copy()
    out, p = cache
    return dout * (out != 0) / (1 - p)


def _bw_fixed_seed(dout, cache):
    """Re-draws the mask with a seed of its own instead of using the cache."""
    if cache is None:
        return dout.copy()
    keep = _rng(5).random(dout.shape) >= 0.3
    return dout * keep / 0.7


def test_dropout_backward_mask_rebuilt_from_out_fails():
    # out != 0 loses the kept units whose input is exactly 0
    assert_wrong("dropout_backward", L, _bw_from_out, "x is 0", companions=(_fw_out_cache,))


def test_dropout_backward_redrawing_the_mask_fails():
    assert_wrong("dropout_backward", L, _bw_fixed_seed, "mask of the forward", companions=(_fw(),))


def test_dropout_backward_divided_by_p_is_named():
    def by_p(dout, cache):  # the cache of _fw() is mask / (1 - p), so p = 1 - 1 / max
        if cache is None:
            return dout.copy()
        p = 1 - 1 / cache.max()
        return dout * (cache != 0) / p

    assert_wrong("dropout_backward", L, by_p, "divided by p", companions=(_fw(),))


def test_dropout_backward_eval_identity_needed():
    def scaled_at_eval(dout, cache):
        return dout * 0.5 if cache is None else dout * cache

    assert_wrong("dropout_backward", L, scaled_at_eval, "dx = dout", companions=(_fw(),))


@pytest.mark.parametrize("how", ["gt", "exact_count", "choice", "transposed", "float_cache"])
def test_more_correct_dropout_forwards_pass(how):
    def forward(x, p, train, rng):
        if not train:
            return x, None  # x itself: the caller's array is not changed
        r = _rng(rng)
        if how == "gt":
            keep = r.random(x.shape) > p
        elif how == "exact_count":  # exactly round((1 - p) N) survivors
            keep = np.zeros(x.size, dtype=bool)
            keep[r.permutation(x.size)[: round((1 - p) * x.size)]] = True
            keep = keep.reshape(x.shape)
        elif how == "choice":
            keep = r.choice([False, True], size=x.shape, p=[p, 1 - p])
        elif how == "transposed":
            keep = (r.random(x.shape[::-1]) >= p).T
        else:
            keep = (r.random(x.shape) >= p).astype(float)
        return (x / (1 - p) * keep).astype(x.dtype), keep

    assert_correct("dropout_forward", L, forward)


def test_correct_dropout_variants_pass():
    # mask drawn with rng.binomial, cache a dict, dtype kept via astype at the end
    def forward(x, p, train, rng):
        if not train:
            return np.array(x), {"train": False}
        keep = _rng(rng).binomial(1, 1 - p, size=x.shape)
        return (x * keep / (1 - p)).astype(x.dtype), {"train": True, "keep": keep, "p": p}

    def backward(dout, cache):
        if not cache["train"]:
            return dout
        return dout * cache["keep"] / (1 - cache["p"])

    assert_correct("dropout_forward", L, forward)
    assert_correct("dropout_backward", L, backward, companions=(forward,))
    ns = solution_functions(L)
    assert_correct("dropout_forward", L, ns["dropout_forward"])
    assert_correct("dropout_backward", L, ns["dropout_backward"])
    # the student's backward through another correct forward (cache layout of their own)
    assert_correct("dropout_backward", L, backward, companions=(forward,))


def _pen(params, lam, kind="l2", bias=False, factor=2.0, sign0=0.0, drop_keys=False):
    value, grads = 0.0, {}
    for k, v in params.items():
        use = k.startswith("W") or bias
        if not use:
            if not drop_keys:
                grads[k] = np.zeros_like(v)
            continue
        if kind == "l2":
            value += lam * np.sum(v**2)
            grads[k] = factor * lam * v
        else:
            value += lam * np.abs(v).sum()
            s = np.sign(v)
            s[v == 0] = sign0
            grads[k] = lam * s
    return value, grads


@pytest.mark.parametrize(
    ("function", "kw", "phrase"),
    [
        ("l2_penalty", {"bias": True}, "biases"),
        ("l2_penalty", {"factor": 1.0}, "factor 2"),
        ("l2_penalty", {"drop_keys": True}, "every key"),
        ("l2_penalty", {"factor": 0.0}, "differs"),
        ("l1_penalty", {"kind": "l1", "bias": True}, "biases"),
        ("l1_penalty", {"kind": "l1", "sign0": 1.0}, "sign(0) = 0"),
        ("l1_penalty", {"kind": "l1", "drop_keys": True}, "every key"),
        ("l1_penalty", {"kind": "l2"}, "differs"),
    ],
)
def test_wrong_penalties_fail(function, kw, phrase):
    assert_wrong(function, L, lambda p, lam: _pen(p, lam, **kw), phrase)


def _pen2(params, lam, kind="l2", how="ok"):
    value, grads = 0.0, {}
    for k, v in params.items():
        use = {"contains": "W" in k, "ndim": v.ndim == 2}.get(how, k.startswith("W"))
        if not use:
            grads[k] = np.zeros_like(v)
            continue
        if kind == "l2":
            value += lam * (np.linalg.norm(v) if how == "norm" else np.sum(v**2))
            grads[k] = (2 * v) if how == "nolam" else 2 * lam * v
        else:
            value += lam * (np.sum(v**2) if how == "squares" else np.abs(v).sum())
            if how == "where":
                grads[k] = lam * np.where(v > 0, 1.0, -1.0)
            elif how == "div":
                with np.errstate(invalid="ignore"):
                    grads[k] = lam * v / np.abs(v)
            elif how == "factor2":
                grads[k] = 2 * lam * np.sign(v)
            else:
                grads[k] = lam * np.sign(v)
    return value, grads


@pytest.mark.parametrize(
    ("function", "kind", "how", "phrase"),
    [
        ("l2_penalty", "l2", "contains", "merely contains 'W'"),
        ("l2_penalty", "l2", "ndim", "chosen by shape"),
        ("l2_penalty", "l2", "norm", "the norm ‖W‖"),
        ("l2_penalty", "l2", "nolam", "lacks lam"),
        ("l1_penalty", "l1", "contains", "merely contains 'W'"),
        ("l1_penalty", "l1", "ndim", "chosen by shape"),
        ("l1_penalty", "l1", "squares", "sums W²"),
        ("l1_penalty", "l1", "where", "not −1"),
        ("l1_penalty", "l1", "div", "0/0 = NaN"),
        ("l1_penalty", "l1", "factor2", "without the factor 2"),
    ],
)
def test_more_wrong_penalties_fail(function, kind, how, phrase):
    assert_wrong(function, L, lambda p, lam: _pen2(p, lam, kind, how), phrase, part="values")


def test_l1_with_an_l2_gradient_is_named():
    def l1_l2grad(params, lam):
        value = sum(lam * np.abs(v).sum() for k, v in params.items() if k[0] == "W")
        return value, {k: lam * v if k[0] == "W" else 0 * v for k, v in params.items()}

    assert_wrong("l1_penalty", L, l1_l2grad, "lam · sign(W)")


def test_correct_penalties_pass():
    def l2_einsum(params, lam):
        ws = [k for k in params if k.startswith("W")]
        value = lam * sum(np.einsum("ij,ij->", params[k], params[k]) for k in ws)
        return float(value), {
            k: (2 * lam * v if k in ws else np.zeros(v.shape)) for k, v in params.items()
        }

    def l1_where(params, lam):
        value, grads = 0.0, {}
        for k, v in params.items():
            w = k[:1] == "W"
            value += lam * np.sum(np.abs(v)) if w else 0.0
            grads[k] = lam * np.where(v > 0, 1.0, np.where(v < 0, -1.0, 0.0)) * w
        return value, grads

    assert_correct("l2_penalty", L, l2_einsum)
    assert_correct("l1_penalty", L, l1_where)
    ns = solution_functions(L)
    assert_correct("l2_penalty", L, ns["l2_penalty"])
    assert_correct("l1_penalty", L, ns["l1_penalty"])


def _es(losses, patience, strict=True, shift=0, stop=False, global_min=False):
    if global_min:
        return int(np.argmin(losses))
    best, best_epoch, waited, epoch = losses[0], 0, 0, 0
    for epoch in range(1, len(losses)):
        better = losses[epoch] < best if strict else losses[epoch] <= best
        if better:
            best, best_epoch, waited = losses[epoch], epoch, 0
        else:
            waited += 1
            if waited >= patience:
                break
    return (epoch if stop else best_epoch) + shift


@pytest.mark.parametrize(
    ("kw", "phrase"),
    [
        ({"strict": False}, "strictly lower"),
        ({"global_min": True}, "over all epochs"),
        ({"stop": True}, "where training stops"),
        ({"shift": 1}, "off by one"),
    ],
)
def test_wrong_early_stopping_fails(kw, phrase):
    assert_wrong("early_stopping_epoch", L, lambda v, p: _es(v, p, **kw), phrase)


def test_patience_off_by_one_fails():
    def one_more(losses, patience):  # waits patience + 1 epochs
        return _es(losses, patience + 1)

    assert_wrong("early_stopping_epoch", L, one_more, "one epoch too long")


def _es2(losses, patience, kind):
    best, waited = 0, 0
    for epoch in range(1, len(losses)):
        ref = losses[epoch - 1] if kind == "previous" else losses[best]
        delta = 1e-3 if kind == "min_delta" else 0.0
        if losses[epoch] < ref - delta:
            if losses[epoch] < losses[best]:
                best = epoch
            if kind != "noreset":
                waited = 0
        else:
            waited += 1
            if waited >= patience:
                break
    return best


@pytest.mark.parametrize(
    ("kind", "phrase"),
    [
        ("previous", "against the previous epoch"),
        ("noreset", "not reset"),
        ("min_delta", "no min_delta"),
    ],
)
def test_more_wrong_early_stopping_fail(kind, phrase):
    assert_wrong("early_stopping_epoch", L, lambda v, p: _es2(v, p, kind), phrase, part="values")


def test_correct_early_stopping_pass():
    def with_numpy(val_losses, patience):
        v = np.asarray(val_losses, dtype=float)
        best = 0
        for epoch in range(1, len(v)):
            if epoch - best > patience:
                break
            if v[epoch] < v[best]:
                best = epoch
        return best

    assert_correct("early_stopping_epoch", L, with_numpy)

    def stop_minus_patience(val_losses, patience):  # the stop epoch minus the wait
        best, waited = 0, 0
        for epoch in range(1, len(val_losses)):
            if val_losses[epoch] < val_losses[best]:
                best, waited = epoch, 0
            else:
                waited += 1
                if waited == patience:
                    return epoch - patience
        return best

    assert_correct("early_stopping_epoch", L, stop_minus_patience)
    assert_correct("early_stopping_epoch", L, solution_functions(L)["early_stopping_epoch"])
    # the reference agrees with the grader's own catalogue function
    for losses in ([1, 0.5, 0.5, 0.6, 0.4], [3, 2, 2.5, 1], [0.9, 0.85, 0.9, 0.95, 0.99, 0.5]):
        for patience in (1, 2, 3):
            assert nnkit.early_stopping_epoch(losses, patience) == _es(losses, patience)

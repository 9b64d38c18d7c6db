"""Lesson 06_dropout: over-fitting, L2 and L1 penalties, inverted dropout, early stopping."""

from __future__ import annotations

from .nb import Lesson

LESSON = "06_dropout"

DROPOUT = '''
def dropout_forward(x, p, train, rng):
    """Inverted dropout. Does not modify ``x``.

    Parameters
    ----------
    x : ndarray, any shape
    p : float in [0, 1): probability of DROPPING a unit
    train : bool
        True: drop each unit independently with probability p and divide the survivors by
        1 - p.  False (evaluation): return x unchanged.
    rng : numpy.random.Generator, int or None
        The only source of randomness (rng = np.random.default_rng(rng)).

    Returns
    -------
    out : ndarray, same shape and dtype as x
    cache : anything dropout_backward needs
    """
    ### BEGIN SOLUTION
    if not train:
        return x.copy(), None
    rng = np.random.default_rng(rng)
    keep = rng.random(x.shape) >= p
    scale = (keep / (1.0 - p)).astype(x.dtype)
    return x * scale, scale
    ### END SOLUTION


def dropout_backward(dout, cache):
    """Gradient of dropout_forward: the same mask and scaling applied to dout.

    Returns dx, same shape and dtype as dout (a copy of dout after an evaluation-mode
    forward). Does not modify ``dout`` or the arrays in ``cache``.
    """
    ### BEGIN SOLUTION
    if cache is None:
        return dout.copy()
    return dout * cache
    ### END SOLUTION
'''

PENALTIES = '''
def l2_penalty(params, lam):
    """L2 penalty on the weights: value = lam * sum of ||W||² over the keys starting with "W".

    Does not modify ``params`` or its arrays.

    Parameters
    ----------
    params : dict of ndarrays (e.g. "W1", "b1", "W2", "b2")
    lam : float

    Returns
    -------
    value : float
    grads : dict with every key of params, each array of the shape of its parameter:
        2 * lam * W for the weights, zeros for the others
    """
    ### BEGIN SOLUTION
    value = 0.0
    grads = {}
    for key, arr in params.items():
        if key.startswith("W"):
            value += lam * float(np.sum(arr * arr))
            grads[key] = 2.0 * lam * arr
        else:
            grads[key] = np.zeros_like(arr)
    return value, grads
    ### END SOLUTION


def l1_penalty(params, lam):
    """L1 penalty on the weights: value = lam * sum of |W|; sub-gradient lam * sign(W)
    (0 where W = 0); zeros for the keys that do not start with "W".

    Returns (value, grads) as l2_penalty: grads has every key of params, each array of the
    shape of its parameter. Does not modify ``params`` or its arrays.
    """
    ### BEGIN SOLUTION
    value = sum(lam * float(np.abs(a).sum()) for k, a in params.items() if k.startswith("W"))
    grads = {k: lam * np.sign(a) if k.startswith("W") else np.zeros_like(a)
             for k, a in params.items()}
    return value, grads
    ### END SOLUTION
'''

EARLY = '''
def early_stopping_epoch(val_losses, patience):
    """The 0-based epoch whose parameters early stopping keeps.

    Scan the losses in order; an epoch improves if its loss is strictly lower than the best
    so far. Stop as soon as `patience` epochs in a row brought no improvement (later losses
    are never seen) and return the epoch of the lowest loss seen up to then (the first one
    on ties).

    Parameters
    ----------
    val_losses : sequence of float
    patience : int >= 1

    Returns
    -------
    int
    """
    ### BEGIN SOLUTION
    best_epoch, waited = 0, 0
    for epoch in range(1, len(val_losses)):
        if val_losses[epoch] < val_losses[best_epoch]:
            best_epoch, waited = epoch, 0
        else:
            waited += 1
            if waited == patience:
                break
    return best_epoch
    ### END SOLUTION
'''

OVERFIT = """
# 30 noisy training points (two moons) and a 2-100-2 network, trained on all 30 at every step
# by gradient descent with momentum (lesson 05) on nnkit's reference mlp_loss. The training
# loss heads for 0 while the validation loss, on 200 fresh points, turns back up.
X_tr, y_tr = nnkit.make_moons(30, noise=0.3, rng=0)
X_va, y_va = nnkit.make_moons(200, noise=0.3, rng=1)


def train(reg=0.0, l1=0.0, epochs=600, lr=0.1, momentum=0.9, seed=0):
    params = nnkit.init_mlp(2, 100, 2, rng=seed)
    state = {k: None for k in params}
    curves = {"train": [], "val": []}
    for _ in range(epochs):
        loss, grads = nnkit.mlp_loss(params, X_tr, y_tr)
        if reg:
            grads2 = nnkit.l2_penalty(params, reg)[1]
            grads = {k: grads[k] + grads2[k] for k in grads}
        if l1:
            grads1 = nnkit.l1_penalty(params, l1)[1]
            grads = {k: grads[k] + grads1[k] for k in grads}
        for k in params:
            params[k], state[k] = nnkit.momentum_step(params[k], grads[k], state[k], lr, momentum)
        curves["train"].append(loss)
        curves["val"].append(nnkit.mlp_loss(params, X_va, y_va)[0])
    return params, curves


runs = {"no penalty": train(), "L2, λ = 3e-3": train(reg=3e-3), "L1, λ = 1e-3": train(l1=1e-3)}
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
for (name, (params, curves)), color in zip(runs.items(), ["C0", "C1", "C2"]):
    axes[0].plot(curves["train"], color=color, ls="--", label=f"{name}: train")
    axes[0].plot(curves["val"], color=color, label=f"{name}: validation")
    zeros = np.mean(np.abs(params["W1"]) < 1e-3)
    axes[1].hist(np.abs(params["W1"]).ravel(), bins=np.logspace(-6, 0.6, 45), histtype="step",
                 color=color, label=f"{name} ({zeros:.0%} below 1e-3)")
axes[0].set_xlabel("epoch")
axes[0].set_ylabel("cross-entropy")
axes[0].set_ylim(0, 0.7)
axes[0].legend(fontsize=7)
axes[1].set_title("first-layer weights after training")
axes[1].set_xscale("log")
axes[1].set_xlabel("|w| (log scale)")
axes[1].set_ylabel("number of weights")
axes[1].legend(fontsize=8, loc="upper left")
plt.tight_layout()
plt.show()
"""

MASKS = """
# Inverted dropout on a constant input: each row is one forward pass in training mode.
x = np.ones((6, 20))
out, _ = nnkit.dropout_forward(x, 0.4, True, rng=0)
print("mean of the outputs over many draws (≈ 1, the input):",
      np.mean([nnkit.dropout_forward(x, 0.4, True, rng=s)[0].mean() for s in range(200)]).round(3))
fig, ax = plt.subplots(figsize=(7, 2.4))
ax.imshow(out, cmap="viridis")
ax.set_title("p = 0.4: dropped units are 0, kept ones are 1 / 0.6 ≈ 1.67")
ax.set_xlabel("unit")
ax.set_ylabel("forward pass")
plt.show()
"""

DROPOUT_NET = """
# The same 30 points and the same optimizer, with and without a dropout layer (p = 0.5) after
# the hidden layer.
from nnkit import Dropout, Linear, ReLU, Sequential, SoftmaxCrossEntropy, fit

hists = {}
for p in (0.0, 0.5):
    layers = [Linear(2, 100, rng=0), ReLU()] + ([Dropout(p, rng=1)] if p else [])
    model = Sequential(*layers, Linear(100, 2, rng=2))
    sgd = nnkit.SGD(model.parameters(), lr=0.1, momentum=0.9)
    hists[p] = fit(model, SoftmaxCrossEntropy(), sgd, X_tr, y_tr, epochs=600, batch_size=30,
                   X_val=X_va, y_val=y_va, rng=0, progress=False)
fig, ax = plt.subplots(figsize=(6, 3.8))
for p, h in hists.items():
    ax.plot(h.train_loss, ls="--", label=f"p = {p}: train")
    ax.plot(h.val_loss, label=f"p = {p}: validation")
ax.set_ylim(0, 0.7)
ax.set_xlabel("epoch")
ax.set_ylabel("cross-entropy")
ax.legend()
plt.show()
"""

EARLY_FIG = """
# Early stopping on the validation curve of section 1 (no penalty), with three patiences.
val = runs["no penalty"][1]["val"]
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(runs["no penalty"][1]["train"], ls="--", color="C0", label="train")
ax.plot(val, color="C1", label="validation")
for patience, color in ((5, "C3"), (20, "k"), (100, "C2")):
    kept = nnkit.early_stopping_epoch(val, patience)
    print(f"patience {patience:3d}: keeps epoch {kept:3d} (validation loss {val[kept]:.3f}), "
          f"stops training after epoch {kept + patience}")
    ax.axvline(kept, color=color, lw=1, ls=":" if patience == 100 else "-",
               label=f"patience {patience}: keeps epoch {kept}")
ax.set_ylim(0, 0.7)
ax.set_xlabel("epoch")
ax.legend(fontsize=8)
plt.show()
"""


# Worked examples shown before each answer cell (values computed when the lesson is built).
EXAMPLE_L2_PENALTY = """
params = {"W1": np.array([[1.0, -2.0], [0.0, 0.5]]), "b1": np.array([3.0, -1.0])}
value, grads = l2_penalty(params, 0.1)
value
grads["W1"]
grads["b1"]
value, grads = l1_penalty(params, 0.1)
value
grads["W1"]
grads["b1"]
"""

EXAMPLE_DROPOUT_FORWARD = """
x = np.ones((2, 5))
out, cache = dropout_forward(x, 0.4, True, rng=0)
out
dropout_backward(np.full((2, 5), 2.0), cache)
dropout_forward(x, 0.4, False, rng=0)[0]
"""

EXAMPLE_EARLY_STOPPING_EPOCH = """
val_losses = [1.0, 0.8, 0.9, 0.85, 0.7, 0.75, 0.8, 0.9]
early_stopping_epoch(val_losses, patience=2)
early_stopping_epoch(val_losses, patience=3)
"""


def build():
    lesson = Lesson(LESSON)
    lesson.md(
        r"""
        # Lesson 06 — Regularisation: penalties, dropout, early stopping

        A network with many more parameters than training examples can memorise them: the
        training loss keeps going down while the loss on unseen data goes up. Regularisation is
        everything we do to make the network generalise instead. This lesson covers three
        tools: penalties on the size of the weights (L2 and L1), dropout, and early stopping.
        """
    )
    lesson.setup()
    lesson.md(
        r"""
        ## 1. Over-fitting, and penalties on the weights

        Add a penalty to the loss that grows with the size of the weights:

        $$\tilde L = L + \lambda\sum_l \lVert W_l\rVert^2\quad(\text{L2}),\qquad
        \tilde L = L + \lambda\sum_l \sum_{ij} \lvert (W_l)_{ij}\rvert\quad(\text{L1}).$$

        The L2 gradient $2\lambda W$ shrinks every weight in proportion to its size ("weight
        decay"); the L1 sub-gradient $\lambda\,\operatorname{sign}(W)$ pulls every weight
        towards 0 by the same amount, which drives many of them to 0 (sparse weights). With the
        plain sub-gradient steps used here they do not land exactly on 0 but jitter around it,
        within about one step $\eta\lambda$; proximal methods (soft-thresholding) would make
        them exactly 0.
        At $W = 0$, $\lvert W\rvert$ has no derivative; we take the sub-gradient 0 there
        (`np.sign(0) = 0`).

        Only the **weights** are penalised, never the biases (or BatchNorm's $\gamma,\beta$):
        a bias shifts a unit without making the function more wiggly, and penalising it only
        hurts the fit. Here the weights are the keys that start with `"W"`; `grads` must have
        every key of `params`, with zeros for the others.
        """
    )
    lesson.answer("l2_penalty", PENALTIES, example=EXAMPLE_L2_PENALTY)
    for name in ("l2_penalty", "l1_penalty"):
        lesson.tests(name)
    lesson.md(
        r"""
        Below: a network with 100 hidden units trained on only 30 noisy points. Without a
        penalty the training loss falls towards 0 while the validation loss, after a first
        drop, climbs steadily back up: from about a hundred epochs on, the network is fitting
        the noise of its 30 points, not the two moons. With the L2 penalty the validation loss
        levels off instead, and L1 slows the climb; the histogram of the weights' sizes (log
        scale) shows L2's smaller weights and, for L1, a separate group of weights pinned next
        to 0 (below $10^{-3}$).
        """
    )
    lesson.code(OVERFIT)
    lesson.md(
        r"""
        ## 2. Dropout

        During training, dropout sets each unit to 0 with probability $p$, independently for
        every example and every step. No unit can rely on a particular other unit being there,
        which discourages fragile co-adaptations; one can also see it as training a huge
        ensemble of thinned networks that share weights.

        At evaluation we want the *expected* output. With a keep-mask $m_i \sim
        \text{Bernoulli}(1-p)$, $\mathbb E[m_i x_i] = (1-p)x_i$, so we either multiply by $1-p$
        at test time, or — **inverted dropout**, what every library does — divide by $1-p$
        during training:

        $$\text{train: } \text{out} = \frac{x\odot m}{1-p},\qquad \text{evaluation: }
        \text{out} = x.$$

        Then $\mathbb E[\text{out}] = x$ in both modes and evaluation needs no rescaling at
        all. The backward pass applies the same mask and scale to `dout`. Note that $p$ is the
        probability of **dropping** (PyTorch's convention). CS231n's assignments use the
        opposite one, $p$ = the probability of *keeping* a unit (`mask = rand < p`, then
        `/ p`): their $p = 0.8$ is our $p = 0.2$. The mask must come from the `rng`
        argument; the forward pass is graded by the keep rate on large inputs and by the exact
        relation `out == x * mask / (1 - p)` with `mask = out != 0` — any correct random
        stream passes.
        """
    )
    lesson.answer(
        "dropout_forward",
        DROPOUT,
        example=EXAMPLE_DROPOUT_FORWARD,
        note=(
            "(The mask is random: a correct answer that draws it another way may differ in which "
            "units it drops; kept ones are always 1 / (1 − 0.4) = 1.6667 here.)"
        ),
    )
    for name in ("dropout_forward", "dropout_backward"):
        lesson.tests(name)
    lesson.code(MASKS)
    lesson.md(
        r"""
        The same 30 points as in section 1, now trained with and without a dropout layer
        ($p = 0.5$) after the hidden layer. The training loss is measured with dropout on (on
        the thinned networks), so it stays higher and is noisy from step to step; the
        validation loss, measured with dropout off, climbs far less than without dropout, and
        the gap between the two curves is smaller: the network memorises less.
        """
    )
    lesson.code(DROPOUT_NET)
    lesson.md("The explorer shows a dropout layer's masks and what they do to a small network.")
    lesson.code(
        """
        from nnkit.widgets import dropout_explorer

        dropout_explorer()
        """
    )
    lesson.md(
        r"""
        ## 3. Early stopping

        The simplest regulariser: watch the validation loss after every epoch and keep the
        parameters of the best epoch. Because the validation curve is noisy, we do not stop at
        the first bad epoch but wait `patience` epochs for a new, strictly lower loss. Write
        `early_stopping_epoch`: it returns the (0-based) epoch whose parameters are kept —
        the lowest loss seen before stopping, the first one on a tie.
        """
    )
    lesson.answer("early_stopping_epoch", EARLY, example=EXAMPLE_EARLY_STOPPING_EPOCH)
    lesson.tests("early_stopping_epoch")
    lesson.code(EARLY_FIG)
    lesson.md(
        r"""
        Why do the patiences disagree? In its first epochs the validation loss wobbles while
        momentum builds up (the jagged start of the curve). With a patience of 5, five epochs
        without a new best come inside that wobble, so training stops within the first few
        epochs, long before the network has learned the moons: too little patience stops on
        noise. A patience of 20 waits through the wobble and stops 20 epochs after the real
        minimum. A patience of 100 keeps the same epoch on this curve and only trains 80 epochs
        longer for nothing; on a noisier curve, with a later dip below the first minimum, it
        would keep that later epoch. Since the best parameters are kept either way, too much
        patience costs only time.
        """
    )
    lesson.self_check()
    return lesson.notebook()

"""Lesson 07_batchnorm: batch normalisation, running statistics, backward passes."""

from __future__ import annotations

from .nb import Lesson

LESSON = "07_batchnorm"

FORWARD = '''
def batchnorm_forward(x, gamma, beta, state, train, momentum=0.1, eps=1e-5):
    """Batch normalisation of a batch of pre-activations, as torch.nn.BatchNorm1d.

    Does not modify ``x``, ``gamma`` or ``beta`` (only ``state``, see below).

    Parameters
    ----------
    x : ndarray, shape (N, D)
    gamma, beta : ndarray, shape (D,)
        Scale and shift.
    state : dict with "running_mean" and "running_var", arrays of shape (D,)
        Training mode updates both IN the dict (the caller sees the new values):
        running = (1 - momentum) * running + momentum * batch_statistic, with the UNBIASED
        batch variance (ddof=1) for running_var. Evaluation mode never changes them.
    train : bool
        Training: normalise with the batch mean and the biased variance (ddof=0).
        Evaluation: normalise with running_mean and running_var.
    momentum, eps : float

    Returns
    -------
    out : ndarray, shape (N, D): gamma * x_hat + beta, x_hat = (x - mean) / sqrt(var + eps)
    cache : anything the backward passes need
    """
    ### BEGIN SOLUTION
    if train:
        n = x.shape[0]
        mu = x.mean(axis=0)
        var = x.var(axis=0)
        state["running_mean"] = (1 - momentum) * state["running_mean"] + momentum * mu
        state["running_var"] = (1 - momentum) * state["running_var"] + momentum * var * n / (n - 1)
    else:
        mu, var = state["running_mean"], state["running_var"]
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mu) * inv_std
    return gamma * x_hat + beta, (x_hat, gamma, inv_std, train)
    ### END SOLUTION
'''

BACKWARD = '''
def batchnorm_backward(dout, cache):
    """Backward pass through the computational graph, node by node (training mode).

    Does not modify ``dout`` or the arrays in ``cache``.

    Parameters
    ----------
    dout : ndarray, shape (N, D)
    cache : what batchnorm_forward returned (train=True)

    Returns
    -------
    dx : ndarray, shape (N, D)
    dgamma, dbeta : ndarray, shape (D,)
    """
    ### BEGIN SOLUTION
    x_hat, gamma, inv_std, train = cache
    n = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    x_c = x_hat / inv_std  # x - mu
    dinv_std = (dx_hat * x_c).sum(axis=0)
    dvar = dinv_std * (-0.5) * inv_std**3
    dx_c = dx_hat * inv_std + 2.0 * x_c * dvar / n
    dmu = -dx_c.sum(axis=0)
    return dx_c + dmu / n, dgamma, dbeta
    ### END SOLUTION


def batchnorm_backward_alt(dout, cache):
    """The same gradients from the simplified closed form
    dx = inv_std / N * (N dx_hat - sum(dx_hat) - x_hat * sum(dx_hat * x_hat)).

    Returns (dx, dgamma, dbeta) as batchnorm_backward: dx of shape (N, D), dgamma and dbeta
    of shape (D,). Does not modify ``dout`` or the arrays in ``cache``.
    """
    ### BEGIN SOLUTION
    x_hat, gamma, inv_std, train = cache
    n = dout.shape[0]
    dx_hat = dout * gamma
    dx = inv_std / n * (n * dx_hat - dx_hat.sum(axis=0) - x_hat * (dx_hat * x_hat).sum(axis=0))
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)
    ### END SOLUTION
'''

WHY = """
# Pre-activations of a hidden layer drift far from zero mean / unit variance when the inputs
# are not centred; BatchNorm puts every unit back at mean 0, std 1 (then γ, β rescale).
rng = np.random.default_rng(0)
X = rng.normal(3.0, 2.0, size=(256, 20))
W = nnkit.he_normal(20, 50, rng)
z = X @ W.T
state = {"running_mean": np.zeros(50), "running_var": np.ones(50)}
z_bn, _ = nnkit.batchnorm_forward(z, np.ones(50), np.zeros(50), state, train=True)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), sharey=True)
for ax, values, title in ((axes[0], z, "pre-activations z"), (axes[1], z_bn, "after BatchNorm")):
    ax.errorbar(np.arange(50), values.mean(0), yerr=values.std(0), fmt=".", capsize=2)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_title(title + ": mean ± std per unit")
    ax.set_xlabel("unit")
plt.tight_layout()
plt.show()
"""

RUNNING = """
# Running statistics during training converge to the data's statistics; evaluation then
# uses them, so one sample's output no longer depends on the rest of its batch.
rng = np.random.default_rng(1)
true_mean, true_std = np.array([2.0, -1.0]), np.array([0.5, 3.0])
state = {"running_mean": np.zeros(2), "running_var": np.ones(2)}
trace = []
for step in range(60):
    batch = rng.normal(true_mean, true_std, size=(16, 2))
    nnkit.batchnorm_forward(batch, np.ones(2), np.zeros(2), state, train=True)
    trace.append(np.r_[state["running_mean"], np.sqrt(state["running_var"])])
trace = np.array(trace)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(trace[:, 0], label="running mean, unit 1")
ax.plot(trace[:, 1], label="running mean, unit 2")
ax.plot(trace[:, 2], ls="--", label="sqrt(running var), unit 1")
ax.plot(trace[:, 3], ls="--", label="sqrt(running var), unit 2")
ax.set_xlabel("training step (momentum 0.1)")
ax.legend(fontsize=8)
plt.show()

one = rng.normal(true_mean, true_std, size=(1, 2))
batch = np.vstack([one, rng.normal(true_mean, true_std, size=(7, 2))])
scratch = {k: v.copy() for k, v in state.items()}  # training mode updates its state in place
train_out = nnkit.batchnorm_forward(batch, np.ones(2), np.zeros(2), scratch, True)[0][0]
eval_out = nnkit.batchnorm_forward(batch, np.ones(2), np.zeros(2), state, False)[0][0]
alone = nnkit.batchnorm_forward(one, np.ones(2), np.zeros(2), state, False)[0][0]
print("same sample, training mode (depends on the batch):", train_out)
print("evaluation mode, in the batch / alone:            ", eval_out, alone)
"""

GRADCHECK = """
# Both backward passes against centred differences (nnkit's references).
rng = np.random.default_rng(2)
x, g, b = rng.normal(size=(6, 4)), rng.normal(1, 0.2, size=4), rng.normal(size=4)
dout = rng.normal(size=(6, 4))


def f(x_):
    st = {"running_mean": np.zeros(4), "running_var": np.ones(4)}
    return np.sum(nnkit.batchnorm_forward(x_, g, b, st, True)[0] * dout)


num = nnkit.numerical_gradient(f, x.copy())
_, cache = nnkit.batchnorm_forward(x, g, b, {"running_mean": np.zeros(4),
                                             "running_var": np.ones(4)}, True)
for name in ("batchnorm_backward", "batchnorm_backward_alt"):
    dx = getattr(nnkit, name)(dout, cache)[0]
    print(f"{name}: rel_error(dx, numerical) = {nnkit.rel_error(dx, num):.2e}")
"""

DEEP = """
# A deep (8 hidden layers) network on digits, plain SGD, with and without BatchNorm,
# deliberately badly initialised (small weights): BatchNorm rescues the signal.
from nnkit import BatchNorm1d, Linear, ReLU, Sequential, SoftmaxCrossEntropy, fit

X_dig, y_dig = nnkit.load_digits(rng=0)
X_dig = (X_dig - X_dig[:1200].mean(0)) / (X_dig[:1200].std(0) + 1e-8)
X_tr, y_tr, X_va, y_va = X_dig[:1200], y_dig[:1200], X_dig[1200:], y_dig[1200:]


def deep(bn, seed=0):
    layers, width = [], 64
    for i in range(8):
        layers.append(Linear(64 if i == 0 else width, width, rng=seed + i, init="xavier_normal"))
        if bn:
            layers.append(BatchNorm1d(width))
        layers.append(ReLU())
    layers.append(Linear(width, 10, rng=seed + 99))
    return Sequential(*layers)


results = {}
for bn in (False, True):
    model = deep(bn)
    results[bn] = fit(model, SoftmaxCrossEntropy(), nnkit.SGD(model.parameters(), lr=0.05),
                      X_tr, y_tr, epochs=12, batch_size=64, X_val=X_va, y_val=y_va, rng=0,
                      progress=False)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
for bn, h in results.items():
    name = "with BatchNorm" if bn else "without"
    axes[0].plot(h.train_loss, label=name)
    axes[1].plot(h.val_acc, label=name)
axes[0].set_title("training loss")
axes[1].set_title("validation accuracy")
for ax in axes:
    ax.set_xlabel("epoch")
    ax.legend()
plt.tight_layout()
plt.show()
"""


# Worked examples shown before each answer cell (values computed when the lesson is built).
EXAMPLE_BATCHNORM_FORWARD = """
x = np.array([[1.0, 2.0], [3.0, 6.0], [5.0, 4.0]])
gamma, beta = np.array([1.0, 2.0]), np.array([0.0, -1.0])
state = {"running_mean": np.zeros(2), "running_var": np.ones(2)}
out, cache = batchnorm_forward(x, gamma, beta, state, True)
out
state
batchnorm_forward(x, gamma, beta, state, False)[0]
"""

EXAMPLE_BATCHNORM_BACKWARD = """
x = np.array([[1.0, 2.0], [3.0, 6.0], [5.0, 4.0]])
gamma, beta = np.array([1.0, 2.0]), np.array([0.0, -1.0])
state = {"running_mean": np.zeros(2), "running_var": np.ones(2)}
out, cache = batchnorm_forward(x, gamma, beta, state, True)
dout = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, -1.0]])
dx, dgamma, dbeta = batchnorm_backward(dout, cache)
dx
dgamma
dbeta
batchnorm_backward_alt(dout, cache)[0]
"""


def build():
    lesson = Lesson(LESSON)
    lesson.md(
        r"""
        # Lesson 07 — Batch normalisation

        Lesson 04 chose the initial weights so that every layer's pre-activations start with a
        sensible scale. But the weights change during training, and with them the distribution
        each layer sees. **Batch normalisation** (Ioffe & Szegedy, 2015) enforces the scale at
        every step instead: it standardises each unit's pre-activations over the mini-batch,
        then lets the network rescale them with learned parameters. Deep networks train faster
        and are much less sensitive to the initialisation and the learning rate.
        """
    )
    lesson.setup()
    lesson.md(
        r"""
        ## 1. The forward pass

        For a batch $x$ of shape $(N, D)$, per unit (column) $j$:

        $$\mu_j = \frac1N\sum_n x_{nj},\qquad \sigma_j^2 = \frac1N\sum_n (x_{nj}-\mu_j)^2,
        \qquad \hat x_{nj} = \frac{x_{nj}-\mu_j}{\sqrt{\sigma_j^2+\varepsilon}},\qquad
        y_{nj} = \gamma_j\hat x_{nj} + \beta_j.$$

        $\gamma$ and $\beta$ are learned; with $\gamma = \sqrt{\sigma^2+\varepsilon}$ and
        $\beta = \mu$ the layer could even undo the normalisation, so nothing is lost. It is
        placed on the pre-activations, before the nonlinearity.
        """
    )
    lesson.code(WHY)
    lesson.md(
        r"""
        ## 2. Training versus evaluation

        At evaluation time a prediction must not depend on which other examples share the
        batch (there may be just one). So during training we also keep exponential running
        averages,

        $$\text{running} \leftarrow (1-m)\,\text{running} + m\,\text{batch statistic},
        \qquad m = 0.1,$$

        and evaluation normalises with `running_mean` and `running_var` instead. Following
        PyTorch, the running variance uses the **unbiased** batch variance $\frac{N}{N-1}
        \sigma^2$, while the normalisation itself uses the biased $\sigma^2$. Evaluation never
        changes the running statistics.

        If you also read CS231n's assignments: there `momentum = 0.9` is the weight of the
        *running average* (`running = momentum * running + (1 - momentum) * batch`), so their
        0.9 is our $m = 0.1$, the weight of the new batch statistic (PyTorch's convention), and
        their running variance uses the biased $\sigma^2$.

        Write `batchnorm_forward`. The running statistics live in the `state` dict the caller
        passes: update them there (assign new arrays to its keys, or update the arrays in
        place) so that the next call sees them.
        """
    )
    lesson.answer("batchnorm_forward", FORWARD, example=EXAMPLE_BATCHNORM_FORWARD)
    lesson.tests("batchnorm_forward")
    lesson.code(RUNNING)
    lesson.md(
        r"""
        ## 3. The backward pass, two ways

        Every $\hat x_{nj}$ depends on **all** $x_{\cdot j}$ of its column through $\mu_j$ and
        $\sigma_j$, so the gradient is not just $\gamma\,\mathrm{dout}/\sqrt{\sigma^2+\varepsilon}$.
        Walk back through the graph $x \to x_c = x-\mu \to \sigma^2 = \overline{x_c^2}
        \to s = 1/\sqrt{\sigma^2+\varepsilon} \to \hat x = x_c\, s \to y$, adding the gradients of
        every path:

        $$d\beta = \sum_n \mathrm{dout}_n,\qquad d\gamma = \sum_n \mathrm{dout}_n\odot\hat x_n,
        \qquad d\hat x = \mathrm{dout}\odot\gamma,$$
        $$ds = \sum_n d\hat x_n \odot x_{c,n},\quad d\sigma^2 = -\tfrac12 s^3\, ds,\quad
        dx_c = d\hat x\, s + \tfrac2N x_c\, d\sigma^2,\quad dx = dx_c - \tfrac1N\sum_n
        dx_{c,n}.$$

        Simplifying the algebra collapses all of it into one line:

        $$dx = \frac{s}{N}\Bigl(N\,d\hat x - \sum_n d\hat x_n - \hat x\odot\sum_n d\hat x_n
        \odot\hat x_n\Bigr).$$

        Write both: `batchnorm_backward` along the graph, `batchnorm_backward_alt` with the
        closed form. They are graded through your own `batchnorm_forward` (any cache layout)
        and against numerical gradients.
        """
    )
    lesson.answer("batchnorm_backward", BACKWARD, example=EXAMPLE_BATCHNORM_BACKWARD)
    for name in ("batchnorm_backward", "batchnorm_backward_alt"):
        lesson.tests(name)
    lesson.code(GRADCHECK)
    lesson.md(
        r"""
        ## 4. A deep network with and without BatchNorm

        Eight ReLU layers initialised with Xavier's scale (too small for ReLU, lesson 04) and
        trained with plain SGD: without normalisation the signal shrinks layer after layer, the
        first epochs hardly move the loss and the validation accuracy lurches; with BatchNorm
        every layer sees standardised inputs and the network learns within a few epochs.
        BatchNorm also regularises a little (each example's output is jittered by the other
        examples of its batch), which is one reason it is often used with less dropout.
        """
    )
    lesson.code(DEEP)
    lesson.md("The explorer shows a layer's statistics in training and evaluation mode.")
    lesson.code(
        """
        from nnkit.widgets import batchnorm_explorer

        batchnorm_explorer()
        """
    )
    lesson.self_check()
    return lesson.notebook()

"""Lesson 04_init: initialisation, symmetry, vanishing and exploding signals."""

from __future__ import annotations

from .nb import Lesson

LESSON = "04_init"

INITS = '''
def xavier_uniform(fan_in, fan_out, rng):
    """Glorot/Xavier uniform: W ~ U(-a, a) with a = sqrt(6 / (fan_in + fan_out)).

    Parameters
    ----------
    fan_in, fan_out : int
        Inputs and outputs of the layer.
    rng : numpy.random.Generator, int or None
        The only source of randomness: start with rng = np.random.default_rng(rng).

    Returns
    -------
    W : ndarray, shape (fan_out, fan_in)
    """
    ### BEGIN SOLUTION
    rng = np.random.default_rng(rng)
    a = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=(fan_out, fan_in))
    ### END SOLUTION


def xavier_normal(fan_in, fan_out, rng):
    """Glorot/Xavier normal: W ~ N(0, std²) with std = sqrt(2 / (fan_in + fan_out)).

    Returns an array of shape (fan_out, fan_in); same arguments as xavier_uniform: ``rng``
    (a Generator, an int seed or None) is the only source of randomness.
    """
    ### BEGIN SOLUTION
    rng = np.random.default_rng(rng)
    return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=(fan_out, fan_in))
    ### END SOLUTION


def he_normal(fan_in, fan_out, rng):
    """He/Kaiming normal: W ~ N(0, std²) with std = sqrt(2 / fan_in).

    Returns an array of shape (fan_out, fan_in); ``rng`` is the only source of randomness.
    """
    ### BEGIN SOLUTION
    rng = np.random.default_rng(rng)
    return rng.standard_normal((fan_out, fan_in)) * np.sqrt(2.0 / fan_in)
    ### END SOLUTION


def he_uniform(fan_in, fan_out, rng):
    """He/Kaiming uniform: W ~ U(-a, a) with a = sqrt(6 / fan_in).

    Returns an array of shape (fan_out, fan_in); ``rng`` is the only source of randomness.
    """
    ### BEGIN SOLUTION
    rng = np.random.default_rng(rng)
    a = np.sqrt(6.0 / fan_in)
    return a * (2.0 * rng.random((fan_out, fan_in)) - 1.0)
    ### END SOLUTION
'''

ORTHO = '''
def orthogonal(fan_in, fan_out, rng, gain=1.0):
    """(Semi-)orthogonal initialisation times ``gain``.

    Parameters
    ----------
    fan_in, fan_out : int
    rng : numpy.random.Generator, int or None
        The only source of randomness: start with rng = np.random.default_rng(rng).
    gain : float

    Returns
    -------
    W : ndarray, shape (fan_out, fan_in)
        W @ W.T = gain² I if fan_out <= fan_in (orthonormal rows), else W.T @ W = gain² I.
    """
    ### BEGIN SOLUTION
    rng = np.random.default_rng(rng)
    big, small = max(fan_in, fan_out), min(fan_in, fan_out)
    q, r = np.linalg.qr(rng.standard_normal((big, small)))
    q = q * np.where(np.diag(r) < 0, -1.0, 1.0)
    if fan_out < fan_in:
        q = q.T
    return gain * q
    ### END SOLUTION
'''

ACT_STDS = '''
def activation_stds(X, weights, activation):
    """Std of the activations of each layer of a bias-free deep stack.

    h_0 = X, h_l = activation(h_{l-1} @ W_l.T) for l = 1..L. Does not modify ``X`` or the
    arrays in ``weights``.

    Parameters
    ----------
    X : ndarray, shape (N, D)
    weights : list of L arrays, W_l of shape (M_l, M_{l-1})
    activation : callable, elementwise (e.g. nnkit.tanh)

    Returns
    -------
    list of L floats: np.std(h_l) over all entries, for l = 1..L (not the input)
    """
    ### BEGIN SOLUTION
    stds = []
    h = X
    for W in weights:
        h = activation(h @ W.T)
        stds.append(float(np.std(h)))
    return stds
    ### END SOLUTION
'''

GRAD_NORMS = '''
# The derivative of each activation the checks use (with respect to the pre-activation).
DERIVATIVE = {nnkit.tanh: nnkit.tanh_grad, nnkit.relu: nnkit.relu_grad,
              nnkit.sigmoid: nnkit.sigmoid_grad}


def gradient_norms(X, y, weights, activation):
    """Frobenius norm of dL/dW_l for each layer of a deep stack with a softmax loss.

    z_l = h_{l-1} @ W_l.T; h_l = activation(z_l) for l < L; the last layer has no activation:
    z_L are the logits of the mean softmax cross-entropy L over the N samples. Does not modify
    ``X`` or the arrays in ``weights``.

    Parameters
    ----------
    X : ndarray, shape (N, D)
    y : ndarray of int, shape (N,)
    weights : list of L arrays, W_l of shape (M_l, M_{l-1})
    activation : callable, a key of DERIVATIVE

    Returns
    -------
    list of L floats, ||dL/dW_l||_F in layer order (W_1 first)
    """
    grad = DERIVATIVE[activation]
    ### BEGIN SOLUTION
    hs, zs = [X], []
    for i, W in enumerate(weights):
        z = hs[-1] @ W.T
        zs.append(z)
        hs.append(activation(z) if i < len(weights) - 1 else z)
    logits = hs[-1]
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    n = len(y)
    delta = p
    delta[np.arange(n), y] -= 1.0
    delta /= n
    norms = []
    for i in range(len(weights) - 1, -1, -1):
        norms.append(float(np.linalg.norm(delta.T @ hs[i])))
        if i > 0:
            delta = (delta @ weights[i]) * grad(zs[i - 1])
    return norms[::-1]
    ### END SOLUTION
'''

SYMMETRY = """
# A 2-4-2 tanh network on XOR-like data, trained with plain gradient descent from
# (a) constant weights, (b) small random weights. Rows of W1 = the hidden units' weights.
rng = np.random.default_rng(0)
X_xor = rng.normal(size=(200, 2))
y_xor = (X_xor[:, 0] * X_xor[:, 1] > 0).astype(int)


def train_tiny(W1, W2, steps=300, lr=0.5):
    W1, W2 = W1.copy(), W2.copy()
    b1, b2 = np.zeros(len(W1)), np.zeros(len(W2))
    losses = []
    for _ in range(steps):
        z = X_xor @ W1.T + b1
        h = np.tanh(z)
        loss, ds = nnkit.softmax_cross_entropy(h @ W2.T + b2, y_xor)
        losses.append(loss)
        dh = ds @ W2
        dz = dh * (1 - h**2)
        W2 -= lr * ds.T @ h
        b2 -= lr * ds.sum(0)
        W1 -= lr * dz.T @ X_xor
        b1 -= lr * dz.sum(0)
    return W1, losses


W1_const, loss_const = train_tiny(np.full((4, 2), 0.5), np.full((2, 4), 0.5))
W1_rand, loss_rand = train_tiny(rng.normal(0, 0.5, (4, 2)), rng.normal(0, 0.5, (2, 4)))
print("hidden units' weights after training from a constant:\\n", W1_const)
print("... and from random numbers:\\n", W1_rand)
fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
axes[0].plot(loss_const, label="constant 0.5")
axes[0].plot(loss_rand, label="random")
axes[0].set_xlabel("step")
axes[0].set_ylabel("training loss")
axes[0].legend()
axes[1].bar(np.arange(8) - 0.2, W1_const.ravel(), width=0.4, label="constant start")
axes[1].bar(np.arange(8) + 0.2, W1_rand.ravel(), width=0.4, label="random start")
axes[1].set_xticks(range(8), [f"w{i}{j}" for i in range(1, 5) for j in (1, 2)])
axes[1].set_title("first-layer weights after training")
axes[1].legend()
plt.tight_layout()
plt.show()
"""

HISTOGRAMS = """
# Per-layer activation histograms of a 10-layer stack (width 256) under several weight scales.
rng = np.random.default_rng(1)
X_sig = rng.normal(size=(500, 256))
width, depth = 256, 10
setups = [
    ("tanh, std 0.01", nnkit.tanh, lambda: rng.normal(0, 0.01, (width, width))),
    ("tanh, std 3/sqrt(n)", nnkit.tanh, lambda: rng.normal(0, 3 / width**0.5, (width, width))),
    ("tanh, Xavier", nnkit.tanh, lambda: nnkit.xavier_normal(width, width, rng)),
    ("relu, Xavier", nnkit.relu, lambda: nnkit.xavier_normal(width, width, rng)),
    ("relu, He", nnkit.relu, lambda: nnkit.he_normal(width, width, rng)),
]
fig, axes = plt.subplots(len(setups), 1, figsize=(10, 9), sharex=False)
for ax, (name, act, draw) in zip(axes, setups):
    h = X_sig
    for layer in range(depth):
        h = act(h @ draw().T)
        if layer % 3 == 0 or layer == depth - 1:
            values = h.ravel()[:20000]
            ax.hist(values, bins=60, histtype="step", label=f"layer {layer + 1}",
                    range=(-1.05, 1.05) if act is nnkit.tanh else (0, max(3 * values.std(), 1e-12)))
    ax.set_yscale("log")
    ax.set_title(name, fontsize=10)
    ax.legend(fontsize=7, ncol=4)
axes[-1].set_xlabel("activation value")
fig.supylabel("count (log scale)")
plt.tight_layout()
plt.show()
"""

SIGNALS = """
# Std of the activations (forward) and gradient norms (backward), layer by layer, for a deep
# tanh and a deep ReLU stack under several weight scales (nnkit's reference functions).
rng = np.random.default_rng(2)
width, depth = 64, 20
X_sig = rng.normal(size=(200, width))
y_sig = rng.integers(0, 10, size=200)
fig, axes = plt.subplots(2, 2, figsize=(10, 6.5))
for col, act in enumerate((nnkit.tanh, nnkit.relu)):
    for gain in (0.5, 1.0, np.sqrt(2), 2.0):
        Ws = [rng.normal(0, gain / np.sqrt(width), (width, width)) for _ in range(depth - 1)]
        Ws.append(rng.normal(0, gain / np.sqrt(width), (10, width)))
        stds = nnkit.activation_stds(X_sig, Ws[:-1], act)
        norms = nnkit.gradient_norms(X_sig, y_sig, Ws, act)
        label = f"std = {gain:.3g} / sqrt(n)"
        axes[0, col].semilogy(range(1, depth), stds, marker=".", label=label)
        axes[1, col].semilogy(range(1, depth + 1), norms, marker=".", label=label)
    name = "tanh" if act is nnkit.tanh else "ReLU"
    axes[0, col].set_title(f"{name}: std of activations per layer")
    axes[1, col].set_title(f"{name}: ‖dL/dW_l‖ per layer")
    axes[1, col].set_xlabel("layer")
    axes[0, col].legend(fontsize=8)
plt.tight_layout()
plt.show()
"""

STANDARDISE = """
# Standardisation: mean and std from the TRAINING set only, then applied to every split.
rng = np.random.default_rng(3)
X_all = rng.normal(loc=[50.0, -3.0], scale=[20.0, 0.1], size=(300, 2))
X_train, X_test = X_all[:200], X_all[200:]
mean, std = X_train.mean(axis=0), X_train.std(axis=0)
X_train_s, X_test_s = (X_train - mean) / std, (X_test - mean) / std
print("train mean / std after:", X_train_s.mean(0).round(3), X_train_s.std(0).round(3))
print("test  mean / std after:", X_test_s.mean(0).round(3), X_test_s.std(0).round(3),
      "(close to, not exactly, 0 and 1: the test set was not used)")
fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
axes[0].scatter(*X_train.T, s=8)
axes[0].set_title("raw features (very different scales)")
axes[0].set_xlabel("feature 1 (mean 50, std 20)")
axes[0].set_ylabel("feature 2 (mean -3, std 0.1)")
axes[1].scatter(*X_train_s.T, s=8, label="train")
axes[1].scatter(*X_test_s.T, s=8, label="test")
axes[1].set_title("standardised with training statistics")
axes[1].set_xlabel("feature 1, standardised")
axes[1].set_ylabel("feature 2, standardised")
axes[1].legend()
plt.tight_layout()
plt.show()
"""


# Worked examples shown before each answer cell (values computed when the lesson is built).
EXAMPLE_XAVIER_UNIFORM = """
W = xavier_uniform(400, 200, rng=0)
W.shape
W.min(), W.max()  # inside ±sqrt(6 / 600) = ±0.1
W.std()  # sqrt(2 / 600) = 0.0577
xavier_normal(400, 200, rng=0).std()
he_normal(400, 200, rng=0).std()  # sqrt(2 / 400) = 0.0707
he_uniform(400, 200, rng=0).std()
"""

EXAMPLE_ORTHOGONAL = """
W = orthogonal(3, 5, rng=0, gain=2.0)
W.shape
np.round(W.T @ W, 6)
np.round(orthogonal(5, 3, rng=0) @ orthogonal(5, 3, rng=0).T, 6)
"""

EXAMPLE_ACTIVATION_STDS = """
X = np.array([[1.0, -1.0], [2.0, 0.5]])
weights = [np.array([[1.0, 0.5], [-0.5, 1.0]]), np.array([[2.0, 0.0], [0.0, 2.0], [1.0, 1.0]])]
activation_stds(X, weights, nnkit.tanh)
activation_stds(X, weights, nnkit.relu)
"""

EXAMPLE_GRADIENT_NORMS = """
X = np.array([[1.0, -1.0], [2.0, 0.5]])
y = np.array([0, 2])
weights = [np.array([[1.0, 0.5], [-0.5, 1.0]]), np.array([[2.0, 0.0], [0.0, 2.0], [1.0, 1.0]])]
gradient_norms(X, y, weights, nnkit.tanh)
gradient_norms(X, y, weights, nnkit.relu)
"""


def build():
    lesson = Lesson(LESSON)
    lesson.md(
        r"""
        # Lesson 04 — Initialisation: symmetry, vanishing and exploding signals

        Gradient descent has to start somewhere. Where it starts decides whether a deep network
        learns at all: with all weights equal every hidden unit stays a copy of its neighbours;
        with weights slightly too small the signal fades layer after layer, slightly too large
        and it blows up. This lesson shows each failure and derives the scales — Xavier (Glorot),
        He (Kaiming), orthogonal — that keep the signal's size roughly constant through depth.

        You will write the four scaled initialisers, an orthogonal initialiser, and two
        diagnostics: the spread of the activations and the size of the gradients, layer by
        layer.
        """
    )
    lesson.setup()
    lesson.md(
        r"""
        ## 1. Why not zeros, or any constant?

        If every weight of a layer has the same value, every hidden unit computes the same
        function of the input: $h_j = g(\mathbf w^\top \mathbf x + b)$ for all $j$. Backprop
        then hands every unit the same gradient, $\partial L/\partial \mathbf w_j =
        \delta_j\,\mathbf x$ with identical $\delta_j$, so after every update the units are
        *still* identical. The network behaves like one with a single hidden unit, however
        wide it is. This is the **symmetry** problem; random initial weights break it.

        All zeros is worse still: with $W_1 = 0$ and $W_2 = 0$ the gradient of every weight
        vanishes ($\delta$ is multiplied by a zero weight on the way back, and $h = g(0)$ is
        0 for tanh, so $\partial L/\partial W_2 = \delta^\top h = 0$ too), and so does the
        hidden bias's. The weights therefore never leave zero: all-zero weights are a stationary
        point in the weights — a **saddle point** of the loss, not a minimum. Only the output
        bias $b_2$ still gets a gradient, $\sum_n \delta_n$ (zero when the classes are
        balanced), so at best the network learns the class frequencies and nothing else.
        Biases do not suffer from the symmetry problem and are usually started at 0.

        Below, a 2-4-2 tanh network trained on XOR-like data from a constant start and from a
        random start. Look at the learned first-layer weights: from the constant start the four
        hidden units end up with exactly the same weights, and the loss falls far more slowly
        than from the random start.
        """
    )
    lesson.code(SYMMETRY)
    lesson.md(
        r"""
        ## 2. Keeping the variance constant through the layers

        Take one layer $z_i = \sum_{j=1}^{n_\text{in}} W_{ij} h_j$ with independent, zero-mean
        weights and inputs. Then

        $$\operatorname{Var}(z_i) = n_\text{in}\,\operatorname{Var}(W)\,\operatorname{Var}(h).$$

        (Only the weights really need zero mean: in general the last factor is the second
        moment $\mathbb E[h^2]$, which equals $\operatorname{Var}(h)$ for zero-mean inputs.)

        If $n_\text{in}\operatorname{Var}(W) < 1$ the variance shrinks by that factor at every
        layer — after 20 layers the signal has vanished; if it is $> 1$ it grows geometrically.
        The same argument for the backward pass gives the condition
        $n_\text{out}\operatorname{Var}(W) = 1$. Glorot and Bengio compromise between the two:

        $$\operatorname{Var}(W) = \frac{2}{n_\text{in} + n_\text{out}}\qquad\text{(Xavier)}.$$

        For ReLU, half of the pre-activations are zeroed, which halves the second moment
        $\mathbb E[h^2]$ that the next layer receives; He et al. compensate with a factor 2:

        $$\operatorname{Var}(W) = \frac{2}{n_\text{in}}\qquad\text{(He / Kaiming)}.$$

        A uniform distribution on $[-a, a]$ has variance $a^2/3$, so the same variance needs the
        bound $a = \sqrt{3}\,\sigma$: $a = \sqrt{6/(n_\text{in}+n_\text{out})}$ for Xavier
        uniform and $a = \sqrt{6/n_\text{in}}$ for He uniform.

        Write the four initialisers. They return `W` of shape `(fan_out, fan_in)` (the course's
        `(M, D)` layout), and draw **only** from the `rng` argument (`rng =
        np.random.default_rng(rng)` accepts a seed, a `Generator` or `None`). They are graded by
        statistics on large matrices — shape, mean, standard deviation, the shape of the
        distribution — and by whether the `rng` is used, never by matching one random stream.
        """
    )
    lesson.answer(
        "xavier_uniform",
        INITS,
        example=EXAMPLE_XAVIER_UNIFORM,
        note=(
            "(These draw random numbers: a correct answer that draws them another way may differ "
            "in the last digits, with the same statistics.)"
        ),
    )
    for name in ("xavier_uniform", "xavier_normal", "he_normal", "he_uniform"):
        lesson.tests(name)
    lesson.md(
        r"""
        ## 3. Orthogonal initialisation

        An orthogonal matrix preserves lengths exactly: $\lVert Q\mathbf x\rVert =
        \lVert\mathbf x\rVert$ for every $\mathbf x$, not only on average. That is attractive
        for deep linear-ish stacks and recurrent networks. To draw one, take a Gaussian matrix
        $A$ of shape (larger fan, smaller fan), factor $A = QR$ (`np.linalg.qr`) and keep $Q$,
        whose columns are orthonormal. Multiply each column by the sign of the matching diagonal
        entry of $R$ (this makes the distribution uniform over orthogonal matrices), transpose
        when `fan_out < fan_in`, and scale by `gain`.
        """
    )
    lesson.answer(
        "orthogonal",
        ORTHO,
        example=EXAMPLE_ORTHOGONAL,
        note="(The matrices themselves are random; these products are not.)",
    )
    lesson.tests("orthogonal")
    lesson.md(
        r"""
        ## 4. Watching the signal: activations, layer by layer

        To *see* vanishing and exploding signals, push a batch through a deep bias-free stack
        $h_0 = X$, $h_l = g(h_{l-1} W_l^\top)$ and record the standard deviation of every
        $h_l$ (over all its entries, `np.std`). Write `activation_stds`; it reports the $L$
        layers, not the input.
        """
    )
    lesson.answer("activation_stds", ACT_STDS, example=EXAMPLE_ACTIVATION_STDS)
    lesson.tests("activation_stds")
    lesson.md(
        r"""
        The histograms below show the activations of a 10-layer stack. With tiny weights the
        tanh activations collapse to 0; with too-large ones they saturate at $\pm 1$, where
        $\tanh' \approx 0$ and no gradient passes. Xavier keeps tanh in its useful range
        (slowly narrowing with depth). For ReLU, Xavier's variance is half of He's (its standard
        deviation a factor $\sqrt 2$ too small), so the activations shrink by about $\sqrt 2$
        per layer; He's scale keeps them steady.
        """
    )
    lesson.code(HISTOGRAMS)
    lesson.md(
        r"""
        ## 5. Watching the gradients

        The backward pass multiplies by $W_l^\top$ and by $g'(z_l)$ at every layer, so the
        gradients vanish or explode the same way. Write `gradient_norms`: the same stack, except
        that the last layer has no activation and gives the logits of a mean softmax
        cross-entropy. Starting from $\delta_L = (\operatorname{softmax}(z_L) -
        \operatorname{onehot}(y))/N$,

        $$\frac{\partial L}{\partial W_l} = \delta_l^\top h_{l-1},\qquad
        \delta_{l-1} = (\delta_l W_l) \odot g'(z_{l-1}),$$

        and return $\lVert\partial L/\partial W_l\rVert_F$ for $l = 1..L$ in layer order. The
        derivative of the activation is looked up in the dictionary `DERIVATIVE` given in the
        cell (`nnkit.tanh_grad` takes the pre-activation).
        """
    )
    lesson.answer("gradient_norms", GRAD_NORMS, example=EXAMPLE_GRADIENT_NORMS)
    lesson.tests("gradient_norms")
    lesson.md(
        r"""
        The figure runs nnkit's versions of both diagnostics on 20-layer tanh and ReLU stacks
        with weights of standard deviation $c/\sqrt n$ for several $c$.

        * **Top row (forward).** For ReLU only $c = \sqrt 2 \approx 1.41$ (He) keeps the spread
          of the activations constant; smaller $c$ makes it vanish and larger $c$ makes it
          explode, geometrically in depth. For tanh, $c = 1$ (Xavier for a square layer) keeps
          the signal alive, decaying only slowly, while larger $c$ saturates the units.
        * **Bottom row (backward).** Compare the *levels* of the curves more than their slopes.
          In a ReLU stack, in $\partial L/\partial W_l = \delta_l^\top h_{l-1}$ the forward
          factor $h_{l-1}$ shrinks with $l$ about as fast as the backward factor $\delta_l$
          grows (or the other way round), so each curve changes far less from layer to layer
          than the activations do. But the whole curve scales roughly like $(c/\sqrt 2)^L$:
          around $10^{-9}$ for $c = 0.5$ and $10^{3}$ to $10^{4}$ for $c = 2$, against about 1 for
          $c = \sqrt 2$. With gradients of $10^{-9}$ a usual learning rate changes nothing; with
          $10^{4}$ it throws the weights far away: that is what "vanishing" and "exploding"
          gradients mean for a deep stack.
        """
    )
    lesson.code(SIGNALS)
    lesson.md(
        r"""
        The explorer lets you pick the depth, the activation and the initialiser and watch the
        two curves move.
        """
    )
    lesson.code(
        """
        from nnkit.widgets import init_explorer

        init_explorer()
        """
    )
    lesson.md(
        r"""
        ## 6. The input matters too: standardisation

        All this analysis assumed inputs of mean 0 and variance 1. Raw features rarely are (a
        price in the thousands next to a ratio near 0.01). Standardise each feature,
        $x' = (x - \mu)/\sigma$, with $\mu$ and $\sigma$ **fitted on the training set only**
        and then applied unchanged to validation and test data: computing them on all the data
        would leak information about the test set into training.
        """
    )
    lesson.code(STANDARDISE)
    lesson.self_check()
    return lesson.notebook()

"""Lesson 02_softmax: softmax, likelihood and losses."""

from __future__ import annotations

from .nb import Lesson

LESSON = "02_softmax"

SOFTMAX = '''
def softmax(z):
    """Softmax over the last axis, without overflow. Does not modify ``z``.

    Parameters
    ----------
    z : ndarray, shape (..., K)
        Logits; 1-D (one distribution), 2-D (one row per sample) or more.

    Returns
    -------
    ndarray, same shape as ``z``
        Non-negative, summing to 1 along the last axis (float32 stays float32).
    """
    ### BEGIN SOLUTION
    z = np.asarray(z)
    if z.dtype.kind != "f":
        z = z.astype(np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
    ### END SOLUTION


def softmax_jacobian(z):
    """Jacobian of the softmax of a single logit vector: J[i, j] = d s_i / d z_j.

    Does not modify ``z``.

    Parameters
    ----------
    z : ndarray, shape (K,)

    Returns
    -------
    ndarray, shape (K, K)
        diag(s) - outer(s, s) with s = softmax(z).
    """
    ### BEGIN SOLUTION
    s = softmax(z)
    return np.diag(s) - np.outer(s, s)
    ### END SOLUTION
'''

CE = '''
def cross_entropy(probs, y):
    """Mean negative log-likelihood of the correct classes. Does not modify ``probs``.

    Parameters
    ----------
    probs : ndarray, shape (N, K)
        Predicted probabilities, one row per sample.
    y : ndarray of int, shape (N,)
        Correct classes, values in [0, K).

    Returns
    -------
    float
        -mean_n log probs[n, y[n]]
    """
    ### BEGIN SOLUTION
    n = probs.shape[0]
    return float(-np.mean(np.log(probs[np.arange(n), y])))
    ### END SOLUTION
'''

SCE = '''
def softmax_cross_entropy(logits, y):
    """Softmax followed by cross-entropy, computed stably, and its gradient.

    Does not modify ``logits``.

    Parameters
    ----------
    logits : ndarray, shape (N, K)
    y : ndarray of int, shape (N,)

    Returns
    -------
    loss : float
        Mean over the batch of -log softmax(logits)[n, y[n]].
    dlogits : ndarray, shape (N, K)
        Gradient of the mean loss: (softmax(logits) - onehot(y)) / N.
    """
    ### BEGIN SOLUTION
    z = logits - logits.max(axis=1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    n = logits.shape[0]
    loss = -log_probs[np.arange(n), y].mean()
    dlogits = np.exp(log_probs)
    dlogits[np.arange(n), y] -= 1
    return float(loss), dlogits / n
    ### END SOLUTION
'''

BCE = '''
def binary_cross_entropy_with_logits(logits, y):
    """Binary cross-entropy of sigmoid(logits) against labels y, stable for large |logits|.

    Does not modify ``logits`` or ``y``.

    Parameters
    ----------
    logits : ndarray, shape (N,)
    y : ndarray, shape (N,)
        Labels 0.0 or 1.0.

    Returns
    -------
    loss : float
        mean( -y log sigmoid(x) - (1 - y) log(1 - sigmoid(x)) )
    dlogits : ndarray, shape (N,)
        (sigmoid(logits) - y) / N
    """
    ### BEGIN SOLUTION
    x = logits
    loss = np.mean(np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x))))
    e = np.exp(-np.abs(x))
    s = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return float(loss), (s - y) / x.shape[0]
    ### END SOLUTION
'''

MM = '''
def max_margin_loss(s, s_c, margin=1.0):
    """Hinge (max-margin) ranking loss and its gradients. Does not modify ``s`` or ``s_c``.

    Parameters
    ----------
    s : ndarray, shape (N,)
        Scores of the correct (positive) examples.
    s_c : ndarray, shape (N,)
        Scores of the corrupted (negative) examples.
    margin : float

    Returns
    -------
    loss : float
        mean( max(0, margin + s_c - s) )
    ds : ndarray, shape (N,)
        d loss / d s
    ds_c : ndarray, shape (N,)
        d loss / d s_c
    """
    ### BEGIN SOLUTION
    m = margin + s_c - s
    active = (m > 0).astype(float)
    n = s.shape[0]
    return float(np.mean(np.maximum(m, 0))), -active / n, active / n
    ### END SOLUTION
'''


# Worked examples shown before each answer cell (values computed when the lesson is built).
EXAMPLE_SOFTMAX = """
z = np.array([[1.0, 2.0, 3.0], [1000.0, 1000.0, 1001.0]])
softmax(z)
softmax_jacobian(np.array([1.0, 2.0, 3.0]))
"""

EXAMPLE_CROSS_ENTROPY = """
probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
y = np.array([0, 2])
cross_entropy(probs, y)
"""

EXAMPLE_SOFTMAX_CROSS_ENTROPY = """
logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 1000.0]])
y = np.array([0, 1])
loss, dlogits = softmax_cross_entropy(logits, y)
loss
dlogits
"""

EXAMPLE_BINARY_CROSS_ENTROPY_WITH_LOGITS = """
logits = np.array([-2.0, 0.0, 3.0, 800.0])
y = np.array([0.0, 1.0, 1.0, 0.0])
loss, dlogits = binary_cross_entropy_with_logits(logits, y)
loss
dlogits
"""

EXAMPLE_MAX_MARGIN_LOSS = """
s = np.array([2.0, 0.5, 1.5])
s_c = np.array([0.5, 1.0, 0.0])
loss, ds, ds_c = max_margin_loss(s, s_c)
loss
ds
ds_c
"""


def build():
    lesson = Lesson(LESSON)
    lesson.md(
        r"""
        # Lesson 02 — Softmax, likelihood and losses

        A classifier with $K$ classes should output a **probability distribution** over the
        classes. The last layer of a network produces $K$ unbounded numbers, the **logits**
        $\mathbf{z}$; the softmax turns them into probabilities, and a loss measures how much
        probability the network gave to the right answer. In this lesson you write both, with
        their gradients, in a way that survives extreme inputs.
        """
    )
    lesson.setup()
    lesson.md(
        r"""
        ## 1. Softmax

        $$\mathrm{softmax}(\mathbf{z})_i = \frac{e^{z_i}}{\sum_{j=1}^{K} e^{z_j}}$$

        Every output is positive and they sum to one. The largest logit gets the largest
        probability, but not all of it: softmax is a *soft* version of "argmax". Scaling the
        logits up makes the distribution sharper, scaling them down makes it flatter.

        **Worked example.** $\mathbf{z} = (1, 2, 3)$: $e^{\mathbf{z}} = (2.718, 7.389, 20.09)$,
        sum $30.19$, so $\mathrm{softmax}(\mathbf{z}) = (0.090, 0.245, 0.665)$.

        **Shift invariance and stability.** Adding the same constant $c$ to every logit
        multiplies numerator and denominator by $e^{c}$, so the result does not change. That
        is what makes softmax computable: $e^{1000}$ is `inf` in float64, but after
        subtracting $m = \max_j z_j$ the largest exponent is $e^0 = 1$ and nothing overflows:

        $$\mathrm{softmax}(\mathbf{z})_i = \frac{e^{z_i - m}}{\sum_j e^{z_j - m}}.$$

        For a batch (one row per sample) the maximum must be taken **per row**
        (`axis=-1, keepdims=True`) — a single maximum over the whole batch lets a row far below
        it underflow to $0/0$.
        """
    )
    lesson.code(
        """
        # Temperature: softmax(z / T) for the same logits.
        z_demo = np.array([2.0, 1.0, 0.2, -1.0])
        fig, axes = plt.subplots(1, 4, figsize=(13, 2.8), sharey=True)
        for ax, T in zip(axes, [0.25, 1.0, 2.0, 10.0]):
            ax.bar(range(4), nnkit.softmax(z_demo / T), color="tab:blue")
            ax.set_title(f"softmax(z / {T})")
            ax.set_xticks(range(4))
        axes[0].set_ylabel("probability")
        plt.tight_layout()
        plt.show()
        """
    )
    lesson.md(
        r"""
        ### The Jacobian of softmax

        Each output depends on every logit. Writing $s = \mathrm{softmax}(\mathbf{z})$,

        $$\frac{\partial s_i}{\partial z_j} = s_i(\delta_{ij} - s_j), \qquad
        J = \mathrm{diag}(\mathbf{s}) - \mathbf{s}\mathbf{s}^\top.$$

        The diagonal is $s_i(1 - s_i) > 0$ (raising your own logit raises your probability);
        off the diagonal it is $-s_i s_j < 0$ (it lowers everyone else's). Each column sums to
        zero, because the probabilities always sum to one.
        """
    )
    lesson.answer("softmax", SOFTMAX, example=EXAMPLE_SOFTMAX)
    lesson.tests("softmax")
    lesson.tests("softmax_jacobian")
    lesson.code(
        """
        # The Jacobian of softmax for one logit vector, drawn as a matrix (nnkit's reference).
        z_demo = np.array([2.0, 1.0, 0.1, -0.5, 1.5])
        J = nnkit.softmax_jacobian(z_demo)
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
        axes[0].bar(range(5), nnkit.softmax(z_demo))
        axes[0].set_title("s = softmax(z)")
        lim = np.abs(J).max()
        im = axes[1].imshow(J, cmap="RdBu_r", vmin=-lim, vmax=lim)
        axes[1].set_title("J = diag(s) - s sᵀ  (columns sum to 0)")
        axes[1].set_xlabel("j (logit)")
        axes[1].set_ylabel("i (probability)")
        fig.colorbar(im, ax=axes[1])
        plt.tight_layout()
        plt.show()
        """
    )
    lesson.md(
        r"""
        ## 2. Likelihood and cross-entropy

        Given a data set $\{(\mathbf{x}_n, y_n)\}_{n=1}^N$ and a model that outputs
        probabilities $\mathbf{p}_n = f(\mathbf{x}_n; \theta)$, the **likelihood** of the
        parameters is the probability the model assigns to the observed labels,
        $\prod_n p_{n, y_n}$. Maximising it is the same as minimising the **mean negative
        log-likelihood**, also called the cross-entropy loss:

        $$L(\theta) = -\frac{1}{N} \sum_{n=1}^N \log p_{n, y_n}.$$

        The log turns the product into a sum (and avoids multiplying thousands of small
        numbers); dividing by $N$ makes the loss independent of the batch size. A perfect,
        confident prediction costs $0$; giving the right class probability $0.5$ costs
        $\log 2 \approx 0.69$; probability $0$ costs $+\infty$.

        **Worked example.** Two samples with predicted rows $(0.7, 0.2, 0.1)$ and
        $(0.1, 0.1, 0.8)$ and labels $0$ and $2$: $L = -\tfrac12(\log 0.7 + \log 0.8) = 0.290$.

        In NumPy, `probs[np.arange(N), y]` picks one entry per row — the probability of each
        sample's correct class.
        """
    )
    lesson.answer("cross_entropy", CE, example=EXAMPLE_CROSS_ENTROPY)
    lesson.tests("cross_entropy")
    lesson.md(
        r"""
        ### The loss surface

        How does the loss of one sample depend on the probability $p$ of its correct class,
        and, for two classes, on the logits? The left figure is $-\log p$; the right one is the
        cross-entropy of a 2-class softmax as a function of both logits, for correct class 0:
        it only depends on the *difference* $z_0 - z_1$ (shift invariance again), and it is
        smooth and convex — gradient descent has an easy job.
        """
    )
    lesson.code(
        """
        p = np.linspace(0.005, 1, 200)
        z0, z1 = np.meshgrid(np.linspace(-4, 4, 121), np.linspace(-4, 4, 121))
        logits_grid = np.stack([z0.ravel(), z1.ravel()], axis=1)
        y_grid = np.zeros(len(logits_grid), dtype=int)
        per_sample = -np.log(nnkit.softmax(logits_grid)[np.arange(len(y_grid)), y_grid])
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        axes[0].plot(p, -np.log(p))
        axes[0].set_xlabel("p (probability of the correct class)")
        axes[0].set_ylabel("-log p")
        axes[0].set_title("cost of one sample")
        cs = axes[1].contourf(z0, z1, per_sample.reshape(z0.shape), levels=30, cmap="viridis")
        axes[1].set_xlabel("$z_0$ (correct class)")
        axes[1].set_ylabel("$z_1$")
        axes[1].set_title("cross-entropy over two logits")
        fig.colorbar(cs, ax=axes[1])
        plt.tight_layout()
        plt.show()
        """
    )
    lesson.md(
        r"""
        ## 3. Softmax and cross-entropy together

        Computing $\log(\mathrm{softmax}(\mathbf{z}))$ in two steps fails for large logits:
        a tiny probability rounds to $0$ and its log is $-\infty$. Combine them instead. With
        $m = \max_j z_j$,

        $$\log \mathrm{softmax}(\mathbf{z})_i = (z_i - m) - \log \sum_j e^{z_j - m}
        \qquad\text{("log-sum-exp")}$$

        which is finite for any finite logits. The fused loss also has a remarkably simple
        gradient. For one sample, $\partial(-\log s_y)/\partial z_j = s_j - [j = y]$, and with
        the mean over the batch:

        $$\frac{\partial L}{\partial Z} = \frac{1}{N}\bigl(\mathrm{softmax}(Z) -
        \mathrm{onehot}(\mathbf{y})\bigr).$$

        (Derive it from the Jacobian above: $-\frac{1}{s_y}$ times row $y$ of $J$.) Its entry is
        negative for the correct logit and positive for the others, so a gradient-descent step
        (which moves *against* the gradient) raises the correct logit and lowers every other
        one, each in proportion to how much probability it currently takes.
        """
    )
    lesson.answer("softmax_cross_entropy", SCE, example=EXAMPLE_SOFTMAX_CROSS_ENTROPY)
    lesson.tests("softmax_cross_entropy")
    lesson.md(
        r"""
        ## 4. Two classes: binary cross-entropy with logits

        With a single output $x$ and $\hat p = \sigma(x)$ the probability of class 1,

        $$\ell(x, y) = -y\log\sigma(x) - (1 - y)\log(1 - \sigma(x)).$$

        Using $\log\sigma(x) = -\log(1 + e^{-x})$ and $\log(1 - \sigma(x)) = -x - \log(1 +
        e^{-x})$, the two terms combine into $\ell(x, y) = x - xy + \log(1 + e^{-x})$. That is
        fine for $x \ge 0$ but computes $e^{-x}$, which overflows, for very negative $x$. Since
        $x + \log(1 + e^{-x}) = \log(1 + e^{x})$, for $x < 0$ we may write it as
        $-xy + \log(1 + e^{x})$ instead, and both cases fit in one expression that only ever
        exponentiates $-|x| \le 0$:

        $$\ell(x, y) = \max(x, 0) - x y + \log\bigl(1 + e^{-|x|}\bigr)$$

        (`np.log1p` computes $\log(1 + t)$ accurately for small $t$). The gradient is again
        "prediction minus target": $\partial\ell/\partial x = \sigma(x) - y$, divided by $N$
        for the mean.
        """
    )
    lesson.answer(
        "binary_cross_entropy_with_logits", BCE, example=EXAMPLE_BINARY_CROSS_ENTROPY_WITH_LOGITS
    )
    lesson.tests("binary_cross_entropy_with_logits")
    lesson.md(
        r"""
        ## 5. A ranking loss: max-margin

        Sometimes we only want the score $s$ of a correct example to beat the score $s_c$ of a
        corrupted one by a **margin**, e.g. for ranking or word embeddings:

        $$L = \frac{1}{N}\sum_n \max(0,\; \text{margin} + s_{c,n} - s_n).$$

        Pairs that already satisfy $s_n \ge s_{c,n} + \text{margin}$ cost nothing and get zero
        gradient; for the others, $\partial L / \partial s_n = -1/N$ and
        $\partial L / \partial s_{c,n} = +1/N$. (At exactly zero the hinge is not
        differentiable: any value between the two one-sided slopes is a valid sub-gradient.
        Testing `> 0` gives $0$ there; `nnkit`, like PyTorch's `margin_ranking_loss`, counts
        the pair as active. Either is accepted: the checks never land exactly on the kink.)
        """
    )
    lesson.answer("max_margin_loss", MM, example=EXAMPLE_MAX_MARGIN_LOSS)
    lesson.tests("max_margin_loss")
    lesson.code(
        """
        # Three losses as functions of one margin m = (score of the right answer) - (other).
        # Cross-entropy is drawn in bits (log base 2): then it is 1 at m = 0 and lies above
        # the 0-1 error everywhere (in nats it is ln 2 ≈ 0.69 at m = 0, below the step).
        m = np.linspace(-4, 4, 200)
        fig, ax = plt.subplots(figsize=(6, 3.8))
        ax.plot(m, np.maximum(0, 1 - m), label="max-margin (margin 1)")
        ax.plot(m, np.logaddexp(0, -m) / np.log(2), label="binary cross-entropy, logit m (bits)")
        ax.plot(m, (m < 0).astype(float), label="0-1 error", ls="--")
        ax.set_xlabel("m")
        ax.set_ylabel("loss")
        ax.legend()
        ax.set_title("smooth and hinge upper bounds of the 0-1 error")
        plt.show()
        """
    )
    lesson.self_check()
    return lesson.notebook()

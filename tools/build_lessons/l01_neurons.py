"""Lesson 01_neurons: the artificial neuron, activation functions, layers, XOR."""

from __future__ import annotations

from .nb import Lesson

LESSON = "01_neurons"

SIGMOID = '''
def sigmoid(a):
    """Logistic sigmoid, elementwise: sigma(a) = 1 / (1 + exp(-a)).

    Must not overflow, even for a = -1000 or a = +1000. Does not modify ``a``.

    Parameters
    ----------
    a : ndarray, any shape
        Pre-activations (floats or integers).

    Returns
    -------
    ndarray, same shape as ``a``
        Values in [0, 1]; float32 input gives float32 output, other input gives float64.
    """
    ### BEGIN SOLUTION
    a = np.asarray(a)
    if a.dtype.kind != "f":
        a = a.astype(np.float64)
    # exp(-|a|) is at most 1, so neither branch can overflow
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))
    ### END SOLUTION


def sigmoid_grad(a):
    """Derivative of the sigmoid with respect to its input: sigma(a) * (1 - sigma(a)).

    Does not modify ``a``.

    Parameters
    ----------
    a : ndarray, any shape
        Pre-activations.

    Returns
    -------
    ndarray, same shape and float dtype rules as ``sigmoid``
    """
    ### BEGIN SOLUTION
    s = sigmoid(a)
    return s * (1 - s)
    ### END SOLUTION
'''

TANH = '''
def tanh(a):
    """Hyperbolic tangent, elementwise, without overflow for large |a|. Does not modify ``a``.

    Parameters
    ----------
    a : ndarray, any shape

    Returns
    -------
    ndarray, same shape as ``a``, values in [-1, 1] (float32 stays float32)
    """
    ### BEGIN SOLUTION
    a = np.asarray(a)
    if a.dtype.kind != "f":
        a = a.astype(np.float64)
    e = np.exp(-2 * np.abs(a))  # never overflows
    return np.sign(a) * (1 - e) / (1 + e)
    ### END SOLUTION


def tanh_grad(a):
    """Derivative of tanh: 1 - tanh(a)**2. Does not modify ``a``.

    Parameters
    ----------
    a : ndarray, any shape

    Returns
    -------
    ndarray, same shape as ``a`` (float32 stays float32)
    """
    ### BEGIN SOLUTION
    t = tanh(a)
    return 1 - t * t
    ### END SOLUTION
'''

RELU = '''
def relu(a):
    """Rectified linear unit, elementwise: max(a, 0).

    Parameters
    ----------
    a : ndarray, any shape (floats)

    Returns
    -------
    ndarray, same shape and dtype as ``a``. The input is not modified.
    """
    ### BEGIN SOLUTION
    a = np.asarray(a)
    return np.where(a > 0, a, np.zeros_like(a))
    ### END SOLUTION


def relu_grad(a):
    """Derivative of ReLU: 1 where a > 0, else 0 (the course's convention: relu_grad(0) = 0).

    Does not modify ``a``.

    Parameters
    ----------
    a : ndarray, any shape (floats)

    Returns
    -------
    ndarray of 0.0 and 1.0, same shape and dtype as ``a``
    """
    ### BEGIN SOLUTION
    a = np.asarray(a)
    return (a > 0).astype(a.dtype)
    ### END SOLUTION
'''

LEAKY = '''
def leaky_relu(a, k=0.01):
    """Leaky ReLU: a where a > 0, k * a elsewhere. Does not modify ``a``.

    Parameters
    ----------
    a : ndarray, any shape (floats)
    k : float
        Slope for negative inputs (0 <= k < 1).

    Returns
    -------
    ndarray, same shape and dtype as ``a``
    """
    ### BEGIN SOLUTION
    a = np.asarray(a)
    return np.where(a > 0, a, k * a).astype(a.dtype)
    ### END SOLUTION


def leaky_relu_grad(a, k=0.01):
    """Derivative of leaky ReLU: 1 where a > 0, k elsewhere (so the value at 0 is k).

    Does not modify ``a``.

    Parameters
    ----------
    a : ndarray, any shape (floats)
    k : float

    Returns
    -------
    ndarray, same shape and dtype as ``a``
    """
    ### BEGIN SOLUTION
    a = np.asarray(a)
    return np.where(a > 0, 1.0, k).astype(a.dtype)
    ### END SOLUTION
'''

NEURON = '''
def neuron_forward(X, w, b, g):
    """Output of one neuron for a batch of samples: g(X @ w + b).

    Does not modify ``X`` or ``w``; float32 inputs give float32 output.

    Parameters
    ----------
    X : ndarray, shape (N, D)
        One sample per row.
    w : ndarray, shape (D,)
        Weights.
    b : float
        Bias.
    g : callable
        Activation function, applied elementwise.

    Returns
    -------
    ndarray, shape (N,)
    """
    ### BEGIN SOLUTION
    return g(X @ w + b)
    ### END SOLUTION
'''

LAYER = '''
def layer_forward(X, W, b, g):
    """Outputs of a layer of M neurons for a batch: g(X @ W.T + b).

    Does not modify ``X``, ``W`` or ``b``; float32 inputs give float32 output.

    Parameters
    ----------
    X : ndarray, shape (N, D)
    W : ndarray, shape (M, D)
        Row m holds the weights of neuron m.
    b : ndarray, shape (M,)
    g : callable
        Activation function, applied elementwise.

    Returns
    -------
    ndarray, shape (N, M)
    """
    ### BEGIN SOLUTION
    return g(X @ W.T + b)
    ### END SOLUTION
'''

XOR = '''
def xor_params():
    """Weights of a 2-2-1 ReLU network computing XOR.

    The network is  f(x) = w @ relu(W @ x + b) + c  for x in {0, 1}^2, and must give
    f(0, 0) = f(1, 1) = 0 and f(1, 0) = f(0, 1) = 1.

    Returns
    -------
    dict with keys
        "W" : ndarray, shape (2, 2)   hidden weights, row i = hidden unit i
        "b" : ndarray, shape (2,)     hidden biases
        "w" : ndarray, shape (2,)     output weights
        "c" : float                   output bias
    """
    ### BEGIN SOLUTION
    return {
        "W": np.array([[1.0, 1.0], [1.0, 1.0]]),
        "b": np.array([0.0, -1.0]),
        "w": np.array([1.0, -2.0]),
        "c": 0.0,
    }
    ### END SOLUTION
'''


# Worked examples shown before each answer cell (values computed when the lesson is built).
EXAMPLE_SIGMOID = """
a = np.array([-1000.0, -1.0, 0.0, 2.0, 1000.0])
sigmoid(a)
sigmoid_grad(a)
sigmoid(a.astype(np.float32)).dtype.name
"""

EXAMPLE_TANH = """
a = np.array([-800.0, -0.5, 0.0, 0.5, 800.0])
tanh(a)
tanh_grad(a)
tanh(a.astype(np.float32)).dtype.name
"""

EXAMPLE_RELU = """
a = np.array([-2.0, 0.0, 3.0])
relu(a)
relu_grad(a)
a
"""

EXAMPLE_LEAKY_RELU = """
a = np.array([-2.0, 0.0, 3.0])
leaky_relu(a, k=0.1)
leaky_relu_grad(a, k=0.1)
leaky_relu(a)
"""

EXAMPLE_NEURON_FORWARD = """
X = np.array([[1.0, 2.0], [0.0, -1.0]])
w = np.array([0.5, -1.0])
neuron_forward(X, w, 0.25, nnkit.identity)
neuron_forward(X, w, 0.25, nnkit.sigmoid)
"""

EXAMPLE_LAYER_FORWARD = """
X = np.array([[1.0, 2.0], [0.0, -1.0]])
W = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]])
b = np.array([0.0, 0.5, 1.0])
layer_forward(X, W, b, nnkit.identity)
layer_forward(X, W, b, nnkit.relu)
"""

EXAMPLE_XOR_PARAMS = """
p = xor_params()
X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
np.maximum(X @ np.asarray(p["W"]).T + p["b"], 0) @ p["w"] + p["c"]
"""


def build():
    lesson = Lesson(LESSON)
    lesson.md(
        r"""
        # Lesson 01 — The artificial neuron

        A neural network is built from one small computation repeated many times. In this
        lesson you write that computation yourself: the **neuron**, the **activation functions**
        that make it non-linear, a **layer** of neurons, and finally a two-layer network that
        solves a problem no single neuron can solve (XOR).
        """
    )
    lesson.setup()
    lesson.md(
        r"""
        ## 1. One neuron

        A neuron receives an input vector $\mathbf{x} \in \mathbb{R}^D$, forms a weighted sum
        plus a bias — the **pre-activation** — and passes it through an **activation function**
        $g$:

        $$z(\mathbf{x}) = \mathbf{w}^\top \mathbf{x} + b, \qquad f(\mathbf{x}) = g(z(\mathbf{x})).$$

        The weights $\mathbf{w}$ say how much each input counts and in which direction, the bias
        $b$ shifts the point where the neuron "switches". Without $g$, stacking neurons would
        only ever produce another linear function: $W_2(W_1\mathbf{x} + \mathbf{b}_1) +
        \mathbf{b}_2$ is still of the form $W\mathbf{x} + \mathbf{b}$. The activation is what
        lets networks bend.

        ## 2. Activation functions

        | name | $g(a)$ | $g'(a)$ |
        |---|---|---|
        | linear | $a$ | $1$ |
        | sigmoid | $\sigma(a) = \dfrac{1}{1 + e^{-a}}$ | $\sigma(a)\,(1 - \sigma(a))$ |
        | tanh | $\dfrac{e^{a} - e^{-a}}{e^{a} + e^{-a}}$ | $1 - \tanh^2(a)$ |
        | hard tanh | $\max(-1, \min(1, a))$ | $1$ if $-1 < a < 1$, else $0$ |
        | softsign | $\dfrac{a}{1 + \lvert a\rvert}$ | $\dfrac{1}{(1 + \lvert a\rvert)^2}$ |
        | ReLU | $\max(0, a)$ | $1$ if $a > 0$, else $0$ |
        | leaky ReLU | $a$ if $a > 0$, else $k a$ | $1$ if $a > 0$, else $k$ |

        A few facts worth remembering:

        * The sigmoid squashes everything into $(0, 1)$ — handy for a probability — and its
          derivative is at most $1/4$ (at $a = 0$). Far from zero it is almost flat: the neuron
          **saturates** and passes back almost no gradient.
        * $\tanh(a) = 2\sigma(2a) - 1$ is a rescaled sigmoid centred at 0, with slope 1 at the
          origin.
        * ReLU is not differentiable at $0$; we use the convention $\mathrm{relu}'(0) = 0$ (and
          $k$ for leaky ReLU). Its slope is exactly 1 for positive inputs, so it does not
          saturate there, but a unit whose pre-activation is always negative never recovers
          ("dead ReLU"); the leaky variant keeps a small slope $k$ to avoid that.

        ### Computing the sigmoid without overflow

        In floating point, $e^{710}$ is already `inf` in float64 (and $e^{89}$ in float32).
        $1/(1 + e^{-a})$ is fine for $a \ge 0$ but computes $e^{1000}$ for $a = -1000$;
        the result happens to round to $0$, with an overflow warning on the way. The
        algebraically equal $e^{a}/(1 + e^{a})$ is worse: for $a = 1000$ it is
        $\infty/\infty$ = `nan`. The fix is to only ever exponentiate a *non-positive* number:

        $$\sigma(a) = \begin{cases} \dfrac{1}{1 + e^{-a}} & a \ge 0 \\[2mm]
        \dfrac{e^{a}}{1 + e^{a}} & a < 0 \end{cases}$$

        Both branches use $e^{-|a|} \le 1$. The same trick works for $\tanh$.

        The figure below draws the activations and their derivatives (using the course library
        `nnkit`, so it works before you write anything).
        """
    )
    lesson.code(
        """
        a = np.linspace(-4, 4, 401)
        curves = {
            "sigmoid": (nnkit.sigmoid(a), nnkit.sigmoid_grad(a)),
            "tanh": (nnkit.tanh(a), nnkit.tanh_grad(a)),
            "ReLU": (nnkit.relu(a), nnkit.relu_grad(a)),
            "leaky ReLU (k=0.1)": (nnkit.leaky_relu(a, 0.1), nnkit.leaky_relu_grad(a, 0.1)),
            "hard tanh": (np.clip(a, -1, 1), ((a > -1) & (a < 1)).astype(float)),
            "softsign": (a / (1 + np.abs(a)), 1 / (1 + np.abs(a)) ** 2),
        }
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for name, (value, slope) in curves.items():
            axes[0].plot(a, value, label=name)
            axes[1].plot(a, slope, label=name)
        axes[0].set_title("activation g(a)")
        axes[1].set_title("derivative g'(a)")
        for ax in axes:
            ax.axhline(0, color="grey", lw=0.5)
            ax.axvline(0, color="grey", lw=0.5)
            ax.set_xlabel("a")
        axes[0].legend(fontsize=8)
        plt.tight_layout()
        plt.show()
        """
    )
    lesson.md(
        r"""
        ### Your turn: sigmoid and its derivative

        Write `sigmoid` so that it never overflows (try your function on `a = [-1000, 0, 1000]`)
        and keeps float32 input as float32. Then write `sigmoid_grad` using
        $\sigma'(a) = \sigma(a)(1 - \sigma(a))$ — the derivative with respect to the
        pre-activation $a$.
        """
    )
    lesson.answer("sigmoid", SIGMOID, example=EXAMPLE_SIGMOID)
    lesson.tests("sigmoid")
    lesson.tests("sigmoid_grad")
    lesson.md(
        r"""
        ### tanh and its derivative

        `np.tanh` exists, but write it from exponentials to practise the stability trick:
        for $a \ge 0$, $\tanh(a) = \dfrac{1 - e^{-2a}}{1 + e^{-2a}}$, and
        $\tanh(-a) = -\tanh(a)$.
        """
    )
    lesson.answer("tanh", TANH, example=EXAMPLE_TANH)
    lesson.tests("tanh")
    lesson.tests("tanh_grad")
    lesson.md(
        r"""
        ### ReLU and leaky ReLU

        Keep the input untouched: `a[a < 0] = 0` changes the caller's array. Return a new
        array of the same dtype. Remember the convention at zero: `relu_grad(0) = 0` and
        `leaky_relu_grad(0, k) = k`.
        """
    )
    lesson.answer("relu", RELU, example=EXAMPLE_RELU)
    lesson.tests("relu")
    lesson.tests("relu_grad")
    lesson.answer("leaky_relu", LEAKY, example=EXAMPLE_LEAKY_RELU)
    lesson.tests("leaky_relu")
    lesson.tests("leaky_relu_grad")
    lesson.md(
        r"""
        ### Explore your activations

        The explorer below plots **your** `sigmoid` and `sigmoid_grad` (change `fn` and
        `grad_fn` to try the others). Move the sliders to see how scaling and shifting the
        input moves the curve and where the derivative is largest. If a function is still a
        stub, the explorer says so instead of drawing it.
        """
    )
    lesson.code(
        """
        from nnkit.widgets import activation_explorer

        activation_explorer(fn=sigmoid, grad_fn=sigmoid_grad)
        """
    )
    lesson.md(
        r"""
        ## 3. A neuron on a batch, and its decision boundary

        We store a batch of $N$ samples as the **rows** of a matrix $X$ of shape $(N, D)$.
        Then all pre-activations at once are $X\mathbf{w} + b$ (shape $(N,)$), and the neuron's
        outputs are $g(X\mathbf{w} + b)$.

        **Worked example.** With $X = \begin{pmatrix}1 & 2\\ 0 & -1\end{pmatrix}$,
        $\mathbf{w} = (0.5, -1)$, $b = 0.25$ and $g$ the identity:
        $z_1 = 0.5 - 2 + 0.25 = -1.25$ and $z_2 = 0 + 1 + 0.25 = 1.25$.

        A sigmoid neuron used as a classifier answers "class 1" when $\sigma(z) > 1/2$, i.e.
        when $z > 0$. Its **decision boundary** $\mathbf{w}^\top\mathbf{x} + b = 0$ is a
        straight line (a hyperplane in higher dimension); $\mathbf{w}$ is perpendicular to it
        and points towards class 1, and $|b| / \lVert\mathbf{w}\rVert$ is its distance to the
        origin.
        """
    )
    lesson.answer("neuron_forward", NEURON, example=EXAMPLE_NEURON_FORWARD)
    lesson.tests("neuron_forward")
    lesson.code(
        """
        # A sigmoid neuron's output over the plane and its decision boundary (nnkit's reference).
        w_demo, b_demo = np.array([1.5, -1.0]), 0.5
        g1, g2 = np.meshgrid(np.linspace(-3, 3, 200), np.linspace(-3, 3, 200))
        grid = np.c_[g1.ravel(), g2.ravel()]
        out = nnkit.neuron_forward(grid, w_demo, b_demo, nnkit.sigmoid).reshape(g1.shape)
        fig, ax = plt.subplots(figsize=(5, 4.5))
        im = ax.contourf(g1, g2, out, levels=20, cmap="RdBu_r")
        ax.contour(g1, g2, out, levels=[0.5], colors="k")
        ax.arrow(0, 0, *(w_demo / np.linalg.norm(w_demo)), width=0.04, color="k")
        ax.set_title("sigmoid neuron: output and boundary w·x + b = 0")
        ax.set_xlabel("$x_1$")
        ax.set_ylabel("$x_2$")
        fig.colorbar(im, ax=ax)
        plt.show()
        """
    )
    lesson.md(
        r"""
        ## 4. A layer of neurons

        Put $M$ neurons side by side, all reading the same input. Their weight vectors become
        the **rows** of a matrix $W$ of shape $(M, D)$ and their biases a vector
        $\mathbf{b} \in \mathbb{R}^M$. For one sample, $\mathbf{h} = g(W\mathbf{x} +
        \mathbf{b})$. For a batch whose samples are rows of $X$, transpose that equation:

        $$H = g(X W^\top + \mathbf{b}) \quad\text{shape } (N, M),$$

        where $\mathbf{b}$ is added to every row (NumPy broadcasting). This layout —
        $W$ is (out, in) — is the one PyTorch's `nn.Linear` uses too.
        """
    )
    lesson.answer("layer_forward", LAYER, example=EXAMPLE_LAYER_FORWARD)
    lesson.tests("layer_forward")
    lesson.md(
        r"""
        The neuron explorer lets you drag the weights and bias of a single neuron and watch its
        decision boundary move.
        """
    )
    lesson.code(
        """
        from nnkit.widgets import neuron_explorer

        neuron_explorer()
        """
    )
    lesson.md(
        r"""
        ## 5. XOR: what one layer cannot do

        XOR outputs 1 when exactly one of its two binary inputs is 1. Plot the four points:
        the two "1"s sit on one diagonal of the square, the two "0"s on the other. A single
        neuron separates the plane with **one straight line**, and no line puts $(0,1)$ and
        $(1,0)$ on one side and $(0,0)$, $(1,1)$ on the other: the two classes are not
        *linearly separable*. (Proof sketch: if $w_1 + b > 0$ and $w_2 + b > 0$ while
        $b \le 0$ and $w_1 + w_2 + b \le 0$, adding the first two gives
        $w_1 + w_2 + 2b > 0$, but the last two add up to $w_1 + w_2 + 2b \le 0$.)

        The figure tries many random lines and reports the best accuracy any of them reaches:
        3 out of 4.
        """
    )
    lesson.code(
        """
        X_xor = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
        y_xor = np.array([0, 1, 1, 0])
        rng = np.random.default_rng(0)
        lines = rng.normal(size=(5000, 3))  # (w1, w2, b)
        pred = (X_xor @ lines[:, :2].T + lines[:, 2] > 0).astype(int)  # (4, 5000)
        acc = (pred == y_xor[:, None]).mean(axis=0)
        print(f"best accuracy of 5000 random linear boundaries: {acc.max():.2f}")

        fig, ax = plt.subplots(figsize=(4.5, 4.5))
        xs = np.linspace(-0.5, 1.5, 2)
        for w1, w2, b in lines[np.argsort(-acc)[:6]]:
            ax.plot(xs, -(w1 * xs + b) / w2, color="grey", alpha=0.6)
        ax.scatter(*X_xor.T, c=y_xor, cmap="bwr", s=150, edgecolors="k", zorder=3)
        ax.set_xlim(-0.5, 1.5)
        ax.set_ylim(-0.5, 1.5)
        ax.set_xlabel("$x_1$")
        ax.set_ylabel("$x_2$")
        ax.set_title("XOR (red = 1, blue = 0): the best lines\\nstill get one point wrong")
        plt.show()
        """
    )
    lesson.md(
        r"""
        ### Two layers solve it

        A hidden layer maps the inputs to a new space where the classes *are* separable.
        With two ReLU units reading $s = x_1 + x_2$ — one computing $\mathrm{relu}(s)$ and one
        computing $\mathrm{relu}(s - 1)$ — the output $\mathrm{relu}(s) - 2\,\mathrm{relu}(s-1)$
        is 0, 1, 0 for $s = 0, 1, 2$. Write down weights that implement a network of the form

        $$f(\mathbf{x}) = \mathbf{w}^\top \mathrm{relu}(W\mathbf{x} + \mathbf{b}) + c$$

        and compute XOR exactly (any correct choice is accepted — there are many).
        """
    )
    lesson.answer(
        "xor_params",
        XOR,
        example=EXAMPLE_XOR_PARAMS,
        note=(
            "(Many weights are correct and yours need not be the reference's, but the four "
            "outputs must be these.)"
        ),
    )
    lesson.tests("xor_params")
    lesson.code(
        """
        # Your network's hidden representation of the four points (if xor_params works).
        try:
            p = xor_params()
            H = np.maximum(X_xor @ np.asarray(p["W"], float).T + p["b"], 0)
            out = H @ p["w"] + p["c"]
            fig, ax = plt.subplots(figsize=(4.5, 4.5))
            ax.scatter(*H.T, c=y_xor, cmap="bwr", s=150, edgecolors="k", zorder=3)
            labels = {}  # inputs that land on the same hidden point share one label
            for h, x, o in zip(H, X_xor, out):
                labels.setdefault(tuple(np.round(h, 6)), []).append(f"{x.astype(int)} → {o:.2f}")
            for (h1, h2), text in labels.items():
                ax.annotate("\\n".join(text), (h1, h2), textcoords="offset points", xytext=(8, 8))
            lo, hi = H.min(axis=0), H.max(axis=0)
            pad = 0.25 * np.maximum(hi - lo, 1.0)
            ax.set_xlim(lo[0] - pad[0], hi[0] + 2 * pad[0])
            ax.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
            w_out = np.asarray(p["w"], float)
            if w_out[1] != 0:  # where the output crosses 1/2: w1 h1 + w2 h2 + c = 0.5
                h1s = np.array(ax.get_xlim())
                ax.plot(h1s, (0.5 - p["c"] - w_out[0] * h1s) / w_out[1], "k--", lw=1,
                        label="output = 0.5")
                ax.set_xlim(*h1s)
                ax.legend(loc="lower right", fontsize=8)
            ax.set_xlabel("hidden unit 1")
            ax.set_ylabel("hidden unit 2")
            ax.set_title("in the hidden space, XOR is linearly separable")
            plt.show()
        except Exception as exc:
            print(f"xor_params is not ready yet ({type(exc).__name__}); come back after it passes.")
        """
    )
    lesson.md(
        r"""
        ## 6. How far can this go? Universal approximation

        In principle one hidden layer already suffices. Take a continuous function on a bounded
        region and any tolerance, however small: some network made of one hidden layer of
        sigmoid (or ReLU) units followed by a linear output unit stays within that tolerance
        everywhere on the region, as long as we may use as many hidden units as we like. Each
        ReLU contributes one "kink", and enough kinks can follow any curve. The theorem says
        nothing about how many units are needed (it can be astronomically many), nor about
        whether gradient descent will find the weights; in practice, deeper networks reach the
        same accuracy with far fewer units. Lessons 02 and 03 give you the loss and the
        gradients needed to *learn* such weights instead of writing them by hand.
        """
    )
    lesson.self_check()
    return lesson.notebook()

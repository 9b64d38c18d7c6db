"""Lesson 03_backprop: chain rule, modular forward/backward, gradient checking, training."""

from __future__ import annotations

from .nb import Lesson

LESSON = "03_backprop"

LINEAR = '''
def linear_forward(x, W, b):
    """Forward pass of a dense layer: out = x @ W.T + b.

    Does not modify ``x``, ``W`` or ``b``; float32 inputs give a float32 ``out``.

    Parameters
    ----------
    x : ndarray, shape (N, D)
    W : ndarray, shape (M, D)
    b : ndarray, shape (M,)

    Returns
    -------
    out : ndarray, shape (N, M)
    cache : anything you need in linear_backward (e.g. the tuple (x, W, b))
    """
    ### BEGIN SOLUTION
    out = x @ W.T + b
    return out, (x, W, b)
    ### END SOLUTION


def linear_backward(dout, cache):
    """Backward pass of a dense layer.

    Does not modify ``dout`` or the arrays in ``cache``; float32 inputs give float32
    gradients.

    Parameters
    ----------
    dout : ndarray, shape (N, M)
        Gradient of the loss with respect to ``out``.
    cache : what linear_forward returned

    Returns
    -------
    dx : ndarray, shape (N, D)
    dW : ndarray, shape (M, D)
    db : ndarray, shape (M,)
    """
    ### BEGIN SOLUTION
    x, W, b = cache
    return dout @ W, dout.T @ x, dout.sum(axis=0)
    ### END SOLUTION
'''

RELU = '''
def relu_forward(x):
    """Forward pass of ReLU: out = max(x, 0), elementwise.

    Does not modify ``x``; float32 input gives a float32 ``out``.

    Parameters
    ----------
    x : ndarray, any shape

    Returns
    -------
    out : ndarray, same shape as ``x``
    cache : anything you need in relu_backward
    """
    ### BEGIN SOLUTION
    return np.maximum(x, 0), x
    ### END SOLUTION


def relu_backward(dout, cache):
    """Backward pass of ReLU: dx = dout where x > 0, else 0.

    Does not modify ``dout`` or the arrays in ``cache``; float32 inputs give a float32 ``dx``
    (``dout * (x > 0)`` keeps the dtype; a mask made with ``.astype(float)`` is float64 and
    turns the product into float64).

    Parameters
    ----------
    dout : ndarray, same shape as x
    cache : what relu_forward returned

    Returns
    -------
    dx : ndarray, same shape as x
    """
    ### BEGIN SOLUTION
    x = cache
    return dout * (x > 0)
    ### END SOLUTION
'''

NUMGRAD = '''
def numerical_gradient(f, x, h=1e-5):
    """Gradient of a scalar function by centred differences.

    For every entry i of x: (f(x + h e_i) - f(x - h e_i)) / (2h).

    Parameters
    ----------
    f : callable
        f(x) returns a float.
    x : ndarray of floats, any shape
        The point; it may be changed temporarily but must hold its original values on return.
    h : float

    Returns
    -------
    ndarray, same shape as ``x``
    """
    ### BEGIN SOLUTION
    grad = np.zeros(x.shape, dtype=np.float64)
    for idx in np.ndindex(*x.shape):
        old = x[idx]
        x[idx] = old + h
        f_plus = f(x)
        x[idx] = old - h
        f_minus = f(x)
        x[idx] = old
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad
    ### END SOLUTION
'''

MLP = '''
def mlp_loss(params, X, y, reg=0.0):
    """Loss and gradients of a one-hidden-layer ReLU network with a softmax output.

    Does not modify ``params`` (nor its arrays) or ``X``.

    scores = relu(X @ W1.T + b1) @ W2.T + b2
    loss   = mean softmax cross-entropy(scores, y) + reg * (sum(W1**2) + sum(W2**2))

    Parameters
    ----------
    params : dict
        "W1" (H, D), "b1" (H,), "W2" (K, H), "b2" (K,)
    X : ndarray, shape (N, D)
    y : ndarray of int, shape (N,)
    reg : float
        L2 strength on the weights (not the biases).

    Returns
    -------
    loss : float
    grads : dict with the same keys and shapes as ``params``
    """
    ### BEGIN SOLUTION
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    z1 = X @ W1.T + b1
    h = np.maximum(z1, 0)
    scores = h @ W2.T + b2
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = X.shape[0]
    loss = -log_probs[np.arange(n), y].mean() + reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
    dscores = np.exp(log_probs)
    dscores[np.arange(n), y] -= 1
    dscores /= n
    dh = dscores @ W2
    dz1 = dh * (z1 > 0)
    grads = {
        "W1": dz1.T @ X + 2 * reg * W1,
        "b1": dz1.sum(axis=0),
        "W2": dscores.T @ h + 2 * reg * W2,
        "b2": dscores.sum(axis=0),
    }
    return float(loss), grads
    ### END SOLUTION
'''

TRAIN = '''
def train_mlp(X, y, hidden=64, lr=0.5, epochs=300, batch_size=32, rng=None):
    """Train a one-hidden-layer network with mini-batch stochastic gradient descent.

    Does not modify ``X`` or ``y``.

    Parameters
    ----------
    X : ndarray, shape (N, D)
    y : ndarray of int, shape (N,)
    hidden : int
        Number of hidden units H.
    lr : float
        Learning rate.
    epochs : int
        Passes over the data set; each pass visits the samples in a new random order.
    batch_size : int
    rng : numpy.random.Generator, int or None
        The only source of randomness (initialisation and shuffling).

    Returns
    -------
    params : dict "W1" (H, D), "b1" (H,), "W2" (K, H), "b2" (K,)
    """
    rng = np.random.default_rng(rng)
    n, d = X.shape
    k = int(y.max()) + 1
    params = {
        "W1": rng.normal(0.0, np.sqrt(2.0 / d), size=(hidden, d)),
        "b1": np.zeros(hidden),
        "W2": rng.normal(0.0, np.sqrt(1.0 / hidden), size=(k, hidden)),
        "b2": np.zeros(k),
    }
    # Loop over epochs and shuffled mini-batches; compute the gradients with
    # nnkit.mlp_loss(params, X_batch, y_batch, reg=1e-4) (the reference, so that a bug in your
    # mlp_loss above does not stop this part) and update every parameter.
    ### BEGIN SOLUTION
    for _ in range(epochs):
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            _, grads = nnkit.mlp_loss(params, X[idx], y[idx], reg=1e-4)
            for key in params:
                params[key] = params[key] - lr * grads[key]
    ### END SOLUTION
    return params
'''

GRAPH_FIGURE = r"""
# The computational graph of one sigmoid neuron, f = sigmoid(w * x + b), with
# forward values (green, above the edges) and backward gradients df/d(.) (red, below).
w_val, x_val, b_val = 2.0, -1.0, 3.0
p = w_val * x_val                  # product node
a = p + b_val                      # sum node
f = float(nnkit.sigmoid(a))        # sigmoid node
df_da = f * (1 - f)                # local derivative of the sigmoid
grads = {"f": 1.0, "a": df_da, "p": df_da, "b": df_da, "w": df_da * x_val, "x": df_da * w_val}
values = {"w": w_val, "x": x_val, "b": b_val, "p": p, "a": a, "f": f}
pos = {"w": (0, 2.6), "x": (0, 0.2), "b": (2.0, -0.8), "p": (2.0, 1.4),
       "a": (3.8, 0.8), "f": (5.6, 0.8)}
labels = {"w": "w", "x": "x", "b": "b", "p": "×", "a": "+", "f": "σ"}
edges = [("w", "p"), ("x", "p"), ("p", "a"), ("b", "a"), ("a", "f")]
fig, ax = plt.subplots(figsize=(9, 4.6))
for src, dst in edges:
    (x0, y0), (x1, y1) = pos[src], pos[dst]
    ax.annotate("", xy=(x1 - 0.25, y1), xytext=(x0 + 0.25, y0),
                arrowprops=dict(arrowstyle="->", color="grey"))
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    ax.text(mx, my + 0.17, f"{values[src]:.3g}", color="tab:green", ha="center", fontsize=11)
    ax.text(mx, my - 0.3, f"{grads[src]:.3g}", color="tab:red", ha="center", fontsize=11)
for node, (px, py) in pos.items():
    ax.add_patch(plt.Circle((px, py), 0.25, fc="white", ec="k", zorder=3))
    ax.text(px, py, labels[node], ha="center", va="center", fontsize=13, zorder=4)
ax.annotate("", xy=(6.8, 0.8), xytext=(5.85, 0.8), arrowprops=dict(arrowstyle="->", color="grey"))
ax.text(6.3, 0.97, f"{f:.3g}", color="tab:green", ha="center", fontsize=11)
ax.text(6.3, 0.5, "1", color="tab:red", ha="center", fontsize=11)
ax.set_xlim(-0.6, 7.0)
ax.set_ylim(-1.3, 3.1)
ax.set_aspect("equal")
ax.axis("off")
ax.set_title("forward values (green) and gradients df/d(·) (red)")
plt.show()
"""


# Worked examples shown before each answer cell (values computed when the lesson is built).
EXAMPLE_LINEAR_FORWARD = """
x = np.array([[1.0, 2.0]])
W = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]])
b = np.array([0.0, 0.5, 1.0])
out, cache = linear_forward(x, W, b)
out
dx, dW, db = linear_backward(np.array([[1.0, -1.0, 0.5]]), cache)
dx
dW
db
"""

EXAMPLE_RELU_FORWARD = """
x = np.array([[-1.0, 0.0, 2.0], [3.0, -0.5, 1.0]])
out, cache = relu_forward(x)
out
dout = np.array([[5.0, 5.0, 5.0], [1.0, 2.0, 3.0]])
relu_backward(dout, cache)
x32 = x.astype(np.float32)
relu_backward(dout.astype(np.float32), relu_forward(x32)[1]).dtype.name
"""

EXAMPLE_NUMERICAL_GRADIENT = """
def f(x):
    return np.sum(x**3)


x = np.array([[1.0, -2.0], [0.5, 3.0]])
numerical_gradient(f, x, h=0.1)
x
"""

EXAMPLE_MLP_LOSS = """
params = {
    "W1": np.array([[1.0, -1.0], [0.5, 0.5]]),
    "b1": np.array([0.0, 0.1]),
    "W2": np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]),
    "b2": np.array([0.0, 0.0, -1.0]),
}
X = np.array([[1.0, 2.0], [0.5, -1.0]])
y = np.array([0, 2])
loss, grads = mlp_loss(params, X, y, reg=0.1)
loss
grads["W1"]
grads["b1"]
grads["W2"]
grads["b2"]
"""

EXAMPLE_TRAIN_MLP = """
X, y = nnkit.make_spirals(rng=0)
params = train_mlp(X, y, rng=0)
{name: value.shape for name, value in params.items()}
scores = np.maximum(X @ params["W1"].T + params["b1"], 0) @ params["W2"].T + params["b2"]
np.mean(scores.argmax(axis=1) == y)
"""


def build():
    lesson = Lesson(LESSON)
    lesson.md(
        r"""
        # Lesson 03 — Backpropagation

        To train a network we need the gradient of the loss with respect to every parameter.
        **Backpropagation** computes all of them in one backward sweep, which costs only a small
        multiple (about two) of one forward pass, by applying the chain rule node by node on
        the network's computational graph. You will write the forward and backward pass of the
        two layers a fully connected network is made of, a numerical gradient to check them,
        the loss and
        gradients of a one-hidden-layer network, and a training loop that learns to classify
        spirals.
        """
    )
    lesson.setup()
    lesson.md(
        r"""
        ## 1. The chain rule on a computational graph

        Any computation can be drawn as a graph of simple operations. If $f$ depends on $a$
        and $a$ on $w$, then $\frac{\partial f}{\partial w} = \frac{\partial f}{\partial a}
        \frac{\partial a}{\partial w}$. Backpropagation applies this locally: going backwards
        from the output (where $\partial f / \partial f = 1$), each node multiplies the
        gradient arriving from above — its **upstream gradient** — by its own **local
        derivative** and passes the result to its inputs. When a value feeds several nodes,
        the gradients coming back from them are **added**.

        Three local rules cover most graphs:

        * **sum** $a = p + b$: passes the upstream gradient unchanged to both inputs;
        * **product** $p = w x$: sends to $w$ the upstream gradient times $x$, and to $x$ the
          upstream gradient times $w$ (it "swaps" the inputs);
        * **sigmoid** $f = \sigma(a)$: multiplies by $\sigma(a)(1 - \sigma(a))$.

        Below: one sigmoid neuron with $w = 2$, $x = -1$, $b = 3$. Forward: $p = -2$, $a = 1$,
        $f = \sigma(1) = 0.731$. Backward: $\partial f/\partial a = 0.731 \cdot 0.269 = 0.197$,
        which flows unchanged to $b$ and $p$; then $\partial f/\partial w = 0.197 \cdot x
        = -0.197$ and $\partial f/\partial x = 0.197 \cdot w = 0.393$.
        """
    )
    lesson.code(GRAPH_FIGURE)
    lesson.md(
        r"""
        ## 2. Layers as forward/backward pairs

        We organise the graph into **layers**. Each layer has a `forward` that computes its
        output and keeps a `cache` of what the backward pass will need, and a `backward` that
        receives `dout` $= \partial L / \partial\,\mathrm{out}$ and returns the gradients with
        respect to its inputs and parameters. A network's backward pass then just calls the
        layers' backward functions in reverse order.

        **Dense layer** $\mathrm{out} = x W^\top + b$ with $x$ of shape $(N, D)$, $W$ of shape
        $(M, D)$. Element by element, $\mathrm{out}_{nm} = \sum_d x_{nd} W_{md} + b_m$, so

        $$\frac{\partial L}{\partial x} = \mathrm{dout}\, W \;(N, D), \qquad
        \frac{\partial L}{\partial W} = \mathrm{dout}^\top x \;(M, D), \qquad
        \frac{\partial L}{\partial b} = \sum_n \mathrm{dout}_{n\cdot} \;(M,).$$

        A shape check catches most mistakes: each gradient has the shape of the thing it is
        the gradient of. The bias is used by every sample, so its gradient is a **sum** over
        the batch (not a mean: `dout` already carries the $1/N$ of a mean loss).
        """
    )
    lesson.answer("linear_forward", LINEAR, example=EXAMPLE_LINEAR_FORWARD)
    lesson.tests("linear_forward")
    lesson.tests("linear_backward")
    lesson.md(
        r"""
        **ReLU layer.** $\mathrm{out} = \max(x, 0)$ elementwise; the local derivative is
        $1$ where $x > 0$ and $0$ elsewhere (including $x = 0$ by our convention), so
        $\partial L/\partial x = \mathrm{dout} \odot [x > 0]$.
        """
    )
    lesson.answer("relu_forward", RELU, example=EXAMPLE_RELU_FORWARD)
    lesson.tests("relu_forward")
    lesson.tests("relu_backward")
    lesson.md(
        r"""
        ## 3. Gradient checking

        Analytic gradients are easy to get subtly wrong. The derivative is a limit, so we can
        estimate it: the **centred difference**

        $$\frac{\partial f}{\partial x_i} \approx \frac{f(x + h e_i) - f(x - h e_i)}{2h}$$

        has an error of order $h^2$ (the one-sided $(f(x + h e_i) - f(x))/h$ only of order
        $h$). With $h = 10^{-5}$ in float64 the two sources of error — truncation $\sim h^2$
        and rounding $\sim 10^{-16}\,|f|/h$ — are both tiny, but not zero: about $10^{-11}$
        on every entry, however small the entry. We compare analytic and numerical gradients
        with the **relative error**

        $$\mathrm{rel}(a, n) = \max_i \frac{|a_i - n_i|}{\max(10^{-8}, |a_i| + |n_i|)},$$

        which on a small, well-scaled problem is about $10^{-7}$ or less when the gradient is
        right and $10^{-2}$ or more when it is not. In a whole network some entries of a
        gradient are tiny ($10^{-7}$ next to $10^{-1}$), and there the rounding alone makes
        this ratio large. So `nnkit.check_layer` and `nnkit.check_model` judge each gradient
        array as a whole: its largest $|a_i - n_i|$ divided by its largest $|a_i| + |n_i|$ —
        or by the rounding noise $100 \cdot 2.2 \times 10^{-16}\,|L|/h$ over the threshold,
        if that is larger — must stay below $10^{-7}$; a correct backward pass gives about
        $10^{-10}$. Every entry costs two evaluations of $f$, so for a large array they take
        100 entries at random (seeded), plus 4 random directions $v$ that test all entries at
        once by comparing $(f(x + hv) - f(x - hv))/2h$ with $\langle a, v\rangle$. An entry
        that disagrees is measured again with steps $h/10$ and $h/100$: a difference that
        straddles a ReLU's kink is wrong only while its step crosses the kink, a wrong
        gradient at every step. Gradient checks test the code; they never train it.

        Write `numerical_gradient`. It may change `x[i]` temporarily (so that a function
        reading a shared array sees the change) but must put back the original value.
        """
    )
    lesson.answer(
        "numerical_gradient",
        NUMGRAD,
        example=EXAMPLE_NUMERICAL_GRADIENT,
        note=(
            "(For f(x) = Σ x³ the centred difference is exactly 3x² + h², here 3x² + 0.01; and "
            "`x` holds its original values afterwards.)"
        ),
    )
    lesson.tests("numerical_gradient")
    lesson.code(
        """
        # Gradient check of the dense layer's backward pass (nnkit's references), and of a
        # deliberately wrong db that averages dout over the batch instead of summing it.
        rng = np.random.default_rng(0)
        x, W, b = rng.normal(size=(4, 3)), rng.normal(size=(2, 3)), rng.normal(size=2)
        dout = rng.normal(size=(4, 2))
        out, cache = nnkit.linear_forward(x, W, b)
        dx, dW, db = nnkit.linear_backward(dout, cache)

        def loss_of_b(bb):
            return np.sum(nnkit.linear_forward(x, W, bb)[0] * dout)

        def loss_of_W(WW):
            return np.sum(nnkit.linear_forward(x, WW, b)[0] * dout)

        num_db = nnkit.numerical_gradient(loss_of_b, b.copy())
        num_dW = nnkit.numerical_gradient(loss_of_W, W.copy())
        print("rel error dW:", nnkit.gradcheck.rel_error(dW, num_dW))
        print("rel error db:", nnkit.gradcheck.rel_error(db, num_db))
        wrong_db = dout.mean(axis=0)
        print("rel error of db = mean instead of sum:", nnkit.gradcheck.rel_error(wrong_db, num_db))
        try:
            print("diagnosis:", nnkit.gradcheck.diagnose(wrong_db, num_db))
        except Exception as exc:
            print("(diagnose unavailable:", type(exc).__name__, ")")
        """
    )
    lesson.md(
        r"""
        ## 4. A one-hidden-layer network

        Chain the layers: $z_1 = X W_1^\top + b_1$, $h = \mathrm{relu}(z_1)$,
        $s = h W_2^\top + b_2$, and the loss is the softmax cross-entropy of the scores $s$
        plus an L2 penalty on the weights,

        $$L = \frac{1}{N}\sum_n -\log\mathrm{softmax}(s_n)_{y_n} + \lambda\bigl(\lVert W_1
        \rVert^2 + \lVert W_2\rVert^2\bigr).$$

        Backward, in reverse order: $\partial L/\partial s = (\mathrm{softmax}(s) -
        \mathrm{onehot}(y))/N$ (lesson 02); through the second dense layer to $W_2$, $b_2$ and
        $h$; through the ReLU to $z_1$; through the first dense layer to $W_1$, $b_1$. The
        penalty adds $2\lambda W$ to each weight gradient (and nothing to the biases).

        You may write it in one piece or combine `linear_forward`, `relu_forward`, ... and
        their backward passes (yours, or `nnkit`'s, which are the same functions).
        """
    )
    lesson.answer("mlp_loss", MLP, example=EXAMPLE_MLP_LOSS)
    lesson.tests("mlp_loss")
    lesson.md(
        r"""
        ## 5. Training on spirals

        **Stochastic gradient descent** repeats: take a small random **mini-batch** of
        samples, compute the loss gradient on it, and step every parameter against the
        gradient, $\theta \leftarrow \theta - \eta\,\nabla_\theta L$. One **epoch** is a pass
        over the whole (shuffled) data set. Mini-batches make each step cheap and the noise
        they add even helps to escape poor regions.

        The data set: three interleaved spirals in the plane — not linearly separable, so a
        linear classifier reaches about 50 %, while a hidden layer can bend the boundaries
        around the arms. The initialisation and the signature are given; write the loop.
        """
    )
    lesson.answer(
        "train_mlp",
        TRAIN,
        example=EXAMPLE_TRAIN_MLP,
        note=(
            "(Training is random: your accuracy may differ a little; the check asks for at least "
            "0.9.)"
        ),
    )
    lesson.tests("train_mlp")
    lesson.code(
        """
        # The network trained by nnkit's reference on the spirals, and its decision regions.
        from nnkit.plots import plot_decision_boundary

        X_sp, y_sp = nnkit.make_spirals(rng=0)
        settings = dict(hidden=64, lr=0.5, epochs=300, batch_size=32, rng=0)
        params_ref = nnkit.train_mlp(X_sp, y_sp, **settings)

        def predict_ref(X):
            h = np.maximum(X @ params_ref["W1"].T + params_ref["b1"], 0)
            return np.argmax(h @ params_ref["W2"].T + params_ref["b2"], axis=1)

        print(f"training accuracy: {np.mean(predict_ref(X_sp) == y_sp):.1%}")
        fig, ax = plt.subplots(figsize=(5, 5))
        plot_decision_boundary(predict_ref, X_sp, y_sp, ax=ax)
        ax.set_title("one hidden layer (64 ReLU units) on spirals")
        plt.show()
        """
    )
    lesson.code(
        """
        # Your train_mlp on the same data, if it is ready.
        try:
            params_yours = train_mlp(X_sp, y_sp, **settings)

            def predict_yours(X):
                h = np.maximum(X @ params_yours["W1"].T + params_yours["b1"], 0)
                return np.argmax(h @ params_yours["W2"].T + params_yours["b2"], axis=1)

            print(f"your training accuracy: {np.mean(predict_yours(X_sp) == y_sp):.1%}")
            fig, ax = plt.subplots(figsize=(5, 5))
            plot_decision_boundary(predict_yours, X_sp, y_sp, ax=ax)
            ax.set_title("your network")
            plt.show()
        except Exception as exc:
            print(f"train_mlp is not ready yet ({type(exc).__name__}).")
        """
    )
    lesson.self_check()
    return lesson.notebook()

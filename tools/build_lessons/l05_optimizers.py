"""Lesson 05_optimizers: SGD and its descendants, learning-rate schedules."""

from __future__ import annotations

from .nb import Lesson

LESSON = "05_optimizers"

SGD = '''
def sgd_step(w, dw, state, lr=0.01):
    """Plain gradient descent: w_new = w - lr * dw.

    Parameters
    ----------
    w : ndarray, any shape (do not modify it in place)
    dw : ndarray, same shape: the gradient at w
    state : anything (None on the first call); plain SGD needs none
    lr : float

    Returns
    -------
    (new_w, state)
    """
    ### BEGIN SOLUTION
    return w - lr * dw, state
    ### END SOLUTION


def momentum_step(w, dw, state, lr=0.01, momentum=0.9):
    """SGD with momentum, as torch.optim.SGD(momentum=...): b = mu b + g; w_new = w - lr b.

    On the first call (state None) the buffer starts as b = g. Return the buffer (or anything
    equivalent) as the new state. Returns (new_w, state), new_w of the shape of w; does not
    modify w, dw or the incoming state (as every step function here).
    """
    ### BEGIN SOLUTION
    buf = dw.copy() if state is None else momentum * state + dw
    return w - lr * buf, buf
    ### END SOLUTION


def nesterov_step(w, dw, state, lr=0.01, momentum=0.9):
    """Nesterov momentum, as torch.optim.SGD(momentum=..., nesterov=True):
    b = mu b + g; w_new = w - lr (g + mu b)  (b = g on the first call).

    Returns (new_w, state), new_w of the shape of w; does not modify w, dw or the incoming
    state.
    """
    ### BEGIN SOLUTION
    buf = dw.copy() if state is None else momentum * state + dw
    return w - lr * (dw + momentum * buf), buf
    ### END SOLUTION
'''

ADAGRAD = '''
def adagrad_step(w, dw, state, lr=0.01, eps=1e-10):
    """Adagrad: r = r + g²; w_new = w - lr g / (sqrt(r) + eps), with r = 0 before the first call.

    Returns (new_w, state), new_w of the shape of w; does not modify w, dw or the incoming
    state.
    """
    ### BEGIN SOLUTION
    r = dw * dw if state is None else state + dw * dw
    return w - lr * dw / (np.sqrt(r) + eps), r
    ### END SOLUTION


def rmsprop_step(w, dw, state, lr=0.01, alpha=0.99, eps=1e-8):
    """RMSprop: r = alpha r + (1 - alpha) g²; w_new = w - lr g / (sqrt(r) + eps), r = 0 at first.

    Returns (new_w, state), new_w of the shape of w; does not modify w, dw or the incoming
    state.
    """
    ### BEGIN SOLUTION
    r = (1 - alpha) * dw * dw if state is None else alpha * state + (1 - alpha) * dw * dw
    return w - lr * dw / (np.sqrt(r) + eps), r
    ### END SOLUTION
'''

ADAM = '''
def adam_step(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """Adam with bias correction, as torch.optim.Adam.

    t = t + 1 (so t = 1 on the first step); m = beta1 m + (1 - beta1) g;
    v = beta2 v + (1 - beta2) g²; m_hat = m / (1 - beta1**t); v_hat = v / (1 - beta2**t);
    w_new = w - lr m_hat / (sqrt(v_hat) + eps).  m = v = 0 and t = 0 before the first call.

    Returns (new_w, state), new_w of the shape of w; does not modify w, dw or the incoming
    state.
    """
    ### BEGIN SOLUTION
    if state is None:
        state = {"m": np.zeros_like(dw), "v": np.zeros_like(dw), "t": 0}
    t = state["t"] + 1
    m = beta1 * state["m"] + (1 - beta1) * dw
    v = beta2 * state["v"] + (1 - beta2) * dw * dw
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), {"m": m, "v": v, "t": t}
    ### END SOLUTION
'''

SCHEDULES = '''
def step_decay(lr0, epoch, drop=0.5, every=10):
    """lr0 * drop ** (epoch // every)."""
    ### BEGIN SOLUTION
    return lr0 * drop ** (epoch // every)
    ### END SOLUTION


def exponential_decay(lr0, t, k):
    """lr0 * exp(-k t)."""
    ### BEGIN SOLUTION
    return lr0 * np.exp(-k * t)
    ### END SOLUTION


def inverse_time_decay(lr0, t, tau):
    """lr0 * tau / max(t, tau): constant until t = tau, then decaying like 1/t."""
    ### BEGIN SOLUTION
    return lr0 * tau / max(t, tau)
    ### END SOLUTION
'''

SURFACES = """
# Three 2-D surfaces: an ill-conditioned valley, a saddle, and Rosenbrock's banana.
from nnkit.plots import plot_trajectories

def valley(p):  return 0.5 * (p[..., 0] ** 2 + 20 * p[..., 1] ** 2)
def valley_grad(w):  return np.array([w[0], 20 * w[1]])
def saddle(p):  return 0.5 * (p[..., 0] ** 2 - 0.5 * p[..., 1] ** 2)
def saddle_grad(w):  return np.array([w[0], -0.5 * w[1]])
def rosen(p):  return (1 - p[..., 0]) ** 2 + 100 * (p[..., 1] - p[..., 0] ** 2) ** 2
def rosen_grad(w):
    x, y = w
    return np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])


def run(step, grad, w0, steps, **hp):
    w, state, path = np.array(w0, float), None, [np.array(w0, float)]
    for _ in range(steps):
        w, state = step(w, grad(w), state, **hp)
        path.append(w)
    return np.array(path)


# SGD's sensitivity to the learning rate on the valley (stable only for lr < 2 / 20 = 0.1).
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
paths = {f"lr = {lr}": run(nnkit.sgd_step, valley_grad, [-1.8, 0.8], 40, lr=lr)
         for lr in (0.01, 0.05, 0.09, 0.101)}
plot_trajectories(valley, paths, ax=axes[0], xlim=(-2, 2), ylim=(-1.2, 1.2))
axes[0].set_title("SGD on ½(x² + 20y²), 40 steps")
for name, path in paths.items():
    axes[1].semilogy([valley(p) for p in path], label=name)
axes[1].set_xlabel("step")
axes[1].set_ylabel("loss")
axes[1].legend()
plt.tight_layout()
plt.show()
"""

TRAJECTORIES = """
# Every optimizer (nnkit's references) on the three surfaces, gradients at the current point.
optimizers = {
    "SGD": (nnkit.sgd_step, {}),
    "momentum": (nnkit.momentum_step, {"momentum": 0.9}),
    "Nesterov": (nnkit.nesterov_step, {"momentum": 0.9}),
    "Adagrad": (nnkit.adagrad_step, {}),
    "RMSprop": (nnkit.rmsprop_step, {}),
    "Adam": (nnkit.adam_step, {}),
}
lrs = {
    "valley": {"SGD": 0.04, "momentum": 0.01, "Nesterov": 0.01, "Adagrad": 0.4, "RMSprop": 0.02,
               "Adam": 0.1},
    "saddle": {"SGD": 0.1, "momentum": 0.02, "Nesterov": 0.02, "Adagrad": 0.3, "RMSprop": 0.02,
               "Adam": 0.05},
    "Rosenbrock": {"SGD": 1e-3, "momentum": 2e-4, "Nesterov": 2e-4, "Adagrad": 0.3, "RMSprop": 0.01,
              "Adam": 0.05},
}
settings = [("valley", valley, valley_grad, [-1.8, 0.8], 100, (-2, 2), (-1.2, 1.2), False),
            ("saddle", saddle, saddle_grad, [-1.8, 0.01], 100, (-2, 2), (-2, 2), False),
            ("Rosenbrock", rosen, rosen_grad, [-1.2, 1.0], 400, (-1.6, 1.6), (-0.6, 1.8), True)]
fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
for ax, (name, f, g, w0, steps, xl, yl, log) in zip(axes, settings):
    paths = {k: run(step, g, w0, steps, lr=lrs[name][k], **hp)
             for k, (step, hp) in optimizers.items()}
    plot_trajectories(f, paths, ax=ax, xlim=xl, ylim=yl, log_levels=log)
    target = (1.0, 1.0) if name == "Rosenbrock" else (0.0, 0.0)
    ax.plot(*target, "k*", ms=13, label="saddle point" if name == "saddle" else "minimum")
    ax.set_title(f"{name}, {steps} steps")
    ax.legend(fontsize=7)
plt.tight_layout()
plt.show()
"""

VELOCITY = """
# The slides' velocity form v = μv − ηg; θ ← θ + v gives the same trajectory as torch's
# buffer form b = μb + g; θ ← θ − ηb (v = −ηb while η is constant).
def velocity_step(w, dw, v, lr=0.01, momentum=0.9):
    v = -lr * dw if v is None else momentum * v - lr * dw
    return w + v, v

a = run(velocity_step, rosen_grad, [-1.2, 1.0], 200, lr=2e-4)
b = run(nnkit.momentum_step, rosen_grad, [-1.2, 1.0], 200, lr=2e-4)
print("momentum, largest difference between the two trajectories:", np.abs(a - b).max())

# Nesterov as in the slides (gradient at the look-ahead point theta + mu v), against torch's
# form, whose stored parameters are that look-ahead point.
lr, mu = 2e-4, 0.9
theta, v = np.array([-1.2, 1.0]), np.zeros(2)
look_ahead = [theta + mu * v]
for _ in range(200):
    v = mu * v - lr * rosen_grad(theta + mu * v)
    theta = theta + v
    look_ahead.append(theta + mu * v)
c = run(nnkit.nesterov_step, rosen_grad, [-1.2, 1.0], 200, lr=lr, momentum=mu)
print("Nesterov, largest difference from the look-ahead points:",
      np.abs(np.array(look_ahead) - c).max())
"""

BIAS = """
# Adam's bias correction: m and v start at 0, so early averages are too small: m ≈ 0.1 g but
# v ≈ 0.001 g², and v sits under a square root in the denominator. Without the correction the
# first steps are about 0.1 / sqrt(0.001) ≈ 3 times too long; with it they are ≈ lr per coordinate.
def adam_no_correction(w, dw, s, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m, v = (0 * dw, 0 * dw) if s is None else s
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw * dw
    return w - lr * m / (np.sqrt(v) + eps), (m, v)

with_c = run(nnkit.adam_step, valley_grad, [-1.8, 0.8], 60, lr=0.1)
without = run(adam_no_correction, valley_grad, [-1.8, 0.8], 60, lr=0.1)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
axes[0].plot(np.linalg.norm(np.diff(with_c, axis=0), axis=1), label="with bias correction")
axes[0].plot(np.linalg.norm(np.diff(without, axis=0), axis=1), label="without")
axes[0].set_xlabel("step")
axes[0].set_ylabel("step length")
axes[0].legend()
axes[1].semilogy([valley(p) for p in with_c], label="with bias correction")
axes[1].semilogy([valley(p) for p in without], label="without")
axes[1].set_xlabel("step")
axes[1].set_ylabel("loss")
axes[1].legend()
plt.tight_layout()
plt.show()
"""

REAL = """
# Loss curves on a real problem: an MLP on scikit-learn's 8×8 digits, same initialisation,
# each optimizer with a reasonable learning rate (nnkit's layers, optimizers and fit loop).
from nnkit import Linear, ReLU, Sequential, SoftmaxCrossEntropy, fit

X_dig, y_dig = nnkit.load_digits(rng=0)
X_dig = X_dig[:1000]
y_dig = y_dig[:1000]
X_dig = (X_dig - X_dig.mean(0)) / (X_dig.std(0) + 1e-8)
curves = {}
for name, make in {
    "SGD lr=0.05": lambda ps: nnkit.SGD(ps, lr=0.05),
    "momentum 0.9": lambda ps: nnkit.SGD(ps, lr=0.05, momentum=0.9),
    "Nesterov 0.9": lambda ps: nnkit.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
    "Adagrad lr=0.05": lambda ps: nnkit.Adagrad(ps, lr=0.05),
    "RMSprop lr=1e-3": lambda ps: nnkit.RMSprop(ps, lr=1e-3),
    "Adam lr=1e-3": lambda ps: nnkit.Adam(ps, lr=1e-3),
}.items():
    model = Sequential(Linear(64, 64, rng=0), ReLU(), Linear(64, 10, rng=1))
    hist = fit(model, SoftmaxCrossEntropy(), make(model.parameters()), X_dig, y_dig,
               epochs=15, batch_size=32, rng=0, progress=False)
    curves[name] = hist.train_loss
fig, ax = plt.subplots(figsize=(6, 4))
for name, losses in curves.items():
    ax.semilogy(range(1, len(losses) + 1), losses, label=name)
ax.set_xlabel("epoch")
ax.set_ylabel("training loss")
ax.set_title("digits, 64-64-10 MLP")
ax.legend(fontsize=8)
plt.show()
"""

SCHEDULE_FIG = """
epochs = np.arange(100)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(epochs, nnkit.step_decay(0.1, epochs, drop=0.5, every=20), label="step decay")
ax.plot(epochs, nnkit.exponential_decay(0.1, epochs, k=0.03), label="exponential, k = 0.03")
ax.plot(epochs, nnkit.inverse_time_decay(0.1, epochs, tau=20), label="inverse time, τ = 20")
ax.set_xlabel("epoch")
ax.set_ylabel("learning rate")
ax.legend()
plt.show()

# ReduceLROnPlateau watches a metric and multiplies lr by `factor` once MORE than `patience`
# epochs in a row fail to beat the best value so far (as torch: here on the 3rd bad epoch).
opt = nnkit.SGD([nnkit.Param(np.zeros(1))], lr=0.1)
plateau = nnkit.ReduceLROnPlateau(opt, factor=0.5, patience=2)
val = [1.0, 0.8, 0.7, 0.69, 0.7, 0.71, 0.7, 0.6, 0.61, 0.62, 0.63, 0.64]
for epoch, loss in enumerate(val):
    plateau.step(loss)
    print(f"epoch {epoch:2d}  val loss {loss:.2f}  lr {opt.lr:.4f}")
"""


# Worked examples shown before each answer cell (values computed when the lesson is built).
EXAMPLE_SGD_STEP = """
w, dw = np.array([1.0, -2.0]), np.array([0.5, 0.5])
sgd_step(w, dw, None, lr=0.1)[0]
w1, state = momentum_step(w, dw, None, lr=0.1)
w2, state = momentum_step(w1, dw, state, lr=0.1)
w1, w2
w1, state = nesterov_step(w, dw, None, lr=0.1)
w2, state = nesterov_step(w1, dw, state, lr=0.1)
w1, w2
w
"""

EXAMPLE_ADAGRAD_STEP = """
w, dw = np.array([1.0, -2.0]), np.array([0.5, -0.1])
w1, state = adagrad_step(w, dw, None, lr=0.1)
w2, state = adagrad_step(w1, dw, state, lr=0.1)
w1, w2
w1, state = rmsprop_step(w, dw, None, lr=0.1)
w2, state = rmsprop_step(w1, dw, state, lr=0.1)
w1, w2
"""

EXAMPLE_ADAM_STEP = """
w, dw = np.array([1.0, -2.0]), np.array([0.5, -0.1])
w1, state = adam_step(w, dw, None, lr=0.1)
w2, state = adam_step(w1, 2 * dw, state, lr=0.1)
w1, w2
"""

EXAMPLE_STEP_DECAY = """
step_decay(0.1, 25, drop=0.5, every=10)
exponential_decay(0.1, 10, k=0.05)
inverse_time_decay(0.1, 10, tau=20), inverse_time_decay(0.1, 40, tau=20)
"""


def build():
    lesson = Lesson(LESSON)
    lesson.md(
        r"""
        # Lesson 05 — Optimizers: SGD and its descendants

        Gradient descent takes the step $\theta \leftarrow \theta - \eta\,g$ with $g =
        \nabla_\theta L$. It works, but one learning rate $\eta$ must suit every direction of
        the loss surface at once, which fails as soon as the surface is much steeper in one
        direction than another. This lesson builds the fixes that every deep-learning library
        ships: momentum, Nesterov momentum, the adaptive methods Adagrad, RMSprop and Adam, and
        schedules that lower $\eta$ during training.

        Each optimizer is one **step function** `(new_w, state) = name_step(w, dw, state,
        ...)`: it gets the current parameters, the gradient there, and whatever it returned as
        `state` last time (`None` on the first call). It must not change `w` in place. They
        are graded on whole trajectories (100 steps on a valley and on Rosenbrock's function)
        against PyTorch's update rules, so you may keep the state in any form you like.
        """
    )
    lesson.setup()
    lesson.md(
        r"""
        ## 1. Plain SGD and the learning rate

        On the quadratic valley $f(x, y) = \tfrac12(x^2 + 20y^2)$ one step multiplies $y$ by
        $1 - 20\eta$ and $x$ by $1 - \eta$. For $\eta > 2/20 = 0.1$ the $y$ coordinate
        oscillates with growing amplitude (divergence); for small $\eta$ the $x$ direction
        barely moves. The ratio of the curvatures (the *condition number*, here 20) limits how
        fast plain gradient descent can be.
        """
    )
    lesson.code(SURFACES)
    lesson.md(
        r"""
        ## 2. Momentum and Nesterov

        **Momentum** accumulates a running direction, so that consistent gradient components
        add up and oscillating ones cancel. The slides write it with a velocity,

        $$v \leftarrow \mu v - \eta g,\qquad \theta \leftarrow \theta + v,$$

        PyTorch with a buffer, $b \leftarrow \mu b + g$ (with $b = g$ on the first step),
        $\theta \leftarrow \theta - \eta b$. With constant $\eta$ they are the same trajectory
        ($v = -\eta b$; checked in code below).

        **Nesterov** momentum evaluates the gradient at the look-ahead point $\tilde\theta =
        \theta + \mu v$ instead of at $\theta$:

        $$v \leftarrow \mu v - \eta\,\nabla L(\theta + \mu v),\qquad \theta \leftarrow
        \theta + v.$$

        A step function only receives the gradient at the parameters it stores, so PyTorch
        stores the look-ahead point $\tilde\theta$ itself. Substituting $\theta = \tilde\theta
        - \mu v$ and $v = -\eta b$ into the two lines above gives, with $g$ the gradient at the
        stored point, $b \leftarrow \mu b + g$, $\tilde\theta \leftarrow \tilde\theta -
        \eta\,(g + \mu b)$: PyTorch's form, and the one to implement. Both start at the same
        point (there $v = 0$), and the code below checks that the iterates of PyTorch's form are
        exactly the slides' look-ahead points $\theta + \mu v$.

        Write `sgd_step`, `momentum_step` and `nesterov_step`.
        """
    )
    lesson.answer("sgd_step", SGD, example=EXAMPLE_SGD_STEP)
    for name in ("sgd_step", "momentum_step", "nesterov_step"):
        lesson.tests(name)
    lesson.code(VELOCITY)
    lesson.md(
        r"""
        ## 3. Adaptive step sizes: Adagrad and RMSprop

        Instead of one $\eta$, give every coordinate its own, scaled by the size of its past
        gradients. **Adagrad** sums the squares, $r \leftarrow r + g\odot g$, and steps
        $\theta \leftarrow \theta - \eta\, g / (\sqrt r + \varepsilon)$: steep directions get
        small steps, flat ones large. Since $r$ only grows, the steps keep shrinking.
        **RMSprop** replaces the sum by an exponential moving average, $r \leftarrow \alpha r +
        (1-\alpha)\, g\odot g$, so the scale follows the recent gradients. (Here, as in
        PyTorch, $\varepsilon$ is added *outside* the square root and $r$ starts at 0.)
        """
    )
    lesson.answer("adagrad_step", ADAGRAD, example=EXAMPLE_ADAGRAD_STEP)
    for name in ("adagrad_step", "rmsprop_step"):
        lesson.tests(name)
    lesson.md(
        r"""
        ## 4. Adam

        Adam combines a momentum-like average of the gradients with RMSprop's average of their
        squares:

        $$m \leftarrow \beta_1 m + (1-\beta_1) g,\qquad v \leftarrow \beta_2 v + (1-\beta_2)
        g^2,$$
        $$\hat m = \frac{m}{1-\beta_1^t},\qquad \hat v = \frac{v}{1-\beta_2^t},\qquad \theta
        \leftarrow \theta - \eta\,\frac{\hat m}{\sqrt{\hat v} + \varepsilon}.$$

        Because $m$ and $v$ start at zero, they are biased towards zero during the first steps;
        dividing by $1-\beta^t$ (with $t = 1$ at the first step — increment $t$ *before* using
        it) removes that bias exactly for a constant gradient. The bias of $v$ is the larger one
        ($1-\beta_2 = 0.001$ versus $1-\beta_1 = 0.1$), so without the correction the first
        steps are *too long*, not too short — see the figure below.
        """
    )
    lesson.answer("adam_step", ADAM, example=EXAMPLE_ADAM_STEP)
    lesson.tests("adam_step")
    lesson.code(BIAS)
    lesson.md(
        r"""
        ## 5. All of them on three surfaces

        The valley rewards momentum and the adaptive methods; at the saddle point (start just
        off the ridge) plain SGD escapes slowly because the gradient there is tiny, while the
        adaptive methods rescale it; Rosenbrock's curved, flat-bottomed valley is the classic
        hard case: in 400 steps none of them reaches its minimum at $(1, 1)$ (the star).
        Learning rates are tuned by hand for each surface; the small squares mark where each
        optimizer ends.
        """
    )
    lesson.code(TRAJECTORIES)
    lesson.md("The playground lets you change the surface, optimizer and learning rate.")
    lesson.code(
        """
        from nnkit.widgets import optimizer_playground

        optimizer_playground()
        """
    )
    lesson.md(
        r"""
        ## 6. On a real training problem

        Toy surfaces only go so far. Below, the same network trained on handwritten digits
        with each optimizer (mini-batches of 32, so the gradients are noisy). Read the ranking
        with care: each optimizer has one fixed learning rate here (the legend gives it; Adam and
        RMSprop use their usual default $10^{-3}$), and a different choice can reorder the
        curves. Comparing optimizers fairly means tuning the learning rate of each.
        """
    )
    lesson.code(REAL)
    lesson.md(
        r"""
        ## 7. Learning-rate schedules

        Late in training a large step keeps bouncing around the minimum; a smaller one settles.
        Common schedules: **step decay** $\eta_0\cdot\text{drop}^{\lfloor
        \text{epoch}/\text{every}\rfloor}$, **exponential decay** $\eta_0 e^{-kt}$, and
        **inverse-time decay** $\eta_0\,\tau/\max(t, \tau)$ (constant until $t = \tau$, then
        $\propto 1/t$). **ReduceLROnPlateau** reacts to the validation loss instead: it cuts the
        rate when the loss stops improving. Write the three formulas. (Second-order methods
        such as L-BFGS build a curvature model from successive gradients; they need full-batch,
        noise-free gradients, which is why deep learning sticks to first-order methods.)
        """
    )
    lesson.answer("step_decay", SCHEDULES, example=EXAMPLE_STEP_DECAY)
    for name in ("step_decay", "exponential_decay", "inverse_time_decay"):
        lesson.tests(name)
    lesson.code(SCHEDULE_FIG)
    lesson.self_check()
    return lesson.notebook()

"""nnkit: reference implementations of everything the course teaches, in NumPy.

Every graded function of the lessons is importable from the top level under the name and
signature listed in ``CONVENTIONS.md`` (``from nnkit import softmax``). Conventions
(samples are rows, ``W`` is ``(out, in)``, losses are batch means, randomness only through
``rng``) are written down in ``CONVENTIONS.md``.

``nnkit.plots`` and ``nnkit.widgets`` import matplotlib and ipywidgets; import them explicitly.
"""

from . import (
    activations,
    data,
    functional,
    gradcheck,
    init,
    layers,
    losses,
    mlp,
    neurons,
    optim,
    regularization,
    schedules,
    signals,
    training,
)
from ._guard import ReferenceCallError
from .activations import *  # noqa: F403
from .data import *  # noqa: F403
from .functional import *  # noqa: F403
from .gradcheck import *  # noqa: F403
from .init import *  # noqa: F403
from .layers import *  # noqa: F403
from .losses import *  # noqa: F403
from .mlp import *  # noqa: F403
from .neurons import *  # noqa: F403
from .optim import *  # noqa: F403
from .regularization import *  # noqa: F403
from .schedules import *  # noqa: F403
from .signals import *  # noqa: F403
from .training import *  # noqa: F403

__version__ = "0.1.0"

__all__ = ["ReferenceCallError"] + [
    name
    for module in (
        activations,
        losses,
        functional,
        neurons,
        mlp,
        regularization,
        signals,
        layers,
        init,
        optim,
        schedules,
        data,
        training,
        gradcheck,
    )
    for name in module.__all__
]

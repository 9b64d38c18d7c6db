"""Interactive explorers for the lessons (ipywidgets 8 + matplotlib).

Each ``*_explorer()`` function displays its explorer and returns it. In JupyterLab the controls
redraw the figure live; without a widget frontend (nbgrader, nbclient, nbconvert) the cell keeps
a static picture at the default settings and a message, and nothing blocks or writes to stderr.
Every explorer computes the data behind its figure in a pure function (``activation_data``,
``neuron_data``, ``signal_data``, ``playground_data``, ``dropout_data``, ``batchnorm_data``) and
exposes it as ``explorer.data``; ``explorer.set(name=value)`` drives the controls from Python.
"""

from .activation import ActivationExplorer, activation_data, activation_explorer
from .batchnorm import BatchNormExplorer, batchnorm_data, batchnorm_explorer
from .dropout import DropoutExplorer, dropout_data, dropout_explorer
from .initialization import InitExplorer, init_explorer, signal_data
from .neuron import NeuronExplorer, neuron_data, neuron_explorer
from .optimizer import OptimizerPlayground, optimizer_playground, playground_data

__all__ = [
    "ActivationExplorer",
    "BatchNormExplorer",
    "DropoutExplorer",
    "InitExplorer",
    "NeuronExplorer",
    "OptimizerPlayground",
    "activation_data",
    "activation_explorer",
    "batchnorm_data",
    "batchnorm_explorer",
    "dropout_data",
    "dropout_explorer",
    "init_explorer",
    "neuron_data",
    "neuron_explorer",
    "optimizer_playground",
    "playground_data",
    "signal_data",
]

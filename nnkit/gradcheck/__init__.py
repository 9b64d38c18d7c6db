"""Gradient checking: numerical gradients, relative errors, layer/model checks with a diagnosis.

* :mod:`~nnkit.gradcheck.numeric` — centred differences (:func:`numerical_gradient`, the
  lesson's graded reference), :func:`rel_error`, and cheap checks for large arrays
  (:func:`sparse_gradcheck`, :func:`directional_gradcheck`);
* :mod:`~nnkit.gradcheck.checks` — :func:`check_layer` and :func:`check_model` compare the
  gradient of every parameter and of the input in one call and return a
  :class:`GradCheckReport` (:mod:`~nnkit.gradcheck.report`); the measuring behind them
  (frozen dropout masks and buffers, sampled entries, random directions, second measurements
  at smaller steps next to a kink) is in :mod:`~nnkit.gradcheck.measure`;
* :mod:`~nnkit.gradcheck.diagnosis` — when a check fails, :func:`diagnose` names what the
  mismatch looks like (missing batch mean, sign error, transposed gradient, bias not summed
  over the batch, factor 2, a ReLU kink straddled by the finite difference, ...).

The verdict of a layer or model check judges each gradient array as a whole: its largest
``|a_i − n_i|`` relative to its largest ``|a_i| + |n_i|`` (never less than the rounding noise of
the centred difference), below ``1e-7``; a correct float64 backward pass gives about
``1e-10``. See :func:`check_layer`.
"""

from .checks import check_layer, check_model
from .diagnosis import diagnose
from .measure import DEFAULT_DIRECTIONS as DEFAULT_DIRECTIONS
from .measure import DEFAULT_MAX_ENTRIES as DEFAULT_MAX_ENTRIES
from .measure import NOISE_FACTOR as NOISE_FACTOR
from .numeric import DEFAULT_H as DEFAULT_H
from .numeric import DEFAULT_TOL as DEFAULT_TOL
from .numeric import (
    directional_gradcheck,
    numerical_gradient,
    numerical_gradient_array,
    rel_error,
    sparse_gradcheck,
)
from .report import GradCheckEntry, GradCheckReport

__all__ = [
    "GradCheckEntry",
    "GradCheckReport",
    "check_layer",
    "check_model",
    "diagnose",
    "directional_gradcheck",
    "numerical_gradient",
    "numerical_gradient_array",
    "rel_error",
    "sparse_gradcheck",
]

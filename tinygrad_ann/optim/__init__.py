"""Optimizers with PyTorch's update rules, and learning-rate schedules.

``tg.optim.SGD`` lives in ``tinygrad_ann.optim.sgd``, ``Adam`` and
``AdamW`` in ``tinygrad_ann.optim.adam``, their base class ``Optimizer``
(parameter groups, state dicts) in ``tinygrad_ann.optim.optimizer``; the
schedules in :mod:`tinygrad_ann.optim.lr_scheduler`, PyTorch's path.
"""

from . import lr_scheduler
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "lr_scheduler"]

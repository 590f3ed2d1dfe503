"""Optimizers with PyTorch's update rules, and learning-rate schedules.

``tg.optim.SGD`` and ``tg.optim.Adam`` live in :mod:`~tinygrad_ann.optim.optimizer`;
the schedules in :mod:`tinygrad_ann.optim.lr_scheduler`, PyTorch's path.
"""

from . import lr_scheduler
from .optimizer import SGD, Adam, Optimizer

__all__ = ["SGD", "Adam", "Optimizer", "lr_scheduler"]

"""Optimizers with PyTorch's update rules: ``SGD`` and ``Adam``.

>>> import tinygrad_ann as tg
>>> w = tg.tensor([1.0, -2.0], requires_grad=True)
>>> opt = tg.optim.SGD([w], lr=0.1)
>>> (w * w).sum().backward()
>>> opt.step()
>>> w
Tensor([ 0.8, -1.6], requires_grad=True)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from .tensor import Tensor


def _check_hyperparameter(
    optimizer: str, name: str, value: float, upper: float | None = None
) -> float:
    if not isinstance(value, int | float | np.floating) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{optimizer}: {name} must be a finite number >= 0, got {value!r}")
    if upper is not None and value >= upper:
        raise ValueError(f"{optimizer}: {name} must be < {upper}, got {value!r}")
    return float(value)


class Optimizer:
    """Base class: holds the parameters and per-parameter state."""

    def __init__(self, params: Iterable[Tensor], lr: float) -> None:
        name = type(self).__name__
        self.params: list[Tensor] = list(params)
        if not self.params:
            raise ValueError(
                f"{name}: got an empty parameter list; pass model.parameters() of a model "
                "that has parameters"
            )
        for index, param in enumerate(self.params):
            if not isinstance(param, Tensor):
                raise TypeError(
                    f"{name}: parameter {index} is a {type(param).__name__}, not a Tensor"
                )
            if not param.requires_grad:
                raise ValueError(
                    f"{name}: parameter {index} (shape {param.shape}) does not require grad"
                )
        self.lr = _check_hyperparameter(name, "lr", lr)
        self.state: list[dict[str, Any]] = [{} for _ in self.params]

    def zero_grad(self) -> None:
        """Drop the gradients of all parameters (they become ``None``)."""
        for param in self.params:
            param.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient."""
        for param, state in zip(self.params, self.state):
            if param.grad is not None:
                self._update(param, param.grad.data, state)

    def _update(self, param: Tensor, grad: np.ndarray, state: dict[str, Any]) -> None:
        raise NotImplementedError


def _subtract_from(param: Tensor, step: np.ndarray) -> None:
    """``param.data -= step``, or a new array while a live graph holds the old one read-only.

    The graph then keeps differentiating the values it was computed with.
    """
    try:
        param.data -= step
    except ValueError:  # read-only (NumPy checks before writing anything)
        param.data = param.data - step


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum and L2 weight decay.

    ``g = grad + weight_decay * p``; with momentum ``b = momentum * b + g``
    (``b = g`` on the first step) and ``g = b``; then ``p -= lr * g``.
    """

    def __init__(
        self, params: Iterable[Tensor], lr: float, momentum: float = 0.0, weight_decay: float = 0.0
    ) -> None:
        super().__init__(params, lr)
        self.momentum = _check_hyperparameter("SGD", "momentum", momentum)
        self.weight_decay = _check_hyperparameter("SGD", "weight_decay", weight_decay)

    def _update(self, param: Tensor, grad: np.ndarray, state: dict[str, Any]) -> None:
        if self.weight_decay:
            grad = grad + self.weight_decay * param.data
        if self.momentum:
            buffer = state.get("momentum_buffer")
            if buffer is None:
                buffer = state["momentum_buffer"] = grad.copy()
            else:
                buffer *= self.momentum
                buffer += grad
            grad = buffer
        _subtract_from(param, self.lr * grad)


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction, as ``torch.optim.Adam``.

    ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g^2``, then
    ``p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``.
    ``weight_decay`` adds ``weight_decay * p`` to the gradient (L2, not AdamW).
    """

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        self.betas = (
            _check_hyperparameter("Adam", "betas[0]", betas[0], upper=1.0),
            _check_hyperparameter("Adam", "betas[1]", betas[1], upper=1.0),
        )
        self.eps = _check_hyperparameter("Adam", "eps", eps)
        self.weight_decay = _check_hyperparameter("Adam", "weight_decay", weight_decay)

    def _update(self, param: Tensor, grad: np.ndarray, state: dict[str, Any]) -> None:
        beta1, beta2 = self.betas
        if self.weight_decay:
            grad = grad + self.weight_decay * param.data
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(param.data)
            state["exp_avg_sq"] = np.zeros_like(param.data)
        state["step"] += 1
        step = state["step"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg *= beta1
        exp_avg += (1 - beta1) * grad
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * grad * grad
        step_size = self.lr / (1 - beta1**step)
        denominator = np.sqrt(exp_avg_sq) / math.sqrt(1 - beta2**step) + self.eps
        _subtract_from(param, step_size * exp_avg / denominator)

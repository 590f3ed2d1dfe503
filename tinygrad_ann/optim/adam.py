"""Adam and AdamW, as ``torch.optim.Adam`` and ``torch.optim.AdamW``."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer, check_flag, check_hyperparameter
from .sgd import subtract_from

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction, as ``torch.optim.Adam``.

    ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g^2``, then
    ``p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``.
    ``weight_decay`` adds ``weight_decay * p`` to the gradient (L2; see
    :class:`AdamW` for the decoupled kind). ``amsgrad=True`` divides by the
    running maximum of ``v`` instead (Reddi et al.), kept as ``max_exp_avg_sq``.

    >>> import tinygrad_ann as tg
    >>> w = tg.tensor([1.0], requires_grad=True)
    >>> opt = tg.optim.Adam([w], lr=0.1, amsgrad=True)
    >>> w.grad = tg.tensor([2.0])
    >>> opt.step()  # the first step is lr * sign(g), up to eps
    >>> round(float(w.item()), 6)
    0.9
    """

    state_arrays = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    state_counters = ("step",)
    settings_added_later = {"amsgrad": False}  # noqa: RUF012
    #: AdamW's difference: the decay shrinks the parameter instead of joining the gradient.
    decoupled_weight_decay = False

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(
            params, lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad
        )

    def _checked_hyperparameters(self, values: Mapping[str, Any]) -> dict[str, Any]:
        name = type(self).__name__
        betas = values["betas"]
        if not isinstance(betas, list | tuple) or len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair of numbers, got {betas!r}")
        return {
            "lr": check_hyperparameter(name, "lr", values["lr"]),
            "betas": (
                check_hyperparameter(name, "betas[0]", betas[0], upper=1.0),
                check_hyperparameter(name, "betas[1]", betas[1], upper=1.0),
            ),
            "eps": check_hyperparameter(name, "eps", values["eps"]),
            "weight_decay": check_hyperparameter(name, "weight_decay", values["weight_decay"]),
            "amsgrad": check_flag(name, "amsgrad", values["amsgrad"]),
        }

    def _pytorch_flags(self) -> dict[str, Any]:
        return {"maximize": False, "decoupled_weight_decay": self.decoupled_weight_decay}

    def _update(
        self, param: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        lr, weight_decay = group["lr"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        if weight_decay:
            if self.decoupled_weight_decay:
                _scale(param, 1 - lr * weight_decay)
            else:
                grad = grad + weight_decay * param._data
        if "step" not in state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(param._data)
            state["exp_avg_sq"] = np.zeros_like(param._data)
        if group["amsgrad"] and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = np.zeros_like(param._data)
        state["step"] += 1
        step = state["step"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        # The same operations in the same order as the formula (so the same bits), written
        # into two scratch arrays: six temporaries fewer, a third of the update's time.
        scratch = np.multiply(grad, 1 - beta1)
        exp_avg *= beta1
        exp_avg += scratch
        np.multiply(grad, 1 - beta2, out=scratch)
        scratch *= grad
        exp_avg_sq *= beta2
        exp_avg_sq += scratch
        if group["amsgrad"]:
            largest = state["max_exp_avg_sq"]
            np.maximum(largest, exp_avg_sq, out=largest)
            denominator = np.sqrt(largest, out=scratch)
        else:
            denominator = np.sqrt(exp_avg_sq, out=scratch)
        denominator /= math.sqrt(1 - beta2**step)
        denominator += group["eps"]
        update = np.multiply(exp_avg, lr / (1 - beta1**step))
        update /= denominator
        subtract_from(param, update)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as ``torch.optim.AdamW``.

    Each step first shrinks the parameter, ``p *= 1 - lr * weight_decay``,
    then takes Adam's step on the plain gradient; ``weight_decay`` defaults to
    PyTorch's 0.01.

    >>> import tinygrad_ann as tg
    >>> w = tg.tensor([1.0], requires_grad=True)
    >>> opt = tg.optim.AdamW([w], lr=0.1, weight_decay=0.5)
    >>> w.grad = tg.tensor([0.0])
    >>> opt.step()  # no gradient: only the decay, 1 - 0.1 * 0.5
    >>> round(float(w.item()), 6)
    0.95
    """

    decoupled_weight_decay = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)


def _scale(param: Tensor, factor: float) -> None:
    """``param.data *= factor``, or a new array while a live graph holds the old one read-only."""
    array = param._data
    try:
        array *= factor
    except ValueError:
        param.data = array * factor

"""Stochastic gradient descent, as ``torch.optim.SGD``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer, check_flag, check_hyperparameter

__all__ = ["SGD"]


def subtract_from(param: Tensor, step: np.ndarray) -> None:
    """``param.data -= step``, or a new array while a live graph holds the old one read-only.

    The graph then keeps differentiating the values it was computed with.
    """
    array = param._data  # the slot behind .data (see Optimizer.step)
    try:
        array -= step  # in place: the array is the parameter's, nothing to assign back
    except ValueError:  # read-only (NumPy checks before writing anything)
        param.data = array - step


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, dampening, Nesterov and L2 weight decay.

    As ``torch.optim.SGD``: ``g = grad + weight_decay * p``; with momentum
    ``b = momentum * b + (1 - dampening) * g`` (``b = g`` on the first step),
    then ``g = g + momentum * b`` with ``nesterov=True``, else ``g = b``;
    finally ``p -= lr * g``. Nesterov needs a momentum and no dampening, as
    in PyTorch.

    >>> import tinygrad_ann as tg
    >>> w = tg.tensor([1.0], requires_grad=True)
    >>> opt = tg.optim.SGD([w], lr=0.1, momentum=0.9, nesterov=True)
    >>> w.grad = tg.tensor([1.0])
    >>> opt.step()  # g + 0.9 * b with b = g: a step of 0.19
    >>> round(float(w.item()), 2)
    0.81
    """

    state_arrays = ("momentum_buffer",)
    settings_added_later = {"dampening": 0.0, "nesterov": False}  # noqa: RUF012

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        super().__init__(
            params,
            lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
        )

    def _checked_hyperparameters(self, values: Mapping[str, Any]) -> dict[str, Any]:
        checked = {
            "lr": check_hyperparameter("SGD", "lr", values["lr"]),
            "momentum": check_hyperparameter("SGD", "momentum", values["momentum"]),
            "dampening": check_hyperparameter("SGD", "dampening", values["dampening"]),
            "weight_decay": check_hyperparameter("SGD", "weight_decay", values["weight_decay"]),
            "nesterov": check_flag("SGD", "nesterov", values["nesterov"]),
        }
        if checked["nesterov"] and (checked["momentum"] <= 0 or checked["dampening"] != 0):
            raise ValueError(
                "SGD: nesterov=True needs a momentum > 0 and dampening 0, got momentum="
                f"{values['momentum']!r} and dampening={values['dampening']!r}"
            )
        return checked

    def step(self) -> None:
        states = 0
        for group in self.param_groups:
            params = group["params"]
            if group["momentum"] or group["weight_decay"]:
                for param, state in zip(params, self.state[states : states + len(params)]):
                    grad = param._grad
                    if grad is not None and param.requires_grad:
                        self._update(param, grad._data, state, group)
            else:
                # Plain gradient descent, the articles' optimizer: _update's work inline,
                # which saves two calls per parameter (a tenth of a small network's step).
                lr = group["lr"]
                for param in params:
                    grad = param._grad
                    if grad is not None and param.requires_grad:
                        subtract_from(param, lr * grad._data)
            states += len(params)

    def _update(
        self, param: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        weight_decay, momentum = group["weight_decay"], group["momentum"]
        if weight_decay:
            grad = grad + weight_decay * param._data
        if momentum:
            buffer = state.get("momentum_buffer")
            if buffer is None:
                buffer = state["momentum_buffer"] = grad.copy()
            else:
                buffer *= momentum
                dampening = group["dampening"]
                buffer += (1 - dampening) * grad if dampening else grad
            grad = grad + momentum * buffer if group["nesterov"] else buffer
        subtract_from(param, group["lr"] * grad)

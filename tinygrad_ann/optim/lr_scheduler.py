"""Learning-rate schedules, as ``torch.optim.lr_scheduler`` (also ``tg.optim.lr_scheduler``).

A scheduler sets its optimizer's ``lr`` once per ``step()``, usually once an
epoch, after the optimizer's steps. Each computes the next rate from the
current one as PyTorch does, so the sequences agree with PyTorch's to the last
bit; each parameter group follows the schedule from its own base rate, and
``get_last_lr()`` returns the rates in a list, one per group.

>>> import tinygrad_ann as tg
>>> from tinygrad_ann.optim.lr_scheduler import StepLR
>>> w = tg.zeros(2, requires_grad=True)
>>> opt = tg.optim.SGD([w], lr=0.1)
>>> scheduler = StepLR(opt, step_size=2, gamma=0.5)
>>> rates = []
>>> for epoch in range(5):
...     rates.append(scheduler.get_last_lr()[0])  # (train an epoch, calling opt.step())
...     scheduler.step()
>>> rates
[0.1, 0.1, 0.05, 0.05, 0.025]
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

from ..errors import StateDictError
from .optimizer import Optimizer

__all__ = ["CosineAnnealingLR", "ExponentialLR", "LRScheduler", "StepLR"]


def _check_number(scheduler: str, name: str, value: Any, positive: bool = False) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
        or (positive and value == 0)
    ):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{scheduler}: {name} must be a finite number {bound}, got {value!r}")
    return float(value)


def _check_count(scheduler: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{scheduler}: {name} must be an int >= 1, got {value!r}")
    return value


class LRScheduler:
    """Base class: ``step()`` advances ``last_epoch`` and sets each group's ``lr`` to ``get_lr()``.

    Making a scheduler records each parameter group's current ``lr`` as its
    ``initial_lr`` (unless a scheduler already did) and takes those as the base
    rates (``base_lrs``, one per group), and counts as the first step
    (``last_epoch`` 0), as in PyTorch.
    """

    #: The constructor's settings, saved by ``state_dict`` beside the progress.
    hyperparameters: ClassVar[tuple[str, ...]] = ()

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{type(self).__name__}: expected an optimizer (tg.optim.SGD, Adam, ...), got "
                f"{type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = -1
        self._step_count = 0
        self._last_lr: list[float] = [group["lr"] for group in optimizer.param_groups]
        self.step()

    def get_lr(self) -> list[float]:
        """The rates for ``last_epoch``, one per group (``step`` calls it)."""
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch and set each parameter group's learning rate for it."""
        self._step_count += 1
        self.last_epoch += 1
        rates = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, rates):
            group["lr"] = lr
        self._last_lr = list(rates)

    def _rates(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The learning rates the last ``step`` set, one per parameter group."""
        return list(self._last_lr)

    # ----------------------------------------------------------------- saving
    def state_dict(self) -> dict[str, Any]:
        """The settings and progress (not the optimizer), with PyTorch's key names.

        The optimizer's ``lr`` is saved by the optimizer's own ``state_dict``;
        restore both to resume.
        """
        state: dict[str, Any] = {name: getattr(self, name) for name in self.hyperparameters}
        state.update(
            base_lrs=list(self.base_lrs),
            last_epoch=self.last_epoch,
            _step_count=self._step_count,
            _last_lr=list(self._last_lr),
        )
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned; all is checked before anything is set."""
        name = type(self).__name__
        try:
            checked = self._checked_state_dict(state_dict)
        except (TypeError, ValueError) as error:
            raise StateDictError(
                f"{name}.load_state_dict: {error} (the scheduler was not changed)"
            ) from None
        for key, value in checked.items():
            setattr(self, key, value)

    def _checked_state_dict(self, state_dict: Mapping[str, Any]) -> dict[str, Any]:
        expected = list(self.state_dict())
        if not isinstance(state_dict, Mapping) or set(state_dict) != set(expected):
            found = sorted(state_dict) if isinstance(state_dict, Mapping) else type(state_dict)
            raise ValueError(f"expected the keys {expected}, got {found}")
        checked = self._checked_hyperparameters(state_dict)
        count = len(self.optimizer.param_groups)
        for key in ("base_lrs", "_last_lr"):
            rates = state_dict[key]
            if not isinstance(rates, list | tuple) or len(rates) != count:
                expected = "one learning rate" if count == 1 else f"{count} learning rates"
                raise ValueError(
                    f"{key} must be a list of {expected} (one per parameter group), got {rates!r}"
                )
            checked[key] = [_check_number(type(self).__name__, key, rate) for rate in rates]
        for key, lowest in (("last_epoch", -1), ("_step_count", 0)):
            value = state_dict[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
                raise ValueError(f"{key} must be an int >= {lowest}, got {value!r}")
            checked[key] = value
        return checked

    def _checked_hyperparameters(self, values: Mapping[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def __repr__(self) -> str:
        settings = ", ".join(f"{name}={getattr(self, name)}" for name in self.hyperparameters)
        return f"{type(self).__name__}({settings}, last_epoch={self.last_epoch})"


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    ``lr = base_lr · gamma ** (epoch // step_size)``.

    >>> import tinygrad_ann as tg
    >>> opt = tg.optim.SGD([tg.zeros(1, requires_grad=True)], lr=1.0)
    >>> scheduler = tg.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.1)
    >>> for _ in range(3):
    ...     scheduler.step()
    >>> opt.param_groups[0]["lr"], scheduler.get_last_lr()
    (0.1, [0.1])
    """

    hyperparameters = ("step_size", "gamma")

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        self.step_size = _check_count("StepLR", "step_size", step_size)
        self.gamma = _check_number("StepLR", "gamma", gamma)
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._rates()
        return [lr * self.gamma for lr in self._rates()]

    def _checked_hyperparameters(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "step_size": _check_count("StepLR", "step_size", values["step_size"]),
            "gamma": _check_number("StepLR", "gamma", values["gamma"]),
        }


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every epoch: ``lr = base_lr · gamma ** epoch``.

    >>> import tinygrad_ann as tg
    >>> opt = tg.optim.SGD([tg.zeros(1, requires_grad=True)], lr=1.0)
    >>> scheduler = tg.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
    >>> scheduler.step(); scheduler.step()
    >>> scheduler.get_last_lr()
    [0.25]
    """

    hyperparameters = ("gamma",)

    def __init__(self, optimizer: Optimizer, gamma: float) -> None:
        self.gamma = _check_number("ExponentialLR", "gamma", gamma)
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return self._rates()
        return [lr * self.gamma for lr in self._rates()]

    def _checked_hyperparameters(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return {"gamma": _check_number("ExponentialLR", "gamma", values["gamma"])}


class CosineAnnealingLR(LRScheduler):
    """Anneal the learning rate from its base to ``eta_min`` over ``T_max`` epochs, as a cosine.

    ``lr = eta_min + (base_lr - eta_min) · (1 + cos(π · epoch / T_max)) / 2``
    up to ``T_max``; after that it rises again along the same cosine (no
    restart), as in PyTorch. Each rate is computed from the previous one, as
    PyTorch does, so the two agree bit for bit.

    >>> import tinygrad_ann as tg
    >>> opt = tg.optim.SGD([tg.zeros(1, requires_grad=True)], lr=1.0)
    >>> scheduler = tg.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4)
    >>> rates = [scheduler.get_last_lr()[0]]
    >>> for _ in range(4):
    ...     scheduler.step()
    ...     rates.append(round(scheduler.get_last_lr()[0], 4))
    >>> rates
    [1.0, 0.8536, 0.5, 0.1464, 0.0]
    """

    hyperparameters = ("T_max", "eta_min")

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:
        self.T_max = _check_count("CosineAnnealingLR", "T_max", T_max)
        self.eta_min = _check_number("CosineAnnealingLR", "eta_min", eta_min)
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        epoch, period, eta_min = self.last_epoch, self.T_max, self.eta_min
        rates = self._rates()
        if epoch == 0:
            return rates
        if (epoch - 1 - period) % (2 * period) == 0:
            # Just past a trough the ratio below would divide by 1 + cos(π) = 0: step instead.
            rise = (1 - math.cos(math.pi / period)) / 2
            return [lr + (base - eta_min) * rise for lr, base in zip(rates, self.base_lrs)]
        ratio = (1 + math.cos(math.pi * epoch / period)) / (
            1 + math.cos(math.pi * (epoch - 1) / period)
        )
        return [ratio * (lr - eta_min) + eta_min for lr in rates]

    def _checked_hyperparameters(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "T_max": _check_count("CosineAnnealingLR", "T_max", values["T_max"]),
            "eta_min": _check_number("CosineAnnealingLR", "eta_min", values["eta_min"]),
        }

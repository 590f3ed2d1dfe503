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

__all__ = [
    "CosineAnnealingLR",
    "ExponentialLR",
    "LRScheduler",
    "LinearLR",
    "OneCycleLR",
    "StepLR",
]


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
                wanted = "one learning rate" if count == 1 else f"{count} learning rates"
                raise ValueError(
                    f"{key} must be a list of {wanted} (one per parameter group), got {rates!r}"
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


class LinearLR(LRScheduler):
    """Scale the base rate by a factor going linearly from ``start_factor`` to ``end_factor``.

    Over ``total_iters`` steps, then constant: the usual warm-up. As
    ``torch.optim.lr_scheduler.LinearLR`` (same defaults), each rate computed
    from the previous one as PyTorch does.

    >>> import tinygrad_ann as tg
    >>> opt = tg.optim.SGD([tg.zeros(1, requires_grad=True)], lr=1.0)
    >>> scheduler = tg.optim.lr_scheduler.LinearLR(opt, start_factor=0.25, total_iters=3)
    >>> rates = [scheduler.get_last_lr()[0]]
    >>> for _ in range(4):
    ...     scheduler.step()
    ...     rates.append(round(scheduler.get_last_lr()[0], 4))
    >>> rates
    [0.25, 0.5, 0.75, 1.0, 1.0]
    """

    hyperparameters = ("start_factor", "end_factor", "total_iters")

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
    ) -> None:
        checked = self._checked_hyperparameters(
            {"start_factor": start_factor, "end_factor": end_factor, "total_iters": total_iters}
        )
        self.start_factor = checked["start_factor"]
        self.end_factor = checked["end_factor"]
        self.total_iters = checked["total_iters"]
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        rates, epoch = self._rates(), self.last_epoch
        start, end = self.start_factor, self.end_factor
        if epoch == 0:
            return [lr * start for lr in rates]
        if epoch > self.total_iters:
            return rates
        factor = 1.0 + (end - start) / (self.total_iters * start + (epoch - 1) * (end - start))
        return [lr * factor for lr in rates]

    def _checked_hyperparameters(self, values: Mapping[str, Any]) -> dict[str, Any]:
        start = _check_number("LinearLR", "start_factor", values["start_factor"], positive=True)
        end = _check_number("LinearLR", "end_factor", values["end_factor"])
        for name, value in (("start_factor", start), ("end_factor", end)):
            if value > 1:
                raise ValueError(f"LinearLR: {name} must be <= 1, got {values[name]!r}")
        total = values["total_iters"]
        if isinstance(total, bool) or not isinstance(total, int) or total < 0:
            raise ValueError(f"LinearLR: total_iters must be an int >= 0, got {total!r}")
        return {"start_factor": start, "end_factor": end, "total_iters": total}


class OneCycleLR(LRScheduler):
    """The one-cycle policy (Smith): warm up to ``max_lr``, then anneal far below the start.

    As ``torch.optim.lr_scheduler.OneCycleLR``, stepped once per batch: the
    rate starts at ``max_lr / div_factor``, rises to ``max_lr`` over the first
    ``pct_start`` of ``total_steps`` (or ``epochs * steps_per_epoch``), then
    falls to ``max_lr / div_factor / final_div_factor`` at the last step,
    along a cosine (``anneal_strategy="cos"``) or a line (``"linear"``);
    ``three_phase=True`` comes back to the start before the final fall. With
    ``cycle_momentum`` (the default) SGD's ``momentum`` or Adam's first beta
    moves the other way, between ``max_momentum`` and ``base_momentum``.
    ``max_lr`` and the momenta may be lists, one per parameter group. The
    schedule's bounds are kept in each group (``initial_lr``, ``max_lr``,
    ``min_lr``, ...), as PyTorch keeps them, so they are saved with the
    optimizer; stepping past ``total_steps`` is a ValueError.

    >>> import tinygrad_ann as tg
    >>> opt = tg.optim.SGD([tg.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    >>> scheduler = tg.optim.lr_scheduler.OneCycleLR(
    ...     opt, max_lr=1.0, total_steps=5, pct_start=0.4, anneal_strategy="linear"
    ... )
    >>> rates = [scheduler.get_last_lr()[0]]
    >>> for _ in range(4):
    ...     scheduler.step()
    ...     rates.append(round(scheduler.get_last_lr()[0], 5))
    >>> rates
    [0.04, 1.0, 0.66667, 0.33334, 0.0]
    """

    hyperparameters = (
        "total_steps",
        "pct_start",
        "anneal_strategy",
        "cycle_momentum",
        "three_phase",
        "use_beta1",
    )

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | list[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.85,
        max_momentum: float | list[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"OneCycleLR: expected an optimizer (tg.optim.SGD, Adam, ...), got "
                f"{type(optimizer).__name__}"
            )
        if total_steps is None and (epochs is None or steps_per_epoch is None):
            raise ValueError(
                "OneCycleLR: give total_steps, or epochs and steps_per_epoch (their product "
                "is the number of steps)"
            )
        if total_steps is None:
            epochs = _check_count("OneCycleLR", "epochs", epochs)
            total_steps = epochs * _check_count("OneCycleLR", "steps_per_epoch", steps_per_epoch)
        use_beta1 = "betas" in optimizer.defaults
        if cycle_momentum and not use_beta1 and "momentum" not in optimizer.defaults:
            raise ValueError(
                f"OneCycleLR: cycle_momentum=True moves the momentum, and "
                f"{type(optimizer).__name__} has neither momentum nor betas; pass "
                "cycle_momentum=False"
            )
        checked = self._checked_hyperparameters(
            {
                "total_steps": total_steps,
                "pct_start": pct_start,
                "anneal_strategy": anneal_strategy,
                "cycle_momentum": cycle_momentum,
                "three_phase": three_phase,
                "use_beta1": use_beta1,
            }
        )
        self.total_steps: int = checked["total_steps"]
        self.pct_start: float = checked["pct_start"]
        self.anneal_strategy: str = checked["anneal_strategy"]
        self.cycle_momentum: bool = checked["cycle_momentum"]
        self.three_phase: bool = checked["three_phase"]
        self.use_beta1: bool = checked["use_beta1"]
        divide = _check_number("OneCycleLR", "div_factor", div_factor, positive=True)
        final = _check_number("OneCycleLR", "final_div_factor", final_div_factor, positive=True)
        groups = optimizer.param_groups
        peaks = _per_group("max_lr", max_lr, len(groups))
        momenta = list(
            zip(
                _per_group("max_momentum", max_momentum, len(groups)),
                _per_group("base_momentum", base_momentum, len(groups)),
            )
        )
        for group, peak, (high, low) in zip(groups, peaks, momenta):
            group["initial_lr"] = peak / divide
            group["max_lr"] = peak
            group["min_lr"] = group["initial_lr"] / final
            if self.cycle_momentum:
                if use_beta1:
                    group["betas"] = (high, *group["betas"][1:])
                else:
                    group["momentum"] = high
                group["max_momentum"], group["base_momentum"] = high, low
        super().__init__(optimizer)

    def _phases(self) -> list[tuple[float, str, str, str, str]]:
        """(end step, start and end of the rate, start and end of the momentum) of each phase."""
        steps, warm = self.total_steps, self.pct_start
        rise = (float(warm * steps) - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum")
        if self.three_phase:
            back = (float(2 * warm * steps) - 2, "max_lr", "initial_lr", "base_momentum")
            return [
                rise,
                (*back, "max_momentum"),
                (steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
            ]
        return [rise, (steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")]

    def _anneal(self, start: float, end: float, fraction: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * fraction) + 1)
        return (end - start) * fraction + start

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(
                f"OneCycleLR: stepped {step} times, past total_steps={self.total_steps}; make "
                "the scheduler with the number of steps the training takes"
            )
        phases, rates = self._phases(), []
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for number, (end_step, lr_from, lr_to, momentum_from, momentum_to) in enumerate(phases):
                if step <= end_step or number == len(phases) - 1:
                    fraction = (step - start_step) / (end_step - start_step)
                    rates.append(self._anneal(group[lr_from], group[lr_to], fraction))
                    if self.cycle_momentum:
                        momentum = self._anneal(group[momentum_from], group[momentum_to], fraction)
                        if self.use_beta1:
                            group["betas"] = (momentum, *group["betas"][1:])
                        else:
                            group["momentum"] = momentum
                    break
                start_step = end_step
        return rates

    def _checked_hyperparameters(self, values: Mapping[str, Any]) -> dict[str, Any]:
        pct_start, strategy = values["pct_start"], values["anneal_strategy"]
        if (
            isinstance(pct_start, bool)
            or not isinstance(pct_start, float)
            or not 0 <= pct_start <= 1
        ):
            raise ValueError(f"OneCycleLR: pct_start must be a float in [0, 1], got {pct_start!r}")
        if strategy not in ("cos", "linear"):
            raise ValueError(
                f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', got {strategy!r}"
            )
        flags = {}
        for name in ("cycle_momentum", "three_phase", "use_beta1"):
            if not isinstance(values[name], bool):
                raise ValueError(f"OneCycleLR: {name} must be True or False, got {values[name]!r}")
            flags[name] = values[name]
        return {
            "total_steps": _check_count("OneCycleLR", "total_steps", values["total_steps"]),
            "pct_start": pct_start,
            "anneal_strategy": strategy,
            **flags,
        }


def _per_group(name: str, value: Any, count: int) -> list[float]:
    """One number for each of ``count`` groups: ``value`` repeated, or a list of ``count``."""
    if isinstance(value, list | tuple):
        if len(value) != count:
            raise ValueError(
                f"OneCycleLR: {name} has {len(value)} values for {count} parameter groups; give "
                "one number, or one per group"
            )
        return [_check_number("OneCycleLR", name, item) for item in value]
    return [_check_number("OneCycleLR", name, value)] * count

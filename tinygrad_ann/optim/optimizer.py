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
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ..errors import StateDictError
from ..tensor import Tensor


def _check_hyperparameter(
    optimizer: str, name: str, value: float, upper: float | None = None
) -> float:
    if not isinstance(value, int | float | np.floating) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{optimizer}: {name} must be a finite number >= 0, got {value!r}")
    if upper is not None and value >= upper:
        raise ValueError(f"{optimizer}: {name} must be < {upper}, got {value!r}")
    return float(value)


class Optimizer:
    """Base class: holds the parameters and per-parameter state.

    ``params`` is an iterable of leaf Tensors, usually ``model.parameters()``.
    Each must appear once: a parameter given twice (two models that share a
    layer, their parameter lists added up) is a ValueError naming both
    positions, where PyTorch only warns, since ``step()`` would update it
    twice. Parameters with ``requires_grad=False`` are accepted, as in
    PyTorch, so a model with frozen layers can pass all of
    ``model.parameters()``; ``step()`` leaves them alone (even if they have a
    ``.grad``) and starts updating them once ``requires_grad`` is True again.
    ``step()`` also skips a parameter whose ``.grad`` is None. A tensor
    computed by an operation (not a leaf) is refused: backward gives it no
    ``.grad``, so it could never be updated.

    >>> import tinygrad_ann as tg
    >>> from tinygrad_ann import nn
    >>> model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    >>> for parameter in model[0].parameters():
    ...     parameter.requires_grad = False  # fine-tune only the last layer
    >>> opt = tg.optim.SGD(model.parameters(), lr=0.1)
    >>> before = model[0].weight.numpy().copy()
    >>> model(tg.ones(4, 2)).sum().backward()
    >>> opt.step()
    >>> bool((model[0].weight.numpy() == before).all())
    True
    """

    def __init__(self, params: Iterable[Tensor], lr: float) -> None:
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(
                f"{name}: expected an iterable of Tensors such as model.parameters(), got a "
                f"single {type(params).__name__}; wrap it in a list: {name}([w], ...)"
            )
        if not isinstance(params, Iterable):
            kind = type(params).__name__
            article = "an" if kind[:1].lower() in "aeiou" else "a"
            raise TypeError(
                f"{name}: expected an iterable of Tensors such as model.parameters(), got "
                f"{article} {kind}"
            )
        self.params: list[Tensor] = list(params)
        if not self.params:
            raise ValueError(
                f"{name}: got an empty parameter list; pass model.parameters() of a model "
                "that has parameters"
            )
        first_position: dict[int, int] = {}
        for index, param in enumerate(self.params):
            _check_parameter(name, index, param, first_position.setdefault(id(param), index))
        self.lr = _check_hyperparameter(name, "lr", lr)
        self.state: list[dict[str, Any]] = [{} for _ in self.params]

    def zero_grad(self) -> None:
        """Drop the gradients of all parameters, frozen ones too (they become ``None``)."""
        for param in self.params:
            param._grad = None  # the slot behind .grad (see step)

    def step(self) -> None:
        """Update every parameter that requires grad and has a gradient."""
        for param, state in zip(self.params, self.state):
            # The slots behind .grad and .data: their properties check assignments, and
            # reading through them costs W1 (two parameters, tiny math) 2% per step.
            grad = param._grad
            if grad is not None and param.requires_grad:
                self._update(param, grad._data, state)

    def _update(self, param: Tensor, grad: np.ndarray, state: dict[str, Any]) -> None:
        raise NotImplementedError

    # ----------------------------------------------------------------- saving
    #: The entries a parameter's state may hold: arrays of the parameter's shape, and counters.
    state_arrays: tuple[str, ...] = ()
    state_counters: tuple[str, ...] = ()

    def hyperparameters(self) -> dict[str, Any]:
        """The settings ``state_dict`` saves beside the state, by their PyTorch names."""
        return {"lr": self.lr}

    def _checked_hyperparameters(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` validated as the constructor would; raises ValueError otherwise."""
        return {"lr": _check_hyperparameter(type(self).__name__, "lr", values["lr"])}

    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state, in PyTorch's layout, as copies.

        ``{"state": {index: {name: value}}, "param_groups": [{**hyperparameters,
        "params": [0, 1, ...]}]}``: one entry per parameter that has state,
        indexed by the parameter's position; arrays as Tensors. Save it with
        ``tg.save`` and restore it with :meth:`load_state_dict` to resume exactly.
        """
        state = {
            index: {
                key: Tensor._wrap(value.copy()) if isinstance(value, np.ndarray) else value
                for key, value in entry.items()
            }
            for index, entry in enumerate(self.state)
            if entry
        }
        group = {**self.hyperparameters(), "params": list(range(len(self.params)))}
        return {"state": state, "param_groups": [group]}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned, into an optimizer over the same parameters.

        Everything is checked first (layout, parameter count, hyperparameter
        names and values, each state array's shape and dtype against its
        parameter); on error nothing changes.
        """
        name = type(self).__name__
        try:
            state, hyperparameters = self._checked_state_dict(state_dict)
        except (KeyError, TypeError, ValueError) as error:
            raise StateDictError(
                f"{name}.load_state_dict: {error} (the optimizer was not changed)"
            ) from None
        self._set_hyperparameters(hyperparameters)
        self.state = state

    def _set_hyperparameters(self, values: Mapping[str, Any]) -> None:
        for key, value in values.items():
            setattr(self, key, value)

    def _checked_state_dict(
        self, state_dict: Mapping[str, Any]
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        if not isinstance(state_dict, Mapping) or set(state_dict) != {"state", "param_groups"}:
            keys = list(state_dict) if isinstance(state_dict, Mapping) else type(state_dict)
            raise ValueError(
                f"expected a dict with the keys 'state' and 'param_groups', got {keys}"
            )
        groups = state_dict["param_groups"]
        if not isinstance(groups, list | tuple) or len(groups) != 1:
            count = len(groups) if isinstance(groups, list | tuple) else type(groups).__name__
            raise ValueError(f"expected one parameter group, got {count}")
        (group,) = groups
        expected = [*self.hyperparameters(), "params"]
        if not isinstance(group, Mapping) or set(group) != set(expected):
            found = sorted(group) if isinstance(group, Mapping) else type(group).__name__
            raise ValueError(f"the parameter group must have the keys {expected}, got {found}")
        if list(group["params"]) != list(range(len(self.params))):
            raise ValueError(
                f"the state dict is for {len(group['params'])} parameters, this optimizer "
                f"has {len(self.params)}"
            )
        hyperparameters = self._checked_hyperparameters(group)
        entries = state_dict["state"]
        if not isinstance(entries, Mapping):
            raise TypeError(f"'state' must be a dict, got {type(entries).__name__}")
        state: list[dict[str, Any]] = [{} for _ in self.params]
        for index, entry in entries.items():
            if type(index) is not int or not 0 <= index < len(self.params):
                raise ValueError(f"state key {index!r} is not a parameter index")
            state[index] = self._checked_entry(index, entry)
        return state, hyperparameters

    def _checked_entry(self, index: int, entry: Any) -> dict[str, Any]:
        param = self.params[index]
        allowed = {*self.state_arrays, *self.state_counters}
        if not isinstance(entry, Mapping) or not entry or not set(entry) <= allowed:
            found = sorted(entry) if isinstance(entry, Mapping) else type(entry).__name__
            raise ValueError(
                f"state of parameter {index}: expected entries among {sorted(allowed)}, got {found}"
            )
        checked: dict[str, Any] = {}
        for key, value in entry.items():
            if key in self.state_counters:
                if type(value) is not int or value < 0:
                    raise ValueError(
                        f"state of parameter {index}: {key} must be an int >= 0, got {value!r}"
                    )
                checked[key] = value
                continue
            array = value.data if isinstance(value, Tensor) else value
            if not isinstance(array, np.ndarray):
                raise TypeError(
                    f"state of parameter {index}: {key} must be an array, got "
                    f"{type(value).__name__}"
                )
            if array.shape != param.shape or array.dtype != param.dtype:
                raise ValueError(
                    f"state of parameter {index}: {key} has shape {array.shape} and dtype "
                    f"{array.dtype}, the parameter {param.shape} and {param.dtype}"
                )
            checked[key] = np.array(array, copy=True)
        return checked


def _check_parameter(optimizer: str, index: int, param: Any, first_position: int) -> None:
    """``param``, at ``index`` of the list, is a leaf Tensor first seen there."""
    if not isinstance(param, Tensor):
        if callable(getattr(param, "parameters", None)):
            raise TypeError(
                f"{optimizer}: parameter {index} is a module ({type(param).__name__}), not a "
                "Tensor; pass model.parameters()"
            )
        raise TypeError(f"{optimizer}: parameter {index} is a {type(param).__name__}, not a Tensor")
    if not param.is_leaf:
        raise ValueError(
            f"{optimizer}: parameter {index} (shape {param.shape}) is not a leaf tensor: it "
            "was computed by an operation, so backward leaves its .grad None and step() could "
            "never change it; pass the tensors it was computed from, or make it a leaf with "
            "x.detach().requires_grad_()"
        )
    if first_position != index:
        raise ValueError(
            f"{optimizer}: parameter {index} is the same Tensor as parameter {first_position} "
            f"(shape {param.shape}); give each parameter once, or step() would update it "
            "twice. For models that share a layer, collect them in one module, whose "
            "parameters() lists a shared parameter once: nn.ModuleList([a, b]).parameters()"
        )


def _subtract_from(param: Tensor, step: np.ndarray) -> None:
    """``param.data -= step``, or a new array while a live graph holds the old one read-only.

    The graph then keeps differentiating the values it was computed with.
    """
    array = param._data  # the slot behind .data (see Optimizer.step)
    try:
        array -= step  # in place: the array is the parameter's, nothing to assign back
    except ValueError:  # read-only (NumPy checks before writing anything)
        param.data = array - step


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum and L2 weight decay.

    ``g = grad + weight_decay * p``; with momentum ``b = momentum * b + g``
    (``b = g`` on the first step) and ``g = b``; then ``p -= lr * g``.
    """

    def __init__(
        self, params: Iterable[Tensor], lr: float, momentum: float = 0.0, weight_decay: float = 0.0
    ) -> None:
        super().__init__(params, lr)
        checked = {"lr": lr, "momentum": momentum, "weight_decay": weight_decay}
        self._set_hyperparameters(self._checked_hyperparameters(checked))

    momentum: float
    weight_decay: float

    state_arrays = ("momentum_buffer",)

    def hyperparameters(self) -> dict[str, Any]:
        return {"lr": self.lr, "momentum": self.momentum, "weight_decay": self.weight_decay}

    def _checked_hyperparameters(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "lr": _check_hyperparameter("SGD", "lr", values["lr"]),
            "momentum": _check_hyperparameter("SGD", "momentum", values["momentum"]),
            "weight_decay": _check_hyperparameter("SGD", "weight_decay", values["weight_decay"]),
        }

    def step(self) -> None:
        if self.momentum or self.weight_decay:
            super().step()
            return
        # Plain gradient descent, the articles' optimizer: _update's work inline, which
        # saves two calls per parameter (a tenth of a small network's step).
        lr = self.lr
        for param in self.params:
            grad = param._grad
            if grad is not None and param.requires_grad:
                _subtract_from(param, lr * grad._data)

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
        checked = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        self._set_hyperparameters(self._checked_hyperparameters(checked))

    betas: tuple[float, float]
    eps: float
    weight_decay: float

    state_arrays = ("exp_avg", "exp_avg_sq")
    state_counters = ("step",)

    def hyperparameters(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "betas": self.betas,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
        }

    def _checked_hyperparameters(self, values: Mapping[str, Any]) -> dict[str, Any]:
        betas = values["betas"]
        if not isinstance(betas, list | tuple) or len(betas) != 2:
            raise ValueError(f"betas must be a pair of numbers, got {betas!r}")
        return {
            "lr": _check_hyperparameter("Adam", "lr", values["lr"]),
            "betas": (
                _check_hyperparameter("Adam", "betas[0]", betas[0], upper=1.0),
                _check_hyperparameter("Adam", "betas[1]", betas[1], upper=1.0),
            ),
            "eps": _check_hyperparameter("Adam", "eps", values["eps"]),
            "weight_decay": _check_hyperparameter("Adam", "weight_decay", values["weight_decay"]),
        }

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
        # The same operations in the same order as the formula (so the same bits), written
        # into two scratch arrays: six temporaries fewer, a third of the update's time.
        scratch = np.multiply(grad, 1 - beta1)
        exp_avg *= beta1
        exp_avg += scratch
        np.multiply(grad, 1 - beta2, out=scratch)
        scratch *= grad
        exp_avg_sq *= beta2
        exp_avg_sq += scratch
        denominator = np.sqrt(exp_avg_sq, out=scratch)
        denominator /= math.sqrt(1 - beta2**step)
        denominator += self.eps
        update = np.multiply(exp_avg, self.lr / (1 - beta1**step))
        update /= denominator
        _subtract_from(param, update)

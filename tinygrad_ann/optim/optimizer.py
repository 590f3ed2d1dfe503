"""The optimizer base class: parameter groups, per-parameter state, and saving them.

The update rules live beside it: ``SGD`` in :mod:`.sgd`, ``Adam`` and ``AdamW``
in :mod:`.adam`.

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

__all__ = ["Optimizer"]

#: Keys the schedulers keep in a parameter group, as PyTorch's do (so their state dicts load).
SCHEDULE_KEYS = ("initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum")
#: Keys of PyTorch's groups that pick an implementation, not the arithmetic: dropped on load.
_IMPLEMENTATION_KEYS = ("foreach", "differentiable", "fused", "capturable")


def check_hyperparameter(
    optimizer: str, name: str, value: Any, upper: float | None = None
) -> float:
    """``value`` as a float, or a ValueError naming the optimizer and the setting."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float | np.floating)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"{optimizer}: {name} must be a finite number >= 0, got {value!r}")
    if upper is not None and value >= upper:
        raise ValueError(f"{optimizer}: {name} must be < {upper}, got {value!r}")
    return float(value)


def check_flag(optimizer: str, name: str, value: Any) -> bool:
    """``value`` if it is a bool, else a ValueError naming the optimizer and the setting."""
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{optimizer}: {name} must be True or False, got {value!r}")
    return bool(value)


class Optimizer:
    """Base class: holds parameter groups and per-parameter state.

    ``params`` is an iterable of leaf Tensors, usually ``model.parameters()``,
    or of dicts, one per parameter group, as in PyTorch:
    ``[{"params": model.body.parameters()}, {"params": model.head.parameters(),
    "lr": 0.1}]``. A group's settings default to the constructor's; a key the
    optimizer does not know (a typo such as ``"learning_rate"``) is a
    ValueError, where PyTorch keeps it silently. ``param_groups`` is the list
    of those dicts, each with its ``"params"`` as a list: edit a group's
    ``"lr"`` and the next ``step()`` uses it. With one group, ``opt.lr`` (and
    every other setting) reads and sets that group's.

    Each parameter must appear once: a parameter given twice (two models that
    share a layer, their parameter lists added up) is a ValueError naming both
    positions, where PyTorch only warns, since ``step()`` would update it
    twice; a parameter in two groups is refused as PyTorch refuses it.
    Parameters with ``requires_grad=False`` are accepted, as in PyTorch, so a
    model with frozen layers can pass all of ``model.parameters()``;
    ``step()`` leaves them alone (even if they have a ``.grad``) and starts
    updating them once ``requires_grad`` is True again. ``step()`` also skips
    a parameter whose ``.grad`` is None. A tensor computed by an operation
    (not a leaf) is refused: backward gives it no ``.grad``, so it could never
    be updated.

    ``state`` holds one dict per parameter, in the order of the groups.
    Subclasses define ``_checked_hyperparameters`` (a group's settings,
    validated) and ``_update(param, grad, state, group)``.

    >>> import tinygrad_ann as tg
    >>> from tinygrad_ann import nn
    >>> model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    >>> opt = tg.optim.SGD(
    ...     [{"params": model[0].parameters(), "lr": 0.0}, {"params": model[2].parameters()}],
    ...     lr=0.1,
    ... )
    >>> [group["lr"] for group in opt.param_groups]
    [0.0, 0.1]
    >>> before = model[0].weight.numpy().copy()
    >>> model(tg.ones(4, 2)).sum().backward()
    >>> opt.step()
    >>> bool((model[0].weight.numpy() == before).all())
    True
    """

    #: The entries a parameter's state may hold: arrays of the parameter's shape, and counters.
    state_arrays: tuple[str, ...] = ()
    state_counters: tuple[str, ...] = ()
    #: Settings added after state dicts were saved without them: their value when missing.
    settings_added_later: dict[str, Any] = {}  # noqa: RUF012 (read-only)

    defaults: dict[str, Any]
    param_groups: list[dict[str, Any]]
    state: list[dict[str, Any]]

    def __init__(self, params: Iterable[Any], lr: float, **defaults: Any) -> None:
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
        entries = list(params)
        if not entries:
            raise ValueError(
                f"{name}: got an empty parameter list; pass model.parameters() of a model "
                "that has parameters"
            )
        object.__setattr__(self, "defaults", self._checked_hyperparameters({"lr": lr, **defaults}))
        self.param_groups = []
        self.state = []
        groups = [isinstance(entry, Mapping) for entry in entries]
        if all(groups):
            for entry in entries:
                self.add_param_group(entry)
        elif any(groups):
            raise TypeError(
                f"{name}: got a mix of Tensors and dicts; give either Tensors (one group) or "
                "one dict per parameter group: [{'params': [...]}, {'params': [...], 'lr': 0.1}]"
            )
        else:
            self.add_param_group({"params": entries})

    # ----------------------------------------------------------------- groups
    def add_param_group(self, param_group: Mapping[str, Any]) -> None:
        """Add ``{"params": tensors, setting: value, ...}``; unset settings take the defaults.

        As ``torch.optim.Optimizer.add_param_group``, e.g. to train a layer
        unfrozen halfway through. Everything is checked before the group is added.

        >>> import tinygrad_ann as tg
        >>> a, b = tg.zeros(2, requires_grad=True), tg.zeros(3, requires_grad=True)
        >>> opt = tg.optim.SGD([a], lr=0.1, momentum=0.9)
        >>> opt.add_param_group({"params": [b], "lr": 0.01})
        >>> [(group["lr"], group["momentum"]) for group in opt.param_groups]
        [(0.1, 0.9), (0.01, 0.9)]
        """
        name = type(self).__name__
        number = len(self.param_groups)
        if not isinstance(param_group, Mapping):
            raise TypeError(
                f"{name}: parameter group {number} must be a dict with a 'params' entry, got "
                f"{type(param_group).__name__}"
            )
        known = ["params", *self.defaults]
        unknown = [key for key in param_group if key not in known and key not in SCHEDULE_KEYS]
        if "params" not in param_group or unknown:
            problem = f"unknown keys {unknown}" if unknown else "no 'params' entry"
            raise ValueError(
                f"{name}: parameter group {number} has {problem}; a group takes 'params' and "
                f"any of {known[1:]}"
            )
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set | frozenset) or not isinstance(params, Iterable):
            raise TypeError(
                f"{name}: parameter group {number}'s 'params' must be a Tensor or an ordered "
                f"iterable of Tensors (a list, model.parameters()), got {type(params).__name__}"
            )
        params = list(params)
        first_position: dict[int, int] = {}
        for index, param in enumerate(self.params):
            first_position.setdefault(id(param), index)
        offset = len(self.state)
        for position, param in enumerate(params, offset):
            first = first_position.setdefault(id(param), position)
            _check_parameter(name, position, param, first, self._group_of(first, number), number)
        settings = {key: param_group.get(key, value) for key, value in self.defaults.items()}
        group: dict[str, Any] = {"params": params, **self._checked_hyperparameters(settings)}
        for key in SCHEDULE_KEYS:
            if key in param_group:
                group[key] = param_group[key]
        self.param_groups.append(group)
        self.state.extend({} for _ in params)

    def _group_of(self, position: int, new_group: int) -> int:
        """The group that holds flat position ``position`` (``new_group`` if past the others)."""
        end = 0
        for number, group in enumerate(self.param_groups):
            end += len(group["params"])
            if position < end:
                return number
        return new_group

    @property
    def params(self) -> list[Tensor]:
        """All parameters, group after group (the positions ``state`` and state dicts use)."""
        return [param for group in self.param_groups for param in group["params"]]

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: a setting, read from the one group.
        if name in self.__dict__.get("defaults", ()):
            groups = self.__dict__["param_groups"]
            if len(groups) == 1:
                return groups[0][name]
            raise AttributeError(
                f"{type(self).__name__} has {len(groups)} parameter groups, each with its own "
                f"{name}: use opt.param_groups[i][{name!r}]"
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self.__dict__.get("defaults", ()):
            object.__setattr__(self, name, value)
            return
        groups = self.param_groups
        if len(groups) != 1:
            raise AttributeError(
                f"{type(self).__name__} has {len(groups)} parameter groups, each with its own "
                f"{name}: set opt.param_groups[i][{name!r}]"
            )
        settings = {key: groups[0][key] for key in self.defaults}
        groups[0][name] = self._checked_hyperparameters({**settings, name: value})[name]

    def hyperparameters(self) -> dict[str, Any]:
        """The one group's settings, by their PyTorch names (``param_groups`` for several)."""
        (group,) = self.param_groups
        return {key: group[key] for key in self.defaults}

    def _checked_hyperparameters(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """A group's settings validated as the constructor validates them; ValueError otherwise."""
        return {"lr": check_hyperparameter(type(self).__name__, "lr", values["lr"])}

    # ----------------------------------------------------------------- steps
    def zero_grad(self) -> None:
        """Drop the gradients of all parameters, frozen ones too (they become ``None``)."""
        for group in self.param_groups:
            for param in group["params"]:
                param._grad = None  # the slot behind .grad (see step)

    def step(self) -> None:
        """Update every parameter that requires grad and has a gradient."""
        states = iter(self.state)
        for group in self.param_groups:
            for param, state in zip(group["params"], states):
                # The slots behind .grad and .data: their properties check assignments, and
                # reading through them costs W1 (two parameters, tiny math) 2% per step.
                grad = param._grad
                if grad is not None and param.requires_grad:
                    self._update(param, grad._data, state, group)

    def _update(
        self, param: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        raise NotImplementedError

    # ----------------------------------------------------------------- saving
    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state, in PyTorch's layout, as copies.

        ``{"state": {index: {name: value}}, "param_groups": [{**settings,
        "params": [0, 1, ...]}, ...]}``: one entry per parameter that has
        state, indexed by the parameter's position over all groups; arrays as
        Tensors. Save it with ``tg.save`` and restore it with
        :meth:`load_state_dict` to resume exactly.
        """
        state = {
            index: {
                key: Tensor._wrap(value.copy()) if isinstance(value, np.ndarray) else value
                for key, value in entry.items()
            }
            for index, entry in enumerate(self.state)
            if entry
        }
        groups, start = [], 0
        for group in self.param_groups:
            count = len(group["params"])
            packed = {key: value for key, value in group.items() if key != "params"}
            groups.append({**packed, "params": list(range(start, start + count))})
            start += count
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned, into an optimizer over the same parameters.

        A state dict saved by PyTorch for the same model and optimizer loads
        too (its tensors converted to arrays or Tensors, e.g. with
        ``tg.tensor(t.numpy())``); its implementation switches (``foreach``,
        ``fused``, ...) are dropped. Everything is checked first (layout, group
        and parameter counts, setting names and values, each state array's
        shape and dtype against its parameter); on error nothing changes.
        """
        name = type(self).__name__
        try:
            state, settings = self._checked_state_dict(state_dict)
        except (KeyError, TypeError, ValueError) as error:
            raise StateDictError(
                f"{name}.load_state_dict: {error} (the optimizer was not changed)"
            ) from None
        for group, values in zip(self.param_groups, settings):
            params = group["params"]
            group.clear()
            group.update(params=params, **values)
        self.state = state

    def _pytorch_flags(self) -> dict[str, Any]:
        """PyTorch group keys whose value must be this one here (then they are dropped)."""
        return {"maximize": False}

    def _checked_state_dict(
        self, state_dict: Mapping[str, Any]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        if not isinstance(state_dict, Mapping) or set(state_dict) != {"state", "param_groups"}:
            keys = list(state_dict) if isinstance(state_dict, Mapping) else type(state_dict)
            raise ValueError(
                f"expected a dict with the keys 'state' and 'param_groups', got {keys}"
            )
        groups = state_dict["param_groups"]
        count = len(self.param_groups)
        if not isinstance(groups, list | tuple) or len(groups) != count:
            found = len(groups) if isinstance(groups, list | tuple) else type(groups).__name__
            expected = "one parameter group" if count == 1 else f"{count} parameter groups"
            raise ValueError(f"expected {expected}, got {found}")
        settings, start = [], 0
        for number, (group, saved) in enumerate(zip(self.param_groups, groups)):
            which = "the parameter group" if count == 1 else f"parameter group {number}"
            settings.append(self._checked_group(which, saved))
            size = len(group["params"])
            if list(saved["params"]) != list(range(start, start + size)):
                raise ValueError(
                    f"{which} of the state dict is for {len(saved['params'])} parameters, this "
                    f"optimizer's has {size}"
                    if count > 1
                    else f"the state dict is for {len(saved['params'])} parameters, this "
                    f"optimizer has {size}"
                )
            start += size
        entries = state_dict["state"]
        if not isinstance(entries, Mapping):
            raise TypeError(f"'state' must be a dict, got {type(entries).__name__}")
        params = self.params
        state: list[dict[str, Any]] = [{} for _ in params]
        for index, entry in entries.items():
            if type(index) is not int or not 0 <= index < len(params):
                raise ValueError(f"state key {index!r} is not a parameter index")
            state[index] = self._checked_entry(index, params[index], entry)
        return state, settings

    def _checked_group(self, which: str, saved: Any) -> dict[str, Any]:
        expected = [*self.defaults, "params"]
        flags = self._pytorch_flags()
        optional = {*SCHEDULE_KEYS, *_IMPLEMENTATION_KEYS, *flags}
        if (
            not isinstance(saved, Mapping)
            or not set(expected) <= {*saved, *self.settings_added_later}
            or not set(saved) <= {*expected, *optional}
        ):
            found = sorted(saved) if isinstance(saved, Mapping) else type(saved).__name__
            raise ValueError(f"{which} must have the keys {expected}, got {found}")
        saved = {**self.settings_added_later, **saved}
        for key, value in flags.items():
            if key in saved and saved[key] != value:
                raise ValueError(
                    f"{which} has {key}={saved[key]!r}; {type(self).__name__} here implements "
                    f"{key}={value!r} only"
                )
        values = self._checked_hyperparameters(saved)
        values.update((key, saved[key]) for key in SCHEDULE_KEYS if key in saved)
        return values

    def _checked_entry(self, index: int, param: Tensor, entry: Any) -> dict[str, Any]:
        allowed = {*self.state_arrays, *self.state_counters}
        if isinstance(entry, Mapping):  # PyTorch keeps None for a buffer it has not made
            entry = {key: value for key, value in entry.items() if value is not None}
        if not isinstance(entry, Mapping) or not entry or not set(entry) <= allowed:
            found = sorted(entry) if isinstance(entry, Mapping) else type(entry).__name__
            raise ValueError(
                f"state of parameter {index}: expected entries among {sorted(allowed)}, got {found}"
            )
        checked: dict[str, Any] = {}
        for key, value in entry.items():
            if key in self.state_counters:
                checked[key] = _checked_counter(index, key, value)
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


def _checked_counter(index: int, key: str, value: Any) -> int:
    """A step count: an int, or PyTorch's whole-number 0-d tensor (as a Tensor or array)."""
    if isinstance(value, Tensor | np.ndarray) and value.shape == ():
        number = float(value.data if isinstance(value, Tensor) else value)
        if number.is_integer() and number >= 0:
            return int(number)
    if type(value) is not int or value < 0:
        raise ValueError(f"state of parameter {index}: {key} must be an int >= 0, got {value!r}")
    return value


def _check_parameter(
    optimizer: str, index: int, param: Any, first_position: int, first_group: int, group: int
) -> None:
    """``param``, at flat ``index`` in ``group``, is a leaf Tensor first seen there."""
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
    if first_position == index:
        return
    if first_group != group:
        raise ValueError(
            f"{optimizer}: parameter {index} (shape {param.shape}), in parameter group {group}, "
            f"is already in parameter group {first_group} as parameter {first_position}; a "
            "parameter can belong to one group only, as in PyTorch"
        )
    raise ValueError(
        f"{optimizer}: parameter {index} is the same Tensor as parameter {first_position} "
        f"(shape {param.shape}); give each parameter once, or step() would update it "
        "twice. For models that share a layer, collect them in one module, whose "
        "parameters() lists a shared parameter once: nn.ModuleList([a, b]).parameters()"
    )

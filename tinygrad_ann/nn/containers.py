"""Containers that register what they hold: ``Sequential``, ``ModuleList``, ``ModuleDict``,
``ParameterList`` and ``ParameterDict``, with PyTorch's names and behaviour.

A Module registers the Modules and Parameters its attributes hold, not what a plain list,
tuple or dict holds; assigning such a container raises instead (``Module``'s docstring).
Each container here is a Module whose items are its attributes, named by position
(``"0"``, ``"1"``, ...) or by key, so state-dict names are PyTorch's: ``hidden.0.weight``,
``heads.label.bias``. ``train()``, ``eval()``, ``to()``, hooks, ``state_dict()`` and
``load_state_dict()`` reach the items as they reach any sub-module.
"""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar, Generic, TypeVar, overload

import numpy as np

from ..tensor import Tensor
from .module import _BOOKKEEPING, Module, Parameter, _a_type, _check_attribute_name

__all__ = ["ModuleDict", "ModuleList", "ParameterDict", "ParameterList"]

_Item = TypeVar("_Item", Module, Parameter)
_List = TypeVar("_List", bound="_ListContainer[Any]")


class _ListContainer(Module, Generic[_Item]):
    """Items kept as the attributes ``"0"``, ``"1"``, ... in order; the base of the two lists."""

    #: The class of the items, and the names the messages use.
    item_class: ClassVar[type[Any]]
    item_noun: ClassVar[str]
    keyed_class: ClassVar[str]

    def __init__(self, items: Iterable[Any] | None = None) -> None:
        super().__init__()
        if items is not None:
            for item in self._checked_all(items, type(self).__name__):
                object.__setattr__(self, str(len(self)), item)

    def _checked(self, value: Any, where: str) -> _Item:
        raise NotImplementedError

    def _checked_all(self, items: Any, where: str) -> list[_Item]:
        noun = self.item_noun
        if isinstance(items, Mapping | _DictContainer):
            raise TypeError(
                f"{where}: got {_a_type(items)}, whose iteration gives its keys; use an "
                f"nn.{self.keyed_class} for named {noun}s, or pass list(items.values())"
            )
        if isinstance(items, Tensor | np.ndarray) or not isinstance(items, Iterable):
            hint = ""
            if isinstance(items, self.item_class):
                hint = f"; wrap a single {noun} in a list: nn.{type(self).__name__}([{noun}])"
            raise TypeError(
                f"{where}: expected an iterable of {noun}s (e.g. a list), got "
                f"{_a_type(items)}{hint}"
            )
        return [self._checked(item, f"{where}: item {i}") for i, item in enumerate(items)]

    def _items(self) -> list[_Item]:
        return [value for value in vars(self).values() if isinstance(value, self.item_class)]

    def _replace_all(self, items: list[_Item]) -> None:
        """Renumber: the items become ``"0"`` ... ``"n-1"`` in the order given."""
        state = self.__dict__
        for key in [key for key, value in state.items() if isinstance(value, self.item_class)]:
            del state[key]
        for index, item in enumerate(items):
            object.__setattr__(self, str(index), item)

    def _integer(self, index: Any) -> int:
        try:
            return operator.index(index)
        except TypeError:
            raise TypeError(
                f"{type(self).__name__} indices must be integers or slices, not "
                f"{type(index).__name__}"
            ) from None

    def _position(self, index: Any, count: int) -> int:
        """``index`` (negative counts from the end) as a position in ``range(count)``."""
        name = type(self).__name__
        position = self._integer(index)
        if not -count <= position < count:
            plural = "" if count == 1 else "s"
            raise IndexError(
                f"{name} index {index} is out of range for {count} {self.item_noun}{plural}"
            )
        return position % count

    def __setattr__(self, name: str, value: Any) -> None:
        index = int(name) if name.isdecimal() and name == str(int(name)) else None
        if index is None and not isinstance(value, self.item_class):
            super().__setattr__(name, value)
            return
        kind = type(self).__name__
        if index is None:
            raise TypeError(
                f"{kind}: cannot add {_a_type(value)} as attribute {name!r}; append it with "
                f".append(...), or use an nn.{self.keyed_class} to name {self.item_noun}s"
            )
        if index >= len(self):
            raise TypeError(
                f"{kind}: cannot set item {name!r} of {len(self)} {self.item_noun}s; append or "
                "insert it"
            )
        object.__setattr__(self, name, self._checked(value, f"{kind}[{index}] = ..."))

    def __delattr__(self, name: str) -> None:
        if name.isdecimal() and name == str(int(name)):
            del self[int(name)]  # renumbers, as ``del items[i]`` does
        else:
            super().__delattr__(name)

    def __len__(self) -> int:
        return len(self._items())

    def __iter__(self) -> Iterator[_Item]:
        return iter(self._items())

    @overload
    def __getitem__(self, index: int) -> _Item: ...

    @overload
    def __getitem__(self: _List, index: slice) -> _List: ...

    def __getitem__(self, index: Any) -> Any:
        items = self._items()
        if isinstance(index, slice):
            return type(self)(items[index])
        return items[self._position(index, len(items))]

    def __setitem__(self, index: int, value: Any) -> None:
        kind = type(self).__name__
        if isinstance(index, slice):
            raise TypeError(
                f"{kind}: assign one {self.item_noun} at a time (items[i] = {self.item_noun}), "
                "not a slice; use del, insert() and extend() to change several"
            )
        position = self._position(index, len(self))
        object.__setattr__(self, str(position), self._checked(value, f"{kind}[{index}] = ..."))

    def __delitem__(self, index: int | slice) -> None:
        items = self._items()
        if isinstance(index, slice):
            removed = set(range(len(items))[index])
        else:
            removed = {self._position(index, len(items))}
        self._replace_all([item for i, item in enumerate(items) if i not in removed])

    def append(self: _List, value: Any) -> _List:
        """Add ``value`` at the end; returns the list."""
        checked = self._checked(value, f"{type(self).__name__}.append")
        object.__setattr__(self, str(len(self)), checked)
        return self

    def extend(self: _List, values: Iterable[Any]) -> _List:
        """Add every item of ``values`` at the end (all are checked first); returns the list."""
        for item in self._checked_all(values, f"{type(self).__name__}.extend"):
            object.__setattr__(self, str(len(self)), item)
        return self

    def insert(self, index: int, value: Any) -> None:
        """Insert ``value`` before ``index``, as ``list.insert`` does; later items move up."""
        checked = self._checked(value, f"{type(self).__name__}.insert")
        items = self._items()
        items.insert(self._integer(index), checked)
        self._replace_all(items)

    def pop(self, index: int = -1) -> _Item:
        """Remove the item at ``index`` (the last by default) and return it."""
        item = self[index]
        del self[index]
        return item

    def __iadd__(self: _List, values: Iterable[Any]) -> _List:
        return self.extend(values)

    def __add__(self: _List, values: Iterable[Any]) -> _List:
        return type(self)([*self, *self._checked_all(values, f"{type(self).__name__} + ...")])


class _DictContainer(Module, Generic[_Item]):
    """Items kept as attributes named by their keys, in insertion order; the base of the dicts."""

    item_class: ClassVar[type[Any]]
    item_noun: ClassVar[str]

    def __init__(self, items: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None) -> None:
        super().__init__()
        if items is not None:
            self._update(items, type(self).__name__)

    def _checked(self, value: Any, where: str) -> _Item:
        raise NotImplementedError

    def _checked_key(self, key: Any) -> str:
        kind = type(self).__name__
        if not isinstance(key, str):
            raise TypeError(f"{kind}: keys must be strings, got {key!r} ({type(key).__name__})")
        if not key or "." in key:
            raise KeyError(
                f"{kind}: key {key!r} must be non-empty and without '.' (it becomes part of "
                "the state-dict names)"
            )
        state = self.__dict__
        if not isinstance(state.get(key), self.item_class) and (
            key in state or key in _BOOKKEEPING or hasattr(type(self), key)
        ):
            raise KeyError(
                f"{kind}: key {key!r} would hide the attribute {kind}.{key}; choose another key"
            )
        return key

    def _item(self, key: str, value: Any) -> _Item:
        return self._checked(value, f"{type(self).__name__}[{key!r}] = ...")

    def _update(self, items: Any, where: str) -> None:
        if isinstance(items, Mapping | _DictContainer):
            pairs = list(items.items())
        elif isinstance(items, Iterable) and not isinstance(items, str | Tensor | np.ndarray):
            pairs = []
            for i, element in enumerate(items):
                if not isinstance(element, list | tuple) or len(element) != 2:
                    raise TypeError(
                        f"{where}: element {i} is not a (key, {self.item_noun}) pair: {element!r}"
                    )
                pairs.append((element[0], element[1]))
        else:
            raise TypeError(
                f"{where}: expected a dict of {self.item_noun}s or an iterable of (key, "
                f"{self.item_noun}) pairs, got {_a_type(items)}"
            )
        checked = [(self._checked_key(key), self._item(key, value)) for key, value in pairs]
        for key, value in checked:
            object.__setattr__(self, key, value)

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, self.item_class) or isinstance(
            self.__dict__.get(name), self.item_class
        ):
            self[name] = value
        else:
            super().__setattr__(name, value)

    def __getitem__(self, key: str) -> _Item:
        if key not in self:
            raise KeyError(f"{type(self).__name__} has no key {key!r}; its keys are {self.keys()}")
        value: _Item = self.__dict__[key]
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        key = self._checked_key(key)
        object.__setattr__(self, key, self._item(key, value))

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(f"{type(self).__name__} has no key {key!r}; its keys are {self.keys()}")
        del self.__dict__[key]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and isinstance(self.__dict__.get(key), self.item_class)

    def __len__(self) -> int:
        return len(self.keys())

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def keys(self) -> list[str]:
        """The keys, in insertion order."""
        return [key for key, _ in self.items()]

    def values(self) -> list[_Item]:
        """The items, in insertion order."""
        return [value for _, value in self.items()]

    def items(self) -> list[tuple[str, _Item]]:
        """``(key, item)`` pairs, in insertion order."""
        return [
            (key, value) for key, value in vars(self).items() if isinstance(value, self.item_class)
        ]

    def update(self, items: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> None:
        """Add or replace the items of a dict, a container of the same kind, or (key, item)
        pairs; everything is checked before anything is added."""
        self._update(items, f"{type(self).__name__}.update")

    def pop(self, key: str) -> _Item:
        """Remove the item under ``key`` and return it."""
        value = self[key]
        del self[key]
        return value

    def clear(self) -> None:
        """Remove every item."""
        for key in self.keys():
            del self[key]


class ModuleList(_ListContainer[Module]):
    """Modules in a list, registered under their positions: ``hidden.0.weight``, ``hidden.1.bias``.

    A list (``append``, ``extend``, ``insert``, ``pop``, indexing with negative
    indices and slices, ``len``, iteration, ``items[i] = module``, ``del
    items[i]``, ``+=``) whose modules are sub-modules: ``parameters()``,
    ``state_dict()``, ``train()``/``eval()``, ``to()`` and hooks reach them. Deleting or
    inserting renumbers the later modules, as in PyTorch. It has no ``forward``;
    call its modules in yours (or use ``nn.Sequential``, which does).

    A plain list of modules assigned to a Module attribute raises a TypeError
    that points here, instead of leaving the modules unregistered as PyTorch
    does: a model whose layers no optimizer sees trains silently wrong, so the
    mistake is refused where it is made rather than warned about.

    >>> import tinygrad_ann as tg
    >>> from tinygrad_ann import nn
    >>> class Deep(nn.Module):
    ...     def __init__(self, sizes):
    ...         super().__init__()
    ...         self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
    ...     def forward(self, x):
    ...         for layer in self.hidden:
    ...             x = layer(x).tanh()
    ...         return x
    >>> model = Deep([2, 4, 1])
    >>> list(model.state_dict())
    ['hidden.0.weight', 'hidden.0.bias', 'hidden.1.weight', 'hidden.1.bias']
    >>> model(tg.ones(3, 2)).shape
    (3, 1)
    """

    item_class = Module
    item_noun = "module"
    keyed_class = "ModuleDict"

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__(modules)

    def _checked(self, value: Any, where: str) -> Module:
        if isinstance(value, Module):
            return value
        hint = " (parameters go in an nn.ParameterList)" if isinstance(value, Parameter) else ""
        raise TypeError(f"{where}: expected a Module, got {_a_type(value)}{hint}")

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            "ModuleList is a container, not a layer: it has no forward(). Call its modules in "
            "your forward (for layer in self.layers: x = layer(x)), or use nn.Sequential, which "
            "does"
        )

    def __repr__(self) -> str:
        # PyTorch's: runs of modules with the same repr are shown once, as "(0-2): 3 x ...".
        reprs = [repr(module) for module in self]
        if not reprs:
            return "ModuleList()"
        runs: list[list[Any]] = []
        for index, text in enumerate(reprs):
            if runs and runs[-1][2] == text:
                runs[-1][1] = index
            else:
                runs.append([index, index, text])
        lines = ["ModuleList("]
        for first, last, text in runs:
            label = f"({first}): " if first == last else f"({first}-{last}): {last - first + 1} x "
            lines.append("  " + label + text.replace("\n", "\n  "))
        lines.append(")")
        return "\n".join(lines)


class ModuleDict(_DictContainer[Module]):
    """Modules in a dict, registered under their keys: ``heads.label.weight``.

    A dict (``d[key]``, ``d[key] = module``, ``del d[key]``, ``in``, ``len``,
    iteration over the keys, ``keys()``, ``values()``, ``items()``, ``update()``,
    ``pop()``, ``clear()``) in insertion order, whose modules are sub-modules.
    Keys are strings without ``'.'`` that are not already attributes of the
    container (``'training'``, ``'keys'``, ...): each module is also reachable
    as ``d.key``. It has no ``forward``; call its modules in yours.

    A plain dict of modules assigned to a Module attribute raises a TypeError
    that points here, instead of leaving the modules unregistered as PyTorch
    does (see ``ModuleList`` for why it raises rather than warns).

    >>> import tinygrad_ann as tg
    >>> from tinygrad_ann import nn
    >>> heads = nn.ModuleDict({"label": nn.Linear(4, 3), "box": nn.Linear(4, 2)})
    >>> list(heads.state_dict())
    ['label.weight', 'label.bias', 'box.weight', 'box.bias']
    >>> {key: head(tg.ones(1, 4)).shape for key, head in heads.items()}
    {'label': (1, 3), 'box': (1, 2)}
    """

    item_class = Module
    item_noun = "module"

    def __init__(
        self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None
    ) -> None:
        super().__init__(modules)

    def _checked(self, value: Any, where: str) -> Module:
        if isinstance(value, Module):
            return value
        hint = ""
        if value is None:
            hint = "; to remove a key, del modules[key]"
        elif isinstance(value, Parameter):
            hint = " (parameters go in an nn.ParameterDict)"
        raise TypeError(f"{where}: expected a Module, got {_a_type(value)}{hint}")

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            "ModuleDict is a container, not a layer: it has no forward(). Call its modules by "
            "key in your forward (self.heads['name'](x))"
        )


def _as_parameter(value: Any, where: str) -> Parameter:
    """A Parameter as it is; a Tensor or array copied into a new one, as PyTorch wraps tensors."""
    if isinstance(value, Parameter):
        return value
    if isinstance(value, Tensor | np.ndarray):
        return Parameter(value)
    raise TypeError(
        f"{where}: expected a Parameter (or a Tensor or array to make one), got {_a_type(value)}"
    )


def _parameter_lines(kind: str, pairs: list[tuple[str, Parameter]]) -> str:
    if not pairs:
        return f"{kind}()"
    lines = [f"{kind}("]
    for key, parameter in pairs:
        size = "x".join(str(length) for length in parameter.shape)
        lines.append(f"  ({key}): Parameter containing: [{parameter.dtype} of size {size}]")
    lines.append(")")
    return "\n".join(lines)


class ParameterList(_ListContainer[Parameter]):
    """Parameters in a list, registered under their positions: ``weights.0``, ``weights.1``.

    The list operations of ``ModuleList``; a Tensor or array given as an item
    is copied into a new Parameter, as in PyTorch. A plain list of Parameters
    assigned to a Module attribute raises a TypeError that points here.

    >>> import numpy as np
    >>> from tinygrad_ann import nn
    >>> weights = nn.ParameterList([np.ones(3), nn.Parameter(np.zeros(2))])
    >>> [name for name, _ in weights.named_parameters()]
    ['0', '1']
    """

    item_class = Parameter
    item_noun = "parameter"
    keyed_class = "ParameterDict"

    def __init__(self, values: Iterable[Any] | None = None) -> None:
        super().__init__(values)

    def _checked(self, value: Any, where: str) -> Parameter:
        return _as_parameter(value, where)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            "ParameterList is a container, not a layer: it has no forward(). Use its "
            "parameters in your forward (self.weights[0])"
        )

    def __repr__(self) -> str:
        return _parameter_lines("ParameterList", [(str(i), p) for i, p in enumerate(self)])


class ParameterDict(_DictContainer[Parameter]):
    """Parameters in a dict, registered under their keys: ``scales.low``.

    The dict operations of ``ModuleDict``; a Tensor or array given as a value
    is copied into a new Parameter, as in PyTorch. A plain dict of Parameters
    assigned to a Module attribute raises a TypeError that points here.

    >>> import numpy as np
    >>> from tinygrad_ann import nn
    >>> scales = nn.ParameterDict({"low": np.ones(1), "high": np.full(1, 2.0)})
    >>> list(scales.state_dict())
    ['low', 'high']
    """

    item_class = Parameter
    item_noun = "parameter"

    def __init__(self, values: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None) -> None:
        super().__init__(values)

    def _checked(self, value: Any, where: str) -> Parameter:
        return _as_parameter(value, where)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            "ParameterDict is a container, not a layer: it has no forward(). Use its "
            "parameters in your forward (self.scales['name'])"
        )

    def __repr__(self) -> str:
        return _parameter_lines("ParameterDict", self.items())


class Sequential(Module):
    """Modules applied in order; their parameters are named ``0.weight``, ``1.bias``, ...

    >>> from tinygrad_ann import nn
    >>> model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    >>> [name for name, _ in model.named_parameters()]
    ['0.weight', '0.bias', '2.weight', '2.bias']

    Given one ``collections.OrderedDict``, its keys name the layers, as in PyTorch:

    >>> from collections import OrderedDict
    >>> model = nn.Sequential(OrderedDict(hidden=nn.Linear(2, 3), act=nn.Tanh()))
    >>> list(model.state_dict())
    ['hidden.weight', 'hidden.bias']
    """

    def __init__(self, *modules: Module | OrderedDict[str, Module]) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], dict):
            self._add_named(modules[0])
            return
        for index, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(
                    f"Sequential: argument {index} is a {type(module).__name__}, not a Module"
                )
            setattr(self, str(index), module)

    def _add_named(self, layers: dict[str, Module]) -> None:
        if not isinstance(layers, OrderedDict):
            raise TypeError(
                "Sequential: layers given by name must come in a collections.OrderedDict, as "
                "PyTorch requires: nn.Sequential(OrderedDict(...)); got a dict"
            )
        for name, module in layers.items():
            _check_attribute_name("Sequential", name)
            if not isinstance(module, Module):
                raise TypeError(
                    f"Sequential: layer {name!r} is a {type(module).__name__}, not a Module"
                )
            setattr(self, name, module)

    def __len__(self) -> int:
        return sum(1 for _ in self.children())

    def __iter__(self) -> Iterator[Module]:
        return self.children()

    @overload
    def __getitem__(self, index: int) -> Module: ...

    @overload
    def __getitem__(self, index: slice) -> Sequential: ...

    def __getitem__(self, index: int | slice) -> Module | Sequential:
        """``model[i]`` is the i-th layer; ``model[a:b]`` a Sequential of those layers (the
        same modules, under their names), as in PyTorch."""
        named = self._named_layers()
        if isinstance(index, slice):
            return Sequential(OrderedDict(named[index]))
        return named[self._position(index, len(named))][1]

    def __setitem__(self, index: int, module: Module) -> None:
        """``model[i] = layer`` replaces the i-th layer (negative from the end), as in PyTorch."""
        named = self._named_layers()
        position = self._position(index, len(named))
        if not isinstance(module, Module):
            raise TypeError(
                f"Sequential: layer {index} must be a Module, got {type(module).__name__}"
            )
        setattr(self, named[position][0], module)

    def _named_layers(self) -> list[tuple[str, Module]]:
        return [(name, value) for name, value in vars(self).items() if isinstance(value, Module)]

    @staticmethod
    def _position(index: Any, count: int) -> int:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"Sequential: index with an int or a slice, not {index!r}")
        if not -count <= index < count:
            raise IndexError(
                f"Sequential: index {index} is out of range for {count} layers "
                f"(from {-count} to {count - 1})"
            )
        return int(index)

    def append(self, module: Module) -> Sequential:
        """Add ``module`` at the end (named by its position), as PyTorch's ``append``."""
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.append: expected a Module, got {type(module).__name__}")
        setattr(self, str(len(self)), module)
        return self

    def forward(self, x: Any) -> Any:
        # children(), unrolled: two generators a call cost W2 (a 2-50-2 net) 2% of its step.
        for module in vars(self).values():
            if isinstance(module, Module):
                x = module(x)
        return x

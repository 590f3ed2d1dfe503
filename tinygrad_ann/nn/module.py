"""``Module``, ``Parameter`` and ``Sequential``: models as trees of named parameters."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from ..autograd import ModuleScope, RemovableHandle, _hook_keys
from ..errors import ShapeError, StateDictError
from ..tensor import Tensor, _to_array


class Parameter(Tensor):
    """A Tensor that a Module registers as trainable (``requires_grad`` by default)."""

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True, dtype: Any = None) -> None:
        super().__init__(data, requires_grad=requires_grad, dtype=dtype)

    def __repr__(self) -> str:
        return "Parameter(" + super().__repr__()[len("Tensor(") :]


class Module:
    """Base class of models and layers.

    Parameters and sub-modules are registered by assigning them as attributes;
    ``parameters()`` and ``named_parameters()`` find them in assignment order,
    with dotted names (``hidden.weight``). Calling a module calls ``forward``.

    >>> import tinygrad_ann as tg
    >>> from tinygrad_ann import nn
    >>> class TwoLayer(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.hidden = nn.Linear(2, 4)
    ...         self.out = nn.Linear(4, 1)
    ...     def forward(self, x):
    ...         return self.out(self.hidden(x).tanh())
    >>> [name for name, _ in TwoLayer().named_parameters()]
    ['hidden.weight', 'hidden.bias', 'out.weight', 'out.bias']
    """

    training: bool

    def __init__(self) -> None:
        self.training = True

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        outer = ModuleScope.current
        ModuleScope.current = (*outer, self)
        try:
            hooks = self.__dict__.get("_forward_hooks")
            if hooks is None:  # the common case: no hooks were ever registered
                return self.forward(*args, **kwargs)
            return self._call_with_hooks(hooks, args, kwargs)
        finally:
            ModuleScope.current = outer

    def _call_with_hooks(
        self, hooks: dict[str, dict[int, Callable[..., Any]]], args: tuple[Any, ...], kwargs: Any
    ) -> Any:
        for hook in list(hooks["pre"].values()):
            replaced = hook(self, args)
            if replaced is not None:
                args = replaced if isinstance(replaced, tuple) else (replaced,)
        output = self.forward(*args, **kwargs)
        for hook in list(hooks["post"].values()):
            replaced = hook(self, args, output)
            if replaced is not None:
                output = replaced
        return output

    def register_forward_pre_hook(
        self, hook: Callable[[Module, tuple[Any, ...]], Any]
    ) -> RemovableHandle:
        """Call ``hook(module, inputs)`` before each ``forward``; it may return new inputs.

        ``inputs`` is the tuple of positional arguments; a returned tuple replaces
        it, a single value becomes the only argument, None keeps it. Returns a
        handle whose ``remove()`` takes the hook off.
        """
        return self._register_hook("pre", hook)

    def register_forward_hook(
        self, hook: Callable[[Module, tuple[Any, ...], Any], Any]
    ) -> RemovableHandle:
        """Call ``hook(module, inputs, output)`` after each ``forward``; it may return a new output.

        >>> import tinygrad_ann as tg
        >>> from tinygrad_ann import nn
        >>> layer = nn.Linear(3, 2)
        >>> shapes = []
        >>> handle = layer.register_forward_hook(lambda m, inputs, out: shapes.append(out.shape))
        >>> _ = layer(tg.ones(4, 3))
        >>> shapes
        [(4, 2)]
        >>> handle.remove()
        """
        return self._register_hook("post", hook)

    def _register_hook(self, kind: str, hook: Callable[..., Any]) -> RemovableHandle:
        if not callable(hook):
            raise TypeError(f"expected a function as the hook, got {type(hook).__name__}")
        # Not an attribute set in __init__: subclasses that skip super().__init__() work too,
        # and a module without hooks pays one dict lookup per call.
        hooks = self.__dict__.setdefault("_forward_hooks", {"pre": {}, "post": {}})
        key = next(_hook_keys)
        hooks[kind][key] = hook
        return RemovableHandle(hooks[kind], key)

    # ----------------------------------------------------------------- the tree
    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value

    def children(self) -> Iterator[Module]:
        for _, child in self.named_children():
            yield child

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every sub-module, depth first, with dotted names."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [
                (f"{name}.{child_name}" if name else child_name, child)
                for child_name, child in module.named_children()
            ]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Every parameter once, named by its attribute path (``0.weight``, ``out.bias``)."""
        seen: set[int] = set()
        for module_name, module in self.named_modules(prefix):
            for name, value in vars(module).items():
                if isinstance(value, Parameter) and id(value) not in seen:
                    seen.add(id(value))
                    yield (f"{module_name}.{name}" if module_name else name), value

    def parameters(self) -> Iterator[Parameter]:
        for _, parameter in self.named_parameters():
            yield parameter

    # ----------------------------------------------------------------- state
    def zero_grad(self) -> None:
        """Drop the gradients of all parameters (they become ``None``)."""
        for parameter in self.parameters():
            parameter.grad = None

    def train(self, mode: bool = True) -> Module:
        """Set ``training`` on this module and all sub-modules; returns self."""
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """Same as ``train(False)``."""
        return self.train(False)

    def to(self, dtype: Any) -> Module:
        """Convert every parameter to the float ``dtype`` in place; returns self."""
        resolved = np.dtype(dtype)
        if resolved.kind != "f":
            raise TypeError(f"Module.to: expected a floating dtype, got {resolved}")
        for parameter in self.parameters():
            parameter.data = parameter.data.astype(resolved)
            parameter.grad = None
        return self

    def state_dict(self) -> dict[str, Tensor]:
        """A dict of parameter name to a copy of the parameter, as a Tensor.

        The names and shapes are PyTorch's for the same architecture (e.g.
        ``0.weight`` of shape (out_features, in_features) for a ``Linear`` first in
        a ``Sequential``), so ``tg.save(model.state_dict(), path)`` writes a file
        that ``torch.nn`` models load (docs/interop.md).
        """
        return {
            name: Tensor._wrap(parameter.data.copy()) for name, parameter in self.named_parameters()
        }

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> None:
        """Copy arrays into the parameters of the same names.

        Everything is checked before anything is written: with ``strict``,
        missing or unexpected keys are an error, and a shape mismatch always
        is; on error the model is unchanged.
        """
        parameters = dict(self.named_parameters())
        missing = [name for name in parameters if name not in state_dict]
        unexpected = [name for name in state_dict if name not in parameters]
        problems = []
        if strict and missing:
            problems.append(f"missing keys {missing}")
        if strict and unexpected:
            problems.append(f"unexpected keys {unexpected}")
        arrays = {}
        for name, value in state_dict.items():
            if name not in parameters:
                continue
            array = _to_array(value, dtype=parameters[name].dtype)
            if array.shape != parameters[name].shape:
                problems.append(
                    f"{name}: shape {array.shape} in the state dict, {parameters[name].shape} "
                    "in the model"
                )
            arrays[name] = array
        if problems:
            raise StateDictError(
                f"load_state_dict into {type(self).__name__}: "
                + "; ".join(problems)
                + " (the model was not changed)"
            )
        for name, array in arrays.items():
            parameters[name].data = array

    # ----------------------------------------------------------------- printing
    def extra_repr(self) -> str:
        """The text inside this module's parentheses in its repr."""
        return ""

    def short_repr(self) -> str:
        """A one-line description, used to label the module's part of a graph drawing."""
        return f"{type(self).__name__}({self.extra_repr()})"

    def __repr__(self) -> str:
        children = list(self.named_children())
        if not children:
            return Module.short_repr(self)
        lines = [f"{type(self).__name__}("]
        for name, child in children:
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        lines.append(")")
        return "\n".join(lines)


class Sequential(Module):
    """Modules applied in order; their parameters are named ``0.weight``, ``1.bias``, ...

    >>> from tinygrad_ann import nn
    >>> model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    >>> [name for name, _ in model.named_parameters()]
    ['0.weight', '0.bias', '2.weight', '2.bias']
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        for index, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(
                    f"Sequential: argument {index} is a {type(module).__name__}, not a Module"
                )
            setattr(self, str(index), module)

    def __len__(self) -> int:
        return sum(1 for _ in self.children())

    def __iter__(self) -> Iterator[Module]:
        return self.children()

    def __getitem__(self, index: int) -> Module:
        return list(self.children())[index]

    def forward(self, x: Any) -> Any:
        # children(), unrolled: two generators a call cost W2 (a 2-50-2 net) 2% of its step.
        for module in vars(self).values():
            if isinstance(module, Module):
                x = module(x)
        return x


def features_error(layer: str, expected: int, x: Tensor) -> ShapeError:
    """The error for ``x`` whose last axis does not hold the ``expected`` features."""
    found = x.shape[-1] if x.ndim else "no"
    return ShapeError(
        f"{layer}: input of shape {x.shape} has {found} features in its last axis, but the "
        f"layer has in_features={expected}; pass inputs of shape (batch, {expected})"
    )

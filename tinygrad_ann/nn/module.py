"""``Module`` and ``Parameter``: models as trees of named parameters."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from ..arrays import to_array as _to_array
from ..autograd import RemovableHandle, new_hook_key, switches
from ..errors import DTypeError, ShapeError, StateDictError
from ..tensor import Tensor
from .module_editing import ModuleEditing


class Parameter(Tensor):
    """A Tensor that a Module registers as trainable (``requires_grad`` by default)."""

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True, dtype: Any = None) -> None:
        super().__init__(data, requires_grad=requires_grad, dtype=dtype)

    def __repr__(self) -> str:
        return "Parameter(" + super().__repr__()[len("Tensor(") :]


class Module(ModuleEditing):
    """Base class of models and layers.

    Parameters and sub-modules are registered by assigning them as attributes;
    ``parameters()`` and ``named_parameters()`` find them in assignment order,
    with dotted names (``hidden.weight``). State that is saved but not trained
    (a batch norm's running statistics) is registered with :meth:`register_buffer`.
    Calling a module calls ``forward``. ``apply`` and ``requires_grad_`` change
    the whole tree (see :class:`~tinygrad_ann.nn.module_editing.ModuleEditing`).

    Assignments follow PyTorch's rules. An attribute that is a parameter takes
    a Parameter or None, nothing else: ``self.weight = self.weight - step``
    would swap the trained Parameter for a plain Tensor that no optimizer
    updates, so it raises and says what to write instead (update in place, or
    wrap the new value in ``nn.Parameter``); assigning the same Parameter back,
    as an in-place operator does, is fine. An attribute that is a sub-module
    takes a Module or None; one that is a buffer takes a Tensor, an array, a
    number or None. ``del module.name`` forgets what the name was. Modules and
    Parameters inside a plain list, tuple or dict would not be registered, so
    assigning one raises a TypeError naming ``nn.ModuleList``,
    ``nn.ModuleDict``, ``nn.ParameterList`` or ``nn.ParameterDict`` (PyTorch
    accepts it silently); a plain list filled after it was assigned is refused
    the same way as soon as the model is walked (``parameters()``,
    ``state_dict()``, ``train()``, ``to()``).

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

    def __setattr__(self, name: str, value: Any) -> None:
        state = self.__dict__
        if isinstance(value, Tensor | Module) or isinstance(state.get(name), Tensor | Module):
            _STRUCTURE[0] += 1
        if name in state.get("_buffers", ()):
            # Assigning to a buffer keeps it a buffer: it must stay something state_dict can save.
            value = _as_buffer(type(self).__name__, name, value)
        elif isinstance(value, Parameter):
            state.setdefault("_parameter_names", set()).add(name)
        elif isinstance(value, Module):
            state.get("_parameter_names", set()).discard(name)  # a module may replace a parameter
        elif value is not None:
            _check_plain_value(self, name, value)
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        _STRUCTURE[0] += 1
        object.__delattr__(self, name)
        # As in PyTorch, the name is free again: no longer a parameter's or a buffer's.
        self.__dict__.get("_buffers", {}).pop(name, None)
        self.__dict__.get("_parameter_names", set()).discard(name)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation of this module: what a subclass defines, as in PyTorch.

        Call the module (``model(x)``) rather than ``forward``: the call runs the forward
        pre-hooks, ``forward``, then the forward hooks. The class docstring has an example.
        """
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        state = switches()
        outer = state.module_scope
        state.module_scope = (*outer, self)
        try:
            hooks = self.__dict__.get("_forward_hooks")
            if hooks is None:  # the common case: no hooks were ever registered
                return self.forward(*args, **kwargs)
            return self._call_with_hooks(hooks, args, kwargs)
        finally:
            state.module_scope = outer

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
        key = new_hook_key()
        hooks[kind][key] = hook
        return RemovableHandle(hooks[kind], key)

    # ----------------------------------------------------------------- the tree
    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct sub-modules as (attribute name, module) pairs, in assignment order."""
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value

    def children(self) -> Iterator[Module]:
        """The direct sub-modules (not their own sub-modules), in assignment order."""
        for _, child in self.named_children():
            yield child

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every sub-module, depth first, with dotted names.

        Raises TypeError if a module holds Modules or Parameters in a plain list,
        tuple or dict, which would be left out (see the class docstring).
        """
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            _check_nothing_hidden(module, name)
            yield name, module
            children = [
                (f"{name}.{child_name}" if name else child_name, child)
                for child_name, child in module.named_children()
            ]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        """This module and every sub-module, depth first (``named_modules`` without the names).

        >>> from tinygrad_ann import nn
        >>> [type(m).__name__ for m in nn.Sequential(nn.Linear(2, 3), nn.ReLU()).modules()]
        ['Sequential', 'Linear', 'ReLU']
        """
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
        """Every parameter of the tree once, in ``named_parameters`` order: what optimizers take.

        >>> from tinygrad_ann import nn
        >>> [p.shape for p in nn.Linear(3, 2).parameters()]
        [(2, 3), (2,)]
        """
        for _, parameter in self.named_parameters():
            yield parameter

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` as the parameter ``name``; None keeps the name a parameter slot.

        Same as assigning ``self.name = param``, except that a name that does not
        hold a parameter yet can be made one holding None (as PyTorch's layers
        do for a missing bias): it then takes a Parameter or None only.

        >>> from tinygrad_ann import nn
        >>> module = nn.Module()
        >>> module.register_parameter("bias", None)
        >>> list(module.parameters())
        []
        """
        where = f"{type(self).__name__}.register_parameter"
        _check_attribute_name(where, name)
        names = self.__dict__.setdefault("_parameter_names", set())
        if name not in names and (name in self.__dict__ or hasattr(type(self), name)):
            raise KeyError(f"{where}: attribute {name!r} already exists")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"{where}: expected a Parameter or None for {name!r}, got {_a_type(param)}; "
                "wrap it: nn.Parameter(value)"
            )
        names.add(name)
        object.__setattr__(self, name, param)

    def register_buffer(self, name: str, tensor: Any, persistent: bool = True) -> None:
        """Keep ``tensor`` as state of this module that is saved but not trained.

        A buffer is an attribute (``self.name``) holding a Tensor (an array or
        number is copied into one; None is allowed and skipped). It is not a
        parameter: ``parameters()`` and optimizers never see it and it gets no
        gradient. ``state_dict()`` saves it after the module's own parameters
        (unless ``persistent=False``), ``load_state_dict()`` restores it, and
        ``to(dtype)`` converts it if it holds floats. Assigning to the attribute
        later replaces the buffer's value.

        >>> import numpy as np
        >>> from tinygrad_ann import nn
        >>> layer = nn.Linear(2, 2)
        >>> layer.register_buffer("steps", np.array(0))
        >>> list(layer.state_dict())
        ['weight', 'bias', 'steps']
        >>> [name for name, _ in layer.named_parameters()]
        ['weight', 'bias']
        """
        where = type(self).__name__
        _check_attribute_name(f"{where}.register_buffer", name)
        buffers = self.__dict__.setdefault("_buffers", {})
        if name not in buffers and (name in self.__dict__ or hasattr(type(self), name)):
            raise KeyError(f"{where}.register_buffer: attribute {name!r} already exists")
        value = _as_buffer(where, name, tensor)
        buffers[name] = bool(persistent)
        object.__setattr__(self, name, value)

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """Every buffer once (None ones skipped), named as parameters are (``0.running_mean``)."""
        seen: set[int] = set()
        for module_name, module in self.named_modules(prefix):
            for name, value in module._own_buffers(persistent_only=False):
                if id(value) not in seen:
                    seen.add(id(value))
                    yield (f"{module_name}.{name}" if module_name else name), value

    def buffers(self) -> Iterator[Tensor]:
        """Every buffer of the tree once (``named_buffers`` without the names)."""
        for _, buffer in self.named_buffers():
            yield buffer

    def _own_buffers(self, persistent_only: bool) -> Iterator[tuple[str, Tensor]]:
        for name, persistent in self.__dict__.get("_buffers", {}).items():
            value = self.__dict__.get(name)
            if isinstance(value, Tensor) and (persistent or not persistent_only):
                yield name, value

    def _named_state(self) -> Iterator[tuple[str, Tensor]]:
        """What ``state_dict`` holds, in PyTorch's order: for each module (depth first),
        its own parameters, then its own persistent buffers."""
        seen: set[int] = set()
        for module_name, module in self.named_modules():
            own: list[tuple[str, Tensor]] = [
                (name, value)
                for name, value in vars(module).items()
                if isinstance(value, Parameter)
            ]
            own.extend(module._own_buffers(persistent_only=True))
            for name, value in own:
                if id(value) not in seen:
                    seen.add(id(value))
                    yield (f"{module_name}.{name}" if module_name else name), value

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

    def to(self, dtype: Any = None, *args: Any, device: Any = None, **kwargs: Any) -> Module:
        """Convert every parameter and float buffer to the float ``dtype`` in place; returns self.

        Integer buffers (a batch counter) keep their dtype. There are no devices:
        everything runs on the CPU, in NumPy, so a device (``to("cpu")``,
        ``to("cuda")``, ``device=...``) raises a TypeError saying so instead of
        being ignored; ``to`` takes one dtype and nothing else.

        >>> import numpy as np
        >>> from tinygrad_ann import nn
        >>> layer = nn.Linear(2, 1).to(np.float32)
        >>> layer.weight.dtype
        dtype('float32')
        """
        resolved = _dtype_for_to(dtype, args, device, kwargs)
        for parameter in self.parameters():
            parameter.data = parameter.data.astype(resolved)
            parameter.grad = None
        for buffer in self.buffers():
            if buffer.dtype.kind == "f":
                buffer.data = buffer.data.astype(resolved)
        return self

    def state_dict(self) -> dict[str, Tensor]:
        """A dict of parameter and buffer names to copies of their values, as Tensors.

        The names, order and shapes are PyTorch's for the same architecture (e.g.
        ``0.weight`` of shape (out_features, in_features) for a ``Linear`` first in
        a ``Sequential``; each module's parameters, then its buffers, such as a
        batch norm's ``running_mean``), so ``tg.save(model.state_dict(), path)``
        writes a file that ``torch.nn`` models load (docs/interop.md).
        """
        return {name: Tensor._wrap(value.data.copy()) for name, value in self._named_state()}

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> None:
        """Copy arrays into the parameters and buffers of the same names.

        Everything is checked before anything is written: with ``strict``,
        missing or unexpected keys are an error, and a shape mismatch always
        is; on error the model is unchanged.
        """
        targets = dict(self._named_state())
        missing = [name for name in targets if name not in state_dict]
        unexpected = [name for name in state_dict if name not in targets]
        problems = []
        if strict and missing:
            problems.append(f"missing keys {missing}")
        if strict and unexpected:
            problems.append(f"unexpected keys {unexpected}")
        arrays = {}
        for name, value in state_dict.items():
            if name not in targets:
                continue
            target = targets[name]
            source = np.asarray(value.data if isinstance(value, Tensor) else value)
            if target.dtype.kind in "biu" and source.dtype.kind not in "biu":
                # A counter (num_batches_tracked) would be silently truncated.
                problems.append(
                    f"{name}: dtype {source.dtype} in the state dict, {target.dtype} in the model"
                )
                continue
            array = _to_array(source, dtype=target.dtype)
            if array.shape != target.shape:
                problems.append(
                    f"{name}: shape {array.shape} in the state dict, {target.shape} in the model"
                )
            arrays[name] = array
        if problems:
            raise StateDictError(
                f"load_state_dict into {type(self).__name__}: "
                + "; ".join(problems)
                + " (the model was not changed)"
            )
        for name, array in arrays.items():
            targets[name].data = array

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


# How many times any module had a Tensor or Module attribute set, replaced or deleted: a
# compiled plan that read a module's parameters checks them again only when it moved.
_STRUCTURE = [0]


def structure_changes() -> int:
    """A number that grows whenever any module's parameters, buffers or submodules are
    assigned, replaced or deleted (``tg.compile`` rechecks its plans when it does)."""
    return _STRUCTURE[0]


#: What a Module keeps for itself in its ``__dict__`` (not parameters, buffers or children).
_BOOKKEEPING = frozenset({"_buffers", "_forward_hooks", "_parameter_names"})
#: Containers whose Modules and Parameters a Module would not register, and what to look for.
_PLAIN_CONTAINERS = (list, tuple, dict)
_SUSPECTS = (Module, Parameter, list, tuple, dict)

_NO_DEVICES = (
    "tinygrad_ann has no devices (everything runs on the CPU, in NumPy), so there is nothing "
    "to move; leave the device out and pass a dtype only, e.g. model.to(np.float32)"
)


def _a(noun: str) -> str:
    """``noun`` with its indefinite article by its first letter: ``a Tensor``, ``an int``."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def _a_type(value: Any) -> str:
    """What ``value`` is, for an error message: ``a Tensor``, ``an int``, ``None``."""
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return "a NumPy array"
    return _a(type(value).__name__)


def _check_attribute_name(where: str, name: Any) -> None:
    if not isinstance(name, str):
        raise TypeError(f"{where}: the name must be a str, got {name!r}")
    if not name or "." in name:
        raise KeyError(f"{where}: the name must be non-empty and without '.', got {name!r}")


def _check_plain_value(module: Module, name: str, value: Any) -> None:
    """Refuse ``value`` (not a Parameter, Module or None) where it would lose or hide something."""
    owner = type(module).__name__
    state = module.__dict__
    current = state.get(name)
    if isinstance(current, Parameter) or name in state.get("_parameter_names", ()):
        raise TypeError(
            f"{owner}: cannot assign {_a_type(value)} to {name!r}, which is a parameter (a "
            "Parameter or None expected). To replace the parameter, wrap the value: "
            f"module.{name} = nn.Parameter(value) (an optimizer made before still holds the "
            "old one). To change its values, update them in place: with tg.no_grad(): "
            f"module.{name} -= lr * module.{name}.grad, or module.{name}.data[...] = values"
        )
    if isinstance(current, Module):
        raise TypeError(
            f"{owner}: cannot assign {_a_type(value)} to {name!r}, which is a sub-module (a "
            "Module or None expected); assign a Module to replace it, or None to remove it"
        )
    if isinstance(value, _PLAIN_CONTAINERS):
        hidden = _find_hidden(value)
        if hidden is not None:
            raise _hidden_error(owner, name, name, value, *hidden)


def _check_nothing_hidden(module: Module, module_name: str) -> None:
    """Refuse a plain list or dict attribute that came to hold Modules or Parameters.

    Tuples are not looked at: assignment checked them, and they cannot change since.
    """
    for name, value in vars(module).items():
        if isinstance(value, list | dict) and name not in _BOOKKEEPING:
            hidden = _find_hidden(value)
            if hidden is not None:
                attribute = f"{module_name}.{name}" if module_name else name
                raise _hidden_error(type(module).__name__, attribute, name, value, *hidden)


def _find_hidden(container: Any) -> tuple[str, int, Module | Parameter] | None:
    """The first Module or Parameter in nested lists, tuples and dicts: its path
    (``[1]['a']``), how many containers deep it is, and itself."""
    entries = container.values() if isinstance(container, dict) else container
    if not any(isinstance(entry, _SUSPECTS) for entry in entries):
        return None  # the common case: a tuple of sizes, a list of numbers
    seen: set[int] = set()
    stack: list[tuple[str, int, Any]] = [("", 1, container)]
    while stack:
        path, depth, current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        entries = current.items() if isinstance(current, dict) else enumerate(current)
        nested = []
        for key, entry in entries:
            if isinstance(entry, Module | Parameter):
                return f"{path}[{key!r}]", depth, entry
            if isinstance(entry, _PLAIN_CONTAINERS):
                nested.append((f"{path}[{key!r}]", depth + 1, entry))
        stack.extend(reversed(nested))
    return None


def _hidden_error(
    owner: str,
    attribute: str,
    name: str,
    container: Any,
    path: str,
    depth: int,
    found: Module | Parameter,
) -> TypeError:
    is_dict = isinstance(container, dict)
    if isinstance(found, Module):
        kind, detail = "Module", _a(type(found).__name__)
        sees = "parameters(), state_dict(), train()/eval(), to() and optimizers"
        fix = "ModuleDict" if is_dict else "ModuleList"
        inner, other = "ModuleDict", ""
    else:
        kind, detail = "Parameter", f"of shape {found.shape}"
        sees = "parameters(), state_dict(), to() and optimizers"
        fix = "ParameterDict" if is_dict else "ParameterList"
        inner, other = "ParameterDict", ", or assign each Parameter to an attribute of its own"
    brackets = "({...})" if is_dict else "([...])"
    nests = f" (they nest: nn.ModuleList([nn.{inner}({{...}})]))" if depth > 1 else ""
    return TypeError(
        f"{owner}: attribute {attribute!r} is {_a(type(container).__name__)} holding a {kind} "
        f"({detail} at {name}{path}); {kind.lower()}s in a plain list, tuple or dict are not "
        f"registered, so {sees} would not see them. Use nn.{fix}: self.{name} = "
        f"nn.{fix}{brackets}{nests}{other}"
    )


def _dtype_for_to(dtype: Any, args: tuple[Any, ...], device: Any, kwargs: dict[str, Any]) -> Any:
    """The floating dtype ``Module.to`` was given; a device, or anything else, is an error."""
    for value in (dtype, *args):
        if _is_device(value):
            raise TypeError(f"Module.to: {value!r} is not a dtype: {_NO_DEVICES}")
    if device is not None:
        raise TypeError(f"Module.to: device={device!r} given: {_NO_DEVICES}")
    if kwargs:
        key, value = next(iter(kwargs.items()))
        raise TypeError(
            f"Module.to: unexpected argument {key}={value!r}; to takes a dtype only, e.g. "
            "model.to(np.float32)"
        )
    if args:
        extra = ", ".join(_dtype_name(value) for value in args)
        raise TypeError(f"Module.to: takes one dtype, got also {extra}")
    if dtype is None:
        raise TypeError("Module.to: expected a floating dtype, e.g. model.to(np.float32)")
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise TypeError(
            f"Module.to: expected a floating dtype (np.float32, 'float64', ...), got {dtype!r}"
        ) from None
    if resolved.kind != "f":
        raise TypeError(f"Module.to: expected a floating dtype, got {resolved}")
    return resolved


def _is_device(value: Any) -> bool:
    """A device name ("cpu", "cuda:0") or object (``torch.device``), rather than a dtype."""
    if type(value).__name__ == "device":
        return True
    if not isinstance(value, str):
        return False
    try:
        np.dtype(value)
    except TypeError:
        return True
    return False


def _dtype_name(value: Any) -> str:
    try:
        return str(np.dtype(value))
    except TypeError:
        return repr(value)


def _as_buffer(module: str, name: str, value: Any) -> Tensor | None:
    """``value`` as a buffer's Tensor: Tensors as they are, arrays and numbers copied."""
    if value is None:
        return None
    if isinstance(value, Parameter):
        raise TypeError(
            f"{module}: buffer {name!r} cannot hold a Parameter; assign a Parameter to an "
            "attribute that is not a buffer to make it trainable"
        )
    if isinstance(value, Tensor):
        return value
    if not isinstance(value, np.ndarray | np.generic | int | float | list | tuple):
        raise TypeError(
            f"{module}: buffer {name!r} must be a Tensor, an array, a number or None, got "
            f"{type(value).__name__}"
        )
    try:
        return Tensor._wrap(_to_array(value))
    except DTypeError as error:  # text, complex numbers, ragged lists
        raise TypeError(
            f"{module}: buffer {name!r} must hold booleans, integers or floats: {error}"
        ) from None


def features_error(layer: str, expected: int, x: Tensor) -> ShapeError:
    """The error for ``x`` whose last axis does not hold the ``expected`` features."""
    found = x.shape[-1] if x.ndim else "no"
    return ShapeError(
        f"{layer}: input of shape {x.shape} has {found} features in its last axis, but the "
        f"layer has in_features={expected}; pass inputs of shape (batch, {expected})"
    )

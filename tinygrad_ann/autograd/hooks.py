"""Hooks: code that sees, or replaces, the gradients a backward pass computes.

``Tensor.register_hook`` keeps a tensor's hooks in :class:`TensorHooks`;
:func:`observe_backward` calls a function for every op a backward pass
differentiates. Each registration returns a :class:`RemovableHandle`.
"""

from __future__ import annotations

import contextlib
import itertools
import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import ShapeError
from .function import _as_gradient
from .grad_mode import switches

if TYPE_CHECKING:
    from .function import Function

__all__ = ["RemovableHandle", "TensorHooks", "new_hook_key", "observe_backward"]


class RemovableHandle:
    """Returned by ``register_hook`` and the module hook registrations: ``remove()`` undoes it.

    Removing twice is harmless; ``with handle:`` removes the hook at the block's end.
    """

    __slots__ = ("_hooks", "_key")

    def __init__(self, hooks: dict[int, Callable[..., Any]], key: int) -> None:
        self._hooks = hooks
        self._key = key

    def remove(self) -> None:
        self._hooks.pop(self._key, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()


_hook_keys = itertools.count()


def new_hook_key() -> int:
    """A key no other hook has: hooks registered later get larger ones, so they run later."""
    return next(_hook_keys)


class TensorHooks:
    """Gradient hooks of tensors (``Tensor.register_hook``), by ``id`` of the tensor.

    Kept here rather than on each Tensor so that creating a Tensor, once per op,
    does not pay for them; an entry goes when its tensor is garbage collected.
    """

    by_id: ClassVar[dict[int, dict[int, Callable[[Any], Any]]]] = {}

    @staticmethod
    def register(tensor: Tensor, hook: Callable[[Any], Any]) -> RemovableHandle:
        key = id(tensor)
        hooks = TensorHooks.by_id.get(key)
        if hooks is None:
            hooks = TensorHooks.by_id[key] = {}
            weakref.finalize(tensor, TensorHooks.by_id.pop, key, None)
        handle_key = next(_hook_keys)
        hooks[handle_key] = hook
        return RemovableHandle(hooks, handle_key)


def _run_tensor_hooks(tensor: Tensor, grad: Any, create_graph: bool) -> Any:
    """``grad`` after each of ``tensor``'s hooks, in registration order, could replace it."""
    hooks = TensorHooks.by_id.get(id(tensor))
    if not hooks:
        return grad
    for hook in list(hooks.values()):  # a hook may remove itself
        shown = grad if create_graph else Tensor._wrap(grad)
        replaced = hook(shown)
        if replaced is None:
            continue
        grad = _as_gradient(replaced if create_graph else array_of(replaced), create_graph)
        if grad.shape != tensor.shape:
            raise ShapeError(
                f"a gradient hook of a tensor of shape {tensor.shape} returned a gradient of "
                f"shape {grad.shape}; return one of the tensor's shape, or None to keep the "
                "gradient"
            )
        if grad.dtype != tensor.dtype:
            grad = grad.astype(tensor.dtype)
    return grad


@contextlib.contextmanager
def observe_backward(
    callback: Callable[[Function, Tensor, Any, tuple[Any, ...]], None],
) -> Iterator[None]:
    """Call ``callback`` for each op differentiated inside the block, in this thread.

    It is called as ``callback(ctx, output, grad_output, input_grads)`` after the
    op's VJP ran, with ``input_grads`` as the VJP returned them (one per input).
    """
    state = switches()
    previous = state.backward_observers
    state.backward_observers = (*previous, callback)
    try:
        yield
    finally:
        state.backward_observers = previous


from ..tensor import Tensor, array_of  # noqa: E402 - tensor.py imports this package; imported last to break the cycle

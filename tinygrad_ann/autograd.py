"""The autograd engine: ``Function`` (one differentiable op), grad mode, and backward.

Every op is a subclass of :class:`Function` with two static methods working on
NumPy arrays: ``forward(ctx, *arrays)`` computes the result, and
``backward(ctx, grad_output)`` returns the vector-Jacobian product, one gradient
per input. ``Function.apply`` runs ``forward`` on the inputs' arrays and, when a
gradient is needed, records the call so :func:`run_backward` can replay it in
reverse.

Broadcasting is undone here, once, for every op: a backward may return a
gradient of the broadcast shape and the engine sums it back to the input's
shape.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from .errors import ShapeError

_F = TypeVar("_F", bound=Callable[..., Any])


class _GradMode:
    enabled = True


def is_grad_enabled() -> bool:
    """Return True when operations are being recorded for backward."""
    return _GradMode.enabled


class _SetGradMode:
    """Context manager and decorator that sets grad mode, restoring it on exit."""

    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled
        self._previous: list[bool] = []

    def __enter__(self) -> None:
        self._previous.append(_GradMode.enabled)
        _GradMode.enabled = self._enabled

    def __exit__(self, *exc_info: object) -> None:
        _GradMode.enabled = self._previous.pop()

    def __call__(self, func: _F) -> _F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.__class__():
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class no_grad(_SetGradMode):  # noqa: N801 - PyTorch's name
    """Disable graph recording, as a ``with`` block or a decorator.

    >>> import tinygrad_ann as tg
    >>> w = tg.ones(3, requires_grad=True)
    >>> with tg.no_grad():
    ...     y = w * 2
    >>> y.requires_grad
    False
    """

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(_SetGradMode):  # noqa: N801 - PyTorch's name
    """Re-enable graph recording inside a :class:`no_grad` region."""

    def __init__(self) -> None:
        super().__init__(True)


class Function:
    """A differentiable operation: subclass it and write two static methods.

    ``forward(ctx, *arrays, **options)`` receives NumPy arrays (and any
    non-tensor arguments as they were given) and returns an array.
    ``backward(ctx, grad_output)`` receives the gradient of the output and
    returns one gradient per positional input (a tuple, or a bare array for a
    single input); ``None`` stands for "no gradient". A returned gradient may
    have the broadcast shape: the engine reduces it to the input's shape.

    ``ctx`` is the Function instance. ``ctx.save_for_backward(*arrays)`` keeps
    arrays for backward, read back as ``ctx.saved``; ``ctx.needs_input_grad``
    tells which inputs need a gradient so backward can skip the others.

    >>> import numpy as np
    >>> import tinygrad_ann as tg
    >>> class Cube(tg.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x**3
    ...     @staticmethod
    ...     def backward(ctx, grad_output):
    ...         (x,) = ctx.saved
    ...         return 3 * x**2 * grad_output
    >>> t = tg.tensor([1.0, 2.0], requires_grad=True)
    >>> Cube.apply(t).sum().backward()
    >>> t.grad
    Tensor([ 3., 12.])
    """

    __slots__ = ("parents", "saved", "needs_input_grad", "released", "__dict__")
    #: Shown in errors and graph drawings; a subclass without one shows its class name.
    name: str | None = None

    def __init__(self) -> None:
        self.saved: tuple[Any, ...] = ()
        self.released = False

    def save_for_backward(self, *arrays: Any) -> None:
        """Keep ``arrays`` for backward; they are released after it runs."""
        self.saved = arrays

    @staticmethod
    def forward(ctx: Function, *arrays: Any, **options: Any) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Function, grad_output: np.ndarray) -> Any:
        raise NotImplementedError

    @classmethod
    def op_name(cls) -> str:
        """The name shown in errors, reprs and graph drawings."""
        return cls.name or cls.__name__

    @classmethod
    def explain_value_error(cls, arrays: Sequence[Any], error: ValueError) -> Exception:
        """Turn NumPy's ValueError from ``forward`` into one that names the op."""
        shapes = ", ".join(str(np.shape(a)) for a in arrays)
        return ShapeError(f"{cls.op_name()}: invalid input shapes {shapes}: {error}")

    @classmethod
    def apply(cls, *inputs: Any, **options: Any) -> Tensor:
        """Run the op on ``inputs`` (Tensors or plain values) and record it."""
        ctx = cls()
        arrays = []
        parents = []
        needs_grad = False
        for value in inputs:
            if isinstance(value, Tensor):
                arrays.append(value.data)
                if value.requires_grad:
                    parents.append(value)
                    needs_grad = True
                    continue
            else:
                arrays.append(value)
            parents.append(None)
        needs_grad = needs_grad and _GradMode.enabled
        ctx.needs_input_grad = tuple(p is not None for p in parents) if needs_grad else ()
        try:
            out = cls.forward(ctx, *arrays, **options)
        except ValueError as error:
            raise cls.explain_value_error(arrays, error) from None
        result = Tensor._wrap(out if type(out) is np.ndarray else np.asarray(out))
        if needs_grad:
            ctx.parents = tuple(parents)
            result.requires_grad = True
            result._ctx = ctx
        return result


def _unbroadcast(grad: np.ndarray, shape: tuple[int, ...], ctx: Function) -> np.ndarray:
    """Sum ``grad`` over the axes along which an input of ``shape`` was broadcast."""
    extra = grad.ndim - len(shape)
    if extra < 0 or any(
        size != 1 and size != grad_size for size, grad_size in zip(shape, grad.shape[extra:])
    ):
        raise ShapeError(
            f"{ctx.op_name()}.backward returned a gradient of shape {grad.shape} for an "
            f"input of shape {shape}; it must have the input's shape or broadcast to it"
        )
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, size in enumerate(shape) if size == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad


def _topological_order(roots: Sequence[Tensor]) -> list[Tensor]:
    """Tensors that reach ``roots``, each after all of its inputs; no recursion."""
    order: list[Tensor] = []
    visited: set[Tensor] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False) for root in roots]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))
        ctx = node._ctx
        if ctx is not None:
            for parent in ctx.parents:
                if parent is not None and parent not in visited:
                    stack.append((parent, False))
    return order


def _accumulate_into_grad(tensor: Tensor, grad: np.ndarray) -> None:
    if tensor.grad is None:
        # A copy, so no two tensors ever share a gradient buffer.
        tensor.grad = Tensor._wrap(np.array(grad, dtype=tensor.data.dtype))
    else:
        tensor.grad.data += grad


def run_backward(
    roots: Sequence[Tensor],
    root_grads: Sequence[np.ndarray],
    retain_graph: bool = False,
    inputs: Sequence[Tensor] | None = None,
) -> dict[Tensor, np.ndarray]:
    """Propagate ``root_grads`` from ``roots`` back through the recorded graph.

    Without ``inputs``, gradients are accumulated into the ``.grad`` of leaves
    (and of tensors that called ``retain_grad``). With ``inputs``, nothing is
    written: the gradients reaching those tensors are returned instead.
    """
    pending: dict[Tensor, np.ndarray] = {}
    for root, grad in zip(roots, root_grads):
        previous = pending.get(root)
        pending[root] = grad if previous is None else previous + grad
    wanted = set(inputs) if inputs is not None else None
    found: dict[Tensor, np.ndarray] = {}
    for node in reversed(_topological_order(roots)):
        grad = pending.pop(node, None)
        if grad is None:
            continue
        ctx = node._ctx
        if wanted is not None:
            if node in wanted:
                found[node] = grad
        elif ctx is None or node._retains_grad:
            _accumulate_into_grad(node, grad)
        if ctx is None:
            continue
        if ctx.released:
            raise RuntimeError(
                f"backward through the graph a second time ({ctx.op_name()} was already "
                "backpropagated and its saved arrays freed); pass retain_graph=True to the "
                "first backward() if you need to call it twice"
            )
        input_grads = ctx.backward(ctx, grad)
        if type(input_grads) is not tuple:
            input_grads = (input_grads,)
        if len(input_grads) != len(ctx.parents):
            raise TypeError(
                f"{ctx.op_name()}.backward returned {len(input_grads)} gradient(s) but its "
                f"forward took {len(ctx.parents)} input(s); return one per input (None for "
                "an input that needs none)"
            )
        for parent, input_grad in zip(ctx.parents, input_grads):
            if parent is None or input_grad is None:
                continue
            data = parent.data
            if type(input_grad) is not np.ndarray:
                input_grad = np.asarray(input_grad)
            if input_grad.shape != data.shape:
                input_grad = _unbroadcast(input_grad, data.shape, ctx)
            if input_grad.dtype != data.dtype:
                input_grad = input_grad.astype(data.dtype)
            previous = pending.get(parent)
            pending[parent] = input_grad if previous is None else previous + input_grad
        if not retain_graph:
            ctx.saved = ()
            ctx.released = True
    return found


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, leaving every ``.grad`` alone.

    ``grad_outputs`` gives the upstream gradient of each output (needed for
    outputs with more than one element). Returns a tuple with one Tensor per
    input; an input the outputs do not depend on is an error unless
    ``allow_unused=True``, which gives ``None`` for it.

    >>> import tinygrad_ann as tg
    >>> x = tg.tensor([1.0, 2.0], requires_grad=True)
    >>> tg.grad((x**2).sum(), x)
    (Tensor([2., 4.]),)
    >>> x.grad is None
    True
    """
    outputs = (outputs,) if isinstance(outputs, Tensor) else tuple(outputs)
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    elif isinstance(grad_outputs, Tensor | np.ndarray):
        grad_outputs = (grad_outputs,)
    if len(grad_outputs) != len(outputs):
        raise ValueError(
            f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs; give one each"
        )
    for position, tensor in enumerate(inputs):
        if not tensor.requires_grad:
            raise RuntimeError(f"grad: input {position} does not require grad")
    seeds = []
    for position, (output, seed) in enumerate(zip(outputs, grad_outputs)):
        if not output.requires_grad:
            raise RuntimeError(
                f"grad: output {position} does not require grad (no input it depends on does)"
            )
        if seed is None:
            if output.size != 1:
                raise RuntimeError(
                    f"grad: output {position} has shape {output.shape}; pass grad_outputs "
                    "for outputs with more than one element"
                )
            seed = np.ones_like(output.data)
        seed = np.asarray(seed.data if isinstance(seed, Tensor) else seed, dtype=output.dtype)
        if seed.shape != output.shape:
            raise ShapeError(
                f"grad: grad_outputs[{position}] has shape {seed.shape}, "
                f"output {position} has shape {output.shape}"
            )
        seeds.append(seed)
    found = run_backward(outputs, seeds, retain_graph=retain_graph, inputs=inputs)
    result: list[Tensor | None] = []
    for position, tensor in enumerate(inputs):
        if tensor in found:
            result.append(Tensor._wrap(np.array(found[tensor], dtype=tensor.dtype)))
        elif allow_unused:
            result.append(None)
        else:
            raise RuntimeError(
                f"grad: input {position} (shape {tensor.shape}) is not used to compute the "
                "outputs; pass allow_unused=True to get None for it"
            )
    return tuple(result)


from .tensor import Tensor  # noqa: E402 - Tensor is built on Function; imported last to break the cycle

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
import heapq
import itertools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from .errors import ShapeError

_F = TypeVar("_F", bound=Callable[..., Any])


class _GradMode:
    enabled = True


class ModuleScope:
    """The modules whose ``forward`` is running, outermost first.

    ``Module.__call__`` pushes and pops it; every recorded op keeps the value
    it had (``ctx.scope``) so a drawing can group ops by the module that made them.
    """

    current: tuple[Any, ...] = ()


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

    __slots__ = ("parents", "saved", "sequence", "scope", "__dict__")
    #: Shown in errors and graph drawings; a subclass without one shows its class name.
    name: str | None = None

    def __init__(self) -> None:
        self.saved: Any = ()

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
        ctx = cls.__new__(cls)  # skips __init__: this is the hot path of every op
        ctx.saved = ()
        # One plain loop: cheaper than comprehensions for the one or two inputs of most ops.
        arrays = []
        parents = []
        recording = False
        for value in inputs:
            if isinstance(value, Tensor):
                arrays.append(value.data)
                if value.requires_grad:
                    parents.append(value)
                    recording = True
                    continue
            else:
                arrays.append(value)
            parents.append(None)
        recording = recording and _GradMode.enabled
        ctx.parents = parents
        try:
            out = cls.forward(ctx, *arrays, **options)
        except ValueError as error:
            raise cls.explain_value_error(arrays, error) from None
        result = Tensor._wrap(out if type(out) is np.ndarray else np.asarray(out))
        if recording:
            ctx.sequence = next(_sequence)
            ctx.scope = ModuleScope.current
            result.requires_grad = True
            result._ctx = ctx
        return result

    @property
    def needs_input_grad(self) -> tuple[bool, ...]:
        """Which inputs need a gradient, one bool per positional input of forward."""
        return tuple(parent is not None for parent in self.parents)


# Each recorded op takes the next (decreasing) number, so an op's number is
# below that of every op it consumes: popping the smallest first from a heap
# visits every tensor after all the ops that use it, with no graph sort.
_sequence = itertools.count(0, -1)
# What ``saved`` becomes once backward has used and dropped it.
_RELEASED = object()


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
    wanted = set(inputs) if inputs is not None else None
    found: dict[Tensor, np.ndarray] = {}

    def reach_leaf(leaf: Tensor, grad: np.ndarray) -> None:
        if wanted is None:
            _accumulate_into_grad(leaf, grad)
        elif leaf in wanted:
            previous = found.get(leaf)
            found[leaf] = grad if previous is None else previous + grad

    # Op results wait in ``pending`` until every op that consumed them has
    # added its contribution; the heap orders them by sequence number (see
    # ``_sequence``), so the one popped next never has a consumer left to run.
    pending: dict[Tensor, np.ndarray] = {}
    heap: list[tuple[int, Tensor]] = []
    for root, grad in zip(roots, root_grads):
        if root._ctx is None:
            reach_leaf(root, grad)
        elif root in pending:
            pending[root] = pending[root] + grad
        else:
            pending[root] = grad
            heapq.heappush(heap, (root._ctx.sequence, root))

    heappush, heappop, ndarray = heapq.heappush, heapq.heappop, np.ndarray
    while heap:
        node = heappop(heap)[1]
        grad = pending.pop(node)
        ctx = node._ctx
        if wanted is not None:
            if node in wanted:
                found[node] = grad
        elif node._retains_grad:
            _accumulate_into_grad(node, grad)
        if ctx.saved is _RELEASED:
            raise RuntimeError(
                f"backward through the graph a second time ({ctx.op_name()} was already "
                "backpropagated and its saved arrays freed); pass retain_graph=True to the "
                "first backward() if you need to call it twice"
            )
        input_grads = ctx.backward(ctx, grad)
        parents = ctx.parents
        if type(input_grads) is not tuple:
            input_grads = (input_grads,)
        if len(input_grads) != len(parents):
            raise TypeError(
                f"{ctx.op_name()}.backward returned {len(input_grads)} gradient(s) but its "
                f"forward took {len(parents)} input(s); return one per input (None for "
                "an input that needs none)"
            )
        for parent, input_grad in zip(parents, input_grads):
            if parent is None or input_grad is None:
                continue
            data = parent.data
            if type(input_grad) is not ndarray:
                input_grad = np.asarray(input_grad)
            if input_grad.shape != data.shape:
                input_grad = _unbroadcast(input_grad, data.shape, ctx)
            if input_grad.dtype is not data.dtype and input_grad.dtype != data.dtype:
                input_grad = input_grad.astype(data.dtype)
            parent_ctx = parent._ctx
            if parent_ctx is None:
                reach_leaf(parent, input_grad)
                continue
            previous = pending.get(parent)
            if previous is None:
                pending[parent] = input_grad
                heappush(heap, (parent_ctx.sequence, parent))
            else:
                pending[parent] = previous + input_grad
        if not retain_graph:
            ctx.saved = _RELEASED
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

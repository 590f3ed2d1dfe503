"""The backward engine: run a recorded graph's VJPs in reverse and collect gradients.

:func:`run_backward` (behind ``Tensor.backward``) and :func:`grad` walk the
graph from its outputs, newest op first, without recursion: pending gradients
wait in a dict, ordered by a heap of sequence numbers, and a chain of ops skips
the heap altogether. Broadcasting is undone here, once, for every op
(:func:`unbroadcast`). With ``create_graph=True`` each VJP runs on Tensors and
is itself recorded, so gradients can be differentiated again.
"""

from __future__ import annotations

import heapq
import sys
from collections.abc import Callable, Sequence
from typing import Any, Literal, overload

import numpy as np

from ..errors import ShapeError
from .anomaly import _check_backward
from .function import Function, _as_gradient
from .grad_mode import EngineSwitches, switches
from .hooks import TensorHooks, _run_tensor_hooks
from .saved import _RELEASED

__all__ = ["column_sums", "fit_gradient", "grad", "run_backward", "seed_gradient", "unbroadcast"]

_ndarray = np.ndarray


def unbroadcast(grad: Any, shape: tuple[int, ...], ctx: Function) -> Any:
    """Sum ``grad`` (an array, or a Tensor under create_graph) to an input of ``shape``."""
    extra = grad.ndim - len(shape)
    if extra < 0:
        _raise_gradient_shape(ctx, grad.shape, shape, "it has fewer axes than the input")
    for axis, (size, grad_size) in enumerate(zip(shape, grad.shape[extra:])):
        if size != 1 and size != grad_size:
            _raise_gradient_shape(
                ctx,
                grad.shape,
                shape,
                f"its axis {axis + extra} has size {grad_size} where the input's axis {axis} "
                f"has size {size}, and only axes of size 1 can have grown",
            )
    if extra == 1 and grad.ndim == 2:
        grad = column_sums(grad)
    elif extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, size in enumerate(shape) if size == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad


def _raise_gradient_shape(
    ctx: Function, grad_shape: tuple[int, ...], shape: tuple[int, ...], reason: str
) -> None:
    raise ShapeError(
        f"{ctx.op_name()}.backward returned a gradient of shape {grad_shape} for an input of "
        f"shape {shape}: {reason}. A gradient must have the input's shape, or a shape the "
        "input broadcasts to (extra leading axes, or size-1 axes grown), which the engine "
        "sums back to the input's shape"
    )


def _one_per_positional_input(ctx: Function, input_grads: tuple[Any, ...]) -> tuple[Any, ...]:
    """Spread gradients given only for array inputs over all positional inputs.

    A backward may return one gradient per positional input of forward, or one
    per Tensor (or array) input, leaving out plain values such as numbers: so
    ``apply(t, 2.0)`` and ``apply(t, beta=2.0)`` take the same backward.
    """
    inputs = ctx.inputs
    array_positions = [i for i, value in enumerate(inputs) if isinstance(value, np.ndarray)]
    if len(input_grads) == len(array_positions):
        spread: list[Any] = [None] * len(inputs)
        for position, input_grad in zip(array_positions, input_grads):
            spread[position] = input_grad
        return tuple(spread)
    described = ", ".join(
        f"{i}: array of shape {value.shape}"
        if isinstance(value, np.ndarray)
        else f"{i}: {type(value).__name__}"
        for i, value in enumerate(inputs)
    )
    raise TypeError(
        f"{ctx.op_name()}.backward returned {len(input_grads)} gradient(s) but its forward took "
        f"{len(inputs)} positional input(s) ({described}); return one per positional input, "
        f"or one per Tensor or array input ({len(array_positions)}) leaving out plain values "
        "such as numbers; None stands for an input that needs no gradient"
    )


def column_sums(rows: Any) -> Any:
    """``rows.sum(axis=0)`` for a 2-D array (or Tensor); a float array's through BLAS.

    ``ones @ rows`` adds the rows in the same order as NumPy's reduce over a
    leading axis (one after another), so the rounding is of the same kind, and
    takes half the time or less from a few hundred elements on: 4 µs instead of
    9 µs for a (300, 50) gradient.
    """
    if (
        type(rows) is np.ndarray
        and rows.size >= 256
        and (rows.dtype == np.float64 or rows.dtype == np.float32)
    ):
        return ones_vector(rows.shape[0], rows.dtype) @ rows
    return rows.sum(axis=0)


# Read-only vectors of ones by (length, dtype), for sums by BLAS: np.ones is a Python
# function that costs more than the product it feeds on a (128, 10) array.
_ONES: dict[tuple[int, np.dtype], np.ndarray] = {}


def ones_vector(length: int, dtype: np.dtype) -> np.ndarray:
    """A read-only vector of ``length`` ones of ``dtype``, made once."""
    ones = _ONES.get((length, dtype))
    if ones is None:
        ones = np.ones(length, dtype)
        ones.flags.writeable = False
        _ONES[(length, dtype)] = ones
    return ones


def _accumulate_into_grad(tensor: Tensor, grad: Any) -> None:
    if isinstance(grad, Tensor):  # create_graph keeps .grad differentiable
        # Out of place, and a fresh node on first write, so no two tensors share a .grad.
        tensor._grad = grad.astype(tensor.dtype) if tensor._grad is None else tensor._grad + grad
    elif tensor._grad is None:
        # A copy, so no two tensors ever share a gradient buffer (and an array even where
        # adding 0-d gradients gave a NumPy scalar).
        tensor._grad = Tensor._wrap(np.array(grad, dtype=tensor.data.dtype))
    elif tensor._grad.requires_grad:
        # Leave a recorded .grad intact.
        tensor._grad = Tensor._wrap(np.asarray(tensor._grad.data + grad))
    else:
        try:
            tensor._grad.data += grad
        except ValueError:  # read-only: a live graph saved this .grad
            tensor._grad = Tensor._wrap(np.asarray(tensor._grad.data + grad))


def _recorded_backward(ctx: Function, output: Tensor, grad: Tensor) -> Any:
    """Run ``ctx.backward`` on Tensors so that its operations are recorded."""
    if not ctx.differentiable_backward:
        raise ctx.backward_not_recordable()
    saved = ctx.saved
    ctx.saved = ctx.lift_saved(output)
    state = switches()
    if state.saved_as_constants:  # the same Tensors, cut from the graph
        ctx.saved = tuple(
            value.detach() if isinstance(value, Tensor) and value.requires_grad else value
            for value in ctx.saved
        )
    state.recording_backward_depth += 1
    try:
        return ctx.backward(ctx, grad)
    except TypeError as error:
        raise RuntimeError(
            f"create_graph=True: the backward of {ctx.op_name()} failed on Tensors ({error}); "
            "it must compute with operators and tinygrad_ann.vjp_math functions, not NumPy "
            "functions (docs/custom_ops.md)"
        ) from error
    finally:
        state.recording_backward_depth -= 1
        ctx.saved = saved


def run_backward(
    roots: Sequence[Tensor],
    root_grads: Sequence[Any],
    retain_graph: bool = False,
    inputs: Sequence[Tensor] | None = None,
    create_graph: bool = False,
) -> dict[Tensor, Any]:
    """Propagate ``root_grads`` from ``roots`` back through the recorded graph.

    Without ``inputs``, gradients are accumulated into the ``.grad`` of leaves
    (and of tensors that called ``retain_grad``). With ``inputs``, nothing is
    written: the gradients reaching those tensors are returned instead. With
    ``create_graph``, gradients are Tensors recorded in a new graph (pass
    Tensors as ``root_grads``); otherwise they are arrays and nothing is recorded.
    """
    state = switches()
    previous_mode = state.grad_enabled
    state.grad_enabled = create_graph
    try:
        if (
            len(roots) == 1
            and inputs is None
            and not create_graph
            and not state.anomaly
            and not state.backward_observers
            and not TensorHooks.by_id
            and _one_op_behind(roots[0])
        ):
            _write_grads(_backward_of_one_op(roots[0], root_grads[0], retain_graph))
            return {}
        found = _backward_pass(roots, root_grads, retain_graph, inputs, create_graph, state)
        if inputs is not None:
            return found
        # Written once the pass's own references to the gradients are gone (see _write_grads).
        _write_grads(found)
        return {}
    finally:
        state.grad_enabled = previous_mode


def _backward_pass(
    roots: Sequence[Tensor],
    root_grads: Sequence[Any],
    retain_graph: bool,
    inputs: Sequence[Tensor] | None,
    create_graph: bool,
    state: EngineSwitches,
) -> dict[Tensor, Any]:
    """Run every recorded VJP behind ``roots`` once, newest op first; return the gradients
    reaching leaves (or ``inputs``, when given) and tensors that retain theirs.

    Each op is one turn of the loop, in four steps: take the next op (from the chain,
    else the heap), call its VJP, send each input gradient to its parent, release the
    op's saved arrays. The steps of a turn stay inline: it runs once per op, and a call
    per step would cost more than some ops' whole VJP.
    """
    wanted = set(inputs) if inputs is not None else None
    found: dict[Tensor, Any] = {}

    # Gradients for .grad are summed here first and written when the pass is done.
    def reach_leaf(leaf: Tensor, grad: Any) -> None:
        if wanted is None or leaf in wanted:
            previous = found.get(leaf)
            found[leaf] = grad if previous is None else previous + grad

    pending, heap = _schedule(roots, root_grads, reach_leaf)
    heappush, heappop, ndarray = heapq.heappush, heapq.heappop, np.ndarray
    tensor_hooks = TensorHooks.by_id
    observers = state.backward_observers
    anomaly = state.anomaly
    plain = not (anomaly or create_graph)
    # In a chain (the common case) the next op is known without the heap: when an
    # op's input is the only tensor still waiting, no other op can consume it.
    next_node: Tensor | None = None
    next_grad: Any = None
    while True:
        # Step 1, the next op: its result ``node`` and the total gradient ``grad`` of it.
        if next_node is not None:
            node, grad, next_node = next_node, next_grad, None
        elif heap:
            node = heappop(heap)[1]
            grad = pending.pop(node)
        else:
            break
        ctx = node._ctx
        assert ctx is not None  # only op results are queued
        if tensor_hooks and id(node) in tensor_hooks:
            grad = _run_tensor_hooks(node, grad, create_graph)
        if wanted is not None:
            if node in wanted:
                found[node] = grad
        elif node._retains_grad:
            found[node] = grad

        # Step 2, the VJP: one gradient per positional input of the op.
        saved = ctx.saved
        if saved is _RELEASED:
            raise _second_backward_error(ctx)
        if plain:
            input_grads = ctx.backward(ctx, grad)
        else:
            input_grads = _checked_or_recorded_vjp(ctx, node, grad, anomaly, create_graph)
        parents = ctx.parents
        if type(input_grads) is not tuple:
            input_grads = (input_grads,)
        if len(input_grads) != len(parents):
            input_grads = _one_per_positional_input(ctx, input_grads)
        if anomaly:
            _check_backward(ctx, grad, input_grads)
        if observers:
            for observer in observers:
                observer(ctx, node, grad, input_grads)

        # Step 3, to the parents: each input gradient in its input's shape and dtype goes
        # to a leaf's total, to the next op of the chain, or to ``pending``.
        for parent, input_grad in zip(parents, input_grads):
            if parent is None or input_grad is None:
                continue
            data = parent._data
            if create_graph or type(input_grad) is not ndarray:
                input_grad = _as_gradient(input_grad, create_graph)
            if input_grad.shape != data.shape:
                input_grad = unbroadcast(input_grad, data.shape, ctx)
            if input_grad.dtype is not data.dtype and input_grad.dtype != data.dtype:
                input_grad = input_grad.astype(data.dtype)
            parent_ctx = parent._ctx
            if parent_ctx is None:
                reach_leaf(parent, input_grad)
            elif parent is next_node:
                next_grad = next_grad + input_grad
            elif not heap and next_node is None:
                next_node, next_grad = parent, input_grad
            else:
                previous = pending.get(parent)
                if previous is None:
                    pending[parent] = input_grad
                    heappush(heap, (parent_ctx.sequence, parent))
                else:
                    pending[parent] = previous + input_grad
        if next_node is not None and heap:  # not alone after all: it waits its turn
            pending[next_node] = next_grad
            next_ctx = next_node._ctx
            assert next_ctx is not None  # next_node is always an op result
            heappush(heap, (next_ctx.sequence, next_node))
            next_node = None

        # Step 4, release: the op's saved arrays are not needed again.
        if not retain_graph:
            ctx.saved = _RELEASED  # drops the guard on the saved arrays
    if tensor_hooks:
        _run_leaf_hooks(found, tensor_hooks, create_graph)
    return found


def _one_op_behind(root: Tensor) -> bool:
    """Whether ``root``'s graph is a single op, all of whose inputs are leaves (as the
    result of a ``tg.compile`` replay is): then backward needs no schedule."""
    ctx = root._ctx
    if ctx is None:
        return False
    for parent in ctx.parents:
        if parent is not None and parent._ctx is not None:
            return False
    return True


def _backward_of_one_op(root: Tensor, grad: Any, retain_graph: bool) -> dict[Tensor, Any]:
    """:func:`_backward_pass` for a graph of one op without hooks or observers: its VJP,
    each gradient fitted to its input and summed per leaf, then the release."""
    ctx = root._ctx
    assert ctx is not None
    if ctx.saved is _RELEASED:
        raise _second_backward_error(ctx)
    found: dict[Tensor, Any] = {root: grad} if root._retains_grad else {}
    input_grads = ctx.backward(ctx, grad)
    parents = ctx.parents
    if type(input_grads) is not tuple:
        input_grads = (input_grads,)
    if len(input_grads) != len(parents):
        input_grads = _one_per_positional_input(ctx, input_grads)
    for parent, input_grad in zip(parents, input_grads):
        if parent is None or input_grad is None:
            continue
        data = parent._data
        input_grad = fit_gradient(input_grad, data.shape, data.dtype, ctx)
        previous = found.get(parent)
        found[parent] = input_grad if previous is None else previous + input_grad
    if not retain_graph:
        ctx.saved = _RELEASED
    return found


def fit_gradient(grad: Any, shape: tuple[int, ...], dtype: np.dtype, ctx: Any) -> Any:
    """A VJP's array gradient in its input's ``shape`` and ``dtype``, as backward's loop
    makes it (there inline, as it runs once per op); ``ctx`` names the op in errors."""
    if type(grad) is not _ndarray:
        grad = _as_gradient(grad, False)
    if grad.shape != shape:
        grad = unbroadcast(grad, shape, ctx)
    if grad.dtype is not dtype and grad.dtype != dtype:
        grad = grad.astype(dtype)
    return grad


def _schedule(
    roots: Sequence[Tensor], root_grads: Sequence[Any], reach_leaf: Callable[[Tensor, Any], None]
) -> tuple[dict[Tensor, Any], list[tuple[int, Tensor]]]:
    """The pending table and the heap of op results, seeded with ``roots``' gradients.

    Op results wait in ``pending`` until every op that consumed them has added
    its contribution; the heap orders them by sequence number (see
    ``function._sequence``), so the one popped next never has a consumer left to run.
    A root that is a leaf goes straight to ``reach_leaf``.
    """
    pending: dict[Tensor, Any] = {}
    heap: list[tuple[int, Tensor]] = []
    for root, grad in zip(roots, root_grads):
        if root._ctx is None:
            reach_leaf(root, grad)
        elif root in pending:
            pending[root] = pending[root] + grad
        else:
            pending[root] = grad
            heapq.heappush(heap, (root._ctx.sequence, root))
    return pending, heap


def _checked_or_recorded_vjp(
    ctx: Function, node: Tensor, grad: Any, anomaly: bool, create_graph: bool
) -> Any:
    """The VJP of ``ctx`` under ``detect_anomaly`` or ``create_graph`` (the plain call is
    inline in the loop): recorded on Tensors under create_graph, and under anomaly with
    NumPy's warnings silenced, because ``_check_backward`` reports them as an AnomalyError."""
    if anomaly:
        with np.errstate(all="ignore"):
            return _recorded_backward(ctx, node, grad) if create_graph else ctx.backward(ctx, grad)
    return _recorded_backward(ctx, node, grad)


def _run_leaf_hooks(
    found: dict[Tensor, Any],
    tensor_hooks: dict[int, dict[int, Callable[[Any], Any]]],
    create_graph: bool,
) -> None:
    """A leaf's hooks see its total gradient, once per pass, when the pass is done."""
    for tensor in found:
        if tensor._ctx is None and id(tensor) in tensor_hooks:
            found[tensor] = _run_tensor_hooks(tensor, found[tensor], create_graph)


def _second_backward_error(ctx: Function) -> RuntimeError:
    released_by = getattr(ctx, "released_by", None)
    if released_by is not None:
        return RuntimeError(
            f"backward through the graph a second time: it was already backpropagated by "
            f"{released_by} ({ctx.op_name()}'s saved arrays are freed), so the gradients are "
            "in .grad already; pass retain_graph=True to it if you need to call backward again"
        )
    return RuntimeError(
        f"backward through the graph a second time ({ctx.op_name()} was already "
        "backpropagated and its saved arrays freed); pass retain_graph=True to the "
        "first backward() if you need to call it twice"
    )


def _write_grads(grads: dict[Tensor, Any]) -> None:
    """Add each gradient into its tensor's ``.grad``.

    A gradient array nothing else refers to (not a view; not shared with another
    tensor, the caller or an op) becomes ``.grad`` as it is; any other is copied,
    so no two tensors ever share a gradient buffer.
    """
    getrefcount = sys.getrefcount
    for tensor in grads:
        grad = grads[tensor]
        if (
            tensor._grad is None
            and type(grad) is _ndarray
            and grad.base is None
            and getrefcount(grad) == _ALONE
        ):
            tensor._grad = Tensor._wrap(grad)
        else:
            _accumulate_into_grad(tensor, grad)


def _references_of_an_unshared_value() -> int:
    """What ``sys.getrefcount`` says, in ``_write_grads``'s loop, of a value only the dict holds."""
    probe = {None: np.empty(0)}
    for key in probe:
        value = probe[key]
        return sys.getrefcount(value)
    raise AssertionError("unreachable")


_ALONE = _references_of_an_unshared_value()


def seed_gradient(
    where: str, output: Tensor, gradient: Any, create_graph: bool, position: int | None = None
) -> Any:
    """The upstream gradient of ``output``: checked, in its dtype, a Tensor under create_graph."""
    data = output._data
    label = "output" if position is None else f"output {position}"
    if gradient is None:
        if data.size != 1:
            argument = "gradient=" if position is None else "grad_outputs="
            raise RuntimeError(
                f"{where}: the {label} has shape {data.shape}; a gradient can be implied only "
                f"for a single-element output. Reduce it first (e.g. y.sum()) or pass {argument} "
                "with the output's shape"
            )
        # Not np.ones_like: its Python wrapper costs more than the rest of this function.
        seed: Any = np.array(1, dtype=data.dtype)
        if data.ndim:  # a (1,) or (1, 1) output; a loss is 0-d, as the seed already is
            seed = seed.reshape(data.shape)
    elif isinstance(gradient, Tensor) and create_graph:
        seed = gradient if gradient.dtype == output.dtype else gradient.astype(output.dtype)
    else:
        seed = np.asarray(array_of(gradient), dtype=output.dtype)
    if seed.shape != output.shape:
        raise ShapeError(
            f"{where}: the gradient for the {label} has shape {seed.shape} but the {label} "
            f"has shape {output.shape}; they must be equal"
        )
    if create_graph and not isinstance(seed, Tensor):
        seed = Tensor._wrap(seed)
    return seed


def backward_of(
    output: Tensor,
    gradient: Any,
    retain_graph: bool | None,
    create_graph: bool,
    inputs: Sequence[Tensor] | Tensor | None,
) -> None:
    """``output.backward(...)``: accumulate into ``.grad`` of the leaves, or of ``inputs`` only."""
    if not output.requires_grad:
        raise RuntimeError(
            "backward(): this tensor does not require grad and has no recorded graph; "
            "create the inputs with requires_grad=True (and not inside no_grad())"
        )
    if inputs is not None:
        inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
        if not inputs:
            raise RuntimeError("backward(): inputs= is empty; leave it out to reach every leaf")
        for position, tensor in enumerate(inputs):
            if not isinstance(tensor, Tensor) or not tensor.requires_grad:
                raise RuntimeError(
                    f"backward(): inputs[{position}] "
                    + (
                        f"is a {type(tensor).__name__}, not a Tensor"
                        if not isinstance(tensor, Tensor)
                        else "does not require grad, so it cannot receive one"
                    )
                )
    seed = seed_gradient("backward()", output, gradient, create_graph)
    found = run_backward(
        (output,),
        (seed,),
        retain_graph=create_graph if retain_graph is None else retain_graph,
        inputs=inputs,
        create_graph=create_graph,
    )
    if inputs is not None:
        _write_grads(found)


# Without allow_unused every input gets a Tensor; overloads tell type checkers so.
@overload
def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: Literal[False] = False,
) -> tuple[Tensor, ...]: ...


@overload
def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]: ...


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, leaving every ``.grad`` alone.

    ``grad_outputs`` gives the upstream gradient of each output (needed for
    outputs with more than one element). Returns a tuple with one Tensor per
    input; an input the outputs do not depend on is an error unless
    ``allow_unused=True``, which gives ``None`` for it.

    With ``create_graph=True`` the gradients are recorded Tensors that can be
    differentiated again (``retain_graph`` then defaults to True, so the first
    graph stays usable). A gradient that does not depend on any input that
    requires grad (the derivative of a linear function, say) comes back as a
    Tensor with ``requires_grad=False``: its own derivative is zero.

    >>> import tinygrad_ann as tg
    >>> x = tg.tensor([1.0, 2.0], requires_grad=True)
    >>> tg.grad((x**2).sum(), x)
    (Tensor([2., 4.]),)
    >>> x.grad is None
    True
    >>> (slope,) = tg.grad((x**3).sum(), x, create_graph=True)
    >>> tg.grad(slope.sum(), x)  # the second derivative, 6x
    (Tensor([ 6., 12.]),)
    """
    outputs = (outputs,) if isinstance(outputs, Tensor) else tuple(outputs)
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    if retain_graph is None:
        retain_graph = create_graph
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    elif isinstance(grad_outputs, Tensor | np.ndarray):
        grad_outputs = (grad_outputs,)
    if len(grad_outputs) != len(outputs):
        raise ValueError(
            f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs; give one each"
        )
    for position, tensor in enumerate(inputs):
        if not isinstance(tensor, Tensor):
            raise TypeError(f"grad: input {position} is a {type(tensor).__name__}, not a Tensor")
        if not tensor.requires_grad:
            raise RuntimeError(f"grad: input {position} does not require grad")
    seeds = []
    for position, (output, seed) in enumerate(zip(outputs, grad_outputs)):
        if not output.requires_grad:
            raise RuntimeError(
                f"grad: output {position} does not require grad (no input it depends on does; "
                "if it is itself a gradient, it is constant and its derivative is zero)"
            )
        seeds.append(seed_gradient("grad", output, seed, create_graph, position))
    found = run_backward(
        outputs, seeds, retain_graph=retain_graph, inputs=inputs, create_graph=create_graph
    )
    result: list[Tensor | None] = []
    for position, tensor in enumerate(inputs):
        if tensor in found:
            gradient = found[tensor]
            if create_graph:
                result.append(gradient)
            else:
                result.append(Tensor._wrap(np.array(gradient, dtype=tensor.dtype)))
        elif allow_unused:
            result.append(None)
        else:
            raise RuntimeError(
                f"grad: input {position} (shape {tensor.shape}) is not used to compute the "
                "outputs; pass allow_unused=True to get None for it"
            )
    return tuple(result)


from ..tensor import Tensor, array_of  # noqa: E402 - tensor.py imports this package; imported last to break the cycle

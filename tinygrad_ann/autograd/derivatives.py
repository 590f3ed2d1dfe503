"""Whole Jacobians, Hessians and Hessian-vector products of a function.

These follow ``torch.autograd.functional``: ``fn`` takes Tensors and returns a
Tensor, ``inputs`` is one Tensor or a tuple of them. Each input is copied
(same float dtype, detached, requiring grad), so the caller's tensors are
never modified and never get a ``.grad``. Results are plain Tensors with no
graph. A part that does not depend on an input is zero, never an error.

The Jacobian is built a row at a time in reverse mode (the gradient for a one-hot
upstream gradient on output element ``k`` is row ``k``: a pass per output element),
or a column at a time in forward mode (``J e_l`` by :mod:`.forward_mode`: a pass per
input element); ``mode="auto"`` takes the one with fewer passes. The Hessian is the
Jacobian of the gradient, taken with ``create_graph=True`` so it can be
differentiated again: reverse-over-reverse by default, forward-over-reverse with
``mode="forward"``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

from ..errors import ShapeError
from ..tensor import Tensor
from .engine import grad
from .forward_mode import (
    differentiable_copies,
    jvp_products,
    linearized,
    unrecordable_op,
    zeros_of,
)
from .grad_mode import enable_grad

__all__ = ["hessian", "hvp", "jacobian"]

Inputs = Tensor | Sequence[Tensor]
Mode = Literal["reverse", "forward", "auto"]
# What mode="auto" weighs, in backward passes by rows (measured by benchmarks/modes.py on
# an n-64-m tanh MLP, docs/forward_mode.md): forward mode's recording of the VJP costs
# about 7 of them, and each of its columns about 1.3, since it runs through a longer graph.
FORWARD_RECORDING_PASSES = 7.0
FORWARD_PASSES_PER_COLUMN = 1.3
_MODES = ("reverse", "forward", "auto")


def _checked_mode(where: str, mode: Any, allowed: Sequence[str] = _MODES) -> str:
    if mode not in allowed:
        raise ValueError(
            f"{where}: mode must be one of {', '.join(map(repr, allowed))}, got {mode!r}"
        )
    return str(mode)


def _call(where: str, fn: Callable[..., Tensor], copies: tuple[Tensor, ...]) -> Tensor:
    with enable_grad():  # also inside no_grad(): the graph is needed
        output = fn(*copies)
    if not isinstance(output, Tensor):
        raise TypeError(f"{where}: fn must return a Tensor, got {type(output).__name__}")
    return output


def _scalar(where: str, fn: Callable[..., Tensor], copies: tuple[Tensor, ...]) -> Tensor:
    output = _call(where, fn, copies)
    if output.size != 1:
        raise ShapeError(
            f"{where}: fn must return a Tensor with one element, got shape {output.shape}; "
            "reduce it first, e.g. return loss.sum() or loss.mean()"
        )
    return output


def _jacobian_blocks(
    output: Tensor | None,
    shape: tuple[int, ...],
    copies: tuple[Tensor, ...],
    create_graph: bool = False,
) -> list[Any]:
    """d output / d copy for each copy, of shape ``shape + copy.shape`` (``shape``: the
    output's), a row per output element (reverse mode). Arrays, or recorded Tensors
    with ``create_graph``.

    An output that is ``None`` or requires no grad does not depend on the copies:
    its blocks are zero.
    """
    size = int(np.prod(shape))
    rows: list[list[Any]] = [[None] * size for _ in copies]
    if output is not None and output.requires_grad:
        for row in range(size):
            grads = _one_hot_pass(output, copies, row, create_graph)
            for found, gradient in zip(rows, grads):
                found[row] = gradient
    return [
        _assembled(found, shape, copy.shape, copy.dtype, create_graph, axis=0)
        for found, copy in zip(rows, copies)
    ]


def _one_hot_pass(
    output: Tensor, inputs: Sequence[Tensor], element: int, create_graph: bool
) -> tuple[Tensor | None, ...]:
    """One backward pass from ``output`` seeded with a one-hot gradient at ``element``
    (row-major): a row of the Jacobian, or, from a recorded VJP, a column."""
    one_hot = np.zeros(output.shape, dtype=output.dtype)
    one_hot.flat[element] = 1.0
    seed = Tensor(one_hot) if create_graph else one_hot
    with enable_grad():
        return grad(
            output, inputs, seed, retain_graph=True, create_graph=create_graph, allow_unused=True
        )


def _forward_blocks(
    outputs: Sequence[Tensor], copies: tuple[Tensor, ...], create_graph: bool = False
) -> list[list[Any]]:
    """d output / d copy for each output and copy, of shape ``output.shape + copy.shape``,
    a column per input element (forward mode: ``J e_l`` from the VJP recorded once on
    placeholders, then one pass back through that recording per column).

    A graph with an op whose VJP cannot be recorded is built by rows instead.
    """
    if unrecordable_op(outputs) is not None:
        return [_jacobian_blocks(output, output.shape, copies, create_graph) for output in outputs]
    live = [position for position, output in enumerate(outputs) if output.requires_grad]
    columns: list[list[list[Any]]] = [[[None] * copy.size for copy in copies] for _ in outputs]
    us, vjps = linearized(outputs, copies, create_graph)
    for index, (found, copy) in enumerate(zip(vjps, copies)):
        if found is None or not found.requires_grad:  # constant in u: zero columns
            continue
        for element in range(copy.size):
            found_columns = _one_hot_pass(found, us, element, create_graph)
            for position, column in zip(live, found_columns):
                columns[position][index][element] = column
    return [
        [
            _assembled(found, output.shape, copy.shape, copy.dtype, create_graph, axis=-1)
            for found, copy in zip(columns[position], copies)
        ]
        for position, output in enumerate(outputs)
    ]


def _assembled(
    parts: list[Any],
    output_shape: tuple[int, ...],
    input_shape: tuple[int, ...],
    dtype: Any,
    create_graph: bool,
    axis: int,
) -> Any:
    """A block of shape ``output_shape + input_shape`` from its rows (``axis=0``: one per
    output element, each of ``input_shape``) or columns (``axis=-1``: one per input element,
    each of ``output_shape``); a None part is zeros. Recorded with ``create_graph``."""
    part_shape = input_shape if axis == 0 else output_shape
    shape = output_shape + input_shape
    if create_graph:
        # Each part in its row of the block, by sums of Tensor products: this layer has
        # no stacking op, and a recorded Jacobian is small.
        total = Tensor(np.zeros((len(parts), int(np.prod(part_shape))), dtype=dtype))
        for index, part in enumerate(parts):
            if part is not None:
                place = np.zeros((len(parts), 1), dtype=dtype)
                place[index] = 1.0
                total = total + place * part.reshape(1, -1)
        return (total if axis == 0 else total.transpose()).reshape(shape)
    block = np.zeros((len(parts), int(np.prod(part_shape))), dtype=dtype)
    for index, part in enumerate(parts):
        if part is not None:
            block[index] = part.data.ravel()
    return (block if axis == 0 else block.T).reshape(shape)


def _first_gradients(output: Tensor, copies: tuple[Tensor, ...]) -> tuple[Tensor | None, ...]:
    """The recorded gradient of ``output`` for each copy (``None`` where unused)."""
    if not output.requires_grad:
        return (None,) * len(copies)
    return grad(output, copies, create_graph=True, allow_unused=True)


def _filled(gradients: Sequence[Tensor | None], copies: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    """The recorded gradients, a zero Tensor for each copy the output does not depend on:
    the outputs whose JVP forward-over-reverse takes."""
    return tuple(
        gradient if gradient is not None else zeros_of(copy)
        for gradient, copy in zip(gradients, copies)
    )


def jacobian(
    fn: Callable[..., Tensor],
    inputs: Inputs,
    create_graph: bool = False,
    strict: bool = False,
    *,
    mode: Mode = "reverse",
) -> Tensor | tuple[Tensor, ...]:
    """The Jacobian of ``fn`` at ``inputs``: ``J[k, l] = d fn(inputs)[k] / d input[l]``.

    For one input the result has shape ``output.shape + input.shape``; for a
    tuple of inputs it is a tuple with one such Tensor per input.

    ``mode="reverse"`` builds it a row at a time (one backward pass per output
    element), ``mode="forward"`` a column at a time (one pass per input element,
    see :func:`~tinygrad_ann.jvp`), ``mode="auto"`` picks the one expected to be faster:
    forward when its passes (a recording worth about 7 rows, then 1.3 rows per input
    element, as measured in docs/forward_mode.md) are fewer than the output's rows. All
    give the same values. With
    ``create_graph=True`` the result is recorded and can be differentiated again;
    ``strict=True`` raises for an input the output does not depend on (else its
    block is zero).

    >>> import tinygrad_ann as tg
    >>> jacobian(lambda x: x**2, tg.tensor([1.0, 3.0]))  # diag(2x)
    Tensor([[2., 0.],
            [0., 6.]])
    >>> jacobian(lambda x: x.sum(keepdims=True) * x, tg.tensor([1.0, 2.0]), mode="forward")
    Tensor([[4., 1.],
            [2., 5.]])
    """
    chosen = _checked_mode("jacobian", mode)
    is_tuple, copies = differentiable_copies("jacobian", inputs, create_graph)
    output = _call("jacobian", fn, copies)
    if chosen == "auto":
        columns = sum(copy.size for copy in copies)
        forward = FORWARD_RECORDING_PASSES + FORWARD_PASSES_PER_COLUMN * columns
        chosen = "forward" if forward < output.size else "reverse"
    if chosen == "forward":
        blocks = _forward_blocks((output,), copies, create_graph)[0]
    else:
        blocks = _jacobian_blocks(output, output.shape, copies, create_graph)
    if strict:
        _check_used("jacobian", output, copies, is_tuple)
    tensors = tuple(block if create_graph else Tensor(block) for block in blocks)
    return tensors if is_tuple else tensors[0]


def _check_used(where: str, output: Tensor, copies: tuple[Tensor, ...], is_tuple: bool) -> None:
    """``strict=True``: an input no output depends on is an error, named."""
    used: tuple[Tensor | None, ...] = (None,) * len(copies)
    if output.requires_grad:
        with enable_grad():
            seed = np.ones(output.shape, dtype=output.dtype)
            used = grad(output, copies, seed, retain_graph=True, allow_unused=True)
    for position, found in enumerate(used):
        if found is None:
            name = f"input {position}" if is_tuple else "the input"
            raise ValueError(
                f"{where}(strict=True): the output does not depend on {name}, so its "
                "derivatives are all zero; pass strict=False to get zeros"
            )


def hessian(
    fn: Callable[..., Tensor], inputs: Inputs, *, mode: Literal["reverse", "forward"] = "reverse"
) -> Tensor | tuple[tuple[Tensor, ...], ...]:
    """The Hessian of a one-element ``fn``: ``H[k, l] = d² fn / d input[k] d input[l]``.

    For one input the result has shape ``input.shape + input.shape``; for a
    tuple of inputs it is a tuple of tuples, ``H[i][j]`` of shape
    ``inputs[i].shape + inputs[j].shape``.

    It is the Jacobian of the recorded gradient: by rows (``mode="reverse"``,
    reverse-over-reverse) or by columns (``mode="forward"``, forward-over-reverse,
    which here costs an extra recorded pass: docs/forward_mode.md measures both).

    >>> import tinygrad_ann as tg
    >>> hessian(lambda x: (x**3).sum(), tg.tensor([1.0, 2.0]))  # diag(6x)
    Tensor([[ 6.,  0.],
            [ 0., 12.]])
    """
    chosen = _checked_mode("hessian", mode, ("reverse", "forward"))
    is_tuple, copies = differentiable_copies("hessian", inputs, False)
    output = _scalar("hessian", fn, copies)
    gradients = _first_gradients(output, copies)
    if chosen == "forward":
        live = _filled(gradients, copies)
        blocks = _forward_blocks(live, copies)
    else:
        blocks = [
            _jacobian_blocks(gradient, copy.shape, copies)
            for gradient, copy in zip(gradients, copies)
        ]
    rows = tuple(tuple(Tensor(block) for block in row) for row in blocks)
    return rows if is_tuple else rows[0][0]


def hvp(
    fn: Callable[..., Tensor],
    inputs: Inputs,
    v: Any,
    *,
    mode: Literal["reverse", "forward"] = "reverse",
) -> tuple[Tensor, Tensor | tuple[Tensor, ...]]:
    """``(fn(inputs), H v)``: the Hessian of a one-element ``fn`` times ``v``, without forming H.

    ``v`` (Tensors or arrays) has the structure and shapes of ``inputs``, and so
    does the product. It costs two backward passes, whatever the number of
    inputs: ``H v`` is the gradient of ``grad(fn) · v`` (``mode="reverse"``). With
    ``mode="forward"`` it is the JVP of the gradient along ``v`` (forward-over-reverse,
    :func:`~tinygrad_ann.jvp`): the same values, for an extra recorded pass here.

    >>> import tinygrad_ann as tg
    >>> value, product = hvp(lambda x: (x**3).sum(), tg.tensor([1.0, 2.0]), tg.tensor([1.0, 1.0]))
    >>> value, product  # H = diag(6x)
    (Tensor(9.), Tensor([ 6., 12.]))
    """
    is_tuple, copies = differentiable_copies("hvp", inputs, False)
    if not is_tuple:
        vectors = (v,)
    elif isinstance(v, tuple | list) and len(v) == len(copies):
        vectors = tuple(v)
    else:
        raise ValueError(
            f"hvp: inputs is a tuple of {len(copies)} Tensor(s), so v must be a tuple of "
            f"{len(copies)} as well, one per input with its shape; got {type(v).__name__}"
            + (f" of length {len(v)}" if isinstance(v, tuple | list) else "")
        )
    arrays = []
    for position, (vector, copy) in enumerate(zip(vectors, copies)):
        array = np.asarray(vector.data if isinstance(vector, Tensor) else vector, dtype=copy.dtype)
        if array.shape != copy.shape:
            raise ShapeError(
                f"hvp: v for input {position} has shape {array.shape} but the input has shape "
                f"{copy.shape}; v must have the shape of the inputs"
            )
        arrays.append(array)
    output = _scalar("hvp", fn, copies)
    if _checked_mode("hvp", mode, ("reverse", "forward")) == "forward":
        gradients = _filled(_first_gradients(output, copies), copies)
        products = jvp_products("hvp", gradients, copies, tuple(arrays), False, False, is_tuple)
        found_forward = tuple(product.detach() for product in products)
        return output.detach(), found_forward if is_tuple else found_forward[0]
    total = None  # grad(fn) · v, summed over the inputs that have a second derivative
    with enable_grad():
        for gradient, array in zip(_first_gradients(output, copies), arrays):
            if gradient is not None and gradient.requires_grad:
                term = (gradient * array).sum()
                total = term if total is None else total + term
    found = (None,) * len(copies) if total is None else grad(total, copies, allow_unused=True)
    result = tuple(
        Tensor(np.zeros(copy.shape, dtype=copy.dtype) if product is None else product.data)
        for product, copy in zip(found, copies)
    )
    return output.detach(), result if is_tuple else result[0]

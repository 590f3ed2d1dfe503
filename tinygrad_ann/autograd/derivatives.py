"""Whole Jacobians, Hessians and Hessian-vector products of a function.

These follow ``torch.autograd.functional``: ``fn`` takes Tensors and returns a
Tensor, ``inputs`` is one Tensor or a tuple of them. Each input is copied
(same float dtype, detached, requiring grad), so the caller's tensors are
never modified and never get a ``.grad``. Results are plain Tensors with no
graph. A part that does not depend on an input is zero, never an error.

The Jacobian is built a row at a time: the gradient for a one-hot upstream
gradient on output element ``k`` is row ``k``. The Hessian is the Jacobian of
the gradient, taken with ``create_graph=True`` so it can be differentiated
again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import DTypeError, ShapeError
from ..tensor import Tensor
from .engine import grad
from .grad_mode import enable_grad

__all__ = ["hessian", "hvp", "jacobian"]

Inputs = Tensor | Sequence[Tensor]


def _copies(where: str, inputs: Inputs) -> tuple[bool, tuple[Tensor, ...]]:
    """Whether ``inputs`` was a tuple, and detached copies of it that require grad."""
    is_tuple = isinstance(inputs, tuple | list)
    values = tuple(inputs) if is_tuple else (inputs,)
    if not values:
        raise ValueError(f"{where}: inputs is empty; pass a Tensor or a tuple of Tensors")
    for position, value in enumerate(values):
        if not isinstance(value, Tensor):
            raise TypeError(
                f"{where}: input {position} has type {type(value).__name__}, not Tensor; "
                "wrap it with tg.tensor(...)"
            )
        if value.dtype.kind != "f":
            raise DTypeError(
                f"{where}: input {position} has dtype {value.dtype}; only floating-point "
                "inputs can be differentiated, convert first, e.g. x.astype(np.float64)"
            )
    return is_tuple, tuple(Tensor(value.data, requires_grad=True) for value in values)


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
    output: Tensor | None, shape: tuple[int, ...], copies: tuple[Tensor, ...]
) -> list[np.ndarray]:
    """d output / d copy for each copy, of shape ``shape + copy.shape`` (``shape``: the output's).

    An output that is ``None`` or requires no grad does not depend on the copies:
    its blocks are zero.
    """
    size = int(np.prod(shape))
    blocks = [np.zeros((size, copy.size), dtype=copy.dtype) for copy in copies]
    if output is not None and output.requires_grad:
        for row in range(size):
            one_hot = np.zeros(shape, dtype=output.dtype)
            one_hot.flat[row] = 1.0
            grads = grad(output, copies, one_hot, retain_graph=True, allow_unused=True)
            for block, gradient in zip(blocks, grads):
                if gradient is not None:
                    block[row] = gradient.data.ravel()
    return [block.reshape(shape + copy.shape) for block, copy in zip(blocks, copies)]


def _first_gradients(output: Tensor, copies: tuple[Tensor, ...]) -> tuple[Tensor | None, ...]:
    """The recorded gradient of ``output`` for each copy (``None`` where unused)."""
    if not output.requires_grad:
        return (None,) * len(copies)
    return grad(output, copies, create_graph=True, allow_unused=True)


def jacobian(fn: Callable[..., Tensor], inputs: Inputs) -> Tensor | tuple[Tensor, ...]:
    """The Jacobian of ``fn`` at ``inputs``: ``J[k, l] = d fn(inputs)[k] / d input[l]``.

    For one input the result has shape ``output.shape + input.shape``; for a
    tuple of inputs it is a tuple with one such Tensor per input.

    >>> import tinygrad_ann as tg
    >>> jacobian(lambda x: x**2, tg.tensor([1.0, 3.0]))  # diag(2x)
    Tensor([[2., 0.],
            [0., 6.]])
    """
    is_tuple, copies = _copies("jacobian", inputs)
    output = _call("jacobian", fn, copies)
    blocks = tuple(Tensor(block) for block in _jacobian_blocks(output, output.shape, copies))
    return blocks if is_tuple else blocks[0]


def hessian(fn: Callable[..., Tensor], inputs: Inputs) -> Tensor | tuple[tuple[Tensor, ...], ...]:
    """The Hessian of a one-element ``fn``: ``H[k, l] = d² fn / d input[k] d input[l]``.

    For one input the result has shape ``input.shape + input.shape``; for a
    tuple of inputs it is a tuple of tuples, ``H[i][j]`` of shape
    ``inputs[i].shape + inputs[j].shape``.

    >>> import tinygrad_ann as tg
    >>> hessian(lambda x: (x**3).sum(), tg.tensor([1.0, 2.0]))  # diag(6x)
    Tensor([[ 6.,  0.],
            [ 0., 12.]])
    """
    is_tuple, copies = _copies("hessian", inputs)
    output = _scalar("hessian", fn, copies)
    gradients = _first_gradients(output, copies)
    rows = tuple(
        tuple(Tensor(block) for block in _jacobian_blocks(gradient, copy.shape, copies))
        for gradient, copy in zip(gradients, copies)
    )
    return rows if is_tuple else rows[0][0]


def hvp(
    fn: Callable[..., Tensor], inputs: Inputs, v: Any
) -> tuple[Tensor, Tensor | tuple[Tensor, ...]]:
    """``(fn(inputs), H v)``: the Hessian of a one-element ``fn`` times ``v``, without forming H.

    ``v`` (Tensors or arrays) has the structure and shapes of ``inputs``, and so
    does the product. It costs two backward passes, whatever the number of
    inputs: ``H v`` is the gradient of ``grad(fn) · v``.

    >>> import tinygrad_ann as tg
    >>> value, product = hvp(lambda x: (x**3).sum(), tg.tensor([1.0, 2.0]), tg.tensor([1.0, 1.0]))
    >>> value, product  # H = diag(6x)
    (Tensor(9.), Tensor([ 6., 12.]))
    """
    is_tuple, copies = _copies("hvp", inputs)
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

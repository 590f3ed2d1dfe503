"""How reductions read their axes (NumPy's ``axis=``, PyTorch's ``dim=``), and the
``(values, indices)`` pair that ``max(dim=...)`` and ``min(dim=...)`` return."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from .autograd import Function


class ValuesIndices(NamedTuple):
    """What ``max(dim=...)`` and ``min(dim=...)`` return, as PyTorch's ``torch.return_types``."""

    values: Tensor
    indices: Tensor


def _axis_or_dim(where: str, axis: Any, dim: Any) -> Any:
    if dim is None:
        return axis
    if axis is not None:
        raise TypeError(f"{where}: give axis= (NumPy's name) or dim= (PyTorch's), not both")
    return dim


def _extreme(
    tensor: Tensor,
    where: str,
    op: type[Function],
    arg_function: Callable[..., Any],
    positional: tuple[Any, ...],
    axis: Any,
    keepdims: bool,
    dim: int | None,
    keepdim: bool,
) -> Tensor | ValuesIndices:
    if positional:
        raise TypeError(
            f"{where}({', '.join(map(repr, positional))}): an axis given by position is "
            f"ambiguous. Write {where}(axis=...) for the values only (NumPy), or "
            f"{where}(dim=...) for the pair (values, indices) (PyTorch)"
        )
    if dim is None:
        return op.apply(tensor, axis=_axis(axis), keepdims=keepdims)
    if axis is not None:
        raise TypeError(f"{where}: give axis= (NumPy's name) or dim= (PyTorch's), not both")
    if not isinstance(dim, int | np.integer):
        raise TypeError(
            f"{where}: dim= takes one axis (an int), got {dim!r}; for several axes use "
            f"{where}(axis=...), which gives the values only"
        )
    if tensor.ndim == 0:
        return ValuesIndices(tensor.reshape(()), Tensor._wrap(np.asarray(0)))  # its own extreme
    if not -tensor.ndim <= dim < tensor.ndim:
        raise IndexError(
            f"{where}: dim={dim} is out of range for a tensor of shape {tensor.shape} "
            f"(from {-tensor.ndim} to {tensor.ndim - 1})"
        )
    axis = int(dim) % tensor.ndim
    found = ops.ArgExtreme.apply(tensor._data, function=arg_function, axis=axis, keepdims=True)
    indices = found._data
    # The values are gathered at the indices, so the gradient goes to the element each
    # index names, ties or not, as in PyTorch.
    index: list[Any] = list(np.indices(indices.shape, sparse=True))
    index[axis] = indices
    values = tensor[tuple(index)]
    if not keepdim:
        values = values.squeeze(axis)
        found = found.squeeze(axis)
    return ValuesIndices(values, found)


def _axis(axis: int | Sequence[int] | None) -> int | tuple[int, ...] | None:
    if axis is None or isinstance(axis, int | np.integer):
        return axis
    return tuple(axis)


from . import ops  # noqa: E402 - ops build on Tensor; imported last to break the cycle
from .tensor import Tensor  # noqa: E402 - tensor.py imports this module; imported last to break the cycle

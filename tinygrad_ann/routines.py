"""NumPy-style functions (``tg.exp(x)``, ``tg.where(c, a, b)``, ...) over tensors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import ops
from .reductions import _axis_or_dim
from .tensor import ArrayLike, Tensor, ensure_tensor
from .tensor_methods import gather as gather


def sum(  # noqa: A001
    x: ArrayLike,
    axis: Any = None,
    keepdims: bool = False,
    *,
    dim: Any = None,
    keepdim: bool = False,
) -> Tensor:
    return ensure_tensor(x).sum(axis, keepdims, dim=dim, keepdim=keepdim)


def mean(
    x: ArrayLike,
    axis: Any = None,
    keepdims: bool = False,
    *,
    dim: Any = None,
    keepdim: bool = False,
) -> Tensor:
    return ensure_tensor(x).mean(axis, keepdims, dim=dim, keepdim=keepdim)


def max(  # noqa: A001
    x: ArrayLike,
    axis: Any = None,
    keepdims: bool = False,
    *,
    dim: Any = None,
    keepdim: bool = False,
) -> Any:
    """NumPy's ``max(x, axis)`` gives the values, PyTorch's ``max(x, dim=)`` (values, indices)."""
    if dim is not None:
        return ensure_tensor(x).max(dim=dim, keepdim=keepdim)
    return ensure_tensor(x).max(axis=axis, keepdims=keepdims)


def min(  # noqa: A001
    x: ArrayLike,
    axis: Any = None,
    keepdims: bool = False,
    *,
    dim: Any = None,
    keepdim: bool = False,
) -> Any:
    """As :func:`max`: ``min(x, axis)`` the values, ``min(x, dim=)`` (values, indices)."""
    if dim is not None:
        return ensure_tensor(x).min(dim=dim, keepdim=keepdim)
    return ensure_tensor(x).min(axis=axis, keepdims=keepdims)


def exp(x: ArrayLike) -> Tensor:
    return ensure_tensor(x).exp()


def log(x: ArrayLike) -> Tensor:
    return ensure_tensor(x).log()


def sqrt(x: ArrayLike) -> Tensor:
    return ensure_tensor(x).sqrt()


def abs(x: ArrayLike) -> Tensor:  # noqa: A001
    return ensure_tensor(x).abs()


def clip(x: ArrayLike, lo: float | None, hi: float | None) -> Tensor:
    return ensure_tensor(x).clip(lo, hi)


def reshape(x: ArrayLike, *shape: Any) -> Tensor:
    return ensure_tensor(x).reshape(*shape)


def transpose(x: ArrayLike, *axes: Any) -> Tensor:
    return ensure_tensor(x).transpose(*axes)


def flatten(x: ArrayLike) -> Tensor:
    return ensure_tensor(x).flatten()


def relu(x: ArrayLike) -> Tensor:
    return ensure_tensor(x).relu()


def sigmoid(x: ArrayLike) -> Tensor:
    return ensure_tensor(x).sigmoid()


def tanh(x: ArrayLike) -> Tensor:
    return ensure_tensor(x).tanh()


def softmax(x: ArrayLike, axis: int = -1) -> Tensor:
    return ensure_tensor(x).softmax(axis)


def log_softmax(x: ArrayLike, axis: int = -1) -> Tensor:
    return ensure_tensor(x).log_softmax(axis)


def matmul(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Matrix product with NumPy's rules (1-d operands, batched stacks)."""
    return ops.MatMul.apply(a, b)


def maximum(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Elementwise maximum; where a == b each side gets half the gradient."""
    return ops.Maximum.apply(a, b)


def minimum(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Elementwise minimum; where a == b each side gets half the gradient."""
    return ops.Minimum.apply(a, b)


def where(condition: ArrayLike, a: ArrayLike, b: ArrayLike) -> Tensor:
    """``a`` where ``condition`` holds, else ``b``; the condition gets no gradient."""
    return ops.Where.apply(condition, a, b)


def concatenate(
    tensors: Sequence[ArrayLike], axis: int | None = None, *, dim: int | None = None
) -> Tensor:
    """Join tensors along an existing axis (``axis=`` or PyTorch's ``dim=``; 0 by default)."""
    if not tensors:
        raise ValueError("concatenate: need at least one tensor")
    return ops.Concatenate.apply(*tensors, axis=_axis_or_dim("concatenate", axis, dim) or 0)


def cat(tensors: Sequence[ArrayLike], dim: int = 0) -> Tensor:
    """PyTorch's name for :func:`concatenate`.

    >>> import tinygrad_ann as tg
    >>> tg.cat([tg.ones(2), tg.zeros(1)])
    Tensor([1., 1., 0.])
    """
    return concatenate(tensors, dim)


def stack(tensors: Sequence[ArrayLike], axis: int = 0) -> Tensor:
    """Join same-shaped tensors along a new axis."""
    if not tensors:
        raise ValueError("stack: need at least one tensor")
    return ops.Stack.apply(*tensors, axis=axis)


def tril(x: ArrayLike, diagonal: int = 0) -> Tensor:
    """The lower triangle of ``x``'s last two axes (see :meth:`Tensor.tril`)."""
    return ensure_tensor(x).tril(diagonal)


def triu(x: ArrayLike, diagonal: int = 0) -> Tensor:
    """The upper triangle of ``x``'s last two axes (see :meth:`Tensor.triu`)."""
    return ensure_tensor(x).triu(diagonal)


def sin(x: ArrayLike) -> Tensor:
    return ensure_tensor(x).sin()


def cos(x: ArrayLike) -> Tensor:
    return ensure_tensor(x).cos()


def log1p(x: ArrayLike) -> Tensor:
    return ensure_tensor(x).log1p()


def expm1(x: ArrayLike) -> Tensor:
    return ensure_tensor(x).expm1()


def logsumexp(x: ArrayLike, dim: Any = None, keepdim: bool = False) -> Tensor:
    return ensure_tensor(x).logsumexp(dim, keepdim)


def cumsum(x: ArrayLike, dim: int) -> Tensor:
    return ensure_tensor(x).cumsum(dim)

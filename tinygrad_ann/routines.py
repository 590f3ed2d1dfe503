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
    """``tg.sum(x)`` is :meth:`x.sum() <Tensor.sum>`: the sum over ``axis``, all axes by default.

    NumPy's ``axis=``/``keepdims=`` and PyTorch's ``dim=``/``keepdim=`` both work.

    >>> import tinygrad_ann as tg
    >>> x = tg.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> tg.sum(x)
    Tensor(10.)
    >>> tg.sum(x, dim=0)
    Tensor([4., 6.])
    """
    return ensure_tensor(x).sum(axis, keepdims, dim=dim, keepdim=keepdim)


def mean(
    x: ArrayLike,
    axis: Any = None,
    keepdims: bool = False,
    *,
    dim: Any = None,
    keepdim: bool = False,
) -> Tensor:
    """``tg.mean(x)`` is :meth:`x.mean() <Tensor.mean>`: the mean over ``axis`` (all by default).

    NumPy's ``axis=``/``keepdims=`` and PyTorch's ``dim=``/``keepdim=`` both work.

    >>> import tinygrad_ann as tg
    >>> tg.mean(tg.tensor([[1.0, 2.0], [3.0, 4.0]]), axis=1)
    Tensor([1.5, 3.5])
    """
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
    """``tg.exp(x)`` is :meth:`x.exp() <Tensor.exp>`: eˣ elementwise; ``x`` may be an array.

    >>> import tinygrad_ann as tg
    >>> tg.exp([0.0, 1.0])
    Tensor([1.        , 2.71828183])
    """
    return ensure_tensor(x).exp()


def log(x: ArrayLike) -> Tensor:
    """``tg.log(x)`` is :meth:`x.log() <Tensor.log>`: the natural logarithm elementwise."""
    return ensure_tensor(x).log()


def sqrt(x: ArrayLike) -> Tensor:
    """``tg.sqrt(x)`` is :meth:`x.sqrt() <Tensor.sqrt>`: the square root elementwise."""
    return ensure_tensor(x).sqrt()


def abs(x: ArrayLike) -> Tensor:  # noqa: A001
    """``tg.abs(x)`` is :meth:`x.abs() <Tensor.abs>`: the absolute value elementwise."""
    return ensure_tensor(x).abs()


def clip(x: ArrayLike, lo: float | None, hi: float | None) -> Tensor:
    """``tg.clip(x, lo, hi)`` is :meth:`x.clip(lo, hi) <Tensor.clip>`: values kept in ``[lo, hi]``.

    None leaves that side open (PyTorch's ``torch.clamp(x, min, max)``).

    >>> import tinygrad_ann as tg
    >>> tg.clip(tg.tensor([-2.0, 0.5, 3.0]), 0.0, 1.0)
    Tensor([0. , 0.5, 1. ])
    """
    return ensure_tensor(x).clip(lo, hi)


def reshape(x: ArrayLike, *shape: Any) -> Tensor:
    """``tg.reshape(x, 2, 3)`` is :meth:`x.reshape(2, 3) <Tensor.reshape>`: the data in a new shape.

    >>> import tinygrad_ann as tg
    >>> tg.reshape(tg.arange(6), (3, 2)).shape
    (3, 2)
    """
    return ensure_tensor(x).reshape(*shape)


def transpose(x: ArrayLike, *axes: Any) -> Tensor:
    """``tg.transpose(x, *axes)`` is :meth:`x.transpose(*axes) <Tensor.transpose>`.

    No axes reverses them (NumPy); all of them permute (NumPy); two of a tensor
    with more swap just those two (``torch.transpose(x, 0, 1)``).

    >>> import tinygrad_ann as tg
    >>> tg.transpose(tg.zeros(2, 3, 4)).shape
    (4, 3, 2)
    >>> tg.transpose(tg.zeros(2, 3, 4), 0, 1).shape
    (3, 2, 4)
    """
    return ensure_tensor(x).transpose(*axes)


def flatten(x: ArrayLike) -> Tensor:
    """``tg.flatten(x)`` is :meth:`x.flatten() <Tensor.flatten>`: all axes merged into one."""
    return ensure_tensor(x).flatten()


def relu(x: ArrayLike) -> Tensor:
    """``tg.relu(x)`` is :meth:`x.relu() <Tensor.relu>`: ``max(x, 0)`` elementwise."""
    return ensure_tensor(x).relu()


def sigmoid(x: ArrayLike) -> Tensor:
    """``tg.sigmoid(x)`` is :meth:`x.sigmoid() <Tensor.sigmoid>`: ``1 / (1 + exp(-x))``."""
    return ensure_tensor(x).sigmoid()


def tanh(x: ArrayLike) -> Tensor:
    """``tg.tanh(x)`` is :meth:`x.tanh() <Tensor.tanh>`: the hyperbolic tangent elementwise."""
    return ensure_tensor(x).tanh()


def softmax(x: ArrayLike, axis: int = -1) -> Tensor:
    """``tg.softmax(x, axis)`` is :meth:`x.softmax(axis) <Tensor.softmax>`.

    ``exp(x) / sum(exp(x))`` along ``axis``: probabilities that sum to 1, computed stably.

    >>> import tinygrad_ann as tg
    >>> tg.softmax(tg.zeros(2))
    Tensor([0.5, 0.5])
    """
    return ensure_tensor(x).softmax(axis)


def log_softmax(x: ArrayLike, axis: int = -1) -> Tensor:
    """``tg.log_softmax(x, axis)`` is :meth:`x.log_softmax(axis) <Tensor.log_softmax>`.

    The log-probabilities along ``axis``: ``x - logsumexp(x)``, computed stably.
    """
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
    """``tg.sin(x)`` is :meth:`x.sin() <Tensor.sin>`: the sine elementwise, in radians."""
    return ensure_tensor(x).sin()


def cos(x: ArrayLike) -> Tensor:
    """``tg.cos(x)`` is :meth:`x.cos() <Tensor.cos>`: the cosine elementwise, in radians."""
    return ensure_tensor(x).cos()


def log1p(x: ArrayLike) -> Tensor:
    """``tg.log1p(x)`` is :meth:`x.log1p() <Tensor.log1p>`: ``log(1 + x)``, exact for tiny x."""
    return ensure_tensor(x).log1p()


def expm1(x: ArrayLike) -> Tensor:
    """``tg.expm1(x)`` is :meth:`x.expm1() <Tensor.expm1>`: ``exp(x) - 1``, exact for tiny x."""
    return ensure_tensor(x).expm1()


def logsumexp(x: ArrayLike, dim: Any = None, keepdim: bool = False) -> Tensor:
    """``tg.logsumexp(x, dim)`` is :meth:`x.logsumexp(dim) <Tensor.logsumexp>`: ``log(sum(exp(x)))``
    over ``dim`` (all axes by default), without overflow.

    >>> import tinygrad_ann as tg
    >>> tg.logsumexp(tg.tensor([1000.0, 1000.0]), dim=0)
    Tensor(1000.69314718)
    """
    return ensure_tensor(x).logsumexp(dim, keepdim)


def cumsum(x: ArrayLike, dim: int) -> Tensor:
    """``tg.cumsum(x, dim)`` is :meth:`x.cumsum(dim) <Tensor.cumsum>`: running sums along ``dim``.

    >>> import tinygrad_ann as tg
    >>> tg.cumsum(tg.tensor([1.0, 2.0, 3.0]), 0)
    Tensor([1., 3., 6.])
    """
    return ensure_tensor(x).cumsum(dim)

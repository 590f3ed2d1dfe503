"""The Tensor methods a PyTorch user reaches for first, under PyTorch's names and semantics.

``Tensor`` inherits them from :class:`TensorMethods`, so they show in ``help(Tensor)``,
in editors and to type checkers like the methods written in ``tensor.py``. This module is
Tensor's base class, loaded before Tensor exists, so each method imports the op table
when it runs (``ops`` builds on Tensor).

Reductions take NumPy's ``axis=``/``keepdims=`` or PyTorch's ``dim=``/``keepdim=``.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import DTypeError, ShapeError

if TYPE_CHECKING:
    from .tensor import ArrayLike, Tensor

Axes = int | Sequence[int] | None


class ElementCount(int):
    """``x.size``: the number of elements, an ``int`` as NumPy's ``size`` is. Called, it
    answers PyTorch's habits instead: ``x.size()`` is the shape, ``x.size(dim)`` the
    length of one axis.

    >>> import tinygrad_ann as tg
    >>> x = tg.zeros(2, 3)
    >>> x.size, x.size(), x.size(-1)
    (6, (2, 3), 3)
    """

    _shape: tuple[int, ...]

    def __new__(cls, shape: tuple[int, ...]) -> ElementCount:
        count = super().__new__(cls, int(np.prod(shape, dtype=np.int64)))
        count._shape = shape
        return count

    def __call__(self, dim: int | None = None) -> Any:
        if dim is None:
            return self._shape
        rank = len(self._shape)
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
            raise TypeError(f"size: dim must be an int, got {type(dim).__name__}")
        if not -rank <= dim < rank:
            raise IndexError(
                f"size: dim {dim} is out of range for a tensor of shape {self._shape} "
                f"(from {-rank} to {rank - 1})"
            )
        return self._shape[dim]


class TensorMethods:
    """Elementwise math, reductions, shape and indexing methods with PyTorch's names."""

    __slots__ = ()

    if TYPE_CHECKING:  # what Tensor provides

        @property
        def shape(self) -> tuple[int, ...]: ...
        @property
        def ndim(self) -> int: ...
        @property
        def dtype(self) -> np.dtype: ...
        @property
        def _data(self) -> np.ndarray: ...
        def reshape(self, *shape: Any) -> Tensor: ...
        def astype(self, dtype: Any) -> Tensor: ...
        def abs(self) -> Tensor: ...
        def sqrt(self) -> Tensor: ...
        def __pow__(self, exponent: ArrayLike) -> Tensor: ...

    @property
    def size(self) -> ElementCount:
        """The number of elements, as NumPy's ``size``; ``x.size()`` and ``x.size(dim)``
        give the shape and one axis's length, as PyTorch's (see
        :class:`~tinygrad_ann.tensor_methods.ElementCount`)."""
        return ElementCount(self._data.shape)

    # ------------------------------------------------------------- elementwise
    def pow(self, exponent: ArrayLike) -> Tensor:
        """``self ** exponent`` (PyTorch's method name)."""
        return self**exponent

    def log1p(self) -> Tensor:
        """``log(1 + x)``, exact for tiny x; d/dx = 1 / (1 + x)."""
        from . import ops

        return ops.Log1p.apply(self)

    def expm1(self) -> Tensor:
        """``exp(x) - 1``, exact for tiny x; d/dx = exp(x)."""
        from . import ops

        return ops.Expm1.apply(self)

    def sin(self) -> Tensor:
        """Sine elementwise; d/dx = cos(x)."""
        from . import ops

        return ops.Sin.apply(self)

    def cos(self) -> Tensor:
        """Cosine elementwise; d/dx = -sin(x)."""
        from . import ops

        return ops.Cos.apply(self)

    def round(self, decimals: int = 0) -> Tensor:
        """Round half to even, as PyTorch and NumPy do; the gradient is 0 (a step function).

        >>> import tinygrad_ann as tg
        >>> tg.tensor([0.5, 1.5, 2.7]).round()
        Tensor([0., 2., 3.])
        """
        from . import ops

        return ops.Round.apply(self, decimals=decimals)

    def __abs__(self) -> Tensor:
        return self.abs()

    def __mod__(self, other: ArrayLike) -> Tensor:
        """PyTorch's ``remainder``: the sign of the divisor, as Python's ``%``.

        d/da = 1, d/db = -floor(a / b).
        """
        from . import ops

        return ops.Remainder.apply(self, other)

    def __rmod__(self, other: ArrayLike) -> Tensor:
        from . import ops

        return ops.Remainder.apply(other, self)

    def __floordiv__(self, other: ArrayLike) -> Tensor:
        """``floor(a / b)``, as Python's ``//``; its gradient is 0, as in PyTorch."""
        from . import ops

        return ops.FloorDivide.apply(self, other)

    def __rfloordiv__(self, other: ArrayLike) -> Tensor:
        from . import ops

        return ops.FloorDivide.apply(other, self)

    # ------------------------------------------------------------- copies and casts
    def clone(self) -> Tensor:
        """A copy with its own memory that stays in the graph (the gradient flows through)."""
        from . import ops

        return ops.Clone.apply(self)

    def double(self) -> Tensor:
        """This tensor as float64 (differentiable, as ``astype``)."""
        return self.astype(np.float64)

    def numel(self) -> int:
        """The number of elements."""
        return int(self._data.size)

    # ------------------------------------------------------------- reductions
    def var(
        self,
        dim: Axes | bool = None,
        unbiased: bool | None = None,
        keepdim: bool = False,
        *,
        correction: builtins.float | None = None,
        axis: Axes = None,
        keepdims: bool = False,
    ) -> Tensor:
        """Variance ``sum((x - mean)^2) / (n - correction)`` over ``dim`` (all by default).

        ``correction=1`` (the default, as in PyTorch) is the unbiased estimate,
        ``correction=0`` the population variance; ``unbiased=False`` means
        ``correction=0``. Where ``n <= correction`` the result is inf or NaN.

        >>> import tinygrad_ann as tg
        >>> tg.tensor([1.0, 2.0, 3.0, 4.0]).var()
        Tensor(1.66666667)
        >>> tg.tensor([1.0, 2.0, 3.0, 4.0]).var(correction=0)
        Tensor(1.25)
        """
        return _variance("var", self, dim, unbiased, keepdim or keepdims, correction, axis)

    def std(
        self,
        dim: Axes | bool = None,
        unbiased: bool | None = None,
        keepdim: bool = False,
        *,
        correction: builtins.float | None = None,
        axis: Axes = None,
        keepdims: bool = False,
    ) -> Tensor:
        """Standard deviation, ``sqrt(var(...))``, with :meth:`var`'s arguments.

        >>> import tinygrad_ann as tg
        >>> tg.tensor([[1.0, 3.0], [2.0, 6.0]]).std(dim=1)
        Tensor([1.41421356, 2.82842712])
        """
        return _variance("std", self, dim, unbiased, keepdim or keepdims, correction, axis).sqrt()

    def all(
        self, dim: Axes = None, keepdim: bool = False, *, axis: Axes = None, keepdims: bool = False
    ) -> Tensor:
        """Whether every element is true (nonzero) over ``dim`` (all by default): a bool
        Tensor, not differentiable.

        >>> import tinygrad_ann as tg
        >>> (tg.tensor([[1.0, -2.0], [3.0, 4.0]]) > 0).all(dim=1)
        Tensor([False,  True])
        """
        return _truth(
            "all", self, np.all, _reduced_axes("all", self, axis, dim), keepdim or keepdims
        )

    def any(
        self, dim: Axes = None, keepdim: bool = False, *, axis: Axes = None, keepdims: bool = False
    ) -> Tensor:
        """Whether some element is true (nonzero) over ``dim`` (all by default): a bool
        Tensor, not differentiable.

        >>> import tinygrad_ann as tg
        >>> (tg.tensor([1.0, -2.0]) < 0).any()
        Tensor(True)
        """
        return _truth(
            "any", self, np.any, _reduced_axes("any", self, axis, dim), keepdim or keepdims
        )

    def logsumexp(
        self,
        dim: Axes = None,
        keepdim: bool = False,
        *,
        axis: Axes = None,
        keepdims: bool = False,
    ) -> Tensor:
        """``log(sum(exp(x)))`` over ``dim``, shifted by the max: no overflow for any finite x.

        Its gradient is ``softmax(x)`` along ``dim``.

        >>> import tinygrad_ann as tg
        >>> tg.tensor([1e4, 1e4]).logsumexp(dim=0)
        Tensor(10000.69314718)
        """
        from . import ops

        axis = _reduced_axes("logsumexp", self, axis, dim)
        return ops.LogSumExp.apply(self, axis=axis, keepdims=keepdims or keepdim)

    def norm(
        self,
        p: builtins.float | str = 2,
        dim: Axes = None,
        keepdim: bool = False,
        *,
        axis: Axes = None,
        keepdims: bool = False,
    ) -> Tensor:
        """The vector ``p``-norm over ``dim`` (all elements by default: Frobenius's for p=2).

        ``p`` is 2 (``sqrt(sum(x^2))``, computed without overflow; its gradient is
        ``x / norm``, 0 at the zero vector), 1 (``sum(|x|)``) or ``inf``
        (``max(|x|)``, the gradient shared by tied maxima); ``"fro"`` means 2.

        >>> import tinygrad_ann as tg
        >>> tg.tensor([[3.0, 4.0], [6.0, 8.0]]).norm(dim=1)
        Tensor([ 5., 10.])
        """
        from . import ops

        if p == "fro":
            p = 2
        if p not in (1, 2, np.inf):
            raise ValueError(f"norm: p must be 1, 2, inf or 'fro', got {p!r}")
        axis = _reduced_axes("norm", self, axis, dim)
        return ops.Norm.apply(self, p=p, axis=axis, keepdims=keepdims or keepdim)

    def cumsum(self, dim: int | None = None, *, axis: int | None = None) -> Tensor:
        """Cumulative sum along ``dim``; the gradient is the reversed cumulative sum.

        >>> import tinygrad_ann as tg
        >>> tg.tensor([1.0, 2.0, 3.0]).cumsum(0)
        Tensor([1., 3., 6.])
        """
        from . import ops

        if dim is None and axis is None:
            raise TypeError("cumsum: give the axis to sum along, e.g. x.cumsum(dim=0)")
        along = _reduced_axes("cumsum", self, axis, dim)
        if along is None:  # a 0-d tensor: its own cumulative sum
            return self.reshape(())
        if not isinstance(along, int):
            raise TypeError(f"cumsum: dim takes one axis (an int), got {along!r}")
        return ops.Cumsum.apply(self, axis=along)

    # ------------------------------------------------------------- shape
    def squeeze(self, dim: Axes = None, *, axis: Axes = None) -> Tensor:
        """Drop size-1 axes: all of them, or those of ``dim`` that have size 1 (PyTorch
        leaves an axis of another size in place rather than failing)."""
        axes = _reduced_axes("squeeze", self, axis, dim)
        if axes is None:
            return self.reshape(tuple(size for size in self.shape if size != 1))
        chosen = {axes} if isinstance(axes, int) else set(axes)
        return self.reshape(
            tuple(size for i, size in enumerate(self.shape) if not (i in chosen and size == 1))
        )

    def unsqueeze(self, dim: int | None = None, *, axis: int | None = None) -> Tensor:
        """Insert a size-1 axis at ``dim`` (from ``-ndim - 1`` to ``ndim``)."""
        from .reductions import _axis_or_dim

        position = _axis_or_dim("unsqueeze", axis, dim)
        if not isinstance(position, int | np.integer) or isinstance(position, bool):
            raise TypeError(f"unsqueeze: dim takes one axis (an int), got {position!r}")
        if not -self.ndim - 1 <= position <= self.ndim:
            raise IndexError(
                f"unsqueeze: dim={position} is out of range for a tensor of shape {self.shape} "
                f"(from {-self.ndim - 1} to {self.ndim})"
            )
        position = int(position) % (self.ndim + 1)
        return self.reshape((*self.shape[:position], 1, *self.shape[position:]))

    def permute(self, *dims: Any) -> Tensor:
        """Reorder the axes: ``x.permute(2, 0, 1)`` (every axis once)."""
        from . import ops
        from .arrays import _normalize_shape

        order = _normalize_shape(dims)
        if sorted(d % self.ndim if self.ndim else d for d in order) != list(range(self.ndim)):
            raise ShapeError(
                f"permute: dims {order} must name each of the {self.ndim} axes of a tensor "
                f"of shape {self.shape} once"
            )
        return ops.Transpose.apply(self, axes=order)

    def expand(self, *sizes: Any) -> Tensor:
        """This tensor broadcast to ``sizes``; -1 keeps an axis's size, new axes go first.

        >>> import tinygrad_ann as tg
        >>> tg.tensor([[1.0], [2.0]]).expand(-1, 3)
        Tensor([[1., 1., 1.],
                [2., 2., 2.]])
        """
        from . import ops
        from .arrays import _normalize_shape

        wanted = _normalize_shape(sizes)
        added = len(wanted) - self.ndim
        if added < 0:
            raise ShapeError(
                f"expand: {len(wanted)} sizes {wanted} for a tensor of shape {self.shape}; "
                f"give at least one per axis ({self.ndim})"
            )
        target = []
        for position, size in enumerate(wanted):
            old = self.shape[position - added] if position >= added else None
            if size == -1 and old is not None:
                size = old
            elif size < 0 or (old is not None and old != 1 and size != old):
                raise ShapeError(
                    f"expand: cannot expand shape {self.shape} to {wanted}: size {size} at "
                    f"axis {position} must be {old if old is not None else 'non-negative'}"
                    + (" or -1" if old is not None else " (-1 only keeps an existing axis)")
                )
            target.append(size)
        return ops.BroadcastTo.apply(self, shape=tuple(target))

    def repeat(self, *sizes: Any) -> Tensor:
        """Tile this tensor ``sizes[i]`` times along axis ``i`` (as ``np.tile``; more
        sizes than axes add leading axes).

        >>> import tinygrad_ann as tg
        >>> tg.tensor([1.0, 2.0]).repeat(2, 2)
        Tensor([[1., 2., 1., 2.],
                [1., 2., 1., 2.]])
        """
        from . import ops
        from .arrays import _normalize_shape

        times = _normalize_shape(sizes)
        if len(times) < self.ndim or any(r < 0 for r in times):
            raise ShapeError(
                f"repeat: sizes {times} for a tensor of shape {self.shape}: give one "
                f"non-negative count per axis, at least {self.ndim}"
            )
        shape = (1,) * (len(times) - self.ndim) + self.shape
        # (s0, s1) -> (1, s0, 1, s1) -> (r0, s0, r1, s1) -> (r0 s0, r1 s1)
        spread = self.reshape(tuple(n for size in shape for n in (1, size)))
        tiled = ops.BroadcastTo.apply(
            spread, shape=tuple(n for r, size in zip(times, shape) for n in (r, size))
        )
        return tiled.reshape(tuple(r * size for r, size in zip(times, shape)))

    # ------------------------------------------------------------- selection
    def masked_fill(self, mask: ArrayLike, value: ArrayLike) -> Tensor:
        """``value`` where the boolean ``mask`` (broadcast to this shape) is True, else self.

        The gradient flows to self where the mask is False (and to a Tensor ``value``
        from every place it filled).

        >>> import tinygrad_ann as tg
        >>> scores = tg.tensor([[1.0, 2.0], [3.0, 4.0]])
        >>> scores.masked_fill(tg.tensor([[False, True], [False, False]]), -1e9)
        Tensor([[ 1.e+00, -1.e+09],
                [ 3.e+00,  4.e+00]])
        """
        from . import ops
        from .tensor import Tensor, array_of

        condition = np.asarray(array_of(mask))
        if condition.dtype != np.bool_:
            raise DTypeError(
                f"masked_fill: the mask must be boolean, got dtype {condition.dtype}; "
                "build it with a comparison (x > 0) or mask.astype(bool)"
            )
        try:
            fits = np.broadcast_shapes(condition.shape, self.shape) == self.shape
        except ValueError:
            fits = False
        if not fits:
            raise ShapeError(
                f"masked_fill: a mask of shape {condition.shape} does not broadcast to the "
                f"tensor's shape {self.shape}"
            )
        if isinstance(value, Tensor):
            if value.ndim:
                raise ShapeError(
                    f"masked_fill: value must be a number or a 0-d tensor, got shape {value.shape}"
                )
            filler: Any = value if value.dtype == self.dtype else value.astype(self.dtype)
        else:
            filler = np.asarray(value, dtype=self.dtype)
        return ops.Where.apply(condition, filler, self)

    def gather(self, dim: int, index: ArrayLike) -> Tensor:
        """``out[i][j] = self[index[i][j]][j]`` for ``dim=0`` (and so on): values picked
        along ``dim``. ``index`` has this tensor's number of axes and is no larger on
        the others. The gradient is scattered back and added where indices repeat.

        >>> import tinygrad_ann as tg
        >>> x = tg.tensor([[1.0, 2.0], [3.0, 4.0]])
        >>> x.gather(1, tg.tensor([[0, 0], [1, 0]]))
        Tensor([[1., 1.],
                [4., 3.]])
        """
        return gather(self, dim, index)  # type: ignore[arg-type]  # self is a Tensor

    def tril(self, diagonal: int = 0) -> Tensor:
        """The lower triangle of the last two axes (on and below ``diagonal``), zeros above."""
        return _triangle("tril", self, diagonal, lower=True)

    def triu(self, diagonal: int = 0) -> Tensor:
        """The upper triangle of the last two axes (on and above ``diagonal``), zeros below."""
        return _triangle("triu", self, diagonal, lower=False)

    # Last: inside the class body, this name would shadow the built-in ``float`` above.
    def float(self) -> Tensor:
        """This tensor as float32 (differentiable, as ``astype``)."""
        return self.astype(np.float32)


def gather(source: ArrayLike, dim: int, index: ArrayLike) -> Tensor:
    """Values of ``source`` picked along ``dim`` at ``index`` (see :meth:`Tensor.gather`)."""
    from . import ops
    from .tensor import array_of, ensure_tensor

    source = ensure_tensor(source)
    indices = np.asarray(array_of(index))
    if indices.dtype.kind not in "iu":
        raise DTypeError(f"gather: index must hold integers, got dtype {indices.dtype}")
    if indices.ndim != source.ndim:
        raise ShapeError(
            f"gather: index of shape {indices.shape} must have as many axes as the tensor "
            f"of shape {source.shape} ({source.ndim})"
        )
    if source.ndim == 0:
        source, indices = source.reshape(1), indices.reshape(1)
        return gather(source, 0, indices).reshape(())
    axis = _reduced_axes("gather", source, None, dim)
    if not isinstance(axis, int):
        raise TypeError(f"gather: dim takes one axis (an int), got {dim!r}")
    for position, (wanted, size) in enumerate(zip(indices.shape, source.shape)):
        if position != axis and wanted > size:
            raise ShapeError(
                f"gather: index of shape {indices.shape} is larger than the tensor of shape "
                f"{source.shape} at axis {position}"
            )
    size = source.shape[axis]
    if indices.size and (indices.min() < 0 or indices.max() >= size):
        bad = indices[(indices < 0) | (indices >= size)].flat[0]
        raise IndexError(
            f"gather: index {bad} is out of bounds for axis {axis} of size {size} "
            f"(tensor of shape {source.shape})"
        )
    picked: list[Any] = list(np.indices(indices.shape, sparse=True))
    picked[axis] = indices
    return ops.GetItem.apply(source, index=tuple(picked))


def _truth(where: str, tensor: Any, function: Any, axis: Any, keepdims: bool) -> Tensor:
    from . import ops

    return ops.Truth.apply(tensor._data, function=function, axis=axis, keepdims=keepdims)


def _triangle(where: str, tensor: Any, diagonal: int, lower: bool) -> Tensor:
    from . import ops

    if tensor.ndim < 2:
        raise ShapeError(
            f"{where}: needs at least 2 axes (a matrix or a stack of them), got shape "
            f"{tensor.shape}"
        )
    rows, cols = tensor.shape[-2:]
    keep = np.tri(rows, cols, diagonal, dtype=bool)
    if not lower:
        keep = ~np.tri(rows, cols, diagonal - 1, dtype=bool)
    return ops.Where.apply(keep, tensor, np.zeros((), tensor.dtype))


def _reduced_axes(where: str, tensor: Any, axis: Any, dim: Any) -> int | tuple[int, ...] | None:
    """``axis`` or ``dim`` as non-negative axes, checked against ``tensor``'s shape.

    A 0-d tensor accepts axis 0 or -1, as in PyTorch (meaning all of it).
    """
    from .reductions import _axis_or_dim

    chosen = _axis_or_dim(where, axis, dim)
    if chosen is None:
        return None
    several = not isinstance(chosen, int | np.integer)
    axes = tuple(chosen) if several else (chosen,)
    limit = max(tensor.ndim, 1)
    for value in axes:
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise TypeError(f"{where}: an axis must be an int, got {value!r}")
        if not -limit <= value < limit:
            raise IndexError(
                f"{where}: dim={value} is out of range for a tensor of shape {tensor.shape} "
                f"(from {-limit} to {limit - 1})"
            )
    if tensor.ndim == 0:
        return None
    normal = tuple(int(value) % limit for value in axes)
    if len(set(normal)) != len(normal):
        raise ValueError(f"{where}: dim {chosen} names an axis twice")
    return normal if several else normal[0]


def _variance(
    where: str,
    tensor: Any,
    dim: Any,
    unbiased: bool | None,
    keepdim: bool,
    correction: Any,
    axis: Any,
) -> Tensor:
    from . import ops

    if isinstance(dim, bool):  # var(True): PyTorch's var(unbiased)
        dim, unbiased = None, dim if unbiased is None else unbiased
    axes = _reduced_axes(where, tensor, axis, dim)
    dof = _correction(where, unbiased, correction)
    return ops.Var.apply(tensor, axis=axes, correction=dof, keepdims=keepdim)


def _correction(where: str, unbiased: bool | None, correction: Any) -> builtins.float:
    if unbiased is not None and correction is not None:
        raise TypeError(f"{where}: give unbiased= or correction=, not both")
    if correction is None:
        return 0.0 if unbiased is False else 1.0
    if isinstance(correction, bool) or not isinstance(correction, int | builtins.float):
        raise TypeError(
            f"{where}: correction must be a number (1 divides by n - 1, 0 by n), got {correction!r}"
        )
    return builtins.float(correction)

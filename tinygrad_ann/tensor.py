"""``Tensor``: a NumPy array that remembers how it was computed."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from .errors import DTypeError

if TYPE_CHECKING:
    from .autograd import Function

# A runtime alias with a forward reference, which the ``X | Y`` syntax cannot express.
ArrayLike = Union["Tensor", np.ndarray, float, int, Sequence[Any]]


class _DefaultDType:
    dtype: np.dtype = np.dtype(np.float64)


def set_default_dtype(dtype: Any) -> None:
    """Set the float dtype that Python numbers, lists and new parameters get.

    >>> import numpy as np, tinygrad_ann as tg
    >>> tg.set_default_dtype(np.float32)
    >>> tg.tensor([1.0, 2.0]).dtype
    dtype('float32')
    >>> tg.set_default_dtype(np.float64)
    """
    resolved = np.dtype(dtype)
    if resolved.kind != "f":
        raise DTypeError(f"set_default_dtype: expected a floating dtype, got {resolved}")
    _DefaultDType.dtype = resolved


def get_default_dtype() -> np.dtype:
    """The float dtype used for Python numbers, lists and new parameters."""
    return _DefaultDType.dtype


def _to_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Copy ``data`` into a fresh array, applying tinygrad_ann's dtype rules."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        return np.array(data, dtype=dtype)
    if isinstance(data, np.ndarray | np.generic):
        return np.array(data)
    array = np.array(data)
    if array.dtype.kind == "f":
        array = array.astype(_DefaultDType.dtype, copy=False)
    return array


def _check_can_require_grad(data: np.ndarray, where: str) -> None:
    if data.dtype.kind not in "fc":
        raise DTypeError(
            f"{where}: only floating-point tensors can require gradients, got dtype "
            f"{data.dtype}; convert first, e.g. Tensor(x.astype(np.float64), requires_grad=True)"
        )


def _normalize_shape(shape: tuple[Any, ...]) -> tuple[int, ...]:
    """Accept ``f(2, 3)`` and ``f((2, 3))`` alike, as PyTorch does."""
    if len(shape) == 1 and isinstance(shape[0], Iterable):
        return tuple(shape[0])
    return tuple(shape)


class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    ``Tensor(data, requires_grad=False, dtype=None)`` copies ``data`` (a NumPy
    array keeps its dtype; Python numbers and lists of floats get the default
    dtype, float64 unless changed with ``set_default_dtype``). Operations on
    tensors that require a gradient are recorded, and ``backward()`` fills the
    ``.grad`` of the leaf tensors.

    >>> import tinygrad_ann as tg
    >>> x = tg.Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    Tensor([[2., 4.],
            [6., 8.]])
    """

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "_retains_grad", "__weakref__")

    # Make NumPy defer to our reflected operators: ``array + tensor`` is a Tensor.
    __array_ufunc__ = None

    def __init__(self, data: ArrayLike, requires_grad: bool = False, dtype: Any = None) -> None:
        self.data: np.ndarray = _to_array(data, dtype)
        if requires_grad:
            _check_can_require_grad(self.data, "Tensor")
        self.grad: Tensor | None = None
        self.requires_grad: bool = bool(requires_grad)
        self._ctx: Function | None = None
        self._retains_grad = False

    @classmethod
    def _wrap(cls, data: np.ndarray) -> Tensor:
        """A Tensor around ``data`` with no copy and no checks (for op results)."""
        tensor = cls.__new__(cls)
        tensor.data = data
        tensor.grad = None
        tensor.requires_grad = False
        tensor._ctx = None
        tensor._retains_grad = False
        return tensor

    # ----------------------------------------------------------------- properties
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def T(self) -> Tensor:  # noqa: N802 - NumPy's name
        """The tensor with its axes reversed (``x.transpose()``)."""
        return self.transpose()

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded operation."""
        return self._ctx is None

    @property
    def grad_fn(self) -> Function | None:
        """The recorded operation that produced this tensor, if any."""
        return self._ctx

    # ----------------------------------------------------------------- conversion
    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self.data

    def item(self) -> float:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(
                f"item(): only a one-element tensor can be converted to a Python number, "
                f"this one has shape {self.shape}"
            )
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def detach(self) -> Tensor:
        """A tensor sharing this one's data, cut from the graph."""
        return Tensor._wrap(self.data)

    def astype(self, dtype: Any) -> Tensor:
        """A converted copy; differentiable between floating dtypes."""
        return ops.Cast.apply(self, dtype=np.dtype(dtype))

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place and return self."""
        if requires_grad:
            _check_can_require_grad(self.data, "requires_grad_")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor during backward."""
        self._retains_grad = True

    def register_hook(self, hook: Callable[[Tensor], ArrayLike | None]) -> autograd.RemovableHandle:
        """Call ``hook(grad)`` when this tensor's gradient is computed in a backward pass.

        ``grad`` is a Tensor holding the tensor's whole gradient for that pass
        (for a leaf: summed over every use, before it is added to ``.grad``); the
        hook may return a replacement of the same shape, or None to keep it. Hooks
        run in the order they were registered, on leaves and intermediate tensors
        alike, in ``backward()`` and ``tg.grad``. Returns a handle whose
        ``remove()`` takes the hook off again.

        >>> import tinygrad_ann as tg
        >>> x = tg.tensor([1.0, 2.0], requires_grad=True)
        >>> y = x * 3
        >>> handle = y.register_hook(lambda grad: grad * 10)  # scale what flows back
        >>> y.sum().backward()
        >>> x.grad
        Tensor([30., 30.])
        >>> handle.remove()
        """
        if not self.requires_grad:
            raise RuntimeError(
                "register_hook: this tensor does not require grad, so no gradient is ever "
                "computed for it; create it with requires_grad=True"
            )
        if not callable(hook):
            raise TypeError(f"register_hook: expected a function, got {type(hook).__name__}")
        return autograd._TensorHooks.register(self, hook)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if autograd._RecordingBackward.depth and self.requires_grad:
            raise TypeError(
                "a Tensor that requires grad was converted to a NumPy array inside a backward "
                "run with create_graph=True, which would make it a constant"
            )
        if dtype is not None and dtype != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        extras = []
        if self.data.dtype != _DefaultDType.dtype and self.data.dtype.kind == "f":
            extras.append(f"dtype={self.data.dtype}")
        if self._ctx is not None:
            extras.append(f"grad_fn=<{self._ctx.op_name()}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return f"Tensor({body}{''.join(', ' + e for e in extras)})"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """Jupyter shows a tensor made by ops as its computation graph, when ``dot`` exists."""
        from . import viz  # viz builds on this module

        bundle = {"text/plain": repr(self)}
        if self._ctx is not None and viz.dot_available():
            graph = viz.draw_graph(self, max_nodes=200)
            bundle["image/svg+xml"] = graph.pipe(format="svg", encoding="utf-8")
        return bundle

    # ----------------------------------------------------------------- autograd
    def backward(
        self,
        gradient: ArrayLike | None = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
    ) -> None:
        """Accumulate d(self)/d(leaf) into the ``.grad`` of every leaf that needs it.

        ``gradient`` is the upstream gradient, required unless this tensor has
        one element. The graph's saved arrays are freed afterwards unless
        ``retain_graph=True``. With ``create_graph=True`` the accumulated
        ``.grad`` tensors are themselves recorded, so they can be differentiated
        again; ``retain_graph`` then defaults to True.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward(): this tensor does not require grad and has no recorded graph; "
                "create the inputs with requires_grad=True (and not inside no_grad())"
            )
        seed = autograd._seed("backward()", self, gradient, create_graph)
        autograd.run_backward(
            (self,),
            (seed,),
            retain_graph=create_graph if retain_graph is None else retain_graph,
            create_graph=create_graph,
        )

    # ----------------------------------------------------------------- arithmetic
    def __add__(self, other: ArrayLike) -> Tensor:
        return ops.Add.apply(self, other)

    def __radd__(self, other: ArrayLike) -> Tensor:
        return ops.Add.apply(other, self)

    def __sub__(self, other: ArrayLike) -> Tensor:
        return ops.Sub.apply(self, other)

    def __rsub__(self, other: ArrayLike) -> Tensor:
        return ops.Sub.apply(other, self)

    def __mul__(self, other: ArrayLike) -> Tensor:
        return ops.Mul.apply(self, other)

    def __rmul__(self, other: ArrayLike) -> Tensor:
        return ops.Mul.apply(other, self)

    def __truediv__(self, other: ArrayLike) -> Tensor:
        return ops.Div.apply(self, other)

    def __rtruediv__(self, other: ArrayLike) -> Tensor:
        return ops.Div.apply(other, self)

    def __pow__(self, exponent: ArrayLike) -> Tensor:
        return ops.Pow.apply(self, exponent)

    def __rpow__(self, base: ArrayLike) -> Tensor:
        return ops.Pow.apply(base, self)

    def __matmul__(self, other: ArrayLike) -> Tensor:
        return ops.MatMul.apply(self, other)

    def __rmatmul__(self, other: ArrayLike) -> Tensor:
        return ops.MatMul.apply(other, self)

    def __neg__(self) -> Tensor:
        return ops.Neg.apply(self)

    def __pos__(self) -> Tensor:
        return self

    # Comparisons give boolean tensors outside the graph, as in PyTorch.
    def __lt__(self, other: ArrayLike) -> Tensor:
        return Tensor._wrap(np.asarray(self.data < _data(other)))

    def __le__(self, other: ArrayLike) -> Tensor:
        return Tensor._wrap(np.asarray(self.data <= _data(other)))

    def __gt__(self, other: ArrayLike) -> Tensor:
        return Tensor._wrap(np.asarray(self.data > _data(other)))

    def __ge__(self, other: ArrayLike) -> Tensor:
        return Tensor._wrap(np.asarray(self.data >= _data(other)))

    def __eq__(self, other: object) -> Tensor:  # type: ignore[override]
        return Tensor._wrap(np.asarray(self.data == _data(other)))

    def __ne__(self, other: object) -> Tensor:  # type: ignore[override]
        return Tensor._wrap(np.asarray(self.data != _data(other)))

    # Identity hashing: tensors are graph nodes, keys of sets and dicts.
    __hash__ = object.__hash__

    # ----------------------------------------------------------------- elementwise
    def exp(self) -> Tensor:
        """``e ** x`` elementwise; d/dx = exp(x)."""
        return ops.Exp.apply(self)

    def log(self) -> Tensor:
        """Natural logarithm elementwise; d/dx = 1/x."""
        return ops.Log.apply(self)

    def sqrt(self) -> Tensor:
        """Square root elementwise; d/dx = 1/(2 sqrt(x))."""
        return ops.Sqrt.apply(self)

    def abs(self) -> Tensor:
        """Absolute value; its gradient is sign(x) (0 at 0)."""
        return ops.Abs.apply(self)

    def clip(self, lo: float | None = None, hi: float | None = None) -> Tensor:
        """Limit values to ``[lo, hi]``; the gradient is 1 inside, 0 where clipped."""
        return ops.Clip.apply(self, lo=lo, hi=hi)

    def relu(self) -> Tensor:
        """``max(x, 0)``; the gradient is 1 where x > 0, else 0."""
        return ops.ReLU.apply(self)

    def sigmoid(self) -> Tensor:
        """``1 / (1 + exp(-x))``, computed without overflow; d/dx = s (1 - s)."""
        return ops.Sigmoid.apply(self)

    def tanh(self) -> Tensor:
        """Hyperbolic tangent; d/dx = 1 - tanh(x)^2."""
        return ops.Tanh.apply(self)

    def softmax(self, axis: int = -1) -> Tensor:
        """``exp(x) / sum(exp(x))`` along ``axis``, shifted by the max for stability."""
        return ops.Softmax.apply(self, axis=axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        """``x - logsumexp(x)`` along ``axis``, computed stably."""
        return ops.LogSoftmax.apply(self, axis=axis)

    # ----------------------------------------------------------------- reductions
    def sum(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        """Sum over ``axis`` (all axes by default)."""
        return ops.Sum.apply(self, axis=_axis(axis), keepdims=keepdims)

    def mean(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        """Arithmetic mean over ``axis`` (all axes by default)."""
        return ops.Mean.apply(self, axis=_axis(axis), keepdims=keepdims)

    def max(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        """Maximum over ``axis``; tied maxima share the gradient equally."""
        return ops.Max.apply(self, axis=_axis(axis), keepdims=keepdims)

    def min(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        """Minimum over ``axis``; tied minima share the gradient equally."""
        return ops.Min.apply(self, axis=_axis(axis), keepdims=keepdims)

    def argmax(self, axis: int | None = None) -> Tensor:
        """Indices of the maxima (not differentiable)."""
        return Tensor._wrap(np.asarray(np.argmax(self.data, axis=axis)))

    def argmin(self, axis: int | None = None) -> Tensor:
        """Indices of the minima (not differentiable)."""
        return Tensor._wrap(np.asarray(np.argmin(self.data, axis=axis)))

    # ----------------------------------------------------------------- shape
    def reshape(self, *shape: Any) -> Tensor:
        """Same data in a new shape (``x.reshape(2, 3)`` or ``x.reshape((2, 3))``)."""
        return ops.Reshape.apply(self, shape=_normalize_shape(shape))

    def view(self, *shape: Any) -> Tensor:
        """Alias of :meth:`reshape`, as in PyTorch."""
        return self.reshape(*shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge axes ``start_dim..end_dim`` into one (all of them by default)."""
        ndim = self.data.ndim
        if ndim == 0:
            return self.reshape(1)
        start = start_dim % ndim
        end = end_dim % ndim
        shape = self.shape
        merged = int(np.prod(shape[start : end + 1]))
        return self.reshape((*shape[:start], merged, *shape[end + 1 :]))

    def transpose(self, *axes: Any) -> Tensor:
        """Permute axes as ``np.transpose`` does (reversed when none are given)."""
        order = _normalize_shape(axes) if axes else None
        return ops.Transpose.apply(self, axes=order)

    def squeeze(self, axis: int | Sequence[int] | None = None) -> Tensor:
        """Drop size-1 axes."""
        return self.reshape(np.squeeze(np.empty(self.shape, dtype=bool), axis=axis).shape)

    def unsqueeze(self, axis: int) -> Tensor:
        """Insert a size-1 axis at ``axis``."""
        return self.reshape(np.expand_dims(np.empty(self.shape, dtype=bool), axis).shape)

    def __getitem__(self, index: Any) -> Tensor:
        return ops.GetItem.apply(self, index=_index(index))

    def __iter__(self) -> Any:
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self.data)))


def _data(value: Any) -> Any:
    return value.data if isinstance(value, Tensor) else value


def _axis(axis: int | Sequence[int] | None) -> int | tuple[int, ...] | None:
    if axis is None or isinstance(axis, int | np.integer):
        return axis
    return tuple(axis)


def _index(index: Any) -> Any:
    """Replace Tensors inside an index by their arrays."""
    if isinstance(index, tuple):
        return tuple(_data(i) for i in index)
    return _data(index)


from . import autograd, ops  # noqa: E402 - both build on Tensor; imported last to break the cycle

"""``Tensor``: a NumPy array that remembers how it was computed."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Union, overload

import numpy as np

from .errors import DTypeError, ShapeError

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


# bool, signed and unsigned integers, floats: what a Tensor holds.
_NUMERIC_KINDS = frozenset("biuf")


def _to_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Copy ``data`` into a fresh array, applying tinygrad_ann's dtype rules."""
    if isinstance(data, Tensor):
        data = data.data
    elif isinstance(data, list | tuple):
        _check_no_graph_in(data)
    try:
        if dtype is not None:
            array = np.array(data, dtype=dtype)
        elif isinstance(data, np.ndarray | np.generic):
            array = np.array(data)
        else:
            array = np.array(data)
            if array.dtype.kind == "f":
                array = array.astype(_DefaultDType.dtype, copy=False)
    except (ValueError, TypeError) as error:  # ragged lists, text that is not a number
        raise DTypeError(
            f"Tensor: cannot make a tensor from {_describe(data)}: {error}; a tensor holds a "
            "rectangular array of numbers"
        ) from None
    if array.dtype.kind not in _NUMERIC_KINDS:
        raise DTypeError(
            f"Tensor: cannot make a tensor from {_describe(data)} (NumPy gives dtype "
            f"{array.dtype}); a tensor holds numbers: bool, integers or floating point"
            + (" (complex numbers are not supported)" if array.dtype.kind == "c" else "")
        )
    return array


def _describe(data: Any) -> str:
    if isinstance(data, np.ndarray):
        return f"an array of dtype {data.dtype} and shape {data.shape}"
    text = repr(data)
    return f"{type(data).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def _check_no_graph_in(data: list[Any] | tuple[Any, ...]) -> None:
    """Refuse a list holding Tensors that are part of a graph: copying them would cut it."""
    pending: list[Any] = [data]
    while pending:
        for item in pending.pop():
            if isinstance(item, list | tuple):
                pending.append(item)
            elif (
                isinstance(item, Tensor) and item.requires_grad and autograd.switches().grad_enabled
            ):
                raise RuntimeError(
                    "Tensor: the list holds a Tensor that requires grad; copying its values into "
                    "a new tensor would silently cut it from the graph. Use tg.stack([...]) (or "
                    "tg.concatenate) to build the tensor with its gradient, or .detach() the "
                    "elements if you want the values only"
                )


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

    __slots__ = ("_data", "_grad", "requires_grad", "_ctx", "_retains_grad", "__weakref__")

    def __init__(self, data: ArrayLike, requires_grad: bool = False, dtype: Any = None) -> None:
        self._data: np.ndarray = _to_array(data, dtype)
        if requires_grad:
            _check_can_require_grad(self._data, "Tensor")
        self._grad: Tensor | None = None
        self.requires_grad: bool = bool(requires_grad)
        self._ctx: Function | None = None
        self._retains_grad = False

    @classmethod
    def _wrap(cls, data: np.ndarray) -> Tensor:
        """A Tensor around ``data`` with no copy and no checks (for op results)."""
        tensor = cls.__new__(cls)
        tensor._data = data
        tensor._grad = None
        tensor.requires_grad = False
        tensor._ctx = None
        tensor._retains_grad = False
        return tensor

    # ----------------------------------------------------------------- properties
    @property
    def data(self) -> np.ndarray:
        """The NumPy array holding the values (shared, not copied).

        Assigning replaces it, as ``p.data = ...`` does in PyTorch: a NumPy array is
        taken as it is, a Tensor gives its array (not its graph); anything else is
        refused.
        """
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        if type(value) is not np.ndarray:
            value = _as_data(value)
        if value.dtype.kind not in _NUMERIC_KINDS:
            raise DTypeError(f"data: a tensor holds numbers, got an array of dtype {value.dtype}")
        if self.requires_grad and value.dtype.kind != "f":
            raise DTypeError(
                f"data: this tensor requires grad, so its array must hold floating-point "
                f"numbers, got dtype {value.dtype}; convert it: value.astype(np.float64)"
            )
        self._data = value

    @property
    def grad(self) -> Tensor | None:
        """The gradient that ``backward()`` accumulated, or None before any.

        It may be set to None (what ``zero_grad`` does) or to a Tensor of this
        tensor's shape and dtype; anything else is refused at once.
        """
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            _check_grad_value(self, value)
        self._grad = value

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def size(self) -> int:
        return self._data.size

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

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
        return self._data

    def item(self) -> float:
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise ValueError(
                f"item(): only a one-element tensor can be converted to a Python number, "
                f"this one has shape {self.shape}"
            )
        return self._data.item()

    def tolist(self) -> Any:
        return self._data.tolist()

    def detach(self) -> Tensor:
        """A tensor sharing this one's data, cut from the graph."""
        return Tensor._wrap(self._data)

    def astype(self, dtype: Any) -> Tensor:
        """A converted copy; differentiable between floating dtypes."""
        return ops.Cast.apply(self, dtype=np.dtype(dtype))

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place and return self."""
        if requires_grad:
            _check_can_require_grad(self._data, "requires_grad_")
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
        return autograd.TensorHooks.register(self, hook)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if autograd.switches().recording_backward_depth and self.requires_grad:
            raise TypeError(
                "a Tensor that requires grad was converted to a NumPy array inside a backward "
                "run with create_graph=True, which would make it a constant"
            )
        if dtype is not None and dtype != self._data.dtype:
            return self._data.astype(dtype)
        return self._data.copy() if copy else self._data

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self._data)

    def __bool__(self) -> bool:
        return bool(self._data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"`` formats a 0-d tensor's number, as PyTorch does."""
        if not spec:
            return str(self)
        if self._data.ndim == 0:
            return format(self._data.item(), spec)
        raise TypeError(
            f"format spec {spec!r} applies to a single number, and this tensor has shape "
            f"{self.shape}: format t.item() (one element), or np.array2string(t.numpy(), ...)"
        )

    def __setstate__(self, state: Any) -> None:
        # A pickled array comes back backed by the bytes it was read from, and NumPy cannot
        # make such an array writable again once the saved-array guard locked it: copy it.
        slots = state[1] if isinstance(state, tuple) else state
        for name, value in slots.items():
            if name in ("data", "_data") and not isinstance(value.base, np.ndarray | None):
                value = value.copy()
            object.__setattr__(self, _RENAMED_SLOTS.get(name, name), value)

    def __repr__(self) -> str:
        body = np.array2string(self._data, separator=", ", prefix="Tensor(")
        extras = []
        if self._data.dtype != _DefaultDType.dtype and self._data.dtype.kind == "f":
            extras.append(f"dtype={self._data.dtype}")
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
        seed = autograd.seed_gradient("backward()", self, gradient, create_graph)
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

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """NumPy's operators with a Tensor operand: ``array + tensor`` is a recorded Tensor.

        Anything else (``np.exp(tensor)``, ``array += tensor``) raises, saying what to
        write instead: NumPy's own functions would drop the graph.
        """
        if method == "__call__" and not kwargs:
            operator = _UFUNC_OPERATORS.get(ufunc)
            if operator is not None:
                return operator(*inputs)
        raise _ufunc_error(ufunc, method, kwargs)

    # ----------------------------------------------------------------- in place
    # Each changes this tensor's values and returns it, as PyTorch's do; see
    # ``_change_in_place`` for the rules (docs/semantics.md, "Changing a tensor in place").
    def __iadd__(self, other: ArrayLike) -> Tensor:
        return _change_in_place(self, "+=", other, np.add, ops.Add.apply)

    def __isub__(self, other: ArrayLike) -> Tensor:
        return _change_in_place(self, "-=", other, np.subtract, ops.Sub.apply)

    def __imul__(self, other: ArrayLike) -> Tensor:
        return _change_in_place(self, "*=", other, np.multiply, ops.Mul.apply)

    def __itruediv__(self, other: ArrayLike) -> Tensor:
        return _change_in_place(self, "/=", other, np.true_divide, ops.Div.apply)

    def __ipow__(self, exponent: ArrayLike) -> Tensor:
        return _change_in_place(self, "**=", exponent, np.power, ops.Pow.apply)

    def add_(self, other: ArrayLike, *, alpha: float = 1) -> Tensor:
        """``self += alpha * other`` in place (``p.add_(p.grad, alpha=-lr)``)."""
        other = _times(other, alpha)
        return _change_in_place(self, "add_", other, np.add, ops.Add.apply)

    def sub_(self, other: ArrayLike, *, alpha: float = 1) -> Tensor:
        """``self -= alpha * other`` in place."""
        other = _times(other, alpha)
        return _change_in_place(self, "sub_", other, np.subtract, ops.Sub.apply)

    def mul_(self, other: ArrayLike) -> Tensor:
        """``self *= other`` in place."""
        return _change_in_place(self, "mul_", other, np.multiply, ops.Mul.apply)

    def div_(self, other: ArrayLike) -> Tensor:
        """``self /= other`` in place."""
        return _change_in_place(self, "div_", other, np.true_divide, ops.Div.apply)

    def pow_(self, exponent: ArrayLike) -> Tensor:
        """``self **= exponent`` in place."""
        return _change_in_place(self, "pow_", exponent, np.power, ops.Pow.apply)

    def zero_(self) -> Tensor:
        """Set every element to 0 in place (``p.grad.zero_()``)."""
        return self.fill_(0)

    def fill_(self, value: float) -> Tensor:
        """Set every element to ``value`` in place."""
        return _change_in_place(self, "fill_", value, _copy_into, None)

    def copy_(self, source: ArrayLike) -> Tensor:
        """Copy ``source``'s values (broadcast to this tensor's shape) in place."""
        return _change_in_place(self, "copy_", source, _copy_into, None)

    def clamp_(self, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
        """Limit the values to ``[min, max]`` in place (PyTorch's argument names)."""
        if min is None and max is None:
            raise ValueError("clamp_: give min=, max= or both")

        def clip_into(array: np.ndarray, _: Any) -> None:
            np.clip(array, min, max, out=array)

        return _change_in_place(
            self, "clamp_", None, clip_into, lambda previous, _: previous.clip(min, max)
        )

    def __setitem__(self, index: Any, value: ArrayLike) -> None:
        """``t[index] = value`` writes into this tensor, as NumPy and PyTorch do."""
        index = _index(index)

        def set_into(array: np.ndarray, value: Any) -> None:
            array[index] = value

        _change_in_place(self, "__setitem__", value, set_into, None)

    # Comparisons give boolean tensors outside the graph, as in PyTorch.
    def __lt__(self, other: ArrayLike) -> Tensor:
        return Tensor._wrap(np.asarray(self._data < array_of(other)))

    def __le__(self, other: ArrayLike) -> Tensor:
        return Tensor._wrap(np.asarray(self._data <= array_of(other)))

    def __gt__(self, other: ArrayLike) -> Tensor:
        return Tensor._wrap(np.asarray(self._data > array_of(other)))

    def __ge__(self, other: ArrayLike) -> Tensor:
        return Tensor._wrap(np.asarray(self._data >= array_of(other)))

    def __eq__(self, other: object) -> Tensor:  # type: ignore[override]
        return Tensor._wrap(np.asarray(self._data == array_of(other)))

    def __ne__(self, other: object) -> Tensor:  # type: ignore[override]
        return Tensor._wrap(np.asarray(self._data != array_of(other)))

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
    def sum(
        self,
        axis: int | Sequence[int] | None = None,
        keepdims: bool = False,
        *,
        dim: int | Sequence[int] | None = None,
        keepdim: bool = False,
    ) -> Tensor:
        """Sum over ``axis`` (all axes by default); PyTorch's ``dim=``/``keepdim=`` work too."""
        axis = _axis_or_dim("sum", axis, dim)
        return ops.Sum.apply(self, axis=_axis(axis), keepdims=keepdims or keepdim)

    def mean(
        self,
        axis: int | Sequence[int] | None = None,
        keepdims: bool = False,
        *,
        dim: int | Sequence[int] | None = None,
        keepdim: bool = False,
    ) -> Tensor:
        """Arithmetic mean over ``axis`` (all axes by default); ``dim=``/``keepdim=`` too."""
        axis = _axis_or_dim("mean", axis, dim)
        return ops.Mean.apply(self, axis=_axis(axis), keepdims=keepdims or keepdim)

    @overload
    def max(self, *, dim: int, keepdim: bool = False) -> ValuesIndices: ...

    @overload
    def max(self, *, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor: ...

    def max(
        self,
        *positional: Any,
        axis: int | Sequence[int] | None = None,
        keepdims: bool = False,
        dim: int | None = None,
        keepdim: bool = False,
    ) -> Tensor | ValuesIndices:
        """The maximum: NumPy's ``max(axis=1)`` gives the values, PyTorch's ``max(dim=1)``
        the pair ``(values, indices)``. With ``axis=`` tied maxima share the gradient
        equally; with ``dim=`` it goes to the element ``indices`` names, as in PyTorch.

        An axis given by position (``x.max(1)``) means one thing to NumPy and another
        to PyTorch, so it is refused: name it.

        >>> import tinygrad_ann as tg
        >>> scores = tg.tensor([[1.0, 3.0, 2.0], [5.0, 4.0, 6.0]])
        >>> scores.max(axis=1)
        Tensor([3., 6.])
        >>> values, indices = scores.max(dim=1)
        >>> indices
        Tensor([1, 2])
        """
        return _extreme(self, "max", ops.Max, np.argmax, positional, axis, keepdims, dim, keepdim)

    @overload
    def min(self, *, dim: int, keepdim: bool = False) -> ValuesIndices: ...

    @overload
    def min(self, *, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor: ...

    def min(
        self,
        *positional: Any,
        axis: int | Sequence[int] | None = None,
        keepdims: bool = False,
        dim: int | None = None,
        keepdim: bool = False,
    ) -> Tensor | ValuesIndices:
        """The minimum, as :meth:`max`: ``min(axis=...)`` values, ``min(dim=...)`` the pair."""
        return _extreme(self, "min", ops.Min, np.argmin, positional, axis, keepdims, dim, keepdim)

    def argmax(
        self, axis: int | None = None, *, dim: int | None = None, keepdim: bool = False
    ) -> Tensor:
        """Indices of the maxima (not differentiable); ``dim=``/``keepdim=`` as in PyTorch."""
        axis = _axis_or_dim("argmax", axis, dim)
        return Tensor._wrap(np.asarray(np.argmax(self._data, axis=axis, keepdims=keepdim)))

    def argmin(
        self, axis: int | None = None, *, dim: int | None = None, keepdim: bool = False
    ) -> Tensor:
        """Indices of the minima (not differentiable); ``dim=``/``keepdim=`` as in PyTorch."""
        axis = _axis_or_dim("argmin", axis, dim)
        return Tensor._wrap(np.asarray(np.argmin(self._data, axis=axis, keepdims=keepdim)))

    # ----------------------------------------------------------------- shape
    def reshape(self, *shape: Any) -> Tensor:
        """Same data in a new shape (``x.reshape(2, 3)`` or ``x.reshape((2, 3))``)."""
        return ops.Reshape.apply(self, shape=_normalize_shape(shape))

    def view(self, *shape: Any) -> Tensor:
        """Alias of :meth:`reshape`, as in PyTorch."""
        return self.reshape(*shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge axes ``start_dim..end_dim`` into one (all of them by default)."""
        ndim = self._data.ndim
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
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self._data)))


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
    indices = np.asarray(arg_function(tensor._data, axis=axis, keepdims=True))
    # The values are gathered at the indices, so the gradient goes to the element each
    # index names, ties or not, as in PyTorch.
    index: list[Any] = list(np.indices(indices.shape, sparse=True))
    index[axis] = indices
    values = tensor[tuple(index)]
    if not keepdim:
        values = values.squeeze(axis)
        indices = indices.squeeze(axis)
    return ValuesIndices(values, Tensor._wrap(indices))


def ensure_tensor(value: Any) -> Tensor:
    """``value`` if it is a Tensor, else ``Tensor(value)``: for functions that accept array-likes.

    >>> ensure_tensor([1.0, 2.0])
    Tensor([1., 2.])
    """
    return value if isinstance(value, Tensor) else Tensor(value)


def array_of(value: Any) -> Any:
    """The array behind ``value`` when it is a Tensor; any other value as it is."""
    return value._data if isinstance(value, Tensor) else value


def _axis(axis: int | Sequence[int] | None) -> int | tuple[int, ...] | None:
    if axis is None or isinstance(axis, int | np.integer):
        return axis
    return tuple(axis)


def _index(index: Any) -> Any:
    """Replace Tensors inside an index by their arrays."""
    if isinstance(index, tuple):
        return tuple(array_of(i) for i in index)
    return array_of(index)


# Slots named differently by earlier versions, for their pickles.
_RENAMED_SLOTS = {"data": "_data", "grad": "_grad"}


def _as_data(value: Any) -> np.ndarray:
    """What ``t.data = value`` stores: an array, or a Tensor's array; anything else is refused."""
    if isinstance(value, Tensor):
        return value._data
    if not isinstance(value, np.ndarray | np.generic):
        raise TypeError(
            f"data: expected a NumPy array (or a Tensor, whose array is taken), got "
            f"{_describe(value)}; write t.data = np.asarray(value) to replace the array, or "
            "t.fill_(value) / t.copy_(value) to write the values in place"
        )
    return np.asarray(value)


def _check_grad_value(tensor: Tensor, value: Any) -> None:
    """What ``tensor.grad = value`` accepts: a Tensor of the same shape and dtype."""
    if not isinstance(value, Tensor):
        if isinstance(value, np.ndarray):
            hint = "wrap the array: t.grad = tg.tensor(array)"
        else:
            hint = (
                "to reset a gradient write t.grad = None (or optimizer.zero_grad()); to zero "
                "it in place, t.grad.zero_()"
            )
        raise TypeError(
            f"grad: a gradient must be None or a Tensor, got {_describe(value)}; {hint}"
        )
    if value.shape != tensor.shape:
        raise ShapeError(
            f"grad: a gradient of shape {value.shape} cannot be assigned to a tensor of shape "
            f"{tensor.shape}; the shapes must be equal"
        )
    if value.dtype != tensor.dtype:
        raise DTypeError(
            f"grad: a gradient of dtype {value.dtype} cannot be assigned to a tensor of dtype "
            f"{tensor.dtype}; convert it first: value.astype(np.{tensor.dtype})"
        )


# ---------------------------------------------------------------- changes in place
def _change_in_place(
    tensor: Tensor,
    name: str,
    value: Any,
    write: Callable[[np.ndarray, Any], Any],
    recorded: Callable[[Tensor, Any], Tensor] | None,
) -> Tensor:
    """Write ``write(tensor's array, value)`` in place, under PyTorch's rules.

    While grad mode is on and a gradient is involved, the change is recorded
    with ``recorded`` (the same op out of place, whose result the tensor takes
    over) where that is safe, and refused where it is not:

    - a leaf that requires grad is refused (its change could not be recorded);
    - an op result that requires grad is recorded only when no op recorded since
      it was made can have used it (the ops that computed ``value`` aside, when
      they did not use it): such an op's gradient would flow through the change;
    - a tensor that needs no gradient, changed by a ``value`` that does, is
      recorded: no recorded op refers to it.

    Otherwise the array is written in place. An array a live graph saved for
    backward is read-only (``SavedArrays``): the tensor gets a changed copy, so
    that graph keeps differentiating the values it was computed with.
    """
    if autograd.switches().grad_enabled and (
        tensor.requires_grad or (isinstance(value, Tensor) and value.requires_grad)
    ):
        ctx = tensor._ctx
        if tensor.requires_grad and (
            ctx is None
            or autograd.may_have_been_used(tensor, value)
            or id(tensor) in autograd.TensorHooks.by_id
        ):
            raise _in_place_refusal(tensor, name)
        if recorded is None:
            raise RuntimeError(
                f"{name}: this change of a tensor that takes part in a gradient cannot be "
                "recorded in place; build the result as a new tensor (tg.where, tg.stack, "
                "tg.concatenate), or write it inside tg.no_grad() if no gradient should flow"
            )
        return _record_in_place(tensor, name, value, recorded)
    operand = value.data if isinstance(value, Tensor) else value
    array = tensor.data
    guarded = _guarded(array)
    if array.flags.writeable and not guarded:
        _write(tensor, name, array, operand, write)
        return tensor
    if not guarded:
        raise ValueError(
            f"{name}: this tensor's array (shape {array.shape}) is read-only, and not because a "
            "graph saved it: it came that way (e.g. tg.from_numpy of a read-only array, or a "
            "broadcast view). Give the tensor a writable copy first: t.data = t.data.copy()"
        )
    changed = array.copy()  # copy on write: the graph that saved ``array`` keeps it
    _write(tensor, name, changed, operand, write)
    tensor.data = changed
    return tensor


def _times(value: Any, alpha: float) -> Any:
    """``alpha * value`` for ``add_``/``sub_``'s ``alpha=`` (recorded when value is a Tensor)."""
    if alpha == 1:
        return value
    return value * alpha if isinstance(value, Tensor) else np.multiply(value, alpha)


def _write(
    tensor: Tensor, name: str, array: np.ndarray, operand: Any, write: Callable[..., Any]
) -> None:
    # NumPy checks shapes and casting before it writes anything, so a refusal changes nothing.
    try:
        if isinstance(write, np.ufunc):
            write(array, operand, out=array)
        else:
            write(array, operand)
    except ValueError as error:
        raise ShapeError(
            f"{name}: a value of shape {np.shape(operand)} does not fit a tensor of shape "
            f"{tensor.shape} in place ({error}); an in-place result keeps the tensor's shape"
        ) from None
    except TypeError as error:  # NumPy's casting refusal, e.g. a float result into integers
        raise DTypeError(
            f"{name}: {error}; in place, the tensor keeps its dtype {tensor.dtype}. Convert it "
            "first (t = t.astype(np.float64)) or compute a new tensor"
        ) from None


def _copy_into(array: np.ndarray, value: Any) -> None:
    np.copyto(array, value, casting="unsafe")  # PyTorch's fill_ and copy_ convert any dtype


def _guarded(array: np.ndarray) -> bool:
    """True while a live graph holds ``array``, or an array it is a view of, read-only."""
    counts = autograd.SavedArrays.counts
    if not counts:
        return False
    current: Any = array
    while isinstance(current, np.ndarray):
        if id(current) in counts:
            return True
        current = current.base
    return False


def _record_in_place(
    tensor: Tensor, name: str, value: Tensor, recorded: Callable[[Tensor, Any], Tensor]
) -> Tensor:
    previous = Tensor._wrap(tensor.data)
    if tensor._ctx is not None:  # an op result no op has used: it hands its place over
        previous._ctx = tensor._ctx
        previous.requires_grad = True
    result = recorded(previous, value)
    if result.shape != tensor.shape:
        raise ShapeError(
            f"{name}: the result has shape {result.shape}, but in place it must keep the "
            f"tensor's shape {tensor.shape}; compute a new tensor instead"
        )
    if result.dtype != tensor.dtype:
        result = result.astype(tensor.dtype)
    tensor.data = result.data
    tensor._ctx = result._ctx
    tensor.requires_grad = True
    return tensor


def _in_place_refusal(tensor: Tensor, name: str) -> RuntimeError:
    ctx = tensor._ctx
    if ctx is None:
        return RuntimeError(
            f"{name}: a leaf tensor that requires grad (shape {tensor.shape}) cannot be changed "
            "in place while grad mode is on (the change would not be recorded). Update it "
            "inside `with tg.no_grad():`, as an optimizer step does "
            "(`with tg.no_grad(): w -= lr * w.grad`), or make a new tensor (`w = w + 1`)"
        )
    if id(tensor) in autograd.TensorHooks.by_id:
        reason = "it has gradient hooks, which would see the changed tensor's gradient"
    else:
        reason = (
            "an op recorded since may have used it (and would then get a wrong gradient "
            "through the change)"
        )
    return RuntimeError(
        f"{name}: this tensor (shape {tensor.shape}) was computed by {ctx.op_name()} in a "
        f"recorded graph, and {reason}, so it cannot be changed in place. Compute a new "
        "tensor instead (`y = y + 1`; `y = tg.where(mask, value, y)` for `y[mask] = value`), "
        "or .detach() it first if no gradient should flow through"
    )


# ---------------------------------------------------------------- NumPy's operators
def _ufunc_error(ufunc: np.ufunc, method: str, kwargs: dict[str, Any]) -> TypeError:
    if "out" in kwargs:
        return TypeError(
            f"np.{ufunc.__name__} of a NumPy array and a Tensor cannot write into the array "
            "(e.g. `p.data += -lr * p.grad`, where p.grad is a Tensor). Use arrays on both sides "
            "(`p.data -= lr * p.grad.data`) or the Tensor's own in-place operator "
            "(`with tg.no_grad(): p -= lr * p.grad`)"
        )
    call = f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
    return TypeError(
        f"{call} was called on a Tensor: NumPy's functions do not record gradients. Use the "
        "Tensor's method or the tg function of the same name (t.exp(), tg.maximum(a, b)), or "
        "t.numpy() for the plain array"
    )


def _compare(comparison: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Tensor]:
    return lambda left, right: Tensor._wrap(np.asarray(comparison(array_of(left), array_of(right))))


from . import autograd, ops  # noqa: E402 - both build on Tensor; imported last to break the cycle

# ``array + tensor`` reaches ``Tensor.__array_ufunc__`` as ``np.add(array, tensor)``.
_UFUNC_OPERATORS: dict[np.ufunc, Callable[[Any, Any], Tensor]] = {
    np.add: ops.Add.apply,
    np.subtract: ops.Sub.apply,
    np.multiply: ops.Mul.apply,
    np.true_divide: ops.Div.apply,
    np.power: ops.Pow.apply,
    np.matmul: ops.MatMul.apply,
    np.less: _compare(np.less),
    np.less_equal: _compare(np.less_equal),
    np.greater: _compare(np.greater),
    np.greater_equal: _compare(np.greater_equal),
    np.equal: _compare(np.equal),
    np.not_equal: _compare(np.not_equal),
}

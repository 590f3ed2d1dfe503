"""``Tensor``: a NumPy array that remembers how it was computed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Union, overload

import numpy as np

from .errors import DTypeError
from .tensor_methods import TensorMethods

if TYPE_CHECKING:
    from .autograd import Function

# A runtime alias with a forward reference, which the ``X | Y`` syntax cannot express.
ArrayLike = Union["Tensor", np.ndarray, float, int, Sequence[Any]]


class Tensor(TensorMethods):
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

        Assigning replaces it, as ``p.data = ...`` does in PyTorch: a NumPy array is taken as it is,
        a Tensor gives its array (not its graph); anything else is refused.
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
        """The size along each axis, as a tuple: ``tg.zeros(2, 3).shape == (2, 3)``."""
        return self._data.shape

    @property
    def ndim(self) -> int:
        """The number of axes, ``len(x.shape)`` (PyTorch's ``x.dim()``)."""
        return self._data.ndim

    @property
    def dtype(self) -> np.dtype:
        """The elements' NumPy dtype; as in NumPy, floats give float64 and ints int64."""
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
        refuse_value_read("Tensor.numpy()")
        return self._data

    def item(self) -> float:
        """The value of a one-element tensor as a Python number."""
        refuse_value_read("Tensor.item()")
        if self._data.size != 1:
            raise ValueError(
                f"item(): only a one-element tensor can be converted to a Python number, "
                f"this one has shape {self.shape}"
            )
        return self._data.item()

    def tolist(self) -> Any:
        """The values as (nested) lists of Python numbers, or a number for a 0-d tensor."""
        refuse_value_read("Tensor.tolist()")
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

        ``grad`` is a Tensor holding the tensor's whole gradient for that pass (for a leaf: summed
        over every use, before it is added to ``.grad``); the hook may return a replacement of the
        same shape, or None to keep it. Hooks run in the order they were registered, on leaves and
        intermediate tensors alike, in ``backward()`` and ``tg.grad``. Returns a handle whose
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
        refuse_value_read("converting a Tensor to a NumPy array (np.asarray)")
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
        refuse_value_read("bool() of a Tensor (an if or while on a Tensor)")
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
        inputs: Sequence[Tensor] | Tensor | None = None,
    ) -> None:
        """Accumulate d(self)/d(leaf) into the ``.grad`` of every leaf that needs it.

        ``gradient`` is the upstream gradient, required unless this tensor has one element. The
        graph's saved arrays are freed afterwards unless ``retain_graph=True``. With
        ``create_graph=True`` the accumulated ``.grad`` tensors are themselves recorded, so they can
        be differentiated again; ``retain_graph`` then defaults to True. With ``inputs``, only those
        tensors' ``.grad`` is accumulated (leaves or not), as in PyTorch.
        """
        autograd.engine.backward_of(self, gradient, retain_graph, create_graph, inputs)

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
    # ``in_place._change_in_place`` for the rules (docs/semantics.md, "Changing a tensor in place").
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

    # Comparisons give boolean tensors outside the graph, as in PyTorch (ops, for tg.compile).
    def __lt__(self, other: ArrayLike) -> Tensor:
        return ops.Compare.apply(self._data, array_of(other), comparison=np.less)

    def __le__(self, other: ArrayLike) -> Tensor:
        return ops.Compare.apply(self._data, array_of(other), comparison=np.less_equal)

    def __gt__(self, other: ArrayLike) -> Tensor:
        return ops.Compare.apply(self._data, array_of(other), comparison=np.greater)

    def __ge__(self, other: ArrayLike) -> Tensor:
        return ops.Compare.apply(self._data, array_of(other), comparison=np.greater_equal)

    def __eq__(self, other: object) -> Tensor:  # type: ignore[override]
        return ops.Compare.apply(self._data, array_of(other), comparison=np.equal)

    def __ne__(self, other: object) -> Tensor:  # type: ignore[override]
        return ops.Compare.apply(self._data, array_of(other), comparison=np.not_equal)

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
        return ops.ArgExtreme.apply(self._data, function=np.argmax, axis=axis, keepdims=keepdim)

    def argmin(
        self, axis: int | None = None, *, dim: int | None = None, keepdim: bool = False
    ) -> Tensor:
        """Indices of the minima (not differentiable); ``dim=``/``keepdim=`` as in PyTorch."""
        axis = _axis_or_dim("argmin", axis, dim)
        return ops.ArgExtreme.apply(self._data, function=np.argmin, axis=axis, keepdims=keepdim)

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
        """Permute axes as ``np.transpose`` does (reversed when none are given); two axes
        of a tensor with more swap just those two, as ``torch.transpose(x, 0, 1)``."""
        order = _normalize_shape(axes) if axes else None
        ndim = self._data.ndim
        if order is not None and len(order) == 2 and ndim > 2:
            # NumPy refuses a partial permutation, so PyTorch's meaning changes nothing valid.
            first, second = (_axis_in("transpose", axis, ndim) for axis in order)
            swapped = list(range(ndim))
            swapped[first], swapped[second] = second, first
            order = tuple(swapped)
        return ops.Transpose.apply(self, axes=order)

    def __getitem__(self, index: Any) -> Tensor:
        return ops.GetItem.apply(self, index=_index(index))

    def __iter__(self) -> Any:
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self._data)))


def ensure_tensor(value: Any) -> Tensor:
    """``value`` if it is a Tensor, else ``Tensor(value)``: for functions that accept array-likes.

    >>> ensure_tensor([1.0, 2.0])
    Tensor([1., 2.])
    """
    return value if isinstance(value, Tensor) else Tensor(value)


def array_of(value: Any) -> Any:
    """The array behind ``value`` when it is a Tensor; any other value as it is."""
    return value._data if isinstance(value, Tensor) else value


def _index(index: Any) -> Any:
    """Replace Tensors inside an index by their arrays."""
    if isinstance(index, tuple):
        return tuple(array_of(i) for i in index)
    return array_of(index)


# Slots named differently by earlier versions, for their pickles.
_RENAMED_SLOTS = {"data": "_data", "grad": "_grad"}


def _axis_in(op: str, axis: Any, ndim: int) -> int:
    """``axis`` of a tensor with ``ndim`` axes as a position from 0, checked."""
    if not isinstance(axis, int | np.integer) or not -ndim <= axis < ndim:
        raise IndexError(f"{op}: axis {axis!r} is out of range for a tensor with {ndim} axes")
    return int(axis) % ndim


from . import autograd, ops  # noqa: E402 - both build on Tensor; imported last to break the cycle
from .arrays import (  # noqa: E402 - they build on Tensor; imported last to break the cycle
    _NUMERIC_KINDS,
    _as_data,
    _check_can_require_grad,
    _DefaultDType,
    _normalize_shape,
)
from .arrays import get_default_dtype as get_default_dtype  # noqa: E402 - for factories and nn
from .arrays import to_array as _to_array  # noqa: E402
from .autograd.capture import refuse_value_read  # noqa: E402
from .in_place import _change_in_place, _check_grad_value, _copy_into, _times  # noqa: E402
from .reductions import ValuesIndices, _axis, _axis_or_dim, _extreme  # noqa: E402
from .ufuncs import _UFUNC_OPERATORS, _ufunc_error  # noqa: E402

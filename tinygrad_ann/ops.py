"""Primitive operations, written as custom ops: the worked examples of ``docs/custom_ops.md``.

Each op is a ``Function`` subclass with the two static methods a user's op has.
``forward(ctx, *arrays)`` computes on NumPy arrays and keeps what backward needs
with ``ctx.save_for_backward(...)``; ``backward(ctx, grad)`` reads it back as
``ctx.saved`` and returns the vector-Jacobian product, one gradient per input,
computing only those that ``ctx.needs_input_grad`` asks for (``None`` for the
others). Gradients may keep the broadcast shape: the engine sums them back to
each input's shape. The math is documented on the public functions in
``tensor.py`` and ``functional.py``; this file stays terse.

Every backward is written once for both orders (``differentiable_backward``):
it uses operators, methods that arrays and Tensors share (``sum``, ``reshape``,
indexing, ``@``) and the helpers below (``exp``, ``where``, ...), which call
NumPy on arrays and the recorded op on Tensors. A first-order backward is plain
NumPy; under ``create_graph`` the same lines build a graph. Masks and signs are
computed on ``_data(x)``: they are piecewise constant, so their derivative is zero.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from .autograd import Function, column_sums
from .autograd import ones_vector as _ones
from .errors import LabelError, ShapeError
from .tensor import Tensor
from .tensor import array_of as _data


# ------------------------------------------------------------------ array-or-Tensor math
def exp(x: Any) -> Any:
    """``np.exp(x)`` on an array; on a Tensor, ``x.exp()``, recorded."""
    return Exp.apply(x) if isinstance(x, Tensor) else np.exp(x)


def log(x: Any) -> Any:
    """``np.log(x)`` on an array; on a Tensor, ``x.log()``, recorded."""
    return Log.apply(x) if isinstance(x, Tensor) else np.log(x)


def sqrt(x: Any) -> Any:
    """``np.sqrt(x)`` on an array; on a Tensor, ``x.sqrt()``, recorded."""
    return Sqrt.apply(x) if isinstance(x, Tensor) else np.sqrt(x)


def tanh(x: Any) -> Any:
    """``np.tanh(x)`` on an array; on a Tensor, ``x.tanh()``, recorded."""
    return Tanh.apply(x) if isinstance(x, Tensor) else np.tanh(x)


def sigmoid(x: Any) -> Any:
    """``1 / (1 + exp(-x))`` without overflow, on an array or (recorded) a Tensor."""
    return Sigmoid.apply(x) if isinstance(x, Tensor) else _stable_sigmoid(x)


def where(condition: Any, a: Any, b: Any) -> Any:
    """``a`` where ``condition`` holds, else ``b`` (``np.where``); recorded when ``a`` or ``b``
    is a Tensor. The condition gets no gradient."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return Where.apply(_data(condition), a, b)
    return np.where(condition, a, b)


def maximum(a: Any, b: Any) -> Any:
    """The elementwise maximum (``np.maximum``); recorded when ``a`` or ``b`` is a Tensor.

    Where ``a == b`` each side gets half the gradient, as ``tg.maximum``.
    """
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return Maximum.apply(a, b)
    return np.maximum(a, b)


def transpose(x: Any, axes: Any = None) -> Any:
    """``np.transpose(x, axes)`` on an array (axes reversed by default), recorded on a Tensor."""
    return Transpose.apply(x, axes=axes) if isinstance(x, Tensor) else np.transpose(x, axes)


def broadcast_to(x: Any, shape: tuple[int, ...]) -> Any:
    """``np.broadcast_to(x, shape)`` on an array, recorded on a Tensor: the gradient of a
    broadcast is the sum over the broadcast axes."""
    return BroadcastTo.apply(x, shape=shape) if isinstance(x, Tensor) else np.broadcast_to(x, shape)


def scatter_add(x: Any, shape: tuple[int, ...], index: Any) -> Any:
    """Zeros of ``shape`` with ``x`` added at ``index`` (repeated indices add up)."""
    if isinstance(x, Tensor):
        return ScatterAdd.apply(x, shape=shape, index=index)
    return _scatter_add(x, shape, index)


def sin(x: Any) -> Any:
    return Sin.apply(x) if isinstance(x, Tensor) else np.sin(x)


def cos(x: Any) -> Any:
    return Cos.apply(x) if isinstance(x, Tensor) else np.cos(x)


def cumsum(x: Any, axis: int) -> Any:
    return Cumsum.apply(x, axis=axis) if isinstance(x, Tensor) else np.cumsum(x, axis=axis)


def _swap_last_axes(x: Any) -> Any:
    axes = list(range(x.ndim))
    axes[-2], axes[-1] = axes[-1], axes[-2]
    return transpose(x, tuple(axes))


class Primitive(Function):
    """A built-in op (here, in conv_ops and norm_ops): its backward runs on arrays and Tensors."""

    __slots__ = ()
    differentiable_backward = True


class _Binary(Primitive):
    """Elementwise op of two operands, whose shapes must broadcast."""

    __slots__ = ()

    @classmethod
    def explain_value_error(cls, arrays: Any, error: ValueError) -> Exception:
        left, right = (np.shape(a) for a in arrays[:2])
        return ShapeError(
            f"{cls.op_name()}: operands of shapes {left} and {right} cannot be broadcast "
            "together (each trailing dimension must be equal or 1); reshape one of them, "
            "e.g. y.reshape(-1, 1) to turn a vector into a column"
        )


# ------------------------------------------------------------------ arithmetic
class Add(_Binary):
    __slots__ = ()
    name = "add"
    formula = "∂a = ∂y, ∂b = ∂y"

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, grad):
        return grad, grad


class Sub(_Binary):
    __slots__ = ()
    name = "sub"
    formula = "∂a = ∂y, ∂b = -∂y"

    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, grad):
        return grad, (-grad if ctx.needs_input_grad[1] else None)


class Mul(_Binary):
    __slots__ = ()
    name = "mul"
    formula = "∂a = ∂y · b, ∂b = ∂y · a"

    @staticmethod
    def forward(ctx, a, b):
        # Each operand is needed only for the other's gradient; saving less guards less.
        needs_a, needs_b = ctx.needs_input_grad
        ctx.save_for_backward(a if needs_b else None, b if needs_a else None)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        return (None if b is None else grad * b), (None if a is None else grad * a)


class Div(_Binary):
    __slots__ = ()
    name = "div"
    formula = "∂a = ∂y / b, ∂b = -∂y · a / b²"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b)
        return a / b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        grad_a = grad / b
        return grad_a, (-grad_a * a / b if ctx.needs_input_grad[1] else None)


class Pow(_Binary):
    __slots__ = ()
    name = "pow"
    formula = "∂a = ∂y · b · a^(b - 1), ∂b = ∂y · y · ln a"

    @staticmethod
    def forward(ctx, a, b):
        out = a**b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved
        needs_a, needs_b = ctx.needs_input_grad
        # Where a = 0 the formulas need care (_zero_base); with a constant b ≠ 0 they never do.
        zero = None
        if needs_b or isinstance(b, np.ndarray) or b == 0:
            zero = _zero_base(a)
        grad_a = grad_b = None
        if needs_a:
            exponent = b - 1
            if zero is not None:  # 0 where a = b = 0 (a mask in a's dtype: float32 stays so)
                exponent = exponent + (zero & (_data(b) == 0)).astype(_data(a).dtype)
            grad_a = grad * b * a**exponent
        if needs_b:
            base = a if zero is None else where(zero & (_data(b) >= 0), 1.0, a)
            grad_b = grad * out * log(base)
        return grad_a, grad_b


def _zero_base(a: Any) -> Any:
    """Where a = 0 (None if nowhere), which a^b's backward treats apart.

    There, where b = 0, b · a^(b - 1) is 0 but would be 0 · 0^(-1) = NaN: the exponent
    is raised to 0 (0 · 0^0 = 0). And 0^b is constant in b for b ≥ 0 (0, or 1 at b = 0):
    its slope is 0, as in PyTorch, but 0^b · ln 0 would be NaN or -inf: the base is
    taken as 1 (ln 1 = 0). Neither change brings a NaN or a NumPy warning of its own into
    any order of derivative, and wherever a ≠ 0 the formulas are untouched.
    """
    zero = _data(a) == 0
    if not isinstance(zero, np.ndarray):  # a scalar base, as in 2**x
        return zero or None
    return zero if np.count_nonzero(zero) else None


class Neg(Primitive):
    __slots__ = ()
    name = "neg"
    formula = "∂x = -∂y"

    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, grad):
        return -grad


class MatMul(Primitive):
    __slots__ = ()
    name = "matmul"
    formula = "∂a = ∂y · bᵀ, ∂b = aᵀ · ∂y"

    @classmethod
    def explain_value_error(cls, arrays, error):
        left, right = (np.shape(a) for a in arrays)
        if len(left) == 0 or len(right) == 0:
            hint = "matmul needs at least 1-d operands; use * for scalars"
        else:
            inner = right[-2] if len(right) > 1 else right[0]
            hint = (
                f"the inner dimensions differ ({left[-1]} != {inner}); "
                "transposing one operand (x.T) may be what you meant"
            )
        return ShapeError(f"matmul: cannot multiply shapes {left} @ {right}: {hint}")

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.matmul(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        # Treat vectors as matrices (a row for a, a column for b), as matmul does.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if a.ndim == 1 and b.ndim == 1:
            grad = grad.reshape((1, 1))
        elif a.ndim == 1:
            grad = grad.reshape((*grad.shape[:-1], 1, grad.shape[-1]))
        elif b.ndim == 1:
            grad = grad.reshape((*grad.shape, 1))
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_a = grad @ _swap_last_axes(b2)
            if a.ndim == 1:
                grad_a = grad_a[..., 0, :]
        if ctx.needs_input_grad[1]:
            grad_b = _swap_last_axes(a2) @ grad
            if b.ndim == 1:
                grad_b = grad_b[..., 0]
        return grad_a, grad_b


class Linear(Primitive):
    """``x @ weight.T + bias`` as one node: fewer graph steps than three ops."""

    __slots__ = ()
    name = "linear"
    formula = "∂x = ∂y · W, ∂W = ∂yᵀ · x, ∂b = Σ ∂y"

    @staticmethod
    def forward(ctx, x, weight, bias):
        needs_x, needs_weight, _ = ctx.needs_input_grad
        ctx.save_for_backward(x if needs_weight else None, weight if needs_x else None)
        out = x @ weight.T
        if bias is not None:
            out += bias
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved
        needs_x, needs_weight, needs_bias = ctx.needs_input_grad
        grad_x = grad @ weight if needs_x else None
        grad_weight = grad_bias = None
        if needs_weight or needs_bias:
            rows = grad.reshape(-1, grad.shape[-1])
            if needs_weight:
                grad_weight = rows.T @ x.reshape(-1, x.shape[-1])
            if needs_bias:
                grad_bias = column_sums(rows)
        return grad_x, grad_weight, grad_bias


class Compare(Primitive):
    """``comparison(a, b)`` (``np.less``, ``np.equal``...): a boolean array, not differentiable.

    An op, though it has no derivative, so that ``tg.compile`` replays it with fresh
    values instead of keeping the mask it made once.
    """

    __slots__ = ()
    name = "compare"
    formula = "∂a = ∂b = 0: a comparison is constant almost everywhere (never recorded)"

    @staticmethod
    def forward(ctx, a, b, comparison):
        return np.asarray(comparison(a, b))


class ArgExtreme(Primitive):
    """The indices ``function`` (``np.argmax`` or ``np.argmin``) picks: integers, not
    differentiable; an op so that ``tg.compile`` replays it (see :class:`Compare`)."""

    __slots__ = ()
    name = "argextreme"
    formula = "∂a = 0: indices are integers (never recorded)"

    @staticmethod
    def forward(ctx, a, function, axis, keepdims):
        return np.asarray(function(a, axis=axis, keepdims=keepdims))


class Truth(Primitive):
    """Whether all (``np.all``) or any (``np.any``) elements are true along ``axis``: a
    boolean, not differentiable; an op so that ``tg.compile`` replays it (see :class:`Compare`)."""

    __slots__ = ()
    name = "truth"
    formula = "∂a = 0: a truth value is constant almost everywhere (never recorded)"

    @staticmethod
    def forward(ctx, a, function, axis, keepdims):
        return np.asarray(function(a, axis=axis, keepdims=keepdims))


class Cast(Primitive):
    __slots__ = ()
    name = "cast"
    formula = "∂x = ∂y, cast back to x's dtype"

    @staticmethod
    def forward(ctx, a, dtype):
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad  # the engine casts it back to the input's dtype


# ------------------------------------------------------------------ elementwise
class Exp(Primitive):
    __slots__ = ()
    name = "exp"
    formula = "∂x = ∂y · y"

    @staticmethod
    def forward(ctx, a):
        out = np.exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved
        return grad * out


class Log(Primitive):
    __slots__ = ()
    name = "log"
    formula = "∂x = ∂y / x"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.log(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved
        return grad / a


class Sqrt(Primitive):
    __slots__ = ()
    name = "sqrt"
    formula = "∂x = ∂y / (2y)"

    @staticmethod
    def forward(ctx, a):
        out = np.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved
        return grad / (2 * out)


class Abs(Primitive):
    __slots__ = ()
    name = "abs"
    formula = "∂x = ∂y · sign(x)"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.abs(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved
        return grad * np.sign(_data(a))


class Clip(Primitive):
    __slots__ = ()
    name = "clip"
    formula = "∂x = ∂y · [lo ≤ x ≤ hi]"

    @staticmethod
    def forward(ctx, a, lo, hi):
        ctx.save_for_backward(a, lo, hi)
        return np.clip(a, lo, hi)

    @staticmethod
    def backward(ctx, grad):
        a, lo, hi = ctx.saved
        a = _data(a)
        inside = np.ones(a.shape, dtype=bool)
        if lo is not None:
            inside &= a >= lo
        if hi is not None:
            inside &= a <= hi
        return grad * inside


class ReLU(Primitive):
    __slots__ = ()
    name = "relu"
    formula = "∂x = ∂y · [x > 0]"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.maximum(a, 0)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved
        return grad * (_data(a) > 0)


class LeakyReLU(Primitive):
    __slots__ = ()
    name = "leaky_relu"
    formula = "∂x = ∂y · (1 if x > 0 else slope)"

    @staticmethod
    def forward(ctx, a, negative_slope):
        ctx.save_for_backward(a, negative_slope)
        return np.where(a > 0, a, a * negative_slope)

    @staticmethod
    def backward(ctx, grad):
        a, negative_slope = ctx.saved
        return where(_data(a) > 0, grad, grad * negative_slope)


def _stable_sigmoid(a: np.ndarray) -> np.ndarray:
    # sigmoid(a) = exp(-log(1 + exp(-a))); logaddexp never overflows.
    # (np.asarray: for a 0-d input logaddexp gives a scalar, which out= cannot take.)
    out = np.asarray(np.logaddexp(0, -a))
    np.negative(out, out=out)
    return np.exp(out, out=out)


class Sigmoid(Primitive):
    __slots__ = ()
    name = "sigmoid"
    formula = "∂x = ∂y · y(1 - y)"

    @staticmethod
    def forward(ctx, a):
        out = _stable_sigmoid(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved
        if type(out) is np.ndarray and out.ndim:  # first order: one temporary, not three
            local = 1 - out
            local *= out
            local *= grad
            return local
        return grad * out * (1 - out)


class Tanh(Primitive):
    __slots__ = ()
    name = "tanh"
    formula = "∂x = ∂y · (1 - y²)"

    @staticmethod
    def forward(ctx, a):
        out = np.tanh(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved
        if type(out) is np.ndarray and out.ndim:  # first order: one temporary, not three
            local = out * out
            np.subtract(1, local, out=local)
            local *= grad
            return local
        return grad * (1 - out * out)


_float64, _float32 = np.dtype(np.float64), np.dtype(np.float32)


def _is_last_axis(a: np.ndarray, axis: int) -> bool:
    return a.ndim >= 2 and (axis == -1 or axis == a.ndim - 1)


def _max_keepdims(a: np.ndarray, axis: int) -> np.ndarray:
    """``a.max(axis, keepdims=True)``, faster over a short last axis.

    NumPy reduces a last axis row by row, at some 35 ns a row whatever its
    length: 11 µs for W2's (300, 2) logits. One ``np.maximum`` per column takes
    under 1 µs there; from 4 columns on, reducing a transposed copy along its
    first axis (one vectorized pass per column, inside one call) beats the loop:
    3 µs instead of 7 µs for W3's (128, 10) logits.
    """
    columns = a.shape[-1] if a.ndim else 0
    if _is_last_axis(a, axis) and 2 <= columns <= 16 and a.size >= 16 * columns:
        if a.ndim == 2 and columns > 3:
            return np.maximum.reduce(a.T.copy(), axis=0)[:, None]
        out = np.maximum(a[..., 0], a[..., 1])
        for column in range(2, columns):
            np.maximum(out, a[..., column], out=out)
        return out[..., None]
    return a.max(axis=axis, keepdims=True)


def _sum_keepdims(a: np.ndarray, axis: int) -> np.ndarray:
    """``a.sum(axis, keepdims=True)``; over a float last axis, as a product with ones.

    For the same reason as ``_max_keepdims``: a matrix-vector product (BLAS)
    sums the rows of a (300, 2) array in 1 µs, the row-by-row reduce in 5.6 µs.
    """
    # Up to 128 terms NumPy's pairwise sum has no pairs either (it adds in 8 running sums):
    # the rounding is of the same kind as BLAS's.
    dtype = a.dtype
    if (dtype == _float64 or dtype == _float32) and _is_last_axis(a, axis) and a.shape[-1] <= 128:
        return np.matmul(a, _ones(a.shape[-1], dtype))[..., None]
    return a.sum(axis=axis, keepdims=True)


def _log_softmax(a: np.ndarray, axis: int) -> np.ndarray:
    shifted = a - _max_keepdims(a, axis)
    return shifted - np.log(_sum_keepdims(np.exp(shifted), axis))


class Softmax(Primitive):
    __slots__ = ()
    name = "softmax"
    formula = "∂x = y · (∂y - Σ ∂y · y)"

    @staticmethod
    def forward(ctx, a, axis):
        out = np.exp(a - _max_keepdims(a, axis))
        out /= _sum_keepdims(out, axis)
        ctx.save_for_backward(out, axis)
        return out

    @staticmethod
    def backward(ctx, grad):
        out, axis = ctx.saved
        return out * (grad - (grad * out).sum(axis=axis, keepdims=True))


class LogSoftmax(Primitive):
    __slots__ = ()
    name = "log_softmax"
    formula = "∂x = ∂y - exp(y) · Σ ∂y"

    @staticmethod
    def forward(ctx, a, axis):
        out = _log_softmax(a, axis)
        ctx.save_for_backward(out, axis)
        return out

    @staticmethod
    def backward(ctx, grad):
        out, axis = ctx.saved
        return grad - exp(out) * grad.sum(axis=axis, keepdims=True)


class Maximum(_Binary):
    __slots__ = ()
    name = "maximum"
    formula = "∂a = ∂y · [a > b], ∂b = ∂y · [b > a] (a tie gives each ½)"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.maximum(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = (_data(value) for value in ctx.saved)
        # Ties split the gradient equally, as PyTorch does.
        share_a = (a > b) + 0.5 * (a == b)
        return (
            grad * share_a if ctx.needs_input_grad[0] else None,
            grad * (1 - share_a) if ctx.needs_input_grad[1] else None,
        )


class Minimum(_Binary):
    __slots__ = ()
    name = "minimum"
    formula = "∂a = ∂y · [a < b], ∂b = ∂y · [b < a] (a tie gives each ½)"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.minimum(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = (_data(value) for value in ctx.saved)
        share_a = (a < b) + 0.5 * (a == b)
        return (
            grad * share_a if ctx.needs_input_grad[0] else None,
            grad * (1 - share_a) if ctx.needs_input_grad[1] else None,
        )


class Where(Primitive):
    __slots__ = ()
    name = "where"
    formula = "∂a = ∂y · [c], ∂b = ∂y · [not c]"

    @classmethod
    def explain_value_error(cls, arrays, error):
        shapes = ", ".join(str(np.shape(a)) for a in arrays)
        return ShapeError(f"where: condition, a and b of shapes {shapes} do not broadcast")

    @staticmethod
    def forward(ctx, condition, a, b):
        condition = np.asarray(condition, dtype=bool)
        ctx.save_for_backward(condition)
        return np.where(condition, a, b)

    @staticmethod
    def backward(ctx, grad):
        (condition,) = ctx.saved
        return (
            None,
            where(condition, grad, 0.0) if ctx.needs_input_grad[1] else None,
            where(condition, 0.0, grad) if ctx.needs_input_grad[2] else None,
        )


# ------------------------------------------------------------------ reductions
def _keepdims_shape(shape: tuple[int, ...], axis: Any) -> tuple[int, ...]:
    """The shape a reduction over ``axis`` gives with ``keepdims=True``."""
    if axis is None:
        return (1,) * len(shape)
    axes = (axis,) if isinstance(axis, int | np.integer) else axis
    axes = {a % len(shape) for a in axes}
    return tuple(1 if i in axes else size for i, size in enumerate(shape))


def _expand_reduced(grad: Any, shape: tuple[int, ...], axis: Any, keepdims: bool) -> Any:
    """Broadcast the gradient of a reduction back to the reduced input's shape."""
    if not keepdims and axis is not None:
        grad = grad.reshape(_keepdims_shape(shape, axis))
    return broadcast_to(grad, shape)


def _reduced_count(shape: tuple[int, ...], axis: Any) -> int:
    if axis is None:
        return int(np.prod(shape))
    axes = (axis,) if isinstance(axis, int | np.integer) else axis
    return int(np.prod([shape[i] for i in axes]))


class Sum(Primitive):
    __slots__ = ()
    name = "sum"
    formula = "∂x = ∂y, broadcast to x's shape"

    @staticmethod
    def forward(ctx, a, axis, keepdims):
        ctx.save_for_backward(a.shape, axis, keepdims)
        # ufunc.reduce is np.sum without its Python wrapper (several µs on small arrays).
        return np.asarray(np.add.reduce(a, axis=axis, keepdims=keepdims))

    @staticmethod
    def backward(ctx, grad):
        return _expand_reduced(grad, *ctx.saved)


class Mean(Primitive):
    __slots__ = ()
    name = "mean"
    formula = "∂x = ∂y / n, broadcast to x's shape (n: elements averaged)"

    @staticmethod
    def forward(ctx, a, axis, keepdims):
        ctx.save_for_backward(a.shape, axis, keepdims)
        total = np.add.reduce(a, axis=axis, keepdims=keepdims)
        return np.asarray(np.true_divide(total, _reduced_count(a.shape, axis)))

    @staticmethod
    def backward(ctx, grad):
        shape, axis, keepdims = ctx.saved
        return _expand_reduced(grad / _reduced_count(shape, axis), shape, axis, keepdims)


class Max(Primitive):
    __slots__ = ()
    name = "max"
    formula = "∂x = ∂y · [x = max] / (number of maxima)"
    private_saved = (0,)  # the mask of chosen elements
    # Declared: through staticmethod() mypy keeps only np.max's first overload (keepdims=False).
    reduce: ClassVar[Callable[..., np.ndarray]] = staticmethod(np.max)

    @classmethod
    def forward(cls, ctx, a, axis, keepdims):
        out = cls.reduce(a, axis=axis, keepdims=True)
        ctx.save_for_backward(a == out, axis, keepdims)
        return out if keepdims else np.squeeze(out, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        chosen, axis, keepdims = ctx.saved
        if not keepdims and axis is not None:
            grad = grad.reshape(_keepdims_shape(chosen.shape, axis))
        # Tied extremes share the gradient equally (a subgradient).
        return chosen * (grad / chosen.sum(axis=axis, keepdims=True))


class Min(Max):
    __slots__ = ()
    name = "min"
    formula = "∂x = ∂y · [x = min] / (number of minima)"
    reduce = staticmethod(np.min)


# ------------------------------------------------------------------ shape
class Reshape(Primitive):
    __slots__ = ()
    name = "reshape"
    formula = "∂x = ∂y, reshaped to x's shape"

    @classmethod
    def explain_value_error(cls, arrays, error):
        return ShapeError(f"reshape: {error}")

    @staticmethod
    def forward(ctx, a, shape):
        ctx.save_for_backward(a.shape)
        return np.reshape(a, shape)

    @staticmethod
    def backward(ctx, grad):
        (shape,) = ctx.saved
        return grad.reshape(shape)


class Transpose(Primitive):
    __slots__ = ()
    name = "transpose"
    formula = "∂x = ∂y, transposed back"

    @classmethod
    def explain_value_error(cls, arrays, error):
        return ShapeError(
            f"transpose: axes must be a permutation of all {np.ndim(arrays[0])} axes of a "
            f"tensor of shape {np.shape(arrays[0])} ({error})"
        )

    @staticmethod
    def forward(ctx, a, axes):
        out = np.transpose(a, axes)  # first: it checks the axes
        # Non-negative axes, so that argsort in backward inverts the permutation.
        ctx.save_for_backward(None if axes is None else tuple(axis % a.ndim for axis in axes))
        return out

    @staticmethod
    def backward(ctx, grad):
        (axes,) = ctx.saved
        return transpose(grad, None if axes is None else tuple(np.argsort(axes)))


def _is_advanced_index(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(part, np.ndarray | list) for part in parts)


class GetItem(Primitive):
    __slots__ = ()
    name = "getitem"
    formula = "∂x = zeros of x's shape, ∂y added at the index"

    @staticmethod
    def forward(ctx, a, index):
        ctx.save_for_backward(a.shape, _frozen_index(index))
        return a[index]

    @staticmethod
    def backward(ctx, grad):
        shape, index = ctx.saved
        return scatter_add(grad, shape, index)


def _frozen_index(index: Any) -> Any:
    """``index`` with its index arrays and lists copied: writing them later changes nothing."""
    if isinstance(index, tuple):
        return tuple(_frozen_index(part) for part in index)
    if isinstance(index, np.ndarray | list):
        return np.array(index)
    return index


def _scatter_add(values: np.ndarray, shape: tuple[int, ...], index: Any) -> np.ndarray:
    full = np.zeros(shape, dtype=values.dtype)
    if _is_advanced_index(index):
        # Repeated indices must add up, which plain assignment would not do.
        np.add.at(full, index, values)
    else:
        full[index] = values
    return full


class ScatterAdd(Primitive):
    """The transpose of indexing: what ``GetItem.backward`` records under create_graph."""

    __slots__ = ()
    name = "scatter_add"
    formula = "∂x = ∂y[index]"

    @staticmethod
    def forward(ctx, values, shape, index):
        ctx.save_for_backward(_frozen_index(index))
        return _scatter_add(values, shape, index)

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved
        return grad[index]


class BroadcastTo(Primitive):
    """What reductions' backward records under create_graph; the engine sums the VJP back."""

    __slots__ = ()
    name = "broadcast_to"
    formula = "∂x = ∂y summed over the broadcast axes"

    @staticmethod
    def forward(ctx, a, shape):
        return np.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, grad):
        return grad


class Concatenate(Primitive):
    __slots__ = ()
    name = "concatenate"
    formula = "∂xᵢ = the slice of ∂y where xᵢ sits"

    @staticmethod
    def forward(ctx, *arrays, axis):
        out = np.concatenate(arrays, axis=axis)
        ends = np.cumsum([np.shape(a)[axis] for a in arrays]).tolist()
        ctx.save_for_backward(ends, axis % out.ndim)
        return out

    @staticmethod
    def backward(ctx, grad):
        ends, axis = ctx.saved
        lead = (slice(None),) * axis
        # Not (*lead, ...) as RUF005 asks: inside [] mypy targeting 3.10 rejects it as 3.11 syntax.
        return tuple(
            grad[lead + (slice(end - size, end),)]  # noqa: RUF005
            for end, size in _sizes(ends)
        )


class Stack(Primitive):
    __slots__ = ()
    name = "stack"
    formula = "∂xᵢ = ∂y[i] along the stacked axis"

    @staticmethod
    def forward(ctx, *arrays, axis):
        out = np.stack(arrays, axis=axis)
        ctx.save_for_backward(len(arrays), axis % out.ndim)
        return out

    @staticmethod
    def backward(ctx, grad):
        count, axis = ctx.saved
        lead = (slice(None),) * axis
        return tuple(grad[lead + (i,)] for i in range(count))  # noqa: RUF005 - as in Concatenate


def _sizes(ends: list[int]) -> list[tuple[int, int]]:
    return [(end, end - start) for start, end in zip([0, *ends[:-1]], ends)]


# ------------------------------------------------------------------ first-hour ops
class Log1p(Primitive):
    __slots__ = ()
    name = "log1p"
    formula = "∂x = ∂y / (1 + x)"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.log1p(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved
        return grad / (1 + a)


class Expm1(Primitive):
    __slots__ = ()
    name = "expm1"
    formula = "∂x = ∂y · (y + 1)"

    @staticmethod
    def forward(ctx, a):
        out = np.expm1(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved
        return grad * (out + 1)


class Sin(Primitive):
    __slots__ = ()
    name = "sin"
    formula = "∂x = ∂y · cos(x)"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.sin(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved
        return grad * cos(a)


class Cos(Primitive):
    __slots__ = ()
    name = "cos"
    formula = "∂x = -∂y · sin(x)"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.cos(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved
        return -grad * sin(a)


class Clone(Primitive):
    __slots__ = ()
    name = "clone"
    formula = "∂x = ∂y"

    @staticmethod
    def forward(ctx, a):
        return a.copy()

    @staticmethod
    def backward(ctx, grad):
        return grad


class Round(Primitive):
    __slots__ = ()
    name = "round"
    formula = "∂x = 0: a step function (as PyTorch)"

    @staticmethod
    def forward(ctx, a, decimals):
        return np.round(a, decimals)

    @staticmethod
    def backward(ctx, grad):
        return grad * 0


class Remainder(_Binary):
    __slots__ = ()
    name = "remainder"
    formula = "∂a = ∂y, ∂b = -∂y · floor(a / b)"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b)
        return np.remainder(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        if not ctx.needs_input_grad[1]:
            return grad, None
        return grad, -grad * np.floor_divide(_data(a), _data(b))


class FloorDivide(_Binary):
    __slots__ = ()
    name = "floor_divide"
    formula = "∂a = ∂b = 0: a step function (as PyTorch)"

    @staticmethod
    def forward(ctx, a, b):
        return np.floor_divide(a, b)

    @staticmethod
    def backward(ctx, grad):
        zero = grad * 0
        return zero, (zero if ctx.needs_input_grad[1] else None)


def _flip(x: Any, axis: int) -> Any:
    return x[(slice(None),) * axis + (slice(None, None, -1),)]


class Cumsum(Primitive):
    __slots__ = ()
    name = "cumsum"
    formula = "∂x = reversed cumulative sum of ∂y along the axis"

    @staticmethod
    def forward(ctx, a, axis):
        ctx.save_for_backward(axis)
        return np.cumsum(a, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        (axis,) = ctx.saved
        return _flip(cumsum(_flip(grad, axis), axis), axis)


def _logsumexp(a: np.ndarray, axis: Any) -> np.ndarray:
    """log Σ exp(a) over ``axis`` (kept), shifted by the max; an infinite max is not shifted."""
    shift = np.max(a, axis=axis, keepdims=True) if a.size else np.zeros(())
    shift = np.where(np.isfinite(shift), shift, 0)
    with np.errstate(divide="ignore"):  # log 0 = -inf: every term was exp(-inf)
        return np.log(np.add.reduce(np.exp(a - shift), axis=axis, keepdims=True)) + shift


class LogSumExp(Primitive):
    __slots__ = ()
    name = "logsumexp"
    formula = "∂x = ∂y · exp(x - y) = ∂y · softmax(x)"

    @staticmethod
    def forward(ctx, a, axis, keepdims):
        kept = _logsumexp(a, axis)
        out = np.asarray(kept if keepdims else np.squeeze(kept, axis=axis))
        ctx.save_for_backward(a, out, axis, keepdims)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out, axis, keepdims = ctx.saved
        if not keepdims:
            shape = _keepdims_shape(np.shape(_data(a)), axis)
            grad, out = grad.reshape(shape), out.reshape(shape)
        return grad * exp(a - out)


class Var(Primitive):
    __slots__ = ()
    name = "var"
    formula = "∂x = ∂y · 2 (x - mean(x)) / (n - correction)"

    @staticmethod
    def forward(ctx, a, axis, correction, keepdims):
        ctx.save_for_backward(a, axis, correction, keepdims)
        centred = a - a.mean(axis=axis, keepdims=True)
        squares = np.add.reduce(centred * centred, axis=axis, keepdims=keepdims)
        with np.errstate(divide="ignore", invalid="ignore"):  # n <= correction: inf or NaN
            return np.asarray(squares / _dof(a.shape, axis, correction))

    @staticmethod
    def backward(ctx, grad):
        a, axis, correction, keepdims = ctx.saved
        shape = np.shape(_data(a))
        grad = _expand_reduced(grad, shape, axis, keepdims)
        with np.errstate(divide="ignore", invalid="ignore"):
            return grad * (
                2 * (a - a.mean(axis=axis, keepdims=True)) / _dof(shape, axis, correction)
            )


def _dof(shape: tuple[int, ...], axis: Any, correction: float) -> float:
    """n - correction, floored at 0 as PyTorch does."""
    return float(max(0, _reduced_count(shape, axis) - correction))


class Norm(Primitive):
    """The vector p-norm (p = 1, 2 or inf) over ``axis``; 2 over all axes is Frobenius's."""

    __slots__ = ()
    name = "norm"
    formula = "∂x = ∂y · x / y (p = 2), ∂y · sign(x) (p = 1), shared by the largest |x| (inf)"

    @staticmethod
    def forward(ctx, a, p, axis, keepdims):
        magnitude = np.abs(a)
        largest = np.max(magnitude, axis=axis, keepdims=True, initial=0.0)
        if p == 2:  # scaled by the largest |x|, so that squares never overflow or underflow
            scale = np.where((largest > 0) & np.isfinite(largest), largest, 1.0)
            scaled = a / scale
            kept = scale * np.sqrt(np.add.reduce(scaled * scaled, axis=axis, keepdims=True))
        elif p == 1:
            kept = np.add.reduce(magnitude, axis=axis, keepdims=True)
        else:
            kept = largest
        out = np.asarray(kept if keepdims else np.squeeze(kept, axis=axis))
        ctx.save_for_backward(a, out, p, axis, keepdims)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out, p, axis, keepdims = ctx.saved
        shape = np.shape(_data(a))
        if not keepdims:
            grad = grad.reshape(_keepdims_shape(shape, axis))
            out = out.reshape(_keepdims_shape(shape, axis))
        if p == 2:  # 0 at the zero vector, as PyTorch: a subgradient
            return grad * a / where(_data(out) == 0, 1.0, out)
        sign = np.sign(_data(a))
        if p == 1:
            return grad * sign
        largest = np.abs(_data(a)) == _data(out)
        return grad * (sign * largest / largest.sum(axis=axis, keepdims=True))


# ------------------------------------------------------------------ losses
def _reduce(losses: np.ndarray, reduction: str) -> np.ndarray:
    if reduction == "mean":
        return np.asarray(np.add.reduce(losses, axis=None) / losses.size)
    if reduction == "sum":
        return np.asarray(np.add.reduce(losses, axis=None))
    return losses


def _reduction_scale(grad: Any, count: int, reduction: str) -> Any:
    """The upstream gradient as a per-element factor on the unreduced losses. A mean over
    nothing (every target ignored) is NaN, as its gradient is, without NumPy's warning."""
    if reduction != "mean":
        return grad
    return grad / count if count else grad * np.nan


def _one_hot(labels: np.ndarray, classes: int, dtype: Any) -> np.ndarray:
    encoded = np.zeros((len(labels), classes), dtype=dtype)
    encoded[np.arange(len(labels)), labels] = 1
    return encoded


def _label_positions(labels: np.ndarray, classes: int) -> np.ndarray:
    """Where ``scores[n, labels[n]]`` sits in ``scores.reshape(-1)`` for (N, classes) scores.

    Indexing the flat array with these is some 40% faster than ``scores[arange, labels]``.
    """
    positions = np.arange(0, len(labels) * classes, classes)
    positions += labels
    return positions


def _minus_one_hot(probs: Any, labels: np.ndarray) -> Any:
    """``probs - onehot(labels)``: in place on a fresh array, recorded on a Tensor."""
    if isinstance(probs, Tensor):
        return probs - _one_hot(labels, probs.shape[-1], probs.dtype)
    if probs.flags.c_contiguous:  # then reshape gives a view, and the write lands in probs
        probs.reshape(-1)[_label_positions(labels, probs.shape[-1])] -= 1
    else:
        probs[np.arange(len(labels)), labels] -= 1
    return probs


def _labels_in_range(labels: np.ndarray, classes: int) -> bool:
    """Whether every label lies in [0, classes): one reduction, since a negative label
    seen as unsigned is huge."""
    unsigned = labels
    if labels.dtype.kind == "i":
        unsigned = labels.view(labels.dtype.str.replace("i", "u"))  # keeps the byte order
    return not labels.size or bool(unsigned.max() < classes)


def _unignored_labels(op: str, scores: np.ndarray, labels: np.ndarray, ignore_index: int) -> bool:
    """Check the labels that are not ``ignore_index`` (LabelError names a bad one); return
    whether some label is ``ignore_index``. All labels in range, with an ignore_index that
    is no class (PyTorch's -100), needs one reduction and no copy: the common call."""
    classes = scores.shape[-1]
    if _labels_in_range(labels, classes):
        return 0 <= ignore_index < classes and bool((labels == ignore_index).any())
    kept = labels != ignore_index
    _check_class_labels(op, scores, labels[kept])
    return not kept.all()


def _check_class_labels(op: str, scores: np.ndarray, labels: np.ndarray) -> None:
    """Raise LabelError unless every label is a class of the (N, C) ``scores``."""
    classes = scores.shape[-1]
    if not _labels_in_range(labels, classes):
        bad = labels[(labels < 0) | (labels >= classes)]
        raise LabelError(
            f"{op}: target holds class index {bad[0]}, outside [0, {classes - 1}] for scores "
            f"with {classes} classes (shape {scores.shape})"
        )


class MSELoss(Primitive):
    __slots__ = ()
    name = "mse_loss"
    formula = "∂p = ∂y · 2(p - t) / N, ∂t = -∂p (N = 1 for a sum)"
    private_saved = (0,)

    @staticmethod
    def forward(ctx, prediction, target, reduction):
        diff = prediction - target
        ctx.save_for_backward(diff, reduction)
        return _reduce(diff * diff, reduction)

    def lift_saved(self, output):
        # diff is an intermediate: rebuild it from the inputs as a recorded Tensor.
        prediction, target = (
            self._lifted_input(index, self.inputs[index], self.parents[index]) for index in (0, 1)
        )
        return prediction - target, self.saved[1]

    @staticmethod
    def backward(ctx, grad):
        diff, reduction = ctx.saved
        grad_prediction = (2 * _reduction_scale(grad, diff.size, reduction)) * diff
        return grad_prediction, (-grad_prediction if ctx.needs_input_grad[1] else None)


def _weighted_targets(
    labels: np.ndarray, classes: int, dtype: Any, weight: Any, ignore_index: int
) -> tuple[np.ndarray, np.ndarray]:
    """For class indices: ``w[y] · onehot(y)`` per row (0 for ignored rows), and ``w[y]``."""
    kept = labels != ignore_index
    safe = np.where(kept, labels, 0)
    row_weight = kept.astype(dtype) if weight is None else np.where(kept, weight[safe], 0)
    targets = np.zeros((len(labels), classes), dtype=dtype)
    targets[np.arange(len(labels)), safe] = row_weight
    return targets, row_weight


def _soft_targets(
    target: np.ndarray, classes: int, dtype: Any, weight: Any, ignore_index: int, smoothing: float
) -> tuple[np.ndarray, float]:
    """The (N, C) weights ``q`` of ``loss_n = -Σ_c q_nc log p_nc``, and the 'mean' divisor.

    Class indices: ``q = (1 - ε) w_y onehot(y) + ε w / C`` on kept rows, divided by
    ``Σ w_y`` over kept rows. Probabilities: ``q = w ((1 - ε) t + ε / C)``, divided by N.
    These are PyTorch's definitions (its label-smoothed mean shares nll's divisor).
    """
    if target.ndim == 1:
        picked, row_weight = _weighted_targets(target, classes, dtype, weight, ignore_index)
        if smoothing:
            spread = np.ones(classes, dtype) if weight is None else weight
            kept = (target != ignore_index)[:, None]
            picked = (1 - smoothing) * picked + (smoothing / classes) * spread * kept
        return picked, float(np.add.reduce(row_weight))
    soft = target if not smoothing else (1 - smoothing) * target + smoothing / classes
    return (soft if weight is None else soft * weight), float(len(target))


class CrossEntropy(Primitive):
    """Softmax cross-entropy over the last axis of (N, C) logits.

    ``target`` holds class indices of shape (N,) or probabilities of shape (N, C).
    ``weight`` (C,), ``ignore_index`` and ``label_smoothing`` are PyTorch's.
    """

    __slots__ = ()
    name = "cross_entropy"
    formula = (
        "∂z = ∂y · (softmax(z) - onehot(t)) / N (N = 1 for a sum; with weights, smoothing "
        "or probabilities q: softmax(z) Σq - q, N = Σ w_t)"
    )
    private_saved = (0,)

    @classmethod
    def explain_value_error(cls, arrays, error):
        if isinstance(error, LabelError):  # it names the op and the label: given as raised
            return error
        return super().explain_value_error(arrays, error)

    @staticmethod
    def forward(ctx, logits, target, reduction, weight=None, ignore_index=-100, smoothing=0.0):
        ignored = False
        if target.ndim == 1:  # checked here, not by the caller, so that every run checks
            ignored = _unignored_labels("cross_entropy", logits, target, ignore_index)
        log_probs = _log_softmax(logits, -1)
        classes = log_probs.shape[-1]
        plain = weight is None and not smoothing
        if plain and target.ndim == 1 and not ignored:
            losses = -log_probs.reshape(-1).take(_label_positions(target, classes))
            ctx.save_for_backward(log_probs, target, reduction, len(target))
            return _reduce(losses, reduction)
        if plain and target.ndim == 2:
            soft, count = target, float(len(target))
        else:
            soft, count = _soft_targets(
                target, classes, log_probs.dtype, weight, ignore_index, smoothing
            )
        losses = -(soft * log_probs).sum(axis=-1)
        ctx.save_for_backward(log_probs, soft, reduction, count)
        if reduction == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):  # every row ignored: NaN
                return np.asarray(np.add.reduce(losses, axis=None) / count)
        return _reduce(losses, reduction)

    def lift_saved(self, output):
        # log_probs is an intermediate: rebuild it from the logits as a recorded Tensor.
        logits = self._lifted_input(0, self.inputs[0], self.parents[0])
        _, target, reduction, count = self.saved
        return logits.log_softmax(-1), target, reduction, count

    @staticmethod
    def backward(ctx, grad):
        log_probs, target, reduction, count = ctx.saved
        scale = _reduction_scale(grad, count, reduction)
        if reduction == "none":
            scale = scale[:, None]
        probs = exp(log_probs)
        if target.ndim == 1:
            grad_logits = _minus_one_hot(probs, target)
        else:
            grad_logits = probs * target.sum(axis=-1, keepdims=True) - target
        return grad_logits * scale, None


class NLLLoss(Primitive):
    __slots__ = ()
    name = "nll_loss"
    formula = "∂z = -∂y · w_t onehot(t) / N (N = Σ w_t, 1 for a sum)"

    @classmethod
    def explain_value_error(cls, arrays, error):
        if isinstance(error, LabelError):  # it names the op and the label: given as raised
            return error
        return super().explain_value_error(arrays, error)

    @staticmethod
    def forward(ctx, log_probs, target, reduction, weight=None, ignore_index=-100):
        # Here, so that every run checks.
        _unignored_labels("nll_loss", log_probs, target, ignore_index)
        picked, row_weight = _weighted_targets(
            target, log_probs.shape[-1], log_probs.dtype, weight, ignore_index
        )
        count = float(np.add.reduce(row_weight))
        ctx.save_for_backward(picked, reduction, count)
        # Picked, not summed against zeros: an ignored row's -inf must not make 0 · -inf.
        chosen = log_probs[np.arange(len(target)), np.where(target != ignore_index, target, 0)]
        with np.errstate(invalid="ignore"):
            losses = np.where(row_weight != 0, -row_weight * chosen, 0.0)
        if reduction == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):  # every row ignored: NaN
                return np.asarray(np.add.reduce(losses, axis=None) / count)
        return _reduce(losses, reduction)

    def lift_saved(self, output):
        return self.saved  # picked holds the labels' weights: constants

    @staticmethod
    def backward(ctx, grad):
        picked, reduction, count = ctx.saved
        scale = _reduction_scale(grad, count, reduction)
        if reduction == "none":
            scale = scale[:, None]
        return -scale * picked, None


# log(p) is floored at -100, as PyTorch does, so p = 0 or 1 gives a finite loss.
_LOG_FLOOR = float(np.exp(-100.0))  # a Python float: a NumPy float64 would promote float32


class _OutOfDomainError(ValueError):
    """Values outside an op's domain, found by its forward (the message names the op)."""


class BinaryCrossEntropy(Primitive):
    __slots__ = ()
    name = "binary_cross_entropy"
    formula = "∂p = ∂y · (p - t) / (p(1 - p)) / N (N = 1 for a sum)"

    @classmethod
    def explain_value_error(cls, arrays, error):
        if isinstance(error, _OutOfDomainError):  # it names the op and the values: given as raised
            return error
        return super().explain_value_error(arrays, error)

    @staticmethod
    def forward(ctx, probs, target, reduction):
        # Checked here, not by the caller, so that every run checks (tg.compile replays this).
        if probs.size and (np.min(probs) < 0 or np.max(probs) > 1):
            raise _OutOfDomainError(
                "binary_cross_entropy: probs must lie in [0, 1] "
                f"(got values in [{np.min(probs):g}, {np.max(probs):g}]); "
                "for raw scores use binary_cross_entropy_with_logits"
            )
        ctx.save_for_backward(probs, target, reduction)
        log_p = np.log(np.maximum(probs, _LOG_FLOOR))
        log_not_p = np.log(np.maximum(1 - probs, _LOG_FLOOR))
        return _reduce(-(target * log_p + (1 - target) * log_not_p), reduction)

    @staticmethod
    def backward(ctx, grad):
        probs, target, reduction = ctx.saved
        scale = _reduction_scale(grad, np.size(_data(probs)), reduction)
        return scale * (probs - target) / maximum(probs * (1 - probs), 1e-12), None


class BinaryCrossEntropyWithLogits(Primitive):
    __slots__ = ()
    name = "binary_cross_entropy_with_logits"
    formula = "∂z = ∂y · (sigmoid(z) - t) / N (N = 1 for a sum)"

    @staticmethod
    def forward(ctx, logits, target, reduction):
        ctx.save_for_backward(logits, target, reduction)
        # max(x, 0) - x t + log(1 + exp(-|x|)): the exponent is never positive. The first two
        # terms as x ([x > 0] - t), so that x = inf gives inf, not inf - inf, unless t = 1.
        losses = logits * ((logits > 0) - target) + np.log1p(np.exp(-np.abs(logits)))
        return _reduce(losses, reduction)

    @staticmethod
    def backward(ctx, grad):
        logits, target, reduction = ctx.saved
        scale = _reduction_scale(grad, np.size(_data(logits)), reduction)
        return scale * (sigmoid(logits) - target), None

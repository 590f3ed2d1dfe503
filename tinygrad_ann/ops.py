"""Primitive operations: each a forward on NumPy arrays and its vector-Jacobian product.

``backward`` returns one gradient per input, computing only those that
``ctx.needs_input_grad`` asks for. Gradients may keep the broadcast shape: the
engine (``autograd.run_backward``) sums them back to each input's shape.
The math is documented on the public functions in ``tensor.py`` and
``functional.py``; this file stays terse.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .autograd import Function
from .errors import ShapeError


def _needs(ctx: Function, index: int) -> bool:
    return ctx.parents[index] is not None


class _Binary(Function):
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

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, grad):
        return grad, grad


class Sub(_Binary):
    __slots__ = ()
    name = "sub"

    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, grad):
        return grad, (-grad if _needs(ctx, 1) else None)


class Mul(_Binary):
    __slots__ = ()
    name = "mul"

    @staticmethod
    def forward(ctx, a, b):
        ctx.saved = (a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        return (grad * b if _needs(ctx, 0) else None), (grad * a if _needs(ctx, 1) else None)


class Div(_Binary):
    __slots__ = ()
    name = "div"

    @staticmethod
    def forward(ctx, a, b):
        ctx.saved = (a, b)
        return a / b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        grad_a = grad / b
        return grad_a, (-grad_a * a / b if _needs(ctx, 1) else None)


class Pow(_Binary):
    __slots__ = ()
    name = "pow"

    @staticmethod
    def forward(ctx, a, b):
        out = a**b
        ctx.saved = (a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved
        grad_a = grad * b * a ** (b - 1) if _needs(ctx, 0) else None
        grad_b = grad * out * np.log(a) if _needs(ctx, 1) else None
        return grad_a, grad_b


class Neg(Function):
    __slots__ = ()
    name = "neg"

    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, grad):
        return -grad


class MatMul(Function):
    __slots__ = ()
    name = "matmul"

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
        ctx.saved = (a, b)
        return np.matmul(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        # Treat vectors as matrices (a row for a, a column for b), as matmul does.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if a.ndim == 1 and b.ndim == 1:
            grad = np.reshape(grad, (1, 1))
        elif a.ndim == 1:
            grad = np.expand_dims(grad, -2)
        elif b.ndim == 1:
            grad = np.expand_dims(grad, -1)
        grad_a = grad_b = None
        if _needs(ctx, 0):
            grad_a = grad @ np.swapaxes(b2, -1, -2)
            if a.ndim == 1:
                grad_a = grad_a[..., 0, :]
        if _needs(ctx, 1):
            grad_b = np.swapaxes(a2, -1, -2) @ grad
            if b.ndim == 1:
                grad_b = grad_b[..., 0]
        return grad_a, grad_b


class Linear(Function):
    """``x @ weight.T + bias`` as one node: fewer graph steps than three ops."""

    __slots__ = ()
    name = "linear"

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.saved = (x, weight)
        out = x @ weight.T
        if bias is not None:
            out += bias
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved
        grad_x = grad @ weight if _needs(ctx, 0) else None
        grad_weight = grad_bias = None
        if _needs(ctx, 1) or _needs(ctx, 2):
            rows = grad.reshape(-1, grad.shape[-1])
            if _needs(ctx, 1):
                grad_weight = rows.T @ x.reshape(-1, x.shape[-1])
            if _needs(ctx, 2):
                grad_bias = rows.sum(axis=0)
        return grad_x, grad_weight, grad_bias


class Cast(Function):
    __slots__ = ()
    name = "cast"

    @staticmethod
    def forward(ctx, a, dtype):
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad  # the engine casts it back to the input's dtype


# ------------------------------------------------------------------ elementwise
class Exp(Function):
    __slots__ = ()
    name = "exp"

    @staticmethod
    def forward(ctx, a):
        out = np.exp(a)
        ctx.saved = out
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.saved


class Log(Function):
    __slots__ = ()
    name = "log"

    @staticmethod
    def forward(ctx, a):
        ctx.saved = a
        return np.log(a)

    @staticmethod
    def backward(ctx, grad):
        return grad / ctx.saved


class Sqrt(Function):
    __slots__ = ()
    name = "sqrt"

    @staticmethod
    def forward(ctx, a):
        out = np.sqrt(a)
        ctx.saved = out
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad / (2 * ctx.saved)


class Abs(Function):
    __slots__ = ()
    name = "abs"

    @staticmethod
    def forward(ctx, a):
        ctx.saved = a
        return np.abs(a)

    @staticmethod
    def backward(ctx, grad):
        return grad * np.sign(ctx.saved)


class Clip(Function):
    __slots__ = ()
    name = "clip"

    @staticmethod
    def forward(ctx, a, lo, hi):
        ctx.saved = (a, lo, hi)
        return np.clip(a, lo, hi)

    @staticmethod
    def backward(ctx, grad):
        a, lo, hi = ctx.saved
        inside = np.ones(a.shape, dtype=bool)
        if lo is not None:
            inside &= a >= lo
        if hi is not None:
            inside &= a <= hi
        return grad * inside


class ReLU(Function):
    __slots__ = ()
    name = "relu"

    @staticmethod
    def forward(ctx, a):
        ctx.saved = a
        return np.maximum(a, 0)

    @staticmethod
    def backward(ctx, grad):
        return grad * (ctx.saved > 0)


class LeakyReLU(Function):
    __slots__ = ()
    name = "leaky_relu"

    @staticmethod
    def forward(ctx, a, negative_slope):
        ctx.saved = (a, negative_slope)
        return np.where(a > 0, a, a * negative_slope)

    @staticmethod
    def backward(ctx, grad):
        a, negative_slope = ctx.saved
        return np.where(a > 0, grad, grad * negative_slope)


class Sigmoid(Function):
    __slots__ = ()
    name = "sigmoid"

    @staticmethod
    def forward(ctx, a):
        # sigmoid(a) = exp(-log(1 + exp(-a))); logaddexp never overflows.
        # (np.asarray: for a 0-d input logaddexp gives a scalar, which out= cannot take.)
        out = np.asarray(np.logaddexp(0, -a))
        np.negative(out, out=out)
        np.exp(out, out=out)
        ctx.saved = out
        return out

    @staticmethod
    def backward(ctx, grad):
        out = ctx.saved
        return grad * out * (1 - out)


class Tanh(Function):
    __slots__ = ()
    name = "tanh"

    @staticmethod
    def forward(ctx, a):
        out = np.tanh(a)
        ctx.saved = out
        return out

    @staticmethod
    def backward(ctx, grad):
        out = ctx.saved
        return grad * (1 - out * out)


def _log_softmax(a: np.ndarray, axis: int) -> np.ndarray:
    shifted = a - a.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


class Softmax(Function):
    __slots__ = ()
    name = "softmax"

    @staticmethod
    def forward(ctx, a, axis):
        out = np.exp(a - a.max(axis=axis, keepdims=True))
        out /= out.sum(axis=axis, keepdims=True)
        ctx.saved = (out, axis)
        return out

    @staticmethod
    def backward(ctx, grad):
        out, axis = ctx.saved
        return out * (grad - (grad * out).sum(axis=axis, keepdims=True))


class LogSoftmax(Function):
    __slots__ = ()
    name = "log_softmax"

    @staticmethod
    def forward(ctx, a, axis):
        out = _log_softmax(a, axis)
        ctx.saved = (out, axis)
        return out

    @staticmethod
    def backward(ctx, grad):
        out, axis = ctx.saved
        return grad - np.exp(out) * grad.sum(axis=axis, keepdims=True)


class Maximum(_Binary):
    __slots__ = ()
    name = "maximum"

    @staticmethod
    def forward(ctx, a, b):
        ctx.saved = (a, b)
        return np.maximum(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        # Ties split the gradient equally, as PyTorch does.
        share_a = (a > b) + 0.5 * (a == b)
        return (
            grad * share_a if _needs(ctx, 0) else None,
            grad * (1 - share_a) if _needs(ctx, 1) else None,
        )


class Minimum(_Binary):
    __slots__ = ()
    name = "minimum"

    @staticmethod
    def forward(ctx, a, b):
        ctx.saved = (a, b)
        return np.minimum(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        share_a = (a < b) + 0.5 * (a == b)
        return (
            grad * share_a if _needs(ctx, 0) else None,
            grad * (1 - share_a) if _needs(ctx, 1) else None,
        )


class Where(Function):
    __slots__ = ()
    name = "where"

    @classmethod
    def explain_value_error(cls, arrays, error):
        shapes = ", ".join(str(np.shape(a)) for a in arrays)
        return ShapeError(f"where: condition, a and b of shapes {shapes} do not broadcast")

    @staticmethod
    def forward(ctx, condition, a, b):
        condition = np.asarray(condition, dtype=bool)
        ctx.saved = condition
        return np.where(condition, a, b)

    @staticmethod
    def backward(ctx, grad):
        condition = ctx.saved
        return (
            None,
            np.where(condition, grad, 0) if _needs(ctx, 1) else None,
            np.where(condition, 0, grad) if _needs(ctx, 2) else None,
        )


# ------------------------------------------------------------------ reductions
def _expand_reduced(grad: np.ndarray, shape: tuple[int, ...], axis: Any, keepdims: bool):
    """Broadcast the gradient of a reduction back to the reduced input's shape."""
    if not keepdims and axis is not None:
        grad = np.expand_dims(grad, axis)
    return np.broadcast_to(grad, shape)


def _reduced_count(shape: tuple[int, ...], axis: Any) -> int:
    if axis is None:
        return int(np.prod(shape))
    axes = (axis,) if isinstance(axis, int | np.integer) else axis
    return int(np.prod([shape[i] for i in axes]))


class Sum(Function):
    __slots__ = ()
    name = "sum"

    @staticmethod
    def forward(ctx, a, axis, keepdims):
        ctx.saved = (a.shape, axis, keepdims)
        return np.sum(a, axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad):
        return _expand_reduced(grad, *ctx.saved)


class Mean(Function):
    __slots__ = ()
    name = "mean"

    @staticmethod
    def forward(ctx, a, axis, keepdims):
        ctx.saved = (a.shape, axis, keepdims)
        return np.mean(a, axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad):
        shape, axis, keepdims = ctx.saved
        return _expand_reduced(grad / _reduced_count(shape, axis), shape, axis, keepdims)


class Max(Function):
    __slots__ = ()
    name = "max"
    reduce = staticmethod(np.max)

    @classmethod
    def forward(cls, ctx, a, axis, keepdims):
        out = cls.reduce(a, axis=axis, keepdims=True)
        ctx.saved = (a, out, axis, keepdims)
        return out if keepdims else np.squeeze(out, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        a, out, axis, keepdims = ctx.saved
        if not keepdims and axis is not None:
            grad = np.expand_dims(grad, axis)
        # Tied extremes share the gradient equally (a subgradient).
        chosen = a == out
        return chosen * (grad / chosen.sum(axis=axis, keepdims=True))


class Min(Max):
    __slots__ = ()
    name = "min"
    reduce = staticmethod(np.min)


# ------------------------------------------------------------------ shape
class Reshape(Function):
    __slots__ = ()
    name = "reshape"

    @classmethod
    def explain_value_error(cls, arrays, error):
        return ShapeError(f"reshape: {error}")

    @staticmethod
    def forward(ctx, a, shape):
        ctx.saved = a.shape
        return np.reshape(a, shape)

    @staticmethod
    def backward(ctx, grad):
        return np.reshape(grad, ctx.saved)


class Transpose(Function):
    __slots__ = ()
    name = "transpose"

    @classmethod
    def explain_value_error(cls, arrays, error):
        return ShapeError(
            f"transpose: axes must be a permutation of all {np.ndim(arrays[0])} axes of a "
            f"tensor of shape {np.shape(arrays[0])} ({error})"
        )

    @staticmethod
    def forward(ctx, a, axes):
        ctx.saved = axes
        return np.transpose(a, axes)

    @staticmethod
    def backward(ctx, grad):
        axes = ctx.saved
        return np.transpose(grad, None if axes is None else np.argsort(axes))


def _is_advanced_index(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(part, np.ndarray | list) for part in parts)


class GetItem(Function):
    __slots__ = ()
    name = "getitem"

    @staticmethod
    def forward(ctx, a, index):
        ctx.saved = (a.shape, index)
        return a[index]

    @staticmethod
    def backward(ctx, grad):
        shape, index = ctx.saved
        full = np.zeros(shape, dtype=grad.dtype)
        if _is_advanced_index(index):
            # Repeated indices must add up, which plain assignment would not do.
            np.add.at(full, index, grad)
        else:
            full[index] = grad
        return full


class Concatenate(Function):
    __slots__ = ()
    name = "concatenate"

    @staticmethod
    def forward(ctx, *arrays, axis):
        ctx.saved = (np.cumsum([np.shape(a)[axis] for a in arrays[:-1]]), axis)
        return np.concatenate(arrays, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        boundaries, axis = ctx.saved
        return tuple(np.split(grad, boundaries, axis=axis))


class Stack(Function):
    __slots__ = ()
    name = "stack"

    @staticmethod
    def forward(ctx, *arrays, axis):
        ctx.saved = (len(arrays), axis)
        return np.stack(arrays, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        count, axis = ctx.saved
        return tuple(np.take(grad, i, axis=axis) for i in range(count))


# ------------------------------------------------------------------ losses
def _reduce(losses: np.ndarray, reduction: str) -> np.ndarray:
    if reduction == "mean":
        return np.mean(losses)
    if reduction == "sum":
        return np.sum(losses)
    return losses


def _reduction_scale(grad: np.ndarray, count: int, reduction: str) -> np.ndarray:
    """The upstream gradient as a per-element factor on the unreduced losses."""
    return grad / count if reduction == "mean" else grad


class MSELoss(Function):
    __slots__ = ()
    name = "mse_loss"

    @staticmethod
    def forward(ctx, prediction, target, reduction):
        diff = prediction - target
        ctx.saved = (diff, reduction)
        return _reduce(diff * diff, reduction)

    @staticmethod
    def backward(ctx, grad):
        diff, reduction = ctx.saved
        grad_prediction = (2 * _reduction_scale(grad, diff.size, reduction)) * diff
        return grad_prediction, (-grad_prediction if _needs(ctx, 1) else None)


class CrossEntropy(Function):
    """Softmax cross-entropy over the last axis of (N, C) logits.

    ``target`` holds class indices of shape (N,) or probabilities of shape (N, C).
    """

    __slots__ = ()
    name = "cross_entropy"

    @staticmethod
    def forward(ctx, logits, target, reduction):
        log_probs = _log_softmax(logits, -1)
        if target.ndim == 1:
            losses = -log_probs[np.arange(len(target)), target]
        else:
            losses = -(target * log_probs).sum(axis=-1)
        ctx.saved = (log_probs, target, reduction)
        return _reduce(losses, reduction)

    @staticmethod
    def backward(ctx, grad):
        log_probs, target, reduction = ctx.saved
        scale = _reduction_scale(grad, len(log_probs), reduction)
        if reduction == "none":
            scale = scale[:, None]
        grad_logits = np.exp(log_probs)
        if target.ndim == 1:
            grad_logits[np.arange(len(target)), target] -= 1
        else:
            grad_logits = grad_logits * target.sum(axis=-1, keepdims=True) - target
        grad_logits *= scale
        return grad_logits, None


class NLLLoss(Function):
    __slots__ = ()
    name = "nll_loss"

    @staticmethod
    def forward(ctx, log_probs, target, reduction):
        ctx.saved = (log_probs.shape, target, reduction)
        return _reduce(-log_probs[np.arange(len(target)), target], reduction)

    @staticmethod
    def backward(ctx, grad):
        shape, target, reduction = ctx.saved
        grad_log_probs = np.zeros(shape, dtype=np.result_type(grad))
        grad_log_probs[np.arange(len(target)), target] = -_reduction_scale(
            grad, shape[0], reduction
        )
        return grad_log_probs, None


# log(p) is floored at -100, as PyTorch does, so p = 0 or 1 gives a finite loss.
_LOG_FLOOR = np.exp(-100.0)


class BinaryCrossEntropy(Function):
    __slots__ = ()
    name = "binary_cross_entropy"

    @staticmethod
    def forward(ctx, probs, target, reduction):
        ctx.saved = (probs, target, reduction)
        log_p = np.log(np.maximum(probs, _LOG_FLOOR))
        log_not_p = np.log(np.maximum(1 - probs, _LOG_FLOOR))
        return _reduce(-(target * log_p + (1 - target) * log_not_p), reduction)

    @staticmethod
    def backward(ctx, grad):
        probs, target, reduction = ctx.saved
        scale = _reduction_scale(grad, probs.size, reduction)
        return scale * (probs - target) / np.maximum(probs * (1 - probs), 1e-12), None


class BinaryCrossEntropyWithLogits(Function):
    __slots__ = ()
    name = "binary_cross_entropy_with_logits"

    @staticmethod
    def forward(ctx, logits, target, reduction):
        ctx.saved = (logits, target, reduction)
        # max(x, 0) - x t + log(1 + exp(-|x|)): the exponent is never positive.
        losses = np.maximum(logits, 0) - logits * target + np.log1p(np.exp(-np.abs(logits)))
        return _reduce(losses, reduction)

    @staticmethod
    def backward(ctx, grad):
        logits, target, reduction = ctx.saved
        probs = np.exp(-np.logaddexp(0, -logits))
        return _reduction_scale(grad, logits.size, reduction) * (probs - target), None

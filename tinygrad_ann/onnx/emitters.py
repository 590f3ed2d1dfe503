"""One emitter per recorded op, writing its ONNX nodes, and the op → emitter table."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx
from onnx import helper

from .. import conv_ops, norm_ops, ops
from ..autograd import Function
from ..nn.normalization import BatchNorm1d, BatchNorm2d
from ..tensor import Tensor
from .trace import ExportError, options_of, same_values

if TYPE_CHECKING:
    from .builder import Exporter


def onnx_dtype(dtype: Any) -> int:
    return int(helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))


def _axes(axis: Any, ndim: int) -> list[int] | None:
    """The reduced axes, non-negative and sorted; None for all of them."""
    if axis is None:
        return None
    axes = [axis] if isinstance(axis, int | np.integer) else list(axis)
    return sorted(int(a) % ndim for a in axes)


# ---------------------------------------------------------------------- ops
_Emitter = Callable[["Exporter", Any, Tensor, str], None]


def _elementwise(op_type: str) -> _Emitter:
    # Every operand becomes the result's dtype: NumPy computed in that dtype too.
    def emit(ex: Exporter, ctx: Any, out: Tensor, target: str) -> None:
        operands = [ex.operand(ctx, k, out.dtype) for k in range(len(ctx.inputs))]
        ex.add(op_type, operands, target)

    return emit


def _emit_linear(ex: Exporter, ctx: Any, out: Tensor, target: str) -> None:
    x, weight, bias = ctx.inputs
    operands = [ex.operand(ctx, 0, out.dtype), ex.operand(ctx, 1, out.dtype)]
    if bias is not None:
        operands.append(ex.operand(ctx, 2, out.dtype))
    if np.ndim(x) == 2 and np.ndim(weight) == 2:
        ex.add("Gemm", operands, target, transB=1)
        return
    # MatMul follows NumPy's rules for 1-d and batched (N-d) inputs, which Gemm does not take.
    transposed = ex.add("Transpose", [operands[1]], perm=list(range(np.ndim(weight)))[::-1])
    product = ex.add("MatMul", [operands[0], transposed], None if bias is not None else target)
    if bias is not None:
        ex.add("Add", [product, operands[2]], target)


def _emit_cast(ex: Exporter, ctx: Any, out: Tensor, target: str) -> None:
    ex.add("Cast", [ex.operand(ctx, 0, None)], target, to=onnx_dtype(out.dtype))


def _emit_clip(ex: Exporter, ctx: Any, out: Tensor, target: str) -> None:
    _, lo, hi = ctx.saved
    x = ex.operand(ctx, 0, out.dtype)
    if lo is None and hi is None:
        ex.add("Identity", [x], target)
    elif np.ndim(lo) == 0 and np.ndim(hi) == 0:
        bounds = ["" if bound is None else ex.constant(bound, out.dtype) for bound in (lo, hi)]
        ex.add("Clip", [x, *bounds] if bounds[1] else [x, bounds[0]], target)
    else:  # ONNX's Clip takes scalar bounds only; NumPy's broadcasts arrays
        if lo is not None:
            x = ex.add("Max", [x, ex.constant(lo, out.dtype)], None if hi is not None else target)
        if hi is not None:
            ex.add("Min", [x, ex.constant(hi, out.dtype)], target)


def _emit_leaky_relu(ex: Exporter, ctx: Any, out: Tensor, target: str) -> None:
    _, slope = ctx.saved
    x = ex.operand(ctx, 0, out.dtype)
    if out.dtype == np.float32 and np.ndim(slope) == 0:
        ex.add("LeakyRelu", [x], target, alpha=float(slope))
    else:
        # LeakyRelu's alpha is a float32 attribute, too coarse for float64; PRelu takes a tensor.
        ex.add("PRelu", [x, ex.constant(slope, out.dtype)], target)


def _softmax(op_type: str) -> _Emitter:
    def emit(ex: Exporter, ctx: Any, out: Tensor, target: str) -> None:
        _, axis = ctx.saved
        ex.add(op_type, [ex.operand(ctx, 0, out.dtype)], target, axis=int(axis))

    return emit


def _reduction(op_type: str) -> _Emitter:
    def emit(ex: Exporter, ctx: Any, out: Tensor, target: str) -> None:
        _, axis, keepdims = ctx.saved
        ndim = np.ndim(ctx.inputs[0])
        x = ex.operand(ctx, 0, out.dtype)
        axes = _axes(axis, ndim)
        if ndim == 0 or axes == []:  # NumPy reduces nothing; ONNX's empty axes mean all
            ex.add("Identity", [x], target)
            return
        operands = [x] if axes is None else [x, ex.constant(axes, np.int64)]
        ex.add(op_type, operands, target, keepdims=int(bool(keepdims)))

    return emit


def _emit_reshape(ex: Exporter, ctx: Any, out: Tensor, target: str) -> None:
    shape = list(out.shape)
    following = sorted(ex.batch_axes(out))
    if len(following) > 1:
        raise ExportError(
            f"export: reshape to {out.shape} gives {len(following)} axes ({following}) that "
            "follow the batch size, which one ONNX Reshape cannot express; keep the batch in "
            "one axis, or pass dynamic_batch=False"
        )
    for axis in following:
        shape[axis] = -1  # ONNX works this size out from the others, at any batch size
    attrs = {}
    if 0 in shape:  # ONNX reads 0 as "copy this axis"; allowzero makes it a real 0
        if following:
            raise ExportError(
                f"export: reshape to {out.shape} has an empty axis and an axis that follows the "
                "batch; pass dynamic_batch=False"
            )
        attrs["allowzero"] = 1
    x = ex.operand(ctx, 0, out.dtype)
    ex.add("Reshape", [x, ex.constant(shape, np.int64)], target, **attrs)


def _emit_transpose(ex: Exporter, ctx: Any, out: Tensor, target: str) -> None:
    (axes,) = ctx.saved
    ndim = out.ndim
    perm = list(range(ndim))[::-1] if axes is None else [int(a) % ndim for a in axes]
    ex.add("Transpose", [ex.operand(ctx, 0, out.dtype)], target, perm=perm)


def _emit_broadcast_to(ex: Exporter, ctx: Any, out: Tensor, target: str) -> None:
    shape = list(out.shape)
    parent = ctx.parents[0]
    offset = out.ndim - np.ndim(ctx.inputs[0])
    for axis in ex.batch_axes(out):
        if axis - offset not in ex.batch_axes(parent):
            raise ExportError(
                f"export: broadcast_to {out.shape} widens an axis to the batch size, which a "
                "fixed shape cannot follow; pass dynamic_batch=False"
            )
        shape[axis] = 1  # Expand broadcasts: 1 keeps the input's (batch-sized) axis
    x = ex.operand(ctx, 0, out.dtype)
    ex.add("Expand", [x, ex.constant(shape, np.int64)], target)


def _emit_concatenate(ex: Exporter, ctx: Any, out: Tensor, target: str) -> None:
    _, axis = ctx.saved
    operands = [ex.operand(ctx, k, out.dtype) for k in range(len(ctx.inputs))]
    ex.add("Concat", operands, target, axis=int(axis))


def _emit_stack(ex: Exporter, ctx: Any, out: Tensor, target: str) -> None:
    _, axis = ctx.saved
    axes = ex.constant([axis], np.int64)
    parts = [
        ex.add("Unsqueeze", [ex.operand(ctx, k, out.dtype), axes]) for k in range(len(ctx.inputs))
    ]
    ex.add("Concat", parts, target, axis=int(axis))


def _emit_where(ex: Exporter, ctx: Any, out: Tensor, target: str) -> None:
    if ctx.parents[0] is None:
        condition = ex.constant(np.asarray(ctx.inputs[0], dtype=bool), bool)
    else:  # a float Tensor as the condition: nonzero means true, as np.asarray(..., bool)
        condition = ex.add("Cast", [ex.value(ctx.parents[0])], to=onnx.TensorProto.BOOL)
    a, b = ex.operand(ctx, 1, out.dtype), ex.operand(ctx, 2, out.dtype)
    ex.add("Where", [condition, a, b], target)


# ---------------------------------------------------------------------- images, normalization
def _geometry(options: dict[str, Any], kernel: Sequence[int]) -> dict[str, list[int]]:
    """The window attributes ONNX's Conv and pooling ops share, from a 2-d op's options."""
    padding = [int(size) for size in options["padding"]]
    return {
        "kernel_shape": [int(size) for size in kernel],
        "strides": [int(step) for step in options["stride"]],
        "pads": padding + padding,  # ONNX lists the start of every axis, then every end
    }


def _emit_conv2d(ex: Exporter, ctx: Any, out: Tensor, target: str) -> None:
    options = options_of(ctx)
    operands = [ex.operand(ctx, 0, out.dtype), ex.operand(ctx, 1, out.dtype)]
    if ctx.inputs[2] is not None:
        operands.append(ex.operand(ctx, 2, out.dtype))
    ex.add(
        "Conv",
        operands,
        target,
        dilations=[int(step) for step in options["dilation"]],
        group=int(options["groups"]),
        **_geometry(options, np.shape(ctx.inputs[1])[2:]),
    )


def _emit_max_pool2d(ex: Exporter, ctx: Any, out: Tensor, target: str) -> None:
    # MaxPool leaves the padding out of every window: the same maximum as padding with -inf.
    options = options_of(ctx)
    x = ex.operand(ctx, 0, out.dtype)
    ex.add("MaxPool", [x], target, **_geometry(options, options["kernel_size"]))


def _emit_avg_pool2d(ex: Exporter, ctx: Any, out: Tensor, target: str) -> None:
    options = options_of(ctx)
    ex.add(
        "AveragePool",
        [ex.operand(ctx, 0, out.dtype)],
        target,
        count_include_pad=int(bool(options["count_include_pad"])),
        **_geometry(options, options["kernel_size"]),
    )


def _float32_epsilon(eps: float, dtype: np.dtype) -> tuple[float, float]:
    """An ``epsilon`` attribute (a float32) for ``eps``, and what a float64 graph must add.

    A float32 model added ``eps`` rounded to float32, as the attribute holds it. A
    float64 one added all of it: the rest (exact, as the two are close) is added
    by the exported graph itself.
    """
    epsilon = float(np.float32(eps))
    return epsilon, (float(eps) - epsilon if dtype == np.float64 else 0.0)


def _parameter_or(
    ex: Exporter, ctx: Any, position: int, fill: float, shape: Any, dtype: Any
) -> str:
    """The op's weight (``position`` 1) or bias (2) as ``dtype``, or ``fill`` if it has none."""
    if ctx.inputs[position] is None:
        return ex.constant(np.full(shape, fill), dtype)
    return ex.operand(ctx, position, dtype)


def _scale_and_shift(
    ex: Exporter, ctx: Any, normalized: str, dtype: np.dtype, out: Tensor, target: str
) -> None:
    """``x̂ · weight + bias`` (one of them may be None) into ``target``, in the result's dtype.

    NumPy normalized in x̂'s ``dtype`` and applied the weight and bias after, in the
    result's, so x̂ is cast between the two when they differ.
    """
    normalized = ex.cast(normalized, dtype, out.dtype)
    has_bias = ctx.inputs[2] is not None
    if ctx.inputs[1] is not None:
        weight = ex.operand(ctx, 1, out.dtype)
        normalized = ex.add("Mul", [normalized, weight], None if has_bias else target)
    if has_bias:
        ex.add("Add", [normalized, ex.operand(ctx, 2, out.dtype)], target)


def _emit_batch_norm_eval(ex: Exporter, ctx: Any, out: Tensor, target: str) -> None:
    options = options_of(ctx)
    eps = float(options["eps"])
    recorded_mean, inv_std = options["running"]
    dtype = np.result_type(ctx.inputs[0], recorded_mean, inv_std)  # x̂'s
    apart = dtype != out.dtype
    epsilon, rest = _float32_epsilon(eps, dtype)
    channels = out.shape[1]
    if apart:  # the weight and bias come after x̂, as in NumPy
        scale, shift = ex.constant(np.ones(channels), dtype), ex.constant(np.zeros(channels), dtype)
    else:
        scale = _parameter_or(ex, ctx, 1, 1.0, channels, dtype)
        shift = _parameter_or(ex, ctx, 2, 0.0, channels, dtype)
    layer = ctx.scope[-1] if ctx.scope else None
    buffers = _running_buffers(layer, ctx, eps)
    if buffers is not None:
        mean = ex.buffer(buffers[0], "running_mean", dtype)
        variance = ex.buffer(buffers[1], "running_var", dtype)
        if rest:
            variance = ex.add("Add", [variance, ex.constant(rest, dtype)])
    else:
        # Statistics given as arrays to F.batch_norm, which copied them: the variance comes
        # back from 1/sqrt(var + eps), with the float64 rest of eps already in it.
        mean = ex.constant(np.reshape(recorded_mean, -1), dtype)
        rebuilt = 1.0 / np.square(np.reshape(inv_std, -1).astype(np.float64)) - epsilon
        variance = ex.constant(rebuilt, dtype)
    operands = [ex.operand(ctx, 0, dtype), scale, shift, mean, variance]
    normalized = ex.add("BatchNormalization", operands, None if apart else target, epsilon=epsilon)
    if apart:
        _scale_and_shift(ex, ctx, normalized, dtype, out, target)


def _running_buffers(layer: Any, ctx: Any, eps: float) -> tuple[Tensor, Tensor] | None:
    """The running mean and variance of ``layer`` if the op normalized by them as they are."""
    if not isinstance(layer, BatchNorm1d | BatchNorm2d):
        return None
    running_mean, running_var = layer.running_mean, layer.running_var
    if running_mean is None or running_var is None:
        return None
    recorded_mean, inv_std = options_of(ctx)["running"]
    dtype = np.asarray(ctx.inputs[0]).dtype
    mean = np.array(running_mean.data, dtype=dtype).reshape(np.shape(recorded_mean))
    variance = np.array(running_var.data, dtype=dtype).reshape(np.shape(inv_std))
    with np.errstate(all="ignore"):
        # The same arithmetic as batch norm's forward, so equal means the same statistics.
        rebuilt = 1 / np.sqrt(variance + eps)
    if same_values(mean, np.asarray(recorded_mean)) and same_values(rebuilt, inv_std):
        return running_mean, running_var
    return None


def _emit_layer_norm(ex: Exporter, ctx: Any, out: Tensor, target: str) -> None:
    options = options_of(ctx)
    axes = sorted(int(axis) % out.ndim for axis in options["axes"])
    eps = options["eps"]
    dtype = np.result_type(ctx.inputs[0], eps)  # x̂'s
    apart = dtype != out.dtype
    plain = ctx.inputs[1] is None and ctx.inputs[2] is None
    epsilon, rest = _float32_epsilon(float(eps), dtype)
    x = ex.operand(ctx, 0, dtype)
    if rest:
        # LayerNormalization computes the variance inside, where the rest of a float64 eps
        # cannot be added: then the forward's own arithmetic, op by op.
        reduced = ex.constant(axes, np.int64)
        centered = ex.add("Sub", [x, ex.add("ReduceMean", [x, reduced], keepdims=1)])
        squares = ex.add("Mul", [centered, centered])
        variance = ex.add("ReduceMean", [squares, reduced], keepdims=1)
        shifted = ex.add("Add", [variance, ex.constant(eps, dtype)])
        inverse = ex.add("Reciprocal", [ex.add("Sqrt", [shifted])])
        normalized = ex.add("Mul", [centered, inverse], target if plain else None)
        if not plain:
            _scale_and_shift(ex, ctx, normalized, dtype, out, target)
        return
    shape = out.shape[axes[0] :]
    if apart:  # the weight and bias come after x̂, as in NumPy
        operands = [x, ex.constant(np.ones(shape), dtype)]
    else:
        operands = [x, _parameter_or(ex, ctx, 1, 1.0, shape, dtype)]
        if ctx.inputs[2] is not None:
            operands.append(ex.operand(ctx, 2, dtype))
    normalized = ex.add(
        "LayerNormalization",
        operands,
        None if apart else target,
        axis=axes[0],
        epsilon=epsilon,
        stash_type=onnx_dtype(dtype),  # the mean and variance in x̂'s dtype
    )
    if apart:
        _scale_and_shift(ex, ctx, normalized, dtype, out, target)


EMITTERS: dict[type[Function], _Emitter] = {
    ops.Add: _elementwise("Add"),
    ops.Sub: _elementwise("Sub"),
    ops.Mul: _elementwise("Mul"),
    ops.Div: _elementwise("Div"),
    ops.Pow: _elementwise("Pow"),
    ops.Neg: _elementwise("Neg"),
    ops.MatMul: _elementwise("MatMul"),
    ops.Linear: _emit_linear,
    ops.Cast: _emit_cast,
    ops.Exp: _elementwise("Exp"),
    ops.Log: _elementwise("Log"),
    ops.Sqrt: _elementwise("Sqrt"),
    ops.Abs: _elementwise("Abs"),
    ops.Clip: _emit_clip,
    ops.ReLU: _elementwise("Relu"),
    ops.LeakyReLU: _emit_leaky_relu,
    ops.Sigmoid: _elementwise("Sigmoid"),
    ops.Tanh: _elementwise("Tanh"),
    ops.Softmax: _softmax("Softmax"),
    ops.LogSoftmax: _softmax("LogSoftmax"),
    ops.Maximum: _elementwise("Max"),
    ops.Minimum: _elementwise("Min"),
    ops.Where: _emit_where,
    ops.Sum: _reduction("ReduceSum"),
    ops.Mean: _reduction("ReduceMean"),
    ops.Max: _reduction("ReduceMax"),
    ops.Min: _reduction("ReduceMin"),
    ops.Reshape: _emit_reshape,
    ops.Transpose: _emit_transpose,
    ops.BroadcastTo: _emit_broadcast_to,
    ops.Concatenate: _emit_concatenate,
    ops.Stack: _emit_stack,
    conv_ops.Conv2d: _emit_conv2d,
    conv_ops.MaxPool2d: _emit_max_pool2d,
    conv_ops.AvgPool2d: _emit_avg_pool2d,
    norm_ops.BatchNormEval: _emit_batch_norm_eval,
    norm_ops.LayerNorm: _emit_layer_norm,
}


def supported_ops() -> list[str]:
    """The names (``op_name()``) of the recorded ops that :func:`export` can write.

    >>> import tinygrad_ann as tg
    >>> "linear" in tg.onnx.supported_ops() and "cross_entropy" not in tg.onnx.supported_ops()
    True
    """
    return sorted(cls.op_name() for cls in EMITTERS)

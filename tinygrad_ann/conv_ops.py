"""Convolution and pooling over (N, C, H, W) batches, with PyTorch's semantics.

Each op is a forward on NumPy arrays and its vector-Jacobian product, side by
side, as in ``ops.py``. A 2-d convolution is one matrix product: the input's
windows are copied into columns (``_im2col``, a strided view of the padded
input) and multiplied by the weight reshaped to (out_channels, in_channels *
kH * kW). Its VJPs are convolutions again, each its own recorded op, so every
derivative of every order is one:

- ``Conv2d``: ``y = conv(x, W) + b``;
- ``ConvTranspose2d``: ``∂x = conv_transpose(∂y, W)``, the adjoint of ``x ↦ conv(x, W)``
  (columns from a matrix product, added back into the windows they came from);
- ``Conv2dWeightGrad``: ``∂W = conv_weight(x, ∂y)``, the adjoint of ``W ↦ conv(x, W)``.

All three are bilinear, so the VJP of each is made of the other two. Pooling:
``MaxPool2d`` routes the gradient to each window's first maximum (a scatter
by recorded positions, whose own VJP is a gather); ``AvgPool2d`` and its adjoint
``AvgPool2dGrad`` are linear and each is the other's VJP.

>>> import numpy as np
>>> import tinygrad_ann as tg
>>> import tinygrad_ann.functional as F
>>> x = tg.tensor(np.arange(16.0).reshape(1, 1, 4, 4), requires_grad=True)
>>> w = tg.tensor(np.ones((1, 1, 2, 2)), requires_grad=True)
>>> y = F.conv2d(x, w, stride=2)
>>> y
Tensor([[[[10., 18.],
          [42., 50.]]]], grad_fn=<conv2d>)
>>> y.sum().backward()
>>> x.grad[0, 0]
Tensor([[1., 1., 1., 1.],
        [1., 1., 1., 1.],
        [1., 1., 1., 1.],
        [1., 1., 1., 1.]])
>>> F.max_pool2d(x, 2)
Tensor([[[[ 5.,  7.],
          [13., 15.]]]], grad_fn=<max_pool2d>)
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .autograd import Function, is_grad_enabled
from .errors import ShapeError
from .ops import Primitive, scatter_add
from .tensor import Tensor, ensure_tensor

Pair = tuple[int, int]
IntOrPair = int | Sequence[int]

__all__ = [
    "AvgPool2d",
    "AvgPool2dGrad",
    "Conv2d",
    "Conv2dWeightGrad",
    "ConvTranspose2d",
    "MaxPool2d",
    "avg_pool2d",
    "conv2d",
    "max_pool2d",
]


# ------------------------------------------------------------------ geometry
def _out_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _pad(x: np.ndarray, padding: Pair, fill: float = 0.0) -> np.ndarray:
    """``x`` with ``padding`` rows and columns of ``fill`` on each side of its last two axes."""
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    n, c, h, w = x.shape
    # An empty array and one copy: np.pad costs ten times as much on small batches.
    out = np.full((n, c, h + 2 * ph, w + 2 * pw), fill, dtype=x.dtype)
    out[:, :, ph : ph + h, pw : pw + w] = x
    return out


def _windows(
    xp: np.ndarray, kernel: Pair, stride: Pair, dilation: Pair, out: Pair, writeable: bool = False
) -> np.ndarray:
    """The view ``v[n, c, i, j, p, q] = xp[n, c, p * sh + i * dh, q * sw + j * dw]`` (no copy)."""
    n, c = xp.shape[:2]
    sn, sc, sy, sx = xp.strides
    return as_strided(
        xp,
        (n, c, kernel[0], kernel[1], out[0], out[1]),
        (sn, sc, sy * dilation[0], sx * dilation[1], sy * stride[0], sx * stride[1]),
        writeable=writeable,
    )


def _overlapping(kernel: Pair, stride: Pair, dilation: Pair) -> bool:
    """True when two windows can share an input element (then scatters must add, not assign)."""
    return dilation[0] * (kernel[0] - 1) >= stride[0] or dilation[1] * (kernel[1] - 1) >= stride[1]


# Position indices cost as much to build as the scatter they drive, and a training loop
# scatters with the same geometry at every step: small ones (2 MB at most) are kept.
_CACHED_POSITIONS = 1 << 18


@functools.lru_cache(maxsize=8)
def _window_positions(
    padded: tuple[int, int, int, int], kernel: Pair, stride: Pair, dilation: Pair, out: Pair
) -> np.ndarray:
    """Flat index into the padded input of each element of ``_windows``, in its order."""
    positions = np.arange(int(np.prod(padded))).reshape(padded)
    flat = _windows(positions, kernel, stride, dilation, out).reshape(-1)
    flat.setflags(write=False)
    return flat


def _pool_positions(
    padded: tuple[int, int, int, int], kernel: Pair, stride: Pair, out: Pair
) -> tuple[np.ndarray, np.ndarray]:
    """Flat index into the padded input of each window's first element, and of each offset."""
    if padded[0] * padded[1] * out[0] * out[1] <= _CACHED_POSITIONS:
        return _cached_pool_positions(padded, kernel, stride, out)
    return _cached_pool_positions.__wrapped__(padded, kernel, stride, out)


@functools.lru_cache(maxsize=8)
def _cached_pool_positions(
    padded: tuple[int, int, int, int], kernel: Pair, stride: Pair, out: Pair
) -> tuple[np.ndarray, np.ndarray]:
    n, c, height, width = padded
    rows = np.arange(out[0]) * (stride[0] * width)
    columns = np.arange(out[1]) * stride[1]
    images = np.arange(n * c) * (height * width)
    origins = (images[:, None, None] + rows[:, None] + columns).reshape(-1)
    offsets = (np.arange(kernel[0])[:, None] * width + np.arange(kernel[1])).reshape(-1)
    origins.setflags(write=False)
    offsets.setflags(write=False)
    return origins, offsets


@functools.lru_cache(maxsize=8)
def _pool_gather_positions(
    padded: tuple[int, int, int, int], kernel: Pair, stride: Pair, out: Pair
) -> np.ndarray:
    """Flat index into the padded input of each element of ``_pool_columns``' columns."""
    origins, offsets = _cached_pool_positions(padded, kernel, stride, out)
    positions = offsets[:, None] + origins
    positions.setflags(write=False)
    return positions


def _col2im(
    columns: np.ndarray,
    padded: tuple[int, int, int, int],
    kernel: Pair,
    stride: Pair,
    dilation: Pair,
) -> np.ndarray:
    """The adjoint of ``_windows``: add each window element back where it was taken from.

    ``columns`` has the windows' shape (N, C, kH, kW, oH, oW); the result the
    padded input's. Windows that do not overlap are written through the
    writeable windows view in one copy. Overlapping ones must add up. Adding
    one strided slice per kernel offset costs a NumPy inner loop per image
    row, so on the small feature maps of a CNN on CPU ``np.add.at`` over
    cached flat positions is faster (2.5x on 8x8 maps, 3.7x on 4x4 ones).
    Past the cache's size the slices are used: their rows are long by then
    (as fast as ``np.add.at`` from about 14x14 on) and they need no index array.
    """
    out = columns.shape[4:]
    result = np.zeros(padded, dtype=columns.dtype)
    windows = _windows(result, kernel, stride, dilation, out, writeable=True)
    if not _overlapping(kernel, stride, dilation):
        windows[...] = columns
    elif columns.size <= _CACHED_POSITIONS:
        positions = _window_positions(padded, kernel, stride, dilation, out)
        np.add.at(result.reshape(-1), positions, columns.reshape(-1))
    else:
        # One offset's elements never share a position, so += on its slice is exact.
        for i in range(kernel[0]):
            for j in range(kernel[1]):
                windows[:, :, i, j] += columns[:, :, i, j]
    return result


def _crop(xp: np.ndarray, padding: Pair) -> np.ndarray:
    ph, pw = padding
    if ph == 0 and pw == 0:
        return xp
    return xp[:, :, ph : xp.shape[2] - ph, pw : xp.shape[3] - pw]


# ------------------------------------------------------------------ convolution kernels
def _im2col(
    x: np.ndarray, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair, groups: int
) -> np.ndarray:
    """The input's windows as columns, shape (N, groups, C / groups * kH * kW, oH * oW)."""
    n, c, h, w = x.shape
    out = (
        _out_size(h, kernel[0], stride[0], padding[0], dilation[0]),
        _out_size(w, kernel[1], stride[1], padding[1], dilation[1]),
    )
    xp = _pad(x, padding)
    shape = (n, groups, c // groups * kernel[0] * kernel[1], out[0] * out[1])
    if kernel != (1, 1) and n * c * kernel[0] * kernel[1] * out[0] * out[1] <= _CACHED_POSITIONS:
        # Copying the strided windows runs a NumPy inner loop per window row (a few
        # elements on a CNN's small maps); one gather by cached positions is 2.5x faster.
        positions = _window_positions(xp.shape, kernel, stride, dilation, out)
        return xp.reshape(-1)[positions].reshape(shape)
    windows = _windows(xp, kernel, stride, dilation, out)
    # The one copy (none for a 1x1 kernel's view). Sizes spelled out, not -1, so that an
    # empty batch reshapes too.
    return windows.reshape(shape)


def _conv_forward(
    x: np.ndarray,
    weight: np.ndarray,
    stride: Pair,
    padding: Pair,
    dilation: Pair,
    groups: int,
) -> tuple[np.ndarray, np.ndarray]:
    """``conv(x, W)`` (no bias) and the columns it multiplied."""
    o, _, kh, kw = weight.shape
    n, h = x.shape[0], x.shape[2]
    columns = _im2col(x, (kh, kw), stride, padding, dilation, groups)
    # (groups, O/g, Cg kH kW) @ (N, groups, Cg kH kW, oH oW): one BLAS product per image and group.
    out = np.matmul(weight.reshape(groups, o // groups, -1), columns)
    out_h = _out_size(h, kh, stride[0], padding[0], dilation[0])
    return out.reshape(n, o, out_h, columns.shape[-1] // out_h), columns


def _conv_weight_grad(
    columns: np.ndarray, grad: np.ndarray, weight_shape: tuple[int, ...], groups: int
) -> np.ndarray:
    """``Σ_n ∂y[n] · columns[n]ᵀ`` per group: the weight's gradient from the input's columns."""
    n, o = grad.shape[:2]
    grad = grad.reshape(n, groups, o // groups, columns.shape[-1])
    # A product per image, then a sum: one product over the whole batch would first need
    # transposed copies of both operands, which costs more on the small maps of a CNN.
    per_image = np.matmul(grad, columns.swapaxes(-1, -2))
    return np.add.reduce(per_image, axis=0).reshape(weight_shape)


def _conv_transpose(
    grad: np.ndarray,
    weight: np.ndarray,
    input_size: Pair,
    stride: Pair,
    padding: Pair,
    dilation: Pair,
    groups: int,
) -> np.ndarray:
    """The adjoint of ``x ↦ conv(x, W)``: ``Wᵀ ∂y`` as columns, added back into the windows."""
    o, cg, kh, kw = weight.shape
    n, _, out_h, out_w = grad.shape
    weight_t = weight.reshape(groups, o // groups, -1).swapaxes(-1, -2)  # (g, Cg kH kW, O/g)
    columns = np.matmul(weight_t, grad.reshape(n, groups, o // groups, out_h * out_w))
    columns = columns.reshape(n, groups * cg, kh, kw, out_h, out_w)
    padded = (
        n,
        groups * cg,
        input_size[0] + 2 * padding[0],
        input_size[1] + 2 * padding[1],
    )
    return _crop(_col2im(columns, padded, (kh, kw), stride, dilation), padding)


# ------------------------------------------------------------------ array-or-Tensor dispatch
def _is_tensor(*values: Any) -> bool:
    return any(isinstance(value, Tensor) for value in values)


def _conv(x: Any, weight: Any, geometry: dict[str, Any]) -> Any:
    if _is_tensor(x, weight):
        return Conv2d.apply(x, weight, None, **geometry)
    return _conv_forward(x, weight, **geometry)[0]


def _transpose(grad: Any, weight: Any, input_size: Pair, geometry: dict[str, Any]) -> Any:
    if _is_tensor(grad, weight):
        return ConvTranspose2d.apply(grad, weight, input_size=input_size, **geometry)
    return _conv_transpose(grad, weight, input_size, **geometry)


def _weight_grad(
    x: Any, grad: Any, kernel: Pair, geometry: dict[str, Any], columns: Any = None
) -> Any:
    if _is_tensor(x, grad):
        return Conv2dWeightGrad.apply(x, grad, kernel_size=kernel, **geometry)
    if columns is None:
        columns = _im2col(x, kernel, **geometry)
    weight_shape = (grad.shape[1], x.shape[1] // geometry["groups"], *kernel)
    return _conv_weight_grad(columns, grad, weight_shape, geometry["groups"])


def _geometry(ctx: Function) -> dict[str, Any]:
    options = ctx.options
    return {name: options[name] for name in ("stride", "padding", "dilation", "groups")}


# ------------------------------------------------------------------ convolution ops
class Conv2d(Primitive):
    """``y[n, o] = Σ_c W[o, c] ⋆ x[n, c] + b[o]``, a cross-correlation as in PyTorch."""

    __slots__ = ()
    name = "conv2d"
    formula = "∂x = conv_transpose(∂y, W), ∂W = conv(x, ∂y), ∂b = Σ ∂y"
    private_saved = (2,)  # the input's columns, kept for the weight's gradient

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups):
        needs_x, needs_weight, _ = ctx.needs_input_grad
        out, columns = _conv_forward(x, weight, stride, padding, dilation, groups)
        if bias is not None:
            out += bias.reshape(-1, 1, 1)
        # Columns that are a view of x (a 1x1 kernel) are recomputed from the guarded x.
        own_columns = needs_weight and not np.may_share_memory(columns, x)
        ctx.save_for_backward(
            x if needs_weight else None,
            weight if needs_x else None,
            columns if own_columns else None,
            (x.shape[2:], weight.shape[2:]),
        )
        return out

    def lift_saved(self, output):
        # The columns are an intermediate: a recorded backward works from x itself.
        x, weight, _, sizes = self.saved
        parents = self.parents
        return (
            None if x is None else self._lifted_input(0, x, parents[0]),
            None if weight is None else self._lifted_input(1, weight, parents[1]),
            None,
            sizes,
        )

    @staticmethod
    def backward(ctx, grad):
        x, weight, columns, (input_size, kernel) = ctx.saved
        geometry = _geometry(ctx)
        needs_x, needs_weight, needs_bias = ctx.needs_input_grad
        grad_x = grad_weight = grad_bias = None
        if needs_x:
            grad_x = _transpose(grad, weight, input_size, geometry)
        if needs_weight:
            grad_weight = _weight_grad(x, grad, kernel, geometry, columns)
        if needs_bias:
            grad_bias = grad.sum(axis=(0, 2, 3))
        return grad_x, grad_weight, grad_bias


class ConvTranspose2d(Primitive):
    """``∂x = conv_transpose(∂y, W)``: what ``Conv2d.backward`` records for the input."""

    __slots__ = ()
    name = "conv_transpose2d"
    formula = "∂g = conv(∂y, W), ∂W = conv(∂y, g)"

    @staticmethod
    def forward(ctx, grad, weight, input_size, stride, padding, dilation, groups):
        needs_grad, needs_weight = ctx.needs_input_grad
        ctx.save_for_backward(
            grad if needs_weight else None, weight if needs_grad else None, weight.shape[2:]
        )
        return _conv_transpose(grad, weight, input_size, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx, upstream):
        # <u, conv_transpose(g, W)> = <conv(u, W), g>: bilinear in (g, W).
        grad, weight, kernel = ctx.saved
        geometry = _geometry(ctx)
        needs_grad, needs_weight = ctx.needs_input_grad
        grad_grad = _conv(upstream, weight, geometry) if needs_grad else None
        grad_weight = None
        if needs_weight:
            grad_weight = _weight_grad(upstream, grad, kernel, geometry)
        return grad_grad, grad_weight


class Conv2dWeightGrad(Primitive):
    """``∂W = conv_weight(x, ∂y)``: what ``Conv2d.backward`` records for the weight."""

    __slots__ = ()
    name = "conv2d_weight_grad"
    formula = "∂x = conv_transpose(g, ∂y), ∂g = conv(x, ∂y)"

    @staticmethod
    def forward(ctx, x, grad, kernel_size, stride, padding, dilation, groups):
        needs_x, needs_grad = ctx.needs_input_grad
        ctx.save_for_backward(x if needs_grad else None, grad if needs_x else None, x.shape[2:])
        columns = _im2col(x, kernel_size, stride, padding, dilation, groups)
        weight_shape = (grad.shape[1], x.shape[1] // groups, *kernel_size)
        return _conv_weight_grad(columns, grad, weight_shape, groups)

    @staticmethod
    def backward(ctx, upstream):
        # <V, conv_weight(x, g)> = <conv(x, V), g>: bilinear in (x, g).
        x, grad, input_size = ctx.saved
        geometry = _geometry(ctx)
        needs_x, needs_grad = ctx.needs_input_grad
        grad_x = _transpose(grad, upstream, input_size, geometry) if needs_x else None
        grad_grad = _conv(x, upstream, geometry) if needs_grad else None
        return grad_x, grad_grad


# ------------------------------------------------------------------ pooling ops
def _pool_columns(x: np.ndarray, kernel: Pair, stride: Pair, padding: Pair, fill: float) -> Any:
    """The windows as a contiguous (kH * kW, N * C * oH * oW) array, and the output shape."""
    n, c, h, w = x.shape
    out = (
        _out_size(h, kernel[0], stride[0], padding[0], 1),
        _out_size(w, kernel[1], stride[1], padding[1], 1),
    )
    xp = _pad(x, padding, fill)
    size = n * c * out[0] * out[1]
    if size * kernel[0] * kernel[1] <= _CACHED_POSITIONS:
        # As in _im2col: a gather beats copying a view whose rows are a few elements long.
        positions = _pool_gather_positions(xp.shape, kernel, stride, out)
        return xp.reshape(-1)[positions], (n, c, *out)
    windows = _windows(xp, kernel, stride, (1, 1), out)
    # Kernel offsets first: each is then one contiguous row, and every loop below is
    # a NumPy call on a whole row instead of one per image row.
    columns = windows.transpose(2, 3, 0, 1, 4, 5).reshape(kernel[0] * kernel[1], size)
    return columns, (n, c, *out)


def _first_maximum(columns: np.ndarray, best: np.ndarray) -> np.ndarray:
    """The offset of each window's first maximum, in window order, as PyTorch picks it.

    Scanning from the last offset to the first, each offset holding the maximum
    takes over: a few whole-row operations per offset, where ``argmax`` over the
    short window axis would cost a NumPy call per window.
    """
    count = len(columns)
    chosen = np.full(best.shape, count - 1, dtype=np.min_scalar_type(count))
    for offset in range(count - 2, -1, -1):
        hit = columns[offset] == best
        chosen -= hit * (chosen - offset)  # chosen >= offset here: no unsigned wrap-around
    if best.dtype.kind == "f":
        nan = np.isnan(best)
        if nan.any():  # NaN wins, the last one in the window, as in PyTorch
            chosen[nan] = count - 1 - np.isnan(columns[::-1, nan]).argmax(axis=0)
    return chosen


class MaxPool2d(Primitive):
    """The maximum of each window; padding counts as -inf."""

    __slots__ = ()
    name = "max_pool2d"
    formula = "∂x = ∂y at each window's first maximum, 0 elsewhere"

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding):
        lowest = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        columns, out_shape = _pool_columns(x, kernel_size, stride, padding, lowest)
        best = np.maximum.reduce(columns, axis=0)
        if ctx.needs_input_grad[0] and is_grad_enabled():
            ctx.save_for_backward(_first_maximum(columns, best), x.shape)
        return best.reshape(out_shape)

    @staticmethod
    def backward(ctx, grad):
        chosen, shape = ctx.saved
        options = ctx.options
        kernel, stride, padding = options["kernel_size"], options["stride"], options["padding"]
        n, c, h, w = shape
        padded = (n, c, h + 2 * padding[0], w + 2 * padding[1])
        origins, offsets = _pool_positions(padded, kernel, stride, grad.shape[2:])
        chosen_positions = origins + offsets[chosen]  # in the padded input, flat
        size = int(np.prod(padded))
        if isinstance(grad, Tensor):
            flat = scatter_add(grad.reshape(-1), (size,), chosen_positions)
        else:
            flat = np.zeros(size, dtype=grad.dtype)
            if _overlapping(kernel, stride, (1, 1)):
                np.add.at(flat, chosen_positions, grad.reshape(-1))
            else:
                flat[chosen_positions] = grad.reshape(-1)
        full = flat.reshape(padded)
        ph, pw = padding
        if ph == 0 and pw == 0:
            return full
        return full[:, :, ph : ph + h, pw : pw + w]


def _avg_divisor(
    shape: tuple[int, ...], kernel: Pair, stride: Pair, padding: Pair, count_include_pad: bool
) -> Any:
    """What each window's sum is divided by: kH * kW, or the count of non-padding elements."""
    if count_include_pad or (padding[0] == 0 and padding[1] == 0):
        return kernel[0] * kernel[1]
    ones = np.ones((1, 1, *shape[2:]), dtype=np.float32)  # exact counts; keeps float32 float32
    counts, _ = _pool_columns(ones, kernel, stride, padding, 0.0)
    out = (_out_size(shape[2], kernel[0], stride[0], padding[0], 1), -1)
    return np.add.reduce(counts, axis=0).reshape(out)


def _avg_pool(x: np.ndarray, kernel: Pair, stride: Pair, padding: Pair, include: bool) -> Any:
    columns, out_shape = _pool_columns(x, kernel, stride, padding, 0.0)
    total = np.add.reduce(columns, axis=0).reshape(out_shape)
    return total / _avg_divisor(x.shape, kernel, stride, padding, include)


def _avg_pool_transpose(
    grad: np.ndarray,
    input_shape: tuple[int, ...],
    kernel: Pair,
    stride: Pair,
    padding: Pair,
    include: bool,
) -> np.ndarray:
    n, c, h, w = input_shape
    share = grad / _avg_divisor(input_shape, kernel, stride, padding, include)
    columns = np.broadcast_to(share[:, :, None, None], (n, c, *kernel, *grad.shape[2:]))
    padded = (n, c, h + 2 * padding[0], w + 2 * padding[1])
    return _crop(_col2im(columns, padded, kernel, stride, (1, 1)), padding)


def _pool_options(ctx: Function) -> tuple[Pair, Pair, Pair, bool]:
    options = ctx.options
    return (
        options["kernel_size"],
        options["stride"],
        options["padding"],
        options["count_include_pad"],
    )


class AvgPool2d(Primitive):
    """The mean of each window (padding zeros included when ``count_include_pad``)."""

    __slots__ = ()
    name = "avg_pool2d"
    formula = "∂x = ∂y / (window size), spread over each window"

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding, count_include_pad):
        ctx.save_for_backward(x.shape)
        return _avg_pool(x, kernel_size, stride, padding, count_include_pad)

    @staticmethod
    def backward(ctx, grad):
        (shape,) = ctx.saved
        options = _pool_options(ctx)
        if isinstance(grad, Tensor):
            kernel, stride, padding, include = options
            return AvgPool2dGrad.apply(
                grad,
                input_shape=shape,
                kernel_size=kernel,
                stride=stride,
                padding=padding,
                count_include_pad=include,
            )
        return _avg_pool_transpose(grad, shape, *options)


class AvgPool2dGrad(Primitive):
    """The adjoint of ``AvgPool2d``: what its backward records under create_graph."""

    __slots__ = ()
    name = "avg_pool2d_grad"
    formula = "∂g = avg_pool2d(∂y)"

    @staticmethod
    def forward(ctx, grad, input_shape, kernel_size, stride, padding, count_include_pad):
        return _avg_pool_transpose(
            grad, input_shape, kernel_size, stride, padding, count_include_pad
        )

    @staticmethod
    def backward(ctx, upstream):
        kernel, stride, padding, include = _pool_options(ctx)
        if isinstance(upstream, Tensor):
            return AvgPool2d.apply(
                upstream,
                kernel_size=kernel,
                stride=stride,
                padding=padding,
                count_include_pad=include,
            )
        return _avg_pool(upstream, kernel, stride, padding, include)


# ------------------------------------------------------------------ checks and the public API
def as_pair(value: IntOrPair, what: str, where: str, minimum: int = 1) -> Pair:
    """``value`` as (height, width): an int means both; each must be at least ``minimum``."""
    if type(value) is tuple and len(value) == 2 and type(value[0]) is type(value[1]) is int:
        pair: Pair = value  # the common case, a layer's own settings: no conversion
    elif isinstance(value, int | np.integer) and not isinstance(value, bool):
        pair = (int(value), int(value))
    else:
        try:
            items = tuple(value)  # type: ignore[arg-type]
        except TypeError:
            items = ()
        if len(items) != 2 or not all(
            isinstance(v, int | np.integer) and not isinstance(v, bool) for v in items
        ):
            raise TypeError(f"{where}: {what} must be an int or a pair of ints, got {value!r}")
        pair = (int(items[0]), int(items[1]))
    if min(pair) < minimum:
        bound = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{where}: {what} must be {bound}, got {value!r}")
    return pair


def _batched(x: Tensor, where: str, layout: str) -> tuple[Tensor, bool]:
    """A 4-d input as it is, or a 3-d one with a batch axis of 1 added."""
    if x.ndim == 4:
        return x, False
    if x.ndim == 3:
        return x.reshape(1, *x.shape), True
    raise ShapeError(f"{where}: expected an input of shape {layout}, got shape {x.shape}")


def _check_fits(
    where: str, x_shape: tuple[int, ...], kernel: Pair, padding: Pair, dilation: Pair
) -> None:
    for axis, name in ((0, "height"), (1, "width")):
        size = x_shape[axis - 2] + 2 * padding[axis]
        extent = dilation[axis] * (kernel[axis] - 1) + 1
        if extent > size:
            dilated = f" (dilated to {extent})" if dilation[axis] > 1 else ""
            raise ShapeError(
                f"{where}: the kernel's {name} {kernel[axis]}{dilated} is larger than the "
                f"padded input's {size} (input of shape {tuple(x_shape)}, padding "
                f"{padding[axis]}); use a smaller kernel or more padding"
            )


def conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrPair = 1,
    padding: IntOrPair | str = 0,
    dilation: IntOrPair = 1,
    groups: int = 1,
) -> Tensor:
    """2-d cross-correlation of ``x`` (N, C, H, W) with ``weight`` (O, C / groups, kH, kW).

    Output ``(N, O, oH, oW)`` with ``oH = (H + 2 ph - dh (kH - 1) - 1) // sh + 1``
    (and likewise oW), as ``torch.nn.functional.conv2d``. ``stride``,
    ``padding`` (zeros) and ``dilation`` are ints or (height, width) pairs;
    ``padding="same"`` keeps the size (stride 1 only; an odd total goes to the
    bottom and right, as PyTorch pads) and ``"valid"`` is no padding;
    ``groups`` splits the channels into independent convolutions. A 3-d input
    (C, H, W) is one unbatched image.

    >>> import numpy as np
    >>> import tinygrad_ann as tg
    >>> import tinygrad_ann.functional as F
    >>> x = tg.ones(2, 3, 5, 5)
    >>> w = tg.ones(4, 3, 3, 3, requires_grad=True)
    >>> y = F.conv2d(x, w, padding=1)
    >>> y.shape
    (2, 4, 5, 5)
    >>> float(y[0, 0, 2, 2].item()), float(y[0, 0, 0, 0].item())  # 27 taps inside, 12 at a corner
    (27.0, 12.0)
    """
    return checked_conv2d(x, weight, bias, stride, padding, dilation, groups, "conv2d")


def checked_conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    stride: IntOrPair,
    padding: IntOrPair | str,
    dilation: IntOrPair,
    groups: int,
    where: str,
) -> Tensor:
    x, weight = ensure_tensor(x), ensure_tensor(weight)
    strides = as_pair(stride, "stride", where)
    dilations = as_pair(dilation, "dilation", where)
    if isinstance(padding, str):
        check_padding_name(where, padding, strides)
    else:
        paddings = as_pair(padding, "padding", where, minimum=0)
    if not isinstance(groups, int | np.integer) or groups < 1:
        raise ValueError(f"{where}: groups must be a positive int, got {groups!r}")
    if weight.ndim != 4:
        raise ShapeError(
            f"{where}: weight must have shape (out_channels, in_channels / groups, kH, kW), "
            f"got shape {weight.shape}"
        )
    out_channels, group_channels = weight.shape[:2]
    if out_channels % groups:
        raise ValueError(
            f"{where}: out_channels {out_channels} (weight of shape {weight.shape}) is not "
            f"divisible by groups={groups}"
        )
    batch, unbatched = _batched(x, where, "(N, C, H, W) or (C, H, W)")
    channels = batch.shape[1]
    if channels != group_channels * groups:
        per_group = f" ({group_channels} per group x {groups} groups)" if groups > 1 else ""
        raise ShapeError(
            f"{where}: input of shape {x.shape} has {channels} channels but the weight of "
            f"shape {weight.shape} expects {group_channels * groups}{per_group}"
        )
    if bias is not None:
        bias = ensure_tensor(bias)
        if bias.shape != (out_channels,):
            raise ShapeError(
                f"{where}: bias must have shape ({out_channels},) for a weight of shape "
                f"{weight.shape}, got {bias.shape}"
            )
    kernel = (weight.shape[2], weight.shape[3])
    if min(kernel) < 1:
        raise ShapeError(f"{where}: the weight of shape {weight.shape} has an empty kernel")
    crop = (0, 0)
    if isinstance(padding, str):
        # "same" pads dilation * (kernel - 1) in all, the odd one at the bottom and right as
        # PyTorch does: pad the larger half on both sides, then drop the first row or column.
        totals = [d * (k - 1) if padding == "same" else 0 for d, k in zip(dilations, kernel)]
        paddings = ((totals[0] + 1) // 2, (totals[1] + 1) // 2)
        crop = (totals[0] % 2, totals[1] % 2)
    _check_fits(where, x.shape, kernel, paddings, dilations)
    out = Conv2d.apply(
        batch,
        weight,
        bias,
        stride=strides,
        padding=paddings,
        dilation=dilations,
        groups=int(groups),
    )
    if crop != (0, 0):
        out = out[:, :, crop[0] :, crop[1] :]
    return out.reshape(out.shape[1:]) if unbatched else out


def check_padding_name(where: str, padding: str, stride: Pair) -> None:
    """``padding`` is "same" or "valid", and "same" comes with stride 1, as PyTorch requires."""
    if padding not in ("same", "valid"):
        raise ValueError(
            f"{where}: padding must be an int, a (height, width) pair, 'same' or 'valid', got "
            f"{padding!r}"
        )
    if padding == "same" and stride != (1, 1):
        raise ValueError(
            f"{where}: padding='same' is not supported for strided convolutions (stride="
            f"{stride}), as in PyTorch; use stride=1, or give the padding as numbers"
        )


def check_pool_padding(where: str, kernel: Pair, padding: Pair) -> None:
    if padding[0] * 2 > kernel[0] or padding[1] * 2 > kernel[1]:
        raise ValueError(
            f"{where}: padding {padding} must be at most half the kernel size {kernel} "
            "(as in PyTorch: a window must not lie wholly in the padding)"
        )


def checked_pool2d(
    op: type[Function],
    x: Any,
    kernel_size: IntOrPair,
    stride: IntOrPair | None,
    padding: IntOrPair,
    where: str,
    **options: Any,
) -> Tensor:
    kernel = as_pair(kernel_size, "kernel_size", where)
    strides = kernel if stride is None else as_pair(stride, "stride", where)
    paddings = as_pair(padding, "padding", where, minimum=0)
    check_pool_padding(where, kernel, paddings)
    batch, unbatched = _batched(ensure_tensor(x), where, "(N, C, H, W) or (C, H, W)")
    _check_fits(where, batch.shape[unbatched:], kernel, paddings, (1, 1))
    out = op.apply(batch, kernel_size=kernel, stride=strides, padding=paddings, **options)
    return out.reshape(out.shape[1:]) if unbatched else out


def max_pool2d(
    x: Tensor,
    kernel_size: IntOrPair,
    stride: IntOrPair | None = None,
    padding: IntOrPair = 0,
) -> Tensor:
    """The maximum over each ``kernel_size`` window; ``stride`` defaults to ``kernel_size``.

    Padding counts as -inf. The gradient goes to each window's maximum; among
    tied maxima, to the first in window order (row by row), as in PyTorch.

    >>> import numpy as np
    >>> import tinygrad_ann as tg
    >>> import tinygrad_ann.functional as F
    >>> x = tg.tensor([[[[1.0, 3.0], [3.0, 2.0]]]], requires_grad=True)
    >>> F.max_pool2d(x, 2).sum().backward()
    >>> x.grad  # the first of the tied 3s gets it
    Tensor([[[[0., 1.],
              [0., 0.]]]])
    """
    return checked_pool2d(MaxPool2d, x, kernel_size, stride, padding, "max_pool2d")


def avg_pool2d(
    x: Tensor,
    kernel_size: IntOrPair,
    stride: IntOrPair | None = None,
    padding: IntOrPair = 0,
    count_include_pad: bool = True,
) -> Tensor:
    """The mean over each ``kernel_size`` window; ``stride`` defaults to ``kernel_size``.

    Padding is zeros; with ``count_include_pad=True`` (PyTorch's default) they
    count in the divisor, which is then always kH * kW.

    >>> import tinygrad_ann as tg
    >>> import tinygrad_ann.functional as F
    >>> F.avg_pool2d(tg.tensor([[[[1.0, 2.0], [3.0, 6.0]]]]), 2)
    Tensor([[[[3.]]]])
    """
    return checked_pool2d(
        AvgPool2d,
        x,
        kernel_size,
        stride,
        padding,
        "avg_pool2d",
        count_include_pad=bool(count_include_pad),
    )

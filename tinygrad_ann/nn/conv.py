"""Convolution, pooling and flattening layers, with PyTorch's names, shapes and initialisation."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import conv_ops
from ..conv_ops import (
    IntOrPair,
    Pair,
    as_pair,
    check_padding_name,
    check_pool_padding,
    checked_conv2d,
    checked_pool2d,
)
from ..errors import ShapeError
from ..tensor import Tensor, get_default_dtype
from . import init
from .module import Module, Parameter


class Conv2d(Module):
    """2-d convolution of (N, C, H, W) batches: ``y = conv2d(x, weight) + bias``.

    ``weight`` has shape (out_channels, in_channels / groups, kH, kW) and
    ``bias`` (out_channels,), the names and shapes of ``torch.nn.Conv2d``, so a
    state dict moves between the two. Initialised as PyTorch does:
    ``kaiming_uniform_(weight, a=sqrt(5))`` and ``bias`` from U(-1/sqrt(fan_in),
    1/sqrt(fan_in)) with ``fan_in = in_channels / groups * kH * kW``, drawn
    from the generator ``tg.manual_seed`` seeds. ``kernel_size``, ``stride``,
    ``padding`` and ``dilation`` are ints or (height, width) pairs;
    ``padding`` may also be ``"same"`` (stride 1 only) or ``"valid"``, as in PyTorch.

    >>> import tinygrad_ann as tg
    >>> from tinygrad_ann import nn
    >>> conv = nn.Conv2d(3, 8, kernel_size=3, padding=1)
    >>> conv(tg.ones(2, 3, 10, 10)).shape
    (2, 8, 10, 10)
    >>> {name: p.shape for name, p in conv.named_parameters()}
    {'weight': (8, 3, 3, 3), 'bias': (8,)}
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrPair,
        stride: IntOrPair = 1,
        padding: IntOrPair | str = 0,
        dilation: IntOrPair = 1,
        groups: int = 1,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        where = f"Conv2d({in_channels}, {out_channels}, kernel_size={kernel_size!r})"
        for what, value in (
            ("in_channels", in_channels),
            ("out_channels", out_channels),
            ("groups", groups),
        ):
            if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{where}: {what} must be a positive int, got {value!r}")
        for what, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if value % groups:
                raise ValueError(f"{where}: {what}={value} is not divisible by groups={groups}")
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size: Pair = as_pair(kernel_size, "kernel_size", where)
        self.stride: Pair = as_pair(stride, "stride", where)
        self.padding: Pair | str
        if isinstance(padding, str):
            check_padding_name(where, padding, self.stride)
            self.padding = padding
        else:
            self.padding = as_pair(padding, "padding", where, minimum=0)
        self.dilation: Pair = as_pair(dilation, "dilation", where)
        self.groups = int(groups)
        dtype = get_default_dtype() if dtype is None else np.dtype(dtype)
        shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = Parameter(np.empty(shape, dtype=dtype))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self.bias: Parameter | None
        self.register_parameter("bias", None)  # takes a Parameter or None from here on
        if bias:
            fan_in = in_channels // groups * self.kernel_size[0] * self.kernel_size[1]
            bound = 1.0 / math.sqrt(fan_in)
            bias_parameter = Parameter(np.empty(out_channels, dtype=dtype))
            init.uniform_(bias_parameter, -bound, bound)
            self.bias = bias_parameter

    def forward(self, x: Tensor) -> Tensor:
        return checked_conv2d(
            x,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
            f"Conv2d({self.extra_repr()})",
        )

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
        text += f", stride={self.stride}"
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text


class _Pool2d(Module):
    def __init__(
        self, kernel_size: IntOrPair, stride: IntOrPair | None = None, padding: IntOrPair = 0
    ) -> None:
        super().__init__()
        where = type(self).__name__
        self.kernel_size: Pair = as_pair(kernel_size, "kernel_size", where)
        self.stride: Pair = self.kernel_size if stride is None else as_pair(stride, "stride", where)
        self.padding: Pair = as_pair(padding, "padding", where, minimum=0)
        check_pool_padding(where, self.kernel_size, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """``F.max_pool2d`` as a layer: the maximum of each window (stride defaults to the kernel).

    >>> import tinygrad_ann as tg
    >>> from tinygrad_ann import nn
    >>> nn.MaxPool2d(2)(tg.ones(1, 3, 8, 8)).shape
    (1, 3, 4, 4)
    """

    def forward(self, x: Tensor) -> Tensor:
        where = f"MaxPool2d({self.extra_repr()})"
        return checked_pool2d(
            conv_ops.MaxPool2d, x, self.kernel_size, self.stride, self.padding, where
        )


class AvgPool2d(_Pool2d):
    """``F.avg_pool2d`` as a layer: the mean of each window (stride defaults to the kernel).

    >>> import tinygrad_ann as tg
    >>> from tinygrad_ann import nn
    >>> nn.AvgPool2d(2)(tg.ones(1, 3, 8, 8)).shape
    (1, 3, 4, 4)
    """

    def __init__(
        self,
        kernel_size: IntOrPair,
        stride: IntOrPair | None = None,
        padding: IntOrPair = 0,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__(kernel_size, stride, padding)
        self.count_include_pad = count_include_pad

    def forward(self, x: Tensor) -> Tensor:
        return checked_pool2d(
            conv_ops.AvgPool2d,
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            f"AvgPool2d({self.extra_repr()})",
            count_include_pad=bool(self.count_include_pad),
        )

    def extra_repr(self) -> str:
        text = super().extra_repr()
        return text if self.count_include_pad else text + ", count_include_pad=False"


class Flatten(Module):
    """Merge axes ``start_dim..end_dim`` into one: (N, C, H, W) to (N, C * H * W) by default.

    >>> import tinygrad_ann as tg
    >>> from tinygrad_ann import nn
    >>> nn.Flatten()(tg.ones(2, 3, 4, 4)).shape
    (2, 48)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            x = Tensor(x)
        ndim = x.ndim
        for what, dim in (("start_dim", self.start_dim), ("end_dim", self.end_dim)):
            if not -ndim <= dim < ndim:
                raise ShapeError(
                    f"Flatten({self.extra_repr()}): {what}={dim} is out of range for an input "
                    f"of shape {x.shape}"
                )
        if self.start_dim % ndim > self.end_dim % ndim:
            raise ShapeError(
                f"Flatten({self.extra_repr()}): start_dim comes after end_dim for an input of "
                f"shape {x.shape}"
            )
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"

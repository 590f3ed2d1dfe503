"""``Dropout``, ``BatchNorm1d``, ``BatchNorm2d`` and ``LayerNorm`` as Modules.

They follow ``train()`` and ``eval()``: dropout drops only in training, and
batch norm normalizes by the batch's statistics in training (updating its
running statistics) and by the running statistics in evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from ..errors import ShapeError
from ..norm_ops import (
    check_dropout_probability,
    checked_batch_norm,
    checked_layer_norm,
    dropout,
    normalized_shape_tuple,
)
from ..tensor import Tensor, get_default_dtype
from .module import Module, Parameter


class Dropout(Module):
    """Inverted dropout (``F.dropout``) in training mode; the identity after ``eval()``.

    >>> import tinygrad_ann as tg
    >>> from tinygrad_ann import nn
    >>> layer = nn.Dropout(p=0.5)
    >>> tg.manual_seed(0)
    >>> sorted(set(layer(tg.ones(10)).tolist()))
    [0.0, 2.0]
    >>> layer.eval()(tg.ones(3))
    Tensor([1., 1., 1.])
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = check_dropout_probability("Dropout", p)

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class _BatchNorm(Module):
    """Batch normalization over axis 1 (channels) of the shapes ``expected_ndims`` allows."""

    #: The numbers of dimensions the input may have, and how to describe them in errors.
    expected_ndims: ClassVar[tuple[int, ...]]
    expected_shapes: ClassVar[str]

    weight: Parameter | None
    bias: Parameter | None
    running_mean: Tensor | None
    running_var: Tensor | None
    num_batches_tracked: Tensor | None

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if isinstance(num_features, bool) or not isinstance(num_features, int | np.integer):
            raise TypeError(f"{name}: num_features must be an int, got {num_features!r}")
        if num_features < 1:
            raise ValueError(f"{name}: num_features must be positive, got {num_features}")
        self.num_features = int(num_features)
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        dtype = get_default_dtype() if dtype is None else np.dtype(dtype)
        # Registered even when absent, so that only a Parameter or None can be assigned later.
        self.register_parameter(
            "weight", Parameter(np.ones(num_features, dtype=dtype)) if affine else None
        )
        self.register_parameter(
            "bias", Parameter(np.zeros(num_features, dtype=dtype)) if affine else None
        )
        # Registered even when not tracked (as None), as PyTorch does: the attributes exist.
        tracked = track_running_stats
        self.register_buffer("running_mean", np.zeros(num_features, dtype) if tracked else None)
        self.register_buffer("running_var", np.ones(num_features, dtype) if tracked else None)
        self.register_buffer(
            "num_batches_tracked", np.array(0, dtype=np.int64) if tracked else None
        )

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches counted."""
        if self.running_mean is not None and self.running_var is not None:
            self.running_mean.data = np.zeros_like(self.running_mean.data)
            self.running_var.data = np.ones_like(self.running_var.data)
        if self.num_batches_tracked is not None:
            self.num_batches_tracked.data = np.zeros_like(self.num_batches_tracked.data)

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            x = Tensor(x)
        layer = f"{type(self).__name__}({self.num_features})"
        if x.ndim not in self.expected_ndims:
            raise ShapeError(f"{layer}: expected {self.expected_shapes} input, got shape {x.shape}")
        if x.shape[1] != self.num_features:
            raise ShapeError(
                f"{layer}: input of shape {x.shape} has {x.shape[1]} channels (axis 1), but "
                f"the layer has num_features={self.num_features}"
            )
        counter = self.num_batches_tracked if self.training and self.track_running_stats else None
        # Without running statistics evaluation uses the batch's too.
        batch_statistics = self.training or self.running_mean is None or self.running_var is None
        use_running = not self.training or self.track_running_stats
        # The op itself blends the running statistics and counts the batch (momentum None:
        # by the count so far), so that every run of it does.
        return checked_batch_norm(
            x,
            self.running_mean if use_running else None,
            self.running_var if use_running else None,
            self.weight,
            self.bias,
            batch_statistics,
            self.momentum,
            self.eps,
            layer,
            num_batches_tracked=counter,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) inputs, per channel C.

    In training mode each channel is normalized by the batch's mean and
    variance (over N, and L), then scaled by ``weight`` and shifted by ``bias``
    (learned, of shape (C,)); the buffers ``running_mean`` and ``running_var``
    follow ``(1 - momentum)·running + momentum·batch`` (unbiased variance) and
    ``num_batches_tracked`` counts the batches. ``momentum=None`` makes the
    running statistics a plain average over all batches. In evaluation mode
    the running statistics are used. With ``track_running_stats=False`` there
    are no buffers and the batch's statistics are used in both modes.

    >>> import tinygrad_ann as tg
    >>> from tinygrad_ann import nn
    >>> layer = nn.BatchNorm1d(2)
    >>> y = layer(tg.tensor([[1.0, 10.0], [3.0, 30.0]]))
    >>> y.numpy().round(3)
    array([[-1., -1.],
           [ 1.,  1.]])
    >>> layer.running_mean, layer.num_batches_tracked
    (Tensor([0.2, 2. ]), Tensor(1))
    >>> list(layer.state_dict())
    ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']
    """

    expected_ndims = (2, 3)
    expected_shapes = "a 2-d (N, C) or 3-d (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) inputs, per channel C (see ``BatchNorm1d``).

    >>> import tinygrad_ann as tg
    >>> from tinygrad_ann import nn
    >>> layer = nn.BatchNorm2d(3)
    >>> layer(tg.randn(4, 3, 5, 5)).shape
    (4, 3, 5, 5)
    """

    expected_ndims = (4,)
    expected_shapes = "a 4-d (N, C, H, W)"


class LayerNorm(Module):
    """Layer normalization (``F.layer_norm``) over the trailing ``normalized_shape`` axes.

    ``weight`` (ones) and ``bias`` (zeros) have shape ``normalized_shape`` and
    are learned unless ``elementwise_affine=False``; ``bias=False`` leaves out
    the shift. No running statistics: training and evaluation are the same.

    >>> import tinygrad_ann as tg
    >>> from tinygrad_ann import nn
    >>> layer = nn.LayerNorm(2)
    >>> layer(tg.tensor([[1.0, 3.0]])).numpy().round(3)
    array([[-1.,  1.]])
    >>> layer
    LayerNorm((2,), eps=1e-05, elementwise_affine=True)
    """

    weight: Parameter | None
    bias: Parameter | None

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.normalized_shape = normalized_shape_tuple("LayerNorm", normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        dtype = get_default_dtype() if dtype is None else np.dtype(dtype)
        shape = self.normalized_shape
        # Registered even when absent, so that only a Parameter or None can be assigned later.
        weight = Parameter(np.ones(shape, dtype=dtype)) if elementwise_affine else None
        self.register_parameter("weight", weight)
        has_bias = elementwise_affine and bias
        self.register_parameter(
            "bias", Parameter(np.zeros(shape, dtype=dtype)) if has_bias else None
        )

    def forward(self, x: Tensor) -> Tensor:
        layer = f"LayerNorm({self.normalized_shape})"
        return checked_layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps, layer)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )

"""Layers, activations and losses as Modules."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import functional as F
from .. import ops
from ..tensor import Tensor, get_default_dtype
from . import init
from .module import Module, Parameter, features_error


class Linear(Module):
    """``y = x @ weight.T + bias``: ``weight`` is (out_features, in_features).

    Initialised as PyTorch does: ``weight`` by ``kaiming_uniform_(a=sqrt(5))``,
    i.e. U(-1/sqrt(in_features), 1/sqrt(in_features)), and ``bias`` from the
    same range.

    >>> import tinygrad_ann as tg
    >>> layer = tg.nn.Linear(3, 2)
    >>> layer(tg.ones(4, 3)).shape
    (4, 2)
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, dtype: Any = None
    ) -> None:
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ValueError(
                f"Linear: in_features and out_features must be positive, got {in_features} "
                f"and {out_features}"
            )
        self.in_features = in_features
        self.out_features = out_features
        dtype = get_default_dtype() if dtype is None else np.dtype(dtype)
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dtype))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self.bias: Parameter | None
        self.register_parameter("bias", None)  # takes a Parameter or None from here on
        if bias:
            bound = 1.0 / math.sqrt(in_features)
            bias_parameter = Parameter(np.empty(out_features, dtype=dtype))
            init.uniform_(bias_parameter, -bound, bound)
            self.bias = bias_parameter

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            x = Tensor(x)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise features_error(f"Linear({self.extra_repr()})", self.in_features, x)
        return ops.Linear.apply(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )

    def short_repr(self) -> str:
        bias = "" if self.bias is not None else ", no bias"
        return f"Linear({self.in_features} -> {self.out_features}{bias})"


class Sigmoid(Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)


class Tanh(Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.tanh(x)


class ReLU(Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x)


class LeakyReLU(Module):
    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Softmax(Module):
    def __init__(self, axis: int = -1) -> None:
        super().__init__()
        self.axis = axis

    def forward(self, x: Tensor) -> Tensor:
        return F.softmax(x, self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class LogSoftmax(Softmax):
    def forward(self, x: Tensor) -> Tensor:
        return F.log_softmax(x, self.axis)


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """``F.mse_loss`` as a module: ``loss = MSELoss()(prediction, target)``."""

    def forward(self, prediction: Tensor, target: Any) -> Tensor:
        return F.mse_loss(prediction, target, self.reduction)


class CrossEntropyLoss(_Loss):
    """``F.cross_entropy`` as a module: takes raw logits, not probabilities.

    ``weight``, ``ignore_index`` and ``label_smoothing`` are passed on (keywords only).
    """

    def __init__(
        self,
        reduction: str = "mean",
        *,
        weight: Any = None,
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(reduction)
        self.weight = None if weight is None else np.array(getattr(weight, "data", weight))
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, logits: Tensor, target: Any) -> Tensor:
        return F.cross_entropy(
            logits,
            target,
            self.weight,
            self.ignore_index,
            self.reduction,
            self.label_smoothing,
        )


class NLLLoss(_Loss):
    """``F.nll_loss`` as a module: takes log-probabilities.

    ``weight`` and ``ignore_index`` are passed on (keywords only).
    """

    def __init__(
        self, reduction: str = "mean", *, weight: Any = None, ignore_index: int = -100
    ) -> None:
        super().__init__(reduction)
        self.weight = None if weight is None else np.array(getattr(weight, "data", weight))
        self.ignore_index = ignore_index

    def forward(self, log_probs: Tensor, target: Any) -> Tensor:
        return F.nll_loss(log_probs, target, self.weight, self.ignore_index, self.reduction)


class BCELoss(_Loss):
    """``F.binary_cross_entropy`` as a module: takes probabilities in [0, 1]."""

    def forward(self, probs: Tensor, target: Any) -> Tensor:
        return F.binary_cross_entropy(probs, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """``F.binary_cross_entropy_with_logits`` as a module: takes raw scores."""

    def forward(self, logits: Tensor, target: Any) -> Tensor:
        return F.binary_cross_entropy_with_logits(logits, target, self.reduction)

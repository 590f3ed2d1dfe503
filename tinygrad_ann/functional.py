"""Activations and losses as functions (imported as ``F``, as in PyTorch).

Losses that can overflow when composed from smaller ops (cross-entropy, binary
cross-entropy from logits) are single fused ops computed in a stable form, and
so is the mean squared error, which is cheaper as one node.

>>> import numpy as np
>>> import tinygrad_ann as tg
>>> import tinygrad_ann.functional as F
>>> logits = tg.tensor([[2.0, 0.5, -1.0]], requires_grad=True)
>>> loss = F.cross_entropy(logits, np.array([0]))
>>> round(loss.item(), 4)
0.2413
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import ops
from .conv_ops import avg_pool2d, conv2d, max_pool2d  # re-exported as F.*
from .errors import DTypeError, ShapeError
from .tensor import Tensor, ensure_tensor

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(op: str, reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _float_target(op: str, prediction: Tensor, target: Any) -> Any:
    """The target as a Tensor or array of the prediction's shape and float dtype.

    A Tensor target is cast by a Tensor op (``astype``), so that the cast is part of the
    computation the ops perform rather than a copy of the values the target had once.
    """
    if not isinstance(target, Tensor):
        target = np.asarray(target)
        if target.dtype != prediction.dtype:
            target = target.astype(prediction.dtype)
    elif not target.requires_grad:  # a constant: the Tensor itself, or its cast by a Tensor op
        # (the Tensor, not its array: the op then reads whatever array it holds at each run)
        if target.dtype != prediction.dtype:
            target = target.astype(prediction.dtype)
    if target.shape != prediction.shape:
        raise ShapeError(
            f"{op}: prediction has shape {prediction.shape} but target has shape {target.shape}; "
            "they must match exactly (broadcasting here would silently compare every "
            "prediction with every target). Reshape one, e.g. target.reshape(prediction.shape)"
        )
    return target


# ------------------------------------------------------------------ activations
def sigmoid(x: Tensor) -> Tensor:
    """``sigmoid(x) = 1 / (1 + exp(-x))``, with derivative ``s (1 - s)``.

    Computed as ``exp(-log(1 + exp(-x)))`` so that no exponent overflows.

    >>> import tinygrad_ann as tg
    >>> tg.functional.sigmoid(tg.tensor([-1e4, 0.0, 1e4]))
    Tensor([0. , 0.5, 1. ])
    """
    return ensure_tensor(x).sigmoid()


def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent, with derivative ``1 - tanh(x)^2``."""
    return ensure_tensor(x).tanh()


def relu(x: Tensor) -> Tensor:
    """``max(x, 0)``; the gradient is 1 where ``x > 0`` and 0 elsewhere."""
    return ensure_tensor(x).relu()


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """``x`` where ``x > 0``, else ``negative_slope * x``."""
    return ops.LeakyReLU.apply(ensure_tensor(x), negative_slope=negative_slope)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """``exp(x_i) / sum_j exp(x_j)`` along ``axis``; the max is subtracted first.

    Its vector-Jacobian product is ``s * (g - sum(g * s))``.
    """
    return ensure_tensor(x).softmax(axis)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """``x_i - log(sum_j exp(x_j))`` along ``axis``, computed stably.

    Its vector-Jacobian product is ``g - softmax(x) * sum(g)``.
    """
    return ensure_tensor(x).log_softmax(axis)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight.T + bias`` for ``weight`` of shape (out_features, in_features)."""
    x = ensure_tensor(x)
    if x.ndim == 0 or x.shape[-1] != weight.shape[-1]:
        raise ShapeError(
            f"linear: input of shape {x.shape} has {x.shape[-1] if x.ndim else 0} features "
            f"in its last axis but weight of shape {weight.shape} expects {weight.shape[-1]}"
        )
    return ops.Linear.apply(x, weight, bias)


# ------------------------------------------------------------------ losses
def mse_loss(prediction: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Mean squared error: ``mean((prediction - target)^2)``.

    ``reduction="sum"`` gives the sum, ``"none"`` the elementwise squares. The
    shapes must be equal: (N, 1) against (N,) is an error, not a broadcast.

    >>> import tinygrad_ann as tg
    >>> tg.functional.mse_loss(tg.tensor([1.0, 3.0]), [0.0, 0.0]).item()
    5.0
    """
    _check_reduction("mse_loss", reduction)
    prediction = ensure_tensor(prediction)
    target = _float_target("mse_loss", prediction, target)
    return ops.MSELoss.apply(prediction, target, reduction=reduction)


def _class_target(op: str, scores: Tensor, target: Any) -> np.ndarray:
    """Class indices of shape (N,), of an integer dtype, for scores of shape (N, C).

    Their range is checked by the op's forward, so that every run of it checks them.
    """
    labels = np.asarray(target.data if isinstance(target, Tensor) else target)
    if labels.dtype.kind not in "iu":
        raise DTypeError(
            f"{op}: class-index targets must be integers, got dtype {labels.dtype}; "
            "convert them (target.astype(np.int64)), or pass class probabilities with "
            f"the scores' shape {scores.shape}"
        )
    if labels.shape != scores.shape[:1]:
        raise ShapeError(
            f"{op}: scores of shape {scores.shape} need class indices of shape "
            f"{scores.shape[:1]}, got {labels.shape}"
        )
    return labels


def _batched(op: str, scores: Tensor, target: Any) -> tuple[Tensor, Any, bool]:
    """Allow a single sample: (C,) scores with a scalar target."""
    if scores.ndim == 1:
        if isinstance(target, Tensor):  # a target is a constant: reshaped by an op, not recorded
            return scores.reshape(1, -1), target.detach().reshape((1, *target.shape)), True
        target = np.asarray(target)
        return scores.reshape(1, -1), target.reshape((1, *target.shape)), True
    if scores.ndim < 2:
        raise ShapeError(
            f"{op}: expected scores of shape (N, C), (C,) or (N, C, d1, ...), got {scores.shape}"
        )
    return scores, target, False


def _classes_last(
    op: str, scores: Tensor, target: Any
) -> tuple[Tensor, Any, tuple[int, ...] | None]:
    """(N, C, d1, ...) scores as (N·d1·..., C) rows, and the target as their rows.

    Also gives the shape a ``reduction="none"`` result takes back, (N, d1, ...), or None
    for (N, C) scores, which are rows already (and go through untouched, as most do).
    """
    if scores.ndim <= 2:
        return scores, target, None
    kept = (scores.shape[0], *scores.shape[2:])
    array = np.asarray(target.data if isinstance(target, Tensor) else target)
    order = (0, *range(2, scores.ndim), 1)
    # A Tensor target (as tg.compile passes every array argument) is rearranged by ops, so
    # that a replay rearranges the call's own target instead of reusing the first one's.
    rows: Any = target.detach() if isinstance(target, Tensor) else array
    if array.dtype.kind == "f" and array.shape == scores.shape:  # probabilities
        rows = rows.transpose(*order).reshape(-1, scores.shape[1])
    elif array.shape == kept:
        rows = rows.reshape(-1)
    else:
        raise ShapeError(
            f"{op}: scores of shape {scores.shape} need class indices of shape {kept} "
            f"or probabilities of shape {scores.shape}, got {array.shape}"
        )
    return scores.transpose(*order).reshape(-1, scores.shape[1]), rows, kept


def _class_weight(op: str, weight: Any, scores: Tensor) -> np.ndarray | None:
    if weight is None:
        return None
    array = np.asarray(weight.data if isinstance(weight, Tensor) else weight)
    classes = scores.shape[-1]
    if array.shape != (classes,):
        raise ShapeError(
            f"{op}: weight must hold one number per class, shape ({classes},), got {array.shape}"
        )
    return array.astype(scores.dtype, copy=False)


def cross_entropy(
    logits: Tensor,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Softmax cross-entropy ``-log softmax(logits)[target]``, averaged over the batch.

    ``logits`` has shape (N, C), (C,) for one sample, or (N, C, d1, ...) (classes
    on axis 1, as PyTorch). ``target`` is either integer class indices of shape
    (N,) (or (N, d1, ...)) or class probabilities of the logits' shape, giving
    ``-sum_c target_c log softmax(logits)_c``. The gradient with respect to the
    logits is ``softmax(logits) - onehot(target)`` (divided by N for
    ``reduction="mean"``). Targets are constants: no gradient flows to them.

    As in PyTorch: ``weight`` (C,) scales each class's loss, and the mean over class
    indices divides by the summed weights of the targets; rows whose target is
    ``ignore_index`` count for nothing (nor in the mean); ``label_smoothing=ε`` mixes
    the target with the uniform distribution, ``(1 - ε) target + ε / C``.

    >>> import numpy as np
    >>> import tinygrad_ann as tg
    >>> logits = tg.tensor([[2.0, 0.5], [0.1, 0.3]])
    >>> F = tg.functional
    >>> round(F.cross_entropy(logits, np.array([0, -100])).item(), 4)  # the second is ignored
    0.2014
    """
    _check_reduction("cross_entropy", reduction)
    if label_smoothing and not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(
            f"cross_entropy: label_smoothing must lie in [0, 1], got {label_smoothing}"
        )
    logits, target, single = _batched("cross_entropy", ensure_tensor(logits), target)
    logits, target, kept_shape = _classes_last("cross_entropy", logits, target)
    array = np.asarray(target.data if isinstance(target, Tensor) else target)
    if array.dtype.kind == "f" and array.ndim == 2:
        if array.shape != logits.shape:
            raise ShapeError(
                f"cross_entropy: probability targets must have the logits' shape {logits.shape}, "
                f"got {array.shape}"
            )
        if ignore_index != -100:
            raise ValueError(
                "cross_entropy: ignore_index applies to class-index targets, not probabilities"
            )
        if isinstance(target, Tensor) and array.dtype != logits.dtype:
            array = target.detach().astype(logits.dtype).data  # cast by an op, like the target
        else:
            array = array.astype(logits.dtype, copy=False)
    else:
        array = _class_target("cross_entropy", logits, array)
    # The Tensor itself where its array is used as it is: each run of the op reads the
    # array the Tensor holds then.
    given: Any = target if isinstance(target, Tensor) and array is target._data else array
    options: dict[str, Any] = {}
    if weight is not None or ignore_index != -100 or label_smoothing:
        options = {
            "weight": _class_weight("cross_entropy", weight, logits),
            "ignore_index": ignore_index,
            "smoothing": float(label_smoothing),
        }
    loss = ops.CrossEntropy.apply(logits, given, reduction=reduction, **options)
    return _unreduced_shape(loss, reduction, single, kept_shape)


def _unreduced_shape(
    loss: Tensor, reduction: str, single: bool, kept_shape: tuple[int, ...] | None
) -> Tensor:
    """A ``reduction="none"`` loss in the target's shape: () for a single sample,
    (N, d1, ...) for scores with positions; any other loss as it is."""
    if reduction != "none" or (kept_shape is None and not single):
        return loss
    return loss.reshape(()) if single else loss.reshape(kept_shape)


def nll_loss(
    log_probs: Tensor,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood ``-weight[t] log_probs[n, t]`` with ``t = target[n]``.

    ``cross_entropy(x, t)`` equals ``nll_loss(log_softmax(x), t)``. Shapes,
    ``weight`` and ``ignore_index`` are as in :func:`cross_entropy` (the mean
    divides by the summed weights of the targets that are not ignored).
    """
    _check_reduction("nll_loss", reduction)
    log_probs, target, single = _batched("nll_loss", ensure_tensor(log_probs), target)
    log_probs, target, kept_shape = _classes_last("nll_loss", log_probs, target)
    labels = _class_target("nll_loss", log_probs, target)
    given: Any = target if isinstance(target, Tensor) and labels is target._data else labels
    loss = ops.NLLLoss.apply(
        log_probs,
        given,
        reduction=reduction,
        weight=_class_weight("nll_loss", weight, log_probs),
        ignore_index=ignore_index,
    )
    return _unreduced_shape(loss, reduction, single, kept_shape)


def binary_cross_entropy(probs: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """``-(t log p + (1 - t) log(1 - p))`` for probabilities ``p`` in [0, 1].

    Each log is floored at -100, so p = 0 or 1 gives a finite loss. Prefer
    :func:`binary_cross_entropy_with_logits` on the raw scores: it is exact
    where the sigmoid saturates.
    """
    _check_reduction("binary_cross_entropy", reduction)
    probs = ensure_tensor(probs)  # its range is checked by the op, at every run
    target = _float_target("binary_cross_entropy", probs, target)
    return ops.BinaryCrossEntropy.apply(probs, target, reduction=reduction)


def binary_cross_entropy_with_logits(
    logits: Tensor, target: Any, reduction: str = "mean"
) -> Tensor:
    """Binary cross-entropy of ``sigmoid(logits)``, computed without overflow.

    ``max(x, 0) - x t + log(1 + exp(-|x|))``; the gradient is ``sigmoid(x) - t``.
    """
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    logits = ensure_tensor(logits)
    target = _float_target("binary_cross_entropy_with_logits", logits, target)
    return ops.BinaryCrossEntropyWithLogits.apply(logits, target, reduction=reduction)


from .norm_ops import batch_norm, dropout, layer_norm  # noqa: E402 - re-exported as F.*

# Sequence models: embeddings, GELU, attention.
from .sequence_functional import (  # noqa: E402 - re-exported as F.*
    embedding,
    erf,
    gelu,
    scaled_dot_product_attention,
)

# The functional API, also what the reference documents.
__all__ = [
    "avg_pool2d",
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "conv2d",
    "cross_entropy",
    "dropout",
    "embedding",
    "erf",
    "gelu",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "max_pool2d",
    "mse_loss",
    "nll_loss",
    "relu",
    "scaled_dot_product_attention",
    "sigmoid",
    "softmax",
    "tanh",
]

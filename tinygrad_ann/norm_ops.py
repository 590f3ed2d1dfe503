"""Dropout, batch normalization and layer normalization, as functions and primitive ops.

Each op is a forward and its vector-Jacobian product side by side, like the
ops in ``ops.py``, and twice differentiable: the backward uses operators and
``vjp_math`` only, and the normalizations rebuild ``x̂`` and ``1/σ`` from the
input Tensor when a recorded backward needs them (``lift_saved``).

Writing ``x̂ = (x - mean) / σ`` over the normalized axes, ``y = γ·x̂ + β``, and
``g = γ·∂y``, the VJP of a normalization by the batch's own statistics is
``∂x = (g - mean(g) - x̂·mean(g·x̂)) / σ``; with fixed (running) statistics it
is ``∂x = g / σ``. In both ``∂γ = Σ ∂y·x̂`` and ``∂β = Σ ∂y`` over the axes
``γ`` does not span.

>>> import numpy as np
>>> import tinygrad_ann as tg
>>> import tinygrad_ann.functional as F
>>> x = tg.tensor([[1.0, 10.0], [3.0, 30.0]])
>>> F.batch_norm(x, None, None, training=True, eps=0.0)
Tensor([[-1., -1.],
        [ 1.,  1.]])
>>> F.layer_norm(tg.tensor([[1.0, 3.0]]), 2, eps=0.0)
Tensor([[-1.,  1.]])
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import numpy as np

from .errors import ShapeError
from .factories import generator
from .ops import Primitive
from .tensor import Tensor, ensure_tensor
from .vjp_math import sqrt, where

__all__ = ["batch_norm", "dropout", "layer_norm"]


# ------------------------------------------------------------------ primitives
class Dropout(Primitive):
    """``x · m / (1 - p)`` for a boolean mask ``m`` of the kept elements (each kept w.p. 1 - p)."""

    __slots__ = ()
    name = "dropout"
    formula = "∂x = ∂y · m / (1 - p) (m: 1 where x was kept, 0 where dropped)"
    private_saved = (0,)  # the mask: made for this call, nobody else writes it

    @staticmethod
    def forward(ctx, x, p):
        # Drawn here, not by the caller, so that every run of the op draws a fresh mask.
        keep = generator().random(x.shape) >= p
        scale = 1.0 / (1.0 - p)
        ctx.save_for_backward(keep, scale)
        return np.where(keep, x * scale, 0)

    @staticmethod
    def backward(ctx, grad):
        keep, scale = ctx.saved
        return where(keep, grad * scale, 0.0)


class _Normalize(Primitive):
    """``y = γ·x̂ + β`` with ``x̂ = (x - mean)·(1/σ)``, the statistics taken over ``axes``.

    ``weight`` (γ) and ``bias`` (β) may be None; they span the axes that
    ``parameter_axes`` names. ``running`` holds fixed statistics (the mean and
    ``1/σ``, shaped to broadcast against ``x``), or None for the batch's own.
    """

    __slots__ = ()
    # x̂ and 1/σ are intermediates: not guarded, and rebuilt from the input by lift_saved.
    private_saved = (0, 1)
    #: Whether the mean and σ are computed from ``x`` (so ∂x has the two mean terms).
    batch_statistics: ClassVar[bool] = True

    @staticmethod
    def parameter_axes(ndim: int, axes: tuple[int, ...]) -> tuple[int, ...]:
        """The axes of ``x`` that γ and β span."""
        raise NotImplementedError

    @staticmethod
    def standardize(
        x: Any, axes: tuple[int, ...], eps: float, running: Any
    ) -> tuple[Any, Any, Any, Any]:
        """``x̂``, ``1/σ``, the mean and ``Σ(x - mean)²`` (None, None with ``running``).

        On arrays in forward, on Tensors when a backward is recorded. The sum of
        squares, not the variance, so that batch norm's unbiased variance is
        ``np.var(ddof=1)`` bit for bit; its quotient by the count is ``.mean()``'s.
        """
        if running is not None:
            mean, inv_std = running
            return (x - mean) * inv_std, inv_std, None, None
        count = 1
        for axis in axes:
            count *= x.shape[axis]
        mean = x.mean(axis=axes, keepdims=True)
        centered = x - mean
        square_sum = (centered * centered).sum(axis=axes, keepdims=True)
        inv_std = 1 / sqrt(square_sum / count + eps)
        return centered * inv_std, inv_std, mean, square_sum

    @classmethod
    def layout(
        cls, shape: tuple[int, ...], axes: tuple[int, ...]
    ) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        """γ's shape, the shape it broadcasts as against ``x``, and the axes its gradient sums."""
        spanned = cls.parameter_axes(len(shape), axes)
        parameter_shape = tuple(shape[i] for i in spanned)
        view = tuple(size if i in spanned else 1 for i, size in enumerate(shape))
        summed = tuple(i for i in range(len(shape)) if i not in spanned)
        return parameter_shape, view, summed

    @classmethod
    def forward(cls, ctx, x, weight, bias, axes, eps):
        return cls.normalize(ctx, x, weight, bias, axes, eps, None)[0]

    @classmethod
    def normalize(cls, ctx, x, weight, bias, axes, eps, running):
        """The forward of every normalization: ``running`` as :meth:`standardize` takes it.

        Returns the output, and the mean and sum of squares as :meth:`standardize` does.
        """
        x_hat, inv_std, mean, square_sum = cls.standardize(x, axes, eps, running)
        ctx.save_for_backward(x_hat, inv_std, weight, axes, eps, running)
        _, view, _ = cls.layout(x.shape, axes)
        out = x_hat if weight is None else x_hat * weight.reshape(view)
        if bias is not None:
            out = out + bias.reshape(view)
        return out, mean, square_sum

    def lift_saved(self, output):
        x_hat, inv_std, _, axes, eps, running = self.saved
        x = self._lifted_input(0, self.inputs[0], self.parents[0])
        if isinstance(x, Tensor):  # x̂ and 1/σ then depend on x: recompute them, recorded
            x_hat, inv_std, _, _ = self.standardize(x, axes, eps, running)
        weight = self._lifted_input(1, self.inputs[1], self.parents[1])
        return x_hat, inv_std, weight, axes, eps, running

    @staticmethod
    def backward(ctx, grad):
        x_hat, inv_std, weight, axes, _, _ = ctx.saved
        parameter_shape, view, summed = type(ctx).layout(x_hat.shape, axes)
        grad_x = grad_weight = grad_bias = None
        if ctx.batch_statistics and summed == axes:
            return _batch_statistics_backward(ctx, grad, parameter_shape, view)
        if ctx.needs_input_grad[0]:
            g = grad if weight is None else grad * weight.reshape(view)
            if ctx.batch_statistics:
                g_mean = g.mean(axis=axes, keepdims=True)
                projection = (g * x_hat).mean(axis=axes, keepdims=True)
                g = g - g_mean - x_hat * projection
            grad_x = g * inv_std
        if ctx.needs_input_grad[1]:
            grad_weight = _sum_to(grad * x_hat, summed, parameter_shape)
        if ctx.needs_input_grad[2]:
            grad_bias = _sum_to(grad, summed, parameter_shape)
        return grad_x, grad_weight, grad_bias


def _batch_statistics_backward(
    ctx: Any, grad: Any, parameter_shape: tuple[int, ...], view: tuple[int, ...]
) -> tuple[Any, Any, Any]:
    """The VJP when γ spans exactly the axes the statistics do not (batch norm's layout).

    Then ``mean(g) = γ·Σ∂y / m`` and ``mean(g·x̂) = γ·Σ∂y·x̂ / m`` are γ times β's and
    γ's gradients over m: two reductions serve all three gradients, and ``∂x`` is
    ``(γ/σ)(∂y - Σ∂y/m - x̂·Σ∂y·x̂/m)``, half the passes over the batch of the
    general form.
    """
    x_hat, inv_std, weight, axes, _, _ = ctx.saved
    needs_x, needs_weight, needs_bias = ctx.needs_input_grad
    count = 1
    for axis in axes:
        count *= x_hat.shape[axis]
    grad_sum: Any = grad.sum(axis=axes, keepdims=True) if needs_x or needs_bias else None
    projection: Any = None
    if needs_x or needs_weight:
        projection = (grad * x_hat).sum(axis=axes, keepdims=True)
    grad_x = None
    if needs_x:
        scale = inv_std if weight is None else weight.reshape(view) * inv_std
        grad_x = (grad - grad_sum * (1 / count) - x_hat * (projection * (1 / count))) * scale
    grad_weight = projection.reshape(parameter_shape) if needs_weight else None
    grad_bias = grad_sum.reshape(parameter_shape) if needs_bias else None
    return grad_x, grad_weight, grad_bias


def _sum_to(values: Any, axes: tuple[int, ...], shape: tuple[int, ...]) -> Any:
    """``values`` summed over ``axes``, as an array (or Tensor) of ``shape``."""
    if axes:
        values = values.sum(axis=axes, keepdims=True)
    return values.reshape(shape)


class BatchNorm(_Normalize):
    """Batch normalization by the batch's statistics: per channel (axis 1), over the rest.

    When given them, forward also blends the batch's mean and unbiased variance into
    ``running_mean`` and ``running_var`` (see :func:`batch_norm`) and counts the batch in
    ``num_batches_tracked``: each run of the op updates them, as each eager call does.
    ``momentum=None`` blends by ``1/(n + 1)`` after ``n`` counted batches (a plain average).
    """

    __slots__ = ()
    name = "batch_norm"
    formula = "∂x = (γ/σ)(∂y - mean(∂y) - x̂·mean(∂y·x̂)), ∂γ = Σ ∂y·x̂, ∂β = Σ ∂y"  # noqa: RUF001 - the math's Greek letters

    @staticmethod
    def parameter_axes(ndim: int, axes: tuple[int, ...]) -> tuple[int, ...]:
        return (1,)

    @classmethod
    def forward(
        cls,
        ctx,
        x,
        weight,
        bias,
        axes,
        eps,
        running_mean=None,
        running_var=None,
        momentum=0.1,
        num_batches_tracked=None,
    ):
        out, mean, square_sum = cls.normalize(ctx, x, weight, bias, axes, eps, None)
        if momentum is None:  # the average over every batch counted so far
            counted = num_batches_tracked
            momentum = 0.0 if counted is None else 1.0 / (int(counted.data.item()) + 1)
        # The batch's statistics as normalize computed them: a second x.var would cost
        # as much as the whole normalization.
        if running_mean is not None:
            _blend_into(running_mean, mean.reshape(-1), momentum)
        if running_var is not None:
            count = x.size // max(x.shape[1], 1)
            _blend_into(running_var, square_sum.reshape(-1) / (count - 1), momentum)
        if num_batches_tracked is not None:
            num_batches_tracked.data = num_batches_tracked.data + 1
        return out


class BatchNormEval(BatchNorm):
    """Batch normalization by fixed running statistics (evaluation mode): an affine map.

    ``running`` is a :class:`RunningStatistics`, read when forward runs, so each run
    normalizes by the values the running buffers hold then.
    """

    __slots__ = ()
    name = "batch_norm_eval"
    formula = "∂x = ∂y · γ/σ, ∂γ = Σ ∂y·x̂, ∂β = Σ ∂y (mean and σ: running, constant)"  # noqa: RUF001 - the math's Greek letters
    batch_statistics = False

    @classmethod
    def forward(cls, ctx, x, weight, bias, axes, eps, running):  # type: ignore[override]
        return cls.normalize(ctx, x, weight, bias, axes, eps, tuple(running))[0]


class RunningStatistics(Sequence):
    """The mean and ``1/sqrt(var + eps)`` that evaluation normalizes by, read when used.

    Holds the running buffers themselves (Tensors, arrays or sequences) and unpacks as
    ``(mean, inv_std)`` in ``dtype``, shaped ``view``, computed from the values the buffers
    hold at that moment, so that a replayed op reads the statistics as they are now.
    """

    __slots__ = ("running_mean", "running_var", "eps", "dtype", "view")

    def __init__(
        self, running_mean: Any, running_var: Any, eps: float, dtype: Any, view: tuple[int, ...]
    ) -> None:
        self.running_mean = running_mean
        self.running_var = running_var
        self.eps = eps
        self.dtype = dtype
        self.view = view

    def values(self) -> tuple[np.ndarray, np.ndarray]:
        """The mean and ``1/sqrt(var + eps)``, from the buffers' current values."""
        mean = np.array(_array(self.running_mean), dtype=self.dtype).reshape(self.view)
        variance = np.array(_array(self.running_var), dtype=self.dtype).reshape(self.view)
        return mean, 1 / np.sqrt(variance + self.eps)

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self.values())

    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: Any) -> Any:
        return self.values()[index]


class LayerNorm(_Normalize):
    """Layer normalization: each sample over its trailing (normalized) axes."""

    __slots__ = ()
    name = "layer_norm"
    formula = "∂x = (g - mean(g) - x̂·mean(g·x̂))/σ with g = γ·∂y, ∂γ = Σ ∂y·x̂, ∂β = Σ ∂y"  # noqa: RUF001 - the math's Greek letters

    @staticmethod
    def parameter_axes(ndim: int, axes: tuple[int, ...]) -> tuple[int, ...]:
        return axes


# ------------------------------------------------------------------ functions


def check_dropout_probability(where: str, p: Any) -> float:
    """``p`` as a float, if it is a drop probability in [0, 1); raises ValueError otherwise."""
    probability = float(p) if isinstance(p, numbers.Real) and not isinstance(p, bool) else None
    if probability is None or not 0 <= probability < 1:
        raise ValueError(
            f"{where}: p is the probability of dropping each element and must be in [0, 1), "
            f"got {p!r} (p = 1 would drop everything and scale by 1/(1 - p) = inf)"
        )
    return probability


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1/(1 - p)``.

    This is inverted dropout: the expected value of every element is unchanged,
    so nothing needs rescaling at evaluation time, where (``training=False``)
    ``x`` is returned as it is. The mask comes from the generator that
    ``tg.manual_seed`` seeds, so a seed reproduces it. ``p`` must lie in [0, 1).

    >>> import tinygrad_ann as tg
    >>> import tinygrad_ann.functional as F
    >>> tg.manual_seed(0)
    >>> y = F.dropout(tg.ones(8), p=0.5)
    >>> sorted(set(y.tolist()))  # dropped, or kept and doubled
    [0.0, 2.0]
    >>> F.dropout(tg.ones(3), p=0.5, training=False)
    Tensor([1., 1., 1.])
    """
    p = check_dropout_probability("dropout", p)
    x = ensure_tensor(x)
    if not training or p == 0:
        return x
    return Dropout.apply(x, p=p)


def _check_channel_vector(layer: str, what: str, value: Any, x: Tensor) -> None:
    if value is not None and np.shape(value) != (x.shape[1],):
        raise ShapeError(
            f"{layer}: {what} has shape {np.shape(value)} but the input of shape {x.shape} has "
            f"{x.shape[1]} channels (axis 1); it must have shape ({x.shape[1]},)"
        )


def _blend_into(buffer: Any, statistic: np.ndarray, momentum: float) -> None:
    """``buffer = (1 - momentum)·buffer + momentum·statistic``, in place as PyTorch does."""
    array = buffer.data if isinstance(buffer, Tensor) else buffer
    updated = ((1 - momentum) * array + momentum * statistic).astype(array.dtype, copy=False)
    try:
        array[...] = updated
    except ValueError:  # read-only: a live graph saved the Tensor; it keeps the old values
        if not isinstance(buffer, Tensor):
            raise
        buffer.data = updated


def batch_norm(
    x: Tensor,
    running_mean: Tensor | np.ndarray | None,
    running_var: Tensor | np.ndarray | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize each channel (axis 1) of ``x``, of shape (N, C, ...), then scale and shift.

    ``y = weight · (x - mean) / sqrt(var + eps) + bias``, per channel. With
    ``training=True`` the mean and (biased) variance are the batch's, over every
    axis but 1, and the running statistics, if given, are updated in place:
    ``running = (1 - momentum)·running + momentum·batch``, with the unbiased
    variance for ``running_var``, as PyTorch does. With ``training=False``
    (evaluation) ``running_mean`` and ``running_var`` are used instead and must
    be given. Training needs more than one value per channel.

    >>> import numpy as np
    >>> import tinygrad_ann as tg
    >>> import tinygrad_ann.functional as F
    >>> x = tg.tensor([[0.0, 1.0], [2.0, 5.0]])
    >>> mean, var = np.zeros(2), np.ones(2)
    >>> F.batch_norm(x, mean, var, training=True, eps=0.0)
    Tensor([[-1., -1.],
            [ 1.,  1.]])
    >>> mean, var  # 0.9 · (0, 0) + 0.1 · (1, 3), and 0.9 · (1, 1) + 0.1 · (2, 8)
    (array([0.1, 0.3]), array([1.1, 1.7]))
    """
    return checked_batch_norm(
        x, running_mean, running_var, weight, bias, training, momentum, eps, "batch_norm"
    )


def checked_batch_norm(
    x: Any,
    running_mean: Any,
    running_var: Any,
    weight: Any,
    bias: Any,
    training: bool,
    momentum: float | None,
    eps: float,
    layer: str,
    num_batches_tracked: Tensor | None = None,
) -> Tensor:
    """:func:`batch_norm`, with errors naming ``layer``.

    ``num_batches_tracked``, when given, counts each batch trained on (after the checks:
    a rejected batch counts nothing); ``momentum=None`` then blends by ``1/(n + 1)``
    after ``n`` counted batches.
    """
    x = ensure_tensor(x)
    if x.ndim < 2:
        raise ShapeError(
            f"{layer}: expected an input of shape (N, C, ...) with at least 2 dimensions, got "
            f"shape {x.shape}"
        )
    for what, value in (
        ("running_mean", running_mean),
        ("running_var", running_var),
        ("weight", weight),
        ("bias", bias),
    ):
        _check_channel_vector(layer, what, value, x)
    weight, bias = _parameter(weight, x), _parameter(bias, x)
    axes = (0, *range(2, x.ndim))
    if not training:
        if running_mean is None or running_var is None:
            raise ValueError(
                f"{layer}: evaluation (training=False) normalizes by running_mean and "
                "running_var, so both must be given"
            )
        view = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        running = RunningStatistics(running_mean, running_var, eps, x.dtype, view)
        return BatchNormEval.apply(x, weight, bias, axes=axes, eps=eps, running=running)
    count = x.size // max(x.shape[1], 1)
    if count < 2:
        raise ValueError(
            f"{layer}: expected more than 1 value per channel when training, got input of "
            f"shape {x.shape} ({count} per channel), whose variance is undefined; use a "
            "larger batch, or evaluation mode"
        )
    for what, value in (("running_mean", running_mean), ("running_var", running_var)):
        if value is not None and not isinstance(value, Tensor | np.ndarray):
            raise TypeError(
                f"{layer}: {what} is updated in place when training, so it must be a Tensor "
                f"or a NumPy array, got {type(value).__name__}"
            )
    # The running statistics are updated by the op, so that every run of it updates them.
    return BatchNorm.apply(
        x,
        weight,
        bias,
        axes=axes,
        eps=eps,
        running_mean=running_mean,
        running_var=running_var,
        momentum=momentum,
        num_batches_tracked=num_batches_tracked,
    )


def _array(value: Any) -> Any:
    return value.data if isinstance(value, Tensor) else value


def _parameter(value: Any, x: Tensor) -> Any:
    """A weight or bias as given if a Tensor (or None); other values as constant arrays."""
    if value is None or isinstance(value, Tensor):
        return value
    return np.asarray(value, dtype=x.dtype)


def normalized_shape_tuple(where: str, normalized_shape: Any) -> tuple[int, ...]:
    """``normalized_shape`` (an int or a sequence of ints) as a tuple of positive ints."""
    shape = (
        (normalized_shape,)
        if isinstance(normalized_shape, numbers.Integral)
        else tuple(normalized_shape)
        if isinstance(normalized_shape, Sequence)
        else None
    )
    if (
        not shape
        or any(isinstance(size, bool) or not isinstance(size, numbers.Integral) for size in shape)
        or any(size < 1 for size in shape)
    ):
        raise ValueError(
            f"{where}: normalized_shape must be a positive int or a non-empty sequence of "
            f"positive ints, got {normalized_shape!r}"
        )
    return tuple(int(size) for size in shape)


def layer_norm(
    x: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize each sample over its trailing ``normalized_shape`` axes, then scale and shift.

    ``y = weight · (x - mean) / sqrt(var + eps) + bias``, the mean and (biased)
    variance taken over the last ``len(normalized_shape)`` axes of each sample;
    ``weight`` and ``bias`` have shape ``normalized_shape``. The same in
    training and evaluation.

    >>> import tinygrad_ann as tg
    >>> import tinygrad_ann.functional as F
    >>> F.layer_norm(tg.tensor([[0.0, 2.0], [9.0, 5.0]]), (2,), eps=0.0)
    Tensor([[-1.,  1.],
            [ 1., -1.]])
    """
    return checked_layer_norm(x, normalized_shape, weight, bias, eps, "layer_norm")


def checked_layer_norm(
    x: Any, normalized_shape: Any, weight: Any, bias: Any, eps: float, layer: str
) -> Tensor:
    """:func:`layer_norm`, with errors naming ``layer``."""
    shape = normalized_shape_tuple(layer, normalized_shape)
    x = ensure_tensor(x)
    if x.ndim < len(shape) or x.shape[x.ndim - len(shape) :] != shape:
        raise ShapeError(
            f"{layer}: expected an input whose last {len(shape)} dimension(s) are {shape} "
            f"(normalized_shape), got shape {x.shape}"
        )
    for what, value in (("weight", weight), ("bias", bias)):
        if value is not None and np.shape(value) != shape:
            raise ShapeError(
                f"{layer}: {what} has shape {np.shape(value)}, normalized_shape is {shape}; "
                "they must be equal"
            )
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    return LayerNorm.apply(x, _parameter(weight, x), _parameter(bias, x), axes=axes, eps=eps)

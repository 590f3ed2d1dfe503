"""One table of differentiable ops: what to call, the NumPy reference, and the valid domain.

Each ``OpSpec`` drives both the forward test (against ``reference``) and the
property-based gradient test (against finite differences) in
``tests/ops/test_op_gradients.py``: adding an op adds its tests by adding a row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann.testing import broadcastable_shapes, shapes, tensors, well_conditioned

# The tolerance the op table's gradients must meet against finite differences, per entry:
# |analytic - numeric| <= atol + rtol * |numeric|. Central differences in float64 with
# eps = 1e-6 on these well-conditioned inputs (|x| <= 3, kinks and poles 0.05 away) agree
# with the exact derivative to about 6e-8 relative and 3e-7 absolute at worst (truncation
# eps^2 f'''/6, rounding ulp(f)/eps), so rtol = 1e-6 leaves a margin of over 10. A VJP off
# by a relative 1e-4 then fails at every entry with |gradient| > 1e-3, which each drawn
# case has (tests/ops/test_op_gradients.py checks both). assert_gradients_match's defaults
# (atol 1e-5, rtol 1e-3) are for users' composite functions; they let a 1e-4 error pass.
GRADIENT_TOLERANCE = {"eps": 1e-6, "atol": 1e-7, "rtol": 1e-6}
# The relative error in a VJP that GRADIENT_TOLERANCE must catch.
CAUGHT_RELATIVE_ERROR = 1e-4

ANY = well_conditioned()
POSITIVE = well_conditioned(0.2, 3.0)
AWAY_FROM_ZERO = well_conditioned(avoid=(0.0,), margin=0.05)
LOGITS = well_conditioned(-5.0, 5.0)
PROBABILITIES = well_conditioned(0.05, 0.95)


@dataclass(frozen=True)
class OpSpec:
    """A differentiable op: ``op(*tensors)`` must equal ``reference(*arrays)``.

    ``arity`` inputs are drawn: with ``broadcast`` their shapes are mutually
    broadcastable, otherwise they share one shape (or ``shapes`` fixes them).
    ``unique`` draws distinct, well-separated values (max, min: no ties).
    ``targets`` draws a non-differentiable extra argument from the input shape.
    """

    name: str
    op: Callable[..., tg.Tensor]
    reference: Callable[..., np.ndarray]
    arity: int = 1
    elements: st.SearchStrategy[float] = ANY
    broadcast: bool = False
    shapes: tuple[tuple[int, ...], ...] | None = None
    min_dims: int = 0
    unique: bool = False
    targets: Callable[[tuple[int, ...]], st.SearchStrategy[Any]] | None = None
    tags: frozenset[str] = field(default_factory=frozenset)


def _softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    shifted = np.exp(x - x.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def _log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _class_indices(shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    batch, classes = shape
    return st.lists(st.integers(0, classes - 1), min_size=batch, max_size=batch).map(np.array)


def _distributions(shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    rows = st.lists(
        st.lists(st.floats(0.05, 1.0), min_size=shape[1], max_size=shape[1]),
        min_size=shape[0],
        max_size=shape[0],
    )
    return rows.map(lambda r: np.array(r) / np.array(r).sum(axis=1, keepdims=True))


def _binary_targets(shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    size = int(np.prod(shape))
    return st.lists(st.floats(0.0, 1.0), min_size=size, max_size=size).map(
        lambda values: np.array(values).reshape(shape)
    )


def _same_shape_targets(shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    size = int(np.prod(shape))
    return st.lists(st.floats(-3.0, 3.0), min_size=size, max_size=size).map(
        lambda values: np.array(values).reshape(shape)
    )


def _cross_entropy_reference(logits, target, reduction="mean"):
    log_probs = _log_softmax(logits, axis=1)
    if target.ndim == 1:
        losses = -log_probs[np.arange(len(target)), target]
    else:
        losses = -(target * log_probs).sum(axis=1)
    return {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]


def _bce_reference(probs, target):
    return np.mean(-(target * np.log(probs) + (1 - target) * np.log(1 - probs)))


def _class_index(shape: tuple[int, ...]) -> st.SearchStrategy[int]:
    return st.integers(0, shape[0] - 1)


def _bce_losses(probs, target):
    return -(target * np.log(probs) + (1 - target) * np.log(1 - probs))


INDEX = np.array([0, 2, 0, 1, 0])  # repeated entries: their gradients must add up

SPECS: list[OpSpec] = [
    # arithmetic, broadcasting
    OpSpec("add", lambda a, b: a + b, np.add, 2, broadcast=True),
    OpSpec("sub", lambda a, b: a - b, np.subtract, 2, broadcast=True),
    OpSpec("mul", lambda a, b: a * b, np.multiply, 2, broadcast=True),
    OpSpec("div", lambda a, b: a / b, np.divide, 2, AWAY_FROM_ZERO, broadcast=True),
    OpSpec("pow", lambda a, b: a**b, np.power, 2, POSITIVE, broadcast=True),
    OpSpec("neg", lambda a: -a, np.negative),
    OpSpec("scalar_rsub", lambda a: 2.0 - a, lambda a: 2.0 - a),
    OpSpec("scalar_rdiv", lambda a: 2.0 / a, lambda a: 2.0 / a, elements=AWAY_FROM_ZERO),
    OpSpec("scalar_pow", lambda a: a**3, lambda a: a**3),
    OpSpec("maximum", tg.maximum, np.maximum, 2, broadcast=True, unique=True),
    OpSpec("minimum", tg.minimum, np.minimum, 2, broadcast=True, unique=True),
    # matrix products
    OpSpec("matmul_2d", tg.matmul, np.matmul, 2, shapes=((3, 4), (4, 2))),
    OpSpec("matmul_vec_mat", tg.matmul, np.matmul, 2, shapes=((4,), (4, 3))),
    OpSpec("matmul_mat_vec", tg.matmul, np.matmul, 2, shapes=((3, 4), (4,))),
    OpSpec("matmul_dot", tg.matmul, np.matmul, 2, shapes=((4,), (4,))),
    OpSpec("matmul_batched", tg.matmul, np.matmul, 2, shapes=((2, 3, 4), (4, 2))),
    OpSpec("linear", F.linear, lambda x, w, b: x @ w.T + b, 3, shapes=((5, 3), (2, 3), (2,))),
    # elementwise
    OpSpec("exp", tg.exp, np.exp),
    OpSpec("log", tg.log, np.log, elements=POSITIVE),
    OpSpec("sqrt", tg.sqrt, np.sqrt, elements=POSITIVE),
    OpSpec("abs", tg.abs, np.abs, elements=AWAY_FROM_ZERO),
    OpSpec(
        "clip",
        lambda a: tg.clip(a, -1.0, 1.5),
        lambda a: np.clip(a, -1.0, 1.5),
        elements=well_conditioned(avoid=(-1.0, 1.5)),
    ),
    OpSpec("relu", tg.relu, lambda a: np.maximum(a, 0), elements=AWAY_FROM_ZERO),
    OpSpec(
        "leaky_relu",
        lambda a: F.leaky_relu(a, negative_slope=0.1),
        lambda a: np.where(a > 0, a, 0.1 * a),
        elements=AWAY_FROM_ZERO,
    ),
    OpSpec("sigmoid", tg.sigmoid, _sigmoid),
    OpSpec("tanh", tg.tanh, np.tanh),
    OpSpec("softmax_last", tg.softmax, _softmax, min_dims=1),
    OpSpec("softmax_axis0", lambda a: tg.softmax(a, axis=0), lambda a: _softmax(a, 0), min_dims=1),
    OpSpec("log_softmax_last", tg.log_softmax, _log_softmax, min_dims=1),
    OpSpec(
        "log_softmax_axis0",
        lambda a: tg.log_softmax(a, axis=0),
        lambda a: _log_softmax(a, 0),
        min_dims=1,
    ),
    OpSpec(
        "where",
        lambda a, b: tg.where(a.data > 0, a, b),
        lambda a, b: np.where(a > 0, a, b),
        2,
        AWAY_FROM_ZERO,
        broadcast=True,
    ),
    # reductions
    OpSpec("sum_all", tg.sum, np.sum),
    OpSpec("sum_axis0", lambda a: a.sum(axis=0), lambda a: a.sum(axis=0), min_dims=1),
    OpSpec(
        "sum_last_keepdims",
        lambda a: a.sum(axis=-1, keepdims=True),
        lambda a: a.sum(axis=-1, keepdims=True),
        min_dims=1,
    ),
    OpSpec("sum_tuple", lambda a: a.sum(axis=(0, 1)), lambda a: a.sum(axis=(0, 1)), min_dims=2),
    OpSpec("mean_all", tg.mean, np.mean),
    OpSpec(
        "mean_axis0_keepdims",
        lambda a: a.mean(axis=0, keepdims=True),
        lambda a: a.mean(axis=0, keepdims=True),
        min_dims=1,
    ),
    OpSpec("max_all", tg.max, np.max, unique=True),
    OpSpec(
        "max_axis_last", lambda a: a.max(axis=-1), lambda a: a.max(axis=-1), min_dims=1, unique=True
    ),
    OpSpec("min_all", tg.min, np.min, unique=True),
    OpSpec(
        "min_axis0_keepdims",
        lambda a: a.min(axis=0, keepdims=True),
        lambda a: a.min(axis=0, keepdims=True),
        min_dims=1,
        unique=True,
    ),
    # shape
    OpSpec("reshape", lambda a: a.reshape(-1), lambda a: a.reshape(-1)),
    OpSpec("reshape_tuple", lambda a: a.reshape((1, -1)), lambda a: a.reshape((1, -1))),
    OpSpec("transpose", lambda a: a.transpose(), np.transpose),
    OpSpec("T", lambda a: a.T, lambda a: a.T),
    OpSpec(
        "transpose_axes",
        lambda a: a.transpose(1, 2, 0),
        lambda a: a.transpose(1, 2, 0),
        shapes=((2, 3, 4),),
    ),
    OpSpec("flatten", tg.flatten, lambda a: a.reshape(-1)),
    OpSpec("getitem_int", lambda a: a[1], lambda a: a[1], shapes=((3, 2),)),
    OpSpec("getitem_negative", lambda a: a[-1, ::2], lambda a: a[-1, ::2], shapes=((3, 4),)),
    OpSpec("getitem_none", lambda a: a[None, :, 1:], lambda a: a[None, :, 1:], shapes=((3, 4),)),
    OpSpec("getitem_int_array", lambda a: a[INDEX], lambda a: a[INDEX], shapes=((3, 2),)),
    OpSpec(
        "getitem_pairs",
        lambda a: a[INDEX, INDEX % 2],
        lambda a: a[INDEX, INDEX % 2],
        shapes=((3, 2),),
    ),
    OpSpec(
        "concatenate",
        lambda a, b: tg.concatenate([a, b, a], axis=0),
        lambda a, b: np.concatenate([a, b, a], axis=0),
        2,
        shapes=((2, 3), (1, 3)),
    ),
    OpSpec(
        "stack",
        lambda a, b: tg.stack([a, b], axis=1),
        lambda a, b: np.stack([a, b], axis=1),
        2,
        shapes=((3, 2), (3, 2)),
    ),
    # losses
    OpSpec("mse_mean", F.mse_loss, lambda p, t: np.mean((p - t) ** 2), targets=_same_shape_targets),
    OpSpec(
        "mse_sum",
        lambda p, t: F.mse_loss(p, t, reduction="sum"),
        lambda p, t: np.sum((p - t) ** 2),
        targets=_same_shape_targets,
    ),
    OpSpec(
        "mse_none",
        lambda p, t: F.mse_loss(p, t, reduction="none"),
        lambda p, t: (p - t) ** 2,
        targets=_same_shape_targets,
    ),
    OpSpec(
        "cross_entropy_indices",
        F.cross_entropy,
        _cross_entropy_reference,
        elements=LOGITS,
        shapes=((4, 3),),
        targets=_class_indices,
    ),
    OpSpec(
        "cross_entropy_sum",
        lambda x, t: F.cross_entropy(x, t, reduction="sum"),
        lambda x, t: _cross_entropy_reference(x, t, "sum"),
        elements=LOGITS,
        shapes=((4, 3),),
        targets=_class_indices,
    ),
    OpSpec(
        "cross_entropy_none",
        lambda x, t: F.cross_entropy(x, t, reduction="none"),
        lambda x, t: _cross_entropy_reference(x, t, "none"),
        elements=LOGITS,
        shapes=((4, 3),),
        targets=_class_indices,
    ),
    OpSpec(
        "cross_entropy_probabilities",
        F.cross_entropy,
        _cross_entropy_reference,
        elements=LOGITS,
        shapes=((4, 3),),
        targets=_distributions,
    ),
    OpSpec(
        "nll_loss",
        F.nll_loss,
        lambda x, t: -np.mean(x[np.arange(len(t)), t]),
        shapes=((4, 3),),
        targets=_class_indices,
    ),
    OpSpec(
        "binary_cross_entropy",
        F.binary_cross_entropy,
        _bce_reference,
        elements=PROBABILITIES,
        targets=_binary_targets,
    ),
    OpSpec(
        "binary_cross_entropy_with_logits",
        F.binary_cross_entropy_with_logits,
        lambda x, t: _bce_reference(_sigmoid(x), t),
        elements=LOGITS,
        targets=_binary_targets,
    ),
    # modes and shapes the rows above do not draw
    OpSpec(
        "clip_lower_only",
        lambda a: tg.clip(a, -1.0, None),
        lambda a: np.maximum(a, -1.0),
        elements=well_conditioned(avoid=(-1.0,)),
    ),
    OpSpec(
        "clip_upper_only",
        lambda a: tg.clip(a, None, 1.5),
        lambda a: np.minimum(a, 1.5),
        elements=well_conditioned(avoid=(1.5,)),
    ),
    OpSpec(
        "leaky_relu_default",
        F.leaky_relu,
        lambda a: np.where(a > 0, a, 0.01 * a),
        elements=AWAY_FROM_ZERO,
    ),
    OpSpec(
        "softmax_middle_axis",
        lambda a: tg.softmax(a, axis=1),
        lambda a: _softmax(a, 1),
        shapes=((2, 3, 4),),
    ),
    OpSpec(
        "log_softmax_middle_axis",
        lambda a: tg.log_softmax(a, axis=1),
        lambda a: _log_softmax(a, 1),
        shapes=((2, 3, 4),),
    ),
    OpSpec(
        "sum_negative_axes",
        lambda a: a.sum(axis=(-1, 0)),
        lambda a: a.sum(axis=(-1, 0)),
        min_dims=2,
    ),
    OpSpec("mean_last", lambda a: a.mean(axis=-1), lambda a: a.mean(axis=-1), min_dims=1),
    OpSpec(
        "mean_tuple_keepdims",
        lambda a: a.mean(axis=(0, -1), keepdims=True),
        lambda a: a.mean(axis=(0, -1), keepdims=True),
        min_dims=2,
    ),
    OpSpec(
        "max_tuple",
        lambda a: a.max(axis=(0, 1)),
        lambda a: a.max(axis=(0, 1)),
        min_dims=2,
        unique=True,
    ),
    OpSpec(
        "min_last_keepdims",
        lambda a: a.min(axis=-1, keepdims=True),
        lambda a: a.min(axis=-1, keepdims=True),
        min_dims=1,
        unique=True,
    ),
    OpSpec(
        "matmul_batched_both",
        tg.matmul,
        np.matmul,
        2,
        shapes=((2, 3, 4), (2, 4, 2)),
    ),
    OpSpec("matmul_vec_batched", tg.matmul, np.matmul, 2, shapes=((4,), (2, 4, 3))),
    OpSpec("matmul_batched_vec", tg.matmul, np.matmul, 2, shapes=((2, 3, 4), (4,))),
    OpSpec("linear_no_bias", F.linear, lambda x, w: x @ w.T, 2, shapes=((5, 3), (2, 3))),
    OpSpec(
        "linear_batched",
        F.linear,
        lambda x, w, b: x @ w.T + b,
        3,
        shapes=((2, 4, 3), (2, 3), (2,)),
    ),
    OpSpec(
        "concatenate_last",
        lambda a, b: tg.concatenate([a, b], axis=-1),
        lambda a, b: np.concatenate([a, b], axis=-1),
        2,
        shapes=((2, 3), (2, 1)),
    ),
    OpSpec(
        "stack_last",
        lambda a, b: tg.stack([a, b], axis=-1),
        lambda a, b: np.stack([a, b], axis=-1),
        2,
        shapes=((3, 2), (3, 2)),
    ),
    OpSpec(
        "cross_entropy_single_sample",
        lambda x, t: F.cross_entropy(x, t, reduction="none"),
        lambda x, t: _cross_entropy_reference(x[None], np.array([t]), "none")[0],
        elements=LOGITS,
        shapes=((3,),),
        targets=_class_index,
    ),
    OpSpec(
        "cross_entropy_probabilities_none",
        lambda x, t: F.cross_entropy(x, t, reduction="none"),
        lambda x, t: _cross_entropy_reference(x, t, "none"),
        elements=LOGITS,
        shapes=((4, 3),),
        targets=_distributions,
    ),
    OpSpec(
        "nll_loss_sum",
        lambda x, t: F.nll_loss(x, t, reduction="sum"),
        lambda x, t: -np.sum(x[np.arange(len(t)), t]),
        shapes=((4, 3),),
        targets=_class_indices,
    ),
    OpSpec(
        "nll_loss_none",
        lambda x, t: F.nll_loss(x, t, reduction="none"),
        lambda x, t: -x[np.arange(len(t)), t],
        shapes=((4, 3),),
        targets=_class_indices,
    ),
    OpSpec(
        "binary_cross_entropy_none",
        lambda p, t: F.binary_cross_entropy(p, t, reduction="none"),
        _bce_losses,
        elements=PROBABILITIES,
        targets=_binary_targets,
    ),
    OpSpec(
        "binary_cross_entropy_with_logits_sum",
        lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction="sum"),
        lambda x, t: _bce_losses(_sigmoid(x), t).sum(),
        elements=LOGITS,
        targets=_binary_targets,
    ),
]


# ------------------------------------------------------------------ the first-hour API's rows
HALF_STEPS = well_conditioned(avoid=(-3.0, -1.5, 0.0, 1.5, 3.0))  # a % 1.5, a // 1.5 jump there
ROUNDING = well_conditioned(avoid=(-2.5, -1.5, -0.5, 0.5, 1.5, 2.5))
CLASS_WEIGHT = np.array([0.5, 2.0, 1.5])
GATHER_INDEX = np.array([[0, 2, 2], [1, 0, 0]])  # repeats: the scatter-add must add them up
MASK = np.array([[True, False, False, True], [False, True, False, False]])


def _keep_first_class(shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    """Class indices whose first is 0, so that ignoring class 2 never ignores every row."""
    return _class_indices(shape).map(lambda labels: np.concatenate([[0], labels[1:]]))


def _weighted_cross_entropy(logits, target, weight=None, ignore=-100, smoothing=0.0):
    """PyTorch's definition, written out: weighted, ignored rows dropped, smoothed."""
    classes = logits.shape[1]
    weight = np.ones(classes) if weight is None else weight
    log_probs = _log_softmax(logits, axis=1)
    kept = target != ignore
    safe = np.where(kept, target, 0)
    nll = -weight[safe] * log_probs[np.arange(len(target)), safe] * kept
    smooth = -(log_probs * weight).sum(axis=1) * kept
    losses = (1 - smoothing) * nll + smoothing / classes * smooth
    return losses.sum() / (weight[safe] * kept).sum()


def _weighted_nll(log_probs, target, weight, ignore):
    kept = target != ignore
    picked = weight[target] * log_probs[np.arange(len(target)), target] * kept
    return -picked.sum() / (weight[target] * kept).sum()


def _spatial_cross_entropy(logits, target):
    rows = np.moveaxis(logits, 1, -1).reshape(-1, logits.shape[1])
    return _cross_entropy_reference(rows, target.reshape(-1), "none").reshape(target.shape)


def _spatial_labels(shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    kept = (shape[0], *shape[2:])
    size = int(np.prod(kept))
    labels = st.lists(st.integers(0, shape[1] - 1), min_size=size, max_size=size)
    return labels.map(lambda values: np.array(values).reshape(kept))


def _gathered(a: np.ndarray) -> np.ndarray:
    return np.take_along_axis(a, GATHER_INDEX, axis=1)


FIRST_HOUR_SPECS: list[OpSpec] = [
    OpSpec("pow_method", lambda a, b: a.pow(b), np.power, 2, POSITIVE, broadcast=True),
    OpSpec("log1p", tg.log1p, np.log1p, elements=well_conditioned(-0.8, 3.0)),
    OpSpec("expm1", tg.expm1, np.expm1),
    OpSpec("sin", tg.sin, np.sin),
    OpSpec("cos", tg.cos, np.cos),
    OpSpec("var_all", lambda a: a.var(), lambda a: a.var(ddof=1), shapes=((3, 4),)),
    OpSpec(
        "var_dim_population_keepdim",
        lambda a: a.var(dim=1, correction=0, keepdim=True),
        lambda a: a.var(axis=1, keepdims=True),
        shapes=((3, 4),),
    ),
    OpSpec(
        "std_dims",
        lambda a: a.std(dim=(0, 2)),
        lambda a: a.std(axis=(0, 2), ddof=1),
        shapes=((2, 3, 2),),
        unique=True,
    ),
    OpSpec(
        "std_unbiased_false",
        lambda a: a.std(0, unbiased=False),
        lambda a: a.std(axis=0),
        shapes=((4, 2),),
        unique=True,
    ),
    OpSpec("logsumexp_all", tg.logsumexp, lambda a: np.log(np.exp(a).sum())),
    OpSpec(
        "logsumexp_dim_keepdim",
        lambda a: a.logsumexp(dim=-1, keepdim=True),
        lambda a: np.log(np.exp(a).sum(axis=-1, keepdims=True)),
        min_dims=1,
    ),
    OpSpec(
        "norm_fro",
        lambda a: a.norm(),
        lambda a: np.sqrt((a * a).sum()),
        shapes=((3, 4),),
        unique=True,
    ),
    OpSpec(
        "norm_dim",
        lambda a: a.norm(dim=1, keepdim=True),
        lambda a: np.linalg.norm(a, axis=1, keepdims=True),
        shapes=((3, 4),),
        unique=True,
    ),
    OpSpec(
        "norm_p1",
        lambda a: a.norm(p=1, dim=0),
        lambda a: np.abs(a).sum(axis=0),
        elements=AWAY_FROM_ZERO,
        shapes=((3, 4),),
    ),
    OpSpec(
        "norm_inf",
        lambda a: a.exp().norm(p=np.inf, dim=1),  # exp keeps distinct values apart in |x|
        lambda a: np.exp(a).max(axis=1),
        shapes=((3, 4),),
        unique=True,
    ),
    OpSpec("cumsum_dim0", lambda a: a.cumsum(0), lambda a: np.cumsum(a, axis=0), min_dims=1),
    OpSpec("cumsum_last", lambda a: tg.cumsum(a, -1), lambda a: np.cumsum(a, axis=-1), min_dims=1),
    OpSpec("clone", lambda a: a.clone(), np.copy),
    OpSpec("double", lambda a: a.double(), lambda a: a.astype(np.float64)),
    OpSpec("round", lambda a: a.round(), np.round, elements=ROUNDING),
    OpSpec("abs_builtin", abs, np.abs, elements=AWAY_FROM_ZERO),
    OpSpec(
        "remainder_scalar", lambda a: a % 1.5, lambda a: np.remainder(a, 1.5), elements=HALF_STEPS
    ),
    OpSpec(
        # b² + 4 > 3 >= |a|: floor(a / divisor) is constant near each drawn point.
        "remainder_tensor",
        lambda a, b: a % (b * b + 4),
        lambda a, b: np.remainder(a, b * b + 4),
        2,
        AWAY_FROM_ZERO,
        broadcast=True,
    ),
    OpSpec(
        "floor_divide",
        lambda a: a // 1.5,
        lambda a: np.floor_divide(a, 1.5),
        elements=HALF_STEPS,
    ),
    OpSpec("unsqueeze", lambda a: a.unsqueeze(-1), lambda a: a[..., None]),
    OpSpec("squeeze", lambda a: a.squeeze(1), lambda a: a.squeeze(1), shapes=((3, 1, 2),)),
    OpSpec(
        "permute", lambda a: a.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1), shapes=((2, 3, 4),)
    ),
    OpSpec(
        "repeat", lambda a: a.repeat(2, 1, 3), lambda a: np.tile(a, (2, 1, 3)), shapes=((3, 2),)
    ),
    OpSpec(
        "expand",
        lambda a: a.expand(2, -1, 3),
        lambda a: np.broadcast_to(a, (2, 4, 3)),
        shapes=((4, 1),),
    ),
    OpSpec(
        "masked_fill",
        lambda a: a.masked_fill(MASK, -1.0),
        lambda a: np.where(MASK, -1.0, a),
        shapes=((2, 4),),
    ),
    OpSpec("gather", lambda a: a.gather(1, GATHER_INDEX), _gathered, shapes=((2, 4),)),
    OpSpec("gather_function", lambda a: tg.gather(a, 1, GATHER_INDEX), _gathered, shapes=((2, 4),)),
    OpSpec("tril", lambda a: tg.tril(a), np.tril, shapes=((2, 3, 4),)),
    OpSpec(
        "triu_diagonal", lambda a: a.triu(diagonal=1), lambda a: np.triu(a, 1), shapes=((3, 4),)
    ),
    OpSpec(
        "cross_entropy_weight_ignore_smoothing",
        lambda x, t: F.cross_entropy(
            x, t, weight=CLASS_WEIGHT, ignore_index=2, label_smoothing=0.2
        ),
        lambda x, t: _weighted_cross_entropy(x, t, CLASS_WEIGHT, 2, 0.2),
        elements=LOGITS,
        shapes=((4, 3),),
        targets=_keep_first_class,
    ),
    OpSpec(
        "cross_entropy_spatial",
        lambda x, t: F.cross_entropy(x, t, reduction="none"),
        _spatial_cross_entropy,
        elements=LOGITS,
        shapes=((2, 3, 2, 2),),
        targets=_spatial_labels,
    ),
    OpSpec(
        "nll_loss_weight_ignore",
        lambda x, t: F.nll_loss(x, t, weight=CLASS_WEIGHT, ignore_index=2),
        lambda x, t: _weighted_nll(x, t, CLASS_WEIGHT, 2),
        shapes=((4, 3),),
        targets=_keep_first_class,
    ),
]
SPECS += FIRST_HOUR_SPECS


@st.composite
def op_inputs(draw, spec: OpSpec):
    """The differentiable inputs of ``spec`` and its extra (target) argument, if any."""
    if spec.shapes is not None:
        input_shapes = spec.shapes
    elif spec.broadcast:
        input_shapes = draw(broadcastable_shapes(spec.arity, min_dims=spec.min_dims))
    else:
        shape = draw(shapes(min_dims=spec.min_dims))
        input_shapes = (shape,) * spec.arity
    if spec.unique and spec.arity > 1:
        # Distinct values across all operands, so maximum/minimum never tie.
        joined = draw(
            tensors(shape=(sum(int(np.prod(s)) for s in input_shapes),), unique=True)
        ).data
        splits = np.cumsum([int(np.prod(s)) for s in input_shapes])[:-1]
        inputs = [
            tg.Tensor(part.reshape(s), requires_grad=True)
            for part, s in zip(np.split(joined, splits), input_shapes)
        ]
    else:
        inputs = [
            draw(
                tensors(
                    shape=s, elements=None if spec.unique else spec.elements, unique=spec.unique
                )
            )
            for s in input_shapes
        ]
    extra = () if spec.targets is None else (draw(spec.targets(input_shapes[0])),)
    return inputs, extra

"""The functions of sequence models, with PyTorch's names: ``F.embedding``, ``F.gelu``,
``F.scaled_dot_product_attention`` (re-exported by ``tinygrad_ann.functional``).

>>> import numpy as np
>>> import tinygrad_ann as tg
>>> import tinygrad_ann.functional as F
>>> q = tg.ones(2, 3, 4)
>>> F.scaled_dot_product_attention(q, q, q, is_causal=True).shape
(2, 3, 4)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import ShapeError
from .norm_ops import check_dropout_probability, dropout
from .ops import Where
from .sequence_ops import Embedding, Erf
from .tensor import Tensor, array_of, ensure_tensor

__all__ = ["embedding", "erf", "gelu", "scaled_dot_product_attention"]

_SQRT_HALF = math.sqrt(0.5)
_SQRT_TWO_OVER_PI = math.sqrt(2.0 / math.pi)


def erf(x: Tensor) -> Tensor:
    """The error function ``erf(x) = 2/√π ∫₀ˣ exp(-t²) dt``; its derivative is ``2/√π exp(-x²)``.

    >>> import tinygrad_ann as tg
    >>> round(tg.functional.erf(tg.tensor(0.5)).item(), 12)
    0.520499877813
    """
    return Erf.apply(ensure_tensor(x))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:  # noqa: A002 - PyTorch's name
    """Gaussian error linear unit: ``x Φ(x) = x/2 (1 + erf(x/√2))``.

    ``approximate="tanh"`` gives ``x/2 (1 + tanh(√(2/π) (x + 0.044715 x³)))``, as PyTorch.

    >>> import tinygrad_ann as tg
    >>> tg.functional.gelu(tg.tensor([-1.0, 0.0, 1.0])).numpy().round(4)
    array([-0.1587,  0.    ,  0.8413])
    """
    x = ensure_tensor(input)
    if approximate == "none":
        return x * 0.5 * (1.0 + erf(x * _SQRT_HALF))
    if approximate == "tanh":
        return x * 0.5 * (1.0 + (_SQRT_TWO_OVER_PI * (x + 0.044715 * (x * x * x))).tanh())
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def padding_index(layer: str, padding_idx: int | None, num_embeddings: int) -> int | None:
    """``padding_idx`` as a row of the table (a negative one counts from the end), or None."""
    if padding_idx is None:
        return None
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(
            f"{layer}: padding_idx {padding_idx} must be within num_embeddings "
            f"({num_embeddings}): from {-num_embeddings} to {num_embeddings - 1}"
        )
    return int(padding_idx) % num_embeddings


def embedding(
    input: Any,  # noqa: A002 - PyTorch's name
    weight: Tensor,
    padding_idx: int | None = None,
    layer: str = "embedding",
) -> Tensor:
    """Rows of ``weight`` (num_embeddings, embedding_dim) picked by integer indices ``input``.

    The result has shape ``input.shape + (embedding_dim,)``. The gradient of ``weight``
    adds the upstream gradient of every position into the row it read (repeated indices
    add up); the row ``padding_idx`` gets none. An index outside the table is an error.

    >>> import numpy as np
    >>> import tinygrad_ann as tg
    >>> weight = tg.tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    >>> tg.functional.embedding(np.array([2, 0, 2]), weight)
    Tensor([[4., 5.],
            [0., 1.],
            [4., 5.]], grad_fn=<embedding>)
    """
    weight = ensure_tensor(weight)
    if weight.ndim != 2:
        raise ShapeError(
            f"{layer}: weight must have shape (num_embeddings, embedding_dim), got {weight.shape}"
        )
    padding = padding_index(layer, padding_idx, weight.shape[0])
    return Embedding.apply(weight, array_of(input), padding_idx=padding, layer=layer)


def _mask_array(where: str, mask: Any) -> np.ndarray:
    array = np.asarray(array_of(mask))
    if array.dtype.kind not in "bf":
        raise TypeError(
            f"{where}: a mask must be boolean or floating-point, got dtype {array.dtype}"
        )
    return array


def fully_masked_rows(mask: np.ndarray) -> np.ndarray | None:
    """Where a boolean (True: attend) or additive mask leaves a query no key; None if nowhere."""
    if mask.dtype == bool:
        empty = np.logical_not(mask.any(axis=-1, keepdims=True))
    else:
        empty = np.asarray(np.isneginf(mask).all(axis=-1, keepdims=True))
    return empty if empty.any() else None


def masked_softmax(scores: Tensor, mask: np.ndarray | None) -> Tensor:
    """Softmax over the last axis of ``scores`` after ``mask`` (True or 0: attend).

    A query whose every key is masked gets weights of zero (and no gradient), as
    PyTorch's ``scaled_dot_product_attention`` gives, instead of NaN.
    """
    if mask is None:
        return scores.softmax(-1)
    if mask.dtype == bool:
        scores = Where.apply(mask, scores, -np.inf)
    else:
        scores = scores + mask.astype(scores.dtype, copy=False)
    empty = fully_masked_rows(mask)
    if empty is None:
        return scores.softmax(-1)
    weights = Where.apply(empty, 0.0, scores).softmax(-1)
    return Where.apply(empty, 0.0, weights)


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Any = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
) -> Tensor:
    """``softmax(q kᵀ · scale + mask) v`` over the last two axes, as PyTorch's function.

    ``query`` is (..., L, E), ``key`` (..., S, E) and ``value`` (..., S, Ev); the result is
    (..., L, Ev). ``scale`` defaults to ``1/√E``. A boolean ``attn_mask`` (broadcastable to
    (..., L, S)) marks with True the keys a query may attend to; a float mask is added to
    the scores. ``is_causal=True`` lets query i attend to keys 0..i only (it excludes
    ``attn_mask``). A query left with no key to attend to gets an output of zeros, as in
    PyTorch. ``dropout_p`` drops attention weights (with the generator ``tg.manual_seed``
    seeds) whenever it is positive: pass 0 at evaluation time, as in PyTorch.

    >>> import tinygrad_ann as tg
    >>> import tinygrad_ann.functional as F
    >>> q = tg.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    >>> F.scaled_dot_product_attention(q, q, q, is_causal=True)[0, 0]
    Tensor([1., 0.])
    """
    query, key, value = ensure_tensor(query), ensure_tensor(key), ensure_tensor(value)
    where = "scaled_dot_product_attention"
    if min(query.ndim, key.ndim, value.ndim) < 2:
        raise ShapeError(
            f"{where}: query, key and value need at least 2 dimensions (..., length, features), "
            f"got shapes {query.shape}, {key.shape} and {value.shape}"
        )
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ShapeError(
            f"{where}: query (..., L, E) {query.shape}, key (..., S, E) {key.shape} and value "
            f"(..., S, Ev) {value.shape} must agree in E and in S"
        )
    dropout_p = check_dropout_probability(where, dropout_p)
    length, source = query.shape[-2], key.shape[-2]
    mask = None
    if is_causal:
        if attn_mask is not None:
            raise ValueError(f"{where}: pass attn_mask or is_causal=True, not both")
        mask = np.tril(np.ones((length, source), dtype=bool))
    elif attn_mask is not None:
        mask = _mask_array(where, attn_mask)
        try:
            np.broadcast_shapes(mask.shape, (*query.shape[:-1], source))
        except ValueError:
            raise ShapeError(
                f"{where}: attn_mask of shape {mask.shape} does not broadcast to the scores' "
                f"shape (..., L, S) = {(*query.shape[:-1], source)}"
            ) from None
    factor = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    axes = (*range(key.ndim - 2), key.ndim - 1, key.ndim - 2)
    weights = masked_softmax((query @ key.transpose(*axes)) * factor, mask)
    if dropout_p > 0:
        weights = dropout(weights, dropout_p)
    return weights @ value

"""``GELU``, ``MultiheadAttention`` and ``TransformerEncoderLayer``, as PyTorch's.

>>> import tinygrad_ann as tg
>>> from tinygrad_ann import nn
>>> layer = nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, batch_first=True)
>>> layer(tg.ones(3, 5, 8)).shape
(3, 5, 8)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import functional as F
from ..errors import ShapeError
from ..norm_ops import check_dropout_probability, dropout
from ..sequence_functional import scaled_dot_product_attention
from ..tensor import Tensor, array_of, ensure_tensor, get_default_dtype
from . import init
from .layers import Linear
from .module import Module, Parameter
from .normalization import Dropout, LayerNorm

__all__ = ["GELU", "MultiheadAttention", "TransformerEncoderLayer"]


class GELU(Module):
    """``F.gelu`` as a module: ``x Φ(x)``, or its tanh form with ``approximate="tanh"``.

    >>> import tinygrad_ann as tg
    >>> from tinygrad_ann import nn
    >>> nn.GELU()(tg.tensor([0.0, 1.0])).numpy().round(4)
    array([0.    , 0.8413])
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return F.gelu(input, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


def _additive(where: str, mask: Any, what: str, dtype: np.dtype) -> np.ndarray:
    """A mask as the float array added to the scores: -inf where a boolean mask is True."""
    array = np.asarray(array_of(mask))
    if array.dtype == bool:
        return np.where(array, -np.inf, 0.0).astype(dtype)
    if array.dtype.kind != "f":
        raise TypeError(f"{where}: {what} must be boolean or floating-point, got {array.dtype}")
    return array.astype(dtype, copy=False)


class MultiheadAttention(Module):
    """Multi-head attention with PyTorch's parameters: ``in_proj_weight`` (3E, E) holds the
    query, key and value projections stacked (``in_proj_bias`` (3E,) likewise), and
    ``out_proj`` is a Linear(E, E).

    ``forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False)`` takes (L, N, E) queries and (S, N, E) keys
    and values ((N, L, E) with ``batch_first``; (L, E) unbatched) and returns
    ``(output, weights)``: output as the query, weights (N, L, S) averaged over the heads
    (or (N, heads, L, S)), None unless ``need_weights``. As in PyTorch, a boolean mask
    marks with True what may NOT be attended to (``key_padding_mask`` (N, S), ``attn_mask``
    (L, S) or (N·heads, L, S)); a float mask is added to the scores. ``is_causal`` is a
    hint that ``attn_mask`` is the causal mask, which must still be given. A query whose
    every key is masked gives NaN with ``need_weights=True`` and zeros otherwise, as in
    PyTorch. Only ``kdim = vdim = embed_dim`` without ``add_bias_kv``/``add_zero_attn``.

    >>> import tinygrad_ann as tg
    >>> from tinygrad_ann import nn
    >>> attention = nn.MultiheadAttention(8, num_heads=2, batch_first=True)
    >>> x = tg.ones(3, 5, 8)
    >>> output, weights = attention(x, x, x)
    >>> output.shape, weights.shape
    ((3, 5, 8), (3, 5, 5))
    """

    in_proj_bias: Parameter | None

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if embed_dim < 1 or num_heads < 1 or embed_dim % num_heads:
            raise ValueError(
                f"MultiheadAttention: embed_dim ({embed_dim}) must be a positive multiple of "
                f"num_heads ({num_heads})"
            )
        if (
            add_bias_kv
            or add_zero_attn
            or kdim not in (None, embed_dim)
            or vdim not in (None, embed_dim)
        ):
            raise NotImplementedError(
                "MultiheadAttention: add_bias_kv, add_zero_attn and kdim/vdim other than "
                "embed_dim are not supported; project keys and values to embed_dim first"
            )
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout = check_dropout_probability("MultiheadAttention", dropout)
        self.batch_first = batch_first
        dtype = get_default_dtype() if dtype is None else np.dtype(dtype)
        self.in_proj_weight = Parameter(np.empty((3 * embed_dim, embed_dim), dtype=dtype))
        init.xavier_uniform_(self.in_proj_weight)
        self.register_parameter(
            "in_proj_bias", Parameter(np.zeros(3 * embed_dim, dtype=dtype)) if bias else None
        )
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        if self.out_proj.bias is not None:
            init.zeros_(self.out_proj.bias)

    def _describe(self) -> str:
        return f"MultiheadAttention({self.embed_dim}, num_heads={self.num_heads})"

    def _projected(self, x: Tensor, part: int) -> Tensor:
        rows = slice(part * self.embed_dim, (part + 1) * self.embed_dim)
        bias = None if self.in_proj_bias is None else self.in_proj_bias[rows]
        return F.linear(x, self.in_proj_weight[rows], bias)

    def _heads(self, x: Tensor) -> Tensor:
        """(T, N, E) to (N, heads, T, head_dim)."""
        length, batch = x.shape[:2]
        return x.reshape(length, batch, self.num_heads, self.head_dim).transpose(1, 2, 0, 3)

    def _mask(
        self,
        attn_mask: Any,
        key_padding_mask: Any,
        shape: tuple[int, int, int, int],
        dtype: np.dtype,
    ) -> np.ndarray | None:
        """Both masks as one additive mask of shape (N, heads, L, S), or None."""
        batch, heads, length, source = shape
        where = self._describe()
        mask = None
        if attn_mask is not None:
            mask = _additive(where, attn_mask, "attn_mask", dtype)
            if mask.shape == (length, source):
                mask = mask[None, None]
            elif mask.shape == (batch * heads, length, source):
                mask = mask.reshape(shape)
            else:
                raise ShapeError(
                    f"{where}: attn_mask must have shape (L, S) = {(length, source)} or "
                    f"(N·num_heads, L, S) = {(batch * heads, length, source)}, got {mask.shape}"
                )
        if key_padding_mask is not None:
            padding = _additive(where, key_padding_mask, "key_padding_mask", dtype)
            if padding.shape != (batch, source):
                raise ShapeError(
                    f"{where}: key_padding_mask must have shape (N, S) = {(batch, source)}, "
                    f"got {padding.shape}"
                )
            padding = padding[:, None, None, :]
            mask = padding if mask is None else mask + padding
        return None if mask is None else np.broadcast_to(mask, shape)

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Any = None,
        need_weights: bool = True,
        attn_mask: Any = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        query, key, value = ensure_tensor(query), ensure_tensor(key), ensure_tensor(value)
        where = self._describe()
        if is_causal and attn_mask is None:
            raise ValueError(
                f"{where}: is_causal=True is a hint that attn_mask is the causal mask; pass "
                "attn_mask too, e.g. np.triu(np.ones((L, L), dtype=bool), k=1)"
            )
        unbatched = query.ndim == 2
        expected_ndim = 2 if unbatched else 3
        for name, tensor in (("query", query), ("key", key), ("value", value)):
            if tensor.ndim != expected_ndim or tensor.shape[-1] != self.embed_dim:
                layout = "(N, L, E)" if self.batch_first else "(L, N, E)"
                raise ShapeError(
                    f"{where}: {name} must have shape {layout} (or (L, E) unbatched, for all "
                    f"three) with E = {self.embed_dim}, got {tensor.shape}"
                )
        if key.shape != value.shape:
            raise ShapeError(f"{where}: key {key.shape} and value {value.shape} must match")
        if unbatched:
            query, key, value = (t.reshape(t.shape[0], 1, t.shape[1]) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = np.asarray(array_of(key_padding_mask))[None]
        elif self.batch_first:
            query, key, value = (t.transpose(1, 0, 2) for t in (query, key, value))
        length, batch = query.shape[:2]
        if key.shape[1] != batch:
            raise ShapeError(f"{where}: query has batch size {batch}, key {key.shape[1]}")
        q, k, v = (self._heads(self._projected(t, i)) for i, t in enumerate((query, key, value)))
        shape = (batch, self.num_heads, length, key.shape[0])
        mask = self._mask(attn_mask, key_padding_mask, shape, q.dtype)
        p = self.dropout if self.training else 0.0
        weights = None
        if need_weights:
            scores = (q * (1.0 / math.sqrt(self.head_dim))) @ k.transpose(0, 1, 3, 2)
            if mask is not None:
                scores = scores + mask
            weights = scores.softmax(-1)
            if p > 0:
                weights = dropout(weights, p)
            attended = weights @ v
        else:
            attended = scaled_dot_product_attention(q, k, v, mask, dropout_p=p)
        merged = attended.transpose(2, 0, 1, 3).reshape(length, batch, self.embed_dim)
        output = self.out_proj(merged)
        if unbatched:
            output = output.reshape(length, self.embed_dim)
        elif self.batch_first:
            output = output.transpose(1, 0, 2)
        if weights is not None:
            if average_attn_weights:
                weights = weights.mean(axis=1)
            if unbatched:
                weights = weights.reshape(weights.shape[1:])
        return output, weights

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}"


_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"relu": F.relu, "gelu": F.gelu}


class TransformerEncoderLayer(Module):
    """Self-attention and a feed-forward block, each with a residual and a LayerNorm.

    As PyTorch's: ``x = norm1(x + sa(x)); x = norm2(x + ff(x))``, or with ``norm_first``
    ``x = x + sa(norm1(x)); x = x + ff(norm2(x))``, where ``sa`` is
    ``dropout1(self_attn(x, x, x)[0])`` and ``ff`` is
    ``dropout2(linear2(dropout(activation(linear1(x)))))``. The state-dict keys are
    PyTorch's (``self_attn.in_proj_weight``, ``linear1.weight``, ``norm1.weight``, ...).
    ``forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False)``.
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[Tensor], Tensor] = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, dtype=dtype
        )
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        if isinstance(activation, str):
            if activation not in _ACTIVATIONS:
                raise ValueError(
                    f"TransformerEncoderLayer: activation must be 'relu', 'gelu' or a "
                    f"callable, got {activation!r}"
                )
            activation = _ACTIVATIONS[activation]
        self.activation = activation

    def _sa_block(
        self, x: Tensor, attn_mask: Any, key_padding_mask: Any, is_causal: bool
    ) -> Tensor:
        attended, _ = self.self_attn(
            x,
            x,
            x,
            attn_mask=attn_mask,
            key_padding_mask=key_padding_mask,
            need_weights=False,
            is_causal=is_causal,
        )
        return self.dropout1(attended)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(
        self,
        src: Tensor,
        src_mask: Any = None,
        src_key_padding_mask: Any = None,
        is_causal: bool = False,
    ) -> Tensor:
        x = ensure_tensor(src)
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))

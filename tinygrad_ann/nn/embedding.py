"""``Embedding``: a learned table of vectors, one row per index."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..sequence_functional import embedding, padding_index
from ..tensor import Tensor, get_default_dtype
from . import init
from .module import Module, Parameter


class Embedding(Module):
    """A table ``weight`` of shape (num_embeddings, embedding_dim), looked up by index.

    Initialised from N(0, 1) as in PyTorch; the row ``padding_idx`` (if given) starts at
    zero and gets no gradient. Indices outside ``[0, num_embeddings)`` are an error that
    names the layer, the index and the range.

    >>> import numpy as np
    >>> import tinygrad_ann as tg
    >>> from tinygrad_ann import nn
    >>> table = nn.Embedding(10, 3, padding_idx=0)
    >>> table(np.array([[1, 2, 0], [4, 0, 0]])).shape
    (2, 3, 3)
    >>> table.weight.data[0]
    array([0., 0., 0.])
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        for name, size in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
                raise ValueError(f"Embedding: {name} must be a positive int, got {size!r}")
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        self.padding_idx = padding_index("Embedding", padding_idx, self.num_embeddings)
        dtype = get_default_dtype() if dtype is None else np.dtype(dtype)
        self.weight = Parameter(np.empty((self.num_embeddings, self.embedding_dim), dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw the table from N(0, 1) again, with the padding row at zero."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, input: Any) -> Tensor:  # noqa: A002 - PyTorch's name
        return embedding(
            input, self.weight, self.padding_idx, layer=f"Embedding({self.extra_repr()})"
        )

    def extra_repr(self) -> str:
        padding = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{padding}"

"""A tiny decoder-only transformer writes characters after reading this project's own docs.

Token and learned position embeddings, ``--layers`` pre-norm blocks
(``nn.TransformerEncoderLayer`` with ``batch_first=True, norm_first=True,
activation="gelu"``, dropout 0) under a causal mask, a final LayerNorm and a
linear head: 2 layers, 4 heads, width 64 and a context of 64 characters by
default. The causal mask is PyTorch's float mask, -inf above the diagonal
(``tg.triu(tg.full((T, T), -inf), diagonal=1)``), as
``nn.Transformer.generate_square_subsequent_mask`` makes it. The data,
training, bits per character and sampling are those of ``char_lstm.py``.

    python examples/char_transformer.py [--steps 1500] [--temperature 0.8] [--quick]
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

import tinygrad_ann as tg
from tinygrad_ann import nn


def shared():
    """``char_lstm.py`` beside this file: the corpus, the training loop, sampling."""
    spec = importlib.util.spec_from_file_location(
        "char_lstm", Path(__file__).with_name("char_lstm.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def causal_mask(length: int, dtype: Any = None) -> tg.Tensor:
    """0 where query i may look at key j (j <= i), -inf above the diagonal."""
    return tg.triu(tg.full((length, length), float("-inf"), dtype=dtype), diagonal=1)


class CharTransformer(nn.Module):
    """(batch, time) character codes -> (batch, time, vocabulary) next-character scores."""

    def __init__(
        self,
        vocabulary_size: int,
        context: int = 64,
        width: int = 64,
        heads: int = 4,
        layers: int = 2,
        dropout: float = 0.0,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.context = context
        self.token_embedding = nn.Embedding(vocabulary_size, width, dtype=dtype)
        self.position_embedding = nn.Embedding(context, width, dtype=dtype)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(
                width,
                heads,
                dim_feedforward=4 * width,
                dropout=dropout,
                activation="gelu",
                batch_first=True,
                norm_first=True,
                dtype=dtype,
            )
            for _ in range(layers)
        )
        self.norm = nn.LayerNorm(width, dtype=dtype)
        self.head = nn.Linear(width, vocabulary_size, dtype=dtype)

    def forward(self, tokens: Any) -> tg.Tensor:
        length = np.shape(tokens)[1]
        if length > self.context:
            raise ValueError(
                f"CharTransformer: at most {self.context} characters at a time, got {length}"
            )
        x = self.token_embedding(tokens) + self.position_embedding(np.arange(length))
        mask = causal_mask(length, self.head.weight.dtype)
        for block in self.blocks:
            x = block(x, src_mask=mask, is_causal=True)
        return self.head(self.norm(x))

    def sample(self, prompt: np.ndarray, length: int, temperature: float) -> list[int]:
        """``length`` codes after ``prompt``, each from the last ``context`` characters."""
        draw = shared().draw
        self.eval()
        codes = list(prompt)
        with tg.no_grad():
            for _ in range(length):
                logits = self(np.array([codes[-self.context :]]))
                codes.append(draw(logits.numpy()[0, -1], temperature))
        self.train()
        return codes[len(prompt) :]


def main(argv: list[str] | None = None) -> dict:
    common = shared()
    parser = common.common_arguments(__doc__.split("\n\n")[0], steps=1500, lr=3e-3)
    parser.add_argument("--context", type=int, default=64, help="characters per window")
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--layers", type=int, default=2)
    arguments = parser.parse_args(argv)
    corpus = common.load_corpus()
    tg.manual_seed(arguments.seed)
    model = CharTransformer(
        len(corpus.characters),
        arguments.context,
        arguments.width,
        arguments.heads,
        arguments.layers,
        dtype=arguments.dtype,
    )
    return common.run(arguments, corpus, model, arguments.context, model.sample)


if __name__ == "__main__":
    main()

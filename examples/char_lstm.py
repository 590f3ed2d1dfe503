"""A character-level language model, Embedding -> LSTM -> Linear, reads this project's own docs.

The text is ``data/corpus.txt`` (README.md and docs/*.md; see data/README.md):
the first 90% for training, the last 10% for validation. Each step takes 32
random windows of 64 characters (the same windows for the same ``--seed``) and
learns to predict every next character, with AdamW and gradients clipped to
norm 1. The validation loss is printed in bits per character (cross-entropy in
nats / ln 2; guessing uniformly among the 142 characters costs log2 142 = 7.15
bits), then the model writes ``--sample-length`` characters after ``--prompt``.

    python examples/char_lstm.py [--steps 1500] [--temperature 0.8] [--quick]

The data, training loop, evaluation and sampling here are shared with
``char_transformer.py``.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import nn, optim

CORPUS = Path(__file__).with_name("data") / "corpus.txt"


class Corpus:
    """The text as integer codes, split 90/10, and the characters the codes stand for."""

    def __init__(self, characters: str, train: np.ndarray, validation: np.ndarray) -> None:
        self.characters, self.train, self.validation = characters, train, validation

    def encode(self, text: str) -> np.ndarray:
        unknown = sorted(set(text) - set(self.characters))
        if unknown:
            raise ValueError(
                f"the prompt holds {', '.join(map(repr, unknown))}, which the corpus never "
                "uses, so the model has no code for it; use characters of the docs' text"
            )
        return np.array([self.characters.index(char) for char in text], dtype=np.int64)

    def decode(self, codes: Any) -> str:
        return "".join(self.characters[int(code)] for code in codes)


def load_corpus(path: Path = CORPUS) -> Corpus:
    text = path.read_text(encoding="utf-8")
    characters = "".join(sorted(set(text)))
    lookup = {char: code for code, char in enumerate(characters)}
    codes = np.array([lookup[char] for char in text], dtype=np.int64)
    split = int(0.9 * len(codes))
    return Corpus(characters, codes[:split], codes[split:])


def batches(codes: np.ndarray, batch_size: int, length: int, seed: int) -> Iterator[tuple]:
    """Endless (inputs, targets) pairs of shape (batch_size, length); targets are shifted by one."""
    rng = np.random.default_rng(seed)
    offsets = np.arange(length + 1)
    while True:
        starts = rng.integers(0, len(codes) - length, size=batch_size)
        windows = codes[starts[:, None] + offsets]
        yield windows[:, :-1], windows[:, 1:]


def validation_windows(codes: np.ndarray, length: int, limit: int | None = None) -> tuple:
    """The validation text cut into consecutive windows (all of them, or the first ``limit``)."""
    count = (len(codes) - 1) // length
    if limit is not None:
        count = min(count, limit)
    inputs = codes[: count * length].reshape(count, length)
    targets = codes[1 : count * length + 1].reshape(count, length)
    return inputs, targets


def next_character_loss(logits: tg.Tensor, targets: Any, reduction: str = "mean") -> tg.Tensor:
    """Cross-entropy of (batch, time, vocabulary) scores: classes go second, as PyTorch wants."""
    return F.cross_entropy(logits.permute(0, 2, 1), targets, reduction=reduction)


def bits_per_char(model: nn.Module, inputs: np.ndarray, targets: np.ndarray) -> float:
    """Mean cross-entropy over every predicted character, in bits."""
    model.eval()
    total = 0.0
    with tg.no_grad():
        for start in range(0, len(inputs), 64):
            logits = model(inputs[start : start + 64])
            total += next_character_loss(logits, targets[start : start + 64], "sum").item()
    model.train()
    return total / targets.size / math.log(2)


def train(
    model: nn.Module,
    corpus: Corpus,
    steps: int,
    batch_size: int,
    length: int,
    lr: float,
    seed: int,
    report_every: int,
    validation: tuple,
) -> dict:
    """AdamW on random windows; the validation bits per character every ``report_every`` steps."""
    optimizer = optim.AdamW(model.parameters(), lr=lr)
    data = batches(corpus.train, batch_size, length, seed)
    history = []
    training_seconds = 0.0  # the steps alone, without the evaluations between them
    for step in range(1, steps + 1):
        started = time.perf_counter()
        inputs, targets = next(data)
        loss = next_character_loss(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        training_seconds += time.perf_counter() - started
        if step % report_every == 0 or step == steps:
            per_step = training_seconds / step
            bits = bits_per_char(model, *validation)
            history.append((step, bits))
            print(
                f"step {step:5d}  train loss {loss.item() / math.log(2):.3f} bits/char  "
                f"validation {bits:.3f} bits/char  ({per_step * 1000:.0f} ms/step)"
            )
    return {
        "history": history,
        "validation_bits_per_char": history[-1][1],
        "seconds_per_step": training_seconds / max(steps, 1),
    }


def draw(logits: np.ndarray, temperature: float) -> int:
    """One character from softmax(logits / temperature), with the generator tg.manual_seed seeds."""
    if temperature == 0:
        return int(np.argmax(logits))
    scaled = logits / temperature
    weights = np.exp(scaled - scaled.max())
    cumulative = np.cumsum(weights)
    point = tg.rand(1).item() * cumulative[-1]
    return int(min(np.searchsorted(cumulative, point, side="right"), len(logits) - 1))


class CharLSTM(nn.Module):
    """Characters -> embedding -> LSTM -> a score for every possible next character."""

    def __init__(
        self,
        vocabulary_size: int,
        embedding_dim: int = 64,
        hidden_size: int = 128,
        num_layers: int = 1,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocabulary_size, embedding_dim, dtype=dtype)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, num_layers, batch_first=True, dtype=dtype)
        self.head = nn.Linear(hidden_size, vocabulary_size, dtype=dtype)

    def forward(self, tokens: Any, state: Any = None) -> tg.Tensor:
        return self.forward_with_state(tokens, state)[0]

    def forward_with_state(self, tokens: Any, state: Any = None) -> tuple[tg.Tensor, Any]:
        """(batch, time) codes -> (batch, time, vocabulary) scores, and the LSTM's (h, c)."""
        output, state = self.lstm(self.embedding(tokens), state)
        return self.head(output), state

    def sample(self, prompt: np.ndarray, length: int, temperature: float) -> list[int]:
        """``length`` codes after ``prompt``, carrying the LSTM state from one to the next."""
        self.eval()
        codes: list[int] = []
        with tg.no_grad():
            logits, state = self.forward_with_state(prompt[None], None)
            for _ in range(length):
                codes.append(draw(logits.numpy()[0, -1], temperature))
                logits, state = self.forward_with_state(np.array([[codes[-1]]]), state)
        self.train()
        return codes


def common_arguments(description: str, steps: int, lr: float) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--steps", type=int, default=steps)
    parser.add_argument("--batch-size", type=int, help="windows per step: 32 (--quick: 8)")
    parser.add_argument("--lr", type=float, default=lr)
    parser.add_argument("--seed", type=int, default=0, help="weights, batches and sample")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--prompt", default="The ")
    parser.add_argument("--sample-length", type=int, default=200)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--report-every", type=int, default=250)
    parser.add_argument(
        "--quick", action="store_true", help="40 small steps, part of the validation text"
    )
    return parser


def run(
    arguments: argparse.Namespace,
    corpus: Corpus,
    model: nn.Module,
    length: int,
    sample: Callable[[np.ndarray, int, float], list[int]],
) -> dict:
    """Train, report, and write a sample: the part both character models share."""
    if arguments.quick:
        arguments.steps, arguments.report_every = 40, 20
    if arguments.batch_size is None:
        arguments.batch_size = 8 if arguments.quick else 32
    limit = 16 if arguments.quick else None
    if not arguments.prompt:
        raise ValueError("the prompt is empty; the sample continues it: give it a character")
    prompt = corpus.encode(arguments.prompt)  # a prompt it cannot encode: refused before training
    validation = validation_windows(corpus.validation, length, limit)
    size = sum(parameter.size for parameter in model.parameters())
    print(
        f"{len(corpus.train)} training and {len(corpus.validation)} validation characters, "
        f"{len(corpus.characters)} distinct (uniform guess: "
        f"{math.log2(len(corpus.characters)):.2f} bits/char); {size} parameters"
    )
    result = train(
        model,
        corpus,
        arguments.steps,
        arguments.batch_size,
        length,
        arguments.lr,
        arguments.seed,
        arguments.report_every,
        validation,
    )
    print(f"final validation {result['validation_bits_per_char']:.3f} bits/char")
    tg.manual_seed(arguments.seed)
    written = corpus.decode(sample(prompt, arguments.sample_length, arguments.temperature))
    print(f"sample (temperature {arguments.temperature}):\n{arguments.prompt}{written}")
    return {**result, "sample": written, "vocabulary_size": len(corpus.characters)}


def main(argv: list[str] | None = None) -> dict:
    parser = common_arguments(__doc__.split("\n\n")[0], steps=1500, lr=3e-3)
    parser.add_argument("--hidden-size", type=int, default=128)
    parser.add_argument("--length", type=int, default=64, help="characters per window")
    arguments = parser.parse_args(argv)
    corpus = load_corpus()
    tg.manual_seed(arguments.seed)
    model = CharLSTM(
        len(corpus.characters), hidden_size=arguments.hidden_size, dtype=arguments.dtype
    )
    return run(arguments, corpus, model, arguments.length, model.sample)


if __name__ == "__main__":
    main()

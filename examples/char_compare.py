"""The character models trained side by side in tinygrad_ann and PyTorch, from the same start.

PyTorch's model is the same architecture under the same state-dict keys, and
starts from tinygrad_ann's initial weights (copied with ``load_state_dict``).
Both run in float64 with dropout 0, on the same batches, with AdamW and
gradient clipping at norm 1, for ``--steps`` steps; then both validation
losses are printed. They agree to many more digits than the 1% this script
insists on. PyTorch is an optional dependency: without it the script says so.

    python examples/char_compare.py [--model lstm|transformer|both] [--steps 30]
"""

from __future__ import annotations

import argparse
import importlib.util
import math
from pathlib import Path
from typing import Any

import numpy as np

import tinygrad_ann as tg
from tinygrad_ann import nn


def beside(name: str):
    """An example script from this folder, as a module."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def torch_twin(
    kind: str, arguments: argparse.Namespace, vocabulary_size: int, torch: Any, dtype: Any = None
) -> Any:
    """The PyTorch model with the same layers under the same names, in ``dtype`` (float64
    by default)."""
    torch_nn = torch.nn

    class CharLSTM(torch_nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = torch_nn.Embedding(vocabulary_size, arguments.embedding_dim)
            self.lstm = torch_nn.LSTM(
                arguments.embedding_dim, arguments.hidden_size, batch_first=True
            )
            self.head = torch_nn.Linear(arguments.hidden_size, vocabulary_size)

        def forward(self, tokens: Any) -> Any:
            return self.head(self.lstm(self.embedding(tokens))[0])

    class CharTransformer(torch_nn.Module):
        def __init__(self) -> None:
            super().__init__()
            width = arguments.width
            self.token_embedding = torch_nn.Embedding(vocabulary_size, width)
            self.position_embedding = torch_nn.Embedding(arguments.length, width)
            self.blocks = torch_nn.ModuleList(
                torch_nn.TransformerEncoderLayer(
                    width,
                    arguments.heads,
                    dim_feedforward=4 * width,
                    dropout=0.0,
                    activation="gelu",
                    batch_first=True,
                    norm_first=True,
                )
                for _ in range(arguments.layers)
            )
            self.norm = torch_nn.LayerNorm(width)
            self.head = torch_nn.Linear(width, vocabulary_size)

        def forward(self, tokens: Any) -> Any:
            length = tokens.shape[1]
            x = self.token_embedding(tokens) + self.position_embedding(torch.arange(length))
            mask = torch_nn.Transformer.generate_square_subsequent_mask(
                length, dtype=self.head.weight.dtype
            )
            for block in self.blocks:
                x = block(x, src_mask=mask, is_causal=True)
            return self.head(self.norm(x))

    return (CharLSTM if kind == "lstm" else CharTransformer)().to(dtype or torch.float64)


def tinygrad_model(kind: str, arguments: argparse.Namespace, vocabulary_size: int) -> nn.Module:
    if kind == "lstm":
        return beside("char_lstm").CharLSTM(
            vocabulary_size, arguments.embedding_dim, arguments.hidden_size, dtype="float64"
        )
    return beside("char_transformer").CharTransformer(
        vocabulary_size,
        arguments.length,
        arguments.width,
        arguments.heads,
        arguments.layers,
        dtype="float64",
    )


def torch_bits_per_char(model: Any, inputs: np.ndarray, targets: np.ndarray, torch: Any) -> float:
    with torch.no_grad():
        logits = model(torch.from_numpy(inputs))
        loss = torch.nn.functional.cross_entropy(
            logits.permute(0, 2, 1), torch.from_numpy(targets), reduction="sum"
        )
    return loss.item() / targets.size / math.log(2)


def train_torch(
    model: Any, common: Any, corpus: Any, arguments: argparse.Namespace, torch: Any
) -> None:
    """``char_lstm.train``'s loop, step for step, in PyTorch."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=arguments.lr)
    data = common.batches(corpus.train, arguments.batch_size, arguments.length, arguments.seed)
    for _ in range(arguments.steps):
        inputs, targets = next(data)
        logits = model(torch.from_numpy(inputs))
        loss = torch.nn.functional.cross_entropy(logits.permute(0, 2, 1), torch.from_numpy(targets))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()


def compare(kind: str, arguments: argparse.Namespace, torch: Any) -> dict:
    common = beside("char_lstm")
    corpus = common.load_corpus()
    vocabulary_size = len(corpus.characters)
    tg.manual_seed(arguments.seed)
    ours = tinygrad_model(kind, arguments, vocabulary_size)
    theirs = torch_twin(kind, arguments, vocabulary_size, torch)
    theirs.load_state_dict(
        {key: torch.from_numpy(value.numpy().copy()) for key, value in ours.state_dict().items()}
    )
    validation = common.validation_windows(
        corpus.validation, arguments.length, arguments.validation_windows
    )
    before = common.bits_per_char(ours, *validation)
    common.train(
        ours,
        corpus,
        arguments.steps,
        arguments.batch_size,
        arguments.length,
        arguments.lr,
        arguments.seed,
        arguments.steps + 1,  # no reports along the way: only the end
        validation,
    )
    train_torch(theirs, common, corpus, arguments, torch)
    result = {
        "before": before,
        "tinygrad_ann": common.bits_per_char(ours, *validation),
        "torch": torch_bits_per_char(theirs, *validation, torch),
    }
    result["relative_difference"] = abs(result["tinygrad_ann"] / result["torch"] - 1)
    print(
        f"{kind}: validation bits/char after {arguments.steps} steps (from {before:.4f}): "
        f"tinygrad_ann {result['tinygrad_ann']:.12f}, PyTorch {result['torch']:.12f}, "
        f"relative difference {result['relative_difference']:.1e}"
    )
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="both", choices=["lstm", "transformer", "both"])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--length", type=int, default=64, help="characters per window")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--validation-windows", type=int, default=64)
    parser.add_argument("--embedding-dim", type=int, default=64, help="LSTM")
    parser.add_argument("--hidden-size", type=int, default=128, help="LSTM")
    parser.add_argument("--width", type=int, default=64, help="transformer")
    parser.add_argument("--heads", type=int, default=4, help="transformer")
    parser.add_argument("--layers", type=int, default=2, help="transformer")
    arguments = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("this comparison needs PyTorch: pip install torch")
        return {}
    kinds = ["lstm", "transformer"] if arguments.model == "both" else [arguments.model]
    results = {kind: compare(kind, arguments, torch) for kind in kinds}
    worst = max(result["relative_difference"] for result in results.values())
    if worst > 0.01:
        raise SystemExit(f"the two frameworks disagree by {worst:.1%}")
    return results


if __name__ == "__main__":
    main()

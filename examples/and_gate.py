"""A single sigmoid unit learns the AND gate (article 001), by gradient descent.

The article starts from w = (0.4, 0.2), b = 1 and uses a learning rate of 0.1;
so do we, but we follow the gradient of the mean cross-entropy, not the
thresholded perceptron rule the article's code applies.

    python examples/and_gate.py [--epochs 1000]
"""

from __future__ import annotations

import argparse

import numpy as np

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import nn, optim


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=1_000)
    arguments = parser.parse_args(argv)

    inputs, outputs = tg.data.and_gate()
    unit = nn.Linear(2, 1)
    unit.weight.data[...] = [[0.4, 0.2]]
    unit.bias.data[...] = 1.0
    optimizer = optim.SGD(unit.parameters(), lr=0.1)
    x, targets = tg.tensor(inputs), outputs.reshape(-1, 1)
    for epoch in range(arguments.epochs):
        # With logits, the loss applies the sigmoid itself, stably.
        loss = F.binary_cross_entropy_with_logits(unit(x), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if epoch % max(1, arguments.epochs // 5) == 0:
            print(f"epoch {epoch:5d}  loss {loss.item():.5f}")

    predictions = (unit(x).numpy().ravel() > 0).astype(int).tolist()
    accuracy = float(np.mean(np.array(predictions) == outputs))
    for (a, b), predicted in zip(inputs.astype(int).tolist(), predictions):
        print(f"{a} AND {b} -> {predicted}")
    weights = np.round(unit.weight.numpy().ravel(), 3)
    print(f"weights {weights}, bias {unit.bias.item():.3f}, accuracy {accuracy:.0%}")
    return {"accuracy": accuracy, "loss": loss.item()}


if __name__ == "__main__":
    main()

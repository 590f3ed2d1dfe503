"""An L-layer sigmoid network (article 003, second part) classifies two moons.

The layer sizes are a command-line list; each hidden layer is Linear + sigmoid
and the output is one logit trained with mean binary cross-entropy.

    python examples/l_layer_network.py [--sizes 2 16 8 1] [--epochs 2000]
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import nn, optim


def build(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        layers += [nn.Linear(fan_in, fan_out), nn.Sigmoid()]
    return nn.Sequential(*layers[:-1])  # no sigmoid at the end: the loss takes logits


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2, 16, 8, 1])
    parser.add_argument("--epochs", type=int, default=2_000)
    arguments = parser.parse_args(argv)
    if arguments.sizes[0] != 2 or arguments.sizes[-1] != 1:
        parser.error("--sizes must start with 2 (the input) and end with 1 (the logit)")

    tg.manual_seed(0)
    points, labels = tg.data.two_moons(300, noise=0.2, seed=1)
    model = build(arguments.sizes)
    optimizer = optim.Adam(model.parameters(), lr=0.02)
    x, targets = tg.tensor(points), labels.reshape(-1, 1).astype(np.float64)
    for epoch in range(arguments.epochs):
        loss = F.binary_cross_entropy_with_logits(model(x), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if epoch % max(1, arguments.epochs // 5) == 0:
            print(f"epoch {epoch:5d}  loss {loss.item():.5f}")

    accuracy = float(np.mean((model(x).numpy().ravel() > 0) == (labels == 1)))
    print(f"{len(arguments.sizes) - 1} layers {arguments.sizes}: accuracy {accuracy:.1%}")
    return {"accuracy": accuracy, "loss": loss.item()}


if __name__ == "__main__":
    main()

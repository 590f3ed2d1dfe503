"""One sigmoid unit learns the diabetes table of articles 000 and 002.

s = sigmoid(x . w + b), trained on 1/2 * sum of squared errors with plain
gradient descent (learning rate 0.05), as the articles do, but with the
gradient autograd computes instead of a hand-derived one.

    python examples/perceptron_diabetes.py [--epochs 20000]
"""

from __future__ import annotations

import argparse

import numpy as np

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import nn, optim


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=20_000)
    arguments = parser.parse_args(argv)

    tg.manual_seed(0)
    features, labels = tg.data.diabetes_table()
    targets = labels.reshape(-1, 1)
    unit = nn.Linear(3, 1)
    optimizer = optim.SGD(unit.parameters(), lr=0.05)
    inputs = tg.tensor(features)
    for epoch in range(arguments.epochs):
        loss = 0.5 * F.mse_loss(unit(inputs).sigmoid(), targets, reduction="sum")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if epoch % max(1, arguments.epochs // 5) == 0:
            print(f"epoch {epoch:6d}  loss {loss.item():.5f}")

    with tg.no_grad():
        probabilities = unit(inputs).sigmoid().numpy().ravel()
        # A new patient who smokes, is not obese and does not exercise; in the table
        # the label always equals the obesity column.
        new_patient = unit(tg.tensor([[1.0, 0.0, 0.0]])).sigmoid().item()
    accuracy = float(np.mean((probabilities > 0.5) == (labels == 1)))
    print(f"predictions {np.round(probabilities, 3)}  (labels {labels.astype(int)})")
    print(f"accuracy {accuracy:.0%}; new patient [1, 0, 0] -> {new_patient:.3f}")
    return {"accuracy": accuracy, "new_patient": new_patient, "loss": loss.item()}


if __name__ == "__main__":
    main()

"""An MLP reads scikit-learn's bundled 8x8 handwritten digits (1,797 images, no download).

64 pixels -> 64 ReLU units -> 10 class scores, Adam, cross-entropy, minibatches
of 32; a fixed 75/25 train/test split. Reaches about 97% test accuracy.

    python examples/digits_mlp.py [--epochs 30]
"""

from __future__ import annotations

import argparse

import numpy as np

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import nn, optim


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=30)
    arguments = parser.parse_args(argv)
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        print("this example needs scikit-learn: pip install scikit-learn")
        return {"test_accuracy": None}

    digits = load_digits()
    train_x, test_x, train_y, test_y = train_test_split(
        digits.data, digits.target, test_size=0.25, random_state=0, stratify=digits.target
    )
    # Standardise with the training set's statistics only: the test set stays unseen.
    mean, std = train_x.mean(axis=0), train_x.std(axis=0) + 1e-8
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std

    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    for epoch in range(arguments.epochs):
        order = rng.permutation(len(train_x))
        for start in range(0, len(order), 32):
            batch = order[start : start + 32]
            loss = F.cross_entropy(model(tg.tensor(train_x[batch])), train_y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if epoch % max(1, arguments.epochs // 5) == 0:
            print(f"epoch {epoch:3d}  last batch loss {loss.item():.4f}")

    with tg.no_grad():
        predicted = model(tg.tensor(test_x)).numpy().argmax(axis=1)
    accuracy = float(np.mean(predicted == test_y))
    print(f"test accuracy {accuracy:.2%} on {len(test_y)} unseen images")
    return {"test_accuracy": accuracy}


if __name__ == "__main__":
    main()

"""An MLP reads scikit-learn's bundled 8x8 handwritten digits (1,797 images, no download).

64 pixels -> 64 ReLU units -> 10 class scores, Adam, cross-entropy, minibatches
of 32; a fixed 75/25 train/test split. Reaches about 97% test accuracy, then
saves the model (and the pixel statistics it was trained with) to a checkpoint
that ``digits_predict.py`` loads.

    python examples/digits_mlp.py [--epochs 30] [--save digits_mlp.safetensors]
"""

from __future__ import annotations

import argparse

import numpy as np

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import nn, optim


def build_model() -> nn.Module:
    """The architecture; ``digits_predict.py`` builds the same one to load the weights into."""
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


def load_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training and test images and labels: the same fixed split every time."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    train_x, test_x, train_y, test_y = train_test_split(
        digits.data, digits.target, test_size=0.25, random_state=0, stratify=digits.target
    )
    return train_x, test_x, train_y, test_y


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--save", default="digits_mlp.safetensors", help="checkpoint to write")
    arguments = parser.parse_args(argv)
    try:
        train_x, test_x, train_y, test_y = load_split()
    except ImportError:
        print("this example needs scikit-learn: pip install scikit-learn")
        return {"test_accuracy": None}

    # Standardise with the training set's statistics only: the test set stays unseen.
    mean, std = train_x.mean(axis=0), train_x.std(axis=0) + 1e-8
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std

    tg.manual_seed(0)
    model = build_model()
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
    # The pixel statistics belong with the weights: predictions need the same scaling.
    path = tg.save(
        {
            "model": model.state_dict(),
            "pixel_mean": mean,
            "pixel_std": std,
            "test_accuracy": accuracy,
            "epochs": arguments.epochs,
        },
        arguments.save,
    )
    print(f"saved the model to {path}")
    return {"test_accuracy": accuracy, "checkpoint": path}


if __name__ == "__main__":
    main()

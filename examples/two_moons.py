"""A tanh hidden layer and a softmax output separate two moons (article 004).

Loss: the summed cross-entropy plus lambda/2 (|W1|^2 + |W2|^2), full-batch
gradient descent with step 0.01 and lambda = 0.01, as in the article. The
hidden-layer size is swept over 1, 2, 3, 4, 5, 20 and 50: one unit gives a
straight boundary, three already bend it around the moons.

    python examples/two_moons.py [--epochs 5000] [--sizes 1 2 3 4 5 20 50] [--plot DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import nn, optim

STRENGTH = 0.01


class MoonsNet(nn.Module):
    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.hidden = nn.Linear(2, hidden_size)
        self.output = nn.Linear(hidden_size, 2)

    def forward(self, x):
        return self.output(self.hidden(x).tanh())

    def penalty(self):
        """Only the weights are regularised, not the biases."""
        return (self.hidden.weight**2).sum() + (self.output.weight**2).sum()


def train(hidden_size: int, points, labels, epochs: int) -> tuple[MoonsNet, list[float]]:
    tg.manual_seed(hidden_size)
    model = MoonsNet(hidden_size)
    optimizer = optim.SGD(model.parameters(), lr=0.01)
    x, losses = tg.tensor(points), []
    for _ in range(epochs):
        loss = F.cross_entropy(model(x), labels, reduction="sum") + STRENGTH / 2 * model.penalty()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return model, losses


def plot(models: dict[int, MoonsNet], points, labels, folder: Path) -> Path | None:
    try:
        import matplotlib
    except ImportError:
        print("plot skipped: matplotlib is not installed (pip install matplotlib)")
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid_x, grid_y = np.meshgrid(np.linspace(-1.7, 2.7, 150), np.linspace(-1.3, 1.8, 150))
    grid = tg.tensor(np.column_stack([grid_x.ravel(), grid_y.ravel()]))
    figure, axes = plt.subplots(1, len(models), figsize=(3.2 * len(models), 3.2), squeeze=False)
    for axis, (size, model) in zip(axes[0], models.items()):
        with tg.no_grad():
            regions = model(grid).numpy().argmax(axis=1).reshape(grid_x.shape)
        axis.contourf(grid_x, grid_y, regions, levels=[-0.5, 0.5, 1.5], cmap="coolwarm", alpha=0.3)
        axis.scatter(points[:, 0], points[:, 1], c=labels, cmap="coolwarm", s=6)
        axis.set_title(f"{size} hidden")
        axis.set_xticks([])
        axis.set_yticks([])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "two_moons_sweep.png"
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return path


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5_000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 3, 4, 5, 20, 50])
    parser.add_argument("--plot", type=Path, help="folder for the decision-boundary picture")
    arguments = parser.parse_args(argv)

    points, labels = tg.data.two_moons(300, noise=0.2, seed=0)
    accuracies, models = {}, {}
    for size in arguments.sizes:
        model, losses = train(size, points, labels, arguments.epochs)
        with tg.no_grad():
            predicted = model(tg.tensor(points)).numpy().argmax(axis=1)
        accuracies[size] = float(np.mean(predicted == labels))
        models[size] = model
        print(
            f"{size:3d} hidden units: loss {losses[0]:8.2f} -> {losses[-1]:7.2f}, "
            f"accuracy {accuracies[size]:.1%}"
        )
    picture = plot(models, points, labels, arguments.plot) if arguments.plot else None
    if picture:
        print(f"wrote {picture}")
    return {"accuracy": accuracies, "plot": picture}


if __name__ == "__main__":
    main()

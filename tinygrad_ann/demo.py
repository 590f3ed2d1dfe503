"""The ``python -m tinygrad_ann demo`` walkthrough: a small net learns XOR."""

from __future__ import annotations

import numpy as np

from . import functional as F
from . import nn, optim
from .factories import manual_seed
from .gradcheck import gradcheck
from .tensor import Tensor

XOR_INPUTS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_TARGETS = np.array([[0.0], [1.0], [1.0], [0.0]])


def train_xor(epochs: int = 2000, seed: int = 0, report_every: int = 200, echo=print) -> nn.Module:
    """Train a 2-8-1 tanh network on XOR with Adam and binary cross-entropy."""
    manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    optimizer = optim.Adam(model.parameters(), lr=0.05)
    inputs = Tensor(XOR_INPUTS)
    for epoch in range(1, epochs + 1):
        loss = F.binary_cross_entropy_with_logits(model(inputs), XOR_TARGETS)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if epoch == 1 or epoch % report_every == 0:
            echo(f"  epoch {epoch:5d}   loss {loss.item():.6f}")
    return model


def run(echo=print) -> None:
    """Print the XOR training run, the predictions and a gradient check."""
    echo("tinygrad_ann demo: a 2-8-1 tanh network learns XOR\n")
    model = train_xor(echo=echo)
    probabilities = model(Tensor(XOR_INPUTS)).sigmoid().numpy()
    echo("\n  x1  x2   target   p(y=1)   prediction")
    for (x1, x2), target, p in zip(XOR_INPUTS, XOR_TARGETS[:, 0], probabilities[:, 0]):
        echo(f"  {x1:2.0f}  {x2:2.0f}   {target:6.0f}   {p:6.3f}   {int(p > 0.5):10d}")
    accuracy = np.mean((probabilities > 0.5) == (XOR_TARGETS > 0.5))
    echo(f"\n  accuracy: {accuracy:.0%}")

    first_layer = model[0]
    ok = gradcheck(
        lambda w: F.binary_cross_entropy_with_logits(
            model[2](F.linear(Tensor(XOR_INPUTS), w, first_layer.bias).tanh()), XOR_TARGETS
        ),
        [first_layer.weight],
    )
    verdict = "matches" if ok else "does not match"
    echo(f"  gradient check: autograd {verdict} finite differences for the first layer's weight")

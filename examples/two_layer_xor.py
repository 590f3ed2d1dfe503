"""Two sigmoid layers without biases learn XOR (article 003, first part).

Inputs carry a constant third column that plays the bias's role; the hidden
layer has 4 units; the loss is the sum of squared errors. The article adds its
"d_weights" to the weights: that is gradient descent with a step of 1, since
they are the negative gradients.

    python examples/two_layer_xor.py [--epochs 1500]
"""

from __future__ import annotations

import argparse

import numpy as np

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import nn, optim


class TwoLayerNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(3, 4, bias=False)
        self.output = nn.Linear(4, 1, bias=False)
        for parameter in self.parameters():
            nn.init.uniform_(parameter, 0.0, 1.0)  # the article's U(0, 1) start

    def forward(self, x):
        return self.output(self.hidden(x).sigmoid()).sigmoid()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=1_500)
    arguments = parser.parse_args(argv)

    tg.manual_seed(1)
    inputs, labels = tg.data.xor_bias_column()
    model = TwoLayerNet()
    optimizer = optim.SGD(model.parameters(), lr=1.0)
    x, targets = tg.tensor(inputs), labels.reshape(-1, 1)
    for epoch in range(arguments.epochs):
        loss = F.mse_loss(model(x), targets, reduction="sum")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if epoch % max(1, arguments.epochs // 5) == 0:
            print(f"epoch {epoch:5d}  loss {loss.item():.5f}")

    outputs = model(x).numpy().ravel()
    print(f"outputs {np.round(outputs, 3)}  (targets {labels.astype(int)})")
    return {"outputs": outputs, "loss": loss.item()}


if __name__ == "__main__":
    main()

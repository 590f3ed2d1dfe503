"""``nn.Identity``: a placeholder layer that returns its input."""

from __future__ import annotations

from typing import Any

from .module import Module

__all__ = ["Identity"]


class Identity(Module):
    """Return the input unchanged; constructor arguments are accepted and ignored, as in PyTorch.

    Useful to switch a layer off without changing a model's structure:

    >>> import tinygrad_ann as tg
    >>> from tinygrad_ann import nn
    >>> model = nn.Sequential(nn.Linear(2, 2), nn.Identity(54, unused="ignored"))
    >>> x = tg.ones(1, 2)
    >>> bool((model(x).numpy() == model[0](x).numpy()).all())
    True
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Any) -> Any:
        return x

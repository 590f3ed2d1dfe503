"""In-place initialisers for parameters, with PyTorch's names and formulas.

Each draws from the generator seeded by ``tg.manual_seed``.
"""

from __future__ import annotations

import math

import numpy as np

from ..factories import generator
from ..tensor import Tensor

__all__ = ["kaiming_uniform_", "normal_", "ones_", "uniform_", "xavier_uniform_", "zeros_"]


def _fans(tensor: Tensor) -> tuple[int, int]:
    """fan_in and fan_out of a weight of shape (out, in, *kernel)."""
    if tensor.ndim < 2:
        raise ValueError(
            f"init: fan_in and fan_out need a tensor with at least 2 dimensions, got shape "
            f"{tensor.shape}"
        )
    receptive = int(np.prod(tensor.shape[2:]))
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fill(tensor: Tensor, values: np.ndarray) -> Tensor:
    if tensor.data.flags.writeable:
        tensor.data[...] = values
    else:  # a live graph holds the old array read-only: leave it to that graph
        tensor.data = np.array(np.broadcast_to(values, tensor.shape), dtype=tensor.dtype)
    return tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with samples of U(a, b)."""
    return _fill(tensor, generator().uniform(a, b, tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with samples of N(mean, std^2)."""
    return _fill(tensor, generator().normal(mean, std, tensor.shape))


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with zeros."""
    return _fill(tensor, np.zeros(tensor.shape))


def ones_(tensor: Tensor) -> Tensor:
    """Fill with ones."""
    return _fill(tensor, np.ones(tensor.shape))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot: U(-b, b) with ``b = gain * sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = _fans(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def kaiming_uniform_(
    tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    """He: U(-b, b) with ``b = gain * sqrt(3 / fan)``.

    The gain is ``sqrt(2 / (1 + a^2))`` for (leaky) ReLU with slope ``a``, and 1
    for ``"linear"``, ``"sigmoid"`` and ``"tanh"`` is 5/3, as in PyTorch.
    """
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming_uniform_: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    gains = {"linear": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3.0, "relu": math.sqrt(2.0)}
    if nonlinearity == "leaky_relu":
        gain = math.sqrt(2.0 / (1 + a * a))
    elif nonlinearity in gains:
        gain = gains[nonlinearity]
    else:
        raise ValueError(f"kaiming_uniform_: unknown nonlinearity {nonlinearity!r}")
    bound = gain * math.sqrt(3.0 / fan)
    return uniform_(tensor, -bound, bound)

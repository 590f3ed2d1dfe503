"""Gradient clipping, as ``torch.nn.utils``: ``clip_grad_norm_`` and ``clip_grad_value_``.

Both change the ``.grad`` of the parameters in place, between ``backward()``
and the optimizer's ``step()``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ..tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _gradients(where: str, parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    """The parameters' gradients that exist (PyTorch skips a parameter without one)."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    elif not isinstance(parameters, Iterable):
        raise TypeError(
            f"{where}: expected a Tensor or an iterable of Tensors such as model.parameters(), "
            f"got {type(parameters).__name__}"
        )
    found = []
    for index, param in enumerate(parameters):
        if not isinstance(param, Tensor):
            raise TypeError(f"{where}: parameter {index} is a {type(param).__name__}, not a Tensor")
        if param._grad is not None:
            found.append(param._grad)
    return found


def _scale_in_place(grad: Tensor, factor: float | np.floating) -> None:
    try:
        np.multiply(grad._data, factor, out=grad._data, casting="unsafe")
    except ValueError:  # read-only: a graph of create_graph=True holds it
        grad.data = grad._data * factor


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """Scale the gradients so that their joint norm is at most ``max_norm``; return that norm.

    The norm is taken over all gradients as if they were one vector
    (``norm_type`` 2 by default, ``float("inf")`` for the largest magnitude).
    Each gradient is multiplied by ``min(1, max_norm / (norm + 1e-6))``, as
    PyTorch does; the returned Tensor is the norm before clipping (0.0 when no
    parameter has a gradient). A norm that is nan or infinite raises a
    RuntimeError with ``error_if_nonfinite=True``; otherwise the gradients are
    scaled by it (to nan or zero), as in PyTorch.

    >>> import tinygrad_ann as tg
    >>> from tinygrad_ann import nn
    >>> w = tg.tensor([0.0, 0.0], requires_grad=True)
    >>> w.grad = tg.tensor([3.0, 4.0])
    >>> nn.utils.clip_grad_norm_([w], max_norm=1.0)
    Tensor(5.)
    >>> [round(float(g), 4) for g in w.grad.numpy()]
    [0.6, 0.8]
    """
    where = "clip_grad_norm_"
    grads = _gradients(where, parameters)
    for name, value in (("max_norm", max_norm), ("norm_type", norm_type)):
        if isinstance(value, bool) or not isinstance(value, int | float | np.floating):
            raise TypeError(f"{where}: {name} must be a number, got {value!r}")
    if not grads:
        return Tensor(0.0)
    norm_type = float(norm_type)
    dtype = np.result_type(*(grad._data.dtype for grad in grads))
    if math.isinf(norm_type):
        norms = [np.max(np.abs(grad._data), initial=0.0) for grad in grads]
        total = np.max(np.asarray(norms, dtype=dtype))
    else:
        norms = [np.linalg.norm(grad._data.ravel(), ord=norm_type) for grad in grads]
        total = np.linalg.norm(np.asarray(norms, dtype=dtype), ord=norm_type)
    total = dtype.type(total)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"{where}: the total norm of order {norm_type} of the gradients is {float(total)}, "
            "so it cannot be clipped; look for the nan or inf in the gradients (a loss that "
            "overflowed), or pass error_if_nonfinite=False to scale by it anyway"
        )
    coefficient = min(dtype.type(max_norm) / (total + dtype.type(1e-6)), dtype.type(1.0))
    with np.errstate(invalid="ignore"):  # inf * 0 is nan, as in PyTorch: asked for above
        for grad in grads:
            _scale_in_place(grad, coefficient)
    return Tensor(np.asarray(total, dtype=dtype))


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]``, in place.

    >>> import tinygrad_ann as tg
    >>> from tinygrad_ann import nn
    >>> w = tg.tensor([0.0, 0.0, 0.0], requires_grad=True)
    >>> w.grad = tg.tensor([-3.0, 0.5, 2.0])
    >>> nn.utils.clip_grad_value_([w], clip_value=1.0)
    >>> w.grad.numpy().tolist()
    [-1.0, 0.5, 1.0]
    """
    where = "clip_grad_value_"
    grads = _gradients(where, parameters)
    if (
        isinstance(clip_value, bool)
        or not isinstance(clip_value, int | float | np.floating)
        or not clip_value >= 0
    ):
        raise ValueError(f"{where}: clip_value must be a number >= 0, got {clip_value!r}")
    for grad in grads:
        try:
            np.clip(grad._data, -clip_value, clip_value, out=grad._data)
        except ValueError:
            grad.data = np.clip(grad._data, -clip_value, clip_value)

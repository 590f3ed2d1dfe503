"""The default float dtype, and turning user data into the array a Tensor holds."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .errors import DTypeError


class _DefaultDType:
    dtype: np.dtype = np.dtype(np.float64)


def set_default_dtype(dtype: Any) -> None:
    """Set the float dtype that Python numbers, lists and new parameters get.

    >>> import numpy as np, tinygrad_ann as tg
    >>> tg.set_default_dtype(np.float32)
    >>> tg.tensor([1.0, 2.0]).dtype
    dtype('float32')
    >>> tg.set_default_dtype(np.float64)
    """
    resolved = np.dtype(dtype)
    if resolved.kind != "f":
        raise DTypeError(f"set_default_dtype: expected a floating dtype, got {resolved}")
    _DefaultDType.dtype = resolved


def get_default_dtype() -> np.dtype:
    """The float dtype used for Python numbers, lists and new parameters."""
    return _DefaultDType.dtype


# bool, signed and unsigned integers, floats: what a Tensor holds.
_NUMERIC_KINDS = frozenset("biuf")


def to_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Copy ``data`` into a fresh array, applying tinygrad_ann's dtype rules."""
    if isinstance(data, Tensor):
        data = data.data
    elif isinstance(data, list | tuple):
        _check_no_graph_in(data)
    try:
        if dtype is not None:
            array = np.array(data, dtype=dtype)
        elif isinstance(data, np.ndarray | np.generic):
            array = np.array(data)
        else:
            array = np.array(data)
            if array.dtype.kind == "f":
                array = array.astype(_DefaultDType.dtype, copy=False)
    except (ValueError, TypeError) as error:  # ragged lists, text that is not a number
        raise DTypeError(
            f"Tensor: cannot make a tensor from {_describe(data)}: {error}; a tensor holds a "
            "rectangular array of numbers"
        ) from None
    if array.dtype.kind not in _NUMERIC_KINDS:
        raise DTypeError(
            f"Tensor: cannot make a tensor from {_describe(data)} (NumPy gives dtype "
            f"{array.dtype}); a tensor holds numbers: bool, integers or floating point"
            + (" (complex numbers are not supported)" if array.dtype.kind == "c" else "")
        )
    return array


def _describe(data: Any) -> str:
    if isinstance(data, np.ndarray):
        return f"an array of dtype {data.dtype} and shape {data.shape}"
    text = repr(data)
    return f"{type(data).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def _check_no_graph_in(data: list[Any] | tuple[Any, ...]) -> None:
    """Refuse a list holding Tensors that are part of a graph: copying them would cut it."""
    pending: list[Any] = [data]
    while pending:
        for item in pending.pop():
            if isinstance(item, list | tuple):
                pending.append(item)
            elif (
                isinstance(item, Tensor) and item.requires_grad and autograd.switches().grad_enabled
            ):
                raise RuntimeError(
                    "Tensor: the list holds a Tensor that requires grad; copying its values into "
                    "a new tensor would silently cut it from the graph. Use tg.stack([...]) (or "
                    "tg.concatenate) to build the tensor with its gradient, or .detach() the "
                    "elements if you want the values only"
                )


def _check_can_require_grad(data: np.ndarray, where: str) -> None:
    if data.dtype.kind not in "fc":
        raise DTypeError(
            f"{where}: only floating-point tensors can require gradients, got dtype "
            f"{data.dtype}; convert first, e.g. Tensor(x.astype(np.float64), requires_grad=True)"
        )


def _normalize_shape(shape: tuple[Any, ...]) -> tuple[int, ...]:
    """Accept ``f(2, 3)`` and ``f((2, 3))`` alike, as PyTorch does."""
    if len(shape) == 1 and isinstance(shape[0], Iterable):
        return tuple(shape[0])
    return tuple(shape)


def _as_data(value: Any) -> np.ndarray:
    """What ``t.data = value`` stores: an array, or a Tensor's array; anything else is refused."""
    if isinstance(value, Tensor):
        return value._data
    if not isinstance(value, np.ndarray | np.generic):
        raise TypeError(
            f"data: expected a NumPy array (or a Tensor, whose array is taken), got "
            f"{_describe(value)}; write t.data = np.asarray(value) to replace the array, or "
            "t.fill_(value) / t.copy_(value) to write the values in place"
        )
    return np.asarray(value)


from . import autograd  # noqa: E402 - tensor.py imports this module; imported last to break the cycle
from .tensor import Tensor  # noqa: E402 - tensor.py imports this module; imported last to break the cycle

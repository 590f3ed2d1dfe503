"""Functions that make new tensors, and the random generator behind them."""

from __future__ import annotations

from typing import Any

import numpy as np

from .tensor import ArrayLike, Tensor, _normalize_shape, get_default_dtype  # isort: skip
from .autograd.capture import refuse_while_recording  # after tensor, which loads autograd


class _Random:
    # Made on first use: importing numpy.random costs more than the rest of the package.
    generator: np.random.Generator | None = None


def manual_seed(seed: int) -> None:
    """Seed the generator used by ``randn``, ``rand`` and ``nn`` initialisers.

    >>> import tinygrad_ann as tg
    >>> tg.manual_seed(0); a = tg.randn(3)
    >>> tg.manual_seed(0); b = tg.randn(3)
    >>> bool((a == b).numpy().all())
    True
    """
    _Random.generator = np.random.default_rng(seed)


def generator() -> np.random.Generator:
    """The NumPy generator that ``manual_seed`` seeds."""
    if _Random.generator is None:
        _Random.generator = np.random.default_rng()
    return _Random.generator


def _dtype(dtype: Any) -> np.dtype:
    return get_default_dtype() if dtype is None else np.dtype(dtype)


def tensor(data: ArrayLike, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """A new Tensor holding a copy of ``data`` (same as ``Tensor(...)``)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def from_numpy(array: np.ndarray) -> Tensor:
    """A Tensor sharing ``array``'s memory, with no copy (as ``torch.from_numpy``).

    Writes to one show in the other. It is how a loop over minibatches avoids
    copying each batch. While a live graph has saved a large array, it is
    read-only, yours included (see ``tg.autograd.SavedArrays``).

    >>> import numpy as np, tinygrad_ann as tg
    >>> batch = np.arange(3.0)
    >>> t = tg.from_numpy(batch)
    >>> batch[0] = 10.0
    >>> t
    Tensor([10.,  1.,  2.])
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(
            f"from_numpy: expected a NumPy array, got {type(array).__name__}; "
            "use tg.tensor(data) to copy other data into a new tensor"
        )
    return Tensor._wrap(array)


def zeros(*shape: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``."""
    data = np.zeros(_normalize_shape(shape), dtype=_dtype(dtype))
    return Tensor(data, requires_grad=requires_grad)


def ones(*shape: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """A tensor of ones: ``ones(2, 3)`` or ``ones((2, 3))``."""
    data = np.ones(_normalize_shape(shape), dtype=_dtype(dtype))
    return Tensor(data, requires_grad=requires_grad)


def zeros_like(other: ArrayLike, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Zeros with the shape (and, unless given, the dtype) of ``other``."""
    array = np.asarray(other.data if isinstance(other, Tensor) else other)
    return Tensor(np.zeros_like(array, dtype=dtype), requires_grad=requires_grad)


def ones_like(other: ArrayLike, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Ones with the shape (and, unless given, the dtype) of ``other``."""
    array = np.asarray(other.data if isinstance(other, Tensor) else other)
    return Tensor(np.ones_like(array, dtype=dtype), requires_grad=requires_grad)


def randn(*shape: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Standard normal samples from the seeded generator (see ``manual_seed``)."""
    _refuse_while_recording("tg.randn")
    data = generator().standard_normal(_normalize_shape(shape)).astype(_dtype(dtype))
    return Tensor(data, requires_grad=requires_grad)


def rand(*shape: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Uniform samples in [0, 1) from the seeded generator (see ``manual_seed``)."""
    _refuse_while_recording("tg.rand")
    data = generator().random(_normalize_shape(shape)).astype(_dtype(dtype))
    return Tensor(data, requires_grad=requires_grad)


def arange(
    start: float,
    stop: float | None = None,
    step: float = 1,
    requires_grad: bool = False,
    dtype: Any = None,
) -> Tensor:
    """Evenly spaced values as ``np.arange``.

    Integers stay integers; floats get the default dtype.
    """
    values = np.arange(start, stop, step) if stop is not None else np.arange(start)
    if dtype is None and values.dtype.kind == "f":
        dtype = get_default_dtype()
    return Tensor(values, requires_grad=requires_grad, dtype=dtype)


def full(size: Any, fill_value: float, *, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """A tensor of shape ``size`` filled with ``fill_value`` (``full((2, 3), 0.5)``).

    Without ``dtype``, a bool or integer fill keeps its kind, as in PyTorch, and a
    float gets the default dtype.

    >>> import tinygrad_ann as tg
    >>> tg.full((2,), 7.0)
    Tensor([7., 7.])
    """
    shape = (size,) if isinstance(size, int | np.integer) else tuple(size)
    if dtype is None:
        kind = np.asarray(fill_value).dtype.kind
        dtype = np.asarray(fill_value).dtype if kind in "biu" else get_default_dtype()
    return Tensor(np.full(shape, fill_value, dtype=np.dtype(dtype)), requires_grad=requires_grad)


def eye(n: int, m: int | None = None, *, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """The ``n`` x ``m`` identity matrix (square unless ``m`` is given).

    >>> import tinygrad_ann as tg
    >>> tg.eye(2)
    Tensor([[1., 0.],
            [0., 1.]])
    """
    return Tensor(np.eye(n, m, dtype=_dtype(dtype)), requires_grad=requires_grad)


def linspace(
    start: float, end: float, steps: int, *, requires_grad: bool = False, dtype: Any = None
) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end``, both included.

    >>> import tinygrad_ann as tg
    >>> tg.linspace(0, 1, 5)
    Tensor([0.  , 0.25, 0.5 , 0.75, 1.  ])
    """
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 0:
        raise ValueError(f"linspace: steps must be a non-negative int, got {steps!r}")
    values = np.linspace(start, end, int(steps), dtype=_dtype(dtype))
    return Tensor(values, requires_grad=requires_grad)


def _refuse_while_recording(what: str) -> None:
    refuse_while_recording(
        what,
        "draws random numbers outside the ops",
        "a replay would reuse this call's numbers; pass them as an argument, or use "
        "F.dropout, which draws inside its op",
    )

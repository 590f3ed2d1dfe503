"""Small datasets for examples, tests and benchmarks, generated here with no download.

Every function returns fresh float64 NumPy arrays, samples as rows unless noted.

>>> from tinygrad_ann import data
>>> X, y = data.diabetes_table()
>>> X.shape, y.shape
((5, 3), (5,))
>>> X, y = data.two_moons(300, noise=0.2, seed=0)
>>> X.shape, sorted(set(y.tolist()))
((300, 2), [0, 1])

``TensorDataset`` and ``DataLoader`` serve such arrays in (shuffled) minibatches:

>>> loader = data.DataLoader(data.TensorDataset(X, y), batch_size=64, shuffle=True, seed=0)
>>> len(loader)
5
>>> xb, yb = next(iter(loader))
>>> xb.shape, yb.shape, yb.dtype
((64, 2), (64,), dtype('int64'))
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from .factories import generator
from .tensor import Tensor

__all__ = [
    "DataLoader",
    "TensorDataset",
    "and_gate",
    "diabetes_table",
    "two_moons",
    "xor_bias_column",
]


def diabetes_table() -> tuple[np.ndarray, np.ndarray]:
    """Five patients, three yes/no symptoms each, and whether they have diabetes.

    A toy table where the label equals the first symptom's answer only for some
    rows, so a single sigmoid unit has something to learn.
    """
    features = np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=np.float64)
    labels = np.array([1, 0, 0, 1, 1], dtype=np.float64)
    return features, labels


def and_gate() -> tuple[np.ndarray, np.ndarray]:
    """The four inputs of a two-input AND gate and its outputs (samples as rows)."""
    inputs = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=np.float64)
    outputs = np.array([0, 0, 0, 1], dtype=np.float64)
    return inputs, outputs


def xor_bias_column() -> tuple[np.ndarray, np.ndarray]:
    """XOR of the first two columns; the third column is a constant 1 that acts as a bias."""
    inputs = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=np.float64)
    outputs = np.array([0, 1, 1, 0], dtype=np.float64)
    return inputs, outputs


def two_moons(
    n_samples: int = 300, noise: float = 0.2, seed: int | None = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles in the plane, a classic non-linear toy problem.

    Class 0 lies on the upper half of the unit circle, class 1 on a lower half
    circle shifted to (1, 0.5); Gaussian noise of standard deviation ``noise``
    is added to every coordinate. Returns ``(points, labels)`` with points of
    shape ``(n_samples, 2)`` and integer labels of shape ``(n_samples,)``.
    """
    if n_samples < 2:
        raise ValueError(f"two_moons: n_samples must be at least 2, got {n_samples}")
    if noise < 0:
        raise ValueError(f"two_moons: noise must be non-negative, got {noise}")
    rng = np.random.default_rng(seed)
    n_upper = n_samples // 2
    n_lower = n_samples - n_upper
    angles_upper = np.linspace(0.0, np.pi, n_upper)
    angles_lower = np.linspace(0.0, np.pi, n_lower)
    upper = np.stack([np.cos(angles_upper), np.sin(angles_upper)], axis=1)
    lower = np.stack([1.0 - np.cos(angles_lower), 0.5 - np.sin(angles_lower)], axis=1)
    points = np.concatenate([upper, lower]) + rng.normal(scale=noise, size=(n_samples, 2))
    labels = np.concatenate([np.zeros(n_upper, dtype=np.int64), np.ones(n_lower, dtype=np.int64)])
    order = rng.permutation(n_samples)
    return points[order], labels[order]


# ------------------------------------------------------------------ minibatches
class TensorDataset:
    """Samples that are rows of arrays: item ``i`` is ``(a[i], b[i], ...)``.

    Each argument is a Tensor or an array (kept, not copied; other values are
    copied into a Tensor) with the same size along its first axis: the number
    of samples, ``len(dataset)``.

    >>> import numpy as np
    >>> from tinygrad_ann.data import TensorDataset
    >>> dataset = TensorDataset(np.arange(6.0).reshape(3, 2), np.array([0, 1, 1]))
    >>> len(dataset)
    3
    >>> dataset[1]
    (Tensor([2., 3.]), Tensor(1))
    """

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset: give at least one array or Tensor")
        self.tensors: tuple[Tensor, ...] = tuple(_as_tensor(value) for value in tensors)
        for position, tensor in enumerate(self.tensors):
            if tensor.ndim == 0:
                raise ValueError(
                    f"TensorDataset: argument {position} is 0-d; each needs a first axis of samples"
                )
        lengths = [len(tensor) for tensor in self.tensors]
        if len(set(lengths)) > 1:
            shapes = ", ".join(str(tensor.shape) for tensor in self.tensors)
            raise ValueError(
                f"TensorDataset: the arguments hold different numbers of samples {lengths} "
                f"(shapes {shapes}); their first dimensions must be equal"
            )

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
        return tuple(tensor[index] for tensor in self.tensors)

    def __repr__(self) -> str:
        shapes = ", ".join(str(tensor.shape) for tensor in self.tensors)
        return f"TensorDataset({shapes})"


def _as_tensor(value: Any) -> Tensor:
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray):
        return Tensor._wrap(value)  # no copy: a dataset can be large
    return Tensor(value)


class DataLoader:
    """Minibatches of a dataset, as tuples of Tensors, in order or shuffled.

    ``dataset`` is a :class:`TensorDataset` or any object with ``len`` and
    integer indexing (a sample is then a tuple of arrays, Tensors or numbers,
    or a single one; each field is stacked along a new first axis, so a sample
    of one value gives one Tensor per batch rather than a tuple). Batches hold
    ``batch_size`` samples, the last one fewer unless ``drop_last``. Batches are
    copies: writing into one leaves the dataset alone. Integer labels stay
    integer Tensors, which the losses take as targets:
    ``F.cross_entropy(model(x), y)``.

    With ``shuffle=True`` every pass (every ``iter``) visits the samples in a
    new random order, drawn from a generator seeded with ``seed`` when the
    loader is made (two loaders with one seed give the same passes), or from
    the generator ``tg.manual_seed`` seeds when ``seed`` is None.

    >>> import numpy as np
    >>> import tinygrad_ann as tg
    >>> from tinygrad_ann.data import DataLoader, TensorDataset
    >>> dataset = TensorDataset(np.arange(5.0), np.array([0, 1, 0, 1, 0]))
    >>> [y.tolist() for _, y in DataLoader(dataset, batch_size=2)]
    [[0, 1], [0, 1], [0]]
    >>> len(DataLoader(dataset, batch_size=2, drop_last=True))
    2
    >>> first = [x.tolist() for x, _ in DataLoader(dataset, 5, shuffle=True, seed=1)]
    >>> first == [x.tolist() for x, _ in DataLoader(dataset, 5, shuffle=True, seed=1)]
    True
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | None = None,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
            raise TypeError(f"DataLoader: batch_size must be an int, got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be at least 1, got {batch_size}")
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(
                f"DataLoader: the dataset must support len() and indexing, got "
                f"{type(dataset).__name__}; wrap arrays in TensorDataset(x, y)"
            )
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        # Made once, so successive passes continue one random stream (a fresh order each).
        self._generator = None if seed is None else np.random.default_rng(seed)

    def __len__(self) -> int:
        count = len(self.dataset)
        if self.drop_last:
            return count // self.batch_size
        return math.ceil(count / self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        count = len(self.dataset)
        if self.shuffle:
            rng = self._generator if self._generator is not None else generator()
            order = rng.permutation(count)
        else:
            order = np.arange(count)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield self._batch(order[start : start + self.batch_size])

    def _batch(self, indices: np.ndarray) -> Any:
        if isinstance(self.dataset, TensorDataset):
            # Indexing with an index array copies: one gather per field, no per-sample work.
            return tuple(Tensor._wrap(t.data[indices]) for t in self.dataset.tensors)
        samples = [self.dataset[int(i)] for i in indices]
        if isinstance(samples[0], tuple | list):
            return tuple(_stack(list(field)) for field in zip(*samples))
        return _stack(samples)

    def __repr__(self) -> str:
        return (
            f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)} samples, "
            f"batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last})"
        )


def _stack(values: list[Any]) -> Tensor:
    arrays = [value.data if isinstance(value, Tensor) else np.asarray(value) for value in values]
    return Tensor._wrap(np.stack(arrays))

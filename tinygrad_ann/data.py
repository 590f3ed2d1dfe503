"""Small datasets for examples, tests and benchmarks, generated here with no download.

Every function returns fresh float64 NumPy arrays, samples as rows unless noted.

>>> from tinygrad_ann import data
>>> X, y = data.diabetes_table()
>>> X.shape, y.shape
((5, 3), (5,))
>>> X, y = data.two_moons(300, noise=0.2, seed=0)
>>> X.shape, sorted(set(y.tolist()))
((300, 2), [0, 1])
"""

from __future__ import annotations

import numpy as np

__all__ = ["and_gate", "diabetes_table", "two_moons", "xor_bias_column"]


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

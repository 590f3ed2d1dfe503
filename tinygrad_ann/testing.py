"""Property-based gradient testing: Hypothesis strategies and a readable gradient assertion.

Needs Hypothesis (``pip install "tinygrad_ann[testing]"``). The strategies are thin
layers over :mod:`hypothesis.extra.numpy`; :func:`assert_gradients_match` is
:func:`tinygrad_ann.gradcheck` with a failure message that lists the worst elements.

>>> import numpy as np
>>> from hypothesis import given
>>> import tinygrad_ann as tg
>>> from tinygrad_ann.testing import assert_gradients_match, tensors
>>> @given(tensors(shape=(3,)))
... def test_tanh(x):
...     assert_gradients_match(lambda t: t.tanh(), x)
>>> test_tanh()
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "tinygrad_ann.testing needs Hypothesis: pip install 'tinygrad_ann[testing]'"
    ) from error

from .autograd.localize import localize_mismatch
from .autograd.numerical import (
    check_settings,
    compute_jacobians,
    describe_mismatch,
    excess_error,
    forward_mismatches,
)
from .errors import GradcheckError
from .tensor import Tensor

__all__ = [
    "assert_gradients_match",
    "broadcastable_shapes",
    "shapes",
    "tensors",
    "well_conditioned",
]


def shapes(
    min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4
) -> st.SearchStrategy[tuple[int, ...]]:
    """Array shapes, 0-d included by default; small sides keep gradient checks fast."""
    return hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    )


def broadcastable_shapes(
    n: int = 2, min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4
) -> st.SearchStrategy[tuple[tuple[int, ...], ...]]:
    """Tuples of ``n`` shapes that broadcast together under NumPy's rules."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=n, min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    ).map(lambda drawn: drawn.input_shapes)


def well_conditioned(
    min_value: float = -3.0,
    max_value: float = 3.0,
    avoid: Sequence[float] = (),
    margin: float = 0.05,
) -> st.SearchStrategy[float]:
    """Floats in ``[min_value, max_value]`` at least ``margin`` away from each point of ``avoid``.

    Finite differences are only trustworthy where the function is smooth: keep
    inputs of ``abs``, ``relu`` and ``sqrt`` away from 0 (``avoid=(0.0,)``), those
    of ``log`` and ``sqrt`` positive (``min_value=0.1``), and those of ``clip``
    away from its bounds.
    """
    if not min_value < max_value:
        raise ValueError(
            f"well_conditioned: need min_value < max_value, got {min_value} and {max_value}"
        )
    values = st.floats(min_value, max_value, allow_nan=False, allow_infinity=False)
    if avoid:
        points = tuple(avoid)
        values = values.filter(lambda v: all(abs(v - point) >= margin for point in points))
    return values


def tensors(
    shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]] | None = None,
    dtype: Any = np.float64,
    elements: st.SearchStrategy[float] | None = None,
    requires_grad: bool = True,
    unique: bool = False,
    min_gap: float = 0.05,
) -> st.SearchStrategy[Tensor]:
    """Tensors of the given (or drawn) shape with well-conditioned values.

    ``unique=True`` draws values at least ``min_gap`` apart, which keeps ``max``
    and ``min`` away from ties, where they have no derivative (finite
    differences straddling a near-tie disagree with any gradient). Without
    ``elements`` the values then come from a grid of step ``min_gap`` in
    [-3, 3]; with ``elements``, arrays whose values are closer are filtered out.
    """
    drawn_shape = shapes() if shape is None else shape
    if unique and elements is None:
        steps = int(3.0 / min_gap)
        elements = st.integers(-steps, steps).map(lambda step: step * min_gap)
    arrays = hnp.arrays(
        dtype=np.dtype(dtype),
        shape=drawn_shape,
        elements=well_conditioned() if elements is None else elements,
        unique=unique,
    )
    if unique:
        arrays = arrays.filter(lambda array: _min_gap(array) >= min_gap * (1 - 1e-9))
    return arrays.map(lambda array: Tensor(array, requires_grad=requires_grad))


def _min_gap(array: np.ndarray) -> float:
    if array.size < 2:
        return np.inf
    return float(np.diff(np.sort(array, axis=None)).min())


def assert_gradients_match(
    fn: Callable[..., Tensor],
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    worst: int = 3,
    check_forward: bool = False,
) -> None:
    """Assert that autograd and central finite differences agree for ``fn(*inputs)``.

    Checks every element of every input that requires grad, in float64. On
    failure raises :class:`tinygrad_ann.GradcheckError` (an ``AssertionError``)
    listing, per failing input, the ``worst`` elements: their index, the
    analytic and the numeric derivative. A derivative that is nan or infinite
    always fails, listed first, with a note on which side it is and what to
    try. ``eps`` must be a finite number > 0, ``atol`` and ``rtol`` finite
    numbers >= 0, and ``worst`` an integer >= 1 (else ValueError).

    With ``check_forward=True``, J·v from :func:`tinygrad_ann.jvp` is also checked
    against central differences along two random directions (as ``gradcheck``'s
    ``check_forward``), each failing direction listed.
    """
    check_settings("assert_gradients_match", eps, atol, rtol)
    if isinstance(worst, bool) or not isinstance(worst, numbers.Integral) or worst < 1:
        raise ValueError(f"assert_gradients_match: worst must be an integer >= 1, got {worst!r}")
    jacobians = compute_jacobians(fn, inputs, eps)
    output_size = jacobians[0].analytic.shape[0]
    failures = []
    for jacobian in jacobians:
        lines = describe_mismatch(jacobian, output_size, atol, rtol, worst=worst)
        if lines:
            total = int(np.count_nonzero(excess_error(jacobian, atol, rtol) > 0))
            failures.append(
                f"  input {jacobian.position} (shape {jacobian.shape}): {total} mismatching "
                f"entr{'y' if total == 1 else 'ies'}, worst:"
            )
            failures.extend(f"    {line}" for line in lines)
    if failures:
        raise GradcheckError(
            f"gradients do not match finite differences (atol={atol}, rtol={rtol}):\n"
            + "\n".join(failures)
            + "\n"
            + localize_mismatch(fn, inputs, eps, atol, rtol, jacobians=jacobians)
        )
    if check_forward:
        lines = forward_mismatches(fn, inputs, eps, atol, rtol)
        if lines:
            raise GradcheckError(
                f"J·v (tg.jvp) does not match finite differences (atol={atol}, rtol={rtol}):\n"
                + "\n".join(f"  {line}" for line in lines)
            )

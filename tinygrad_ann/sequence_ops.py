"""Primitive ops of sequence models: the error function and the embedding lookup.

Each is one ``Primitive`` with its forward and its vector-Jacobian product side by
side, written once for both orders like the ops in ``ops.py``.

``erf`` is not in NumPy: it is computed here by W. J. Cody's rational Chebyshev
approximations ("Rational Chebyshev approximations for the error function",
Math. Comp. 23, 1969), accurate to float64 rounding, so the exact GELU needs no SciPy.

>>> import numpy as np
>>> from tinygrad_ann.sequence_ops import erf_array
>>> round(float(erf_array(np.array(1.0))), 15)
0.842700792949715
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import DTypeError, LabelError
from .ops import Primitive
from .tensor import array_of
from .vjp_math import exp, scatter_add

__all__ = ["Embedding", "Erf", "erf_array"]

# Cody's coefficients: erf on |x| <= 0.46875 (A/B), erfc·exp(x²) on (0.46875, 4] (C/D)
# and on (4, ∞) in powers of 1/x² (P/Q).
_A = (3.16112374387056560e0, 1.13864154151050156e2, 3.77485237685302021e2, 3.20937758913846947e3)
_A_LEAD = 1.85777706184603153e-1
_B = (2.36012909523441209e1, 2.44024637934444173e2, 1.28261652607737228e3, 2.84423683343917062e3)
_C = (
    5.64188496988670089e-1,
    8.88314979438837594e0,
    6.61191906371416295e1,
    2.98635138197400131e2,
    8.81952221241769090e2,
    1.71204761263407058e3,
    2.05107837782607147e3,
    1.23033935479799725e3,
)
_C_LEAD = 2.15311535474403846e-8
_D = (
    1.57449261107098347e1,
    1.17693950891312499e2,
    5.37181101862009858e2,
    1.62138957456669019e3,
    3.29079923573345963e3,
    4.36261909014324716e3,
    3.43936767414372164e3,
    1.23033935480374942e3,
)
_P = (
    3.05326634961232344e-1,
    3.60344899949804439e-1,
    1.25781726111229246e-1,
    1.60837851487422766e-2,
    6.58749161529837803e-4,
)
_P_LEAD = 1.63153871373020978e-2
_Q = (2.56852019228982242e0, 1.87295284992346047e0, 5.27905102951428412e-1, 6.05183413124413191e-2)
_Q_LAST = 2.33520497626869185e-3
_ONE_OVER_SQRT_PI = 5.6418958354775628695e-1
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _ratio(
    t: np.ndarray, lead: float, numerator: tuple[float, ...], denominator: tuple[float, ...]
) -> np.ndarray:
    """``(lead t^n + num_0 t^(n-1) + ... + num_last) / (t^n + den_0 t^(n-1) + ... + den_last)``
    in Horner's form, as Cody evaluates it; in place on two temporaries, since on a GELU's
    activations this is memory traffic more than arithmetic."""
    top = t * lead
    top += numerator[0]
    bottom = t + denominator[0]
    for a, b in zip(numerator[1:], denominator[1:]):
        top *= t
        top += a
        bottom *= t
        bottom += b
    top /= bottom
    return top


def _exp_minus_square(y: np.ndarray) -> np.ndarray:
    """``exp(-y²)`` with y² split as Cody does, so its rounding is not magnified by exp."""
    head = np.trunc(y * 16.0)
    head /= 16.0
    rest = y - head
    rest *= y + head
    np.negative(rest, out=rest)
    np.exp(rest, out=rest)
    head *= head
    np.negative(head, out=head)
    np.exp(head, out=head)
    head *= rest
    return head


def erf_array(x: np.ndarray) -> np.ndarray:
    """The error function ``erf(x) = 2/√π ∫₀ˣ exp(-t²) dt`` of a float array, elementwise.

    float64 (and anything not float32) is computed in float64, within an ulp; float32
    in float32, within 6 of its ulps (measured against ``math.erf``), at a third of the
    time: the exact GELU of a transformer spends most of its time here.
    """
    x = np.asarray(x)
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    work = np.float32 if dtype == np.float32 else np.float64
    y = np.abs(x).astype(work, copy=False).reshape(-1)  # 1-d: 0-d products are scalars
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        # Both short ranges on every element, then a choice: cheaper than gathering and
        # scattering by masks; the rare |x| > 4 is gathered.
        small = _ratio(y * y, _A_LEAD, _A, _B)
        small *= y
        middle = _ratio(y, _C_LEAD, _C, _D)
        middle *= _exp_minus_square(y)
        np.subtract(1.0, middle, out=middle)
        out = np.where(y <= 0.46875, small, middle)
        large = y > 4.0  # NaN is not, and the formula for (0.46875, 4] keeps it NaN
        if large.any():
            yl = y[large]
            inverse_square = 1.0 / (yl * yl)
            tail = inverse_square * _ratio(inverse_square, _P_LEAD, _P, (*_Q, _Q_LAST))
            erfc = np.where(
                yl < 26.543, _exp_minus_square(yl) * (_ONE_OVER_SQRT_PI - tail) / yl, 0.0
            )
            out[large] = 1.0 - erfc
    return np.copysign(out.reshape(x.shape), x).astype(dtype, copy=False)


class Erf(Primitive):
    """The error function, elementwise."""

    __slots__ = ()
    name = "erf"
    formula = "∂x = ∂y · 2/√π · exp(-x²)"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return erf_array(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        return grad * (_TWO_OVER_SQRT_PI * exp(-(x * x)))


def check_indices(layer: str, indices: Any, num_embeddings: int) -> np.ndarray:
    """``indices`` as an integer array whose entries are rows of a table of ``num_embeddings``."""
    array = np.asarray(indices)
    if array.dtype.kind not in "iu":
        raise DTypeError(
            f"{layer}: indices must be integers, got dtype {array.dtype}; convert them, e.g. "
            "np.asarray(indices, dtype=np.int64)"
        )
    if array.size:
        low, high = int(array.min()), int(array.max())
        if low < 0 or high >= num_embeddings:
            bad = low if low < 0 else high
            raise LabelError(
                f"{layer}: index {bad} is out of range for a table of {num_embeddings} "
                f"embeddings (valid indices are 0 to {num_embeddings - 1})"
            )
    return array


class Embedding(Primitive):
    """Rows of ``weight`` picked by integer ``indices``: ``weight[indices]``.

    The VJP adds each upstream row into the row it came from (repeated indices add
    up); the row ``padding_idx`` gets no gradient.
    """

    __slots__ = ()
    name = "embedding"
    formula = "∂W[i] = Σ ∂y over the positions holding index i (none for padding_idx)"

    @classmethod
    def explain_value_error(cls, arrays, error):
        if isinstance(error, LabelError | DTypeError):  # it names the layer and the indices
            return error
        return super().explain_value_error(arrays, error)

    @staticmethod
    def forward(ctx, weight, indices, padding_idx, layer):
        # Checked here, so that every run of the op (a compiled replay too) checks.
        indices = check_indices(layer, indices, weight.shape[0]).copy()
        ctx.save_for_backward(weight.shape, indices, padding_idx)
        return weight[indices]

    @staticmethod
    def backward(ctx, grad):
        shape, indices, padding_idx = ctx.saved
        if padding_idx is not None:
            grad = grad * (indices != padding_idx)[..., None].astype(array_of(grad).dtype)
        return scatter_add(grad, shape, indices), None

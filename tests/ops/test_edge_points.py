"""Every op of the op table at its edge points: zeros, infinities, ties, kinks, poles.

The op table (op_specs.py) draws well-conditioned inputs, where finite differences can
check the gradients. Here each op meets the points they cannot see, and its value and
gradient there are stated exactly, with the reason (the math, or a convention) in the
case's id. docs/edge_points.md compares every case with PyTorch and says why each
difference is kept.

Each case also states how NumPy's floating-point checks must behave (``fp``):

- ``"raise"``: nothing at all, under ``np.errstate(all="raise")``;
- ``"underflow"``: only underflow, a result that rounds to 0 (exp(-1e4)), which NumPy
  ignores by default; overflow, invalid operations and division by zero still raise;
- ``"nonfinite"``: the value or gradient is itself inf or NaN (log(0), 0 · inf), and
  NumPy's warning about it is the expected report; it is silenced here.

RuntimeWarnings are errors in the whole suite (pyproject.toml), so a case that warned
would fail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import ops
from tinygrad_ann.autograd import Function

INF, NAN = np.inf, np.nan
ERRSTATE = {
    "raise": {"all": "raise"},
    "underflow": {"all": "raise", "under": "ignore"},
    "nonfinite": {"all": "ignore"},
}


@dataclass(frozen=True)
class Edge:
    """``fn(*leaves)`` at one edge point: its value and the gradient of each leaf.

    ``upstream`` is the gradient fed to the output (ones by default). ``second``, where
    given, is the gradient of ``sum(first-order gradients)`` with respect to each leaf.
    """

    op: str
    point: str
    fn: Callable[..., tg.Tensor]
    inputs: tuple[Any, ...]
    value: Any
    grads: tuple[Any, ...]
    second: tuple[Any, ...] | None = None
    upstream: Any = None
    fp: str = "raise"
    rtol: float = 0.0

    @property
    def id(self) -> str:
        return f"{self.op}: {self.point}"


def edge(op, point, fn, inputs, value, grads, **options) -> Edge:
    return Edge(op, point, fn, tuple(inputs), value, tuple(grads), **options)


def _add(a, b):
    return a + b


def _sub(a, b):
    return a - b


def _mul(a, b):
    return a * b


def _div(a, b):
    return a / b


def _pow(a, b):
    return a**b


def _softmax_last(x):
    return tg.softmax(x, -1)


def _log_softmax_last(x):
    return tg.log_softmax(x, -1)


UPSTREAM_12 = np.array([[1.0, 2.0]])  # softmax's gradient under ones is 0 everywhere
LABELS_00 = np.array([0, 0])

CASES: list[Edge] = [
    # ---------------------------------------------------------------- arithmetic
    edge(
        "add",
        "inf + -inf is NaN, inf + inf is inf; d = 1 whatever the values",
        _add,
        [[INF, INF], [-INF, INF]],
        [NAN, INF],
        [[1, 1], [1, 1]],
        fp="nonfinite",
    ),
    edge(
        "sub",
        "inf - inf is NaN; da = 1, db = -1 whatever the values",
        _sub,
        [[INF, INF], [INF, -INF]],
        [NAN, INF],
        [[1, 1], [-1, -1]],
        fp="nonfinite",
    ),
    edge(
        "mul",
        "0 * inf is NaN, overflow is inf; da = b, db = a",
        _mul,
        [[0.0, INF, 1e300], [INF, INF, 1e300]],
        [NAN, INF, INF],
        [[INF, INF, 1e300], [0.0, INF, 1e300]],
        fp="nonfinite",
    ),
    edge(
        "div",
        "x / 0 is +-inf (0 / 0 NaN); da = 1/b = inf, db = -(a/b)/b",
        _div,
        [[1.0, -1.0, 0.0, 1.0], [0.0, 0.0, 0.0, -0.0]],
        [INF, -INF, NAN, -INF],
        [[INF, INF, INF, -INF], [-INF, INF, NAN, -INF]],
        fp="nonfinite",
    ),
    edge(
        "div",
        "x / inf is 0 and db = -x/inf^2 = -0; inf / inf is NaN",
        _div,
        [[1.0, 0.0, INF], [INF, INF, INF]],
        [0.0, 0.0, NAN],
        [[0.0, 0.0, 0.0], [-0.0, -0.0, NAN]],
        fp="nonfinite",
    ),
    edge(
        "div",
        "0 / 1e-200: db = -a/b^2 is exactly 0, with no underflow of b^2",
        _div,
        [[0.0], [1e-200]],
        [0.0],
        [[1e200], [-0.0]],
    ),
    edge(
        "neg",
        "+-inf and 0 change sign; d = -1",
        lambda x: -x,
        [[INF, -INF, 0.0]],
        [-INF, INF, -0.0],
        [[-1, -1, -1]],
    ),
    # ---------------------------------------------------------------- pow at 0
    # a^b is taken to have ∂/∂a = 0 where b = 0 (a^0 is the constant 1, also at a = 0) and
    # ∂/∂b = 0 at a = 0 where b >= 0 (PyTorch's convention: 0^b is 0 for b > 0, 1 at b = 0);
    # elsewhere ∂a = b·a^(b-1) and ∂b = a^b · ln a.
    edge(
        "pow",
        "x^0 at x = 0, -0, +-inf: the constant 1, so d = 0 in every order",
        lambda x: x**0,
        [[0.0, -0.0, INF, -INF]],
        [1, 1, 1, 1],
        [[0, 0, 0, 0]],
        second=([0, 0, 0, 0],),
    ),
    edge(
        "pow",
        "x^0.0 (a float exponent) at 0: d = 0",
        lambda x: x**0.0,
        [[0.0]],
        [1.0],
        [[0.0]],
        second=([0.0],),
    ),
    edge(
        "pow",
        "x^1 at 0: d = 1*0^0 = 1, d2 = 0 (0^0 is constant)",
        lambda x: x**1,
        [[0.0]],
        [0.0],
        [[1.0]],
        second=([0.0],),
    ),
    edge(
        "pow",
        "x^2 at 0: d = 2*0 = 0, d2 = 2",
        lambda x: x**2,
        [[0.0]],
        [0.0],
        [[0.0]],
        second=([2.0],),
    ),
    edge(
        "pow",
        "x^3 at 0: d = 3*0^2 = 0, d2 = 6*0 = 0",
        lambda x: x**3,
        [[0.0]],
        [0.0],
        [[0.0]],
        second=([0.0],),
    ),
    edge(
        "pow",
        "x^[0, 2] (a constant array exponent) at 0: d = [0, 0], d2 = [0, 2]",
        lambda x: x ** np.array([0.0, 2.0]),
        [[0.0, 0.0]],
        [1, 0],
        [[0, 0]],
        second=([0, 2],),
    ),
    edge(
        "pow",
        "x^0.5 at 0: the slope of sqrt at 0 is inf",
        lambda x: x**0.5,
        [[0.0]],
        [0.0],
        [[INF]],
        fp="nonfinite",
    ),
    edge(
        "pow",
        "x^-1 at 0: the pole, 1/0 = inf and d = -1/0^2 = -inf",
        lambda x: x**-1,
        [[0.0]],
        [INF],
        [[-INF]],
        fp="nonfinite",
    ),
    edge(
        "pow",
        "(-0)^0.5 = sqrt(-0) = -0; d = 0.5*(-0)^-0.5 = +inf (IEEE pow(-0, -0.5) = +inf)",
        lambda x: x**0.5,
        [[-0.0]],
        [-0.0],
        [[INF]],
        fp="nonfinite",
    ),
    edge(
        "pow",
        "(-0)^-0.5 = +inf (IEEE pow); d = -0.5*(-0)^-1.5 = -inf",
        lambda x: x**-0.5,
        [[-0.0]],
        [INF],
        [[-INF]],
        fp="nonfinite",
    ),
    edge(
        "pow",
        "(-inf)^0.5 is NaN (a square root); d = 0.5*(-inf)^-0.5 = 0 (IEEE pow)",
        lambda x: x**0.5,
        [[-INF]],
        [NAN],
        [[0.0]],
        fp="nonfinite",
    ),
    edge(
        "pow",
        "(-inf)^-0.5 = 0 and d = -0.5*(-inf)^-1.5 = -0 (IEEE pow)",
        lambda x: x**-0.5,
        [[-INF]],
        [0.0],
        [[-0.0]],
    ),
    edge(
        "pow",
        "x^y at x = 0, y = 0, 1, 2, 3: dx = y*0^(y-1) (0 for y = 0), dy = 0",
        _pow,
        [[0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 2.0, 3.0]],
        [1, 0, 0, 0],
        [[0, 1, 0, 0], [0, 0, 0, 0]],
        # Rows of the Hessian summed. y = 2 and 3 are exact: f_xx + f_xy = 2 + 0 and 0 + 0,
        # f_xy + f_yy = 0. At y = 0 and 1 f_xy (1/x and 1 + ln x) is infinite at x = 0; the
        # derivatives of the conventions above give ∂(∂x)/∂y = 0^(y-1+[y=0]) = 1 instead.
        second=([0, 0, 2, 0], [1, 1, 0, 0]),
    ),
    edge(
        "pow",
        "x^y at x = -0: as at +0",
        _pow,
        [[-0.0, -0.0], [0.0, 2.0]],
        [1, 0],
        [[0, -0.0], [0, 0]],
    ),
    edge(
        "pow",
        "x^y at x = 0, y = 0.5, -1, -0.5, inf, -inf: dx = y*0^(y-1), dy = 0 for y >= 0,"
        " else 0^y*ln 0 = inf*(-inf)",
        _pow,
        [[0.0] * 5, [0.5, -1.0, -0.5, INF, -INF]],
        [0, INF, INF, 0, INF],
        [[INF, -INF, -INF, NAN, -INF], [0, -INF, -INF, 0, -INF]],
        fp="nonfinite",
    ),
    edge(
        "pow",
        "x^y at x = inf, y = 0, 1, 2, -1: dx = y*inf^(y-1), dy = inf^y * ln inf",
        _pow,
        [[INF] * 4, [0.0, 1.0, 2.0, -1.0]],
        [1, INF, INF, 0],
        [[0, 1, INF, -0.0], [INF, INF, INF, NAN]],
        fp="nonfinite",
    ),
    edge(
        "pow",
        "x^y at x = -1, y = 2, 0.5: ln(-1) is NaN, so dy is; (-1)^0.5 is NaN",
        _pow,
        [[-1.0, -1.0], [2.0, 0.5]],
        [1, NAN],
        [[-2, NAN], [NAN, NAN]],
        fp="nonfinite",
    ),
    edge(
        "pow",
        "1^inf = 1 (IEEE pow), dx = inf*1^inf, dy = 1*ln 1 = 0; 2^+-inf is inf and 0",
        _pow,
        [[1.0, 2.0, 2.0], [INF, INF, -INF]],
        [1, INF, 0],
        [[INF, INF, NAN], [0, INF, 0]],
        fp="nonfinite",
    ),
    edge(
        "pow",
        "x (2, 1) = [[0], [1]] broadcast against y (1, 2) = [[0, 2]]: as elementwise",
        _pow,
        [[[0.0], [1.0]], [[0.0, 2.0]]],
        [[1, 0], [1, 1]],
        [[[0], [2]], [[0, 0]]],
        # Per pair (f_xx + f_xy, f_xy + f_yy): (0, 0) as above (0, 1); (0, 2) (2, 0);
        # (1, 0) (0 + 1, 1 + 0): away from x = 0 f_xy = x^(y-1) is untouched; (1, 2) (3, 1).
        second=([[2], [4]], [[2, 1]]),
    ),
    edge(
        "pow",
        "0^y (a constant base 0) at y = 0, 2, 0.5, inf: dy = 0 (convention above)",
        lambda y: 0.0**y,
        [[0.0, 2.0, 0.5, INF]],
        [1, 0, 0, 0],
        [[0, 0, 0, 0]],
        second=([0, 0, 0, 0],),
    ),
    edge(
        "pow",
        "0^-1 (a constant base 0) is inf; dy = inf*ln 0 = -inf",
        lambda y: 0.0**y,
        [[-1.0]],
        [INF],
        [[-INF]],
        fp="nonfinite",
    ),
    edge("pow", "2^-inf = 0, dy = 0*ln 2 = 0", lambda y: 2.0**y, [[-INF]], [0], [[0]]),
    # ---------------------------------------------------------------- matrix products
    edge(
        "matmul",
        "[inf, 0]*[0, 1] = inf*0 + 0 is NaN; da = b, db = a",
        tg.matmul,
        [[INF, 0.0], [0.0, 1.0]],
        NAN,
        [[0, 1], [INF, 0]],
        fp="nonfinite",
    ),
    edge(
        "linear",
        "x = [[inf, 0]] through w = [[1, 1]]: inf; dw = x, dx = w, db = 1",
        F.linear,
        [[[INF, 0.0]], [[1.0, 1.0]], [0.0]],
        [[INF]],
        [[[1, 1]], [[INF, 0]], [1]],
    ),
    edge(
        "cast",
        "to float32: 1e300 overflows to inf, 1e-50 to 0; d = 1, cast back",
        lambda x: x.astype(np.float32),
        [[1e300, -1e300, 1e-50, INF]],
        [INF, -INF, 0, INF],
        [[1, 1, 1, 1]],
        fp="nonfinite",
    ),
    # ---------------------------------------------------------------- elementwise
    edge(
        "exp",
        "exp(-inf) = 0 and exp(0) = 1; d = exp(x)",
        tg.exp,
        [[-INF, 0.0]],
        [0, 1],
        [[0, 1]],
        second=([0, 1],),
    ),
    edge(
        "exp",
        "exp(-1e4) underflows to 0, and so does its slope",
        tg.exp,
        [[-1e4]],
        [0],
        [[0]],
        fp="underflow",
    ),
    edge(
        "exp",
        "exp(inf) and exp(710) are inf (overflow)",
        tg.exp,
        [[INF, 710.0]],
        [INF, INF],
        [[INF, INF]],
        fp="nonfinite",
    ),
    edge(
        "log",
        "log(+-0) = -inf; d = 1/x = +-inf",
        tg.log,
        [[0.0, -0.0]],
        [-INF, -INF],
        [[INF, -INF]],
        fp="nonfinite",
    ),
    edge("log", "log(inf) = inf, d = 1/inf = 0", tg.log, [[INF]], [INF], [[0.0]]),
    edge("log", "log(-1) is NaN, d = 1/x = -1", tg.log, [[-1.0]], [NAN], [[-1.0]], fp="nonfinite"),
    edge(
        "sqrt",
        "sqrt(+-0) = +-0; d = 1/(2 sqrt x) = +-inf",
        tg.sqrt,
        [[0.0, -0.0]],
        [0, -0.0],
        [[INF, -INF]],
        fp="nonfinite",
    ),
    edge(
        "sqrt",
        "sqrt(inf) = inf, d = 1/(2 inf) = 0, d2 = -1/(4 x^1.5) = 0",
        tg.sqrt,
        [[INF]],
        [INF],
        [[0.0]],
        second=([0.0],),
    ),
    edge(
        "abs",
        "the kink at +-0 has d = sign(0) = 0 (a subgradient, PyTorch's); d = +-1 at +-inf",
        tg.abs,
        [[0.0, -0.0, INF, -INF]],
        [0, 0, INF, INF],
        [[0, 0, 1, -1]],
        second=([0, 0, 0, 0],),
    ),
    edge(
        "clip",
        "[-1, 1.5] at its bounds passes the gradient (lo <= x <= hi, as PyTorch's "
        "clamp); +-inf are clipped with d = 0",
        lambda x: tg.clip(x, -1.0, 1.5),
        [[-1.0, 1.5, INF, -INF, 0.0]],
        [-1, 1.5, 1.5, -1, 0],
        [[1, 1, 0, 0, 1]],
    ),
    edge(
        "clip",
        "lower bound only: d = 1 at the bound and at inf",
        lambda x: tg.clip(x, -1.0, None),
        [[-1.0, INF, -INF]],
        [-1, INF, -1],
        [[1, 1, 0]],
    ),
    edge(
        "clip",
        "upper bound only: d = 1 at the bound and at -inf",
        lambda x: tg.clip(x, None, 1.5),
        [[1.5, -INF, INF]],
        [1.5, -INF, 1.5],
        [[1, 1, 0]],
    ),
    edge(
        "clip",
        "lo = hi: x at the bound keeps d = 1",
        lambda x: tg.clip(x, 1.0, 1.0),
        [[1.0, 0.0]],
        [1, 1],
        [[1, 0]],
    ),
    edge(
        "relu",
        "the kink at +-0 has d = 0 (x > 0, PyTorch's); relu(-inf) = 0",
        tg.relu,
        [[0.0, -0.0, INF, -INF]],
        [0, 0, INF, 0],
        [[0, 0, 1, 0]],
        second=([0, 0, 0, 0],),
    ),
    edge(
        "leaky_relu",
        "at +-0 the negative side's slope (x > 0, PyTorch's); +-inf stay inf",
        lambda x: F.leaky_relu(x, 0.01),
        [[0.0, -0.0, INF, -INF]],
        [0, -0.0, INF, -INF],
        [[0.01, 0.01, 1, 0.01]],
    ),
    edge(
        "sigmoid",
        "sigmoid(+-inf) = 1, 0 and sigmoid(0) = 1/2; d = s(1 - s)",
        tg.sigmoid,
        [[INF, -INF, 0.0]],
        [1, 0, 0.5],
        [[0, 0, 0.25]],
        second=([0, 0, 0],),
    ),
    edge(
        "sigmoid",
        "sigmoid(+-1e4), sigmoid(+-750) saturate exactly to 1 and 0, d = 0",
        tg.sigmoid,
        [[1e4, -1e4, 750.0, -750.0]],
        [1, 0, 1, 0],
        [[0, 0, 0, 0]],
        second=([0, 0, 0, 0],),
        fp="underflow",
    ),
    edge(
        "tanh",
        "tanh(+-inf), tanh(+-1e4) = +-1, d = 1 - y^2 = 0; tanh'(0) = 1",
        tg.tanh,
        [[INF, -INF, 1e4, -1e4, 0.0]],
        [1, -1, 1, -1, 0],
        [[0, 0, 0, 0, 1]],
        second=([0, 0, 0, 0, 0],),
    ),
    edge(
        "softmax",
        "[1e4, -1e4] saturates to [1, 0], d = s(g - sum g s) = 0",
        _softmax_last,
        [[[1e4, -1e4]]],
        [[1, 0]],
        [[[0, 0]]],
        upstream=UPSTREAM_12,
        fp="underflow",
    ),
    edge(
        "softmax",
        "[-inf, 0] = [0, 1] exactly; d = 0",
        _softmax_last,
        [[[-INF, 0.0]]],
        [[0, 1]],
        [[[0, 0]]],
        upstream=UPSTREAM_12,
    ),
    edge(
        "softmax",
        "[1e4, 1e4] ties to [1/2, 1/2]; d = s(g - sum g s) = [-1/4, 1/4]",
        _softmax_last,
        [[[1e4, 1e4]]],
        [[0.5, 0.5]],
        [[[-0.25, 0.25]]],
        upstream=UPSTREAM_12,
    ),
    edge(
        "softmax",
        "[inf, 0] and [-inf, -inf]: inf - inf is NaN in the shift by the max",
        _softmax_last,
        [[[INF, 0.0], [-INF, -INF]]],
        [[NAN, NAN], [NAN, NAN]],
        [[[NAN, NAN], [NAN, NAN]]],
        fp="nonfinite",
    ),
    edge(
        "softmax",
        "over axis 0 of [[1e4], [-1e4]]: [[1], [0]]",
        lambda x: tg.softmax(x, 0),
        [[[1e4], [-1e4]]],
        [[1], [0]],
        [[[0], [0]]],
        upstream=np.array([[1.0], [2.0]]),
        fp="underflow",
    ),
    edge(
        "log_softmax",
        "[1e4, -1e4] = [0, -2e4]; d = g - exp(y) sum g = [1 - 3, 2 - 0]",
        _log_softmax_last,
        [[[1e4, -1e4]]],
        [[0, -2e4]],
        [[[-2, 2]]],
        upstream=UPSTREAM_12,
        fp="underflow",
    ),
    edge(
        "log_softmax",
        "[-inf, 0] = [-inf, 0]; d = [1 - 0*3, 2 - 1*3]",
        _log_softmax_last,
        [[[-INF, 0.0]]],
        [[-INF, 0]],
        [[[1, -1]]],
        upstream=UPSTREAM_12,
    ),
    edge(
        "log_softmax",
        "[1e4, 1e4] = -ln 2 twice; d = [1 - 3/2, 2 - 3/2]",
        _log_softmax_last,
        [[[1e4, 1e4]]],
        [[-np.log(2.0), -np.log(2.0)]],
        [[[-0.5, 0.5]]],
        upstream=UPSTREAM_12,
    ),
    edge(
        "log_softmax",
        "[inf, 0] and [-inf, -inf]: NaN, as softmax",
        _log_softmax_last,
        [[[INF, 0.0], [-INF, -INF]]],
        [[NAN, NAN], [NAN, NAN]],
        [[[NAN, NAN], [NAN, NAN]]],
        fp="nonfinite",
    ),
    edge(
        "maximum",
        "ties (1, +-inf, +-0) split the gradient in halves (PyTorch's); inf > 1",
        tg.maximum,
        [[1.0, INF, -INF, 0.0, INF], [1.0, INF, -INF, -0.0, 1.0]],
        [1, INF, -INF, 0, INF],
        [[0.5, 0.5, 0.5, 0.5, 1], [0.5, 0.5, 0.5, 0.5, 0]],
    ),
    edge(
        "minimum",
        "ties (1, +-inf, +-0) split the gradient in halves (PyTorch's); -inf < 1",
        tg.minimum,
        [[1.0, INF, -INF, 0.0, -INF], [1.0, INF, -INF, -0.0, 1.0]],
        [1, INF, -INF, 0, -INF],
        [[0.5, 0.5, 0.5, 0.5, 1], [0.5, 0.5, 0.5, 0.5, 0]],
    ),
    edge(
        "where",
        "the side not chosen may hold inf or NaN: its gradient is 0, not 0*inf",
        lambda a, b: tg.where(np.array([True, False]), a, b),
        [[1.0, INF], [NAN, 2.0]],
        [1, 2],
        [[1, 0], [0, 1]],
    ),
    # ---------------------------------------------------------------- reductions
    edge("sum", "inf + 1 = inf; d = 1", lambda x: x.sum(), [[INF, 1.0]], INF, [[1, 1]]),
    edge(
        "sum",
        "inf + -inf is NaN; d = 1",
        lambda x: x.sum(),
        [[INF, -INF]],
        NAN,
        [[1, 1]],
        fp="nonfinite",
    ),
    edge(
        "mean", "mean([inf, 1]) = inf; d = 1/2", lambda x: x.mean(), [[INF, 1.0]], INF, [[0.5, 0.5]]
    ),
    edge(
        "max",
        "tied maxima share the gradient equally (PyTorch's max() and amax)",
        lambda x: x.max(),
        [[3.0, 3.0, 1.0]],
        3,
        [[0.5, 0.5, 0]],
    ),
    edge(
        "max",
        "inf tied with inf shares; all -inf shares among all",
        lambda x: x.max(axis=1),
        [[[INF, INF, 0.0], [-INF, -INF, -INF]]],
        [INF, -INF],
        [[[0.5, 0.5, 0], [1 / 3, 1 / 3, 1 / 3]]],
    ),
    edge(
        "min",
        "tied minima share the gradient equally (PyTorch's min() and amin)",
        lambda x: x.min(),
        [[-3.0, 1.0, -3.0]],
        -3,
        [[0.5, 0, 0.5]],
    ),
    edge(
        "min",
        "-inf tied with -inf shares; all inf shares among all",
        lambda x: x.min(axis=1),
        [[[-INF, 0.0, -INF], [INF, INF, INF]]],
        [-INF, INF],
        [[[0.5, 0, 0.5], [1 / 3, 1 / 3, 1 / 3]]],
    ),
    # ---------------------------------------------------------------- shape
    # No arithmetic touches the values: inf and NaN pass through, gradients are moved.
    edge(
        "reshape",
        "inf and NaN pass through",
        lambda x: x.reshape(-1),
        [[[INF, NAN], [-INF, 0.0]]],
        [INF, NAN, -INF, 0],
        [[[1, 1], [1, 1]]],
    ),
    edge(
        "transpose",
        "inf and NaN pass through",
        lambda x: x.T,
        [[[INF, NAN], [-INF, 0.0]]],
        [[INF, -INF], [NAN, 0]],
        [[[1, 1], [1, 1]]],
    ),
    edge(
        "getitem",
        "a repeated index of inf: the gradients add up (2)",
        lambda x: x[np.array([0, 0, 1])],
        [[INF, -INF, NAN]],
        [INF, INF, -INF],
        [[2, 1, 0]],
    ),
    edge(
        "scatter_add",
        "inf added at a repeated index stays inf; d = the gradient at the index",
        lambda v: ops.scatter_add(v, (3,), np.array([0, 0, 2])),
        [[INF, 1.0, -INF]],
        [INF, 0, -INF],
        [[1, 1, 1]],
    ),
    edge(
        "broadcast_to",
        "inf copied; d sums the copies",
        lambda x: ops.broadcast_to(x, (2, 2)),
        [[INF, -INF]],
        [[INF, -INF], [INF, -INF]],
        [[2, 2]],
    ),
    edge(
        "concatenate",
        "inf and NaN pass through",
        lambda a, b: tg.concatenate([a, b]),
        [[INF], [-INF, NAN]],
        [INF, -INF, NAN],
        [[1], [1, 1]],
    ),
    edge(
        "stack",
        "inf passes through",
        lambda a, b: tg.stack([a, b]),
        [[INF], [-INF]],
        [[INF], [-INF]],
        [[1], [1]],
    ),
    # ---------------------------------------------------------------- losses
    edge(
        "mse_loss",
        "prediction +-1e4 against -+1e4: (2e4)^2 = 4e8, d = 2(p - t)/N",
        lambda p: F.mse_loss(p, [-1e4, 1e4]),
        [[1e4, -1e4]],
        4e8,
        [[2e4, -2e4]],
    ),
    edge(
        "mse_loss",
        "an inf prediction: inf, d = inf",
        lambda p: F.mse_loss(p, [0.0, 0.0], reduction="sum"),
        [[INF, 0.0]],
        INF,
        [[INF, 0]],
        fp="nonfinite",
    ),
    edge(
        "cross_entropy",
        "logits +-1e4: losses 0 and 2e4, d = (softmax - onehot)/N",
        lambda x: F.cross_entropy(x, LABELS_00),
        [[[1e4, -1e4], [-1e4, 1e4]]],
        1e4,
        [[[0, 0], [-0.5, 0.5]]],
        fp="underflow",
    ),
    edge(
        "cross_entropy",
        "logits +-1e4, reduction='sum'",
        lambda x: F.cross_entropy(x, LABELS_00, reduction="sum"),
        [[[1e4, -1e4], [-1e4, 1e4]]],
        2e4,
        [[[0, 0], [-1, 1]]],
        fp="underflow",
    ),
    edge(
        "cross_entropy",
        "logits +-1e4, reduction='none'",
        lambda x: F.cross_entropy(x, LABELS_00, reduction="none"),
        [[[1e4, -1e4], [-1e4, 1e4]]],
        [0, 2e4],
        [[[0, 0], [-1, 1]]],
        fp="underflow",
    ),
    edge(
        "cross_entropy",
        "[1e4, -1e4, 0] with label 1: loss 2e4, d = [1, -1, 0]",
        lambda x: F.cross_entropy(x, np.array([1])),
        [[[1e4, -1e4, 0.0]]],
        2e4,
        [[[1, -1, 0]]],
        fp="underflow",
    ),
    edge(
        "cross_entropy",
        "a -inf logit not the label: loss 0, d = 0",
        lambda x: F.cross_entropy(x, np.array([0])),
        [[[0.0, -INF]]],
        0,
        [[[0, 0]]],
    ),
    edge(
        "cross_entropy",
        "a -inf logit as the label: loss inf, d = softmax - onehot = [1, -1]",
        lambda x: F.cross_entropy(x, np.array([1])),
        [[[0.0, -INF]]],
        INF,
        [[[1, -1]]],
    ),
    edge(
        "cross_entropy",
        "an inf logit: NaN (inf - inf), as softmax",
        lambda x: F.cross_entropy(x, np.array([0])),
        [[[INF, 0.0]]],
        NAN,
        [[[NAN, NAN]]],
        fp="nonfinite",
    ),
    edge(
        "cross_entropy",
        "probabilities [1/2, 1/2] at +-1e4: 1e4, d = softmax - p",
        lambda x: F.cross_entropy(x, np.array([[0.5, 0.5]])),
        [[[1e4, -1e4]]],
        1e4,
        [[[0.5, -0.5]]],
        fp="underflow",
    ),
    edge(
        "cross_entropy",
        "probability 0 on a -inf logit: 0*(-inf) is NaN, d = softmax - p = 0",
        lambda x: F.cross_entropy(x, np.array([[1.0, 0.0]])),
        [[[0.0, -INF]]],
        NAN,
        [[[0, 0]]],
        fp="nonfinite",
    ),
    edge(
        "nll_loss",
        "log-probability -inf at the label: inf; d = -onehot",
        lambda x: F.nll_loss(x, np.array([0])),
        [[[-INF, 0.0]]],
        INF,
        [[[-1, 0]]],
    ),
    edge(
        "nll_loss",
        "-inf elsewhere: 0; d = -onehot",
        lambda x: F.nll_loss(x, np.array([1]), reduction="none"),
        [[[-INF, 0.0]]],
        [-0.0],
        [[[0, -1]]],
    ),
    # log p and log(1 - p) are floored at -100 and p(1 - p) at 1e-12 in the gradient, as
    # PyTorch does, so p = 0 and p = 1 give finite values.
    edge(
        "binary_cross_entropy",
        "p = 0, 1 against t = 0, 1: 0 and -log(e^-100) = 100; "
        "d = (p - t)/max(p(1 - p), 1e-12) = 0, +-1e12",
        lambda p: F.binary_cross_entropy(p, [0.0, 1.0, 1.0, 0.0], reduction="none"),
        [[0.0, 1.0, 0.0, 1.0]],
        [0, 0, 100, 100],
        [[0, 0, -1e12, 1e12]],
        rtol=1e-15,
    ),
    edge(
        "binary_cross_entropy",
        "p = 0 and 1 against t = 1/2: 50, d = -+5e11",
        lambda p: F.binary_cross_entropy(p, [0.5, 0.5], reduction="none"),
        [[0.0, 1.0]],
        [50, 50],
        [[-5e11, 5e11]],
        rtol=1e-15,
    ),
    edge(
        "binary_cross_entropy",
        "p = 1e-300 against t = 0: -log(1 - p) rounds to 0; d = p / 1e-12",
        lambda p: F.binary_cross_entropy(p, [0.0]),
        [[1e-300]],
        0,
        [[1e-288]],
        rtol=1e-15,
    ),
    edge(
        "binary_cross_entropy_with_logits",
        "x = +-1e4: losses 0, 0, 1e4, 1e4, d = sigmoid(x) - t",
        lambda x: F.binary_cross_entropy_with_logits(x, [1.0, 0.0, 0.0, 1.0], reduction="none"),
        [[1e4, -1e4, 1e4, -1e4]],
        [0, 0, 1e4, 1e4],
        [[0, 0, 1, -1]],
        fp="underflow",
    ),
    edge(
        "binary_cross_entropy_with_logits",
        "x = +-1e4 against t = 1/2: 5e3, d = +-1/2",
        lambda x: F.binary_cross_entropy_with_logits(x, [0.5, 0.5], reduction="sum"),
        [[1e4, -1e4]],
        1e4,
        [[0.5, -0.5]],
        fp="underflow",
    ),
    edge(
        "binary_cross_entropy_with_logits",
        "x = inf: inf unless t = 1 (inf*0 is NaN there); "
        "x = -inf: inf unless t = 0 (NaN); d = sigmoid(x) - t",
        lambda x: F.binary_cross_entropy_with_logits(
            x, [0.0, 0.5, 1.0, 0.0, 0.5, 1.0], reduction="none"
        ),
        [[INF, INF, INF, -INF, -INF, -INF]],
        [INF, INF, NAN, NAN, INF, INF],
        [[1, 0.5, 0, 0, -0.5, -1]],
        fp="nonfinite",
    ),
    # ---------------------------------------------------------------- the first-hour ops
    edge(
        "log1p",
        "log1p(-1) = -inf, d = 1/(1 + x) = inf",
        tg.log1p,
        [[-1.0]],
        [-INF],
        [[INF]],
        fp="nonfinite",
    ),
    edge("expm1", "expm1(-inf) = -1, d = exp(x) = 0", tg.expm1, [[-INF]], [-1.0], [[0.0]]),
    edge(
        "sin",
        "sin(0) = 0, d = cos 0 = 1, d² = -sin 0 = 0",
        tg.sin,
        [[0.0]],
        [0.0],
        [[1.0]],
        second=([0.0],),
    ),
    edge(
        "cos",
        "cos(0) = 1, d = -sin 0 = 0, d² = -cos 0 = -1",
        tg.cos,
        [[0.0]],
        [1.0],
        [[0.0]],
        second=([-1.0],),
    ),
    edge(
        "clone",
        "inf and NaN are copied as they are; d = 1",
        lambda x: x.clone(),
        [[INF, NAN]],
        [INF, NAN],
        [[1.0, 1.0]],
        fp="nonfinite",
    ),
    edge(
        "round",
        "halves round to even (as PyTorch); d = 0 everywhere, even at the jumps",
        lambda x: x.round(),
        [[0.5, 1.5, -0.5]],
        [0.0, 2.0, -0.0],
        [[0.0, 0.0, 0.0]],
    ),
    edge(
        "remainder",
        "x % 0 is NaN (as PyTorch); da = 1, db = -floor(a / b) = -inf",
        lambda a, b: a % b,
        [[1.0], [0.0]],
        [NAN],
        [[1.0], [-INF]],
        fp="nonfinite",
    ),
    edge(
        "remainder",
        "the sign of the divisor, as Python's %; da = 1, db = -floor(a / b)",
        lambda a, b: a % b,
        [[-1.0, 5.0], [3.0, -2.0]],
        [2.0, -1.0],
        [[1.0, 1.0], [1.0, 3.0]],
    ),
    edge(
        "floor_divide",
        "1 // 0 = inf; d = 0 on both sides (a step function)",
        lambda a, b: a // b,
        [[1.0], [0.0]],
        [INF],
        [[0.0], [0.0]],
        fp="nonfinite",
    ),
    edge(
        "cumsum",
        "inf - inf is NaN from there on; d = the reversed cumulative sum of ones",
        lambda x: x.cumsum(0),
        [[1.0, INF, -INF]],
        [1.0, INF, NAN],
        [[3.0, 2.0, 1.0]],
        fp="nonfinite",
    ),
    edge(
        "logsumexp",
        "±1e4: shifted by the max, no overflow; d = softmax = 1/2",
        lambda x: x.logsumexp(0),
        [[1e4, 1e4]],
        1e4 + np.log(2.0),
        [[0.5, 0.5]],
        rtol=1e-12,  # 1e4 + log 2 is rounded: exp(x - y) is 1/2 to 1e-13
    ),
    edge(
        "logsumexp",
        "-1e4 and 0: exp(-1e4) underflows to 0, d = softmax = [0, 1]",
        lambda x: x.logsumexp(0),
        [[-1e4, 0.0]],
        0.0,
        [[0.0, 1.0]],
        fp="underflow",
    ),
    edge(
        "logsumexp",
        "every term exp(-inf): -inf, d = exp(-inf - -inf) is NaN (as PyTorch)",
        lambda x: x.logsumexp(0),
        [[-INF, -INF]],
        -INF,
        [[NAN, NAN]],
        fp="nonfinite",
    ),
    edge(
        "var",
        "one element with correction 1: 0/0 is NaN, as in PyTorch; d too",
        lambda x: x.var(),
        [[3.0]],
        NAN,
        [[NAN]],
        fp="nonfinite",
    ),
    edge(
        "var",
        "d = 2 (x - mean) / (n - 1)",
        lambda x: x.var(),
        [[1.0, 2.0, 3.0, 4.0]],
        5.0 / 3.0,
        [[-1.0, -1.0 / 3.0, 1.0 / 3.0, 1.0]],
        rtol=1e-15,
    ),
    edge(
        "norm",
        "the zero vector: 0, d = 0 (a subgradient, as PyTorch)",
        lambda x: x.norm(),
        [[0.0, 0.0]],
        0.0,
        [[0.0, 0.0]],
    ),
    edge(
        "norm",
        "1e200: scaled by the largest |x|, no overflow; d = x / norm",
        lambda x: x.norm(),
        [[1e200, -1e200]],
        np.sqrt(2.0) * 1e200,
        [[np.sqrt(0.5), -np.sqrt(0.5)]],
        rtol=1e-15,
    ),
    edge(
        "norm",
        "p = inf with tied largest |x|: they share the gradient, with their signs",
        lambda x: x.norm(p=np.inf),
        [[3.0, -3.0, 1.0]],
        3.0,
        [[0.5, -0.5, 0.0]],
    ),
]


def _leaves(case: Edge) -> list[tg.Tensor]:
    return [tg.tensor(np.array(x, dtype=np.float64), requires_grad=True) for x in case.inputs]


def _upstream(case: Edge, out: tg.Tensor) -> tg.Tensor:
    return tg.tensor(np.ones(out.shape) if case.upstream is None else case.upstream)


def _assert_equal(actual: np.ndarray, expected: Any, rtol: float, what: str) -> None:
    expected = np.asarray(expected, dtype=actual.dtype)  # float32 after a cast
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=0, err_msg=what, strict=True)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_value_and_gradient(case):
    leaves = _leaves(case)
    with np.errstate(**ERRSTATE[case.fp]):
        out = case.fn(*leaves)
        grads = tg.grad(out, leaves, grad_outputs=_upstream(case, out))
    _assert_equal(out.numpy(), case.value, case.rtol, "value")
    for position, (grad, expected) in enumerate(zip(grads, case.grads)):
        _assert_equal(grad.numpy(), expected, case.rtol, f"gradient of input {position}")
    if case.fp == "nonfinite":  # the category is honest: something is inf or NaN
        results = [out.numpy(), *(g.numpy() for g in grads)]
        assert not all(np.all(np.isfinite(r)) for r in results)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_recorded_backward_gives_the_same_gradient_and_its_derivative(case):
    # The same backward, handed Tensors (create_graph), must agree with the first-order
    # one at the edge too, and be differentiable there where `second` says so.
    leaves = _leaves(case)
    with np.errstate(**ERRSTATE[case.fp]):
        out = case.fn(*leaves)
        grads = tg.grad(out, leaves, grad_outputs=_upstream(case, out), create_graph=True)
        recorded = [g for g in grads if g.requires_grad]
        seconds = None
        if case.second is not None and recorded:
            total = recorded[0].sum()
            for grad in recorded[1:]:
                total = total + grad.sum()
            seconds = tg.grad(total, leaves, allow_unused=True)
    for position, (grad, expected) in enumerate(zip(grads, case.grads)):
        _assert_equal(grad.numpy(), expected, case.rtol, f"gradient of input {position}")
    if case.second is not None:
        for position, expected in enumerate(case.second):
            got = np.zeros(leaves[position].shape)
            if seconds is not None and seconds[position] is not None:
                got = seconds[position].numpy()
            _assert_equal(got, expected, case.rtol, f"second order, input {position}")


def test_every_op_of_the_table_has_edge_points():
    primitives = {
        value.name
        for name, value in vars(ops).items()
        if isinstance(value, type)
        and issubclass(value, Function)
        and value.__module__ == ops.__name__
        and not name.startswith("_")
        and value is not ops.Primitive  # the base class of the built-in ops
        and "backward" in vars(value)  # comparisons and arg-extremes have no derivative
    }
    assert primitives - {case.op for case in CASES} == set()


# ------------------------------------------------------------------ x^0 and 0^y in every order
def derivatives(fn: Callable[[tg.Tensor], tg.Tensor], x: tg.Tensor, order: int) -> list:
    """[f'(x), f''(x), ...] of an elementwise ``fn`` by nesting tg.grad."""
    result = []
    value = fn(x)
    for _ in range(order):
        if not value.requires_grad:  # a constant gradient: every further derivative is 0
            result.append(np.zeros(x.shape))
            continue
        (value,) = tg.grad(value.sum(), x, create_graph=True)
        result.append(value.numpy())
    return result


@pytest.mark.parametrize(
    ("exponent", "expected"),
    [
        (0, [0, 0, 0]),  # the constant 1
        (1, [1, 0, 0]),
        (2, [0, 2, 0]),
        (3, [0, 0, 6]),
    ],
    ids=["x^0", "x^1", "x^2", "x^3"],
)
def test_powers_at_zero_have_their_polynomial_derivatives_in_every_order(exponent, expected):
    x = tg.tensor([0.0, -0.0], requires_grad=True)
    with np.errstate(all="raise"):  # no 0 · inf on the way, not even in a discarded branch
        got = derivatives(lambda t: t**exponent, x, 3)
    for order, (values, value) in enumerate(zip(got, expected), start=1):
        np.testing.assert_array_equal(values, [value, value], err_msg=f"order {order}")


def test_gradient_of_the_exponent_at_base_zero_is_zero_for_nonnegative_exponents():
    x = tg.tensor(np.zeros(4), requires_grad=True)
    y = tg.tensor([0.0, 1.0, 2.0, 10.0], requires_grad=True)
    with np.errstate(all="raise"):
        grad_x, grad_y = tg.grad((x**y).sum(), [x, y])
        (grad_from_constant_base,) = tg.grad((0.0**y).sum(), [y])
    np.testing.assert_array_equal(grad_y.numpy(), np.zeros(4))  # 0^y: 1 at y = 0, then 0
    np.testing.assert_array_equal(grad_from_constant_base.numpy(), np.zeros(4))
    np.testing.assert_array_equal(grad_x.numpy(), [0.0, 1.0, 0.0, 0.0])  # y·0^(y-1), 0 at y = 0


# ------------------------------------------------------------------ against PyTorch
# Points where PyTorch's values and gradients are ours (docs/edge_points.md lists the
# others). `order` 2 also compares the derivative of the summed gradient.
def _theirs_ce(torch, x):
    return torch.nn.functional.cross_entropy(x, torch.tensor([0, 0]))


def _theirs_bce_logits(torch, x):
    target = torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=torch.float64)
    return torch.nn.functional.binary_cross_entropy_with_logits(x, target, reduction="none")


AGREES_WITH_PYTORCH = [
    ("x^0 at 0", lambda x: x**0, lambda torch, x: x**0, [[0.0, -0.0]], 2),
    ("x^1 at 0", lambda x: x**1, lambda torch, x: x**1, [[0.0]], 2),
    ("x^2 at 0", lambda x: x**2, lambda torch, x: x**2, [[0.0]], 2),
    ("x^y at x = 0", _pow, lambda torch, x, y: x**y, [[0.0] * 4, [0.0, 1.0, 2.0, 3.0]], 1),
    ("0^y", lambda y: 0.0**y, lambda torch, y: 0.0**y, [[0.0, 2.0, 0.5, INF]], 1),
    ("sigmoid", tg.sigmoid, lambda torch, x: torch.sigmoid(x), [[INF, -INF, 1e4, -1e4, 0.0]], 2),
    ("tanh", tg.tanh, lambda torch, x: torch.tanh(x), [[INF, -INF, 1e4, -1e4, 0.0]], 2),
    (
        "softmax",
        _softmax_last,
        lambda torch, x: torch.softmax(x, -1),
        [[[1e4, -1e4], [-INF, 0.0], [1e4, 1e4]]],
        2,
    ),
    (
        "log_softmax",
        _log_softmax_last,
        lambda torch, x: torch.log_softmax(x, -1),
        [[[1e4, -1e4], [-INF, 0.0], [1e4, 1e4]]],
        2,
    ),
    (
        "cross_entropy",
        lambda x: F.cross_entropy(x, LABELS_00),
        _theirs_ce,
        [[[1e4, -1e4], [-1e4, 1e4]]],
        2,
    ),
    (
        "binary_cross_entropy_with_logits",
        lambda x: F.binary_cross_entropy_with_logits(x, [1.0, 0.0, 0.0, 1.0], reduction="none"),
        _theirs_bce_logits,
        [[1e4, -1e4, 1e4, -1e4]],
        2,
    ),
]


def _results(leaves, out, upstream, order, grad, numpy):
    """Value, gradients and (order 2) second-order gradients, with tg.grad or PyTorch's."""
    firsts = grad(out, leaves, upstream, create_graph=order > 1)
    results = [numpy(out), *(numpy(first) for first in firsts)]
    if order > 1:
        recorded = [first.sum() for first in firsts if first.requires_grad]
        seconds = [None] * len(leaves)
        if recorded:
            seconds = grad(sum(recorded[1:], recorded[0]), leaves, allow_unused=True)
        for leaf, second in zip(leaves, seconds):
            results.append(np.zeros(tuple(leaf.shape)) if second is None else numpy(second))
    return results


@pytest.mark.parametrize(
    ("ours", "theirs", "inputs", "order"),
    [row[1:] for row in AGREES_WITH_PYTORCH],
    ids=[row[0] for row in AGREES_WITH_PYTORCH],
)
def test_agrees_with_pytorch(ours, theirs, inputs, order):
    torch = pytest.importorskip("torch", reason="PyTorch is an optional reference")
    arrays = [np.array(x, dtype=np.float64) for x in inputs]
    leaves = [tg.tensor(a, requires_grad=True) for a in arrays]
    with np.errstate(**ERRSTATE["underflow"]):
        out = ours(*leaves)
        upstream = np.arange(1.0, out.size + 1).reshape(out.shape)  # softmax: not all ones
        mine = _results(leaves, out, tg.tensor(upstream), order, tg.grad, tg.Tensor.numpy)
    their_leaves = [torch.tensor(a, requires_grad=True) for a in arrays]
    theirs = _results(
        their_leaves,
        theirs(torch, *their_leaves),
        torch.tensor(upstream),
        order,
        torch.autograd.grad,
        lambda t: t.detach().numpy(force=True),  # force: PyTorch's zero gradients are lazy
    )
    for position, (got, expected) in enumerate(zip(mine, theirs, strict=True)):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0, err_msg=f"result {position}")


def test_pow_gradients_of_float32_inputs_are_computed_in_float32_beside_a_zero_base():
    rng = np.random.default_rng(0)
    base = rng.uniform(0.5, 3.0, size=200).astype(np.float32)
    base[0] = 0.0  # a zero base: the backward builds its masks
    exponent = rng.uniform(0.5, 2.5, size=200).astype(np.float32)
    x = tg.tensor(base, requires_grad=True)
    y = tg.tensor(exponent, requires_grad=True)
    (x**y).sum().backward()
    expected = exponent * base ** (exponent - np.float32(1))  # float32 throughout
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data[1:], expected[1:])

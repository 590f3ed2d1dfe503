"""NumPy's operators and functions called with a Tensor operand (``array + tensor``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def _ufunc_error(ufunc: np.ufunc, method: str, kwargs: dict[str, Any]) -> TypeError:
    if "out" in kwargs:
        return TypeError(
            f"np.{ufunc.__name__} of a NumPy array and a Tensor cannot write into the array "
            "(e.g. `p.data += -lr * p.grad`, where p.grad is a Tensor). Use arrays on both sides "
            "(`p.data -= lr * p.grad.data`) or the Tensor's own in-place operator "
            "(`with tg.no_grad(): p -= lr * p.grad`)"
        )
    call = f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
    return TypeError(
        f"{call} was called on a Tensor: NumPy's functions do not record gradients. Use the "
        "Tensor's method or the tg function of the same name (t.exp(), tg.maximum(a, b)), or "
        "t.numpy() for the plain array"
    )


def _compare(comparison: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Tensor]:
    return lambda left, right: Tensor._wrap(np.asarray(comparison(array_of(left), array_of(right))))


from . import ops  # noqa: E402 - tensor.py imports this module; imported last to break the cycle
from .tensor import Tensor, array_of  # noqa: E402 - tensor.py imports this module; imported last to break the cycle

# ``array + tensor`` reaches ``Tensor.__array_ufunc__`` as ``np.add(array, tensor)``.
_UFUNC_OPERATORS: dict[np.ufunc, Callable[[Any, Any], Tensor]] = {
    np.add: ops.Add.apply,
    np.subtract: ops.Sub.apply,
    np.multiply: ops.Mul.apply,
    np.true_divide: ops.Div.apply,
    np.power: ops.Pow.apply,
    np.remainder: ops.Remainder.apply,
    np.floor_divide: ops.FloorDivide.apply,
    np.matmul: ops.MatMul.apply,
    np.less: _compare(np.less),
    np.less_equal: _compare(np.less_equal),
    np.greater: _compare(np.greater),
    np.greater_equal: _compare(np.greater_equal),
    np.equal: _compare(np.equal),
    np.not_equal: _compare(np.not_equal),
}

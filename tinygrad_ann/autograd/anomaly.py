"""Anomaly mode: find the op that first turned finite numbers into NaN or inf.

Inside :class:`detect_anomaly` every op's forward result and every VJP's
gradients are checked; the first non-finite value made from finite ones raises
:class:`~tinygrad_ann.AnomalyError` naming the op and the line of your code
that called it. Outside, nothing is checked and no stack is inspected.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import AnomalyError
from .grad_mode import _PerThreadStack, switches

if TYPE_CHECKING:
    from types import FrameType

    from .function import Function

__all__ = ["detect_anomaly", "is_anomaly_enabled"]


class detect_anomaly(contextlib.ContextDecorator):  # noqa: N801 - PyTorch's name
    """Check every op of this thread for NaN and inf while the block runs (or the decorated
    function).

    In forward, an op whose result holds NaN or inf although its inputs are
    finite raises :class:`AnomalyError` naming the op, its input shapes and the
    line of your code that called it. In backward, a vector-Jacobian product
    that turns a finite upstream gradient into NaN or inf raises naming the op
    and the line where that op was recorded. Outside the block nothing is
    checked and no stack is inspected.

    >>> import tinygrad_ann as tg
    >>> x = tg.tensor([1.0, 0.0], requires_grad=True)
    >>> try:
    ...     with tg.detect_anomaly():
    ...         y = x.log()
    ... except tg.AnomalyError as error:
    ...     print(str(error).split(", called at")[0])
    log: forward produced -inf from finite inputs of shape (2,)
    """

    def __init__(self) -> None:
        self._previous = _PerThreadStack()

    def __enter__(self) -> None:
        state = switches()
        self._previous.push((state.anomaly, state.record_origin))
        state.anomaly = state.record_origin = True

    def __exit__(self, *exc_info: object) -> None:
        state = switches()
        state.anomaly, state.record_origin = self._previous.pop()


def is_anomaly_enabled() -> bool:
    """Return True inside :class:`detect_anomaly` (in this thread)."""
    return switches().anomaly


# tinygrad_ann/, the parent of this package: its frames are never the caller's code.
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _caller_location() -> str:
    """``file:line`` of the innermost stack frame outside this package."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def _non_finite(value: Any) -> str | None:
    """``"nan"``, ``"inf"`` or ``"-inf"`` for the first non-finite entry of a float array."""
    array = array_of(value)
    # np.inexact rather than np.generic: every float or complex scalar is one, and unlike
    # np.generic it has ``>`` in NumPy's stubs.
    if not isinstance(array, np.ndarray | np.inexact) or array.dtype.kind not in "fc":
        return None
    if np.isfinite(array).all():
        return None
    if isinstance(array, np.ndarray) and array.ndim:
        first = array[~np.isfinite(array)].flat[0]
    else:
        first = array
    return "nan" if np.isnan(first) else ("inf" if first > 0 else "-inf")


def _checked_forward(
    cls: type[Function], ctx: Function, arrays: Sequence[Any], options: dict[str, Any]
) -> Any:
    """``cls.forward`` with NumPy's overflow warnings replaced by an AnomalyError."""
    with np.errstate(all="ignore"):
        out = cls.forward(ctx, *arrays, **options)
    produced = _non_finite(np.asarray(out))
    # Inside a recorded backward the op whose VJP this is gets reported instead (below).
    if (
        produced is None
        or switches().recording_backward_depth
        or any(_non_finite(a) for a in arrays)
    ):
        return out
    shapes = ", ".join(str(np.shape(a)) for a in arrays if isinstance(a, np.ndarray))
    raise AnomalyError(
        f"{cls.op_name()}: forward produced {produced} from finite inputs of shape "
        f"{shapes or '()'}, called at {_caller_location()}"
    )


def _check_backward(ctx: Function, grad: Any, input_grads: Sequence[Any]) -> None:
    if _non_finite(grad):
        return
    for position, input_grad in enumerate(input_grads):
        produced = None if input_grad is None else _non_finite(np.asarray(array_of(input_grad)))
        if produced:
            recorded_at = getattr(ctx, "origin", "<recorded outside detect_anomaly>")
            raise AnomalyError(
                f"{ctx.op_name()}: backward produced {produced} in the gradient of input "
                f"{position} from a finite upstream gradient; the op was recorded at "
                f"{recorded_at}"
            )


from ..tensor import array_of  # noqa: E402 - tensor.py imports this package; imported last to break the cycle

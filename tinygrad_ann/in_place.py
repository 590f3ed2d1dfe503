"""Writing into a tensor: its values in place, and its ``.grad``.

``Tensor``'s in-place methods (``+=``, ``add_``, ``copy_``, ``t[i] = v``, ...) go through
``_change_in_place``: what may be written, when the change is refused, how it is recorded
(docs/semantics.md, "Changing a tensor in place").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .arrays import _describe
from .errors import DTypeError, ShapeError


def _check_grad_value(tensor: Tensor, value: Any) -> None:
    """What ``tensor.grad = value`` accepts: a Tensor of the same shape and dtype."""
    if not isinstance(value, Tensor):
        if isinstance(value, np.ndarray):
            hint = "wrap the array: t.grad = tg.tensor(array)"
        else:
            hint = (
                "to reset a gradient write t.grad = None (or optimizer.zero_grad()); to zero "
                "it in place, t.grad.zero_()"
            )
        raise TypeError(
            f"grad: a gradient must be None or a Tensor, got {_describe(value)}; {hint}"
        )
    if value.shape != tensor.shape:
        raise ShapeError(
            f"grad: a gradient of shape {value.shape} cannot be assigned to a tensor of shape "
            f"{tensor.shape}; the shapes must be equal"
        )
    if value.dtype != tensor.dtype:
        raise DTypeError(
            f"grad: a gradient of dtype {value.dtype} cannot be assigned to a tensor of dtype "
            f"{tensor.dtype}; convert it first: value.astype(np.{tensor.dtype})"
        )


def _change_in_place(
    tensor: Tensor,
    name: str,
    value: Any,
    write: Callable[[np.ndarray, Any], Any],
    recorded: Callable[[Tensor, Any], Tensor] | None,
) -> Tensor:
    """Write ``write(tensor's array, value)`` in place, under PyTorch's rules.

    While grad mode is on and a gradient is involved, the change is recorded
    with ``recorded`` (the same op out of place, whose result the tensor takes
    over) where that is safe, and refused where it is not:

    - a leaf that requires grad is refused (its change could not be recorded);
    - an op result that requires grad is recorded only when no op recorded since
      it was made can have used it (the ops that computed ``value`` aside, when
      they did not use it): such an op's gradient would flow through the change;
    - a tensor that needs no gradient, changed by a ``value`` that does, is
      recorded: no recorded op refers to it.

    Otherwise the array is written in place. An array a live graph saved for
    backward is read-only (``SavedArrays``): the tensor gets a changed copy, so
    that graph keeps differentiating the values it was computed with.
    """
    refuse_while_recording(
        f"Tensor.{name}",
        "changes a Tensor in place",
        "a replay runs only the recorded ops, so the change would not happen again; "
        "write it as an op (x = x + y, tg.where(mask, value, x)) or outside the function",
    )
    if autograd.switches().grad_enabled and (
        tensor.requires_grad or (isinstance(value, Tensor) and value.requires_grad)
    ):
        ctx = tensor._ctx
        if tensor.requires_grad and (
            ctx is None
            or autograd.may_have_been_used(tensor, value)
            or id(tensor) in autograd.TensorHooks.by_id
        ):
            raise _in_place_refusal(tensor, name)
        if recorded is None:
            raise RuntimeError(
                f"{name}: this change of a tensor that takes part in a gradient cannot be "
                "recorded in place; build the result as a new tensor (tg.where, tg.stack, "
                "tg.concatenate), or write it inside tg.no_grad() if no gradient should flow"
            )
        return _record_in_place(tensor, name, value, recorded)
    operand = value.data if isinstance(value, Tensor) else value
    array = tensor.data
    guarded = _guarded(array)
    if array.flags.writeable and not guarded:
        _write(tensor, name, array, operand, write)
        return tensor
    if not guarded:
        raise ValueError(
            f"{name}: this tensor's array (shape {array.shape}) is read-only, and not because a "
            "graph saved it: it came that way (e.g. tg.from_numpy of a read-only array, or a "
            "broadcast view). Give the tensor a writable copy first: t.data = t.data.copy()"
        )
    changed = array.copy()  # copy on write: the graph that saved ``array`` keeps it
    _write(tensor, name, changed, operand, write)
    tensor.data = changed
    return tensor


def _times(value: Any, alpha: float) -> Any:
    """``alpha * value`` for ``add_``/``sub_``'s ``alpha=`` (recorded when value is a Tensor)."""
    if alpha == 1:
        return value
    return value * alpha if isinstance(value, Tensor) else np.multiply(value, alpha)


def _write(
    tensor: Tensor, name: str, array: np.ndarray, operand: Any, write: Callable[..., Any]
) -> None:
    # NumPy checks shapes and casting before it writes anything, so a refusal changes nothing.
    try:
        if isinstance(write, np.ufunc):
            write(array, operand, out=array)
        else:
            write(array, operand)
    except ValueError as error:
        raise ShapeError(
            f"{name}: a value of shape {np.shape(operand)} does not fit a tensor of shape "
            f"{tensor.shape} in place ({error}); an in-place result keeps the tensor's shape"
        ) from None
    except TypeError as error:  # NumPy's casting refusal, e.g. a float result into integers
        raise DTypeError(
            f"{name}: {error}; in place, the tensor keeps its dtype {tensor.dtype}. Convert it "
            "first (t = t.astype(np.float64)) or compute a new tensor"
        ) from None


def _copy_into(array: np.ndarray, value: Any) -> None:
    np.copyto(array, value, casting="unsafe")  # PyTorch's fill_ and copy_ convert any dtype


def _guarded(array: np.ndarray) -> bool:
    """True while a live graph holds ``array``, or an array it is a view of, read-only."""
    counts = autograd.SavedArrays.counts
    if not counts:
        return False
    current: Any = array
    while isinstance(current, np.ndarray):
        if id(current) in counts:
            return True
        current = current.base
    return False


def _record_in_place(
    tensor: Tensor, name: str, value: Tensor, recorded: Callable[[Tensor, Any], Tensor]
) -> Tensor:
    previous = Tensor._wrap(tensor.data)
    if tensor._ctx is not None:  # an op result no op has used: it hands its place over
        previous._ctx = tensor._ctx
        previous.requires_grad = True
    result = recorded(previous, value)
    if result.shape != tensor.shape:
        raise ShapeError(
            f"{name}: the result has shape {result.shape}, but in place it must keep the "
            f"tensor's shape {tensor.shape}; compute a new tensor instead"
        )
    if result.dtype != tensor.dtype:
        result = result.astype(tensor.dtype)
    tensor.data = result.data
    tensor._ctx = result._ctx
    tensor.requires_grad = True
    return tensor


def _in_place_refusal(tensor: Tensor, name: str) -> RuntimeError:
    ctx = tensor._ctx
    if ctx is None:
        return RuntimeError(
            f"{name}: a leaf tensor that requires grad (shape {tensor.shape}) cannot be changed "
            "in place while grad mode is on (the change would not be recorded). Update it "
            "inside `with tg.no_grad():`, as an optimizer step does "
            "(`with tg.no_grad(): w -= lr * w.grad`), or make a new tensor (`w = w + 1`)"
        )
    if id(tensor) in autograd.TensorHooks.by_id:
        reason = "it has gradient hooks, which would see the changed tensor's gradient"
    else:
        reason = (
            "an op recorded since may have used it (and would then get a wrong gradient "
            "through the change)"
        )
    return RuntimeError(
        f"{name}: this tensor (shape {tensor.shape}) was computed by {ctx.op_name()} in a "
        f"recorded graph, and {reason}, so it cannot be changed in place. Compute a new "
        "tensor instead (`y = y + 1`; `y = tg.where(mask, value, y)` for `y[mask] = value`), "
        "or .detach() it first if no gradient should flow through"
    )


from . import autograd  # noqa: E402 - tensor.py imports this module; imported last to break the cycle
from .autograd.capture import refuse_while_recording  # noqa: E402
from .tensor import Tensor  # noqa: E402 - tensor.py imports this module; imported last to break the cycle

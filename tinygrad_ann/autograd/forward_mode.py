"""Forward mode from the one derivative rule each op has: J·v by transposing its VJP.

An op's VJP ``u ↦ uᵀJ`` is linear in ``u``. Record it once on a placeholder ``u``
(``grad(..., create_graph=True)``); its dot product with a direction ``v`` is
``uᵀ(J v)``, whose gradient with respect to ``u`` is ``J v``. So no op needs a second,
forward rule: every op that can be differentiated twice (every built-in op, and any
custom :class:`Function` with ``differentiable_backward``) has its JVP for free.
HIPS autograd's ``make_jvp_reversemode`` works the same way.

A custom Function whose VJP is plain NumPy cannot be recorded. Behind such an op,
``J v`` is summed from the rows of ``J`` (one VJP per output element): exact, and a
pass per output element instead of one.

The cost of one :func:`jvp`: the forward, one recorded backward (the VJP on ``u``)
and one backward through that recording. docs/forward_mode.md measures it, and
when a whole Jacobian is cheaper by forward mode (a pass per input element) than by
reverse mode (a pass per output element).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import DTypeError, ShapeError
from ..tensor import Tensor
from .engine import grad
from .grad_mode import enable_grad, switches
from .graph import recorded_results

__all__ = ["jvp", "vjp"]

Inputs = Tensor | Sequence[Tensor]
Function_ = Callable[..., Any]


# ------------------------------------------------------------------ arguments
def differentiable_copies(
    where: str, inputs: Inputs, create_graph: bool
) -> tuple[bool, tuple[Tensor, ...]]:
    """Whether ``inputs`` was a tuple, and the Tensors ``fn`` is called on.

    Each is a detached copy that requires grad, so the caller's tensors get no
    ``.grad`` and no graph; with ``create_graph``, an input that requires grad is
    used itself, so that the results can be differentiated with respect to it.
    """
    is_tuple = isinstance(inputs, tuple | list)
    values = tuple(inputs) if is_tuple else (inputs,)
    if not values:
        raise ValueError(f"{where}: inputs is empty; pass a Tensor or a tuple of Tensors")
    copies = []
    for position, value in enumerate(values):
        if not isinstance(value, Tensor):
            raise TypeError(
                f"{where}: input {position} has type {type(value).__name__}, not Tensor; "
                "wrap it with tg.tensor(...)"
            )
        if value.dtype.kind != "f":
            raise DTypeError(
                f"{where}: input {position} has dtype {value.dtype}; only floating-point "
                "inputs can be differentiated, convert first, e.g. x.astype(np.float64)"
            )
        if create_graph and value.requires_grad:
            copies.append(value)
        else:
            copies.append(Tensor(value.data, requires_grad=True))
    return is_tuple, tuple(copies)


def called(
    where: str, fn: Function_, copies: tuple[Tensor, ...]
) -> tuple[bool, tuple[Tensor, ...]]:
    """Whether ``fn`` returned a tuple, and its outputs: ``fn(*copies)`` recorded."""
    with enable_grad():  # also inside no_grad(): the graph is needed
        result = fn(*copies)
    is_tuple = isinstance(result, tuple | list)
    outputs = tuple(result) if is_tuple else (result,)
    for position, output in enumerate(outputs):
        if not isinstance(output, Tensor):
            what = f"output {position}" if is_tuple else "its result"
            raise TypeError(
                f"{where}: fn must return a Tensor or a tuple of Tensors; {what} is a "
                f"{type(output).__name__}"
            )
    if not outputs:
        raise ValueError(f"{where}: fn returned an empty tuple; return at least one Tensor")
    return is_tuple, outputs


def vectors(
    where: str, kind: str, given: Any, references: tuple[Tensor, ...], is_tuple: bool, of: str
) -> tuple[Any, ...]:
    """``given`` (tangents of the inputs, or cotangents of the outputs), one array per
    reference with its shape and dtype; a Tensor stays a Tensor (under ``create_graph``
    the results depend on it). ``of`` names the references ("input", "output")."""
    if is_tuple:
        if not isinstance(given, tuple | list) or len(given) != len(references):
            got = type(given).__name__
            if isinstance(given, tuple | list):
                got += f" of length {len(given)}"
            raise ValueError(
                f"{where}: there are {len(references)} {of}s (a tuple), so {kind}s must be a "
                f"tuple of {len(references)} as well, one per {of} with its shape; got {got}"
            )
        values = tuple(given)
    else:
        if isinstance(given, tuple | list) and given and isinstance(given[0], Tensor):
            raise ValueError(
                f"{where}: there is one {of} (not a tuple), so pass one {kind}, not a "
                f"{type(given).__name__} of {len(given)}"
            )
        values = (given,)
    checked = []
    for position, (value, reference) in enumerate(zip(values, references)):
        label = f"{kind} {position}" if is_tuple else kind
        target = f"{of} {position}" if is_tuple else f"the {of}"
        if isinstance(value, Tensor | np.ndarray):
            dtype = value.dtype
            if dtype != reference.dtype:
                raise DTypeError(
                    f"{where}: {label} has dtype {dtype} but {target} has dtype "
                    f"{reference.dtype}; they must match (convert with .astype({reference.dtype}))"
                )
        else:
            try:
                value = np.asarray(value, dtype=reference.dtype)
            except (TypeError, ValueError) as error:
                raise TypeError(
                    f"{where}: {label} is a {type(value).__name__} that is not a number or an "
                    f"array of numbers ({error}); pass a Tensor or an array"
                ) from None
        if value.shape != reference.shape:
            raise ShapeError(
                f"{where}: {label} has shape {value.shape} but {target} has shape "
                f"{reference.shape}; they must be equal"
            )
        if isinstance(value, Tensor) and not value.requires_grad:
            value = value.data
        checked.append(value)
    return tuple(checked)


def _unused(where: str, position: int, is_tuple: bool) -> ValueError:
    name = f"input {position}" if is_tuple else "the input"
    return ValueError(
        f"{where}(strict=True): no output depends on {name}, so its derivatives are all zero; "
        "pass strict=False to get zeros, or leave the input out"
    )


def zeros_of(reference: Tensor) -> Tensor:
    """Zeros in the shape and dtype of ``reference``: the derivative of what depends on nothing."""
    return Tensor(np.zeros(reference.shape, dtype=reference.dtype))


def _result(value: Tensor, create_graph: bool) -> Tensor:
    return value if create_graph else value.detach()


def unrecordable_op(outputs: Sequence[Tensor]) -> Any:
    """The first op behind ``outputs`` whose VJP cannot be recorded (``create_graph``):
    a custom Function with a NumPy-only backward, or a compiled replay; None if none."""
    for tensor in recorded_results([output for output in outputs if output.requires_grad]):
        ctx = tensor._ctx
        if ctx is not None and not ctx.differentiable_backward:
            return ctx
    return None


# ------------------------------------------------------------------ J v
def placeholders(outputs: Sequence[Tensor]) -> list[Tensor]:
    """The ``u`` of each output a VJP is recorded on: zeros (the value is never used,
    only the linear map of it), requiring grad."""
    return [
        Tensor(np.zeros(output.shape, dtype=output.dtype), requires_grad=True) for output in outputs
    ]


def linearized(
    outputs: Sequence[Tensor], copies: tuple[Tensor, ...], create_graph: bool
) -> tuple[list[Tensor], tuple[Tensor | None, ...]]:
    """The placeholders ``u`` of the outputs that require grad, and the VJP of those
    outputs for ``u``, recorded: one Tensor per copy (None where no output depends on it),
    a linear function of ``u`` whose transpose is the JVP.

    Unless the JVP is to be differentiated again (``create_graph``), only the VJP's
    dependence on ``u`` is recorded: what the ops saved enters as constants, which
    makes the recording and the pass back through it smaller.
    """
    live = [output for output in outputs if output.requires_grad]
    if not live:
        return [], (None,) * len(copies)
    us = placeholders(live)
    state = switches()
    constants = state.saved_as_constants
    state.saved_as_constants = not create_graph
    try:
        with enable_grad():
            found = grad(live, copies, us, create_graph=True, allow_unused=True)
    finally:
        state.saved_as_constants = constants
    return us, found


def jvp_products(
    where: str,
    outputs: tuple[Tensor, ...],
    copies: tuple[Tensor, ...],
    tangents: tuple[Any, ...],
    create_graph: bool,
    strict: bool,
    is_tuple: bool,
) -> list[Tensor]:
    """``J v`` for each output (zeros where it depends on no input)."""
    live = [position for position, output in enumerate(outputs) if output.requires_grad]
    products = [zeros_of(output) for output in outputs]
    blocker = unrecordable_op(outputs)
    if blocker is not None:
        if create_graph:  # J·v would have to be recorded through it
            raise blocker.backward_not_recordable()
        for position in live:
            products[position] = Tensor(
                _jvp_by_rows(where, outputs[position], copies, tangents, strict, is_tuple)
            )
        return products
    us, vjps = linearized(outputs, copies, create_graph)
    if strict:
        for position, found in enumerate(vjps):
            if found is None:
                raise _unused(where, position, is_tuple)
    # J v is the gradient of uᵀ(J v) = Σ (VJP_i · v_i) with respect to u: a backward
    # pass from the VJPs, seeded with the tangents.
    pairs = [
        (found, tangent)
        for found, tangent in zip(vjps, tangents)
        if found is not None and found.requires_grad  # else constant in u: adds zero
    ]
    if not pairs:
        return products
    with enable_grad():
        columns = grad(
            [found for found, _ in pairs],
            us,
            [_seed(tangent, create_graph) for _, tangent in pairs],
            create_graph=create_graph,
            allow_unused=True,
        )
    for position, column in zip(live, columns):
        if column is not None:
            products[position] = column
    return products


def _jvp_by_rows(
    where: str,
    output: Tensor,
    copies: tuple[Tensor, ...],
    tangents: tuple[Any, ...],
    strict: bool,
    is_tuple: bool,
) -> np.ndarray:
    """``J v`` of one output from the rows of ``J``: a VJP per output element, for graphs
    with an op whose VJP cannot be recorded."""
    arrays = [t.data if isinstance(t, Tensor) else t for t in tangents]
    product = np.zeros(output.size, dtype=output.dtype)
    used = [False] * len(copies)
    for row in range(output.size):
        one_hot = np.zeros(output.shape, dtype=output.dtype)
        one_hot.flat[row] = 1
        rows = grad(output, copies, one_hot, retain_graph=True, allow_unused=True)
        for position, (found, array) in enumerate(zip(rows, arrays)):
            if found is not None:
                used[position] = True
                product[row] += float(np.vdot(found.data, array))
    if strict and not all(used):
        raise _unused(where, used.index(False), is_tuple)
    return product.reshape(output.shape)


def jvp(
    fn: Function_,
    inputs: Inputs,
    tangents: Any,
    *,
    create_graph: bool = False,
    strict: bool = False,
) -> tuple[Any, Any]:
    """``(fn(inputs), J v)``: the derivative of ``fn`` at ``inputs`` along ``tangents``.

    ``inputs`` is a Tensor or a tuple of them (floating point); ``tangents`` has
    their structure, shapes and dtypes. ``fn`` returns a Tensor or a tuple of
    them, and so does the product. It costs one forward and two backward passes
    (forward mode by transposing the VJP, see ``docs/forward_mode.md``), whatever the
    number of inputs or outputs. An output that depends on no input gets a zero
    product; ``strict=True`` raises instead, naming the input no output depends on.
    With ``create_graph=True`` the results are recorded, so they can be
    differentiated again (with respect to the inputs and the tangents).

    >>> import tinygrad_ann as tg
    >>> value, slope = tg.jvp(lambda x: x**3, tg.tensor([1.0, 2.0]), tg.tensor([1.0, 0.5]))
    >>> value, slope  # 3x² · v
    (Tensor([1., 8.]), Tensor([3., 6.]))
    """
    is_tuple, copies = differentiable_copies("jvp", inputs, create_graph)
    checked = vectors("jvp", "tangent", tangents, copies, is_tuple, "input")
    outputs_tuple, outputs = called("jvp", fn, copies)
    products = jvp_products("jvp", outputs, copies, checked, create_graph, strict, is_tuple)
    values = tuple(_result(output, create_graph) for output in outputs)
    products = [_result(product, create_graph) for product in products]
    if outputs_tuple:
        return values, tuple(products)
    return values[0], products[0]


# ------------------------------------------------------------------ vᵀ J
def vjp(
    fn: Function_, inputs: Inputs, *, create_graph: bool = False, strict: bool = False
) -> tuple[Any, Callable[[Any], Any]]:
    """``(fn(inputs), vjp_fn)``, where ``vjp_fn(cotangents)`` gives ``vᵀ J`` for each input.

    ``fn`` runs once; ``vjp_fn`` can be called any number of times, each a backward
    pass. ``cotangents`` has the structure, shapes and dtypes of ``fn``'s outputs;
    the result has the structure of ``inputs``: one gradient per input, zero where
    no output depends on it (``strict=True`` raises instead). With
    ``create_graph=True`` the gradients are recorded, to be differentiated again.

    >>> import tinygrad_ann as tg
    >>> value, vjp_fn = tg.vjp(lambda x: x**2, tg.tensor([1.0, 3.0]))
    >>> vjp_fn(tg.tensor([1.0, 1.0]))  # vᵀ diag(2x)
    Tensor([2., 6.])
    >>> vjp_fn(tg.tensor([0.0, 10.0]))
    Tensor([ 0., 60.])
    """
    is_tuple, copies = differentiable_copies("vjp", inputs, create_graph)
    outputs_tuple, outputs = called("vjp", fn, copies)
    live = [position for position, output in enumerate(outputs) if output.requires_grad]

    def vjp_fn(cotangents: Any) -> Any:
        checked = vectors("vjp", "cotangent", cotangents, outputs, outputs_tuple, "output")
        found: tuple[Tensor | None, ...] = (None,) * len(copies)
        if live:
            with enable_grad():
                found = grad(
                    [outputs[position] for position in live],
                    copies,
                    [_seed(checked[position], create_graph) for position in live],
                    retain_graph=True,
                    create_graph=create_graph,
                    allow_unused=True,
                )
        gradients = []
        for position, (gradient, copy) in enumerate(zip(found, copies)):
            if gradient is None:
                if strict:
                    raise _unused("vjp", position, is_tuple)
                gradient = zeros_of(copy)
            gradients.append(_result(gradient, create_graph))
        return tuple(gradients) if is_tuple else gradients[0]

    values = tuple(_result(output, create_graph) for output in outputs)
    return (values if outputs_tuple else values[0]), vjp_fn


def _seed(cotangent: Any, create_graph: bool) -> Any:
    """A cotangent as ``grad`` takes it: a Tensor under ``create_graph``, else an array."""
    if create_graph and not isinstance(cotangent, Tensor):
        return Tensor(cotangent)
    return cotangent

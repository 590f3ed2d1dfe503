"""Check autograd against central finite differences, element by element.

A check fails when the two disagree beyond tolerance, and also whenever either
of them is nan or infinite: a finite difference that steps out of the
function's domain (``sqrt`` or ``log`` near 0) proves nothing, and a backward
that gives nan or inf is never right. On failure the localization names the
op at fault and why: its gradient is wrong, or not finite, or a step of
``eps`` takes it out of its domain, or it sits at a kink, where no derivative
exists, or ``eps`` is too large for its curvature.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import GradcheckError
from ..ops import Concatenate
from ..tensor import Tensor
from .engine import grad
from .grad_mode import enable_grad
from .localize import _kink_in, localize_mismatch
from .numerical import (
    Jacobians,
    _as_float64,
    _check_finite_inputs,
    _first_not_finite,
    _not_finite_note,
    _output,
    check_settings,
    compute_jacobians,
    describe_mismatch,
    forward_mismatches,
    worst_mismatches,
)


def gradcheck(
    fn: Callable[..., Tensor],
    inputs: Tensor | Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    check_forward: bool = False,
) -> bool:
    """Compare autograd with central finite differences for ``fn(*inputs)``.

    Every element of every input that requires grad is perturbed by ``±eps``
    (on float64 copies). Returns True, or raises :class:`GradcheckError` naming
    the input, the element, and the analytic and numeric values; a value that
    is nan or infinite always fails, and the message says which side it is on.
    ``eps`` must be a finite number > 0, ``atol`` and ``rtol`` finite numbers
    >= 0, and the inputs checked finite (else ValueError).

    With ``check_forward=True`` forward mode is checked too: :func:`~tinygrad_ann.jvp`
    along two random directions ``v`` (seeded) against central differences along
    ``v``, as HIPS autograd's ``check_grads(modes=["fwd", "rev"])`` does. J·v is the
    transpose of the recorded VJP, so this also checks that an op's backward computes
    the same on Tensors (``create_graph``) as on arrays.

    >>> import tinygrad_ann as tg
    >>> x = tg.tensor([0.5, -1.0, 2.0], requires_grad=True)
    >>> tg.gradcheck(lambda t: (t.tanh() * t).sum(), [x])
    True
    >>> tg.gradcheck(lambda t: t.tanh() * t, [x], check_forward=True)
    True
    """
    check_settings("gradcheck", eps, atol, rtol)
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    with np.errstate(all="ignore"):
        output_size = _output(fn, _as_float64(inputs)).size
    jacobians = compute_jacobians(fn, inputs, eps)
    for jacobian in jacobians:
        lines = describe_mismatch(jacobian, output_size, atol, rtol)
        if lines:
            raise GradcheckError(
                f"gradcheck failed: {lines[0]} (atol={atol}, rtol={rtol}); "
                + localize_mismatch(fn, inputs, eps, atol, rtol, jacobians=jacobians)
            )
    if check_forward:
        lines = forward_mismatches(fn, inputs, eps, atol, rtol)
        if lines:
            raise GradcheckError(
                f"gradcheck failed in forward mode: {lines[0]} (atol={atol}, rtol={rtol}); "
                "reverse mode agreed, so fn's VJPs differ when recorded on Tensors "
                "(create_graph=True), from which J·v is taken"
            )
    return True


def gradgradcheck(
    fn: Callable[..., Tensor],
    inputs: Tensor | Sequence[Any],
    grad_outputs: Any = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> bool:
    """Check second derivatives: :func:`gradcheck` applied to the first-order VJP.

    The function checked is ``(inputs, v) -> grad(fn(*inputs), inputs, v,
    create_graph=True)``: its derivative with respect to the inputs is the
    Hessian-vector product that double backward computes, and with respect to
    ``v`` the Jacobian again. ``grad_outputs`` is ``v`` (random normal from
    ``seed`` by default). Returns True, or raises :class:`GradcheckError`
    naming which first derivative, which input element and both values; a
    value that is nan or infinite always fails, and when an op of ``fn`` sits
    at a kink (where the first derivative jumps) the message names it.
    ``eps``, ``atol``, ``rtol``, the inputs and ``grad_outputs`` are checked as
    in :func:`gradcheck`.

    >>> import tinygrad_ann as tg
    >>> x = tg.tensor([0.5, -1.0, 2.0], requires_grad=True)
    >>> tg.gradgradcheck(lambda t: t.tanh() * t, [x])
    True
    """
    check_settings("gradgradcheck", eps, atol, rtol)
    inputs = _as_float64((inputs,) if isinstance(inputs, Tensor) else tuple(inputs))
    positions = [i for i, v in enumerate(inputs) if isinstance(v, Tensor) and v.requires_grad]
    if not positions:
        raise ValueError("gradgradcheck: no input requires grad, so there is nothing to check")
    _check_finite_inputs("gradgradcheck", inputs, positions)
    with np.errstate(all="ignore"):
        output = _output(fn, inputs)
    upstream = _upstream(grad_outputs, output.shape, seed)
    checked = [*inputs, Tensor(upstream, requires_grad=True)]
    for jacobians in compute_jacobians(_first_derivatives(fn, positions), checked, eps):
        mismatches = worst_mismatches(jacobians, atol, rtol, worst=1)
        if not mismatches:
            continue
        line, note = _second_derivative_line(jacobians, *mismatches[0], inputs, positions)
        message = f"gradgradcheck failed: {line} (atol={atol}, rtol={rtol})"
        kink = None if note else _kink_in(fn, inputs, eps, atol, rtol, seed)
        if kink is not None:
            message += (
                f"; {kink}, so fn's first derivative jumps there and has no derivative to check"
            )
        raise GradcheckError(message)
    return True


def _upstream(grad_outputs: Any, shape: tuple[int, ...], seed: int) -> np.ndarray:
    """gradgradcheck's ``v``: ``grad_outputs`` as float64, checked against fn's output
    ``shape``, or random normal from ``seed`` when it is None."""
    if grad_outputs is None:
        return np.random.default_rng(seed).normal(size=shape)
    upstream = np.array(getattr(grad_outputs, "data", grad_outputs), dtype=np.float64)
    if upstream.shape != shape:
        raise ValueError(
            f"gradgradcheck: grad_outputs has shape {upstream.shape}, fn's output has shape {shape}"
        )
    found = _first_not_finite(upstream)
    if found is not None:
        raise ValueError(
            f"gradgradcheck: grad_outputs is not finite at element {found[0]} ({found[1]})"
        )
    return upstream


def _first_derivatives(fn: Callable[..., Tensor], positions: list[int]) -> Callable[..., Tensor]:
    """``(inputs..., v) -> grad(fn(*inputs), inputs, v, create_graph=True)``, the gradients
    of the inputs at ``positions`` flattened and concatenated (zeros for an unused input)."""

    def first_derivatives(*values: Any) -> Tensor:
        *arguments, vector = values
        with enable_grad():  # also while finite differences run under no_grad
            out = _output(fn, arguments)
            if not out.requires_grad:
                raise GradcheckError("gradgradcheck: fn's output does not depend on any input")
            grads = grad(
                out,
                [arguments[i] for i in positions],
                vector,
                create_graph=True,
                allow_unused=True,
            )
        parts = [
            Tensor(np.zeros(arguments[i].size)) if g is None else g.reshape(-1)
            for g, i in zip(grads, positions)
        ]
        return Concatenate.apply(*parts, axis=0)

    return first_derivatives


def _second_derivative_line(
    jacobians: Jacobians,
    row: int,
    column: int,
    element: tuple[int, ...],
    inputs: Sequence[Any],
    positions: list[int],
) -> tuple[str, str]:
    """gradgradcheck's description of one entry of a Jacobian of the first derivatives (which
    gradient element, moved by which input element, both values), and its not-finite note."""
    sizes = [inputs[i].size for i in positions]
    which = int(np.searchsorted(np.cumsum(sizes), row, side="right"))
    offset = row - int(np.sum(sizes[:which]))
    of_input = positions[which]
    grad_element = np.unravel_index(offset, inputs[of_input].shape)
    if jacobians.position == len(inputs):
        with_respect_to = "grad_outputs"
    else:
        with_respect_to = f"input {jacobians.position}"
    analytic = float(jacobians.analytic[row, column])
    numeric = float(jacobians.numeric[row, column])
    note = _not_finite_note(analytic, numeric)
    line = (
        f"d(grad of input {of_input} at {tuple(int(i) for i in grad_element)}) / "
        f"d({with_respect_to} at {element}): analytic {analytic:.10g} vs numeric "
        f"{numeric:.10g}{note}"
    )
    return line, note

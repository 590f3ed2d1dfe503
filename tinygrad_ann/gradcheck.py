"""Check autograd against central finite differences, element by element."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .autograd import Function, _Anomaly, enable_grad, grad, no_grad
from .errors import GradcheckError
from .ops import Concatenate
from .tensor import Tensor


@dataclass
class Jacobians:
    """Both Jacobians of one input: rows are output elements, columns input elements."""

    position: int
    shape: tuple[int, ...]
    analytic: np.ndarray
    numeric: np.ndarray


def _as_float64(inputs: Sequence[Any]) -> list[Any]:
    """Float64 copies of the inputs, so rounding does not swamp the differences."""
    prepared = []
    for value in inputs:
        if isinstance(value, Tensor) and value.requires_grad:
            value = Tensor(value.data.astype(np.float64), requires_grad=True)
        prepared.append(value)
    return prepared


def _output(fn: Callable[..., Any], inputs: Sequence[Any]) -> Tensor:
    output = fn(*inputs)
    if not isinstance(output, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(output).__name__}")
    return output


def compute_jacobians(
    fn: Callable[..., Tensor], inputs: Sequence[Any], eps: float = 1e-6
) -> list[Jacobians]:
    """The analytic (autograd) and numeric Jacobians of ``fn`` for each input needing grad.

    The analytic one is built a row at a time from one-hot upstream gradients,
    the numeric one a column at a time from ``(f(x + eps) - f(x - eps)) / 2 eps``.
    """
    inputs = _as_float64(inputs)
    positions = [i for i, v in enumerate(inputs) if isinstance(v, Tensor) and v.requires_grad]
    if not positions:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")
    output = _output(fn, inputs)
    differentiable = [inputs[i] for i in positions]
    analytic = [np.zeros((output.size, t.size)) for t in differentiable]
    if output.requires_grad:
        for row in range(output.size):
            seed = np.zeros(output.shape)
            seed.flat[row] = 1.0
            grads = grad(output, differentiable, seed, retain_graph=True, allow_unused=True)
            for matrix, gradient in zip(analytic, grads):
                if gradient is not None:
                    matrix[row] = gradient.data.ravel()
        zero_grads = grad(output, differentiable, np.zeros(output.shape), allow_unused=True)
        for position, gradient in zip(positions, zero_grads):
            if gradient is not None and np.any(gradient.data != 0):
                raise GradcheckError(
                    f"gradcheck: input {position}: a zero upstream gradient gave a nonzero "
                    "gradient; backward must be linear in its grad_output"
                )
    result = []
    for position, tensor, matrix in zip(positions, differentiable, analytic):
        numeric = np.zeros_like(matrix)
        original = tensor.data
        # Each perturbation gets a fresh array: the one a live graph saved stays untouched.
        with no_grad():
            for column in range(tensor.size):
                values = []
                for step in (eps, -eps):
                    perturbed = original.copy()
                    perturbed.reshape(-1)[column] += step
                    tensor.data = perturbed
                    values.append(np.array(_output(fn, inputs).data, dtype=np.float64))
                numeric[:, column] = ((values[0] - values[1]) / (2 * eps)).ravel()
        tensor.data = original
        result.append(Jacobians(position, tensor.shape, matrix, numeric))
    return result


def excess_error(jacobians: Jacobians, atol: float, rtol: float) -> np.ndarray:
    """How far each analytic entry lies beyond ``atol + rtol * |numeric|``; > 0 fails."""
    return np.abs(jacobians.analytic - jacobians.numeric) - (
        atol + rtol * np.abs(jacobians.numeric)
    )


def worst_mismatches(
    jacobians: Jacobians, atol: float, rtol: float, worst: int
) -> list[tuple[int, int, tuple[int, ...]]]:
    """(row, column, input element) of the ``worst`` entries beyond tolerance, worst first."""
    excess = excess_error(jacobians, atol, rtol)
    failing = np.argwhere(excess > 0)
    order = np.argsort(-excess[failing[:, 0], failing[:, 1]])[:worst]
    return [
        (int(row), int(column), tuple(int(i) for i in np.unravel_index(column, jacobians.shape)))
        for row, column in failing[order]
    ]


def describe_mismatch(
    jacobians: Jacobians, output_shape_size: int, atol: float, rtol: float, worst: int = 1
) -> list[str]:
    """Lines naming the ``worst`` elements where the Jacobians disagree beyond tolerance."""
    lines = []
    for row, column, element in worst_mismatches(jacobians, atol, rtol, worst):
        where = f"output element {row}, " if output_shape_size > 1 else ""
        lines.append(
            f"input {jacobians.position}, {where}element {element}: "
            f"analytic {jacobians.analytic[row, column]:.10g} vs numeric "
            f"{jacobians.numeric[row, column]:.10g}"
        )
    return lines


# ------------------------------------------------------------------ which op is at fault
#: Elements of one op input checked one by one when localizing; larger inputs are sampled.
LOCALIZE_ELEMENTS = 4096


def _recorded_ops(output: Tensor) -> list[Function]:
    """The ops of ``output``'s graph in the order backward differentiates them."""
    found: dict[int, Function] = {}
    stack = [output]
    while stack:
        tensor = stack.pop()
        ctx = tensor._ctx
        if ctx is None or id(ctx) in found:
            continue
        found[id(ctx)] = ctx
        stack.extend(parent for parent in ctx.parents if parent is not None)
    return sorted(found.values(), key=lambda ctx: ctx.sequence)


#: What _op_mismatch returns for an op whose output is not float64 even on float64 inputs
#: (a cast to float32, say): differences of float32 values at a step of 1e-6 are noise.
_UNCHECKED = "unchecked"


def _op_mismatch(
    ctx: Function, eps: float, atol: float, rtol: float, rng: np.random.Generator
) -> str | None:
    """How ``ctx``'s VJP disagrees with finite differences of the op alone, or None.

    The op is run again on the inputs it recorded, as float64; with a random
    upstream gradient ``u``, each input's VJP is compared, element by element,
    with the central difference of ``sum(u * op(...))``. Returns ``_UNCHECKED``
    when the op's output is not float64 even then.
    """
    op = type(ctx)
    options = ctx.__dict__.get("options", {})
    recorded = list(ctx.inputs)
    checked = [
        i
        for i, parent in enumerate(ctx.parents)
        if parent is not None and np.asarray(recorded[i]).dtype.kind == "f"
    ]
    if not checked:
        return None

    def run(replacements: dict[int, Any]) -> Tensor:
        arguments = [replacements.get(i, value) for i, value in enumerate(recorded)]
        return op.apply(*arguments, **options)

    with enable_grad():
        leaves = {
            i: Tensor(np.array(recorded[i], dtype=np.float64), requires_grad=True) for i in checked
        }
        output = run(leaves)
        if output.dtype != np.float64:
            return _UNCHECKED
        upstream = rng.normal(size=output.shape)
        analytic = grad(output, list(leaves.values()), upstream, allow_unused=True)
    for i, vjp in zip(checked, analytic):
        base = leaves[i].data
        vjp_values = np.zeros(base.shape) if vjp is None else np.asarray(vjp.data, np.float64)
        size = base.size
        elements = (
            np.arange(size)
            if size <= LOCALIZE_ELEMENTS
            else rng.choice(size, LOCALIZE_ELEMENTS, replace=False)
        )
        with no_grad():
            for element in elements:
                values = []
                for step in (eps, -eps):
                    perturbed = base.copy()
                    perturbed.reshape(-1)[element] += step
                    values.append(float(np.sum(upstream * run({i: perturbed}).data)))
                numeric = (values[0] - values[1]) / (2 * eps)
                computed = float(vjp_values.reshape(-1)[element])
                if abs(computed - numeric) > atol + rtol * abs(numeric):
                    index = tuple(int(k) for k in np.unravel_index(int(element), base.shape))
                    return (
                        f"input {i} (shape {base.shape}), element {index}: analytic "
                        f"{computed:.10g} vs numeric {numeric:.10g} (with a random upstream "
                        "gradient)"
                    )
    return None


def localize_mismatch(
    fn: Callable[..., Tensor],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> str:
    """Which op of ``fn``'s graph computes a wrong gradient, as a sentence.

    Runs ``fn`` once more (float64), then checks each recorded op's VJP on its
    own recorded inputs against finite differences of that op alone, in the
    order backward runs them, and names the first that disagrees: its name,
    where it was called, the input and the element. When every op checks out,
    says so: the mismatch then comes from a non-differentiable point (a kink
    or a tie that finite differences straddle) or from the tolerances.
    """
    previous = _Anomaly.record_origin
    _Anomaly.record_origin = True
    try:
        with enable_grad():
            output = _output(fn, _as_float64(inputs))
    finally:
        _Anomaly.record_origin = previous
    rng = np.random.default_rng(seed)
    ops = _recorded_ops(output)
    unchecked = []
    for ctx in ops:
        problem = _op_mismatch(ctx, eps, atol, rtol, rng)
        if problem is _UNCHECKED:
            unchecked.append(ctx.op_name())
        elif problem is not None:
            where = ctx.__dict__.get("origin", "an unknown line")
            return (
                f"the first op whose gradient is wrong is {ctx.op_name()} (called at {where}): "
                f"{problem}"
            )
    if unchecked:
        return (
            f"each of the {len(ops) - len(unchecked)} recorded ops that could be checked "
            "computes its own gradient correctly; not checked, as their output is not float64 "
            f"even for float64 inputs: {', '.join(unchecked)}"
        )
    return (
        f"each of the {len(ops)} recorded ops computes its own gradient correctly, so the "
        "mismatch comes from a point where fn is not differentiable (a kink or a tie that "
        "the finite differences straddle), from a value that depends on the inputs but "
        "enters the graph as a constant (.detach(), .data, .numpy()), from fn not being a "
        "pure function of its inputs (randomness, state), or from the tolerances"
    )


def gradcheck(
    fn: Callable[..., Tensor],
    inputs: Tensor | Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> bool:
    """Compare autograd with central finite differences for ``fn(*inputs)``.

    Every element of every input that requires grad is perturbed by ``±eps``
    (on float64 copies). Returns True, or raises :class:`GradcheckError` naming
    the input, the element, and the analytic and numeric values.

    >>> import tinygrad_ann as tg
    >>> x = tg.tensor([0.5, -1.0, 2.0], requires_grad=True)
    >>> tg.gradcheck(lambda t: (t.tanh() * t).sum(), [x])
    True
    """
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    output_size = _output(fn, _as_float64(inputs)).size
    for jacobians in compute_jacobians(fn, inputs, eps):
        lines = describe_mismatch(jacobians, output_size, atol, rtol)
        if lines:
            raise GradcheckError(
                f"gradcheck failed: {lines[0]} (atol={atol}, rtol={rtol}); "
                + localize_mismatch(fn, inputs, eps, atol, rtol)
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
    naming which first derivative, which input element and both values.

    >>> import tinygrad_ann as tg
    >>> x = tg.tensor([0.5, -1.0, 2.0], requires_grad=True)
    >>> tg.gradgradcheck(lambda t: t.tanh() * t, [x])
    True
    """
    inputs = _as_float64((inputs,) if isinstance(inputs, Tensor) else tuple(inputs))
    positions = [i for i, v in enumerate(inputs) if isinstance(v, Tensor) and v.requires_grad]
    if not positions:
        raise ValueError("gradgradcheck: no input requires grad, so there is nothing to check")
    output = _output(fn, inputs)
    if grad_outputs is None:
        upstream = np.random.default_rng(seed).normal(size=output.shape)
    else:
        upstream = np.array(getattr(grad_outputs, "data", grad_outputs), dtype=np.float64)
        if upstream.shape != output.shape:
            raise ValueError(
                f"gradgradcheck: grad_outputs has shape {upstream.shape}, fn's output has "
                f"shape {output.shape}"
            )
    sizes = [inputs[i].size for i in positions]

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
            Tensor(np.zeros(size)) if g is None else g.reshape(-1) for g, size in zip(grads, sizes)
        ]
        return Concatenate.apply(*parts, axis=0)

    checked = [*inputs, Tensor(upstream, requires_grad=True)]
    for jacobians in compute_jacobians(first_derivatives, checked, eps):
        mismatches = worst_mismatches(jacobians, atol, rtol, worst=1)
        if not mismatches:
            continue
        ((row, column, element),) = mismatches
        which = int(np.searchsorted(np.cumsum(sizes), row, side="right"))
        offset = row - (int(np.sum(sizes[:which])) if which else 0)
        of_input = positions[which]
        grad_element = np.unravel_index(offset, inputs[of_input].shape)
        if jacobians.position == len(inputs):
            with_respect_to = "grad_outputs"
        else:
            with_respect_to = f"input {jacobians.position}"
        raise GradcheckError(
            f"gradgradcheck failed: d(grad of input {of_input} at "
            f"{tuple(int(i) for i in grad_element)}) / d({with_respect_to} at "
            f"{element}): analytic {jacobians.analytic[row, column]:.10g} "
            f"vs numeric {jacobians.numeric[row, column]:.10g} (atol={atol}, rtol={rtol})"
        )
    return True

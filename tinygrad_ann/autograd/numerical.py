"""Central differences and the two Jacobians gradcheck compares, and the comparison.

:func:`numerical_jvp` is the one central-difference helper: the numeric Jacobian
takes its columns from it, at every order. :func:`compute_jacobians` builds the
analytic (autograd) and numeric Jacobians of a function for each input that
requires grad; :func:`excess_error`, :func:`worst_mismatches` and
:func:`describe_mismatch` say where they disagree beyond tolerance. Also here:
the checks of the step, the tolerances and the inputs that every caller shares.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import GradcheckError
from ..tensor import Tensor
from .engine import grad
from .forward_mode import jvp
from .grad_mode import no_grad


@dataclass
class Jacobians:
    """Both Jacobians of one input: rows are output elements, columns input elements."""

    position: int
    shape: tuple[int, ...]
    analytic: np.ndarray
    numeric: np.ndarray


# ------------------------------------------------------------------ arguments
def _check_number(caller: str, name: str, value: Any, *, zero_allowed: bool) -> None:
    """Refuse a step or a tolerance that is not a finite real number > 0 (or >= 0)."""
    number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if number and math.isfinite(value) and (value >= 0 if zero_allowed else value > 0):
        return
    bound = ">= 0" if zero_allowed else "> 0"
    raise ValueError(f"{caller}: {name} must be a finite number {bound}, got {value!r}")


def check_settings(caller: str, eps: Any, atol: Any, rtol: Any) -> None:
    """Refuse, naming ``caller`` and the argument, a step ``eps`` that is not a finite
    number > 0 or a tolerance that is not a finite number >= 0: a step of 0 makes every
    finite difference nan, and an infinite tolerance passes any gradient."""
    _check_number(caller, "eps", eps, zero_allowed=False)
    _check_number(caller, "atol", atol, zero_allowed=True)
    _check_number(caller, "rtol", rtol, zero_allowed=True)


def _first_not_finite(values: Any) -> tuple[tuple[int, ...], str] | None:
    """The index and value (``nan``, ``inf`` or ``-inf``) of the first entry that is not finite."""
    array = np.asarray(values, dtype=np.float64)
    found = np.argwhere(~np.isfinite(array))
    if not len(found):
        return None
    index = tuple(int(k) for k in found[0])
    return index, str(float(array[index]))


def _check_finite_inputs(caller: str, inputs: Sequence[Any], positions: Sequence[int]) -> None:
    for position in positions:
        found = _first_not_finite(inputs[position].data)
        if found is not None:
            raise ValueError(
                f"{caller}: input {position} is not finite at element {found[0]} ({found[1]}): "
                "check gradients at a finite point"
            )


# ------------------------------------------------------------------ central differences
def _moved(x: np.ndarray, direction: np.ndarray | int, step: float) -> np.ndarray:
    """``x + step * direction`` as a new array, so an array a live graph saved stays untouched.

    Entries where ``direction`` is 0 keep their exact value: adding 0 would turn -0.0
    into 0.0, where ``1 / x`` jumps from -inf to inf. An int ``direction`` is the
    row-major index of the one element a one-hot direction moves: that element moves by
    ``step`` (``step * 1.0``, the same bits) without building a dense direction, comparing
    it to 0 and masking by it, which on a cheap function is a good part of a column's cost.
    """
    moved = x.copy()
    if not isinstance(direction, np.ndarray):
        moved.flat[direction] += step
        return moved
    along = direction != 0
    moved[along] += step * direction[along]
    return moved


def numerical_jvp(
    f: Callable[[np.ndarray], Any], x: np.ndarray, eps: float = 1e-6
) -> Callable[[np.ndarray | int], Any]:
    """Central differences of ``f`` at ``x``, as a function of a direction ``v``.

    The function returned gives ``(f(x + eps v) - f(x - eps v)) / (2 eps)``, the
    derivative of ``f`` along ``v`` up to an error of order ``eps²``; ``f`` is called
    at ``x + eps v`` first, each time on a new array. A one-hot ``v`` gives a column of
    the Jacobian: gradcheck builds the first derivatives from it, gradgradcheck the
    second (it applies it to the first-order VJP), and the localization steps each
    element of an op's input with the same ``x ± eps v``. A one-hot ``v`` may be given
    as the row-major index of its 1, with bit-for-bit the same result.

    >>> import numpy as np
    >>> slope = numerical_jvp(np.sin, np.array([0.0, 1.0]))
    >>> bool(abs(slope(np.array([1.0, 0.0])) - [1.0, 0.0]).max() < 1e-9)
    True
    >>> bool((slope(1) == slope(np.array([0.0, 1.0]))).all())
    True
    """

    def jvp(direction: np.ndarray | int) -> Any:
        above = f(_moved(x, direction, eps))
        below = f(_moved(x, direction, -eps))
        return (above - below) / (2 * eps)

    return jvp


# ------------------------------------------------------------------ the two Jacobians
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


def _analytic_jacobians(
    output: Tensor, differentiable: list[Tensor], positions: list[int]
) -> list[np.ndarray]:
    """Autograd's Jacobians, a row at a time from one-hot upstream gradients."""
    analytic = [np.zeros((output.size, t.size)) for t in differentiable]
    if not output.requires_grad:
        return analytic
    for row in range(output.size):
        seed = np.zeros(output.shape)
        seed.flat[row] = 1.0
        grads = grad(output, differentiable, seed, retain_graph=True, allow_unused=True)
        for matrix, gradient in zip(analytic, grads):
            if gradient is not None:
                matrix[row] = gradient.data.ravel()
    zero_grads = grad(output, differentiable, np.zeros(output.shape), allow_unused=True)
    for position, gradient, matrix in zip(positions, zero_grads, analytic):
        # A backward that gives inf gives nan for a zero upstream gradient (0 * inf): that is
        # reported as a gradient that is not finite, not as one that is not linear.
        if gradient is not None and np.any(gradient.data != 0) and np.isfinite(matrix).all():
            raise GradcheckError(
                f"gradcheck: input {position}: a zero upstream gradient gave a nonzero "
                "gradient; backward must be linear in its grad_output"
            )
    return analytic


def _numeric_jacobian(
    fn: Callable[..., Tensor], inputs: Sequence[Any], tensor: Tensor, rows: int, eps: float
) -> np.ndarray:
    """The Jacobian of ``fn`` for ``tensor``, a column at a time from central differences."""
    original = tensor.data

    def output_at(values: np.ndarray) -> np.ndarray:
        tensor.data = values
        return np.array(_output(fn, inputs).data, dtype=np.float64)

    column_of = numerical_jvp(output_at, original, eps)
    numeric = np.zeros((rows, tensor.size))
    with no_grad():
        for column in range(tensor.size):
            numeric[:, column] = column_of(column).ravel()
    tensor.data = original
    return numeric


def compute_jacobians(
    fn: Callable[..., Tensor], inputs: Sequence[Any], eps: float = 1e-6
) -> list[Jacobians]:
    """The analytic (autograd) and numeric Jacobians of ``fn`` for each input needing grad.

    The analytic one is built a row at a time from one-hot upstream gradients,
    the numeric one a column at a time from ``(f(x + eps) - f(x - eps)) / 2 eps``.
    Entries may be nan or inf (NumPy does not warn about them here): the
    comparison counts them as failures.
    """
    _check_number("compute_jacobians", "eps", eps, zero_allowed=False)
    inputs = _as_float64(inputs)
    positions = [i for i, v in enumerate(inputs) if isinstance(v, Tensor) and v.requires_grad]
    if not positions:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")
    _check_finite_inputs("gradcheck", inputs, positions)
    differentiable = [inputs[i] for i in positions]
    with np.errstate(all="ignore"):
        output = _output(fn, inputs)
        analytic = _analytic_jacobians(output, differentiable, positions)
        return [
            Jacobians(
                position,
                tensor.shape,
                matrix,
                _numeric_jacobian(fn, inputs, tensor, output.size, eps),
            )
            for position, tensor, matrix in zip(positions, differentiable, analytic)
        ]


# ------------------------------------------------------------------ comparing them
def excess_error(jacobians: Jacobians, atol: float, rtol: float) -> np.ndarray:
    """How far each analytic entry lies beyond ``atol + rtol * |numeric|``; > 0 fails.

    An entry where either value is nan or infinite is infinitely far: it always fails.
    """
    analytic, numeric = jacobians.analytic, jacobians.numeric
    with np.errstate(all="ignore"):
        excess = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
    return np.where(np.isfinite(analytic) & np.isfinite(numeric), excess, np.inf)


def worst_mismatches(
    jacobians: Jacobians, atol: float, rtol: float, worst: int
) -> list[tuple[int, int, tuple[int, ...]]]:
    """(row, column, input element) of the ``worst`` entries beyond tolerance, worst first.

    Entries that are not finite come first, in row-major order among themselves.
    """
    excess = excess_error(jacobians, atol, rtol)
    failing = np.argwhere(excess > 0)
    order = np.argsort(-excess[failing[:, 0], failing[:, 1]], kind="stable")[:worst]
    return [
        (int(row), int(column), tuple(int(i) for i in np.unravel_index(column, jacobians.shape)))
        for row, column in failing[order]
    ]


_NUMERIC_NOT_FINITE = (
    "the numeric derivative is not finite: x ± eps may lie outside fn's domain; "
    "use a smaller eps or a point farther inside it"
)
_ANALYTIC_NOT_FINITE = (
    "the analytic derivative is not finite: a backward gives nan or inf here; "
    "check a point inside fn's domain, or that backward"
)
_NEITHER_FINITE = (
    "neither derivative is finite: the point may lie on the edge of fn's domain; "
    "check a point inside it"
)


def _not_finite_note(analytic: float, numeric: float) -> str:
    """`` (which side is not finite and what to do)``, or "" when both are finite."""
    finite = (math.isfinite(analytic), math.isfinite(numeric))
    if all(finite):
        return ""
    note = {
        (True, False): _NUMERIC_NOT_FINITE,
        (False, True): _ANALYTIC_NOT_FINITE,
        (False, False): _NEITHER_FINITE,
    }[finite]
    return f" ({note})"


def describe_mismatch(
    jacobians: Jacobians, output_shape_size: int, atol: float, rtol: float, worst: int = 1
) -> list[str]:
    """Lines naming the ``worst`` elements where the Jacobians disagree beyond tolerance,
    or where either is not finite (then saying which, and what to try)."""
    lines = []
    for row, column, element in worst_mismatches(jacobians, atol, rtol, worst):
        where = f"output element {row}, " if output_shape_size > 1 else ""
        analytic = float(jacobians.analytic[row, column])
        numeric = float(jacobians.numeric[row, column])
        lines.append(
            f"input {jacobians.position}, {where}element {element}: "
            f"analytic {analytic:.10g} vs numeric {numeric:.10g}"
            + _not_finite_note(analytic, numeric)
        )
    return lines


# ------------------------------------------------------------------ forward mode
#: How many random directions a forward-mode check tries; J·v is linear in v, so a
#: wrong JVP shows in almost every direction, and two make a fluke miss negligible.
FORWARD_DIRECTIONS = 2


def forward_mismatches(
    fn: Callable[..., Tensor],
    inputs: Sequence[Any],
    eps: float,
    atol: float,
    rtol: float,
    seed: int = 0,
) -> list[str]:
    """Where ``J·v`` from :func:`~tinygrad_ann.jvp` and central differences along ``v``
    disagree, for :data:`FORWARD_DIRECTIONS` random normal directions ``v`` (from
    ``seed``) over every input that requires grad: one line per failing direction, naming
    the worst output element (empty: they agree). In float64, as the reverse check."""
    inputs = _as_float64(inputs)
    positions = [i for i, v in enumerate(inputs) if isinstance(v, Tensor) and v.requires_grad]
    differentiable = tuple(inputs[i] for i in positions)

    def at(*values: Any) -> Any:
        full = list(inputs)
        for position, value in zip(positions, values):
            full[position] = value
        return fn(*full)

    generator = np.random.default_rng(seed)
    lines = []
    for direction in range(FORWARD_DIRECTIONS):
        tangents = tuple(generator.standard_normal(t.shape) for t in differentiable)
        pairs = list(zip(differentiable, tangents))
        with np.errstate(all="ignore"):
            _, product = jvp(at, differentiable, tangents)
            with no_grad():
                above = _output(at, [Tensor(t.data + eps * v) for t, v in pairs])
                below = _output(at, [Tensor(t.data - eps * v) for t, v in pairs])
            numeric = (above.data - below.data) / (2 * eps)
        found = Jacobians(-1, product.shape, product.data.reshape(1, -1), numeric.reshape(1, -1))
        excess = excess_error(found, atol, rtol)
        if np.any(excess > 0):
            element = int(np.argmax(excess))
            analytic, expected = float(found.analytic[0, element]), float(found.numeric[0, element])
            index = tuple(int(i) for i in np.unravel_index(element, product.shape))
            line = (
                f"direction {direction} (random normal, seed {seed}): output element {index}: "
                f"J·v analytic {analytic:.6g}, numeric {expected:.6g}"
            )
            lines.append(line + _not_finite_note(analytic, expected))
    return lines

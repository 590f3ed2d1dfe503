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

import contextlib
import math
import numbers
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from .autograd import Function, enable_grad, grad, no_grad, recorded_results, switches
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
def _moved(x: np.ndarray, direction: np.ndarray, step: float) -> np.ndarray:
    """``x + step * direction`` as a new array, so an array a live graph saved stays untouched.

    Entries where ``direction`` is 0 keep their exact value: adding 0 would turn -0.0
    into 0.0, where ``1 / x`` jumps from -inf to inf.
    """
    moved = x.copy()
    along = direction != 0
    moved[along] += step * direction[along]
    return moved


def _one_hot(shape: tuple[int, ...], element: int) -> np.ndarray:
    """The direction that moves only ``element`` (a row-major index) of an array of ``shape``."""
    direction = np.zeros(shape)
    direction.flat[element] = 1.0
    return direction


def numerical_jvp(
    f: Callable[[np.ndarray], Any], x: np.ndarray, eps: float = 1e-6
) -> Callable[[np.ndarray], Any]:
    """Central differences of ``f`` at ``x``, as a function of a direction ``v``.

    The function returned gives ``(f(x + eps v) - f(x - eps v)) / (2 eps)``, the
    derivative of ``f`` along ``v`` up to an error of order ``eps²``; ``f`` is called
    at ``x + eps v`` first, each time on a new array. A one-hot ``v`` gives a column of
    the Jacobian: gradcheck builds the first derivatives from it, gradgradcheck the
    second (it applies it to the first-order VJP), and the localization steps each
    element of an op's input with the same ``x ± eps v``.

    >>> import numpy as np
    >>> slope = numerical_jvp(np.sin, np.array([0.0, 1.0]))
    >>> bool(abs(slope(np.array([1.0, 0.0])) - [1.0, 0.0]).max() < 1e-9)
    True
    """

    def jvp(direction: np.ndarray) -> Any:
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
            numeric[:, column] = column_of(_one_hot(tensor.shape, column)).ravel()
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


# ------------------------------------------------------------------ which op is at fault
#: Elements of one op input checked one by one when localizing; larger inputs are sampled.
LOCALIZE_ELEMENTS = 4096


@contextlib.contextmanager
def _recording_origins() -> Iterator[None]:
    """Record where each op is called (``ctx.origin``), to name it in a report."""
    state = switches()
    previous = state.record_origin
    state.record_origin = True
    try:
        yield
    finally:
        state.record_origin = previous


def _recorded_ops(fn: Callable[..., Tensor], inputs: Sequence[Any]) -> list[Function]:
    """Run ``fn`` once more (float64), noting where each op is called; its ops in the
    order backward differentiates them."""
    with _recording_origins(), enable_grad(), np.errstate(all="ignore"):
        output = _output(fn, _as_float64(inputs))
    # Every result recorded_results gives is an op's, so its grad_fn is never None.
    return [cast(Function, result.grad_fn) for result in reversed(recorded_results(output))]


def _called_at(ctx: Function) -> str:
    return f"{ctx.op_name()} (called at {ctx.__dict__.get('origin', 'an unknown line')})"


#: Kinds of _Finding.
_UNCHECKED = "unchecked"  # the op's output is not float64 even on float64 inputs
_GRADIENT_NOT_FINITE = "gradient not finite"
_STEP_NOT_FINITE = "step not finite"
_KINK = "kink"
_STEP_TOO_LARGE = "step too large"
_WRONG = "wrong"


@dataclass
class _Finding:
    """What checking one op showed: ``text`` names the op, the input, the element and
    the numbers; ``blames`` is False for a kink where the op's gradient still matches
    its central differences (such a kink explains a failure only when nothing else does)."""

    kind: str
    text: str = ""
    blames: bool = True


#: How many times a step is divided by 4 to see whether a mismatch shrinks away.
_SMALLER_STEPS = 5


class _Replay:
    """One recorded op run again on float64 copies of the inputs it recorded.

    ``upstream`` is a random upstream gradient ``u`` and ``vjps`` the op's VJPs
    for it; ``change(i, element, step)`` is how much ``sum(u * op(...))`` moves
    when that element of input ``i`` moves by ``step`` (output entries that do
    not move count 0, even when they are infinite), and ``moved`` the output then.
    The step is the one :func:`numerical_jvp` takes: ``x + step * v`` for a one-hot ``v``.
    """

    def __init__(self, ctx: Function, checked: list[int], rng: np.random.Generator) -> None:
        self.op = type(ctx)
        self.options = ctx.__dict__.get("options", {})
        self.recorded = list(ctx.inputs)
        with enable_grad():
            self.leaves = {
                i: Tensor(np.array(self.recorded[i], dtype=np.float64), requires_grad=True)
                for i in checked
            }
            output = self.run(self.leaves)
            self.float64 = output.dtype == np.float64
            if not self.float64:
                return
            self.upstream = rng.normal(size=output.shape)
            vjps = grad(output, list(self.leaves.values()), self.upstream, allow_unused=True)
        self.base = output.data
        self.vjps = {
            i: np.zeros(self.leaves[i].shape) if vjp is None else np.asarray(vjp.data, np.float64)
            for i, vjp in zip(checked, vjps)
        }
        self.moved = self.base

    def run(self, replacements: dict[int, Any]) -> Tensor:
        arguments = [replacements.get(i, value) for i, value in enumerate(self.recorded)]
        return self.op.apply(*arguments, **self.options)

    def change(self, i: int, element: int, step: float) -> float:
        leaf = self.leaves[i]
        with no_grad():
            self.moved = self.run({i: _moved(leaf.data, _one_hot(leaf.shape, element), step)}).data
        change = float(np.vdot(self.upstream, self.moved - self.base))
        if math.isfinite(change):
            return change
        difference = np.where(self.moved == self.base, 0.0, self.moved - self.base)
        return float(np.vdot(self.upstream, difference))


def _disagree(first: float, second: float, atol: float, rtol: float) -> bool:
    return abs(first - second) > atol + rtol * max(abs(first), abs(second))


def _one_sided_quotients(up: float, down: float, step: float) -> tuple[float, float]:
    """The one-sided differences from above and from below, from the changes ``up`` and
    ``down`` that steps of ``step`` and ``-step`` make. The localization needs both sides
    (a kink shows as a gap between them), so its central difference is their mean."""
    return up / step, (0.0 - down) / step  # 0 - 0 is 0, where -0 is -0


def _one_sided(replay: _Replay, i: int, element: int, step: float) -> tuple[float, float]:
    """The one-sided differences from above and from below at ``step``."""
    up = replay.change(i, element, step)
    return _one_sided_quotients(up, replay.change(i, element, -step), step)


def _is_kink(
    replay: _Replay, i: int, element: int, gap: float, eps: float, atol: float, rtol: float
) -> bool:
    """Whether the op has a kink at this element, given the ``gap`` between its one-sided
    differences at step ``eps`` (already known to be beyond tolerance).

    At a smooth point the one-sided differences (s(x + h) - s(x)) / h and
    (s(x) - s(x - h)) / h differ by about h·s''(x): a quarter of the step gives
    a quarter of the gap. At a kink they differ by the jump of the derivative,
    whatever the step. So the element is at a kink when at ``eps / 4`` the
    one-sided differences still disagree beyond tolerance, by between half and
    twice the gap at ``eps``: a gap that grows as the step shrinks comes from a
    pole the step straddles, not from a kink.
    """
    above, below = _one_sided(replay, i, element, eps / 4)
    smaller = abs(above - below)
    return _disagree(above, below, atol, rtol) and gap / 2 <= smaller <= 2 * gap


def _position(replay: _Replay, i: int, element: int) -> tuple[str, float]:
    """``"input i (shape s), element e"`` and the input's value there, for a finding's text."""
    leaf = replay.leaves[i]
    index = tuple(int(k) for k in np.unravel_index(element, leaf.shape))
    return f"input {i} (shape {leaf.shape}), element {index}", float(leaf.data.flat[element])


def _step_not_finite(
    replay: _Replay, i: int, element: int, where: str, sign: str, eps: float
) -> _Finding:
    """The op's output is not finite where it just ran: this element moved by ``sign`` eps."""
    position, value = _position(replay, i, element)
    found = _first_not_finite(replay.moved)
    output = "not finite" if found is None else found[1]
    return _Finding(
        _STEP_NOT_FINITE,
        f"the first op that is not finite a step of eps away is {where}: {position}, "
        f"value {value:.10g}: its output is {output} at {value:.10g} {sign} {eps:g}; "
        "the step leaves the op's domain: use a smaller eps or a point farther inside it",
    )


def _smaller_step_agreement(
    replay: _Replay, i: int, element: int, computed: float, atol: float, rtol: float, eps: float
) -> tuple[float, float] | None:
    """(step, central difference) at the first of a few steps below ``eps`` where the central
    difference agrees with the VJP ``computed``, or None when none does."""
    step = eps
    for _ in range(_SMALLER_STEPS):
        step /= 4
        smaller = sum(_one_sided(replay, i, element, step)) / 2
        if abs(computed - smaller) <= atol + rtol * abs(smaller):
            return step, smaller
    return None


def _examine(
    replay: _Replay, i: int, element: int, where: str, eps: float, atol: float, rtol: float
) -> _Finding | None:
    """Compare the op's VJP at one element of input ``i`` with its finite differences.

    Returns None when they agree; ``where`` is ``"<op> (called at <line>)"``.
    """
    computed = float(replay.vjps[i].flat[element])
    changes = []
    for step, sign in ((eps, "+"), (-eps, "-")):
        changes.append(replay.change(i, element, step))
        if not math.isfinite(changes[-1]):
            return _step_not_finite(replay, i, element, where, sign, eps)
    above, below = _one_sided_quotients(changes[0], changes[1], eps)
    numeric = (above + below) / 2
    mismatch = abs(computed - numeric) > atol + rtol * abs(numeric)
    gap = abs(above - below)
    if _disagree(above, below, atol, rtol) and _is_kink(replay, i, element, gap, eps, atol, rtol):
        position, value = _position(replay, i, element)
        return _Finding(
            _KINK,
            f"{where} is evaluated at a kink, where no derivative exists: {position}, value "
            f"{value:.10g}: its one-sided differences, {above:.10g} from above and {below:.10g} "
            "from below (with a random upstream gradient), stay apart as the step shrinks",
            blames=mismatch,
        )
    if not mismatch:
        return None
    position, value = _position(replay, i, element)
    agreement = _smaller_step_agreement(replay, i, element, computed, atol, rtol, eps)
    if agreement is not None:
        step, smaller = agreement
        return _Finding(
            _STEP_TOO_LARGE,
            "the first op whose gradient disagrees with finite differences is "
            f"{where}, but it agrees at a step of {step:g}: {position}, value "
            f"{value:.10g}: analytic {computed:.10g} vs numeric {numeric:.10g} at a step "
            f"of {eps:g} and {smaller:.10g} at {step:g} (with a random upstream gradient); "
            "the op is not smooth enough over a step of eps here (a kink or strong "
            "curvature nearby): use a smaller eps",
        )
    return _Finding(
        _WRONG,
        f"the first op whose gradient is wrong is {where}: {position}: analytic "
        f"{computed:.10g} vs numeric {numeric:.10g} (with a random upstream gradient)",
    )


def _op_findings(
    ctx: Function, eps: float, atol: float, rtol: float, rng: np.random.Generator
) -> Iterator[_Finding]:
    """What ``ctx``'s VJP shows against finite differences of the op alone, in order.

    The op is run again on the inputs it recorded, as float64; with a random
    upstream gradient ``u``, each input's VJP is checked, element by element,
    against the differences of ``sum(u * op(...))``: first that the VJP is
    finite, then that a step of ``eps`` keeps the op finite, then that it is
    not at a kink (see :func:`_is_kink`) and agrees with the central
    difference, at ``eps`` or failing that at a smaller step. Yields one
    ``_UNCHECKED`` finding when the op's output is not float64 even then.
    """
    checked = [
        i
        for i, parent in enumerate(ctx.parents)
        if parent is not None and np.asarray(ctx.inputs[i]).dtype.kind == "f"
    ]
    if not checked:
        return
    replay = _Replay(ctx, checked, rng)
    if not replay.float64:
        yield _Finding(_UNCHECKED)
        return
    where = _called_at(ctx)
    for i in checked:
        leaf, vjp = replay.leaves[i], replay.vjps[i]
        found = _first_not_finite(vjp)
        if found is not None:
            value = float(leaf.data[found[0]])
            yield _Finding(
                _GRADIENT_NOT_FINITE,
                f"the first op whose gradient is not finite is {where}: input {i} (shape "
                f"{leaf.shape}), element {found[0]}, value {value:.10g}: backward gives "
                f"{found[1]} (with a random upstream gradient); the op has no finite derivative "
                "there (check a point inside its domain), or its backward is wrong",
            )
        size = leaf.size
        elements = (
            np.arange(size)
            if size <= LOCALIZE_ELEMENTS
            else rng.choice(size, LOCALIZE_ELEMENTS, replace=False)
        )
        for element in elements:
            if math.isfinite(vjp.flat[element]):
                finding = _examine(replay, i, int(element), where, eps, atol, rtol)
                if finding is not None:
                    yield finding


def _findings(
    ops: list[Function], eps: float, atol: float, rtol: float, seed: int
) -> Iterator[tuple[Function, _Finding]]:
    """Each op with what checking it shows (see :func:`_op_findings`), op after op, the
    upstream gradients drawn in that order from ``seed``."""
    rng = np.random.default_rng(seed)
    for ctx in ops:
        for finding in _op_findings(ctx, eps, atol, rtol, rng):
            yield ctx, finding


def _step_out_of_domain(
    jacobians: Sequence[Jacobians], atol: float, rtol: float
) -> tuple[int, tuple[int, ...]] | None:
    """(input, element) of the worst failing entry when only its finite difference is not
    finite: then fn itself is not finite a step of eps away from there."""
    for jacobian in jacobians:
        mismatches = worst_mismatches(jacobian, atol, rtol, worst=1)
        if mismatches:
            ((row, column, element),) = mismatches
            analytic, numeric = jacobian.analytic[row, column], jacobian.numeric[row, column]
            only_numeric = np.isfinite(analytic) and not np.isfinite(numeric)
            return (jacobian.position, element) if only_numeric else None
    return None


def _where_fn_stops_being_finite(
    fn: Callable[..., Tensor],
    inputs: Sequence[Any],
    position: int,
    element: tuple[int, ...],
    eps: float,
) -> str | None:
    """The op that makes ``fn`` not finite when ``element`` of input ``position`` moves by
    ``±eps``: from the output back, the op whose output is not finite but whose inputs are."""
    prepared = _as_float64(inputs)
    leaf = prepared[position]
    original = leaf.data
    direction = _one_hot(leaf.shape, int(np.ravel_multi_index(element, leaf.shape)))
    for step, sign in ((eps, "+"), (-eps, "-")):
        leaf.data = _moved(original, direction, step)
        with _recording_origins(), enable_grad(), np.errstate(all="ignore"):
            tensor = _output(fn, prepared)
        if np.isfinite(tensor.data).all():
            continue
        while tensor.grad_fn is not None:
            ctx = tensor.grad_fn
            parent = next(
                (p for p in ctx.parents if p is not None and not np.isfinite(p.data).all()), None
            )
            if parent is None:
                found = _first_not_finite(tensor.data)
                assert found is not None  # the walk only reaches tensors that are not finite
                return (
                    f"fn is not finite at x {sign} eps (input {position}, element {element} "
                    f"moved by {step:g}): the first op to give {found[1]} there is "
                    f"{_called_at(ctx)}"
                )
            tensor = parent
    return None


def localize_mismatch(
    fn: Callable[..., Tensor],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
    *,
    jacobians: Sequence[Jacobians] | None = None,
) -> str:
    """Which op of ``fn``'s graph is at fault, and why, as a sentence.

    Runs ``fn`` once more (float64), then checks each recorded op's VJP on its
    own recorded inputs against finite differences of that op alone, in the
    order backward runs them, and names the first that misbehaves: its name,
    where it was called, the input and the element. An op misbehaves when its
    VJP is nan or inf, when a step of ``eps`` takes its output out of its
    domain, when it sits at a kink (its one-sided differences disagree, and
    keep disagreeing as the step shrinks, so no gradient can match both), when
    its VJP disagrees with the central difference at ``eps`` but agrees at a
    smaller step (``eps`` is too large there), or when they disagree at every
    step (its gradient is wrong). When every op checks out, says so, naming an
    op at a kink if there is one: the mismatch then comes from a
    non-differentiable point, a value that enters the graph as a constant,
    randomness or state in ``fn``, or the tolerances.

    ``jacobians`` are those that failed (from :func:`compute_jacobians`): when
    the worst entry's finite difference is not finite, the op that makes ``fn``
    not finite a step of ``eps`` away is named instead.
    """
    check_settings("localize_mismatch", eps, atol, rtol)
    if jacobians is not None:
        stepped_out = _step_out_of_domain(jacobians, atol, rtol)
        if stepped_out is not None:
            sentence = _where_fn_stops_being_finite(fn, inputs, *stepped_out, eps)
            if sentence is not None:
                return sentence
    ops = _recorded_ops(fn, inputs)
    unchecked = []
    kink = None
    with np.errstate(all="ignore"):  # nan and inf are what the checks look for
        for ctx, finding in _findings(ops, eps, atol, rtol, seed):
            if finding.kind == _UNCHECKED:
                unchecked.append(ctx.op_name())
            elif finding.kind == _KINK and finding.blames:
                return (
                    f"{finding.text}; no gradient can match both, so check it at a point "
                    "away from the kink"
                )
            elif finding.kind == _KINK:
                kink = kink or finding.text
            else:
                return finding.text
    return _every_op_correct(len(ops), unchecked, kink)


def _every_op_correct(ops: int, unchecked: list[str], kink: str | None) -> str:
    """The verdict when no op is to blame: the kink found, if any, else the ops not checked,
    else the causes that lie outside the ops."""
    if kink:
        return (
            f"each recorded op computes its own gradient correctly, but {kink}; finite "
            "differences of fn straddle it"
        )
    if unchecked:
        return (
            f"each of the {ops - len(unchecked)} recorded ops that could be checked "
            "computes its own gradient correctly; not checked, as their output is not float64 "
            f"even for float64 inputs: {', '.join(unchecked)}"
        )
    return (
        f"each of the {ops} recorded ops computes its own gradient correctly, so the "
        "mismatch comes from a point where fn is not differentiable (a kink or a tie that "
        "the finite differences straddle), from a value that depends on the inputs but "
        "enters the graph as a constant (.detach(), .data, .numpy()), from fn not being a "
        "pure function of its inputs (randomness, state), or from the tolerances"
    )


def _kink_in(
    fn: Callable[..., Tensor],
    inputs: Sequence[Any],
    eps: float,
    atol: float,
    rtol: float,
    seed: int,
) -> str | None:
    """The first op of ``fn``'s graph found at a kink (see :func:`_is_kink`), as a sentence."""
    ops = _recorded_ops(fn, inputs)
    with np.errstate(all="ignore"):
        for _, finding in _findings(ops, eps, atol, rtol, seed):
            if finding.kind == _KINK:
                return finding.text
    return None


# ------------------------------------------------------------------ the checks
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
    the input, the element, and the analytic and numeric values; a value that
    is nan or infinite always fails, and the message says which side it is on.
    ``eps`` must be a finite number > 0, ``atol`` and ``rtol`` finite numbers
    >= 0, and the inputs checked finite (else ValueError).

    >>> import tinygrad_ann as tg
    >>> x = tg.tensor([0.5, -1.0, 2.0], requires_grad=True)
    >>> tg.gradcheck(lambda t: (t.tanh() * t).sum(), [x])
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

"""Which op of a function's graph is at fault when gradcheck fails, and why.

:func:`localize_mismatch` runs the function once more, replays each recorded op
alone on the inputs it recorded and compares its VJP with central differences
of that op, in the order backward runs them. It names the first op that
misbehaves and why: its gradient is wrong, or not finite, or a step of ``eps``
takes it out of its domain, or it sits at a kink, where no derivative exists,
or ``eps`` is too large for its curvature.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from ..tensor import Tensor
from .engine import grad
from .function import Function
from .grad_mode import enable_grad, no_grad, switches
from .graph import recorded_results
from .numerical import (
    Jacobians,
    _as_float64,
    _first_not_finite,
    _moved,
    _output,
    check_settings,
    worst_mismatches,
)

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
    return f"{ctx.op_name()} (called at {getattr(ctx, 'origin', 'an unknown line')})"


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
        self.options = getattr(ctx, "options", {})
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
            self.moved = self.run({i: _moved(leaf.data, element, step)}).data
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
    moving = int(np.ravel_multi_index(element, leaf.shape))
    for step, sign in ((eps, "+"), (-eps, "-")):
        leaf.data = _moved(original, moving, step)
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

"""gradcheck names the op whose VJP is wrong, and the line that called it.

The localization's verdicts are also stated exactly: the line it names (or that it has none),
zero tolerances, the kink rule's bounds, the first smaller step that agrees, the output it names
for a step out of an op's domain, output entries that do not move, which elements it samples,
and how often it reads each op.

The localization weighs each op's output with a random upstream gradient drawn, op after op in
backward order, from ``np.random.default_rng(0)``: ``U`` holds the first three draws. At a step
``EPS`` that is a power of two, and at points that are dyadic fractions, the differences of
these small piecewise-polynomial ops are exact, so zero tolerances and exact bounds mean what
they say.
"""

import inspect
from collections import Counter

import numpy as np
import pytest
from custom_ops import scaled_exp
from test_gradcheck import ALL_CORRECT

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann.autograd import observe_backward, recorded_results
from tinygrad_ann.autograd.localize import LOCALIZE_ELEMENTS, localize_mismatch
from tinygrad_ann.testing import assert_gradients_match


class BadSoftplus(tg.Function):
    """softplus(x) = log(1 + e^x), whose derivative is sigmoid(x): written with the wrong sign."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.logaddexp(0, x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        return grad / (1 + np.exp(x))  # sigmoid(-x): the bug


class GoodSoftplus(BadSoftplus):
    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        return grad / (1 + np.exp(-x))


X, LABELS = tg.data.two_moons(12, noise=0.1, seed=0)
RNG = np.random.default_rng(0)
W1, B1 = RNG.normal(size=(8, 2)), RNG.normal(size=8)
W2, B2 = RNG.normal(size=(2, 8)), RNG.normal(size=2)


def two_moons_loss(softplus):
    """About a dozen ops: linear, tanh, mul, add, softplus, linear, cross-entropy, a penalty."""

    def loss(w1, b1, w2, b2):
        hidden = F.linear(tg.tensor(X), w1, b1).tanh()
        smooth = softplus.apply(hidden * 0.5 + 0.1)  # the line a report should name
        logits = F.linear(smooth, w2, b2)
        return F.cross_entropy(logits, LABELS) + 0.01 * (w1**2).sum()

    return loss


SOFTPLUS_LINE = next(
    number
    for number, line in enumerate(
        inspect.getsourcelines(two_moons_loss)[0], two_moons_loss.__code__.co_firstlineno
    )
    if "softplus.apply" in line
)


def parameters():
    return [tg.tensor(a, requires_grad=True) for a in (W1, B1, W2, B2)]


def test_gradcheck_names_the_broken_custom_op_and_where_it_was_called():
    with pytest.raises(tg.GradcheckError) as caught:
        tg.gradcheck(two_moons_loss(BadSoftplus), parameters())
    message = str(caught.value)
    assert "the first op whose gradient is wrong is BadSoftplus" in message
    assert f"test_localize.py:{SOFTPLUS_LINE}" in message
    assert "input 0 (shape (12, 8)), element" in message


def test_assert_gradients_match_names_it_too():
    with pytest.raises(tg.GradcheckError, match="wrong is BadSoftplus"):
        assert_gradients_match(two_moons_loss(BadSoftplus), *parameters())


def test_the_correct_model_passes():
    assert tg.gradcheck(two_moons_loss(GoodSoftplus), parameters())


def test_localization_checks_every_op_in_backward_order():
    message = localize_mismatch(two_moons_loss(GoodSoftplus), parameters())
    assert message.startswith("each of the 11 recorded ops computes its own gradient correctly")
    loss = two_moons_loss(GoodSoftplus)(*parameters())
    engine_order = []
    with observe_backward(lambda ctx, *_: engine_order.append(ctx)):
        loss.backward()
    walked = [id(result.grad_fn) for result in reversed(recorded_results(loss))]
    assert walked == [id(ctx) for ctx in engine_order]
    assert len(engine_order) == 11


def test_a_function_that_is_not_pure_is_not_blamed_on_an_op():
    rng = np.random.default_rng(1)

    def noisy(x):  # a fresh random factor on every call: finite differences see noise
        return (x * tg.tensor(rng.normal(size=3))).sum()

    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(tg.GradcheckError) as caught:
        tg.gradcheck(noisy, [x])
    assert "each of the 2 recorded ops computes its own gradient correctly" in str(caught.value)
    assert "not being a pure function" in str(caught.value)


def test_an_op_with_options_is_replayed_with_them():
    class DoubleSum(tg.Function):
        @staticmethod
        def forward(ctx, x, axis):
            ctx.save_for_backward(x.shape, axis)
            return 2 * x.sum(axis=axis)

        @staticmethod
        def backward(ctx, grad):
            shape, axis = ctx.saved
            return np.broadcast_to(np.expand_dims(grad, axis), shape) * 3.0  # should be 2

    x = tg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    message = localize_mismatch(lambda t: DoubleSum.apply(t, axis=1).sum(), [x])
    assert message.startswith("the first op whose gradient is wrong is DoubleSum")
    assert "analytic" in message and "numeric" in message


U = np.random.default_rng(0).normal(size=3)  # 0.1257302211, -0.1321048632, 0.6404226504


EPS = 2.0**-20


EXACT = {"eps": EPS, "atol": 0, "rtol": 0}


OUT_OF_DOMAIN = "the step leaves the op's domain: use a smaller eps or a point farther inside it"


def leaf(values):
    return tg.tensor(np.array(values, dtype=np.float64), requires_grad=True)


def called_at(fn):
    """Where the op in the one-line body of ``fn`` is called, as the localization names it."""
    return f"{fn.__code__.co_filename}:{fn.__code__.co_firstlineno + 1}"


# ---------------------------------------------------------------- the line it names
def test_an_op_recorded_before_fn_runs_is_named_without_a_line():
    # w's exp is recorded when this test builds w, outside the localization's run of fn, so
    # the line that called it is unknown; its VJP is 1.5 times too large.
    w = scaled_exp(1.5).apply(leaf([0.0]))
    analytic, numeric = U[2] * 1.5, U[2]  # exp(0) = 1, weighted by its own upstream U[2]
    assert localize_mismatch(lambda t: (t * w).sum(), [leaf([0.5])]) == (
        "the first op whose gradient is wrong is ScaledExp (called at an unknown line): input 0 "
        f"(shape (1,)), element (0,): analytic {analytic:.10g} vs numeric {numeric:.10g} (with "
        "a random upstream gradient)"
    )


# ---------------------------------------------------------------- zero tolerances
def twice_sum(t):
    return (t * 2.0).sum()


def test_zero_tolerances_accept_differences_that_agree_exactly():
    # Linear ops at dyadic points: both one-sided differences equal the VJP, bit for bit.
    assert localize_mismatch(twice_sum, [leaf([1.0, 0.5])], **EXACT) == ALL_CORRECT.format(2)


def relu_sum(t):
    return t.relu().sum()


def test_a_step_too_large_is_named_at_the_first_smaller_step_that_agrees_exactly():
    # relu at 3/4 of a step: a step of EPS straddles its kink, EPS / 4 does not, and there the
    # one-sided differences are exactly relu's upstream gradient U[1] (after sum's U[0]). The
    # second element, 1.0, moves nothing but its own output.
    value = 3 * 2.0**-22
    numeric = (U[1] + U[1] * 3 / 4) / 2
    assert localize_mismatch(relu_sum, [leaf([value, 1.0])], **EXACT) == (
        "the first op whose gradient disagrees with finite differences is relu (called at "
        f"{called_at(relu_sum)}), but it agrees at a step of 2.38419e-07: input 0 (shape (2,)), "
        f"element (0,), value {value:.10g}: analytic {U[1]:.10g} vs numeric {numeric:.10g} at "
        f"a step of 9.53674e-07 and {U[1]:.10g} at 2.38419e-07 (with a random upstream "
        "gradient); the op is not smooth enough over a step of eps here (a kink or strong "
        "curvature nearby): use a smaller eps"
    )


# ---------------------------------------------------------------- the kink rule's bounds
def kink_and_curve(k, c):
    """k |x| + c x²: one-sided differences at step h from 0 are ±(k + c h), h > 0, so their
    gap is 2 k + 2 c h, and at a quarter of the step 2 k + c h / 2."""

    class KinkAndCurve(tg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return k * np.abs(x) + c * x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved
            return grad * (k * np.sign(x) + 2 * c * x)

    return lambda t: KinkAndCurve.apply(t)


@pytest.mark.parametrize(
    ("k", "c", "ratio", "at_a_kink"),
    [
        (2.0**-22, 1.0, 0.4, False),
        (2.0**-21, 1.0, 0.5, True),
        (7 * 2.0**-22, -1.0, 2.0, True),
        (3 * 2.0**-21, -1.0, 2.5, False),
    ],
)
def test_a_kink_is_a_gap_that_a_quarter_step_keeps_between_half_and_twice(k, c, ratio, at_a_kink):
    # At 0, with a step of EPS: gap(EPS / 4) / gap(EPS) = (2 k + c EPS / 2) / (2 k + 2 c EPS)
    # is `ratio`, exactly (every value here is a dyadic fraction times U[0]). The VJP there
    # (0) matches the central difference (0), so the kink is named without blame.
    assert (2 * k + c * EPS / 2) / (2 * k + 2 * c * EPS) == ratio
    fn = kink_and_curve(k, c)
    message = localize_mismatch(fn, [leaf([0.0])], **EXACT)
    if not at_a_kink:
        assert message == ALL_CORRECT.format(1)
        return
    above = U[0] * (k * EPS + c * EPS * EPS) / EPS
    where = f"{fn.__code__.co_filename}:{fn.__code__.co_firstlineno}"  # the lambda's line
    assert message == (
        f"each recorded op computes its own gradient correctly, but KinkAndCurve (called at "
        f"{where}) is evaluated at a kink, where no derivative exists: input 0 (shape "
        f"(1,)), element (0,), value 0: its one-sided differences, {above:.10g} from above and "
        f"{-above:.10g} from below (with a random upstream gradient), stay apart as the step "
        "shrinks; finite differences of fn straddle it"
    )


# ---------------------------------------------------------------- a step out of the domain
def reciprocal(t):
    return 1.0 / t


def test_a_step_up_out_of_the_domain_names_the_sign_and_the_infinite_output():
    # 1 / x at -1e-6: x + eps is 0, where the op gives inf (x - eps is fine).
    assert localize_mismatch(reciprocal, [leaf([-1e-6])]) == (
        f"the first op that is not finite a step of eps away is div (called at "
        f"{called_at(reciprocal)}): input 1 (shape (1,)), element (0,), value -1e-06: its "
        f"output is inf at -1e-06 + 1e-06; {OUT_OF_DOMAIN}"
    )
    with pytest.raises(tg.GradcheckError) as caught:
        tg.gradcheck(reciprocal, [leaf([-1e-6])])
    assert str(caught.value).endswith(
        "fn is not finite at x + eps (input 0, element (0,) moved by 1e-06): the first op to "
        f"give inf there is div (called at {called_at(reciprocal)})"
    )


class Jump(tg.Function):
    """-1e308 below 0 and 1e308 from 0 up: finite on both sides, with a jump that overflows."""

    @staticmethod
    def forward(ctx, x):
        return np.where(x >= 0, 1e308, -1e308)

    @staticmethod
    def backward(ctx, grad):
        return grad * 0.0


def jump(t):
    return Jump.apply(t)


def test_a_change_that_overflows_between_finite_outputs_is_named_as_not_finite():
    # At 0 - eps the output is -1e308, finite, but its change from 1e308 is -inf.
    assert localize_mismatch(jump, [leaf([0.0])]) == (
        f"the first op that is not finite a step of eps away is Jump (called at {called_at(jump)})"
        f": input 0 (shape (1,)), element (0,), value 0: its output is not finite at 0 - 1e-06; "
        f"{OUT_OF_DOMAIN}"
    )


# ---------------------------------------------------------------- output entries that do not move
def padded_max(t):
    return tg.concatenate([t, tg.tensor([-np.inf])]).max()


def test_an_infinite_output_entry_that_does_not_move_counts_zero():
    # concatenate's output ends with -inf: a step of any input element leaves it at -inf, and
    # -inf - -inf (nan) must not make the op look as if it left its domain.
    assert localize_mismatch(padded_max, [leaf([1.0, 2.0])]) == ALL_CORRECT.format(2)


def capped_below(t):
    return tg.maximum(t, tg.tensor([0.0, np.inf]))


def test_an_infinite_output_entry_that_does_not_move_adds_nothing_to_either_side():
    # maximum's second output entry is inf whatever t is. At t[0] = 0 (a tie with the bound)
    # a step up moves the first entry by eps and a step down moves nothing: the one-sided
    # differences are U[0] and 0, with no contribution from the entry at inf.
    message = localize_mismatch(capped_below, [leaf([0.0, 1.0])])
    assert message == (
        "each recorded op computes its own gradient correctly, but maximum (called at "
        f"{called_at(capped_below)}) is evaluated at a kink, where no derivative exists: input 0 "
        f"(shape (2,)), element (0,), value 0: its one-sided differences, {U[0]:.10g} from above "
        "and 0 from below (with a random upstream gradient), stay apart as the step shrinks; "
        "finite differences of fn straddle it"
    )


# ---------------------------------------------------------------- which elements are checked
def elements_examined(size):
    """The elements of a correct op's input that the localization moves, in order, each once
    per step direction: the op's forward notes which element differs from the recorded input."""
    recorded = np.linspace(-1.0, 1.0, size)
    moved = []

    class Doubled(tg.Function):
        @staticmethod
        def forward(ctx, x):
            moved.extend(int(i) for i in np.flatnonzero(x != recorded))
            return x * 2.0

        @staticmethod
        def backward(ctx, grad):
            return grad * 2.0

    assert localize_mismatch(lambda t: Doubled.apply(t).sum(), [leaf(recorded)]) == (
        ALL_CORRECT.format(2)
    )
    assert moved[0::2] == moved[1::2]  # each element moved up, then down
    return moved[0::2]


def test_an_input_of_up_to_localize_elements_is_checked_whole_and_in_order():
    assert elements_examined(LOCALIZE_ELEMENTS) == list(range(LOCALIZE_ELEMENTS))


def test_a_larger_input_is_sampled_without_repeats():
    examined = elements_examined(LOCALIZE_ELEMENTS + 904)
    assert len(examined) == len(set(examined)) == LOCALIZE_ELEMENTS
    assert examined != sorted(examined)  # drawn, not the first ones


# ---------------------------------------------------------------- the walk over the graph
def test_the_walk_reads_each_recorded_op_once_however_often_its_result_is_reused():
    # Each op uses the result of the one before twice: a walk that went through every use
    # would read the first op 2^9 times, and a deep graph like it would never be walked.
    y = leaf([1.0])
    for _ in range(10):
        y = y + y
    reads = Counter()

    class CountedParents(tuple):
        def __iter__(self):
            reads[id(self)] += 1
            return super().__iter__()

    results = recorded_results(y)  # the walk the localization takes, in reverse
    for result in results:
        result.grad_fn.parents = CountedParents(result.grad_fn.parents)
    assert [id(result) for result in recorded_results(y)] == [id(result) for result in results]
    assert len(results) == 10 and sorted(reads.values()) == [1] * 10

"""Gradient checks that cannot be fooled: a step or tolerance that makes no sense is refused,
a value that is not finite (on either side) fails, and the localization names the real cause:
a backward that gives nan or inf, a step that leaves an op's domain, an op at a kink, or a step
too large for the op's curvature.

The localization weighs each op's output with a random upstream gradient drawn, op after op in
backward order, from ``np.random.default_rng(0)``: for a function of one op those are ``U``.
"""

import math
import re

import numpy as np
import pytest

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import GradcheckError
from tinygrad_ann.autograd.gradcheck import gradgradcheck
from tinygrad_ann.autograd.localize import localize_mismatch
from tinygrad_ann.autograd.numerical import compute_jacobians
from tinygrad_ann.testing import assert_gradients_match

U = np.random.default_rng(0).normal(size=3)  # 0.1257302211, -0.1321048632, 0.6404226504
TOLERANCES = "(atol=1e-05, rtol=0.001)"
NUMERIC_NOT_FINITE = (
    "the numeric derivative is not finite: x ± eps may lie outside fn's domain; "
    "use a smaller eps or a point farther inside it"
)
ANALYTIC_NOT_FINITE = (
    "the analytic derivative is not finite: a backward gives nan or inf here; "
    "check a point inside fn's domain, or that backward"
)
NEITHER_FINITE = (
    "neither derivative is finite: the point may lie on the edge of fn's domain; "
    "check a point inside it"
)


def leaf(values):
    return tg.tensor(np.array(values, dtype=np.float64), requires_grad=True)


def called_at(fn):
    """Where the op in the one-line body of ``fn`` is called, as the localization names it."""
    return f"{fn.__code__.co_filename}:{fn.__code__.co_firstlineno + 1}"


def failure(check, fn, inputs, **options):
    with pytest.raises(GradcheckError) as caught:
        check(fn, inputs, **options)
    return str(caught.value)


def kink(op, where, shape, element, value, above, below):
    return (
        f"{op} (called at {where}) is evaluated at a kink, where no derivative exists: "
        f"input 0 (shape {shape}), element {element}, value {value:.10g}: its one-sided "
        f"differences, {above:.10g} from above and {below:.10g} from below (with a random "
        "upstream gradient), stay apart as the step shrinks"
    )


# ---------------------------------------------------------------- refused up front
def identity_sum(t):
    return t.sum()


def check_with_gradcheck(**options):
    return tg.gradcheck(identity_sum, [leaf([1.0])], **options)


def check_with_gradgradcheck(**options):
    return gradgradcheck(lambda t: t * t, [leaf([1.0])], **options)


def check_with_the_kit(**options):
    return assert_gradients_match(identity_sum, leaf([1.0]), **options)


def check_with_compute_jacobians(**options):
    return compute_jacobians(identity_sum, [leaf([1.0])], options.pop("eps"))


def check_with_localize(**options):
    return localize_mismatch(identity_sum, [leaf([1.0])], **options)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0, "0"),
        (0.0, "0.0"),
        (-1e-6, "-1e-06"),
        (math.nan, "nan"),
        (math.inf, "inf"),
        ("1e-6", "'1e-6'"),
        (None, "None"),
        (True, "True"),
    ],
)
def test_gradcheck_refuses_a_step_that_is_not_a_positive_finite_number(value, shown):
    # Before, eps=0 and eps=-1e-6 passed every function, nan and inf passed through nan
    # differences, a string failed deep inside with a TypeError, True was taken as 1.
    message = f"gradcheck: eps must be a finite number > 0, got {shown}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        check_with_gradcheck(eps=value)


@pytest.mark.parametrize(
    ("check", "name"),
    [
        (check_with_gradcheck, "gradcheck"),
        (check_with_gradgradcheck, "gradgradcheck"),
        (check_with_the_kit, "assert_gradients_match"),
        (check_with_compute_jacobians, "compute_jacobians"),
        (check_with_localize, "localize_mismatch"),
    ],
)
def test_every_check_names_the_argument_it_refuses(check, name):
    with pytest.raises(ValueError, match=f"^{name}: eps must be a finite number > 0, got 0$"):
        check(eps=0)
    if check is check_with_compute_jacobians:
        return  # it takes no tolerances
    # A negative tolerance fails everything; an infinite or nan one passes everything.
    for argument, value, shown in [("atol", -1e-5, "-1e-05"), ("atol", math.inf, "inf")]:
        message = f"{name}: {argument} must be a finite number >= 0, got {shown}"
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            check(**{argument: value})
    with pytest.raises(ValueError, match=f"^{name}: rtol must be a finite number >= 0, got nan$"):
        check(rtol=math.nan)


def test_the_kit_refuses_to_list_fewer_than_one_element():
    # worst=0 listed nothing, and a wrong gradient then passed.
    message = "assert_gradients_match: worst must be an integer >= 1, got 0"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        assert_gradients_match(lambda t: t * t.detach(), leaf([1.0, 2.0]), worst=0)


@pytest.mark.parametrize(
    ("check", "name"), [(tg.gradcheck, "gradcheck"), (gradgradcheck, "gradgradcheck")]
)
def test_an_input_that_is_not_finite_is_refused(check, name):
    # Before, nan analytic against nan numeric counted as a match: gradcheck returned True.
    message = (
        f"{name}: input 1 is not finite at element (1,) (nan): check gradients at a finite point"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        check(lambda a, b: a * b, [leaf([1.0, 2.0]), leaf([3.0, math.nan])])


def test_gradgradcheck_refuses_grad_outputs_that_are_not_finite():
    message = "gradgradcheck: grad_outputs is not finite at element (0,) (inf)"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        gradgradcheck(lambda t: t * t, [leaf([1.0, 2.0])], grad_outputs=[math.inf, 1.0])


# ---------------------------------------------------------------- values that are not finite
def sqrt_sum(t):
    return t.sqrt().sum()


def test_a_step_out_of_the_domain_fails_and_names_the_op_that_leaves_it():
    # sqrt at 1e-7 - 1e-6 is nan: the finite difference used to count as a match.
    message = failure(tg.gradcheck, sqrt_sum, [leaf([1e-7])])
    assert message == (
        "gradcheck failed: input 0, element (0,): analytic 1581.13883 vs numeric nan "
        f"({NUMERIC_NOT_FINITE}) {TOLERANCES}; fn is not finite at x - eps (input 0, element "
        f"(0,) moved by -1e-06): the first op to give nan there is sqrt (called at "
        f"{called_at(sqrt_sum)})"
    )
    assert 1 / (2 * math.sqrt(1e-7)) == pytest.approx(1581.13883, abs=1e-5)
    assert tg.gradcheck(sqrt_sum, [leaf([1e-7])], eps=1e-9)  # the smaller step it suggests


def ten_times_then_sqrt(t):
    return (t * 10.0).sqrt().sum()


def test_the_op_that_leaves_its_domain_is_found_at_the_step_that_makes_fn_not_finite():
    # At the op's own input (1e-6), a step of eps stays inside the domain (sqrt(0) = 0): only
    # fn's step of eps, ten times as large at sqrt, shows where the nan comes from.
    message = failure(tg.gradcheck, ten_times_then_sqrt, [leaf([1e-7])])
    assert message.endswith(
        "fn is not finite at x - eps (input 0, element (0,) moved by -1e-06): the first op "
        f"to give nan there is sqrt (called at {called_at(ten_times_then_sqrt)})"
    )
    assert "gradient is wrong" not in message


def test_log_near_zero_fails_with_the_numeric_side_named():
    message = failure(tg.gradcheck, lambda t: t.log().sum(), [leaf([5e-7])])
    assert message.startswith(
        f"gradcheck failed: input 0, element (0,): analytic 2000000 vs numeric nan "
        f"({NUMERIC_NOT_FINITE}) {TOLERANCES}; fn is not finite at x - eps"
    )


def reciprocal(t):
    return 1.0 / t


def test_an_infinite_finite_difference_fails():
    # 1 / (1e-6 - 1e-6) = inf: (5e5 - inf) / 2e-6 = -inf, against -1 / x² = -1e12.
    message = failure(tg.gradcheck, reciprocal, [leaf([1e-6])])
    assert message == (
        f"gradcheck failed: input 0, element (0,): analytic -1e+12 vs numeric -inf "
        f"({NUMERIC_NOT_FINITE}) {TOLERANCES}; fn is not finite at x - eps (input 0, element "
        f"(0,) moved by -1e-06): the first op to give inf there is div (called at "
        f"{called_at(reciprocal)})"
    )


def test_the_kit_fails_on_a_numeric_value_that_is_not_finite_and_counts_it():
    with pytest.raises(GradcheckError) as caught:
        assert_gradients_match(sqrt_sum, leaf([1e-7, 4.0]))
    lines = str(caught.value).split("\n")
    assert lines[:3] == [
        f"gradients do not match finite differences {TOLERANCES}:",
        "  input 0 (shape (2,)): 1 mismatching entry, worst:",
        f"    input 0, element (0,): analytic 1581.13883 vs numeric nan ({NUMERIC_NOT_FINITE})",
    ]
    assert lines[3].startswith("fn is not finite at x - eps (input 0, element (0,) moved by")


def test_gradgradcheck_fails_on_a_numeric_value_that_is_not_finite():
    # d/dx of the first derivative v / (2 sqrt(x)) is -v / (4 x^1.5), v drawn from seed 0.
    (v,) = np.random.default_rng(0).normal(size=1)
    message = failure(gradgradcheck, lambda t: t.sqrt(), [leaf([1e-7])])
    assert message == (
        "gradgradcheck failed: d(grad of input 0 at (0,)) / d(input 0 at (0,)): analytic "
        f"{-v / (4 * 1e-7**1.5):.10g} vs numeric nan ({NUMERIC_NOT_FINITE}) {TOLERANCES}"
    )


def sqrt_plus_abs(a, b):
    return a.sqrt() + b.abs()


def test_a_second_order_value_that_is_not_finite_is_not_put_down_to_a_kink():
    # abs sits at its kink at b = 0, but the failure is sqrt's step out of its domain.
    (v,) = np.random.default_rng(0).normal(size=1)
    message = failure(gradgradcheck, sqrt_plus_abs, [leaf([1e-7]), leaf([0.0])])
    assert message == (
        "gradgradcheck failed: d(grad of input 0 at (0,)) / d(input 0 at (0,)): analytic "
        f"{-v / (4 * 1e-7**1.5):.10g} vs numeric nan ({NUMERIC_NOT_FINITE}) {TOLERANCES}"
    )


def test_sqrt_at_zero_is_reported_as_not_finite_rather_than_not_linear():
    # A zero upstream gradient gives 0 / 0 = nan there: before, "backward must be linear".
    message = failure(tg.gradcheck, sqrt_sum, [leaf([0.0])])
    assert message == (
        f"gradcheck failed: input 0, element (0,): analytic inf vs numeric nan "
        f"({NEITHER_FINITE}) {TOLERANCES}; the first op whose gradient is not finite is sqrt "
        f"(called at {called_at(sqrt_sum)}): input 0 (shape (1,)), element (0,), value 0: "
        "backward gives -inf (with a random upstream gradient); the op has no finite "
        "derivative there (check a point inside its domain), or its backward is wrong"
    )  # -inf: sqrt's random upstream gradient, U[1] after sum's U[0], is negative
    assert "linear" not in message


def abs_as_sqrt_of_square(t):
    return (t * t).sqrt().sum()


def test_a_nan_analytic_derivative_fails_and_names_the_op_whose_backward_gives_inf():
    # |x| written as sqrt(x²): at 0, sqrt's backward gives inf and mul's turns it into nan,
    # while the finite difference is a clean (|eps| - |-eps|) / 2 eps = 0.
    message = failure(tg.gradcheck, abs_as_sqrt_of_square, [leaf([0.0])])
    assert message.startswith(
        f"gradcheck failed: input 0, element (0,): analytic nan vs numeric 0 "
        f"({ANALYTIC_NOT_FINITE}) {TOLERANCES}; the first op whose gradient is not finite is "
        f"sqrt (called at {called_at(abs_as_sqrt_of_square)}): input 0 (shape (1,)), element "
        "(0,), value 0: backward gives -inf"
    )


class NanAtZero(tg.Function):
    """2x, with a backward that divides x by itself (a bug: nan at x = 0)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return 2.0 * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        return grad * 2.0 * x / x


def nan_at_zero(t):
    return NanAtZero.apply(t).sum()


def test_a_backward_that_gives_nan_at_a_smooth_point_is_named():
    message = failure(tg.gradcheck, nan_at_zero, [leaf([1.0, 0.0])])
    assert message == (
        f"gradcheck failed: input 0, element (1,): analytic nan vs numeric 2 "
        f"({ANALYTIC_NOT_FINITE}) {TOLERANCES}; the first op whose gradient is not finite is "
        f"NanAtZero (called at {called_at(nan_at_zero)}): input 0 (shape (2,)), element (1,), "
        "value 0: backward gives nan (with a random upstream gradient); the op has no finite "
        "derivative there (check a point inside its domain), or its backward is wrong"
    )


def test_localize_alone_names_an_op_that_a_step_of_eps_takes_out_of_its_domain():
    # Before: "each of the 2 recorded ops computes its own gradient correctly".
    assert localize_mismatch(sqrt_sum, [leaf([1e-7])]) == (
        f"the first op that is not finite a step of eps away is sqrt (called at "
        f"{called_at(sqrt_sum)}): input 0 (shape (1,)), element (0,), value 1e-07: its output "
        "is nan at 1e-07 - 1e-06; the step leaves the op's domain: use a smaller eps or a "
        "point farther inside it"
    )


# ---------------------------------------------------------------- kinks
def relu(t):
    return t.relu()


def leaky_relu(t):
    return F.leaky_relu(t, 0.25)


def clip(t):
    return t.clip(0.0, 1.0)


def max_of_all(t):
    return t.max()


def min_of_all(t):
    return t.min()


AWAY = "; no gradient can match both, so check it at a point away from the kink"


def test_relu_at_zero_is_reported_at_a_kink_not_as_a_wrong_gradient():
    # relu's gradient at 0 is 0; central differences see (1e-6 - 0) / 2e-6 = 0.5.
    message = failure(tg.gradcheck, relu, [leaf([0.0, 1.0])])
    assert message == (
        "gradcheck failed: input 0, output element 0, element (0,): analytic 0 vs numeric 0.5 "
        f"{TOLERANCES}; " + kink("relu", called_at(relu), (2,), (0,), 0.0, U[0], 0.0) + AWAY
    )
    assert "gradient is wrong" not in message


def test_leaky_relu_at_zero_is_at_a_kink():
    # Slopes 1 above and 0.25 below, weighted by U[0].
    expected = kink("leaky_relu", called_at(leaky_relu), (2,), (0,), 0.0, U[0], 0.25 * U[0])
    assert localize_mismatch(leaky_relu, [leaf([0.0, 1.0])]) == expected + AWAY


@pytest.mark.parametrize(
    ("values", "element", "above", "below"),
    [([0.0, 0.5], 0, U[0], 0.0), ([0.5, 1.0], 1, 0.0, U[1])],
    ids=["at the lower bound", "at the upper bound"],
)
def test_clip_exactly_at_a_bound_is_at_a_kink(values, element, above, below):
    # clip passes the gradient at its bounds (1), central differences see 0.5.
    message = failure(tg.gradcheck, clip, [leaf(values)])
    assert message.startswith(
        f"gradcheck failed: input 0, output element {element}, element ({element},): "
        f"analytic 1 vs numeric 0.5"
    )
    value = values[element]
    assert message.endswith(
        kink("clip", called_at(clip), (2,), (element,), value, above, below) + AWAY
    )


@pytest.mark.parametrize(
    ("fn", "name", "above", "below"),
    [(max_of_all, "max", U[0], 0.0), (min_of_all, "min", 0.0, U[0])],
)
def test_a_three_way_tie_of_max_or_min_is_at_a_kink(fn, name, above, below):
    # Tied extremes share the gradient: 1/3 each, where central differences see 1/2.
    message = failure(tg.gradcheck, fn, [leaf([1.0, 1.0, 1.0])])
    assert message == (
        "gradcheck failed: input 0, element (0,): analytic 0.3333333333 vs numeric 0.5 "
        f"{TOLERANCES}; " + kink(name, called_at(fn), (3,), (0,), 1.0, above, below) + AWAY
    )


def test_the_kit_reports_the_kink_too():
    with pytest.raises(GradcheckError) as caught:
        assert_gradients_match(relu, leaf([0.0, 1.0]))
    assert str(caught.value).endswith(
        kink("relu", called_at(relu), (2,), (0,), 0.0, U[0], 0.0) + AWAY
    )


def absolute(t):
    return t.abs()


def maximum(a, b):
    return tg.maximum(a, b)


def minimum(a, b):
    return tg.minimum(a, b)


SECOND = ", so fn's first derivative jumps there and has no derivative to check"


@pytest.mark.parametrize(
    ("fn", "inputs", "name", "shape", "above", "below"),
    [
        (absolute, [[0.0, 1.0]], "abs", (2,), U[0], -U[0]),
        (max_of_all, [[1.0, 1.0]], "max", (2,), U[0], 0.0),
        (maximum, [[1.0], [1.0]], "maximum", (1,), U[0], 0.0),
        (minimum, [[1.0], [1.0]], "minimum", (1,), 0.0, U[0]),
    ],
    ids=["abs at 0", "max of a tie", "maximum of equals", "minimum of equals"],
)
def test_a_kink_that_gradcheck_passes_is_named_by_gradgradcheck(
    fn, inputs, name, shape, above, below
):
    # Central differences agree with the gradient these ops choose at the kink (0 for abs, an
    # equal share for ties), so first order passes; the first derivative jumps there.
    assert tg.gradcheck(fn, [leaf(values) for values in inputs])
    message = failure(gradgradcheck, fn, [leaf(values) for values in inputs])
    assert message.startswith("gradgradcheck failed: d(grad of input 0 at (0,)) / d(input 0 at")
    assert message.endswith(
        f"{TOLERANCES}; "
        + kink(name, called_at(fn), shape, (0,), inputs[0][0], above, below)
        + SECOND
    )


def test_localize_names_a_kink_even_when_every_gradient_checks_out():
    assert localize_mismatch(absolute, [leaf([0.0, 1.0])]) == (
        "each recorded op computes its own gradient correctly, but "
        + kink("abs", called_at(absolute), (2,), (0,), 0.0, U[0], -U[0])
        + "; finite differences of fn straddle it"
    )


class AbsViaWhere(tg.Function):
    """|x| as x times x / |x|, with np.where choosing 0 at 0: there the forward divides 0 by 0
    (NumPy warns) and throws the nan away."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.where(x == 0, 0.0, x * (x / np.abs(x)))

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        return grad * np.sign(x.data if isinstance(x, tg.Tensor) else x)


def abs_via_where(t):
    return AbsViaWhere.apply(t)


def test_a_forward_that_warns_is_checked_without_a_warning():
    # The suite turns RuntimeWarnings into errors (pyproject.toml): every check silences
    # NumPy's warnings wherever it runs fn or its ops.
    with pytest.warns(RuntimeWarning, match="invalid value encountered in divide"):
        abs_via_where(leaf([0.0]))
    assert tg.gradcheck(abs_via_where, [leaf([0.0, 1.0])])
    at_zero = kink("AbsViaWhere", called_at(abs_via_where), (1,), (0,), 0.0, U[0], -U[0])
    assert localize_mismatch(abs_via_where, [leaf([0.0])]) == (
        f"each recorded op computes its own gradient correctly, but {at_zero}; finite "
        "differences of fn straddle it"
    )
    message = failure(gradgradcheck, abs_via_where, [leaf([0.0])])
    assert message.startswith("gradgradcheck failed: d(grad of input 0 at (0,)) / d(input 0 at")
    assert message.endswith(f"{TOLERANCES}; {at_zero}{SECOND}")


# ---------------------------------------------------------------- a step too large
def log_sum(t):
    return t.log().sum()


def test_a_step_too_large_for_the_curvature_is_not_blamed_on_the_op():
    # log at 3e-6 with a step of 1e-6: the central difference is 4% high; at a step of
    # 6.25e-8 (eps / 16) it is within rtol. Before: "the first op whose gradient is wrong".
    message = failure(tg.gradcheck, log_sum, [leaf([3e-6])])
    assert message.startswith(
        "gradcheck failed: input 0, element (0,): analytic 333333.3333 vs numeric "
        f"{math.log(2) / 2e-6:.10g} {TOLERANCES}; the first op whose gradient disagrees with "
        f"finite differences is log (called at {called_at(log_sum)}), but it agrees at a step "
        "of 6.25e-08: input 0 (shape (1,)), element (0,), value 3e-06: analytic "
    )
    assert message.endswith(
        "(with a random upstream gradient); the op is not smooth enough over a step of eps "
        "here (a kink or strong curvature nearby): use a smaller eps"
    )
    assert "gradient is wrong" not in message and "kink, where" not in message


def test_a_point_near_a_kink_but_not_at_it_is_not_called_a_kink():
    # relu at 3e-7 has a derivative (1); a step of 1e-6 straddles 0, one of 2.5e-7 does not.
    message = failure(tg.gradcheck, relu, [leaf([3e-7])])
    assert message.startswith(
        f"gradcheck failed: input 0, element (0,): analytic 1 vs numeric 0.65 {TOLERANCES}; "
        f"the first op whose gradient disagrees with finite differences is relu (called at "
        f"{called_at(relu)}), but it agrees at a step of 2.5e-07: input 0 (shape (1,)), "
        f"element (0,), value 3e-07: analytic {U[0]:.10g} vs numeric {0.65 * U[0]:.10g} at a "
        f"step of 1e-06 and {U[0]:.10g} at 2.5e-07"
    )

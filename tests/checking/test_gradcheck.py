"""gradcheck, gradgradcheck and the op localization, stated exactly: tolerances, step sizes,
defaults, which input and element a report names, and the errors for misuse.
"""

import re

import numpy as np
import pytest
from custom_ops import Square, scaled_exp

import tinygrad_ann as tg
from tinygrad_ann import GradcheckError
from tinygrad_ann.autograd.gradcheck import gradgradcheck
from tinygrad_ann.autograd.localize import localize_mismatch
from tinygrad_ann.autograd.numerical import (
    Jacobians,
    compute_jacobians,
    describe_mismatch,
    numerical_jvp,
)


def leaf(values, dtype=np.float64):
    return tg.tensor(np.array(values, dtype=dtype), requires_grad=True)


X = [0.3, -0.2, 0.5]


# ---------------------------------------------------------------- gradcheck's tolerances
def test_default_tolerances_fail_a_relative_error_of_2e_3_and_pass_5e_4():
    with pytest.raises(GradcheckError, match=r"\(atol=1e-05, rtol=0\.001\)"):
        tg.gradcheck(lambda t: scaled_exp(1.002).apply(t).sum(), [leaf(X)])
    assert tg.gradcheck(lambda t: scaled_exp(1.0005).apply(t).sum(), [leaf(X)])


def test_zero_tolerance_accepts_jacobians_that_are_exactly_equal():
    # A linear function at a point and step that are powers of two: the differences are exact.
    step = 2.0**-20
    assert tg.gradcheck(lambda t: (t * 2.0).sum(), [leaf([1.0, 0.5])], eps=step, atol=0, rtol=0)


def test_eps_is_the_finite_difference_step():
    # exp(10 x): a central difference with step h is off by about (10 h)^2 / 6, relatively.
    fn = lambda t: (t * 10.0).exp().sum()  # noqa: E731
    assert tg.gradcheck(fn, [leaf([0.1, 0.2])])
    with pytest.raises(GradcheckError):
        tg.gradcheck(fn, [leaf([0.1, 0.2])], eps=1e-2)


def test_a_single_tensor_may_be_passed_as_inputs():
    assert tg.gradcheck(lambda t: (t * t).sum(), leaf([[1.0, 2.0], [3.0, 4.0]]))
    assert gradgradcheck(lambda t: t * t * t, leaf([[1.0, 2.0], [3.0, 4.0]]))


def test_gradcheck_hands_its_tolerances_and_step_to_the_localization():
    # Off by 1e-4: beyond rtol=1e-6, so the op must be named, not declared correct.
    with pytest.raises(GradcheckError) as failure:
        tg.gradcheck(lambda t: scaled_exp(1.0001).apply(t).sum(), [leaf(X)], atol=1e-7, rtol=1e-6)
    assert "the first op whose gradient is wrong is ScaledExp" in str(failure.value)
    assert "(atol=1e-07, rtol=1e-06)" in str(failure.value)


def test_an_output_of_two_elements_names_the_output_element():
    class Doubled(tg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2.0

        @staticmethod
        def backward(ctx, grad):
            vjp = grad * 2.0
            vjp[1] = vjp[1] * 3.0  # wrong for the second element only
            return vjp

    with pytest.raises(GradcheckError, match=r"input 0, output element 1, element \(1,\): "):
        tg.gradcheck(lambda t: Doubled.apply(t), [leaf([1.0, 2.0])])
    with pytest.raises(GradcheckError, match=r"failed: input 0, element \(1,\): analytic 6 vs"):
        tg.gradcheck(lambda t: Doubled.apply(t).sum(), [leaf([1.0, 2.0])])


def test_describe_mismatch_names_one_element_unless_asked_for_more():
    (jacobians,) = compute_jacobians(lambda t: scaled_exp(2.0).apply(t).sum(), [leaf(X)])
    lines = describe_mismatch(jacobians, 1, atol=1e-5, rtol=1e-3)
    assert len(lines) == 1
    assert lines[0].startswith("input 0, element (2,): analytic ")  # the largest excess
    assert len(describe_mismatch(jacobians, 1, atol=1e-5, rtol=1e-3, worst=3)) == 3


def test_entries_that_are_not_finite_come_first_in_row_major_order_then_the_worst():
    # 100 entries that are not finite among 100 finite ones beyond tolerance: a sort that is
    # not stable would list the infinite ones in another order.
    analytic = np.tile([1.0, np.inf, np.nan, 2.0], 50).reshape(1, 200)
    jacobians = Jacobians(0, (200,), analytic, np.zeros((1, 200)))
    lines = describe_mismatch(jacobians, 1, atol=1e-5, rtol=1e-3, worst=102)
    columns = [int(re.match(r"input 0, element \((\d+),\)", line)[1]) for line in lines]
    not_finite = [column for column in range(200) if column % 4 in (1, 2)]
    assert columns == [*not_finite, 3, 7]  # then the entries of 2.0, in row-major order too


# ---------------------------------------------------------------- the central difference
def test_numerical_jvp_of_sin_along_a_direction_is_cos_times_the_direction():
    # d/dt sin(x + t v) at t = 0 is cos(x) v; the central difference errs by about
    # eps² |v|³ / 6 (truncation) plus 1e-16 / eps (rounding), both far below 1e-9.
    x = np.array([0.3, -1.2, 2.0])
    direction = np.array([1.0, -0.5, 2.0])
    jvp = numerical_jvp(np.sin, x, eps=1e-6)(direction)
    np.testing.assert_allclose(jvp, np.cos(x) * direction, rtol=0, atol=1e-9)
    summed = numerical_jvp(lambda point: np.sin(point).sum(), x)(direction)
    assert abs(summed - np.cos(x) @ direction) < 1e-9


def test_numerical_jvp_steps_up_then_down_on_fresh_arrays_leaving_other_entries_exact():
    x = np.array([-0.0, 0.5])
    seen = []

    def record(point):
        seen.append(point)
        return point * 3.0

    eps = 2.0**-10
    assert numerical_jvp(record, x, eps)(np.array([0.0, 1.0])).tolist() == [0.0, 3.0]
    assert [point.tolist() for point in seen] == [[0.0, 0.5 + eps], [0.0, 0.5 - eps]]
    assert all(np.signbit(point[0]) for point in seen)  # -0.0 stays -0.0 on both sides
    assert x.tolist() == [0.0, 0.5] and all(point is not x for point in seen)
    seen.clear()
    assert numerical_jvp(record, x, eps)(1).tolist() == [0.0, 3.0]  # the one-hot's index
    assert [point.tolist() for point in seen] == [[0.0, 0.5 + eps], [0.0, 0.5 - eps]]
    assert all(np.signbit(point[0]) for point in seen)
    assert x.tolist() == [0.0, 0.5] and all(point is not x for point in seen)


def test_a_jacobian_column_is_numerical_jvp_along_a_one_hot_direction_bit_for_bit():
    x = leaf(X)
    (jacobian,) = compute_jacobians(lambda t: t * t * t, [x])
    column = numerical_jvp(lambda point: point * point * point, np.array(X))
    for element in range(3):
        one_hot = np.eye(3)[element]
        assert jacobian.numeric[:, element].tobytes() == column(one_hot).tobytes()
        assert column(element).tobytes() == column(one_hot).tobytes()  # the index stands for it


# ---------------------------------------------------------------- compute_jacobians
def test_finite_differences_of_a_float32_output_are_taken_in_float64():
    values, step = np.array([1.9, 2.5]), 3e-4
    (jacobians,) = compute_jacobians(lambda t: (t * 1.1).astype(np.float32), [leaf(values)], step)
    for column, value in enumerate(values):
        # Each output element's two float32 values, subtracted and divided in float64 (in
        # float32 the quotient would round differently at both of these points).
        plus = np.float32(values * 1.1)
        minus = plus.copy()
        plus[column] = np.float32((value + step) * 1.1)
        minus[column] = np.float32((value - step) * 1.1)
        expected = (plus.astype(np.float64) - minus.astype(np.float64)) / (2 * step)
        np.testing.assert_array_equal(jacobians.numeric[:, column], expected)
        assert np.float32((plus - minus)[column] / (2 * step)) != expected[column]


def test_a_backward_that_is_not_linear_in_its_upstream_gradient_is_refused():
    class AddsOne(tg.Function):
        @staticmethod
        def forward(ctx, x):
            return x.copy()

        @staticmethod
        def backward(ctx, grad):
            return grad + 1.0

    message = (
        "gradcheck: input 0: a zero upstream gradient gave a nonzero gradient; "
        "backward must be linear in its grad_output"
    )
    with pytest.raises(GradcheckError, match=re.escape(message)):
        tg.gradcheck(lambda t: AddsOne.apply(t).sum(), [leaf([1.0])])


@pytest.mark.parametrize(
    ("check", "name"), [(tg.gradcheck, "gradcheck"), (gradgradcheck, "gradgradcheck")]
)
def test_nothing_to_check_and_a_non_tensor_result_are_named(check, name):
    message = f"{name}: no input requires grad, so there is nothing to check"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        check(lambda t: t * 2.0, [tg.tensor([1.0])])
    with pytest.raises(TypeError, match=r"^gradcheck: fn must return a Tensor, got float$"):
        check(lambda t: 1.0, [leaf([1.0])])


# ---------------------------------------------------------------- gradgradcheck
def test_gradgradcheck_takes_constants_beside_tensors_and_unused_inputs():
    assert gradgradcheck(lambda t, c: t * t * c, [leaf([1.0, 2.0]), 3.0])
    # The second input does not reach the output: its first derivative is zero.
    assert gradgradcheck(lambda a, b: a * a * a, [leaf([1.0, 2.0]), leaf([5.0])])


def test_an_output_that_depends_on_no_input_is_named():
    message = "gradgradcheck: fn's output does not depend on any input"
    with pytest.raises(GradcheckError, match=f"^{re.escape(message)}$"):
        gradgradcheck(lambda t: tg.tensor([1.0, 2.0]), [leaf([1.0, 2.0])])


@pytest.mark.parametrize(
    "upstream", [[1, 2], np.array([1.0, -2.0]), tg.tensor([0.5, 2.0]), (1.5, 1.0)]
)
def test_grad_outputs_may_be_a_tensor_an_array_or_a_list(upstream):
    assert gradgradcheck(lambda t: t * t * t, [leaf([1.0, 2.0])], grad_outputs=upstream)


def test_grad_outputs_of_the_wrong_shape_are_named():
    with pytest.raises(ValueError, match=r"grad_outputs has shape \(3,\), fn's output has"):
        gradgradcheck(lambda t: t * t, [leaf([1.0, 2.0])], grad_outputs=[1.0, 2.0, 3.0])


def test_gradgradcheck_eps_is_the_finite_difference_step():
    fn = lambda t: (t * 10.0).exp()  # noqa: E731
    assert gradgradcheck(fn, [leaf([0.1, 0.2])])
    with pytest.raises(GradcheckError):
        gradgradcheck(fn, [leaf([0.1, 0.2])], eps=1e-2)


class ConstantUpstream(Square):
    """x² whose recorded backward takes the upstream gradient as a constant (a bug)."""

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        upstream = tg.tensor(grad.data) if isinstance(grad, tg.Tensor) else grad
        return upstream * 2.0 * x


def test_the_derivative_with_respect_to_grad_outputs_is_checked_too():
    # d(first derivative)/dx is right (2v); d/dv is recorded as 0 but is really 2x.
    with pytest.raises(GradcheckError) as failure:
        gradgradcheck(lambda a, b: ConstantUpstream.apply(a) + b * 0.0, [leaf([1.0]), leaf([2.0])])
    assert str(failure.value).startswith(
        "gradgradcheck failed: d(grad of input 0 at (0,)) / d(grad_outputs at (0,)): "
        "analytic 0 vs numeric 2"
    )


def test_a_second_order_mismatch_names_which_first_derivative_and_element():
    # The first derivatives are [grad of a (2 elements), grad of b (3)]; the worst error sits
    # at the first element of b's, right after a's: the report must say input 1, not 0.
    with pytest.raises(GradcheckError) as failure:
        gradgradcheck(
            lambda a, b: ConstantUpstream.apply(b) + a.sum() * 0.0,
            [leaf([1.0, 2.0]), leaf([2.0, 0.5, -0.25])],
        )
    assert str(failure.value) == (
        "gradgradcheck failed: d(grad of input 1 at (0,)) / d(grad_outputs at (0,)): "
        "analytic 0 vs numeric 4 (atol=1e-05, rtol=0.001)"
    )


class ConstantInput(Square):
    """x² whose recorded backward takes x as a constant: its curvature is lost (a bug)."""

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        x = tg.tensor(x.data) if isinstance(x, tg.Tensor) else x
        return grad * 2.0 * x


def test_gradgradcheck_is_reproducible_and_seeded_by_default_with_zero():
    # The numeric curvature is 2 v: it shows which random upstream gradient v was drawn.
    def message(**seed):
        with pytest.raises(GradcheckError) as failure:
            gradgradcheck(lambda t: ConstantInput.apply(t), [leaf([1.0, 2.0])], **seed)
        return str(failure.value)

    assert message() == message() == message(seed=0) != message(seed=1)
    assert "/ d(input 0 at (" in message()


# ---------------------------------------------------------------- localize_mismatch
ALL_CORRECT = (
    "each of the {} recorded ops computes its own gradient correctly, so the mismatch comes "
    "from a point where fn is not differentiable (a kink or a tie that the finite differences "
    "straddle), from a value that depends on the inputs but enters the graph as a constant "
    "(.detach(), .data, .numpy()), from fn not being a pure function of its inputs "
    "(randomness, state), or from the tolerances"
)


def test_localize_names_the_op_the_input_element_and_where_it_was_called():
    message = localize_mismatch(
        lambda t: (scaled_exp(1.5, wrong_at=1).apply(t * 2.0) * 3.0).sum(), [leaf(X)]
    )
    assert re.fullmatch(
        r"the first op whose gradient is wrong is ScaledExp \(called at \S+\.py:\d+\): "
        r"input 0 \(shape \(3,\)\), element \(1,\): analytic \S+ vs numeric \S+ "
        r"\(with a random upstream gradient\)",
        message,
    ), message


def test_localize_is_reproducible_and_seeded_by_default_with_zero():
    fn = lambda t: scaled_exp(1.5).apply(t).sum()  # noqa: E731
    first = localize_mismatch(fn, [leaf(X)])
    assert first == localize_mismatch(fn, [leaf(X)]) == localize_mismatch(fn, [leaf(X)], seed=0)
    assert first != localize_mismatch(fn, [leaf(X)], seed=1)  # another upstream gradient


def test_localize_says_when_every_op_is_right():
    assert localize_mismatch(lambda t: (t.exp() * t).sum(), [leaf(X)]) == ALL_CORRECT.format(3)


def test_localize_checks_float32_intermediates_in_float64():
    # In float32, finite differences with a step of 1e-6 would be noise: the ops after the
    # cast run again on float64 copies of what they recorded; the cast itself, whose output
    # is float32 whatever its input, is named as not checked.
    fn = lambda t: (t.astype(np.float32).exp() * 3.0).sum()  # noqa: E731
    assert localize_mismatch(fn, [leaf(X)]) == (
        "each of the 3 recorded ops that could be checked computes its own gradient "
        "correctly; not checked, as their output is not float64 even for float64 inputs: cast"
    )
    twice = lambda t: (t.astype(np.float32) * 3.0).astype(np.float16).sum()  # noqa: E731
    assert localize_mismatch(twice, [leaf(X)]).endswith("for float64 inputs: cast, cast")
    broken = lambda t: scaled_exp(1.5).apply(t.astype(np.float32)).sum()  # noqa: E731
    assert "is ScaledExp" in localize_mismatch(broken, [leaf(X)])


def test_localize_checks_only_inputs_that_need_a_gradient():
    class WrongForTheConstant(tg.Function):
        @staticmethod
        def forward(ctx, x, c):
            return x * c

        @staticmethod
        def backward(ctx, grad):
            return grad * ctx.inputs[1], grad * 0.0  # right for x, wrong for the constant c

    fn = lambda t: WrongForTheConstant.apply(t, np.array([2.0, 3.0, 4.0])).sum()  # noqa: E731
    assert localize_mismatch(fn, [leaf(X)]) == ALL_CORRECT.format(2)


def test_localize_names_an_op_that_sends_no_gradient_to_an_input_it_uses():
    class DropsSecond(tg.Function):
        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(x, y)
            return x * y

        @staticmethod
        def backward(ctx, grad):
            _, y = ctx.saved
            return grad * y, None

    message = localize_mismatch(lambda a, b: DropsSecond.apply(a, b).sum(), [leaf(X), leaf(X)])
    assert "is DropsSecond" in message
    assert re.search(r"input 1 \(shape \(3,\)\), element \(0,\): analytic 0 vs numeric", message)


def test_localize_samples_the_elements_of_a_large_input():
    x = leaf(np.linspace(-1.0, 1.0, 5000))
    message = localize_mismatch(lambda t: scaled_exp(1.5).apply(t).sum(), [x])
    assert "is ScaledExp" in message and "(shape (5000,))" in message


def test_localize_tolerance_is_relative_to_the_numeric_value():
    # Off by 5e-4 relatively on values near 150: within rtol=1e-3 of each numeric value.
    fn = lambda t: scaled_exp(1.0005).apply(t).sum()  # noqa: E731
    assert localize_mismatch(fn, [leaf([5.0, 5.01])]) == ALL_CORRECT.format(2)


def test_gradcheck_passes_correct_functions_and_checks_float32_in_float64():
    a = tg.tensor(np.array([[0.3, -0.7]], dtype=np.float32), requires_grad=True)
    b = tg.tensor([[1.5], [2.0]], requires_grad=True)
    constant = tg.tensor([1.0, 2.0])
    assert tg.gradcheck(lambda x, y, c: ((x @ y).tanh() * c.sum()).sum(), [a, b, constant])


def test_gradcheck_names_input_element_and_values():
    class Wrong(tg.Function):
        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(x, y)
            return x * y

        @staticmethod
        def backward(ctx, grad_output):
            _, y = ctx.saved
            return grad_output * y, grad_output * y  # d/dy should be x, not y

    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = tg.tensor([3.0, 5.0], requires_grad=True)
    with pytest.raises(tg.GradcheckError) as caught:
        tg.gradcheck(lambda a, b: Wrong.apply(a, b).sum(), [x, y])
    assert isinstance(caught.value, AssertionError)
    # The worst offender is named: element 1, off by 3.
    assert "input 1, element (1,): analytic 5 vs numeric 2" in str(caught.value)
    with pytest.raises(ValueError, match="nothing to check"):
        tg.gradcheck(lambda a: a.sum(), [tg.tensor([1.0])])

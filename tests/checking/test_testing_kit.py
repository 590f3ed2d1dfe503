"""tinygrad_ann.testing: the strategies draw what they promise; the assertion names elements.

The kit's contract is also stated exactly: what each strategy can and cannot draw with its
defaults and with each argument, and the layout of assert_gradients_match's report.
``can_draw`` and ``never_draws`` search a strategy with Hypothesis's ``find``
(derandomized, so every run searches the same examples).
"""

import math
import re

import numpy as np
import pytest
from custom_ops import scaled_exp
from hypothesis import find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

import tinygrad_ann as tg
from tinygrad_ann import GradcheckError
from tinygrad_ann.testing import (
    assert_gradients_match,
    broadcastable_shapes,
    shapes,
    tensors,
    well_conditioned,
)


class Softplus(tg.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.logaddexp(0.0, x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved
        return grad_output * np.exp(-np.logaddexp(0.0, -x))


class WrongSoftplus(Softplus):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved
        return grad_output * np.exp(-np.logaddexp(0.0, x))  # sigmoid(-x): wrong sign inside


@given(shapes())
def test_shapes_are_small_and_include_scalars(shape):
    assert len(shape) <= 3 and all(1 <= side <= 4 for side in shape)


def test_shapes_can_be_zero_dimensional():
    seen = set()

    @given(shapes())
    def collect(shape):
        seen.add(len(shape))

    collect()
    assert 0 in seen


@given(broadcastable_shapes(3))
def test_broadcastable_shapes_broadcast(drawn):
    assert len(drawn) == 3
    np.broadcast_shapes(*drawn)  # raises if they do not


@given(well_conditioned(-1.0, 1.0, avoid=(0.0, 0.5), margin=0.1))
def test_well_conditioned_keeps_away_from_points(value):
    assert -1.0 <= value <= 1.0
    assert abs(value) >= 0.1 and abs(value - 0.5) >= 0.1


@given(tensors(shape=(6,), unique=True, min_gap=0.05))
def test_unique_tensors_keep_their_values_apart(tensor):
    assert tensor.requires_grad and tensor.dtype == np.float64
    assert np.diff(np.sort(tensor.data)).min() >= 0.05 - 1e-12


@given(tensors(shape=st.just((2, 3)), dtype=np.float32, requires_grad=False))
def test_tensors_take_dtype_shape_and_grad_flag(tensor):
    assert tensor.shape == (2, 3) and tensor.dtype == np.float32 and not tensor.requires_grad


@given(tensors())
def test_a_user_function_passes_through_the_kit(x):
    assert_gradients_match(Softplus.apply, x)


def test_a_wrong_backward_is_caught_with_the_element_named():
    x = tg.tensor([[-1.0, 0.0], [2.0, 0.5]], requires_grad=True)
    with pytest.raises(tg.GradcheckError) as caught:
        assert_gradients_match(WrongSoftplus.apply, x, worst=2)
    message = str(caught.value)
    assert "input 0 (shape (2, 2)): 3 mismatching entries, worst:" in message
    # sigmoid(2) = 0.881 against the wrong sigmoid(-2) = 0.119: the worst element is (1, 0).
    assert "element (1, 0): analytic 0.119202" in message and "numeric 0.880797" in message
    listing, localization = message.rsplit("\n", 1)
    assert listing.count("analytic") == 2  # worst=2 elements
    assert localization.startswith("the first op whose gradient is wrong is WrongSoftplus")


def test_well_conditioned_rejects_an_empty_range():
    with pytest.raises(ValueError, match="min_value < max_value"):
        well_conditioned(1.0, 1.0)


SEARCH = settings(max_examples=200, database=None, derandomize=True, deadline=None)


def can_draw(strategy, condition):
    find(strategy, condition, settings=SEARCH)  # raises NoSuchExample when it cannot
    return True


def never_draws(strategy, condition):
    try:
        find(strategy, condition, settings=SEARCH)
    except NoSuchExample:
        return True
    return False


# ---------------------------------------------------------------- shapes
def test_default_shapes_reach_both_ends_and_nothing_beyond():
    assert can_draw(shapes(), lambda s: s == ())
    assert can_draw(shapes(), lambda s: len(s) == 3)
    assert can_draw(shapes(), lambda s: 1 in s)
    assert can_draw(shapes(), lambda s: 4 in s)
    assert never_draws(shapes(), lambda s: len(s) > 3 or any(side > 4 for side in s))


def test_shapes_take_every_bound():
    assert never_draws(
        shapes(min_dims=2, max_dims=2, min_side=3, max_side=3), lambda s: s != (3, 3)
    )


def test_default_broadcastable_shapes_are_pairs_within_the_same_bounds():
    drawn = broadcastable_shapes()
    assert never_draws(drawn, lambda pair: len(pair) != 2)
    assert can_draw(drawn, lambda pair: () in pair)
    assert can_draw(drawn, lambda pair: any(len(s) == 3 for s in pair))
    assert can_draw(drawn, lambda pair: any(4 in s for s in pair))
    assert never_draws(drawn, lambda pair: any(len(s) > 3 or 5 in s for s in pair))
    assert can_draw(drawn, lambda pair: any(1 in s for s in pair))


def test_broadcastable_shapes_take_every_bound():
    drawn = broadcastable_shapes(n=3, min_dims=2, max_dims=2, min_side=2, max_side=2)
    assert never_draws(drawn, lambda shapes: shapes != ((2, 2), (2, 2), (2, 2)))


# ---------------------------------------------------------------- well_conditioned
def test_well_conditioned_defaults_span_minus_three_to_three():
    values = well_conditioned()
    assert can_draw(values, lambda v: v <= -2.9)
    assert can_draw(values, lambda v: v >= 2.9)
    assert never_draws(values, lambda v: not -3.0 <= v <= 3.0)


def test_well_conditioned_keeps_the_default_margin_of_0_05():
    values = well_conditioned(avoid=(0.0, 1.0))
    assert never_draws(values, lambda v: abs(v) < 0.05 or abs(v - 1.0) < 0.05)
    assert can_draw(values, lambda v: 0.05 <= abs(v) < 0.06)
    assert can_draw(values, lambda v: 0.05 <= abs(v - 1.0) < 0.06)


def test_well_conditioned_takes_its_range_and_margin():
    values = well_conditioned(0.5, 1.5, avoid=(1.0,), margin=0.3)
    assert never_draws(values, lambda v: not (0.5 <= v <= 0.7 or 1.3 <= v <= 1.5))
    assert can_draw(values, lambda v: v < 0.55) and can_draw(values, lambda v: v > 1.45)


# ---------------------------------------------------------------- tensors
def test_default_tensors_are_float64_leaves_of_small_shapes_with_repeats_allowed():
    drawn = tensors()
    assert never_draws(drawn, lambda t: t.dtype != np.float64 or not t.requires_grad)
    assert can_draw(drawn, lambda t: t.ndim == 0) and can_draw(drawn, lambda t: t.ndim == 3)
    assert never_draws(drawn, lambda t: t.ndim > 3)
    assert never_draws(drawn, lambda t: not np.all(np.abs(t.data) <= 3.0))
    # Not unique: equal values are allowed, and values off the 0.05 grid are drawn.
    assert can_draw(tensors(shape=(3,)), lambda t: len(set(t.data.tolist())) < 3)
    assert can_draw(
        tensors(shape=(1,)), lambda t: abs(t.data[0] / 0.05 - round(t.data[0] / 0.05)) > 0.1
    )


def test_tensors_take_a_dtype_and_the_grad_flag():
    drawn = tensors(shape=(2,), dtype=np.float32, requires_grad=False)
    assert never_draws(drawn, lambda t: t.dtype != np.float32 or t.requires_grad)


def on_grid(values, step):
    return all(math.isclose(v / step, round(v / step), abs_tol=1e-9) for v in values)


def test_unique_tensors_come_from_a_grid_of_step_min_gap_within_three():
    drawn = tensors(shape=(4,), unique=True)
    assert never_draws(drawn, lambda t: not on_grid(t.data.tolist(), 0.05))
    assert never_draws(drawn, lambda t: np.abs(t.data).max() > 3.0 + 1e-12)
    assert can_draw(drawn, lambda t: np.diff(np.sort(t.data)).min() < 0.05 + 1e-9)
    wide = tensors(shape=(3,), unique=True, min_gap=0.5)
    assert never_draws(wide, lambda t: not on_grid(t.data.tolist(), 0.5))
    assert can_draw(wide, lambda t: np.abs(t.data).max() == 3.0)


@pytest.mark.parametrize("size", [2, 3])
def test_unique_tensors_with_given_elements_keep_min_gap(size):
    drawn = tensors(shape=(size,), elements=st.floats(0.0, 1.0), unique=True, min_gap=0.3)
    assert never_draws(drawn, lambda t: np.diff(np.sort(t.data)).min() < 0.3 * (1 - 1e-9))
    assert can_draw(drawn, lambda t: t.data.min() < 0.2)


# ---------------------------------------------------------------- assert_gradients_match
def leaf(values):
    return tg.tensor(np.array(values, dtype=np.float64), requires_grad=True)


def test_the_report_lists_the_three_worst_entries_per_input_and_counts_them():
    x = leaf([0.1, 0.2, 0.3, 0.4, 0.5])
    with pytest.raises(GradcheckError) as failure:
        assert_gradients_match(
            lambda t, u: scaled_exp(2.0).apply(t).sum() + u.sum(), x, leaf([1.0])
        )
    lines = str(failure.value).split("\n")
    assert lines[0] == "gradients do not match finite differences (atol=1e-05, rtol=0.001):"
    assert lines[1] == "  input 0 (shape (5,)): 5 mismatching entries, worst:"
    assert [line[: len("    input 0, element (4,): ")] for line in lines[2:5]] == [
        f"    input 0, element ({k},): " for k in (4, 3, 2)
    ]
    assert lines[5].startswith("the first op whose gradient is wrong is ScaledExp")
    assert len(lines) == 6  # input 1 is right: not listed


def test_one_mismatching_entry_is_singular_and_output_elements_are_named_when_several():
    with pytest.raises(GradcheckError) as failure:
        assert_gradients_match(
            lambda t: scaled_exp(2.0, wrong_at=1).apply(t), leaf([0.1, 0.2, 0.3])
        )
    message = str(failure.value)
    assert "  input 0 (shape (3,)): 1 mismatching entry, worst:\n" in message
    assert "    input 0, output element 1, element (1,): analytic " in message
    with pytest.raises(GradcheckError) as failure:
        assert_gradients_match(lambda t: scaled_exp(2.0).apply(t).sum(), leaf([0.1, 0.2]), worst=1)
    message = str(failure.value)
    assert re.search(r"\n    input 0, element \(1,\): analytic \S+ vs numeric \S+\n", message)
    assert "output element" not in message


def test_assert_gradients_match_hands_eps_and_tolerances_on():
    fn = lambda t: (t * 10.0).exp().sum()  # noqa: E731
    assert_gradients_match(fn, leaf([0.1, 0.2]))
    with pytest.raises(GradcheckError):
        assert_gradients_match(fn, leaf([0.1, 0.2]), eps=1e-2)
    with pytest.raises(GradcheckError) as failure:
        assert_gradients_match(
            lambda t: scaled_exp(1.0001).apply(t).sum(), leaf([0.1, 0.2]), atol=1e-7, rtol=1e-6
        )
    assert "the first op whose gradient is wrong is ScaledExp" in str(failure.value)


class _WrongAtFirst(tg.Function):
    """``2 x`` whose backward is wrong for element 0 only."""

    @staticmethod
    def forward(ctx, x):
        return 2.0 * x

    @staticmethod
    def backward(ctx, grad_output):
        wrong = np.full(grad_output.shape, 2.0)
        wrong[0] = 3.0
        return grad_output * wrong


def test_the_kit_counts_only_entries_beyond_tolerance_even_at_zero_tolerance():
    # Dyadic points and step: the finite differences are exactly 2, so every other entry
    # matches exactly, with an excess of 0 over a zero tolerance: not a mismatch.
    x = tg.tensor([0.5, 1.0, 1.5], requires_grad=True)
    with pytest.raises(GradcheckError) as raised:
        assert_gradients_match(lambda t: _WrongAtFirst.apply(t), x, eps=2**-20, atol=0, rtol=0)
    assert "input 0 (shape (3,)): 1 mismatching entry, worst:" in str(raised.value)


@pytest.mark.parametrize("worst", [True, 2.5, 0])
def test_the_kit_takes_a_whole_number_of_worst_entries(worst):
    x = tg.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError) as raised:
        assert_gradients_match(lambda t: t * 2.0, x, worst=worst)
    assert str(raised.value) == (
        f"assert_gradients_match: worst must be an integer >= 1, got {worst!r}"
    )

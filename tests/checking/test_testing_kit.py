"""tinygrad_ann.testing: the strategies draw what they promise; the assertion names elements."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_ann as tg
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

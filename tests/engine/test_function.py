"""Custom ops through ``tg.Function``: what forward and backward may return, what a hand-made
function saves, and the errors a backward of the wrong shape or an op given wrong shapes gets."""

import itertools

import numpy as np
import pytest
from custom_ops import WrongShape

import tinygrad_ann as tg
from tinygrad_ann import ShapeError


def test_custom_function_with_wrong_backward_is_named():
    class Twice(tg.Function):
        @staticmethod
        def forward(ctx, x):
            return 2 * x

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output[:1]

    with pytest.raises(tg.ShapeError, match=r"Twice\.backward returned a gradient of shape"):
        Twice.apply(tg.ones(3, requires_grad=True)).sum().backward()


def leaf(values, dtype=np.float64):
    return tg.tensor(np.array(values, dtype=dtype), requires_grad=True)


def test_a_backward_of_the_wrong_shape_is_named():
    x = leaf([1.0, 2.0])
    message = (
        r"^wrong_shape\.backward returned a gradient of shape \(3,\) for an input of shape "
        r"\(2,\): its axis 0 has size 3 where the input's axis 0 has size 2, and only axes of "
        r"size 1 can have grown\. A gradient must have the input's shape, or a shape the input "
        r"broadcasts to \(extra leading axes, or size-1 axes grown\), which the engine sums "
        r"back to the input's shape$"
    )
    with pytest.raises(ShapeError, match=message):
        WrongShape.apply(x).sum().backward()
    # A scalar input takes any gradient: a scalar broadcasts to every shape.
    scalar = leaf(1.0)
    WrongShape.apply(scalar).backward()
    assert scalar.grad.item() == 3.0


class Reshaper(tg.Function):
    @staticmethod
    def forward(ctx, x, y):
        return x.reshape(y.shape)

    @staticmethod
    def backward(ctx, grad):
        return grad, None


def test_a_custom_ops_value_error_names_the_op_and_the_input_shapes():
    message = r"^Reshaper: invalid input shapes \(2, 3\), \(4,\): cannot reshape array"
    with pytest.raises(ShapeError, match=message):
        Reshaper.apply(leaf(np.zeros((2, 3))), tg.tensor(np.zeros(4)))


def test_a_function_made_by_hand_has_nothing_saved():
    assert tg.Function().saved == ()


class ProductOfAll(tg.Function):
    """Forward returns a NumPy scalar (not an array) and saves it for backward."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, x):
        out = np.prod(x)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        x, out = ctx.saved
        return grad_output * out / x


def test_a_forward_returning_a_numpy_scalar_gives_a_0d_array_that_backward_can_lift():
    x = leaf([2.0, 3.0, 5.0])
    y = ProductOfAll.apply(x)
    assert type(y.data) is np.ndarray and y.shape == ()
    (slope,) = tg.grad(y, x, create_graph=True)
    np.testing.assert_allclose(slope.numpy(), [15.0, 10.0, 6.0], rtol=1e-15)
    # d/dx_j of prod/x_i is prod/(x_i x_j) off the diagonal and 0 on it (grad * out / x).
    (curvature,) = tg.grad(slope.sum(), x)
    np.testing.assert_allclose(curvature.numpy(), [5.0 + 3.0, 5.0 + 2.0, 3.0 + 2.0], rtol=1e-15)


class ListGradient(tg.Function):
    """A backward that returns a plain list: the engine turns it into an array."""

    @staticmethod
    def forward(ctx, x):
        return x * 3.0

    @staticmethod
    def backward(ctx, grad_output):
        return [3.0 * g for g in grad_output]


def test_a_backward_may_return_a_list_or_a_python_number():
    x = leaf([1.0, 2.0])
    ListGradient.apply(x).backward(np.array([1.0, 10.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 30.0])
    assert x.grad.data.dtype == np.float64


def test_an_op_on_constants_does_not_require_grad():
    y = tg.tensor([1.0, 2.0]).exp()
    assert y.requires_grad is False and y.grad_fn is None
    with tg.no_grad():
        z = leaf([1.0]) * 2.0
    assert z.requires_grad is False


def test_needs_input_grad_is_one_bool_per_positional_input_as_in_pytorch():
    seen = []

    class Record(tg.Function):
        @staticmethod
        def forward(ctx, *arrays):
            seen.append(ctx.needs_input_grad)
            return arrays[0] * 1.0

        @staticmethod
        def backward(ctx, grad_output):
            seen.append(ctx.needs_input_grad)
            return (grad_output,) + (None,) * (len(ctx.needs_input_grad) - 1)

    w = tg.ones(2, requires_grad=True)
    c = tg.ones(2)
    Record.apply(w, c, 3.0).sum().backward()
    assert seen == [(True, False, False), (True, False, False)]
    seen.clear()
    Record.apply(c, w)
    Record.apply(c, 2.0)
    many = [c] * 8 + [w]  # more inputs than the shared tuples cover
    Record.apply(*many)
    assert seen == [(False, True), (False, False), (False,) * 8 + (True,)]
    assert all(type(needs) is tuple for needs in seen)


def test_needs_input_grad_and_recording_for_every_pattern_of_up_to_eight_inputs():
    seen = []

    class Record(tg.Function):
        @staticmethod
        def forward(ctx, *arrays):
            seen.append(ctx.needs_input_grad)
            return np.zeros(1)

    w = tg.ones(1, requires_grad=True)
    c = tg.ones(1)
    for count in range(9):
        for pattern in itertools.product((False, True), repeat=count):
            out = Record.apply(*[w if needs else c for needs in pattern])
            assert seen.pop() == pattern
            assert out.requires_grad is any(pattern)
            with tg.no_grad():
                assert Record.apply(*[w if needs else c for needs in pattern]).grad_fn is None
            assert seen.pop() == pattern


def test_a_users_function_keeps_attributes_of_its_own_on_ctx():
    class Scale(tg.Function):
        @staticmethod
        def forward(ctx, x, factor):
            ctx.factor = factor  # PyTorch's habit: any attribute on ctx
            return x * factor

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output * ctx.factor, None

    x = tg.ones(3, requires_grad=True)
    Scale.apply(x, 2.5).sum().backward()
    assert x.grad.tolist() == [2.5, 2.5, 2.5]
    with pytest.raises(AttributeError):
        tg.ops.Mul.apply(x, 2.0).grad_fn.factor = 1  # built-in ops keep to their slots

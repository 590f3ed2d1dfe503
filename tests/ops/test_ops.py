"""Primitive ops where finite differences cannot look: kinks, ties, constant operands, errors.

The op table (op_specs.py) keeps its inputs away from kinks and ties, where there is
no derivative to compare with. The values chosen there are conventions (PyTorch's):
they are stated here exactly.
"""

import numpy as np
import pytest

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import ShapeError, ops


def leaf(values):
    return tg.tensor(np.array(values, dtype=np.float64), requires_grad=True)


def gradient(fn, *inputs, upstream=None):
    out = fn(*inputs)
    out.backward(np.ones(out.shape) if upstream is None else upstream)
    return [None if t.grad is None else t.grad.numpy() for t in inputs]


# ------------------------------------------------------------------ array-or-Tensor helpers
HELPERS = [
    (ops.exp, np.exp, "exp"),
    (ops.log, np.log, "log"),
    (ops.sqrt, np.sqrt, "sqrt"),
    (ops.tanh, np.tanh, "tanh"),
    (ops.sigmoid, lambda a: 1 / (1 + np.exp(-a)), "sigmoid"),
]


@pytest.mark.parametrize(("helper", "reference", "name"), HELPERS, ids=[h[2] for h in HELPERS])
def test_helpers_compute_on_arrays_and_record_on_tensors(helper, reference, name):
    # Every backward relies on this: NumPy on a first-order array, a graph node under
    # create_graph.
    values = np.array([0.5, 1.5, 2.5])
    on_array = helper(values)
    assert type(on_array) is np.ndarray
    np.testing.assert_allclose(on_array, reference(values), rtol=1e-15)
    on_tensor = helper(leaf(values))
    assert isinstance(on_tensor, tg.Tensor)
    assert on_tensor.grad_fn.name == name
    np.testing.assert_allclose(on_tensor.numpy(), reference(values), rtol=1e-15)


def test_other_helpers_compute_on_arrays_and_record_on_tensors():
    a, b = np.array([1.0, -2.0]), np.array([0.5, 0.5])
    assert type(ops.where(a > 0, a, b)) is np.ndarray
    assert ops.where(a > 0, leaf(a), b).grad_fn.name == "where"
    assert ops.where(a > 0, a, leaf(b)).grad_fn.name == "where"
    np.testing.assert_array_equal(ops.maximum(a, b), [1.0, 0.5])
    assert ops.maximum(a, leaf(b)).grad_fn.name == "maximum"
    assert type(ops.transpose(np.zeros((2, 3)))) is np.ndarray
    assert ops.transpose(leaf(np.zeros((2, 3))), (1, 0)).grad_fn.name == "transpose"
    np.testing.assert_array_equal(ops.broadcast_to(a, (2, 2)), [a, a])
    assert type(ops.broadcast_to(a, (2, 2))) is np.ndarray
    assert ops.broadcast_to(leaf(a), (3, 2)).grad_fn.name == "broadcast_to"
    index = np.array([0, 0, 1])
    np.testing.assert_array_equal(ops.scatter_add(np.ones(3), (2,), index), [2.0, 1.0])
    recorded = ops.scatter_add(leaf(np.ones(3)), (2,), index)
    assert recorded.grad_fn.name == "scatter_add"
    np.testing.assert_array_equal(recorded.numpy(), [2.0, 1.0])


# ------------------------------------------------------------------ kinks
def test_derivative_at_zero_of_abs_and_relu_is_zero_and_of_leaky_relu_the_slope():
    x = [0.0, -1.0, 2.0]
    np.testing.assert_array_equal(gradient(tg.abs, leaf(x))[0], [0.0, -1.0, 1.0])
    np.testing.assert_array_equal(gradient(tg.relu, leaf(x))[0], [0.0, 0.0, 1.0])
    slope = gradient(lambda t: F.leaky_relu(t, 0.2), leaf(x))[0]
    np.testing.assert_array_equal(slope, [0.2, 0.2, 1.0])
    np.testing.assert_array_equal(F.leaky_relu(leaf(x), 0.2).numpy(), [0.0, -0.2, 2.0])


def test_leaky_relu_puts_zero_on_the_slope_side_in_its_value_as_in_its_derivative():
    # Only the sign of a zero tells the sides apart: slope * 0 flips it for a negative slope.
    value = F.leaky_relu(leaf([0.0, -0.0]), -0.5).numpy()
    np.testing.assert_array_equal(np.signbit(value), [True, False])


def test_clip_passes_the_gradient_at_its_bounds_and_stops_it_outside():
    x = leaf([-2.0, -1.0, 0.0, 1.5, 3.0])
    np.testing.assert_array_equal(gradient(lambda t: tg.clip(t, -1.0, 1.5), x)[0], [0, 1, 1, 1, 0])
    x = leaf([-2.0, -1.0, 3.0])
    np.testing.assert_array_equal(gradient(lambda t: tg.clip(t, -1.0, None), x)[0], [0, 1, 1])
    x = leaf([-2.0, 1.5, 3.0])
    np.testing.assert_array_equal(gradient(lambda t: tg.clip(t, None, 1.5), x)[0], [1, 1, 0])


# ------------------------------------------------------------------ ties
@pytest.mark.parametrize("op", [tg.maximum, tg.minimum])
def test_elementwise_ties_split_the_gradient_in_halves(op):
    a, b = leaf([1.0, 2.0, 3.0]), leaf([1.0, 0.0, 5.0])
    grad_a, grad_b = gradient(op, a, b, upstream=np.array([4.0, 4.0, 4.0]))
    wins = [4.0, 4.0, 0.0] if op is tg.maximum else [4.0, 0.0, 4.0]
    np.testing.assert_array_equal(grad_a, [2.0, *wins[1:]])
    np.testing.assert_array_equal(grad_b, [2.0, 4.0 - wins[1], 4.0 - wins[2]])


@pytest.mark.parametrize("reduce", ["max", "min"])
def test_tied_extremes_share_the_gradient_equally(reduce):
    extreme = 5.0 if reduce == "max" else -5.0
    x = leaf([[extreme, 1.0, extreme], [0.0, extreme, 2.0]])
    np.testing.assert_allclose(
        gradient(lambda t: getattr(t, reduce)(), x, upstream=np.array(6.0))[0],
        [[2.0, 0.0, 2.0], [0.0, 2.0, 0.0]],
    )
    x.grad = None
    np.testing.assert_allclose(
        gradient(lambda t: getattr(t, reduce)(axis=1), x, upstream=np.array([6.0, 3.0]))[0],
        [[3.0, 0.0, 3.0], [0.0, 3.0, 0.0]],
    )


# ------------------------------------------------------------------ one operand constant
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
    "maximum": tg.maximum,
    "minimum": tg.minimum,
    "matmul": lambda a, b: a @ b.reshape(3, 1),
}


@pytest.mark.parametrize("name", BINARY)
def test_a_constant_operand_leaves_the_other_gradient_unchanged(name):
    op = BINARY[name]
    a_values, b_values = np.array([[0.5, 1.5, 2.0]]), np.array([[1.25, 0.75, 2.5]])
    both = gradient(op, leaf(a_values), leaf(b_values))
    only_a = gradient(op, leaf(a_values), tg.tensor(b_values))
    only_b = gradient(op, tg.tensor(a_values), leaf(b_values))
    np.testing.assert_array_equal(only_a[0], both[0])
    np.testing.assert_array_equal(only_b[1], both[1])
    assert only_a[1] is None and only_b[0] is None


def test_linear_with_any_subset_of_inputs_requiring_grad():
    x, w, b = np.arange(6.0).reshape(2, 3), np.arange(3.0, 9.0).reshape(2, 3), np.array([1.0, 2.0])
    full = gradient(F.linear, leaf(x), leaf(w), leaf(b))
    for mask in [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 0, 1), (0, 1, 1)]:
        inputs = [leaf(v) if m else tg.tensor(v) for v, m in zip((x, w, b), mask)]
        for got, expected, m in zip(gradient(F.linear, *inputs), full, mask):
            if m:
                np.testing.assert_array_equal(got, expected)
            else:
                assert got is None


def test_where_sends_the_gradient_to_the_chosen_side_only():
    a, b = leaf([1.0, 2.0, 3.0]), leaf([10.0, 20.0, 30.0])
    cond = np.array([True, False, True])
    grad_a, grad_b = gradient(
        lambda x, y: tg.where(cond, x, y), a, b, upstream=np.array([1.0, 2, 3])
    )
    np.testing.assert_array_equal(grad_a, [1.0, 0.0, 3.0])
    np.testing.assert_array_equal(grad_b, [0.0, 2.0, 0.0])
    only_b = gradient(lambda y: tg.where(cond, np.zeros(3), y), leaf([1.0, 1, 1]))
    np.testing.assert_array_equal(only_b[0], [0.0, 1.0, 0.0])


# ------------------------------------------------ second order through fused losses
def test_mse_second_derivative_is_two_over_n():
    p, t = leaf([1.0, -2.0, 0.5]), leaf([0.0, 1.0, 1.0])
    (g,) = tg.grad(F.mse_loss(p, t), [p], create_graph=True)
    hessian_rows = tg.grad(g.sum(), [p, t])
    np.testing.assert_allclose(hessian_rows[0].numpy(), [2 / 3] * 3, rtol=1e-15)
    np.testing.assert_allclose(hessian_rows[1].numpy(), [-2 / 3] * 3, rtol=1e-15)


@pytest.mark.parametrize("loss", [F.mse_loss, F.cross_entropy])
def test_create_graph_after_an_input_changed_names_the_op_and_input(loss):
    x = leaf([[0.5, 1.0, -1.0]])
    target = np.array([[0.0, 1.0, 0.0]]) if loss is F.mse_loss else np.array([1])
    out = loss(x, target)
    x.data = x.data + 1.0
    name = "mse_loss" if loss is F.mse_loss else "cross_entropy"
    with pytest.raises(
        RuntimeError, match=rf"the input 0 of {name} \(shape \(1, 3\)\) has changed"
    ):
        tg.grad(out, [x], create_graph=True)


# ------------------------------------------------------------------ errors
def test_matmul_errors_name_the_shapes_and_the_fix():
    with pytest.raises(ShapeError, match=r"^matmul: cannot multiply shapes \(\) @ \(2,\): "):
        tg.matmul(tg.tensor(2.0), tg.tensor([1.0, 2.0]))
    with pytest.raises(ShapeError, match=r"needs at least 1-d operands; use \* for scalars$"):
        tg.matmul(tg.tensor([1.0, 2.0]), tg.tensor(2.0))
    message = (
        r"^matmul: cannot multiply shapes \(2, 3\) @ \(4, 5\): the inner dimensions differ "
        r"\(3 != 4\); transposing one operand \(x\.T\) may be what you meant$"
    )
    with pytest.raises(ShapeError, match=message):
        tg.matmul(tg.tensor(np.zeros((2, 3))), tg.tensor(np.zeros((4, 5))))
    with pytest.raises(
        ShapeError, match=r"\(2, 3\) @ \(4,\): the inner dimensions differ \(3 != 4\)"
    ):
        tg.matmul(tg.tensor(np.zeros((2, 3))), tg.tensor(np.zeros(4)))
    with pytest.raises(
        ShapeError, match=r"\(3,\) @ \(2, 4\): the inner dimensions differ \(3 != 2\)"
    ):
        tg.matmul(tg.tensor(np.zeros(3)), tg.tensor(np.zeros((2, 4))))
    batched = r"\(2, 3\) @ \(5, 4, 2\): the inner dimensions differ \(3 != 4\)"
    with pytest.raises(ShapeError, match=batched):
        tg.matmul(tg.tensor(np.zeros((2, 3))), tg.tensor(np.zeros((5, 4, 2))))


def test_shape_errors_of_reshape_transpose_where_and_broadcasting():
    x = tg.tensor(np.zeros((2, 3)))
    with pytest.raises(ShapeError, match=r"^reshape: cannot reshape array of size 6 into shape"):
        x.reshape(4)
    with pytest.raises(
        ShapeError,
        match=r"^transpose: axes must be a permutation of all 2 axes of a tensor of shape \(2, 3\)",
    ):
        x.transpose(0, 2)
    with pytest.raises(
        ShapeError, match=r"^where: condition, a and b of shapes \(2,\), \(2, 3\), \(3, 2\) do not"
    ):
        tg.where(np.array([True, False]), x, tg.tensor(np.zeros((3, 2))))
    message = (
        r"^add: operands of shapes \(2, 3\) and \(2,\) cannot be broadcast together \(each "
        r"trailing dimension must be equal or 1\); reshape one of them, e\.g\. y\.reshape\(-1, 1\)"
    )
    with pytest.raises(ShapeError, match=message):
        x + tg.tensor([1.0, 2.0])


def test_transpose_with_negative_axes_sends_the_gradient_back_transposed():
    x = leaf(np.arange(9.0).reshape(3, 3))
    upstream = np.arange(9.0).reshape(3, 3) * 10
    np.testing.assert_array_equal(
        gradient(lambda t: t.transpose(-1, 0), x, upstream=upstream)[0], upstream.T
    )


def test_astype_converts_and_the_gradient_comes_back_in_the_input_dtype():
    x = leaf([1.5, -2.0])
    y = x.astype(np.float32)
    assert y.dtype == np.float32
    (y * tg.tensor(np.array([2.0, 3.0], dtype=np.float32))).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 3.0])


# ------------------------------------------------------------------ what backward keeps
def test_an_input_no_gradient_needs_is_neither_saved_nor_locked():
    # Div needs the numerator only for the denominator's gradient, and Linear needs x only
    # for the weight's and the weight only for x's: the other array stays writable.
    large = 2048
    numerator = leaf(np.ones(large))
    quotient = (numerator / tg.tensor(np.full(large, 2.0))).sum()
    assert not tg.autograd.SavedArrays.is_locked(numerator.data)
    numerator.data[...] = 7.0
    quotient.backward()
    np.testing.assert_array_equal(numerator.grad.numpy(), np.full(large, 0.5))

    factor = leaf(np.ones(large))
    product = (tg.tensor(np.full(large, 3.0)) * factor).sum()
    assert not tg.autograd.SavedArrays.is_locked(factor.data)
    product.backward()
    np.testing.assert_array_equal(factor.grad.numpy(), np.full(large, 3.0))
    # x (2048, 2) needing grad, weight constant: only the weight is kept.
    x = leaf(np.ones((large, 2)))
    out = F.linear(x, tg.tensor(np.full((2, 2), 3.0))).sum()
    assert not tg.autograd.SavedArrays.is_locked(x.data)
    x.data[...] = 5.0
    out.backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((large, 2), 6.0))
    # weight (2, 2048) needing grad, x constant: only x is kept.
    weight = leaf(np.full((2, large), 3.0))
    out = F.linear(tg.tensor(np.ones((1, large))), weight).sum()
    assert not tg.autograd.SavedArrays.is_locked(weight.data)
    weight.data[...] = 0.0
    out.backward()
    np.testing.assert_array_equal(weight.grad.numpy(), np.ones((2, large)))


@pytest.mark.parametrize("axis", [-1, 1])
def test_softmax_family_is_exact_for_rows_of_very_different_scale(axis):
    # Each row is shifted by its own maximum: one shift for the whole array would
    # underflow the rows far below the global maximum.
    logits = np.array([[0.0, 1.0], [1000.0, 1001.0], [-2000.0, -2001.0]] * 6)
    row = np.array([np.exp(-1.0), 1.0]) / (1 + np.exp(-1.0))
    expected = np.array([row, row, row[::-1]] * 6)
    np.testing.assert_allclose(tg.softmax(tg.tensor(logits), axis=axis).numpy(), expected)
    np.testing.assert_allclose(
        tg.log_softmax(tg.tensor(logits), axis=axis).numpy(), np.log(expected), rtol=1e-12
    )
    labels = np.array([1, 1, 0] * 6)
    loss = F.cross_entropy(tg.tensor(logits), labels, reduction="none")
    np.testing.assert_allclose(loss.numpy(), np.full(18, -np.log(row[1])), rtol=1e-12)

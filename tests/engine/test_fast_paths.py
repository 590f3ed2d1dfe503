"""Fast paths the engine takes for speed compute exactly what the plain NumPy call does."""

import numpy as np
import pytest

import tinygrad_ann as tg
from tinygrad_ann import ops
from tinygrad_ann.autograd import column_sums

SHAPES = [(300, 2), (128, 10), (40, 16), (17, 17), (2, 5), (3, 20, 4), (5,), (64, 1)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_max_and_sum_over_the_last_axis_match_numpy(shape, dtype):
    a = np.random.default_rng(0).normal(size=shape).astype(dtype)
    for axis in {-1, a.ndim - 1}:
        expected_max = a.max(axis=axis, keepdims=True)
        got_max = ops._max_keepdims(a, axis)
        assert got_max.shape == expected_max.shape and got_max.dtype == a.dtype
        np.testing.assert_array_equal(got_max, expected_max)
        expected_sum = a.sum(axis=axis, keepdims=True)
        got_sum = ops._sum_keepdims(a, axis)
        assert got_sum.shape == expected_sum.shape and got_sum.dtype == a.dtype
        # Both are rounded sums in another order: each within n eps sum|a| of the exact sum.
        bound = 2 * a.shape[-1] * np.finfo(dtype).eps * np.abs(a).sum(axis=-1, keepdims=True)
        assert np.all(np.abs(got_sum - expected_sum) <= bound)


def test_other_axes_take_numpys_reduce():
    a = np.random.default_rng(1).normal(size=(300, 2))
    np.testing.assert_array_equal(ops._max_keepdims(a, 0), a.max(axis=0, keepdims=True))
    np.testing.assert_array_equal(ops._sum_keepdims(a, -2), a.sum(axis=-2, keepdims=True))


def test_nan_and_infinities_propagate_as_in_numpy():
    a = np.zeros((64, 3))
    a[1, 2] = np.nan
    a[2, 0] = np.inf
    a[3] = -np.inf
    a[4, :2] = [np.inf, -np.inf]
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(ops._max_keepdims(a, -1), a.max(axis=-1, keepdims=True))
        np.testing.assert_array_equal(ops._sum_keepdims(a, -1), a.sum(axis=-1, keepdims=True))


def test_integer_rows_are_summed_exactly():
    a = np.arange(64 * 3).reshape(64, 3)
    got = ops._sum_keepdims(a, -1)
    assert got.dtype == a.dtype
    np.testing.assert_array_equal(got, a.sum(axis=-1, keepdims=True))


@pytest.mark.parametrize("shape", [(300, 50), (128, 256), (300, 2), (20, 1), (1, 400)], ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_column_sums_match_numpy(shape, dtype):
    rows = np.random.default_rng(2).normal(size=shape).astype(dtype)
    got = column_sums(rows)
    expected = rows.sum(axis=0)
    assert got.shape == expected.shape and got.dtype == rows.dtype
    bound = 2 * shape[0] * np.finfo(dtype).eps * np.abs(rows).sum(axis=0)
    assert np.all(np.abs(got - expected) <= bound)


def test_column_sums_of_a_tensor_are_recorded():
    rows = tg.tensor(np.arange(600.0).reshape(300, 2), requires_grad=True)
    total = column_sums(rows)
    assert isinstance(total, tg.Tensor) and total.requires_grad
    np.testing.assert_array_equal(total.data, rows.data.sum(axis=0))


def test_a_broadcast_bias_gets_the_column_sums_of_its_gradient():
    rng = np.random.default_rng(3)
    x = tg.tensor(rng.normal(size=(300, 50)))
    bias = tg.tensor(rng.normal(size=50), requires_grad=True)
    upstream = rng.normal(size=(300, 50))
    (x + bias).backward(upstream)
    np.testing.assert_allclose(bias.grad.data, upstream.sum(axis=0), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("order", ["C", "F"])
def test_cross_entropy_gradient_for_logits_in_either_memory_order(order):
    rng = np.random.default_rng(4)
    values = np.asarray(rng.normal(size=(7, 3)), order=order)
    labels = np.array([0, 2, 1, 1, 0, 2, 2])
    logits = tg.tensor(values, requires_grad=True)
    loss = tg.functional.cross_entropy(logits, labels, reduction="sum")
    loss.backward()
    probs = np.exp(values) / np.exp(values).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(loss.item(), -np.log(probs[np.arange(7), labels]).sum(), rtol=1e-13)
    np.testing.assert_allclose(logits.grad.data, probs - np.eye(3)[labels], rtol=1e-12, atol=1e-15)

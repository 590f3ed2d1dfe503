"""The Tensor: construction, dtypes, conversions, operators with arrays and scalars on either side,
and the errors of operands whose shapes do not fit."""

import warnings

import numpy as np
import pytest

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import nn

# ---------------------------------------------------------------- construction


def test_construction_from_array_list_and_scalar():
    array = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    t = tg.Tensor(array)
    assert t.dtype == np.float32 and t.shape == (2, 2) and t.ndim == 2 and t.size == 4
    array[0, 0] = 99.0
    assert t.data[0, 0] == 1.0  # the tensor owns a copy
    assert tg.Tensor([1.5, 2]).dtype == np.float64  # Python floats -> the default dtype
    assert tg.Tensor([1, 2]).dtype == np.int64  # integers stay integers (class labels)
    assert tg.Tensor(3.0).shape == ()
    assert tg.Tensor(np.array([1, 2])).dtype == np.int64  # an integer array keeps its dtype
    assert tg.Tensor([1.0], dtype=np.float32).dtype == np.float32


def test_default_dtype_applies_to_lists_scalars_and_factories():
    tg.set_default_dtype(np.float32)
    assert tg.Tensor([1.0]).dtype == np.float32
    assert tg.zeros(2).dtype == np.float32 and tg.randn(2, 2).dtype == np.float32
    assert nn.Linear(2, 3).weight.dtype == np.float32
    assert tg.Tensor(np.zeros(2)).dtype == np.float64  # arrays keep theirs


def test_requires_grad_on_integers_is_a_clear_error():
    with pytest.raises(tg.DTypeError, match="floating"):
        tg.Tensor(np.array([1, 2]), requires_grad=True)


def test_float32_stays_float32_with_python_scalars():
    x = tg.Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    y = (x * 2.5 + 1) ** 2 / 3.0 - 0.5
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_properties_and_conversions():
    t = tg.Tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    assert t.T.shape == (3, 1)
    assert np.asarray(t).shape == (1, 3)
    assert t.numpy() is t.data
    assert len(t) == 1
    assert tg.Tensor(2.5).item() == 2.5
    d = t.detach()
    assert not d.requires_grad and np.shares_memory(d.data, t.data)
    with pytest.raises(ValueError, match="one-element"):
        t.item()
    assert "requires_grad=True" in repr(t)
    assert "grad_fn=<mul>" in repr(t * 2)
    assert "1., 2., 3." in repr(t)


def test_factories_accept_tuples_or_ints_and_seed_reproducibly():
    assert tg.zeros((2, 3)).shape == tg.zeros(2, 3).shape == (2, 3)
    assert tg.ones(4).data.sum() == 4
    assert tg.zeros_like(tg.ones(2, 2)).shape == (2, 2)
    assert tg.ones_like(np.zeros(3)).data.tolist() == [1.0, 1.0, 1.0]
    assert tg.arange(5).data.tolist() == [0, 1, 2, 3, 4]
    tg.manual_seed(7)
    first = tg.randn(3, 2).data, tg.rand(4).data
    tg.manual_seed(7)
    second = tg.randn((3, 2)).data, tg.rand(4).data
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert tg.randn(2, requires_grad=True).requires_grad


# ---------------------------------------------------------------- arithmetic


def test_arrays_and_scalars_on_either_side_give_tensors():
    t = tg.Tensor([1.0, 2.0], requires_grad=True)
    for value in (np.ones(2) + t, t + np.ones(2), 2.0 * t, t * 2.0, 1.0 - t, 4.0 / t, 2.0**t):
        assert isinstance(value, tg.Tensor) and value.requires_grad
    np.testing.assert_allclose((np.array([3.0, 3.0]) - t).data, [2.0, 1.0])
    np.testing.assert_allclose((np.eye(2) @ t).data, [1.0, 2.0])


def test_comparisons_give_tensors_without_grad():
    t = tg.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    for result, expected in (
        (t < 2, [True, False, False]),
        (t <= 2, [True, True, False]),
        (t > 2, [False, False, True]),
        (t >= 2, [False, True, True]),
        (t == 2, [False, True, False]),
    ):
        assert isinstance(result, tg.Tensor) and not result.requires_grad
        assert result.data.tolist() == expected


def test_hand_computed_gradients_of_a_small_expression():
    # f(x, y) = sum(x * y + x ** 2) -> df/dx = y + 2x, df/dy = x
    x = tg.Tensor([1.0, -2.0], requires_grad=True)
    y = tg.Tensor([3.0, 4.0], requires_grad=True)
    (x * y + x**2).sum().backward()
    assert x.grad.data.tolist() == [5.0, 0.0]
    assert y.grad.data.tolist() == [1.0, -2.0]


def test_broadcast_gradient_is_summed_to_the_operand_shape():
    x = tg.Tensor(np.ones((2, 3)), requires_grad=True)
    b = tg.Tensor([[1.0], [2.0]], requires_grad=True)  # (2, 1)
    (x * b).sum().backward()
    assert b.grad.data.tolist() == [[3.0], [3.0]]
    assert x.grad.data.tolist() == [[1.0] * 3, [2.0] * 3]


def test_integer_array_indexing_accumulates_repeated_indices():
    x = tg.Tensor([10.0, 20.0, 30.0], requires_grad=True)
    x[np.array([0, 2, 0, 0])].sum().backward()
    assert x.grad.data.tolist() == [3.0, 0.0, 1.0]


def test_sigmoid_and_tanh_of_zero_dimensional_tensors():
    x = tg.Tensor(0.0, requires_grad=True)
    (x.sigmoid() + x.tanh()).backward()
    assert x.grad.item() == pytest.approx(0.25 + 1.0)


@pytest.mark.parametrize("value", [1e4, -1e4])
def test_stable_functions_at_huge_logits(value):
    logits = tg.Tensor([[value, 0.0, -value]], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        outputs = [
            logits.sigmoid().sum(),
            logits.tanh().sum(),
            logits.softmax(axis=1).max(),
            logits.log_softmax(axis=1).sum(),
            F.cross_entropy(logits, np.array([1])),
            F.binary_cross_entropy_with_logits(logits, np.array([[0.0, 1.0, 1.0]])),
        ]
        for output in outputs:
            logits.grad = None
            output.backward()
            assert np.isfinite(output.item())
            assert np.isfinite(logits.grad.data).all()
    assert F.cross_entropy(logits, np.array([0])).item() == pytest.approx(0.0 if value > 0 else 2e4)


# ---------------------------------------------------------------- errors


def test_matmul_shape_mismatch_names_op_and_shapes():
    with pytest.raises(tg.ShapeError, match=r"matmul.*\(2, 3\).*\(2, 3\)"):
        tg.ones(2, 3) @ tg.ones(2, 3)


def test_non_broadcastable_operands_name_op_and_shapes():
    with pytest.raises(tg.ShapeError, match=r"add: operands of shapes \(3,\) and \(4,\)"):
        tg.ones(3) + tg.ones(4)
    with pytest.raises(tg.ShapeError, match=r"mul: operands of shapes \(2, 3\) and \(2,\)"):
        tg.ones(2, 3) * np.ones(2)

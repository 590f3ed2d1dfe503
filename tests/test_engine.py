"""The Tensor and the engine: construction, dtypes, accumulation, graph release, errors, memory."""

import gc
import sys
import warnings
import weakref

import numpy as np
import pytest

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import nn, optim

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


# ---------------------------------------------------------------- the engine


def test_gradients_accumulate_until_reset():
    w = tg.Tensor([1.0, 2.0], requires_grad=True)
    (w * 3).sum().backward()
    (w * 3).sum().backward()
    assert w.grad.data.tolist() == [6.0, 6.0]
    w.grad = None
    (w * w).sum().backward()
    assert w.grad.data.tolist() == [2.0, 4.0]


def test_non_leaves_keep_grad_only_when_asked():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    hidden = x * 2
    kept = x * 3
    kept.retain_grad()
    (hidden * kept).sum().backward()
    assert hidden.grad is None
    assert kept.grad.data.tolist() == [2.0, 4.0]  # d/dkept of sum(hidden * kept) = hidden


def test_backward_of_non_scalar_needs_gradient():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="gradient="):
        (x * 2).backward()
    (x * 2).backward(gradient=np.array([1.0, 10.0]))
    assert x.grad.data.tolist() == [2.0, 20.0]


def test_second_backward_needs_retain_graph():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    loss = (x.tanh() * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        loss.backward()
    kept = (x * x).sum()
    kept.backward(retain_graph=True)
    kept.backward()
    assert x.grad.data.tolist() == pytest.approx(
        (1 - np.tanh([1.0, 2.0]) ** 2) * [1.0, 2.0] + np.tanh([1.0, 2.0]) + 4 * np.array([1, 2])
    )


def test_diamond_graph_adds_both_paths():
    x = tg.Tensor(2.0, requires_grad=True)
    a = x * 3
    (a * a + a).backward()  # d/dx (9x² + 3x) = 18x + 3
    assert x.grad.item() == 39.0


def test_no_grad_as_context_and_decorator_and_enable_grad_inside():
    w = tg.Tensor([1.0], requires_grad=True)
    with tg.no_grad():
        assert not tg.is_grad_enabled()
        assert not (w * 2).requires_grad
        with tg.enable_grad():
            assert (w * 2).requires_grad
    assert tg.is_grad_enabled()

    @tg.no_grad()
    def predict(t):
        return t * 2

    assert not predict(w).requires_grad
    assert tg.is_grad_enabled()


def test_grad_mode_decorators_keep_the_function_and_nest_in_one_object():
    w = tg.ones(2, requires_grad=True)

    @tg.no_grad()
    def depth_first(t, depth):
        """Docstring kept."""
        inner = depth_first(t, depth - 1) if depth else None
        return t * 2, inner, tg.is_grad_enabled()

    @tg.enable_grad()
    def recorded(t):
        return t * 2

    assert depth_first.__name__ == "depth_first" and depth_first.__doc__ == "Docstring kept."
    outer, inner, enabled = depth_first(w, 2)
    assert not outer.requires_grad and not inner[0].requires_grad and not enabled
    assert tg.is_grad_enabled()  # each of the three nested entries restored its own value
    with tg.no_grad():
        assert recorded(w).requires_grad
        assert not tg.is_grad_enabled()


def test_grad_returns_gradients_without_touching_dot_grad():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    unused = tg.Tensor([1.0], requires_grad=True)
    (gx,) = tg.grad((x**3).sum(), x)
    assert gx.data.tolist() == [3.0, 12.0] and x.grad is None
    gx, gu = tg.grad((x**2).sum(), [x, unused], allow_unused=True)
    assert gu is None
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        tg.grad((x**2).sum(), [x, unused])


def test_a_chain_of_100000_ops_backpropagates_without_recursion():
    x = tg.Tensor([1.0], requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    assert sys.getrecursionlimit() < 100_000
    y.sum().backward()
    assert x.grad.data.tolist() == [1.0]


def test_graphs_are_freed_by_reference_counting_alone():
    """No reference cycles: with the cycle collector off, a dropped graph is gone at once."""
    gc.collect()
    gc.disable()
    try:
        x = tg.Tensor(np.ones(3), requires_grad=True)
        doubled = x * 2
        y = doubled.tanh()
        loss = (y * y).sum()
        loss.backward(retain_graph=True)  # keeps saved arrays: they must go too
        probes = [weakref.ref(t) for t in (doubled, y, loss)]
        del doubled, y, loss
        assert all(probe() is None for probe in probes)
    finally:
        gc.enable()


def test_memory_of_a_training_loop_stays_flat():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 3))
    optimizer = optim.SGD(model.parameters(), lr=0.01)
    x = tg.Tensor(np.random.default_rng(0).normal(size=(32, 4)))
    labels = np.arange(32) % 3

    def live_objects() -> int:
        gc.collect()
        return sum(isinstance(o, tg.Tensor | tg.Function) for o in gc.get_objects())

    def train(steps: int) -> None:
        for _ in range(steps):
            loss = F.cross_entropy(model(x), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    train(5)
    before = live_objects()
    train(200)
    assert live_objects() <= before


# ---------------------------------------------------------------- .grad buffers


def _buffers_shared(arrays):
    return any(np.shares_memory(a, b) for i, a in enumerate(arrays) for b in arrays[i + 1 :])


def test_grad_buffers_are_never_shared_with_each_other_or_the_caller():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = tg.tensor([3.0, 4.0], requires_grad=True)
    upstream = np.array([1.0, -1.0])
    (x + y).backward(upstream)  # add hands the same array to both inputs
    assert not _buffers_shared([x.grad.data, y.grad.data, upstream])
    h = x * 2.0
    h.retain_grad()
    h.sum().backward()
    assert not _buffers_shared([x.grad.data, h.grad.data])
    np.testing.assert_array_equal(x.grad.data, [1.0 + 2.0, -1.0 + 2.0])
    np.testing.assert_array_equal(upstream, [1.0, -1.0])


def test_grad_never_aliases_an_array_a_custom_backward_returns():
    constant = np.array([5.0, 6.0])

    class ReturnsAConstant(tg.Function):
        @staticmethod
        def forward(ctx, a):
            return a.copy()

        @staticmethod
        def backward(ctx, grad_output):
            return constant  # held by this closure too: must be copied, not adopted

    x = tg.tensor([1.0, 1.0], requires_grad=True)
    ReturnsAConstant.apply(x).sum().backward()
    ReturnsAConstant.apply(x).sum().backward()  # accumulates in place into x.grad
    np.testing.assert_array_equal(x.grad.data, [10.0, 12.0])
    np.testing.assert_array_equal(constant, [5.0, 6.0])


def test_a_fresh_gradient_becomes_grad_without_a_copy_and_accumulates_correctly():
    w = tg.tensor(np.ones((3, 2)), requires_grad=True)
    x = tg.tensor(np.arange(12.0).reshape(4, 3))
    for step in range(1, 4):
        (x @ w).sum().backward()
        np.testing.assert_array_equal(w.grad.data, step * x.data.sum(axis=0)[:, None] * [1, 1])
    assert not np.shares_memory(w.grad.data, x.data)


def test_from_numpy_shares_memory_and_refuses_other_data():
    batch = np.arange(6.0).reshape(2, 3)
    t = tg.from_numpy(batch)
    assert np.shares_memory(t.data, batch) and not t.requires_grad
    batch[0, 0] = 7.0
    assert t.data[0, 0] == 7.0
    with pytest.raises(TypeError, match=r"tg\.tensor"):
        tg.from_numpy([1.0, 2.0])


def test_a_zero_dimensional_leaf_used_twice_gets_a_tensor_gradient():
    w = tg.tensor(3.0, requires_grad=True)
    (w * w).backward()  # two 0-d contributions: their sum is a NumPy scalar
    assert isinstance(w.grad, tg.Tensor) and w.grad.shape == ()
    assert w.grad.item() == 6.0
    (w * w).backward()  # accumulates into the existing .grad
    assert isinstance(w.grad, tg.Tensor) and w.grad.item() == 12.0
    (gradient,) = tg.grad(w * w, w)
    assert isinstance(gradient, tg.Tensor) and gradient.item() == 6.0


def test_recorded_results_lists_each_op_result_once_in_the_order_the_ops_ran():
    from tinygrad_ann.autograd import recorded_results

    x = tg.tensor([1.0, 2.0], requires_grad=True)
    doubled = x * 2
    bent = doubled.tanh()  # a diamond: doubled feeds both bent and the sum
    total = (doubled + bent).sum()
    results = recorded_results(total)
    assert [t.grad_fn.op_name() for t in results] == ["mul", "tanh", "add", "sum"]
    assert results[0] is doubled and results[1] is bent and results[-1] is total
    assert recorded_results([bent, total]) == results
    assert recorded_results(x) == [] and recorded_results([]) == []


def test_recorded_results_walks_a_long_chain_without_recursion():
    from tinygrad_ann.autograd import recorded_results

    y = x = tg.tensor(1.0, requires_grad=True)
    for _ in range(5000):
        y = y * 1.0
    results = recorded_results(y)
    assert len(results) == 5000 and results[-1] is y and results[0].grad_fn.parents[0] is x

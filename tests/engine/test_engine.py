"""The backward engine: accumulation, broadcast gradients summed back, graph release, memory,
.grad buffers, and the errors of a backward called wrongly."""

import gc
import re
import sys
import weakref

import numpy as np
import pytest
from custom_ops import WrongShape

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import ShapeError, nn, optim
from tinygrad_ann.autograd import column_sums, run_backward

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


def leaf(values, dtype=np.float64):
    return tg.tensor(np.array(values, dtype=dtype), requires_grad=True)


@pytest.mark.parametrize(
    ("shape", "other"),
    [
        ((3,), (4, 3)),  # one leading axis of a 2-D gradient
        ((3,), (2, 4, 3)),  # two leading axes
        ((1, 3), (4, 3)),  # a size-1 axis kept
        ((1, 3), (2, 3)),  # a size-1 axis against two rows
        ((4, 1), (4, 3)),  # a trailing size-1 axis
        ((2, 1, 3), (5, 2, 4, 3)),  # both: a leading axis and a size-1 axis
        ((), (2, 3)),  # a scalar
        ((300,), (2, 300)),  # large enough for column_sums' BLAS path
    ],
)
def test_broadcast_gradients_are_summed_back_to_each_input(shape, other):
    rng = np.random.default_rng(0)
    a, b = leaf(rng.normal(size=shape)), leaf(rng.normal(size=other))
    upstream = rng.normal(size=np.broadcast_shapes(shape, other))
    (a * b).backward(upstream)
    full = upstream * np.broadcast_to(b.numpy(), upstream.shape)
    leading = full.ndim - len(shape)
    expected = full.sum(axis=tuple(range(leading)))
    expected = expected.sum(axis=tuple(i for i, s in enumerate(shape) if s == 1), keepdims=True)
    assert a.grad.shape == shape
    np.testing.assert_allclose(a.grad.numpy(), expected.reshape(shape), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
@pytest.mark.parametrize("rows", [2, 300])
def test_column_sums_is_the_sum_over_rows(dtype, rows):
    values = np.arange(rows * 3).reshape(rows, 3).astype(dtype)
    result = column_sums(values)
    assert result.dtype == dtype
    np.testing.assert_array_equal(result, values.sum(axis=0))


def test_gradients_accumulate_over_backward_calls_and_uses():
    x = leaf([1.0, 2.0])
    (x * x).sum().backward()
    (3 * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0 + 3.0, 4.0 + 3.0])
    y = leaf([1.0, -1.0])
    (y * 2 + y * 5).backward(np.array([1.0, 10.0]))
    np.testing.assert_array_equal(y.grad.numpy(), [7.0, 70.0])


def test_each_leaf_gets_its_own_gradient_buffer_in_its_own_dtype():
    a, b = leaf([1.0, 2.0], np.float32), leaf([1.0, 2.0])
    (a + b).sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    s = leaf(3.0)
    (s * s).backward()
    assert type(s.grad.numpy()) is np.ndarray and s.grad.shape == ()
    assert s.grad.item() == 6.0


def test_accumulating_onto_a_gradient_a_live_graph_holds():
    # .grad of more than SavedArrays.copy_limit elements, saved by a graph, is read-only:
    # accumulation must then make a new array rather than fail or write into the graph.
    x = leaf(np.ones(2048))
    x.sum().backward()
    held = x.grad * 1.0  # records nothing: x.grad does not require grad
    saved = tg.tensor(x.grad.numpy(), requires_grad=False)
    y = leaf(np.ones(2048))
    graph = (y * x.grad).sum()
    x.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(2048, 2.0))
    graph.backward()
    np.testing.assert_array_equal(y.grad.numpy(), saved.numpy())
    np.testing.assert_array_equal(held.numpy(), np.ones(2048))


@pytest.mark.parametrize(
    "loss",
    [
        lambda x: x.reshape(6).sum(),  # backward hands the leaf a view of the upstream gradient
        lambda x: x.transpose().sum(),
        lambda x: (x * 2.0).sum(),
    ],
    ids=["reshape", "transpose", "scale"],
)
def test_a_fresh_grad_owns_a_writable_buffer(loss):
    x = leaf(np.ones((2, 3)))
    loss(x).backward()
    expected = x.grad.numpy().copy()
    x.grad.data *= 0.5  # in-place clipping or scaling, as an optimizer step may do
    np.testing.assert_array_equal(x.grad.numpy(), expected * 0.5)
    x.grad.data[...] = 0.0
    loss(x).backward()
    np.testing.assert_array_equal(x.grad.numpy(), expected)


class TwoGradients(tg.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, grad):
        return grad, grad


def _backward_twice(x):
    y = x * x
    y.sum().backward()
    y.sum().backward()


def _backward_twice_through_one_op(x):
    total = x.sum()
    total.backward()
    total.backward()


ENGINE_ERRORS = {
    "backward twice": (
        _backward_twice,
        RuntimeError,
        "backward through the graph a second time (mul was already backpropagated and its "
        "saved arrays freed); pass retain_graph=True to the first backward() if you need to "
        "call it twice",
    ),
    "too many gradients": (
        lambda x: TwoGradients.apply(x).sum().backward(),
        TypeError,
        "TwoGradients.backward returned 2 gradient(s) but its forward took 1 positional "
        "input(s) (0: array of shape (2,)); return one per positional input, or one per Tensor "
        "or array input (1) leaving out plain values such as numbers; None stands for an input "
        "that needs no gradient",
    ),
    # A graph of one op on leaves takes a way of its own through backward (no schedule):
    # these three state that it stops with the same errors.
    "backward twice through one op": (
        _backward_twice_through_one_op,
        RuntimeError,
        "backward through the graph a second time (sum was already backpropagated and its "
        "saved arrays freed); pass retain_graph=True to the first backward() if you need to "
        "call it twice",
    ),
    "too many gradients from one op": (
        lambda x: TwoGradients.apply(x).backward(np.ones(2)),
        TypeError,
        "TwoGradients.backward returned 2 gradient(s) but its forward took 1 positional "
        "input(s) (0: array of shape (2,)); return one per positional input, or one per Tensor "
        "or array input (1) leaving out plain values such as numbers; None stands for an input "
        "that needs no gradient",
    ),
    "gradient of another shape from one op": (
        lambda x: WrongShape.apply(x).backward(np.ones(2)),
        ShapeError,
        "wrong_shape.backward returned a gradient of shape (3,) for an input of shape (2,): its "
        "axis 0 has size 3 where the input's axis 0 has size 2, and only axes of size 1 can have "
        "grown. A gradient must have the input's shape, or a shape the input broadcasts to "
        "(extra leading axes, or size-1 axes grown), which the engine sums back to the input's "
        "shape",
    ),
    "backward of a vector": (
        lambda x: (x * x).backward(),
        RuntimeError,
        "backward(): the output has shape (2,); a gradient can be implied only for a "
        "single-element output. Reduce it first (e.g. y.sum()) or pass gradient= with the "
        "output's shape",
    ),
    "grad of a vector": (
        lambda x: tg.grad([x.sum(), x * x], [x]),
        RuntimeError,
        "grad: the output 1 has shape (2,); a gradient can be implied only for a single-element "
        "output. Reduce it first (e.g. y.sum()) or pass grad_outputs= with the output's shape",
    ),
    "backward gradient of another shape": (
        lambda x: (x * x).backward(np.ones(3)),
        ShapeError,
        "backward(): the gradient for the output has shape (3,) but the output has shape (2,); "
        "they must be equal",
    ),
    "grad gradient of another shape": (
        lambda x: tg.grad([x.sum(), x * x], [x], grad_outputs=[np.ones(()), np.ones(3)]),
        ShapeError,
        "grad: the gradient for the output 1 has shape (3,) but the output 1 has shape (2,); "
        "they must be equal",
    ),
    "grad_outputs count": (
        lambda x: tg.grad((x * x).sum(), [x], grad_outputs=[None, None]),
        ValueError,
        "grad: got 2 grad_outputs for 1 outputs; give one each",
    ),
    "input not a Tensor": (
        lambda x: tg.grad((x * x).sum(), [x, np.ones(2)]),
        TypeError,
        "grad: input 1 is a ndarray, not a Tensor",
    ),
    "input without requires_grad": (
        lambda x: tg.grad((x * x).sum(), [x, tg.tensor([1.0])]),
        RuntimeError,
        "grad: input 1 does not require grad",
    ),
    "output without requires_grad": (
        lambda x: tg.grad([x.sum(), tg.tensor([1.0, 2.0]).sum()], [x]),
        RuntimeError,
        "grad: output 1 does not require grad (no input it depends on does; if it is itself a "
        "gradient, it is constant and its derivative is zero)",
    ),
    "unused input": (
        lambda x: tg.grad((x * x).sum(), [x, leaf([1.0])]),
        RuntimeError,
        "grad: input 1 (shape (1,)) is not used to compute the outputs; pass allow_unused=True "
        "to get None for it",
    ),
}


@pytest.mark.parametrize("case", list(ENGINE_ERRORS))
def test_engine_errors_say_what_is_wrong_and_what_to_do(case):
    call, error, message = ENGINE_ERRORS[case]
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        call(leaf([1.0, 2.0]))


def test_run_backward_frees_the_graph_unless_asked_to_retain_it():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    run_backward([y], [np.ones(())], retain_graph=True)
    run_backward([y], [np.ones(())])
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 8.0])
    assert not x.grad.requires_grad  # nothing recorded unless create_graph=True
    with pytest.raises(RuntimeError, match=r"^backward through the graph a second time"):
        run_backward([y], [np.ones(())])


def test_grad_with_respect_to_an_intermediate_result():
    x = leaf([1.0, 2.0])
    h = x * 3.0
    (gh,) = tg.grad((h * h).sum(), [h])
    np.testing.assert_array_equal(gh.numpy(), [6.0, 12.0])
    assert x.grad is None and h.grad is None


def test_the_output_of_a_single_op_keeps_its_grad_only_when_asked():
    x = leaf([1.0, 2.0])
    total = x.sum()
    total.backward()
    assert total.grad is None
    kept = x.sum()
    kept.retain_grad()
    kept.backward()
    assert kept.grad.item() == 1.0
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


class Float64Gradient(tg.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, grad):
        return grad.astype(np.float64) * 2


def test_a_single_ops_gradient_takes_its_inputs_dtype():
    x = leaf([1.0, 2.0], dtype=np.float32)
    Float64Gradient.apply(x).backward(np.ones(2, np.float32))
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


def test_a_single_ops_scalar_gradients_accumulate_into_an_array():
    x = leaf(2.0)
    (x * 3.0).backward()  # the VJP of a 0-d product is a NumPy scalar, not an array
    first = x.grad
    (x * 3.0).backward()
    assert x.grad is first  # accumulated in place, as PyTorch does
    assert type(x.grad.data) is np.ndarray and x.grad.item() == 6.0
    assert not x.grad.requires_grad


upstream_gradient_types: list[type] = []


class RecordsUpstreamGradientType(tg.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 1.0

    @staticmethod
    def backward(ctx, grad):
        upstream_gradient_types.append(type(grad))
        return grad


def test_a_backward_receives_an_array_where_the_op_after_it_gave_a_numpy_scalar():
    upstream_gradient_types.clear()
    x = leaf(2.0)
    (RecordsUpstreamGradientType.apply(x) * 3.0).backward()  # mul's VJP of 0-d values: a scalar
    assert upstream_gradient_types == [np.ndarray]
    assert x.grad.item() == 3.0


def test_an_output_may_be_a_leaf_itself():
    x = leaf([1.0, 2.0])
    (g,) = tg.grad([x, (x * x).sum()], [x], grad_outputs=[np.array([10.0, 20.0]), None])
    np.testing.assert_array_equal(g.numpy(), [10.0 + 2.0, 20.0 + 4.0])
    s = leaf(3.0)
    s.backward()
    assert s.grad.item() == 1.0


def test_the_same_output_given_twice_counts_twice():
    x = leaf([1.0, 2.0])
    y = x * x
    seeds = [np.array([1.0, 10.0]), np.array([100.0, 1000.0])]
    (g,) = tg.grad([y, y], [x], grad_outputs=seeds)
    np.testing.assert_array_equal(g.numpy(), [2.0 * 101.0, 4.0 * 1010.0])


def test_the_implied_gradient_of_a_one_element_output_has_its_shape_and_dtype():
    x = leaf([[3.0]], np.float32)
    y = x * x
    seen = []
    y.register_hook(lambda g: seen.append((g.shape, g.dtype)))
    y.backward()
    assert seen == [((1, 1), np.float32)]
    np.testing.assert_array_equal(x.grad.numpy(), [[6.0]])


def test_a_tensor_given_as_gradient_is_not_shared_with_grad():
    x = leaf([1.0, 2.0])
    upstream = tg.tensor([10.0, 20.0])
    x.backward(upstream)
    upstream.data[...] = 0.0
    np.testing.assert_array_equal(x.grad.numpy(), [10.0, 20.0])
    assert not x.grad.requires_grad


def test_a_gradient_given_for_a_leaf_output_is_cast_to_the_leafs_dtype():
    x = leaf([1.0, 2.0], np.float32)
    x.backward(np.array([0.1, 0.2]))  # float64
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), np.array([0.1, 0.2], np.float32))
    # Through an op too: the upstream gradient is cast before the op's VJP, which then
    # computes in float32 (in float64 and rounded after, this would be 0.11 exactly).
    z = leaf([2.0], np.float32)
    (z * 1.1).backward(np.array([0.1]))
    assert z.grad.numpy()[0] == np.float32(0.1) * np.float32(1.1) != np.float32(0.11)
    (direct,) = tg.grad(x, x, grad_outputs=tg.tensor([0.1, 0.2]), create_graph=True)
    assert direct.dtype == np.float32
    np.testing.assert_array_equal(direct.numpy(), np.array([0.1, 0.2], np.float32))
    (same,) = tg.grad(x, x, grad_outputs=tg.tensor(np.float32([0.5, 1.5])), create_graph=True)
    np.testing.assert_array_equal(same.numpy(), [0.5, 1.5])


def test_a_gradient_with_one_extra_leading_axis_and_three_axes_is_summed_over_that_axis():
    # 400 elements: the size at which 2-D gradients take the faster column sums.
    bias = leaf(np.arange(20.0).reshape(4, 5))
    batch = tg.ones(20, 4, 5)
    (batch * 2.0 + bias).sum().backward()
    np.testing.assert_array_equal(bias.grad.data, np.full((4, 5), 20.0))


class LeadingAxisGradient(tg.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, grad):
        return np.ones((2, 3, 4))


def test_a_gradient_axis_that_cannot_have_grown_is_named_counting_the_extra_axes():
    with pytest.raises(ShapeError) as raised:
        LeadingAxisGradient.apply(leaf(np.ones((5, 4)))).sum().backward()
    assert str(raised.value) == (
        "LeadingAxisGradient.backward returned a gradient of shape (2, 3, 4) for an input of "
        "shape (5, 4): its axis 1 has size 3 where the input's axis 0 has size 5, and only "
        "axes of size 1 can have grown. A gradient must have the input's shape, or a shape the "
        "input broadcasts to (extra leading axes, or size-1 axes grown), which the engine sums "
        "back to the input's shape"
    )


def test_run_backward_sums_the_gradients_of_every_root_each_of_one_op():
    x = leaf([1.0, 2.0])
    run_backward([x.sum(), (x * 2.0).sum()], [np.ones(()), np.ones(())])
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_a_graph_of_one_op_kept_by_retain_graph_runs_backward_again():
    x = leaf([1.0, 2.0])
    total = x.sum()
    total.backward(retain_graph=True)
    total.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])

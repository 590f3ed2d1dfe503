"""The engine's own arithmetic: gradients summed back over broadcast axes, accumulated into
``.grad``, cast to each leaf's dtype, and the errors a wrong custom backward gets.
"""

import re

import numpy as np
import pytest
from custom_ops import Square

import tinygrad_ann as tg
from tinygrad_ann import ShapeError
from tinygrad_ann.autograd import SavedArrays, column_sums, run_backward


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


def test_create_graph_gradients_accumulate_as_recorded_tensors():
    x = leaf([1.0, 2.0])
    (x**3).sum().backward(create_graph=True)
    (x**2).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    np.testing.assert_array_equal(x.grad.numpy(), [3.0 + 2.0, 12.0 + 4.0])
    (second,) = tg.grad(x.grad.sum(), [x])
    np.testing.assert_array_equal(second.numpy(), [6.0 + 2.0, 12.0 + 2.0])
    x.grad = None
    (x**3).sum().backward(create_graph=True)
    (x * 1.0).sum().backward()  # a plain gradient onto a recorded one leaves it intact
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 13.0])


class WrongShape(tg.Function):
    name = "wrong_shape"

    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, grad):
        return np.ones(3)


class ArraysOnly(tg.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, grad):
        return grad * 2


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


def test_create_graph_through_a_first_order_only_op_is_refused():
    x = leaf([1.0, 2.0])
    message = (
        r"^create_graph=True: the backward of ArraysOnly works on NumPy arrays only, so it "
        r"cannot be differentiated again \(its second derivative would silently be zero\)\. "
        r"Write its backward with operators and tinygrad_ann\.vjp_math functions and set "
        r"differentiable_backward = True on the class \(docs/custom_ops\.md\)$"
    )
    with pytest.raises(RuntimeError, match=message):
        tg.grad(ArraysOnly.apply(x).sum(), [x], create_graph=True)
    np.testing.assert_array_equal(tg.grad(ArraysOnly.apply(x).sum(), [x])[0].numpy(), [2, 2])


def test_a_create_graph_gradient_of_a_float32_leaf_is_float32():
    x = leaf([1.0, 2.0], np.float32)
    (x * tg.tensor([3.0, 4.0])).sum().backward(create_graph=True)
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])


def test_create_graph_accepts_saved_inputs_holding_nan():
    # Saved inputs are compared with the live tensors before a recorded backward; NaN
    # must equal NaN there, or every graph over a NaN would look tampered with.
    x = leaf([np.nan, 1.0])
    (g,) = tg.grad((x * x).sum(), [x], create_graph=True)
    np.testing.assert_array_equal(g.numpy(), [np.nan, 2.0])


def test_create_graph_after_the_output_changed_names_the_output():
    x = leaf([1.0, 2.0])
    y = x.exp()
    y.data[...] = 0.5  # in place: the graph saved a copy of the small output
    message = (
        r"^create_graph=True: the output of exp \(shape \(2,\)\) has changed since the forward "
        r"pass \(written in place or given a new array, e\.g\. by an optimizer step\), so a "
        r"recorded backward would mix old and new values; compute the forward again$"
    )
    with pytest.raises(RuntimeError, match=message):
        tg.grad(y.sum(), [x], create_graph=True)


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


@pytest.mark.parametrize(
    ("fn", "values", "produced"),
    [
        (tg.log, [1.0, 0.0], "-inf"),
        (tg.exp, [1.0, 1000.0], "inf"),
        (lambda t: t / t, [1.0, 0.0], "nan"),
    ],
)
def test_anomaly_names_the_op_and_what_forward_produced(fn, values, produced):
    shapes = r"\(2,\), \(2,\)" if produced == "nan" else r"\(2,\)"
    with (
        tg.detect_anomaly(),
        pytest.raises(
            tg.AnomalyError,
            match=rf"forward produced {produced} from finite inputs of shape {shapes}, called at",
        ),
    ):
        fn(leaf(values))
    with np.errstate(all="ignore"):
        assert fn(leaf(values)).shape == (2,)  # outside detect_anomaly: no check


def test_anomaly_names_the_op_input_and_what_backward_produced():
    x = leaf([1.0, 0.0])
    with tg.detect_anomaly():
        y = tg.sqrt(x)
        with pytest.raises(
            tg.AnomalyError,
            match=r"^sqrt: backward produced inf in the gradient of input 0 from a finite",
        ):
            y.sum().backward()


def test_a_hook_may_replace_the_gradient_and_it_is_cast_to_the_tensors_dtype():
    x = leaf([1.0, 2.0], np.float32)
    x.register_hook(lambda g: np.array([10.0, 20.0]))
    (x * 1.0).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), [10.0, 20.0])
    y = leaf([1.0, 2.0])
    seen = []
    y.register_hook(lambda g: seen.append(type(g)))
    (y * y).sum().backward()
    assert seen == [tg.Tensor]
    z = leaf([1.0, 2.0])
    z.register_hook(lambda g: np.zeros(3))
    message = (
        r"^a gradient hook of a tensor of shape \(2,\) returned a gradient of shape \(3,\); "
        r"return one of the tensor's shape, or None to keep the gradient$"
    )
    with pytest.raises(ShapeError, match=message):
        (z * 1.0).sum().backward()


def test_anomaly_in_backward_says_whether_the_op_was_recorded_under_detect_anomaly():
    outside = tg.sqrt(leaf([1.0, 0.0]))
    with tg.detect_anomaly(), pytest.raises(tg.AnomalyError) as error:
        outside.sum().backward()
    assert str(error.value).endswith("the op was recorded at <recorded outside detect_anomaly>")
    with tg.detect_anomaly(), pytest.raises(tg.AnomalyError) as error:
        tg.sqrt(leaf([1.0, 0.0])).sum().backward()
    assert "the op was recorded at " in str(error.value)
    assert "<recorded outside detect_anomaly>" not in str(error.value)


def test_a_hook_under_create_graph_sees_and_returns_recorded_tensors():
    x = leaf([1.0, 2.0])
    x.register_hook(lambda g: g * 2)
    (g,) = tg.grad((x * x).sum(), [x], create_graph=True)
    np.testing.assert_array_equal(g.numpy(), [4.0, 8.0])
    assert g.requires_grad


def test_a_read_only_array_of_the_caller_stays_read_only_after_the_graph():
    constant = np.ones(2048)
    constant.setflags(write=False)
    w = leaf(np.ones(2048))
    loss = (w * tg.tensor(constant)).sum()
    loss.backward()
    del loss
    assert not constant.flags.writeable


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


class SavesAnIntermediate(tg.Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x):
        doubled = x * 2.0
        ctx.save_for_backward(doubled)
        return doubled * x

    @staticmethod
    def backward(ctx, grad):
        (doubled,) = ctx.saved
        return grad * doubled * 2.0


def test_create_graph_refuses_a_saved_float_array_that_is_neither_input_nor_output():
    x = leaf([1.0, 2.0])
    message = (
        r"^create_graph=True: SavesAnIntermediate saved a floating-point array of shape "
        r"\(2,\) that is neither an input of its forward nor its output \(or the output got a "
        r"new array since\), so its dependence on the inputs cannot be recorded\. Save the "
        r"inputs \(or the output\) and recompute the value in backward, or override "
        r"lift_saved to build it from Tensors$"
    )
    with pytest.raises(RuntimeError, match=message):
        tg.grad(SavesAnIntermediate.apply(x).sum(), [x], create_graph=True)
    # First order needs no Tensors: the saved array serves as it is.
    np.testing.assert_array_equal(
        tg.grad(SavesAnIntermediate.apply(x).sum(), [x])[0].numpy(), [4, 8]
    )


def test_create_graph_after_an_input_changed_names_which_input():
    w, x = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    y = w * x
    x.data[...] = 0.5  # in place: the graph saved a copy of the small input
    message = (
        r"^create_graph=True: the input 1 of mul \(shape \(2,\)\) has changed since the forward "
        r"pass \(written in place or given a new array, e\.g\. by an optimizer step\)"
    )
    with pytest.raises(RuntimeError, match=message):
        tg.grad(y.sum(), [w], create_graph=True)


class DifferentiatesInside(Square):
    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        (slope,) = tg.grad((x * x).sum(), [x], create_graph=True)  # a recorded backward inside
        return grad * slope * np.asarray(x)  # still inside the outer one: refused


def test_a_recorded_backward_refuses_numpy_conversions_even_after_a_nested_one():
    x = leaf([1.0, 2.0])
    message = (
        r"^create_graph=True: the backward of DifferentiatesInside failed on Tensors \(a Tensor "
        r"that requires grad was converted to a NumPy array inside a backward run with "
        r"create_graph=True, which would make it a constant\); it must compute with operators "
        r"and tinygrad_ann\.vjp_math functions, not NumPy functions \(docs/custom_ops\.md\)$"
    )
    with pytest.raises(RuntimeError, match=message):
        tg.grad(DifferentiatesInside.apply(x).sum(), [x], create_graph=True)


def test_after_a_create_graph_backward_tensors_convert_and_anomalies_are_caught_again():
    x = leaf([1.0, 2.0])
    tg.grad((x * x).sum(), [x], create_graph=True)
    np.testing.assert_array_equal(np.asarray(x), [1.0, 2.0])
    with tg.detect_anomaly(), pytest.raises(tg.AnomalyError, match=r"^mul: forward produced"):
        x * 1e308


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


def test_under_create_graph_a_hook_may_return_an_array_a_constant_gradient():
    x = leaf([1.0, 2.0])
    y = x * x
    y.register_hook(lambda g: np.array([5.0, 5.0]))
    (g,) = tg.grad(y.sum(), [x], create_graph=True)
    assert isinstance(g, tg.Tensor)
    np.testing.assert_array_equal(g.numpy(), [10.0, 20.0])  # 5 * 2x, still recorded
    np.testing.assert_array_equal(tg.grad(g.sum(), [x])[0].numpy(), [10.0, 10.0])
    z = leaf([1.0, 2.0])
    z.register_hook(lambda g: np.array([5.0, 6.0]))
    (g,) = tg.grad((z * z).sum(), [z], create_graph=True)
    assert isinstance(g, tg.Tensor) and not g.requires_grad  # a constant: derivative zero
    np.testing.assert_array_equal(g.numpy(), [5.0, 6.0])


def test_grad_mode_is_reported_as_a_bool():
    assert tg.is_grad_enabled() is True
    with tg.no_grad():
        assert tg.is_grad_enabled() is False
        with tg.enable_grad():
            assert tg.is_grad_enabled() is True
        assert tg.is_grad_enabled() is False
    assert tg.is_grad_enabled() is True


class SavesItsInput(tg.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        return 2.0 * x * grad


@pytest.mark.parametrize("size", [1023, 1024])
def test_saved_arrays_up_to_the_copy_limit_are_copied_and_stay_writable(size):
    assert SavedArrays.copy_limit == 1024
    x, y = leaf(np.full(size, 2.0)), leaf(np.full(size, 3.0))
    z = x * y  # saves both inputs
    x.data[...] = 0.0  # allowed: the graph kept copies
    z.sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), np.full(size, 2.0))
    np.testing.assert_array_equal(x.grad.numpy(), np.full(size, 3.0))
    w = leaf(np.full(size, 2.0))
    squared = SavesItsInput.apply(w)  # saves one array
    w.data[...] = 0.0
    squared.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.full(size, 4.0))


def test_a_saved_array_over_the_copy_limit_is_read_only_until_backward():
    w = leaf(np.full(1025, 2.0))
    squared = SavesItsInput.apply(w)
    with pytest.raises(ValueError, match="read-only"):
        w.data[...] = 0.0
    squared.sum().backward()
    w.data[...] = 0.0  # unlocked once the graph is freed
    np.testing.assert_array_equal(w.grad.numpy(), np.full(1025, 4.0))


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


def test_anomaly_mode_records_second_order_and_runs_first_order_only_ops():
    x = leaf([1.0, 2.0])
    with tg.detect_anomaly():
        (slope,) = tg.grad((x * x * x).sum(), [x], create_graph=True)
        (curvature,) = tg.grad(slope.sum(), [x])
        np.testing.assert_array_equal(curvature.numpy(), [6.0, 12.0])
        (slope,) = tg.grad(x.exp().sum(), [x], create_graph=True)  # exp saves its output
        np.testing.assert_allclose(tg.grad(slope.sum(), [x])[0].numpy(), np.exp([1.0, 2.0]))
        np.testing.assert_array_equal(tg.grad(ArraysOnly.apply(x).sum(), [x])[0].numpy(), [2, 2])


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


def test_the_backward_observer_sees_every_op_in_order_with_its_gradients():
    from tinygrad_ann.autograd import observe_backward

    x = leaf([1.0, 2.0])
    doubled = x * 2.0
    total = doubled.sum()
    calls = []

    def observer(ctx, output, grad_output, input_grads):
        calls.append((ctx.op_name(), output, np.array(grad_output), input_grads))

    with observe_backward(observer):
        total.backward()
    assert [(name, output) for name, output, _, _ in calls] == [("sum", total), ("mul", doubled)]
    np.testing.assert_array_equal(calls[0][2], 1.0)
    np.testing.assert_array_equal(calls[1][2], [1.0, 1.0])
    np.testing.assert_array_equal(calls[1][3][0], [2.0, 2.0])
    assert len(calls[1][3]) == 2  # one per input of mul, the constant's included
    with observe_backward(observer):
        pass
    calls.clear()
    (x * 3.0).sum().backward()
    assert calls == []  # the observer left with its block


def test_a_hook_on_a_retained_intermediate_runs_once_per_pass():
    x = leaf([1.0, 2.0])
    hidden = x * 3.0
    hidden.retain_grad()
    seen = []
    hidden.register_hook(lambda g: seen.append(g.numpy().copy()) or g * 2.0)
    hidden.sum().backward()
    assert len(seen) == 1
    np.testing.assert_array_equal(hidden.grad.numpy(), [2.0, 2.0])
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 6.0])


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


def test_create_graph_accepts_a_list_as_the_upstream_gradient():
    x = leaf([1.0, 2.0])
    (x * x).backward([1.0, 10.0], create_graph=True)
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 40.0])
    assert x.grad.requires_grad


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

"""Higher-order gradients: create_graph, differentiable .grad, custom ops and gradgradcheck."""

import re

import numpy as np
import pytest
from custom_ops import Cube, Square

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import vjp_math


def derivatives(fn, x, order):
    """[f'(x), f''(x), ...] up to ``order`` for an elementwise ``fn``, by nesting tg.grad."""
    result = []
    value = fn(x)
    for _ in range(order):
        (value,) = tg.grad(value.sum(), x, create_graph=True)
        result.append(value)
    return result


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# ---------------------------------------------------------------- closed forms


def test_cube_has_derivatives_3x2_6x_and_6():
    x = tg.tensor([-1.5, 0.5, 2.0], requires_grad=True)
    first, second, third = derivatives(lambda t: t**3, x, 3)
    np.testing.assert_allclose(first.data, 3 * x.data**2)
    np.testing.assert_allclose(second.data, 6 * x.data)
    np.testing.assert_allclose(third.data, [6.0, 6.0, 6.0])
    assert first.requires_grad and second.requires_grad


def test_polynomial_up_to_third_derivative():
    # p = 2x^4 - 3x^3 + x^2 - 5x + 7, with products instead of pow
    def p(t):
        return 2 * t * t * t * t - 3 * t * t * t + t * t - 5 * t + 7

    values = np.array([-2.0, -0.3, 0.0, 1.25, 3.0])
    x = tg.tensor(values, requires_grad=True)
    first, second, third = derivatives(p, x, 3)
    np.testing.assert_allclose(first.data, 8 * values**3 - 9 * values**2 + 2 * values - 5)
    np.testing.assert_allclose(second.data, 24 * values**2 - 18 * values + 2)
    np.testing.assert_allclose(third.data, 48 * values - 18)


def test_mixed_partial_derivative_of_two_inputs():
    # f = x^2 y^3: d2f/dxdy = 6 x y^2, d2f/dy2 = 6 x^2 y
    x = tg.tensor([1.5, -2.0], requires_grad=True)
    y = tg.tensor([0.5, 3.0], requires_grad=True)
    f = (x**2 * y**3).sum()
    grad_x, grad_y = tg.grad(f, [x, y], create_graph=True)
    (cross,) = tg.grad(grad_x.sum(), y)
    (second_y,) = tg.grad(grad_y.sum(), y)
    np.testing.assert_allclose(cross.data, 6 * x.data * y.data**2)
    np.testing.assert_allclose(second_y.data, 6 * x.data**2 * y.data)


def test_tanh_second_and_third_derivative():
    values = np.linspace(-2.5, 2.5, 7)
    x = tg.tensor(values, requires_grad=True)
    first, second, third = derivatives(lambda t: t.tanh(), x, 3)
    tanh = np.tanh(values)
    np.testing.assert_allclose(first.data, 1 - tanh**2, rtol=1e-12)
    np.testing.assert_allclose(second.data, -2 * tanh * (1 - tanh**2), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(third.data, -2 * (1 - tanh**2) * (1 - 3 * tanh**2), rtol=1e-10)


def test_sigmoid_second_derivative():
    values = np.linspace(-4.0, 4.0, 9)
    x = tg.tensor(values, requires_grad=True)
    first, second = derivatives(lambda t: t.sigmoid(), x, 2)
    s = sigmoid(values)
    np.testing.assert_allclose(first.data, s * (1 - s), rtol=1e-12)
    np.testing.assert_allclose(second.data, s * (1 - s) * (1 - 2 * s), rtol=1e-10, atol=1e-15)


def full_hessian(loss, x):
    """The Hessian of a scalar ``loss`` in ``x``, one row per element of x."""
    (gradient,) = tg.grad(loss, x, create_graph=True)
    rows = []
    for index in range(x.size):
        seed = np.zeros(x.shape)
        seed.flat[index] = 1.0
        (row,) = tg.grad(gradient, x, seed, retain_graph=True)
        rows.append(row.data.ravel())
    return np.array(rows)


def softmax_hessian(logits, scale):
    """Block diagonal: (diag(p) - p p^T) * scale for each row of logits, zero across rows."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = shifted / shifted.sum(axis=1, keepdims=True)
    rows, classes = logits.shape
    hessian = np.zeros((rows * classes, rows * classes))
    for n, p in enumerate(probs):
        block = slice(n * classes, (n + 1) * classes)
        hessian[block, block] = (np.diag(p) - np.outer(p, p)) * scale
    return hessian


LOGITS = np.array([[0.2, -1.0, 2.0, 0.5], [1.5, 0.0, -0.5, -2.0], [0.0, 0.3, 0.3, 1.0]])
LABELS = np.array([2, 0, 1])


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize(
    "loss_of",
    [
        lambda z, r: F.cross_entropy(z, LABELS, reduction=r),
        lambda z, r: F.cross_entropy(z, np.eye(4)[LABELS] * 0.7 + 0.075, reduction=r),
        lambda z, r: F.nll_loss(F.log_softmax(z, axis=1), LABELS, reduction=r),
    ],
    ids=["cross_entropy_labels", "cross_entropy_probabilities", "log_softmax_nll"],
)
def test_softmax_cross_entropy_hessian_is_diag_p_minus_outer_p_per_row(loss_of, reduction):
    logits = tg.tensor(LOGITS, requires_grad=True)
    scale = 1 / len(LOGITS) if reduction == "mean" else 1.0
    hessian = full_hessian(loss_of(logits, reduction), logits)
    np.testing.assert_allclose(hessian, softmax_hessian(LOGITS, scale), atol=1e-12)


def test_hessian_vector_product_of_a_network_loss_matches_finite_differences():
    rng = np.random.default_rng(3)
    inputs = tg.tensor(rng.normal(size=(6, 3)))
    labels = np.array([0, 1, 1, 0, 1, 0])
    weight = tg.tensor(rng.normal(size=(4, 3)), requires_grad=True)
    head = tg.tensor(rng.normal(size=(2, 4)))
    direction = rng.normal(size=weight.shape)

    def gradient_at(values):
        w = tg.tensor(values, requires_grad=True)
        loss = F.cross_entropy(F.linear(F.linear(inputs, w).tanh(), head), labels)
        return tg.grad(loss, w)[0].data

    loss = F.cross_entropy(F.linear(F.linear(inputs, weight).tanh(), head), labels)
    (gradient,) = tg.grad(loss, weight, create_graph=True)
    (hvp,) = tg.grad((gradient * tg.tensor(direction)).sum(), weight)
    eps = 1e-6
    numeric = (
        gradient_at(weight.data + eps * direction) - gradient_at(weight.data - eps * direction)
    ) / (2 * eps)
    np.testing.assert_allclose(hvp.data, numeric, rtol=1e-5, atol=1e-8)


def test_upstream_gradient_that_requires_grad_is_differentiated_too():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    v = tg.tensor([3.0, -1.0], requires_grad=True)
    (vjp,) = tg.grad(x**3, x, grad_outputs=v, create_graph=True)  # 3 x^2 v
    d_x, d_v = tg.grad(vjp.sum(), [x, v])
    np.testing.assert_allclose(d_x.data, 6 * x.data * v.data)
    np.testing.assert_allclose(d_v.data, 3 * x.data**2)


def test_float32_stays_float32_in_every_order():
    x = tg.Tensor(np.array([0.5, 2.0], dtype=np.float32), requires_grad=True)
    first, second = derivatives(lambda t: (t * t * t).tanh(), x, 2)
    assert first.dtype == np.float32 and second.dtype == np.float32


# ---------------------------------------------------------------- .grad under create_graph


def test_grad_from_backward_with_create_graph_is_differentiable():
    x = tg.tensor([0.5, -1.0, 2.0], requires_grad=True)
    (x**3).sum().backward(create_graph=True)
    first = x.grad
    assert first.requires_grad and first.grad_fn is not None
    np.testing.assert_allclose(first.data, 3 * x.data**2)
    (second,) = tg.grad(first.sum(), x)
    np.testing.assert_allclose(second.data, 6 * x.data)


def test_backward_of_a_grad_accumulates_out_of_place():
    x = tg.tensor([0.5, -1.0, 2.0], requires_grad=True)
    (x**3).sum().backward(create_graph=True)
    first = x.grad
    first.sum().backward()  # adds 6x into x.grad
    np.testing.assert_allclose(x.grad.data, 3 * x.data**2 + 6 * x.data)
    assert x.grad is not first
    np.testing.assert_allclose(first.data, 3 * x.data**2)  # the recorded tensor is untouched


def test_accumulated_grad_stays_differentiable():
    x = tg.tensor([0.5, -1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()  # a plain first-order .grad: 2x
    assert not x.grad.requires_grad
    (x**3).sum().backward(create_graph=True)  # adds 3x^2, recorded
    (x**3).sum().backward(create_graph=True)  # and again
    total = x.grad
    np.testing.assert_allclose(total.data, 2 * x.data + 6 * x.data**2)
    assert total.requires_grad
    (second,) = tg.grad(total.sum(), x)
    np.testing.assert_allclose(second.data, 12 * x.data)


# ---------------------------------------------------------------- retain_graph defaults


def test_create_graph_keeps_the_graph_and_a_first_order_call_frees_it():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = (x**3).sum()
    (a,) = tg.grad(y, x, create_graph=True)
    (b,) = tg.grad(y, x, create_graph=True)  # the graph was retained
    np.testing.assert_allclose(a.data, b.data)
    (c,) = tg.grad(y, x)  # first order: retain_graph defaults to False
    np.testing.assert_allclose(c.data, 3 * x.data**2)
    with pytest.raises(RuntimeError, match="a second time"):
        tg.grad(y, x)


def test_backward_with_create_graph_retains_unless_told_otherwise():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = (x**3).sum()
    y.backward(create_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.data, 6 * x.data**2)
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()

    z = (x**3).sum()
    z.backward(create_graph=True, retain_graph=False)
    with pytest.raises(RuntimeError, match="a second time"):
        z.backward()


def test_first_order_backward_frees_by_default():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="a second time"):
        y.backward()


def test_second_derivative_graph_can_be_differentiated_twice_more():
    x = tg.tensor([0.5, 1.5], requires_grad=True)
    (first,) = tg.grad((x**4).sum(), x, create_graph=True)
    (second,) = tg.grad(first.sum(), x, create_graph=True)
    (third,) = tg.grad(second.sum(), x, retain_graph=True)
    np.testing.assert_allclose(third.data, 24 * x.data)
    (third,) = tg.grad(second.sum(), x)
    np.testing.assert_allclose(third.data, 24 * x.data)


# ---------------------------------------------------------------- constant gradients


def test_gradient_of_a_linear_function_is_a_constant():
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (slope,) = tg.grad((3 * x + 1).sum(), x, create_graph=True)
    np.testing.assert_allclose(slope.data, [3.0, 3.0, 3.0])
    assert not slope.requires_grad and slope.grad_fn is None
    with pytest.raises(RuntimeError, match=r"does not require grad.*constant"):
        tg.grad(slope.sum(), x)
    with pytest.raises(RuntimeError, match="does not require grad"):
        slope.sum().backward()


def test_gradient_independent_of_one_input_is_unused_for_it():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = tg.tensor([5.0, -4.0], requires_grad=True)
    (grad_x,) = tg.grad((x * y).sum(), x, create_graph=True)  # = y
    assert grad_x.requires_grad
    with pytest.raises(RuntimeError, match=r"input 0 .* not used"):
        tg.grad(grad_x.sum(), x, retain_graph=True)
    unused, ones = tg.grad(grad_x.sum(), [x, y], allow_unused=True)
    assert unused is None
    np.testing.assert_allclose(ones.data, [1.0, 1.0])


# ---------------------------------------------------------------- custom Functions


class CubeArraysOnly(Cube):
    """Right first derivative, but no differentiable_backward flag."""


def test_function_without_the_flag_refuses_create_graph_and_says_what_to_do():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    np.testing.assert_allclose(tg.grad(CubeArraysOnly.apply(x).sum(), x)[0].data, [3.0, 12.0])
    for call in (
        lambda: tg.grad(CubeArraysOnly.apply(x).sum(), x, create_graph=True),
        lambda: CubeArraysOnly.apply(x).sum().backward(create_graph=True),
    ):
        with pytest.raises(RuntimeError) as raised:
            call()
        message = str(raised.value)
        assert "CubeArraysOnly" in message
        assert "differentiable_backward" in message
        assert "docs/custom_ops.md" in message


class ExpWithNumpyBackward(tg.Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.exp(x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved
        return grad_output * np.exp(x)  # a NumPy function: fails on a Tensor


class SquarePositiveWithNumpyWhere(tg.Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.where(x > 0, x * x, 0.0)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved
        return np.where(x > 0, 2 * x * grad_output, 0.0)  # converts x to an array


@pytest.mark.parametrize(
    ("function", "detail"),
    [
        (ExpWithNumpyBackward, "np.exp was called on a Tensor"),
        (SquarePositiveWithNumpyWhere, "converted to a NumPy array"),
    ],
    ids=["np.exp", "np.where"],
)
def test_flagged_function_calling_numpy_in_backward_is_named(function, detail):
    x = tg.tensor([1.0, -2.0, 0.5], requires_grad=True)
    tg.grad(function.apply(x).sum(), x)  # first order works on arrays
    with pytest.raises(RuntimeError) as raised:
        tg.grad(function.apply(x).sum(), x, create_graph=True)
    message = str(raised.value)
    assert function.__name__ in message
    assert "vjp_math" in message
    assert detail in message
    assert isinstance(raised.value.__cause__, TypeError)


class DoubleExpSavingIntermediate(tg.Function):
    """Saves exp(x), which is neither the input nor the output (2 exp(x))."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, x):
        exp_x = np.exp(x)
        ctx.save_for_backward(exp_x)
        return 2 * exp_x

    @staticmethod
    def backward(ctx, grad_output):
        (exp_x,) = ctx.saved
        return 2 * exp_x * grad_output


def test_saved_intermediate_float_array_is_an_error_under_create_graph():
    x = tg.tensor([0.0, 1.0], requires_grad=True)
    (first,) = tg.grad(DoubleExpSavingIntermediate.apply(x).sum(), x)
    np.testing.assert_allclose(first.data, 2 * np.exp(x.data))
    with pytest.raises(RuntimeError) as raised:
        tg.grad(DoubleExpSavingIntermediate.apply(x).sum(), x, create_graph=True)
    message = str(raised.value)
    assert "DoubleExpSavingIntermediate" in message
    assert "neither an input of its forward nor its output" in message


SEEN_SAVED = []


class SquaredReLUSavingAll(tg.Function):
    """relu(x)^2 = where(x > 0, x^2, 0); saves input, output, a mask and an index array."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, x):
        mask = x > 0
        out = np.where(mask, x * x, 0.0)
        ctx.save_for_backward(x, out, mask, np.flatnonzero(mask))
        return out

    @staticmethod
    def backward(ctx, grad_output):
        SEEN_SAVED.append(ctx.saved)
        x, _, mask, _ = ctx.saved
        return vjp_math.where(mask, 2 * x * grad_output, 0.0)


def test_saved_inputs_and_output_come_back_as_tensors_and_masks_as_arrays():
    SEEN_SAVED.clear()
    x = tg.tensor([1.5, -2.0, 3.0], requires_grad=True)
    y = SquaredReLUSavingAll.apply(x)
    (first,) = tg.grad(y.sum(), x)
    saved_x, saved_out, mask, positive = SEEN_SAVED[-1]
    assert all(type(value) is np.ndarray for value in SEEN_SAVED[-1])  # first order: arrays
    np.testing.assert_allclose(first.data, [3.0, 0.0, 6.0])

    y = SquaredReLUSavingAll.apply(x)
    (first,) = tg.grad(y.sum(), x, create_graph=True)
    saved_x, saved_out, mask, positive = SEEN_SAVED[-1]
    assert saved_x is x and saved_out is y
    assert type(mask) is np.ndarray and mask.dtype == bool
    assert type(positive) is np.ndarray and positive.dtype.kind == "i"
    (second,) = tg.grad(first.sum(), x)
    np.testing.assert_allclose(second.data, [2.0, 0.0, 2.0])


class Softplus(tg.Function):
    """log(1 + e^x); its derivative sigmoid(x) via vjp_math, so it differentiates twice."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.logaddexp(0.0, x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved
        return grad_output * vjp_math.sigmoid(x)


class ScaledExp(tg.Function):
    """exp(w x) with broadcasting; saves both inputs and the output."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, w):
        out = np.exp(w * x)
        ctx.save_for_backward(x, w, out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        x, w, out = ctx.saved
        return grad_output * w * out, grad_output * x * out


def test_twice_differentiable_custom_function_passes_gradgradcheck():
    x = tg.tensor([[-3.0, 0.5], [1.5, 4.0]], requires_grad=True)
    assert tg.gradgradcheck(Softplus.apply, [x])
    (first,) = tg.grad(Softplus.apply(x).sum(), x, create_graph=True)
    (second,) = tg.grad(first.sum(), x)
    s = sigmoid(x.data)
    np.testing.assert_allclose(second.data, s * (1 - s), rtol=1e-12)


def test_two_input_custom_function_with_broadcasting_passes_gradgradcheck():
    x = tg.tensor([[0.3, -0.5, 1.0], [0.2, 0.1, -1.2]], requires_grad=True)
    w = tg.tensor([0.7, -0.4, 1.1], requires_grad=True)
    assert tg.gradgradcheck(ScaledExp.apply, [x, w])
    # d2/dw2 of sum(exp(w x)) = sum over rows of x^2 exp(w x)
    (_, grad_w) = tg.grad(ScaledExp.apply(x, w).sum(), [x, w], create_graph=True)
    (second_w,) = tg.grad(grad_w.sum(), w)
    expected = (x.data**2 * np.exp(w.data * x.data)).sum(axis=0)
    np.testing.assert_allclose(second_w.data, expected, rtol=1e-12)


# ---------------------------------------------------------------- gradgradcheck catches mistakes


class SoftplusConstantSlope(Softplus):
    """Right sigmoid value, but computed from the array: a constant to double backward."""

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved
        values = x.data if isinstance(x, tg.Tensor) else x
        return grad_output * sigmoid(values)


class CubeWithFrozenFactor(CubeArraysOnly):
    """3 x^2 written as 3 * x * (x's values): right value, half the second derivative."""

    differentiable_backward = True

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved
        values = x.data if isinstance(x, tg.Tensor) else x
        return 3 * x * values * grad_output


class ProductWithFrozenOperands(tg.Function):
    """a * b with each gradient taken from the other's values: the cross term is lost."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad_output):
        a, b = (v.data if isinstance(v, tg.Tensor) else v for v in ctx.saved)
        return grad_output * b, grad_output * a


def failure(call):
    """The GradcheckError message of ``call`` and its analytic and numeric values."""
    with pytest.raises(tg.GradcheckError) as raised:
        call()
    message = str(raised.value)
    numbers = re.search(r"analytic (\S+) vs numeric (\S+) ", message)
    assert numbers, message
    return message, float(numbers[1]), float(numbers[2])


def test_gradgradcheck_catches_a_constant_sigmoid_in_softplus():
    x = tg.tensor([[-3.0, 0.5], [1.5, 4.0]], requires_grad=True)
    assert tg.gradcheck(SoftplusConstantSlope.apply, [x])  # first order is right
    message, analytic, numeric = failure(
        lambda: tg.gradgradcheck(SoftplusConstantSlope.apply, [x], grad_outputs=np.ones((2, 2)))
    )
    # The largest miss is at x = 0.5, where sigmoid' = s(1 - s) is largest.
    assert message.startswith(
        "gradgradcheck failed: d(grad of input 0 at (0, 1)) / d(input 0 at (0, 1))"
    )
    s = sigmoid(0.5)
    assert analytic == 0.0
    assert numeric == pytest.approx(s * (1 - s), rel=1e-6)


def test_gradgradcheck_catches_half_a_second_derivative():
    x = tg.tensor([0.5, -1.0, 2.0], requires_grad=True)
    assert tg.gradcheck(CubeWithFrozenFactor.apply, [x])
    message, analytic, numeric = failure(
        lambda: tg.gradgradcheck(CubeWithFrozenFactor.apply, [x], grad_outputs=np.ones(3))
    )
    assert "d(grad of input 0 at (2,)) / d(input 0 at (2,))" in message
    assert analytic == pytest.approx(3 * 2.0)  # 3x, where the truth is 6x
    assert numeric == pytest.approx(6 * 2.0, rel=1e-6)


def test_gradgradcheck_catches_a_missing_cross_derivative_and_names_both_inputs():
    a = tg.tensor([1.0, 2.0, -1.0], requires_grad=True)
    b = tg.tensor([0.5, 0.25, 4.0], requires_grad=True)
    assert tg.gradcheck(ProductWithFrozenOperands.apply, [a, b])
    upstream = np.array([1.0, 3.0, 2.0])
    message, analytic, numeric = failure(
        lambda: tg.gradgradcheck(ProductWithFrozenOperands.apply, [a, b], grad_outputs=upstream)
    )
    # d(grad of b)/da = upstream: 0 analytically, largest (3) at element 1.
    assert "d(grad of input 1 at (1,)) / d(input 0 at (1,))" in message
    assert analytic == 0.0
    assert numeric == pytest.approx(3.0, rel=1e-6)


def test_gradgradcheck_passes_the_correct_versions_of_the_same_ops():
    x = tg.tensor([0.5, -1.0, 2.0], requires_grad=True)
    b = tg.tensor([0.5, 0.25, 4.0], requires_grad=True)
    assert tg.gradgradcheck(lambda t: t**3, [x], grad_outputs=np.ones(3))
    assert tg.gradgradcheck(lambda s, t: s * t, [x, b], grad_outputs=np.array([1.0, 3.0, 2.0]))


def test_gradgradcheck_rejects_grad_outputs_of_the_wrong_shape():
    x = tg.tensor([0.5, -1.0], requires_grad=True)
    with pytest.raises(ValueError, match="grad_outputs has shape"):
        tg.gradgradcheck(lambda t: t**3, [x], grad_outputs=np.ones(3))


def leaf(values, dtype=np.float64):
    return tg.tensor(np.array(values, dtype=dtype), requires_grad=True)


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


class ArraysOnly(tg.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, grad):
        return grad * 2


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


def test_anomaly_mode_records_second_order_and_runs_first_order_only_ops():
    x = leaf([1.0, 2.0])
    with tg.detect_anomaly():
        (slope,) = tg.grad((x * x * x).sum(), [x], create_graph=True)
        (curvature,) = tg.grad(slope.sum(), [x])
        np.testing.assert_array_equal(curvature.numpy(), [6.0, 12.0])
        (slope,) = tg.grad(x.exp().sum(), [x], create_graph=True)  # exp saves its output
        np.testing.assert_allclose(tg.grad(slope.sum(), [x])[0].numpy(), np.exp([1.0, 2.0]))
        np.testing.assert_array_equal(tg.grad(ArraysOnly.apply(x).sum(), [x])[0].numpy(), [2, 2])


def test_create_graph_accepts_a_list_as_the_upstream_gradient():
    x = leaf([1.0, 2.0])
    (x * x).backward([1.0, 10.0], create_graph=True)
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 40.0])
    assert x.grad.requires_grad

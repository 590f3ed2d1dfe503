"""Convolution and pooling: forward against explicit loops, gradients against finite differences.

The references below loop over every output element and kernel tap, so they
are slow but obviously right; the shapes are small to keep them quick.
"""

import itertools
import math

import numpy as np
import pytest

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import conv_ops, nn
from tinygrad_ann.conv_ops import (
    AvgPool2d,
    AvgPool2dGrad,
    Conv2dWeightGrad,
    ConvTranspose2d,
)


def pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


def padded(x, padding, fill=0.0):
    ph, pw = pair(padding)
    n, c, h, w = x.shape
    out = np.full((n, c, h + 2 * ph, w + 2 * pw), fill)
    out[:, :, ph : ph + h, pw : pw + w] = x
    return out


def reference_conv2d(x, weight, bias, stride, padding, dilation, groups, upstream=None):
    """The convolution; with ``upstream``, also the gradients of ``sum(upstream * output)``."""
    (sh, sw), (dh, dw), (ph, pw) = pair(stride), pair(dilation), pair(padding)
    xp = padded(x, padding)
    n = x.shape[0]
    out_channels, group_channels, kh, kw = weight.shape
    out_h = (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1
    out_w = (xp.shape[3] - dw * (kw - 1) - 1) // sw + 1
    per_group = out_channels // groups
    out = np.zeros((n, out_channels, out_h, out_w))
    grad_xp, grad_weight = np.zeros(xp.shape), np.zeros(weight.shape)
    for b, o, i, j in itertools.product(range(n), range(out_channels), range(out_h), range(out_w)):
        first = (o // per_group) * group_channels
        total = 0.0 if bias is None else bias[o]
        for c, ki, kj in itertools.product(range(group_channels), range(kh), range(kw)):
            at = (b, first + c, i * sh + ki * dh, j * sw + kj * dw)
            total += xp[at] * weight[o, c, ki, kj]
            if upstream is not None:
                grad_xp[at] += upstream[b, o, i, j] * weight[o, c, ki, kj]
                grad_weight[o, c, ki, kj] += upstream[b, o, i, j] * xp[at]
        out[b, o, i, j] = total
    if upstream is None:
        return out
    return out, grad_xp[:, :, ph : ph + x.shape[2], pw : pw + x.shape[3]], grad_weight


def reference_pool(x, kernel, stride, padding, kind, upstream, count_include_pad=True):
    """Pooled output and the gradient of ``sum(upstream * output)`` with respect to x."""
    (kh, kw), (ph, pw) = pair(kernel), pair(padding)
    sh, sw = pair(kernel if stride is None else stride)
    xp = padded(x, padding, -np.inf if kind == "max" else 0.0)
    inside = padded(np.ones(x.shape), padding)
    out_h = (xp.shape[2] - kh) // sh + 1
    out_w = (xp.shape[3] - kw) // sw + 1
    out = np.zeros((*x.shape[:2], out_h, out_w))
    grad = np.zeros(xp.shape)
    for b, c, i, j in itertools.product(
        range(x.shape[0]), range(x.shape[1]), range(out_h), range(out_w)
    ):
        rows, cols = slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw)
        window = xp[b, c, rows, cols]
        if kind == "max":
            first = np.unravel_index(np.argmax(window), window.shape)  # the first maximum
            out[b, c, i, j] = window[first]
            grad[b, c, i * sh + first[0], j * sw + first[1]] += upstream[b, c, i, j]
        else:
            count = kh * kw if count_include_pad else inside[b, c, rows, cols].sum()
            out[b, c, i, j] = window.sum() / count
            grad[b, c, rows, cols] += upstream[b, c, i, j] / count
    return out, grad[:, :, ph : ph + x.shape[2], pw : pw + x.shape[3]]


# ------------------------------------------------------------------ conv2d forward and VJP
CONV_CASES = [
    (kernel, stride, padding, dilation, groups)
    for kernel, stride, padding, dilation, groups in itertools.product(
        [(1, 1), (3, 3), (2, 3)], [1, 2, (2, 1)], [0, 1, (2, 0)], [1, (1, 2)], [1, 2]
    )
]


@pytest.mark.parametrize(("kernel", "stride", "padding", "dilation", "groups"), CONV_CASES)
def test_conv2d_matches_loops_forward_and_backward(kernel, stride, padding, dilation, groups):
    rng = np.random.default_rng(len(str((kernel, stride, padding, dilation, groups))))
    x = rng.normal(size=(2, 4, 7, 6))
    weight = rng.normal(size=(4, 4 // groups, *kernel))
    bias = rng.normal(size=4) if groups == 1 else None
    xt, wt = tg.tensor(x, requires_grad=True), tg.tensor(weight, requires_grad=True)
    bt = None if bias is None else tg.tensor(bias, requires_grad=True)
    out = F.conv2d(xt, wt, bt, stride=stride, padding=padding, dilation=dilation, groups=groups)
    upstream = rng.normal(size=out.shape)
    expected, grad_x, grad_weight = reference_conv2d(
        x, weight, bias, stride, padding, dilation, groups, upstream
    )
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)
    out.backward(upstream)
    np.testing.assert_allclose(xt.grad.numpy(), grad_x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(wt.grad.numpy(), grad_weight, rtol=1e-12, atol=1e-12)
    if bt is not None:
        np.testing.assert_allclose(bt.grad.numpy(), upstream.sum(axis=(0, 2, 3)), rtol=1e-12)


GRAD_CASES = [
    dict(stride=1, padding=0, dilation=1, groups=1),
    dict(stride=2, padding=1, dilation=1, groups=2),
    dict(stride=(2, 1), padding=(0, 1), dilation=(2, 1), groups=1),
    dict(stride=1, padding=2, dilation=2, groups=2),
]


def _conv_inputs(seed, groups, batch=2, channels=2, size=(5, 4)):
    rng = np.random.default_rng(seed)
    return (
        tg.tensor(rng.normal(size=(batch, channels, *size)), requires_grad=True),
        tg.tensor(rng.normal(size=(2, channels // groups, 2, 3)), requires_grad=True),
        tg.tensor(rng.normal(size=2), requires_grad=True),
    )


@pytest.mark.parametrize("geometry", GRAD_CASES, ids=str)
def test_conv2d_gradcheck_and_gradgradcheck(geometry):
    inputs = _conv_inputs(0, geometry["groups"])

    def fn(x, w, b):
        return F.conv2d(x, w, b, **geometry)

    assert tg.gradcheck(fn, inputs)
    assert tg.gradgradcheck(fn, inputs)


def test_conv2d_second_order_with_some_inputs_constant():
    x, w, _ = _conv_inputs(1, 1)
    w_const = tg.tensor(w.numpy())
    assert tg.gradgradcheck(lambda x: F.conv2d(x, w_const, padding=1) ** 2, [x])
    x_const = tg.tensor(x.numpy())
    assert tg.gradgradcheck(lambda w: F.conv2d(x_const, w, stride=2) ** 2, [w])


@pytest.mark.parametrize("geometry", GRAD_CASES[1:3], ids=str)
def test_vjp_ops_are_differentiable_again(geometry):
    """The ops conv2d's backward records: their own first and second derivatives."""
    geometry = {name: pair(v) if name != "groups" else v for name, v in geometry.items()}
    x, w, _ = _conv_inputs(2, geometry["groups"])
    grad = tg.tensor(F.conv2d(x, w, **geometry).numpy() + 0.5, requires_grad=True)

    def transpose(g, w):
        return ConvTranspose2d.apply(g, w, input_size=x.shape[2:], **geometry)

    def weight_grad(x, g):
        return Conv2dWeightGrad.apply(x, g, kernel_size=w.shape[2:], **geometry)

    for fn, inputs in ((transpose, [grad, w]), (weight_grad, [x, grad])):
        assert tg.gradcheck(fn, inputs)
        assert tg.gradgradcheck(fn, inputs)


def test_create_graph_gradient_equals_first_order_gradient():
    x, w, b = _conv_inputs(3, 1, batch=3, channels=2, size=(6, 6))
    upstream = np.random.default_rng(3).normal(size=F.conv2d(x, w, b, padding=1).shape)
    plain = tg.grad(F.conv2d(x, w, b, padding=1), [x, w, b], upstream)
    recorded = tg.grad(F.conv2d(x, w, b, padding=1), [x, w, b], upstream, create_graph=True)
    for first, second in zip(plain, recorded):
        np.testing.assert_allclose(first.numpy(), second.numpy(), rtol=1e-12, atol=1e-12)
    assert recorded[0].requires_grad and recorded[1].requires_grad


def test_gradient_penalty_reaches_the_weight():
    """d/dW of |∂L/∂x|², the shape of a WGAN-GP penalty, against finite differences."""
    x, w, _ = _conv_inputs(4, 1)

    def penalty(w):
        with tg.enable_grad():  # gradcheck's finite differences run under no_grad
            (gx,) = tg.grad(F.conv2d(x, w, padding=1).tanh().sum(), x, create_graph=True)
            return (gx**2).sum()

    assert tg.gradcheck(penalty, [w])


def test_unbatched_input_matches_batched():
    x, w, b = _conv_inputs(5, 1)
    single = F.conv2d(x[0], w, b, padding=1)
    np.testing.assert_allclose(single.numpy(), F.conv2d(x, w, b, padding=1).numpy()[0])
    np.testing.assert_array_equal(F.max_pool2d(x[1], 2).numpy(), F.max_pool2d(x, 2).numpy()[1])
    np.testing.assert_array_equal(F.avg_pool2d(x[1], 2).numpy(), F.avg_pool2d(x, 2).numpy()[1])


def test_float32_stays_float32():
    rng = np.random.default_rng(6)
    x = tg.tensor(rng.normal(size=(2, 3, 6, 6)).astype(np.float32), requires_grad=True)
    conv = nn.Conv2d(3, 4, 3, padding=1, dtype=np.float32)
    out = F.avg_pool2d(F.max_pool2d(conv(x), 2, stride=1), 2)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == conv.weight.grad.dtype == conv.bias.grad.dtype == np.float32


@pytest.mark.parametrize("kernel", [1, 3])
def test_gradient_uses_the_values_forward_saw(kernel):
    """Writing the input in place after forward does not change the gradient."""
    rng = np.random.default_rng(7)
    x_values = rng.normal(size=(1, 2, 4, 4))
    x = tg.tensor(x_values)
    w = tg.tensor(rng.normal(size=(3, 2, kernel, kernel)), requires_grad=True)
    out = F.conv2d(x, w)
    x.data[...] = 0.0  # small arrays are copied when saved, so this is allowed
    out.sum().backward()
    expected = tg.tensor(rng.normal(size=w.shape), requires_grad=True)
    expected.data[...] = w.data
    F.conv2d(tg.tensor(x_values), expected).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), expected.grad.numpy())


@pytest.mark.parametrize("cached_positions", [True, False])
def test_both_ways_of_adding_windows_back(monkeypatch, cached_positions):
    """Small maps scatter with cached positions, large ones one kernel offset at a time."""
    if not cached_positions:
        monkeypatch.setattr(conv_ops, "_CACHED_POSITIONS", 0)
    rng = np.random.default_rng(13)
    x, weight = rng.normal(size=(2, 2, 6, 7)), rng.normal(size=(3, 2, 3, 2))
    geometry = dict(stride=(1, 2), padding=(1, 2), dilation=(2, 1), groups=1)
    xt = tg.tensor(x, requires_grad=True)
    out = F.conv2d(xt, tg.tensor(weight), **geometry)
    upstream = rng.normal(size=out.shape)
    out.backward(upstream)
    _, grad_x, _ = reference_conv2d(x, weight, None, **geometry, upstream=upstream)
    np.testing.assert_allclose(xt.grad.numpy(), grad_x, rtol=1e-12, atol=1e-12)
    xt.grad = None
    pooled = F.avg_pool2d(xt, 3, stride=1, padding=1)
    pooled.backward(upstream[:, :2, :1, :1].repeat(6, 2).repeat(7, 3))
    _, expected = reference_pool(
        x, 3, 1, 1, "avg", upstream[:, :2, :1, :1].repeat(6, 2).repeat(7, 3)
    )
    np.testing.assert_allclose(xt.grad.numpy(), expected, rtol=1e-12)


def test_empty_batch_and_integer_input():
    empty = F.conv2d(tg.zeros(0, 2, 5, 5), tg.ones(3, 2, 3, 3), padding=1)
    assert empty.shape == (0, 3, 5, 5)
    assert F.max_pool2d(tg.zeros(0, 2, 4, 4), 2).shape == (0, 2, 2, 2)
    integers = tg.tensor(np.arange(16).reshape(1, 1, 4, 4))
    np.testing.assert_array_equal(
        F.max_pool2d(integers, 3, stride=2, padding=1).numpy(), [[[[5, 7], [13, 15]]]]
    )


def test_non_contiguous_input():
    rng = np.random.default_rng(8)
    base = rng.normal(size=(6, 6, 3, 2))
    x = tg.tensor(base).transpose(3, 2, 0, 1)  # (2, 3, 6, 6), not contiguous
    w = rng.normal(size=(4, 3, 3, 3))
    expected = reference_conv2d(base.transpose(3, 2, 0, 1), w, None, 1, 1, 1, 1)
    np.testing.assert_allclose(F.conv2d(x, tg.tensor(w), padding=1).numpy(), expected)


# ------------------------------------------------------------------ pooling
POOL_CASES = [
    (kernel, stride, padding)
    for kernel, stride, padding in itertools.product(
        [1, 2, 3, (2, 3)], [None, 1, 2, (1, 2)], [0, 1, (1, 0)]
    )
    if all(2 * p <= k for p, k in zip(pair(padding), pair(kernel)))
]


@pytest.mark.parametrize(("kernel", "stride", "padding"), POOL_CASES)
def test_pooling_matches_loops(kernel, stride, padding):
    rng = np.random.default_rng(len(POOL_CASES))
    # Small integers: many windows hold tied maxima, which must go to the first one.
    x = rng.integers(-3, 3, size=(2, 3, 7, 6)).astype(np.float64)
    for kind, fn in (("max", F.max_pool2d), ("avg", F.avg_pool2d)):
        xt = tg.tensor(x, requires_grad=True)
        out = fn(xt, kernel, stride, padding)
        upstream = rng.normal(size=out.shape)
        expected, expected_grad = reference_pool(x, kernel, stride, padding, kind, upstream)
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)
        out.backward(upstream)
        np.testing.assert_allclose(xt.grad.numpy(), expected_grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("kernel", "stride", "padding"), [(3, 2, 1), ((2, 3), 1, (1, 1))])
def test_avg_pool_without_padding_in_the_count(kernel, stride, padding):
    x = np.random.default_rng(9).normal(size=(2, 2, 5, 6))
    xt = tg.tensor(x, requires_grad=True)
    out = F.avg_pool2d(xt, kernel, stride, padding, count_include_pad=False)
    upstream = np.random.default_rng(10).normal(size=out.shape)
    expected, expected_grad = reference_pool(x, kernel, stride, padding, "avg", upstream, False)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)
    out.backward(upstream)
    np.testing.assert_allclose(xt.grad.numpy(), expected_grad, rtol=1e-12)


def test_max_pool_ties_padding_and_nan():
    x = tg.tensor([[[[2.0, 2.0, 1.0], [2.0, 0.0, 2.0], [1.0, 2.0, 2.0]]]], requires_grad=True)
    F.max_pool2d(x, 2, stride=1).sum().backward()
    # Every window's maximum is 2; each goes to the first 2 in row-major order.
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [[1, 1, 0], [1, 0, 1], [0, 0, 0]])
    negative = tg.tensor(-np.ones((1, 1, 2, 2)))
    # Padding is -inf, not 0: the maxima of an all-negative input stay negative.
    assert (F.max_pool2d(negative, 2, stride=1, padding=1).numpy() == -1).all()
    with_nan = tg.tensor([[[[1.0, np.nan], [3.0, 2.0]]]], requires_grad=True)
    out = F.max_pool2d(with_nan, 2)
    assert np.isnan(out.item())  # NaN propagates, as in PyTorch
    out.backward()
    np.testing.assert_array_equal(with_nan.grad.numpy()[0, 0], [[0, 1], [0, 0]])


@pytest.mark.parametrize(
    ("fn", "overlapping"),
    [
        (lambda x: F.max_pool2d(x, 3, stride=2, padding=1), True),
        (lambda x: F.max_pool2d(x, 2), False),
        (lambda x: F.avg_pool2d(x, 3, stride=2, padding=1), True),
        (lambda x: F.avg_pool2d(x, (2, 1)), False),
        (lambda x: F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False), True),
    ],
)
def test_pooling_gradcheck_and_gradgradcheck(fn, overlapping):
    # Distinct values: no tie sits within finite-difference reach.
    values = np.random.default_rng(11).permutation(2 * 2 * 5 * 6).reshape(2, 2, 5, 6) / 7.0
    x = tg.tensor(values, requires_grad=True)
    assert tg.gradcheck(fn, [x])
    assert tg.gradgradcheck(fn, [x])


def test_avg_pool_grad_op_is_differentiable_again():
    options = dict(kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), count_include_pad=True)
    x = tg.tensor(np.random.default_rng(12).normal(size=(1, 2, 5, 5)), requires_grad=True)
    grad = tg.tensor(AvgPool2d.apply(x, **options).numpy(), requires_grad=True)

    def adjoint(g):
        return AvgPool2dGrad.apply(g, input_shape=x.shape, **options)

    assert tg.gradcheck(adjoint, [grad])
    assert tg.gradgradcheck(adjoint, [grad])


# ------------------------------------------------------------------ layers
def test_conv_layer_parameters_match_pytorch_names_and_shapes():
    model = nn.Sequential(
        nn.Conv2d(3, 8, (3, 5), padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 6, 3, groups=2, bias=False),
        nn.AvgPool2d(2),
        nn.Flatten(),
    )
    shapes = {name: tensor.shape for name, tensor in model.state_dict().items()}
    # What torch.nn gives for the same model.
    assert shapes == {"0.weight": (8, 3, 3, 5), "0.bias": (8,), "3.weight": (6, 4, 3, 3)}
    assert model(tg.ones(2, 3, 12, 12)).shape == (2, 6 * 2 * 1)
    model.load_state_dict(model.state_dict())


@pytest.mark.parametrize(("in_channels", "groups", "kernel"), [(16, 1, 3), (4, 2, (2, 5))])
def test_conv_layer_init_is_kaiming_uniform_and_seeded(in_channels, groups, kernel):
    tg.manual_seed(0)
    layer = nn.Conv2d(in_channels, 32, kernel, groups=groups)
    kh, kw = pair(kernel)
    bound = 1 / math.sqrt(in_channels // groups * kh * kw)  # gain sqrt(1/3) * sqrt(3 / fan_in)
    weight, bias = layer.weight.numpy(), layer.bias.numpy()
    assert np.abs(weight).max() <= bound and np.abs(weight).max() > 0.9 * bound
    assert np.abs(bias).max() <= bound and np.abs(bias).max() > 0.5 * bound
    tg.manual_seed(0)
    again = nn.Conv2d(in_channels, 32, kernel, groups=groups)
    np.testing.assert_array_equal(again.weight.numpy(), weight)
    np.testing.assert_array_equal(again.bias.numpy(), bias)


def test_layer_reprs_and_flatten():
    assert repr(nn.Conv2d(1, 16, 3, padding=1)) == (
        "Conv2d(1, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"
    )
    assert "groups=2, bias=False" in repr(nn.Conv2d(2, 4, 1, groups=2, bias=False))
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"
    x = tg.ones(2, 3, 4, 5)
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    assert nn.Flatten(-2)(x).shape == (2, 3, 20)


def test_small_cnn_learns():
    tg.manual_seed(0)
    rng = np.random.default_rng(0)
    # Class 1: a bright vertical bar; class 0: a bright horizontal bar, anywhere in the image.
    images = rng.normal(scale=0.1, size=(64, 1, 6, 6))
    labels = rng.integers(0, 2, size=64)
    for image, label, spot in zip(images, labels, rng.integers(0, 6, size=64)):
        if label:
            image[0, :, spot] += 1.0
        else:
            image[0, spot, :] += 1.0
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(36, 2),
    )
    optimizer = tg.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(30):
        loss = F.cross_entropy(model(tg.tensor(images)), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]


# ------------------------------------------------------------------ errors
def test_errors_name_the_layer_and_the_shapes():
    layer = nn.Conv2d(3, 8, 3)
    with pytest.raises(tg.ShapeError, match=r"Conv2d\(3, 8, .*\(2, 4, 8, 8\) has 4 channels"):
        layer(tg.ones(2, 4, 8, 8))
    with pytest.raises(tg.ShapeError, match=r"kernel's height 3 is larger than the padded"):
        layer(tg.ones(1, 3, 2, 8))
    with pytest.raises(tg.ShapeError, match=r"padded input's 2 \(input of shape \(3, 8, 2\)"):
        layer(tg.ones(3, 8, 2))  # unbatched
    with pytest.raises(tg.ShapeError, match=r"width 3 \(dilated to 5\)"):
        nn.Conv2d(1, 1, 3, dilation=2, padding=(2, 0))(tg.ones(1, 1, 4, 4))
    with pytest.raises(tg.ShapeError, match=r"Conv2d\(3, 8.*\(N, C, H, W\).*got shape \(8, 8\)"):
        layer(tg.ones(8, 8))
    with pytest.raises(tg.ShapeError, match=r"max_pool2d: expected .* got shape \(1, 1, 1, 4, 4\)"):
        F.max_pool2d(tg.ones(1, 1, 1, 4, 4), 2)
    with pytest.raises(tg.ShapeError, match=r"AvgPool2d\(kernel_size=\(3, 3\).*width 3 is larger"):
        nn.AvgPool2d(3)(tg.ones(1, 1, 4, 2))
    with pytest.raises(tg.ShapeError, match=r"MaxPool2d\(kernel_size=\(2, 2\).*got shape \(4,\)"):
        nn.MaxPool2d(2)(tg.ones(4))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: nn.Conv2d(3, 4, 3, groups=2), "in_channels=3 is not divisible by groups=2"),
        (lambda: nn.Conv2d(4, 3, 3, groups=2), "out_channels=3 is not divisible by groups=2"),
        (lambda: nn.Conv2d(0, 4, 3), "in_channels must be a positive int"),
        (lambda: nn.Conv2d(1, 4, 0), "kernel_size must be positive"),
        (lambda: nn.Conv2d(1, 4, 3, stride=(1, 0)), "stride must be positive"),
        (lambda: nn.Conv2d(1, 4, 3, padding=-1), "padding must be non-negative"),
        (lambda: nn.Conv2d(1, 4, 3, dilation=0), "dilation must be positive"),
        (lambda: nn.MaxPool2d(0), "kernel_size must be positive"),
        (lambda: nn.AvgPool2d(3, padding=2), r"padding \(2, 2\) must be at most half"),
        (lambda: F.max_pool2d(tg.ones(1, 1, 6, 6), 2, padding=2), "at most half the kernel"),
        (lambda: F.avg_pool2d(tg.ones(1, 1, 6, 6), 2, stride=0), "stride must be positive"),
        (lambda: F.conv2d(tg.ones(1, 4, 5, 5), tg.ones(3, 2, 3, 3), groups=2), "divisible"),
    ],
)
def test_invalid_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_functional_conv_checks_weight_and_bias():
    x = tg.ones(1, 2, 5, 5)
    with pytest.raises(tg.ShapeError, match=r"weight must have shape .* got shape \(4, 2, 3\)"):
        F.conv2d(x, tg.ones(4, 2, 3))
    with pytest.raises(tg.ShapeError, match=r"bias must have shape \(4,\) .* got \(3,\)"):
        F.conv2d(x, tg.ones(4, 2, 3, 3), tg.ones(3))
    with pytest.raises(tg.ShapeError, match=r"2 channels but the weight .* expects 4 \(2 per"):
        F.conv2d(x, tg.ones(4, 2, 3, 3), groups=2)
    with pytest.raises(TypeError, match=r"kernel_size must be an int or a pair of ints"):
        nn.MaxPool2d((2, 2, 2))


def test_average_pooling_keeps_float32_with_padding_excluded_from_the_count():
    x = tg.tensor(np.ones((1, 1, 4, 4), dtype=np.float32), requires_grad=True)
    out = F.avg_pool2d(x, 2, stride=1, padding=1, count_include_pad=False)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.numpy(), np.ones((1, 1, 5, 5), dtype=np.float32))
    out.sum().backward()
    assert x.grad.dtype == np.float32


def test_gradients_under_detect_anomaly_equal_the_plain_ones():
    # The convolution's backward reads the options its forward was called with; anomaly
    # mode runs forward through another path and must keep them too.
    rng = np.random.default_rng(3)
    x_values, w_values = rng.normal(size=(2, 2, 6, 6)), rng.normal(size=(3, 2, 3, 3))

    def gradients():
        x = tg.tensor(x_values, requires_grad=True)
        weight = tg.tensor(w_values, requires_grad=True)
        out = F.conv2d(x, weight, stride=2, padding=1, dilation=1)
        F.max_pool2d(out, 2, stride=1).sum().backward()
        return x.grad.numpy(), weight.grad.numpy()

    plain = gradients()
    with tg.detect_anomaly():
        checked = gradients()
    for expected, actual in zip(plain, checked, strict=True):
        np.testing.assert_array_equal(actual, expected)

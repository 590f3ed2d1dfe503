"""Dropout, batch norm, layer norm: closed forms, running statistics, modes, gradients, errors."""

import numpy as np
import pytest

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import nn, norm_ops
from tinygrad_ann.factories import generator

RNG = np.random.default_rng(7)


def normal(*shape, loc=0.0, scale=1.0):
    return RNG.normal(loc, scale, size=shape)


def leaf(array):
    return tg.tensor(array, requires_grad=True)


def reference_norm(x, axes, weight=None, bias=None, eps=1e-5, mean=None, var=None):
    """(x - mean) / sqrt(var + eps) · weight + bias, in NumPy."""
    if mean is None:
        mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    out = (x - mean) / np.sqrt(var + eps)
    if weight is not None:
        out = out * weight
    return out if bias is None else out + bias


def channel_view(vector, ndim):
    return vector.reshape((1, -1) + (1,) * (ndim - 2))


# ---------------------------------------------------------------- dropout
def test_dropout_zeroes_or_scales_each_element():
    x = normal(200, 50)
    tg.manual_seed(0)
    y = F.dropout(tg.tensor(x), p=0.3).numpy()
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] / 0.7, rtol=1e-15)
    assert abs(1 - kept.mean() - 0.3) < 0.01  # 10,000 draws: within ~2 standard errors


def test_dropout_masks_come_from_the_seeded_generator():
    x = tg.ones(6, 7)
    tg.manual_seed(5)
    first, second = F.dropout(x).numpy(), F.dropout(x).numpy()
    tg.manual_seed(5)
    np.testing.assert_array_equal(F.dropout(x).numpy(), first)
    np.testing.assert_array_equal(F.dropout(x).numpy(), second)
    assert not np.array_equal(first, second)  # a fresh mask per call


def test_dropout_is_the_identity_in_evaluation_and_for_p_zero():
    x = tg.tensor(normal(3, 4), requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x


def test_dropout_gradient_is_the_mask_over_keep_probability_and_keeps_the_dtype():
    x = tg.tensor(normal(4, 5).astype(np.float32), requires_grad=True)
    tg.manual_seed(1)
    y = F.dropout(x, p=0.25)
    assert y.dtype == np.float32 and y.grad_fn.name == "dropout"
    y.sum().backward()
    kept = y.numpy() != 0
    np.testing.assert_array_equal(x.grad.numpy(), np.where(kept, np.float32(1 / 0.75), 0))


def test_dropout_first_and_second_derivatives():
    def fn(x):
        tg.manual_seed(3)  # the same mask on every call
        return F.dropout(x, 0.4)

    x = leaf(normal(3, 4))
    assert tg.gradcheck(fn, [x])
    assert tg.gradgradcheck(fn, [x])


@pytest.mark.parametrize("p", [1, 1.0, -0.1, 1.5, float("nan"), "0.5", True])
def test_dropout_probability_outside_zero_one_is_an_error(p):
    with pytest.raises(ValueError, match=r"must be in \[0, 1\)"):
        F.dropout(tg.ones(3), p)
    with pytest.raises(ValueError, match=r"Dropout: p is the probability"):
        nn.Dropout(p)


def test_dropout_module_follows_train_and_eval():
    layer = nn.Dropout(0.5)
    assert repr(layer) == "Dropout(p=0.5)"
    x = tg.ones(100)
    tg.manual_seed(0)
    assert (layer(x).numpy() == 0).any()
    layer.eval()
    assert layer(x) is x
    assert list(layer.parameters()) == [] and layer.state_dict() == {}


# ---------------------------------------------------------------- batch norm: values
@pytest.mark.parametrize("shape", [(8, 3), (5, 3, 4), (4, 3, 2, 5)])
def test_batch_norm_training_is_the_closed_form_over_all_axes_but_channels(shape):
    x, weight, bias = normal(*shape, loc=3.0, scale=2.0), normal(3), normal(3)
    axes = (0, *range(2, len(shape)))
    y = F.batch_norm(tg.tensor(x), None, None, tg.tensor(weight), tg.tensor(bias), training=True)
    expected = reference_norm(
        x, axes, channel_view(weight, x.ndim), channel_view(bias, x.ndim), eps=1e-5
    )
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-12)
    assert y.grad_fn is None  # nothing required grad


def test_batch_norm_running_statistics_follow_momentum_with_the_unbiased_variance():
    x = normal(6, 2, 5, loc=1.0, scale=3.0)
    mean, var = np.array([0.5, -1.0]), np.array([2.0, 0.5])
    running_mean, running_var = tg.tensor(mean), tg.tensor(var)
    F.batch_norm(tg.tensor(x), running_mean, running_var, training=True, momentum=0.25)
    values = x.transpose(1, 0, 2).reshape(2, -1)  # per channel: its 30 values
    unbiased = ((values - values.mean(1, keepdims=True)) ** 2).sum(1) / (values.shape[1] - 1)
    np.testing.assert_allclose(running_mean.numpy(), 0.75 * mean + 0.25 * values.mean(1))
    np.testing.assert_allclose(running_var.numpy(), 0.75 * var + 0.25 * unbiased)


def test_batch_norm_updates_plain_arrays_in_place():
    mean, var = np.zeros(2), np.ones(2)
    F.batch_norm(tg.tensor([[0.0, 1.0], [2.0, 5.0]]), mean, var, training=True)
    np.testing.assert_allclose(mean, [0.1, 0.3])  # 0.1 · (1, 3)
    np.testing.assert_allclose(var, [1.1, 1.7])  # 0.9 + 0.1 · (2, 8)


def test_batch_norm_evaluation_uses_the_running_statistics():
    x, weight, bias = normal(4, 3, 2), normal(3), normal(3)
    mean, var = normal(3), RNG.uniform(0.5, 2.0, 3)
    before = mean.copy(), var.copy()
    y = F.batch_norm(tg.tensor(x), mean, var, tg.tensor(weight), tg.tensor(bias), eps=1e-3)
    view = [channel_view(v, 3) for v in (weight, bias, mean, var)]
    expected = reference_norm(x, None, view[0], view[1], 1e-3, mean=view[2], var=view[3])
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12)
    np.testing.assert_array_equal(mean, before[0])  # evaluation leaves them alone
    np.testing.assert_array_equal(var, before[1])


def test_weights_and_statistics_may_be_plain_values_but_updated_ones_must_be_arrays():
    x = normal(4, 2)
    y = F.batch_norm(tg.tensor(x), [0.0, 1.0], [1.0, 4.0], [2.0, 2.0], [1.0, 1.0])
    expected = 2 * (x - [0.0, 1.0]) / np.sqrt(np.array([1.0, 4.0]) + 1e-5) + 1
    np.testing.assert_allclose(y.numpy(), expected)
    z = F.layer_norm(tg.tensor(x), 2, weight=[1.0, 2.0], bias=(0.0, 1.0))
    np.testing.assert_allclose(z.numpy(), reference_norm(x, -1, [1.0, 2.0], [0.0, 1.0]))
    with pytest.raises(TypeError, match="running_mean is updated in place when training"):
        F.batch_norm(tg.tensor(x), [0.0, 0.0], None, training=True)


def test_batch_norm_input_gradient_is_the_closed_form():
    x, weight, upstream = normal(7, 3, loc=2.0), normal(3), normal(7, 3)
    xt = leaf(x)
    F.batch_norm(xt, None, None, tg.tensor(weight), training=True).backward(upstream)
    sigma = np.sqrt(x.var(0) + 1e-5)
    x_hat = (x - x.mean(0)) / sigma
    expected = (weight / sigma) * (upstream - upstream.mean(0) - x_hat * (upstream * x_hat).mean(0))
    np.testing.assert_allclose(xt.grad.numpy(), expected, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- batch norm: derivatives
@pytest.mark.parametrize("shape", [(5, 2), (4, 2, 3), (3, 2, 2, 2)])
def test_batch_norm_training_first_and_second_derivatives(shape):
    x, w, b = leaf(normal(*shape, scale=2.0)), leaf(normal(2)), leaf(normal(2))

    def fn(x, w, b):
        return F.batch_norm(x, None, None, w, b, training=True)

    assert tg.gradcheck(fn, [x, w, b])
    assert tg.gradgradcheck(fn, [x, w, b])
    assert tg.gradgradcheck(lambda x: F.batch_norm(x, None, None, training=True), [x])


def test_batch_norm_evaluation_first_and_second_derivatives():
    x, w, b = leaf(normal(4, 2, 3)), leaf(normal(2)), leaf(normal(2))
    mean, var = normal(2), RNG.uniform(0.5, 2.0, 2)

    def fn(x, w, b):
        return F.batch_norm(x, mean, var, w, b)

    assert tg.gradcheck(fn, [x, w, b])
    assert tg.gradgradcheck(fn, [x, w, b])


def test_batch_norm_second_derivative_through_the_weight_alone():
    x = normal(6, 2)
    w = leaf(normal(2))
    assert tg.gradgradcheck(lambda w: F.batch_norm(x, None, None, w, training=True) ** 2, [w])


def test_primitives_name_themselves_and_their_formulas():
    x = leaf(normal(4, 2))
    assert F.batch_norm(x, None, None, training=True).grad_fn.name == "batch_norm"
    assert F.batch_norm(x, np.zeros(2), np.ones(2)).grad_fn.name == "batch_norm_eval"
    assert F.layer_norm(x, 2).grad_fn.name == "layer_norm"
    for op in (
        norm_ops.Dropout,
        norm_ops.BatchNorm,
        norm_ops.BatchNormEval,
        norm_ops.LayerNorm,
    ):
        assert op.formula.startswith("∂x = "), op


# ---------------------------------------------------------------- batch norm: errors
def test_batch_norm_training_needs_more_than_one_value_per_channel():
    with pytest.raises(ValueError, match=r"batch_norm: expected more than 1 value per channel"):
        F.batch_norm(tg.ones(1, 3), None, None, training=True)
    layer = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3\): .* got input of shape \(1, 3\)"):
        layer(tg.ones(1, 3))
    assert layer.num_batches_tracked.item() == 0  # the rejected batch is not counted
    assert layer.running_mean.tolist() == [0.0] * 3
    with pytest.raises(ValueError, match=r"BatchNorm2d\(2\): .*\(1, 2, 1, 1\)"):
        nn.BatchNorm2d(2)(tg.ones(1, 2, 1, 1))
    layer.eval()
    assert layer(tg.ones(1, 3)).shape == (1, 3)  # evaluation needs no batch statistics


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: F.batch_norm(tg.ones(4, 3), np.zeros(2), np.ones(3), training=True),
            r"batch_norm: running_mean has shape \(2,\) but the input of shape \(4, 3\) has 3 "
            "channels",
        ),
        (
            lambda: F.batch_norm(tg.ones(4, 3), None, None, tg.ones(4), training=True),
            r"weight has shape \(4,\)",
        ),
        (lambda: F.batch_norm(tg.ones(4), None, None, training=True), "at least 2 dimensions"),
        (lambda: F.batch_norm(tg.ones(4, 3), None, None), "running_mean and running_var"),
        (
            lambda: nn.BatchNorm1d(3)(tg.ones(4, 5)),
            r"BatchNorm1d\(3\): input of shape \(4, 5\) has 5 channels \(axis 1\), but the layer "
            "has num_features=3",
        ),
        (
            lambda: nn.BatchNorm1d(3)(tg.ones(2, 3, 4, 4)),
            r"BatchNorm1d\(3\): expected a 2-d \(N, C\) or 3-d \(N, C, L\) input, got shape "
            r"\(2, 3, 4, 4\)",
        ),
        (
            lambda: nn.BatchNorm2d(3)(tg.ones(2, 3, 4)),
            r"BatchNorm2d\(3\): expected a 4-d \(N, C, H, W\) input, got shape \(2, 3, 4\)",
        ),
        (lambda: nn.BatchNorm1d(0), "num_features must be positive"),
    ],
)
def test_batch_norm_shape_errors_name_the_layer_and_shapes(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---------------------------------------------------------------- batch norm modules
def test_batch_norm_module_parameters_buffers_and_repr():
    layer = nn.BatchNorm2d(3)
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
    assert layer.weight.tolist() == [1.0] * 3 and layer.bias.tolist() == [0.0] * 3
    assert layer.running_mean.tolist() == [0.0] * 3 and layer.running_var.tolist() == [1.0] * 3
    counter = layer.num_batches_tracked
    assert counter.shape == () and counter.dtype == np.int64 and counter.item() == 0
    assert repr(layer) == (
        "BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"
    )
    assert nn.BatchNorm1d(2, dtype=np.float32).running_var.dtype == np.float32


def test_training_updates_running_statistics_and_counts_batches_evaluation_does_not():
    layer = nn.BatchNorm1d(2, momentum=0.5)
    batches = [normal(5, 2, loc=4.0) for _ in range(3)]
    mean, var = np.zeros(2), np.ones(2)
    for batch in batches:
        layer(tg.tensor(batch))
        mean = 0.5 * mean + 0.5 * batch.mean(0)
        var = 0.5 * var + 0.5 * batch.var(0, ddof=1)
    np.testing.assert_allclose(layer.running_mean.numpy(), mean, rtol=1e-12)
    np.testing.assert_allclose(layer.running_var.numpy(), var, rtol=1e-12)
    assert layer.num_batches_tracked.item() == 3
    layer.eval()
    x = normal(4, 2)
    y = layer(tg.tensor(x))
    np.testing.assert_allclose(y.numpy(), (x - mean) / np.sqrt(var + 1e-5), rtol=1e-12)
    assert layer.num_batches_tracked.item() == 3
    np.testing.assert_allclose(layer.running_mean.numpy(), mean, rtol=1e-12)


def test_momentum_none_gives_the_average_of_every_batch():
    layer = nn.BatchNorm1d(3, momentum=None)
    batches = [normal(4, 3, 2, scale=float(i + 1)) for i in range(4)]
    for batch in batches:
        layer(tg.tensor(batch))
    means = [b.mean(axis=(0, 2)) for b in batches]
    variances = [b.transpose(1, 0, 2).reshape(3, -1).var(1, ddof=1) for b in batches]
    np.testing.assert_allclose(layer.running_mean.numpy(), np.mean(means, 0), rtol=1e-12)
    # The running variance starts at 1 but the first batch's weight is 1/1: it is forgotten.
    np.testing.assert_allclose(layer.running_var.numpy(), np.mean(variances, 0), rtol=1e-12)


def test_without_tracking_there_are_no_buffers_and_batch_statistics_are_always_used():
    layer = nn.BatchNorm1d(2, track_running_stats=False)
    assert layer.running_mean is None and layer.num_batches_tracked is None
    assert list(layer.state_dict()) == ["weight", "bias"] and list(layer.buffers()) == []
    x = normal(6, 2, loc=3.0)
    layer.eval()
    np.testing.assert_allclose(layer(tg.tensor(x)).numpy(), reference_norm(x, 0), rtol=1e-12)


def test_affine_false_has_no_parameters():
    layer = nn.BatchNorm1d(2, affine=False)
    assert layer.weight is None and list(layer.parameters()) == []
    assert list(layer.state_dict()) == ["running_mean", "running_var", "num_batches_tracked"]
    x = normal(5, 2)
    np.testing.assert_allclose(layer(tg.tensor(x)).numpy(), reference_norm(x, 0), rtol=1e-12)


def test_gradients_reach_the_batch_norm_parameters_and_not_the_buffers():
    layer = nn.BatchNorm2d(2)
    x = leaf(normal(3, 2, 2, 2))
    (layer(x) * tg.tensor(normal(3, 2, 2, 2))).sum().backward()
    assert layer.weight.grad.shape == (2,) and layer.bias.grad.shape == (2,)
    assert all(b.grad is None for b in layer.buffers())


def test_a_network_with_batch_norm_and_dropout_learns():
    tg.manual_seed(0)
    X, y = tg.data.two_moons(200, noise=0.1, seed=0)
    model = nn.Sequential(
        nn.Linear(2, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 2)
    )
    opt = tg.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(60):
        loss = F.cross_entropy(model(tg.tensor(X)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    accuracy = (model(tg.tensor(X)).argmax(axis=1).numpy() == y).mean()
    assert accuracy > 0.95


# ---------------------------------------------------------------- layer norm
@pytest.mark.parametrize(
    ("shape", "normalized_shape"), [((4, 6), 6), ((2, 3, 4), (3, 4)), ((5,), [5])]
)
def test_layer_norm_is_the_closed_form_over_the_trailing_axes(shape, normalized_shape):
    trailing = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
    x = normal(*shape, loc=-2.0, scale=3.0)
    weight, bias = normal(*trailing), normal(*trailing)
    axes = tuple(range(x.ndim - len(trailing), x.ndim))
    y = F.layer_norm(tg.tensor(x), normalized_shape, tg.tensor(weight), tg.tensor(bias))
    np.testing.assert_allclose(y.numpy(), reference_norm(x, axes, weight, bias), rtol=1e-12)


@pytest.mark.parametrize(("shape", "normalized_shape"), [((3, 4), (4,)), ((2, 2, 3), (2, 3))])
def test_layer_norm_first_and_second_derivatives(shape, normalized_shape):
    x = leaf(normal(*shape, scale=2.0))
    w, b = leaf(normal(*normalized_shape)), leaf(normal(*normalized_shape))

    def fn(x, w, b):
        return F.layer_norm(x, normalized_shape, w, b, eps=1e-3)

    assert tg.gradcheck(fn, [x, w, b])
    assert tg.gradgradcheck(fn, [x, w, b])


def test_layer_norm_module_and_its_mode_independence():
    layer = nn.LayerNorm((2, 3))
    assert layer.weight.shape == (2, 3) and layer.bias.shape == (2, 3)
    assert repr(layer) == "LayerNorm((2, 3), eps=1e-05, elementwise_affine=True)"
    x = tg.tensor(normal(4, 2, 3))
    train_out = layer(x).numpy()
    np.testing.assert_array_equal(layer.eval()(x).numpy(), train_out)
    bare = nn.LayerNorm(3, elementwise_affine=False)
    assert list(bare.parameters()) == [] and bare.weight is None
    assert nn.LayerNorm(3, bias=False).bias is None


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: F.layer_norm(tg.ones(4, 5), (4,)),
            r"layer_norm: expected an input whose last 1 dimension\(s\) are \(4,\)",
        ),
        (
            lambda: nn.LayerNorm((2, 3))(tg.ones(3, 2)),
            r"LayerNorm\(\(2, 3\)\): expected an input whose last 2 dimension\(s\) are \(2, 3\) "
            r"\(normalized_shape\), got shape \(3, 2\)",
        ),
        (
            lambda: F.layer_norm(tg.ones(2, 3), 3, weight=tg.ones(2)),
            r"weight has shape \(2,\), normalized_shape is \(3,\)",
        ),
        (lambda: nn.LayerNorm(0), "normalized_shape must be a positive int"),
        (lambda: nn.LayerNorm(()), "non-empty sequence"),
    ],
)
def test_layer_norm_errors_name_the_layer_and_shapes(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---------------------------------------------------------------- state kept inside the ops
def replay(op, *arrays, **options):
    """``op``'s forward as a recorded step is run again: a fresh ctx, the arrays and options."""
    ctx = object.__new__(op)
    ctx.saved = ()
    ctx.needs_input_grad = (False,) * len(arrays)
    return op.forward(ctx, *arrays, **options)


def test_dropout_forward_draws_a_fresh_mask_from_the_generator_on_each_run():
    x = normal(5, 6)
    tg.manual_seed(11)
    first, second = replay(norm_ops.Dropout, x, p=0.3), replay(norm_ops.Dropout, x, p=0.3)
    tg.manual_seed(11)
    masks = [generator().random(x.shape) >= 0.3 for _ in range(2)]
    np.testing.assert_array_equal(first, np.where(masks[0], x * (1.0 / 0.7), 0))
    np.testing.assert_array_equal(second, np.where(masks[1], x * (1.0 / 0.7), 0))
    assert not np.array_equal(masks[0], masks[1])


def test_seeded_dropout_is_the_generators_mask_drawn_from_the_same_seed():
    x = normal(4, 7).astype(np.float32)
    tg.manual_seed(2)
    y = F.dropout(tg.tensor(x), p=0.25).numpy()
    tg.manual_seed(2)
    keep = generator().random(x.shape) >= 0.25
    np.testing.assert_array_equal(y, np.where(keep, x * (1.0 / 0.75), 0))
    assert y.dtype == np.float32


def blended(running, statistic, momentum):
    return ((1 - momentum) * running + momentum * statistic).astype(running.dtype, copy=False)


def test_batch_norm_forward_blends_and_counts_on_each_run():
    batches = [normal(6, 3, loc=1.0), normal(6, 3, loc=-2.0, scale=3.0)]
    mean, var = tg.tensor(np.zeros(3)), tg.tensor(np.ones(3))
    counter = tg.tensor(np.array(0, dtype=np.int64))
    expected_mean, expected_var = np.zeros(3), np.ones(3)
    for x in batches:
        out = replay(
            norm_ops.BatchNorm,
            x,
            None,
            None,
            axes=(0,),
            eps=1e-5,
            running_mean=mean,
            running_var=var,
            momentum=0.1,
            num_batches_tracked=counter,
        )
        np.testing.assert_allclose(out, reference_norm(x, 0), rtol=1e-12, atol=1e-12)
        expected_mean = blended(expected_mean, x.mean(axis=0), 0.1)
        expected_var = blended(expected_var, x.var(axis=0, ddof=1), 0.1)
    np.testing.assert_array_equal(mean.numpy(), expected_mean)
    np.testing.assert_array_equal(var.numpy(), expected_var)
    assert counter.item() == 2


def test_batch_norm_forward_averages_by_the_count_when_momentum_is_none():
    batches = [normal(5, 2), normal(5, 2, loc=4.0)]
    mean, var = np.zeros(2), np.ones(2)
    counter = tg.tensor(np.array(0, dtype=np.int64))
    options = dict(running_mean=mean, running_var=var, momentum=None, num_batches_tracked=counter)
    for x in batches:
        replay(norm_ops.BatchNorm, x, None, None, axes=(0,), eps=1e-5, **options)
    average = blended(blended(np.zeros(2), batches[0].mean(0), 1.0), batches[1].mean(0), 0.5)
    np.testing.assert_array_equal(mean, average)
    assert counter.item() == 2


def test_batch_norm_module_statistics_after_two_batches_are_the_formula_bit_for_bit():
    layer = nn.BatchNorm1d(3, momentum=0.3)
    layer_average = nn.BatchNorm1d(3, momentum=None)
    batches = [normal(4, 3, 2), normal(4, 3, 2, loc=2.0)]
    expected_mean, expected_var = np.zeros(3), np.ones(3)
    average_mean = np.zeros(3)
    for count, x in enumerate(batches):
        layer(tg.tensor(x))
        layer_average(tg.tensor(x))
        expected_mean = blended(expected_mean, x.mean(axis=(0, 2)), 0.3)
        expected_var = blended(expected_var, x.var(axis=(0, 2), ddof=1), 0.3)
        average_mean = blended(average_mean, x.mean(axis=(0, 2)), 1.0 / (count + 1))
    np.testing.assert_array_equal(layer.running_mean.numpy(), expected_mean)
    np.testing.assert_array_equal(layer.running_var.numpy(), expected_var)
    np.testing.assert_array_equal(layer_average.running_mean.numpy(), average_mean)
    assert layer.num_batches_tracked.item() == layer_average.num_batches_tracked.item() == 2


def test_batch_norm_evaluation_forward_reads_the_running_buffers_on_each_run():
    x = normal(4, 2)
    mean, var = tg.tensor(np.array([0.5, -1.0])), tg.tensor(np.array([2.0, 0.5]))
    running = norm_ops.RunningStatistics(mean, var, 1e-5, x.dtype, (1, 2))
    options = dict(axes=(0,), eps=1e-5, running=running)
    first = replay(norm_ops.BatchNormEval, x, None, None, **options)
    np.testing.assert_allclose(first, reference_norm(x, None, mean=mean.numpy(), var=var.numpy()))
    mean.data = np.array([3.0, 1.0])  # a new array, as load_state_dict or a reset gives
    var.data[...] = [4.0, 9.0]  # or written in place
    second = replay(norm_ops.BatchNormEval, x, None, None, **options)
    expected = reference_norm(x, None, mean=np.array([3.0, 1.0]), var=np.array([4.0, 9.0]))
    np.testing.assert_allclose(second, expected, rtol=1e-12)

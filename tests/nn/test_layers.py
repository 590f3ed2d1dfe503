"""nn's layers stated exactly: defaults, reprs, argument errors and dtypes, and the layers the
other tests only reach through functional calls (activations, losses, convolution, pooling,
Linear, normalization)."""

import math
import re

import numpy as np
import pytest

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import nn


# ---------------------------------------------------------------- layers without a weight
def test_activation_and_loss_modules_equal_their_functions():
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.normal(size=(4, 3)))
    labels = np.array([0, 2, 1, 2])
    np.testing.assert_array_equal(nn.LeakyReLU()(x).numpy(), F.leaky_relu(x, 0.01).numpy())
    np.testing.assert_array_equal(nn.LeakyReLU(0.2)(x).numpy(), F.leaky_relu(x, 0.2).numpy())
    np.testing.assert_array_equal(nn.LogSoftmax()(x).numpy(), F.log_softmax(x, axis=-1).numpy())
    np.testing.assert_array_equal(nn.LogSoftmax(0)(x).numpy(), F.log_softmax(x, axis=0).numpy())
    np.testing.assert_array_equal(nn.Softmax()(x).numpy(), F.softmax(x, axis=-1).numpy())
    np.testing.assert_array_equal(nn.Softmax(0)(x).numpy(), F.softmax(x, axis=0).numpy())
    log_probs = F.log_softmax(x)
    assert nn.NLLLoss()(log_probs, labels).item() == F.nll_loss(log_probs, labels).item()
    np.testing.assert_array_equal(
        nn.NLLLoss(reduction="none")(log_probs, labels).numpy(),
        F.nll_loss(log_probs, labels, reduction="none").numpy(),
    )
    assert nn.NLLLoss(reduction="sum")(log_probs, labels).item() == pytest.approx(
        -log_probs.numpy()[np.arange(4), labels].sum(), rel=1e-15
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_loss_modules_pass_their_reduction_on(reduction):
    rng = np.random.default_rng(1)
    x, target = tg.tensor(rng.normal(size=(3, 2))), rng.random((3, 2))
    labels = np.array([1, 0, 1])
    pairs = [
        (nn.MSELoss(reduction=reduction)(x, target), F.mse_loss(x, target, reduction=reduction)),
        (
            nn.CrossEntropyLoss(reduction=reduction)(x, labels),
            F.cross_entropy(x, labels, reduction=reduction),
        ),
        (
            nn.BCEWithLogitsLoss(reduction=reduction)(x, target),
            F.binary_cross_entropy_with_logits(x, target, reduction=reduction),
        ),
        (
            nn.BCELoss(reduction=reduction)(x.sigmoid(), target),
            F.binary_cross_entropy(x.sigmoid(), target, reduction=reduction),
        ),
    ]
    for module_loss, function_loss in pairs:
        np.testing.assert_array_equal(module_loss.numpy(), function_loss.numpy())


# ---------------------------------------------------------------- convolution and pooling
def test_conv2d_initialisation_follows_pytorch_with_groups():
    tg.manual_seed(5)
    conv = nn.Conv2d(4, 6, kernel_size=(3, 2), groups=2)
    tg.manual_seed(5)
    weight_bound = math.sqrt(2.0 / 6.0) * math.sqrt(3.0 / (2 * 3 * 2))  # a = sqrt(5), fan_in 12
    weight = tg.factories.generator().uniform(-weight_bound, weight_bound, (6, 2, 3, 2))
    bias_bound = 1.0 / math.sqrt(2 * 3 * 2)
    bias = tg.factories.generator().uniform(-bias_bound, bias_bound, 6)
    np.testing.assert_array_equal(conv.weight.numpy(), weight)
    np.testing.assert_array_equal(conv.bias.numpy(), bias)
    assert conv.weight.dtype == np.float64
    small = nn.Conv2d(1, 2, 3, dtype=np.float32, bias=False)
    assert small.weight.dtype == np.float32 and small.bias is None


@pytest.mark.parametrize(
    ("layer", "text"),
    [
        (
            lambda: nn.Conv2d(2, 4, 3, padding=(1, 0), dilation=2, groups=2, bias=False),
            "Conv2d(2, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 0), dilation=(2, 2), "
            "groups=2, bias=False)",
        ),
        (
            lambda: nn.Conv2d(2, 4, 3, padding=(0, 1)),
            "Conv2d(2, 4, kernel_size=(3, 3), stride=(1, 1), padding=(0, 1))",
        ),
        (lambda: nn.Conv2d(2, 4, 3, dilation=(1, 2)), "dilation=(1, 2))"),
        (lambda: nn.Conv2d(2, 4, 3, groups=2), "stride=(1, 1), groups=2)"),
        (
            lambda: nn.AvgPool2d(2, 1, 1, count_include_pad=False),
            "AvgPool2d(kernel_size=(2, 2), stride=(1, 1), padding=(1, 1), count_include_pad=False)",
        ),
        (lambda: nn.AvgPool2d(2), "AvgPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"),
        (lambda: nn.MaxPool2d(3), "MaxPool2d(kernel_size=(3, 3), stride=(3, 3), padding=(0, 0))"),
    ],
)
def test_layer_reprs_show_what_differs_from_the_defaults(layer, text):
    assert repr(layer()).endswith(text)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: nn.Conv2d(3, 4, 3, stride=0),
            "Conv2d(3, 4, kernel_size=3): stride must be positive, got 0",
        ),
        (
            lambda: nn.Conv2d(3, 4, (2, 0)),
            "Conv2d(3, 4, kernel_size=(2, 0)): kernel_size must be positive",
        ),
        (
            lambda: nn.Conv2d(3, 4, 3, padding=-1),
            "Conv2d(3, 4, kernel_size=3): padding must be non-negative",
        ),
        (
            lambda: nn.Conv2d(3, 4, 3, dilation=0),
            "Conv2d(3, 4, kernel_size=3): dilation must be positive",
        ),
        (
            lambda: nn.Conv2d(True, 4, 3),
            "Conv2d(True, 4, kernel_size=3): in_channels must be a positive int, got True",
        ),
        (
            lambda: nn.Conv2d(3, 2.0, 3),
            "Conv2d(3, 2.0, kernel_size=3): out_channels must be a positive int, got 2.0",
        ),
        (
            lambda: nn.Conv2d(3, 4, 3, groups=0),
            "Conv2d(3, 4, kernel_size=3): groups must be a positive int, got 0",
        ),
        (
            lambda: nn.Conv2d(4, 4, 3, groups=3),
            "Conv2d(4, 4, kernel_size=3): in_channels=4 is not divisible by groups=3",
        ),
        (
            lambda: nn.Conv2d(3, 4, 3, groups=3),
            "Conv2d(3, 4, kernel_size=3): out_channels=4 is not divisible by groups=3",
        ),
        (lambda: nn.MaxPool2d(0), "MaxPool2d: kernel_size must be positive, got 0"),
        (lambda: nn.MaxPool2d(2, stride=0), "MaxPool2d: stride must be positive, got 0"),
        (lambda: nn.AvgPool2d(2, padding=-1), "AvgPool2d: padding must be non-negative, got -1"),
        (lambda: nn.AvgPool2d(2, padding=2), "AvgPool2d: padding (2, 2) must be at most half"),
    ],
)
def test_layer_argument_errors_name_the_layer_and_the_argument(make, message):
    with pytest.raises(ValueError) as error:
        make()
    assert str(error.value).startswith(message)


@pytest.mark.parametrize("pool", [nn.MaxPool2d, nn.AvgPool2d])
def test_pooling_layers_use_their_stride_and_default_to_the_kernel(pool):
    x = tg.tensor(np.random.default_rng(0).normal(size=(1, 2, 6, 6)))
    function = F.max_pool2d if pool is nn.MaxPool2d else F.avg_pool2d
    np.testing.assert_array_equal(pool(3)(x).numpy(), function(x, 3, stride=3).numpy())
    np.testing.assert_array_equal(pool(3, 1)(x).numpy(), function(x, 3, stride=1).numpy())
    np.testing.assert_array_equal(
        pool(3, 2, 1)(x).numpy(), function(x, 3, stride=2, padding=1).numpy()
    )


def test_avg_pool_layer_counts_padding_unless_told_not_to():
    x = tg.ones(1, 1, 2, 2)
    np.testing.assert_array_equal(nn.AvgPool2d(2, 1, 1)(x).numpy()[0, 0, 0, 0], 0.25)
    excluded = nn.AvgPool2d(2, 1, 1, count_include_pad=False)(x)
    np.testing.assert_array_equal(excluded.numpy(), np.ones((1, 1, 3, 3)))


def test_flatten_ranges_and_errors():
    x = np.arange(24.0).reshape(2, 3, 4)
    assert nn.Flatten()(x).shape == (2, 12)  # an array is accepted
    assert nn.Flatten(0, 0)(x).shape == (2, 3, 4)  # start == end: nothing merged
    assert nn.Flatten(-3, -2)(tg.tensor(x)).shape == (6, 4)
    with pytest.raises(tg.ShapeError, match=r"^Flatten\(start_dim=3, end_dim=-1\): start_dim=3 is"):
        nn.Flatten(3)(x)
    with pytest.raises(tg.ShapeError, match=r"end_dim=-4 is out of range for an input of shape"):
        nn.Flatten(0, -4)(x)
    message = r"^Flatten\(start_dim=2, end_dim=1\): start_dim comes after end_dim for an input of"
    with pytest.raises(tg.ShapeError, match=message):
        nn.Flatten(2, 1)(x)


# ---------------------------------------------------------------- Linear
def test_linear_initialisation_dtype_and_errors():
    tg.manual_seed(9)
    layer = nn.Linear(1, 3, dtype=np.float32)  # one input feature is allowed
    tg.manual_seed(9)
    bound = math.sqrt(2.0 / 6.0) * math.sqrt(3.0 / 1)  # kaiming, a = sqrt(5), fan_in 1
    weight = tg.factories.generator().uniform(-bound, bound, (3, 1))
    bias = tg.factories.generator().uniform(-1.0, 1.0, 3)  # 1 / sqrt(fan_in)
    np.testing.assert_array_equal(layer.weight.numpy(), weight.astype(np.float32))
    np.testing.assert_array_equal(layer.bias.numpy(), bias.astype(np.float32))
    assert layer.weight.dtype == layer.bias.dtype == np.float32
    assert nn.Linear(2, 2).bias.dtype == np.float64
    for features in [(0, 3), (3, 0)]:
        message = f"^Linear: in_features and out_features must be positive, got {features[0]} and"
        with pytest.raises(ValueError, match=message):
            nn.Linear(*features)
    layer = nn.Linear(3, 2)
    np.testing.assert_array_equal(layer(np.ones((1, 3))).numpy(), layer(tg.ones(1, 3)).numpy())
    with pytest.raises(tg.ShapeError, match=r"Linear\(in_features=3, out_features=2, bias=True\)"):
        layer(tg.ones(2, 4))
    with pytest.raises(tg.ShapeError, match="3"):
        layer(tg.ones(2, 4))


# ---------------------------------------------------------------- normalization layers
def test_batch_norm_defaults_buffers_and_reset():
    layer = nn.BatchNorm1d(3)
    assert (layer.eps, layer.momentum, layer.affine, layer.track_running_stats) == (
        1e-5,
        0.1,
        True,
        True,
    )
    np.testing.assert_array_equal(layer.weight.numpy(), np.ones(3))
    np.testing.assert_array_equal(layer.bias.numpy(), np.zeros(3))
    x = tg.tensor(np.random.default_rng(0).normal(size=(5, 3)))
    layer(x)
    layer(x)
    assert layer.num_batches_tracked.item() == 2
    layer.reset_running_stats()
    np.testing.assert_array_equal(layer.running_mean.numpy(), np.zeros(3))
    np.testing.assert_array_equal(layer.running_var.numpy(), np.ones(3))
    assert layer.num_batches_tracked.item() == 0
    assert layer.num_batches_tracked.dtype == np.int64
    plain = nn.BatchNorm1d(3, affine=False, track_running_stats=False)
    assert plain.weight is None and plain.bias is None and plain.running_mean is None
    plain.reset_running_stats()  # nothing to reset
    np.testing.assert_allclose(plain.eval()(x).numpy(), layer.train()(x).numpy(), rtol=1e-15)
    assert repr(nn.BatchNorm2d(4, momentum=None)) == (
        "BatchNorm2d(4, eps=1e-05, momentum=None, affine=True, track_running_stats=True)"
    )
    assert nn.BatchNorm2d(2, dtype=np.float32).running_var.dtype == np.float32


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: nn.BatchNorm1d(True), TypeError, "BatchNorm1d: num_features must be an int"),
        (lambda: nn.BatchNorm2d(2.0), TypeError, "BatchNorm2d: num_features must be an int"),
        (
            lambda: nn.BatchNorm1d(0),
            ValueError,
            "BatchNorm1d: num_features must be positive, got 0",
        ),
    ],
)
def test_batch_norm_argument_errors(make, error, message):
    with pytest.raises(error, match=f"^{re.escape(message)}"):
        make()


def test_batch_norm_input_errors_name_the_layer_and_the_shapes():
    with pytest.raises(tg.ShapeError) as error:
        nn.BatchNorm1d(3)(tg.ones(2, 3, 4, 5))
    assert str(error.value) == (
        "BatchNorm1d(3): expected a 2-d (N, C) or 3-d (N, C, L) input, got shape (2, 3, 4, 5)"
    )
    with pytest.raises(tg.ShapeError) as error:
        nn.BatchNorm2d(3)(np.ones((2, 4, 5, 5)))
    assert str(error.value) == (
        "BatchNorm2d(3): input of shape (2, 4, 5, 5) has 4 channels (axis 1), but the layer "
        "has num_features=3"
    )


def test_layer_norm_defaults_and_options():
    layer = nn.LayerNorm((2, 3))
    assert layer.normalized_shape == (2, 3) and layer.eps == 1e-5
    np.testing.assert_array_equal(layer.weight.numpy(), np.ones((2, 3)))
    np.testing.assert_array_equal(layer.bias.numpy(), np.zeros((2, 3)))
    assert nn.LayerNorm(3, bias=False).bias is None
    bare = nn.LayerNorm(3, eps=0.5, elementwise_affine=False, dtype=np.float32)
    assert bare.weight is None and bare.bias is None
    assert repr(bare) == "LayerNorm((3,), eps=0.5, elementwise_affine=False)"
    x = np.array([[1.0, 2.0, 4.0]], dtype=np.float32)
    expected = (x - x.mean()) / np.sqrt(x.var() + 0.5)
    np.testing.assert_allclose(bare(tg.tensor(x)).numpy(), expected, rtol=1e-6)
    assert nn.LayerNorm(3, dtype=np.float32).weight.dtype == np.float32


# ---------------------------------------------------------------- dtypes
@pytest.fixture
def float32_default():
    tg.set_default_dtype(np.float32)
    yield
    tg.set_default_dtype(np.float64)


def test_layers_follow_the_default_dtype(float32_default):
    layers = [nn.Conv2d(1, 2, 3), nn.BatchNorm1d(2), nn.LayerNorm(2), nn.Linear(2, 2)]
    for layer in layers:
        for name, value in [*layer.named_parameters(), *layer.named_buffers()]:
            if name != "num_batches_tracked":
                assert value.dtype == np.float32, (layer, name)


def test_normalization_layers_take_a_dtype_for_every_parameter_and_buffer():
    for layer in [nn.BatchNorm2d(3, dtype=np.float32), nn.LayerNorm((2, 3), dtype=np.float32)]:
        state = layer.state_dict()
        assert {name: value.dtype for name, value in state.items()} == {
            name: np.dtype(np.int64 if name == "num_batches_tracked" else np.float32)
            for name in state
        }
    assert nn.Parameter(np.zeros(2), dtype=np.float32).dtype == np.float32


def test_one_feature_is_enough_for_batch_norm_and_p_defaults_to_one_half():
    layer = nn.BatchNorm1d(1)
    assert layer(tg.tensor([[1.0], [3.0]])).numpy().ravel().tolist() == pytest.approx(
        [-1, 1], rel=1e-4
    )
    assert nn.Dropout().p == 0.5


def test_layer_norm_applies_its_weight_and_bias_and_names_itself_in_errors():
    layer = nn.LayerNorm(3)
    layer.weight.data[...] = [1.0, 2.0, 3.0]
    layer.bias.data[...] = [0.5, 0.0, -0.5]
    x = np.array([[1.0, 2.0, 4.0]])
    normalized = (x - x.mean()) / np.sqrt(x.var() + 1e-5)
    np.testing.assert_allclose(layer(tg.tensor(x)).numpy(), normalized * [1, 2, 3] + [0.5, 0, -0.5])
    message = "LayerNorm: normalized_shape must be a positive int or a non-empty sequence of"
    with pytest.raises(ValueError, match=f"^{message}"):
        nn.LayerNorm((0,))


def test_batch_norm_passes_the_gradient_to_its_input():
    x = tg.tensor(np.random.default_rng(2).normal(size=(4, 3)), requires_grad=True)
    (nn.BatchNorm1d(3)(x) * tg.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert x.grad is not None and x.grad.shape == (4, 3)
    np.testing.assert_allclose(x.grad.numpy().sum(axis=0), 0.0, atol=1e-12)  # shift-invariant


def test_linear_checks_the_last_axis_of_any_batch_shape():
    layer = nn.Linear(4, 2)
    assert layer(tg.ones(2, 3, 4)).shape == (2, 3, 2)
    message = (
        "Linear(in_features=4, out_features=2, bias=True): input of shape (2, 4, 3) has 3 "
        "features in its last axis, but the layer has in_features=4; pass inputs of shape "
        "(batch, 4)"
    )
    with pytest.raises(tg.ShapeError, match=f"^{re.escape(message)}$"):
        layer(tg.ones(2, 4, 3))


def test_batch_norm_told_to_stop_tracking_leaves_its_running_statistics_alone():
    # PyTorch's rule: in training, running statistics are updated only while tracked.
    layer = nn.BatchNorm1d(2)
    layer.track_running_stats = False
    layer(tg.tensor([[1.0, 5.0], [3.0, 9.0]]))
    np.testing.assert_array_equal(layer.running_mean.numpy(), [0.0, 0.0])
    np.testing.assert_array_equal(layer.running_var.numpy(), [1.0, 1.0])
    assert layer.num_batches_tracked.item() == 0


def test_linear_shapes_init_forward_and_feature_error():
    tg.manual_seed(0)
    layer = nn.Linear(50, 7)
    assert layer.weight.shape == (7, 50) and layer.bias.shape == (7,)
    bound = 1 / np.sqrt(50)
    assert np.abs(layer.weight.data).max() <= bound and np.abs(layer.bias.data).max() <= bound
    assert np.abs(layer.weight.data).max() > 0.8 * bound  # uniform over the whole range
    x = np.random.default_rng(1).normal(size=(3, 50))
    np.testing.assert_allclose(layer(tg.tensor(x)).data, x @ layer.weight.data.T + layer.bias.data)
    assert nn.Linear(3, 2, bias=False).bias is None
    with pytest.raises(tg.ShapeError, match="in_features=50"):
        layer(tg.ones(3, 49))
    tg.manual_seed(0)
    np.testing.assert_array_equal(nn.Linear(50, 7).weight.data, layer.weight.data)


def test_activation_and_loss_modules_match_functions():
    x = tg.tensor([[-1.0, 0.5, 2.0]])
    target = np.array([[0.0, 1.0, 1.0]])
    assert np.allclose(nn.Sigmoid()(x).data, F.sigmoid(x).data)
    assert np.allclose(nn.Tanh()(x).data, np.tanh(x.data))
    assert np.allclose(nn.ReLU()(x).data, [[0.0, 0.5, 2.0]])
    assert np.allclose(nn.Softmax(axis=1)(x).data.sum(), 1.0)
    assert nn.MSELoss()(x, target).item() == pytest.approx(np.mean((x.data - target) ** 2))
    assert nn.CrossEntropyLoss()(x, np.array([2])).item() == pytest.approx(
        F.cross_entropy(x, np.array([2])).item()
    )
    probs = F.sigmoid(x)
    assert nn.BCELoss()(probs, target).item() == pytest.approx(
        nn.BCEWithLogitsLoss()(x, target).item()
    )

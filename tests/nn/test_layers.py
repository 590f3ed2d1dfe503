"""nn stated exactly: the initialisers' bounds for every gain and mode (PyTorch's formulas),
layer defaults and the modules the other tests only reach through functional calls.
"""

import math
import re

import numpy as np
import pytest

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import nn


def drawn_with_seed(fill, shape=(6, 4, 3, 2)):
    tg.manual_seed(11)
    weight = nn.Parameter(np.zeros(shape))
    fill(weight)
    return weight.data


def uniform_with_seed(low, high, shape=(6, 4, 3, 2)):
    return drawn_with_seed(lambda w: nn.init.uniform_(w, low, high), shape)


# A (6, 4, 3, 2) weight: fan_in = 4 * 3 * 2 = 24, fan_out = 6 * 3 * 2 = 36.
@pytest.mark.parametrize(
    ("arguments", "gain", "fan"),
    [
        ({}, math.sqrt(2.0), 24),  # leaky_relu with a = 0
        ({"a": math.sqrt(5)}, math.sqrt(2.0 / 6.0), 24),  # what Linear and Conv2d use
        ({"a": 0.5, "mode": "fan_out"}, math.sqrt(2.0 / 1.25), 36),
        ({"nonlinearity": "relu"}, math.sqrt(2.0), 24),
        ({"nonlinearity": "linear", "a": 3.0}, 1.0, 24),
        ({"nonlinearity": "sigmoid"}, 1.0, 24),
        ({"nonlinearity": "tanh", "mode": "fan_out"}, 5.0 / 3.0, 36),
    ],
)
def test_kaiming_uniform_bound_is_gain_times_sqrt_3_over_fan(arguments, gain, fan):
    bound = gain * math.sqrt(3.0 / fan)
    drawn = drawn_with_seed(lambda w: nn.init.kaiming_uniform_(w, **arguments))
    np.testing.assert_array_equal(drawn, uniform_with_seed(-bound, bound))


def test_xavier_uniform_bound_and_gain():
    bound = 2.5 * math.sqrt(6.0 / (24 + 36))
    drawn = drawn_with_seed(lambda w: nn.init.xavier_uniform_(w, gain=2.5))
    np.testing.assert_array_equal(drawn, uniform_with_seed(-bound, bound))
    bound = math.sqrt(6.0 / (3 + 5))
    drawn = drawn_with_seed(nn.init.xavier_uniform_, shape=(5, 3))
    np.testing.assert_array_equal(drawn, uniform_with_seed(-bound, bound, shape=(5, 3)))


def test_uniform_normal_ones_and_zeros_defaults():
    unit = drawn_with_seed(nn.init.uniform_)
    assert unit.min() >= 0.0 and unit.max() < 1.0 and unit.max() > 0.9
    tg.manual_seed(11)
    expected = tg.factories.generator().normal(0.0, 1.0, (6, 4, 3, 2))
    np.testing.assert_array_equal(drawn_with_seed(nn.init.normal_), expected)
    assert np.all(drawn_with_seed(nn.init.ones_) == 1.0)
    assert np.all(drawn_with_seed(nn.init.zeros_) == 0.0)
    weight = nn.Parameter(np.zeros((2, 2)))
    assert nn.init.ones_(weight) is weight  # in place, returned for chaining


def test_init_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"at least 2 dimensions, got shape \(3,\)"):
        nn.init.kaiming_uniform_(nn.Parameter(np.zeros(3)))
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out', got 'fan'"):
        nn.init.kaiming_uniform_(nn.Parameter(np.zeros((2, 2))), mode="fan")
    with pytest.raises(ValueError, match="unknown nonlinearity 'selu'"):
        nn.init.kaiming_uniform_(nn.Parameter(np.zeros((2, 2))), nonlinearity="selu")


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


# ---------------------------------------------------------------- Module
class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = nn.Linear(2, 2)
        self.scale = nn.Parameter(np.ones(1))
        self.register_buffer("count", np.array(0))
        self.register_buffer("scratch", np.zeros(2), persistent=False)

    def forward(self, x):
        return self.inner(x) * self.scale


def test_names_take_a_prefix_and_shared_parts_appear_once():
    block = Block()
    model = nn.Sequential(block, nn.Tanh(), block)
    assert [name for name, _ in model.named_modules()] == ["", "0", "0.inner", "1"]
    assert [name for name, _ in model.named_modules("net")] == [
        "net",
        "net.0",
        "net.0.inner",
        "net.1",
    ]
    assert [name for name, _ in block.named_parameters("b")] == [
        "b.scale",
        "b.inner.weight",
        "b.inner.bias",
    ]
    assert [name for name, _ in model.named_buffers()] == ["0.count", "0.scratch"]
    assert [name for name, _ in block.named_buffers("b")] == ["b.count", "b.scratch"]
    assert list(block.state_dict()) == ["scale", "count", "inner.weight", "inner.bias"]
    assert len(model) == 3 and model[1].short_repr() == "Tanh()" and list(model)[2] is block


def test_nested_repr():
    model = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU()))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): Sequential(\n"
        "    (0): ReLU()\n"
        "  )\n"
        ")"
    )
    # The one-line label of a graph drawing's cluster.
    assert nn.Linear(2, 3).short_repr() == "Linear(2 -> 3)"
    assert nn.Linear(2, 3, bias=False).short_repr() == "Linear(2 -> 3, no bias)"
    assert repr(nn.Parameter(np.array([1.0, 2.0]))) == "Parameter([1., 2.], requires_grad=True)"


def test_load_state_dict_names_every_problem_and_changes_nothing():
    model = Block()
    before = {name: value.numpy().copy() for name, value in model.state_dict().items()}
    state = model.state_dict()
    state["inner.weight"] = np.zeros((3, 2))
    state["count"] = np.array(1.5)
    del state["scale"]
    state["extra"] = np.zeros(1)
    with pytest.raises(nn.StateDictError) as error:
        model.load_state_dict(state)
    assert str(error.value) == (
        "load_state_dict into Block: missing keys ['scale']; unexpected keys ['extra']; "
        "count: dtype float64 in the state dict, int64 in the model; inner.weight: shape "
        "(3, 2) in the state dict, (2, 2) in the model (the model was not changed)"
    )
    with pytest.raises(nn.StateDictError) as error:
        model.load_state_dict(state, strict=False)
    assert "missing" not in str(error.value) and "unexpected" not in str(error.value)
    assert "count: dtype float64" in str(error.value)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[name])
    partial = {"scale": tg.tensor([3.0]), "count": np.array(4)}
    model.load_state_dict(partial, strict=False)
    assert model.scale.numpy().tolist() == [3.0] and model.count.item() == 4


def test_buffer_registration_errors():
    block = Block()
    with pytest.raises(TypeError, match=r"^Block.register_buffer: the name must be a str, got 3$"):
        block.register_buffer(3, np.zeros(1))
    for name in ["", "a.b"]:
        message = "Block.register_buffer: the name must be non-empty and without '.'"
        with pytest.raises(KeyError, match=re.escape(message)):
            block.register_buffer(name, np.zeros(1))
    with pytest.raises(KeyError, match="attribute 'scale' already exists"):
        block.register_buffer("scale", np.zeros(1))
    with pytest.raises(TypeError, match="buffer 'p' cannot hold a Parameter"):
        block.register_buffer("p", nn.Parameter(np.zeros(1)))
    with pytest.raises(
        TypeError, match="buffer 's' must be a Tensor, an array, a number or None, got str"
    ):
        block.register_buffer("s", "text")
    with pytest.raises(TypeError, match="buffer 'c' must hold booleans, integers or floats"):
        block.register_buffer("c", np.array([1j]))
    block.register_buffer("listed", [1.0, 2.0])
    assert block.listed.numpy().tolist() == [1.0, 2.0]
    block.register_buffer("count", None)  # re-registering replaces; None is allowed
    assert "count" not in block.state_dict()


def test_to_converts_parameters_and_float_buffers_only():
    block = Block()
    block.scale.grad = tg.ones(1)
    assert block.to(np.float32) is block
    assert {p.dtype for p in block.parameters()} == {np.dtype(np.float32)}
    assert block.scale.grad is None
    assert block.scratch.dtype == np.float32 and block.count.dtype == np.int64
    with pytest.raises(TypeError, match=r"^Module.to: expected a floating dtype, got int32$"):
        block.to(np.int32)


def test_train_and_eval_set_every_module_and_return_it():
    model = nn.Sequential(Block(), nn.Dropout(0.5))
    assert model.eval() is model
    assert not any(module.training for module in model.modules())
    assert model.train() is model
    assert all(module.training for module in model.modules())


def test_module_misuse_is_named():
    with pytest.raises(NotImplementedError, match=r"^Module must define forward"):
        nn.Module()(1.0)
    with pytest.raises(TypeError, match=r"^expected a function as the hook, got int$"):
        nn.Linear(2, 2).register_forward_hook(3)
    with pytest.raises(TypeError, match=r"^Sequential: argument 1 is a int, not a Module$"):
        nn.Sequential(nn.ReLU(), 3)
    message = (
        "Linear(in_features=3, out_features=2, bias=True): input of shape () has no features in "
        "its last axis, but the layer has in_features=3; pass inputs of shape (batch, 3)"
    )
    with pytest.raises(tg.ShapeError, match=f"^{re.escape(message)}$"):
        nn.Linear(3, 2)(tg.tensor(1.0))


def test_forward_hooks_may_replace_inputs_with_one_value_or_a_tuple():
    layer = nn.Linear(2, 2)
    x, doubled = tg.ones(1, 2), tg.ones(1, 2) * 2.0
    with layer.register_forward_pre_hook(lambda module, inputs: doubled):
        np.testing.assert_array_equal(layer(x).numpy(), layer.forward(doubled).numpy())
    with layer.register_forward_pre_hook(lambda module, inputs: (doubled,)):
        np.testing.assert_array_equal(layer(x).numpy(), layer.forward(doubled).numpy())
    seen = []
    with layer.register_forward_hook(lambda module, inputs, out: seen.append(inputs) or out * 0.0):
        assert not layer(x).numpy().any()
    assert seen == [(x,)]


# ---------------------------------------------------------------- dtypes, kwargs, sharing
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


class Scaled(nn.Module):
    def forward(self, x, scale=1.0):
        return x * scale


def test_keyword_arguments_reach_forward_with_and_without_hooks():
    module, x = Scaled(), tg.ones(2)
    assert module(x, scale=3.0).numpy().tolist() == [3.0, 3.0]
    seen = []
    first = module.register_forward_pre_hook(lambda m, inputs: seen.append(("pre", m)))
    module.register_forward_hook(lambda m, inputs, out: seen.append(("post", m)))
    assert module(x, scale=5.0).numpy().tolist() == [5.0, 5.0]
    assert seen == [("pre", module), ("post", module)]  # both hooks run: each has its own key
    first.remove()
    module(x)
    assert seen[-1] == ("post", module) and len(seen) == 3


def test_a_parameter_or_buffer_shared_by_two_modules_is_listed_once():
    shared_weight, shared_steps = nn.Parameter(np.ones(2)), tg.tensor([0])
    first, second = nn.Module(), nn.Module()
    first.weight, second.weight = shared_weight, shared_weight
    first.register_buffer("steps", shared_steps)
    second.register_buffer("steps", shared_steps)
    model = nn.Sequential(first, second)
    assert [name for name, _ in model.named_parameters()] == ["0.weight"]
    assert [name for name, _ in model.named_buffers()] == ["0.steps"]
    assert [name for name, _ in first.named_buffers()] == ["steps"]


def test_modules_after_a_shared_one_are_still_visited():
    block = Block()
    model = nn.Sequential(block, block, nn.ReLU())
    assert [name for name, _ in model.named_modules()] == ["", "0", "0.inner", "2"]


def test_load_state_dict_converts_to_the_models_dtype_and_skips_unknown_keys():
    layer = nn.Linear(2, 1)
    state = {
        "extra": np.zeros(1),
        "weight": np.array([[1.0, 2.0]], dtype=np.float32),
        "bias": [0.5],
    }
    layer.load_state_dict(state, strict=False)
    assert layer.weight.dtype == np.float64 and layer.weight.numpy().tolist() == [[1.0, 2.0]]
    assert layer.bias.numpy().tolist() == [0.5]


def test_eval_sets_training_to_false_itself():
    model = nn.Sequential(nn.Linear(1, 1)).eval()
    assert all(module.training is False for module in model.modules())


def test_a_parameter_as_buffer_error_says_what_to_do():
    message = (
        "Block: buffer 'p' cannot hold a Parameter; assign a Parameter to an attribute that is "
        "not a buffer to make it trainable"
    )
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        Block().register_buffer("p", nn.Parameter(np.zeros(1)))


def test_init_of_a_locked_parameter_gives_it_new_values_in_its_dtype():
    weight = nn.Parameter(np.zeros((40, 30), dtype=np.float32))  # over the copy limit
    loss = (weight * weight).sum()  # the graph holds weight's array read-only
    assert not weight.data.flags.writeable
    nn.init.ones_(weight)
    assert weight.dtype == np.float32 and np.all(weight.numpy() == 1.0)
    loss.backward()
    assert not weight.grad.numpy().any()  # backward saw the old zeros


def test_two_hooks_of_the_same_kind_both_run_in_order():
    module, calls = Scaled(), []
    module.register_forward_hook(lambda m, inputs, out: calls.append(1))
    module.register_forward_hook(lambda m, inputs, out: calls.append(2))
    module.register_forward_pre_hook(lambda m, inputs: calls.append(-1))
    module.register_forward_pre_hook(lambda m, inputs: calls.append(-2))
    module(tg.ones(1))
    assert calls == [-1, -2, 1, 2]


def test_batch_norm_told_to_stop_tracking_leaves_its_running_statistics_alone():
    # PyTorch's rule: in training, running statistics are updated only while tracked.
    layer = nn.BatchNorm1d(2)
    layer.track_running_stats = False
    layer(tg.tensor([[1.0, 5.0], [3.0, 9.0]]))
    np.testing.assert_array_equal(layer.running_mean.numpy(), [0.0, 0.0])
    np.testing.assert_array_equal(layer.running_var.numpy(), [1.0, 1.0])
    assert layer.num_batches_tracked.item() == 0

"""nn stated exactly: the initialisers' bounds for every gain and mode (PyTorch's formulas),
layer defaults and the modules the other tests only reach through functional calls.
"""

import math

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

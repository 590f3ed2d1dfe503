"""nn.init: the initialisers' bounds for every gain and mode (PyTorch's formulas), their
defaults and errors, and an init on a parameter a live graph holds."""

import math

import numpy as np
import pytest

import tinygrad_ann as tg
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


def test_init_of_a_locked_parameter_gives_it_new_values_in_its_dtype():
    weight = nn.Parameter(np.zeros((40, 30), dtype=np.float32))  # over the copy limit
    loss = (weight * weight).sum()  # the graph holds weight's array read-only
    assert not weight.data.flags.writeable
    nn.init.ones_(weight)
    assert weight.dtype == np.float32 and np.all(weight.numpy() == 1.0)
    loss.backward()
    assert not weight.grad.numpy().any()  # backward saw the old zeros


def test_init_functions():
    tg.manual_seed(3)
    w = nn.Parameter(np.empty((200, 300)))
    nn.init.xavier_uniform_(w)
    bound = np.sqrt(6 / (200 + 300))
    assert np.abs(w.data).max() <= bound and np.abs(w.data).max() > 0.95 * bound
    nn.init.normal_(w, mean=1.0, std=0.5)
    assert w.data.mean() == pytest.approx(1.0, abs=0.01)
    assert w.data.std() == pytest.approx(0.5, abs=0.01)
    nn.init.kaiming_uniform_(w)
    assert np.abs(w.data).max() <= np.sqrt(6 / 300)
    nn.init.zeros_(w)
    assert not w.data.any()

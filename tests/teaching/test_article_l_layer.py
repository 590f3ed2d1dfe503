"""Article 003, part 2: an L-layer sigmoid network, samples as columns, mean cross-entropy."""

import itertools

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_ann import articles, data

SIZES = (2, 5, 3, 1)


def _parameters(rng, sizes=SIZES):
    weights = [rng.normal(size=(n, p)) for p, n in itertools.pairwise(sizes)]
    biases = [rng.normal(size=(n, 1)) for n in sizes[1:]]
    return weights, biases


def _check(X, Y, weights, biases, rtol):
    closed = articles.l_layer_closed_form(X, Y, weights, biases)
    truth = articles.l_layer_autograd(X, Y, weights, biases)
    assert len(closed) == 2 * len(weights)  # every layer's dW and db
    for ours, theirs in zip(closed, truth):
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=1e-14)


def test_every_layer_of_a_three_layer_net_on_two_moons():
    points, labels = data.two_moons(40, seed=0)
    weights, biases = _parameters(np.random.default_rng(0))
    _check(points.T, labels.reshape(1, -1).astype(float), weights, biases, 1e-10)


@given(st.integers(0, 2**32 - 1), st.integers(1, 8))
def test_every_layer_for_drawn_weights_and_batches(seed, batch):
    rng = np.random.default_rng(seed)
    weights, biases = _parameters(rng)
    X = rng.normal(size=(SIZES[0], batch))
    Y = rng.integers(0, 2, size=(1, batch)).astype(float)
    _check(X, Y, weights, biases, 1e-8)

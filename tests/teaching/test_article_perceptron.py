"""Articles 000 and 002: one sigmoid unit on the diabetes table, L = 1/2 sum((s - y)^2)."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_ann import articles, data

X, Y = data.diabetes_table()
Y = Y.reshape(-1, 1)
VALUES = st.floats(-3, 3)


def test_closed_form_equals_autograd_on_the_articles_data():
    rng = np.random.default_rng(42)
    W, b = rng.random((3, 1)), rng.random(1)  # the articles draw U(0, 1) weights
    closed = articles.perceptron_closed_form(X, Y, W, b)
    for ours, theirs in zip(closed, articles.perceptron_autograd(X, Y, W, b)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


@given(
    hnp.arrays(np.float64, (6, 3), elements=VALUES),
    hnp.arrays(np.float64, (6, 1), elements=st.floats(0, 1)),
    hnp.arrays(np.float64, (3, 1), elements=VALUES),
    hnp.arrays(np.float64, (1,), elements=VALUES),
)
def test_closed_form_equals_autograd_on_drawn_data(features, targets, W, b):
    closed = articles.perceptron_closed_form(features, targets, W, b)
    for ours, theirs in zip(closed, articles.perceptron_autograd(features, targets, W, b)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-13)


def test_the_articles_code_is_not_the_gradient():
    """sigmoid'(s) in place of sigmoid'(z): off by far more than rounding on the articles' data."""
    rng = np.random.default_rng(42)
    W, b = rng.random((3, 1)), rng.random(1)
    coded = articles.perceptron_as_coded(X, Y, W, b)
    truth = articles.perceptron_autograd(X, Y, W, b)
    assert np.max(np.abs(coded[0] - truth[0])) > 1e-3
    # It still points downhill here, which is why the articles' training seems to work.
    assert float(np.sum(coded[0] * truth[0])) > 0

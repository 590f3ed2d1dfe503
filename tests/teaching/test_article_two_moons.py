"""Article 004: tanh hidden layer, softmax output, cross-entropy with L2 on both weights."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_ann import articles, data

STRENGTH = 0.01  # the article's regularisation strength


def _parameters(rng, hidden=3):
    return [
        rng.normal(size=(2, hidden)) / np.sqrt(2),
        rng.normal(size=(1, hidden)),
        rng.normal(size=(hidden, 2)) / np.sqrt(hidden),
        rng.normal(size=(1, 2)),
    ]


def test_closed_form_is_the_gradient_of_the_summed_loss():
    points, labels = data.two_moons(300, seed=0)
    params = _parameters(np.random.default_rng(0))
    closed = articles.two_moons_closed_form(points, labels, params, STRENGTH)
    truth = articles.two_moons_autograd(points, labels, params, STRENGTH)
    for ours, theirs in zip(closed, truth):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_the_reported_loss_is_n_times_smaller_than_the_one_differentiated():
    points, labels = data.two_moons(300, seed=0)
    params = _parameters(np.random.default_rng(1))
    closed = articles.two_moons_closed_form(points, labels, params, STRENGTH)
    of_reported = articles.two_moons_autograd(points, labels, params, STRENGTH, mean=True)
    for ours, reported in zip(closed, of_reported):
        np.testing.assert_allclose(ours, 300 * reported, rtol=1e-10, atol=1e-12)
    assert np.max(np.abs(closed[0] - of_reported[0])) > 1.0


@given(st.integers(0, 2**32 - 1), st.integers(1, 6), st.integers(2, 12))
def test_closed_form_for_drawn_data(seed, hidden, n):
    rng = np.random.default_rng(seed)
    points = rng.normal(size=(n, 2))
    labels = rng.integers(0, 2, size=n)
    params = _parameters(rng, hidden)
    closed = articles.two_moons_closed_form(points, labels, params, STRENGTH)
    for ours, theirs in zip(closed, articles.two_moons_autograd(points, labels, params, STRENGTH)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)


@given(st.integers(0, 2**32 - 1))
def test_the_general_delta_rule_for_sigmoid_units(seed):
    rng = np.random.default_rng(seed)
    x, t = rng.normal(size=(5, 3)), rng.random((5, 2))
    W, U = rng.normal(size=(3, 4)), rng.normal(size=(4, 2))
    closed = articles.l2_sigmoid_rule_closed_form(x, t, W, U)
    for ours, theirs in zip(closed, articles.l2_sigmoid_rule_autograd(x, t, W, U)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-14)


def test_the_demo_table_flags_exactly_the_articles_mistakes():
    rows = articles.check_derivations()
    mismatched = [row for row in rows if not row.verdict.startswith(("matches", "differs"))]
    assert not mismatched
    differing = {row.article for row in rows if row.verdict.startswith("differs")}
    assert differing == {"000/002 perceptron", "001 AND gate", "003 two-layer net", "004 two moons"}

"""Article 001: AND gate, samples as columns, mean cross-entropy of s = sigmoid(W^T x + b)."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_ann import articles, data

INPUTS, OUTPUTS = data.and_gate()
x, y = INPUTS.T, OUTPUTS.reshape(1, -1)
W0, B0 = np.array([[0.4], [0.2]]), np.array([[1.0]])


def test_closed_form_equals_autograd_at_the_articles_start():
    closed = articles.and_gate_closed_form(x, y, W0, B0)
    for ours, theirs in zip(closed, articles.and_gate_autograd(x, y, W0, B0)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


@given(
    hnp.arrays(np.float64, (2, 1), elements=st.floats(-3, 3)),
    hnp.arrays(np.float64, (1, 1), elements=st.floats(-3, 3)),
)
def test_closed_form_equals_autograd_for_drawn_weights(W, b):
    closed = articles.and_gate_closed_form(x, y, W, b)
    for ours, theirs in zip(closed, articles.and_gate_autograd(x, y, W, b)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-14)


def test_the_thresholded_update_is_the_perceptron_rule_not_a_gradient():
    rule = articles.and_gate_perceptron_rule(x, y, W0, B0)
    truth = articles.and_gate_autograd(x, y, W0, B0)
    assert np.max(np.abs(rule[0] - truth[0])) > 0.05  # 0.25 against about 0.15
    # Once every prediction is right the rule stops, though the loss still has a slope.
    W_solved, b_solved = np.array([[2.0], [1.5]]), np.array([[-3.0]])
    stopped = articles.and_gate_perceptron_rule(x, y, W_solved, b_solved)
    still = articles.and_gate_autograd(x, y, W_solved, b_solved)
    assert np.all(stopped[0] == 0) and np.all(stopped[1] == 0)
    assert np.max(np.abs(still[0])) > 1e-2

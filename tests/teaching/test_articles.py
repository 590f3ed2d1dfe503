"""The articles' module stated exactly: the demo's table row by row, the verdict rules, the
shapes of every closed form, the articles' mistaken code re-derived independently here,
and the closed forms' stability on large logits.
"""

import numpy as np
import pytest

from tinygrad_ann import articles, data
from tinygrad_ann.teaching.articles import MATCHES, _row

TABLE = [
    ("000/002 perceptron", "dL/dW = Xᵀ[(s-y)·s(1-s)]", MATCHES),
    (
        "000/002 perceptron",
        "code: sigmoid'(s) for sigmoid'(z)",
        "differs: sigmoid derivative applied to s",
    ),
    ("001 AND gate", "dL/dW = x(s-y)ᵀ/m", MATCHES),
    ("001 AND gate", "code: thresholded ŷ for s", "differs: perceptron rule, not a gradient"),
    ("003 two-layer net", "dL/dW = -d_weights", MATCHES),
    ("003 two-layer net", "d_weights taken as dL/dW", "differs: these are the negative gradients"),
    ("003 L-layer net", "dW_l = dZ_l A_{l-1}ᵀ/m, all layers", MATCHES),
    ("004 two moons", "δ3 = probs - onehot, dW2 = a1ᵀδ3 + λW2", MATCHES),
    (
        "004 two moons",
        "same, against the reported loss/N",
        "differs: N = 40 times the reported loss's gradient",
    ),
    ("004 delta rule", "δ_j = (y-t)y(1-y), δ_i = h(1-h)Σu·δ", MATCHES),
]


def test_the_table_has_one_row_per_derivation_with_its_verdict():
    rows = articles.check_derivations()
    assert [(row.article, row.formula, row.verdict) for row in rows] == TABLE
    for row in rows:
        if row.verdict == MATCHES:
            assert row.max_abs_diff < 1e-14
        else:
            assert row.max_abs_diff > 1e-3


def test_the_table_does_not_depend_on_the_seed_in_its_verdicts():
    rows = articles.check_derivations(seed=7)
    assert [(row.article, row.formula, row.verdict) for row in rows] == TABLE


@pytest.mark.parametrize(
    ("diff", "expect_match", "verdict"),
    [
        (0.0, True, MATCHES),
        (0.99e-10, True, MATCHES),
        (1e-10, True, "MISMATCH: the derivation or autograd is wrong"),
        (0.5, True, "MISMATCH: the derivation or autograd is wrong"),
        (0.5, False, "differs: a sign"),
        (1.01e-6, False, "differs: a sign"),
        (1e-6, False, "UNEXPECTED: equals autograd"),
        (0.0, False, "UNEXPECTED: equals autograd"),
    ],
)
def test_a_row_matches_below_1e_10_and_differs_above_1e_6(diff, expect_match, verdict):
    row = _row("article", "formula", diff, expect_match, "a sign")
    assert (row.article, row.formula, row.max_abs_diff, row.verdict) == (
        "article",
        "formula",
        diff,
        verdict,
    )


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def perceptron_case():
    X, y = data.diabetes_table()
    rng = np.random.default_rng(1)
    return X, y.reshape(-1, 1), rng.random((3, 1)), rng.random(1)


def test_perceptron_gradients_have_the_parameters_shapes():
    X, y, W, b = perceptron_case()
    for gradients in (
        articles.perceptron_closed_form(X, y, W, b),
        articles.perceptron_as_coded(X, y, W, b),
        articles.perceptron_autograd(X, y, W, b),
    ):
        assert [g.shape for g in gradients] == [W.shape, b.shape]


def test_the_perceptron_code_applies_the_sigmoid_derivative_to_s():
    X, y, W, b = perceptron_case()
    s = sigmoid(X @ W + b)
    delta = (s - y) * sigmoid(s) * (1 - sigmoid(s))  # σ'(s), where the math has σ'(z) = s(1-s)
    coded_W, coded_b = articles.perceptron_as_coded(X, y, W, b)
    np.testing.assert_allclose(coded_W, X.T @ delta, rtol=1e-12)
    np.testing.assert_allclose(coded_b, [delta.sum()], rtol=1e-12)


def and_gate_case(W, b):
    x, y = data.and_gate()
    return x.T, y.reshape(1, -1), np.array(W, float), np.array(b, float)


def test_and_gate_gradients_have_the_parameters_shapes():
    x, y, W, b = and_gate_case([[0.4], [0.2]], [[1.0]])
    for gradients in (
        articles.and_gate_closed_form(x, y, W, b),
        articles.and_gate_perceptron_rule(x, y, W, b),
        articles.and_gate_autograd(x, y, W, b),
    ):
        assert [g.shape for g in gradients] == [W.shape, b.shape]


@pytest.mark.parametrize(
    ("W", "b"), [([[0.4], [0.2]], [[1.0]]), ([[0.0], [0.0]], [[0.0]]), ([[1.0], [1.0]], [[-1.5]])]
)
def test_the_and_gate_code_is_the_perceptron_rule_with_s_at_one_half_counted_as_one(W, b):
    x, y, W, b = and_gate_case(W, b)
    s = sigmoid(W.T @ x + b)
    predicted = np.where(s >= 0.5, 1.0, 0.0)
    rule_W, rule_b = articles.and_gate_perceptron_rule(x, y, W, b)
    np.testing.assert_allclose(rule_W, x @ (predicted - y).T / 4, rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(rule_b, [[(predicted - y).sum() / 4]], rtol=1e-15, atol=1e-15)


def two_moons_params(shared):
    """Hidden and output weights; ``shared`` is added to both logits, scaled by the hidden units."""
    rng = np.random.default_rng(2)
    return [
        rng.normal(size=(2, 3)),
        np.zeros((1, 3)),
        rng.normal(size=(3, 2)) + shared * np.ones((3, 2)) / 3,
        np.zeros((1, 2)),
    ]


def test_two_moons_gradients_have_the_parameters_shapes():
    points, labels = data.two_moons(10, noise=0.2, seed=0)
    params = two_moons_params(0.0)
    closed = articles.two_moons_closed_form(points, labels, params, 0.01)
    assert [g.shape for g in closed] == [p.shape for p in params]


def test_two_moons_closed_form_is_stable_for_logits_near_a_thousand():
    # Both logits of a point share a term between about -870 and +870 (set by its hidden
    # units): exp overflows unless the softmax subtracts the row's own maximum, and a single
    # maximum over all rows would underflow the low rows to 0 / 0.
    points, labels = data.two_moons(10, noise=0.2, seed=0)
    params = two_moons_params(3000.0)
    shared = np.tanh(points @ params[0]) @ (3000.0 * np.ones(3) / 3)
    assert shared.min() < -600 and shared.max() > 600
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        closed = articles.two_moons_closed_form(points, labels, params, 0.01)
    for ours, theirs in zip(closed, articles.two_moons_autograd(points, labels, params, 0.01)):
        assert np.all(np.isfinite(ours))
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-9)


def test_the_table_is_reproducible_and_seeded_by_default_with_zero():
    def diffs(**seed):
        return [row.max_abs_diff for row in articles.check_derivations(**seed)]

    assert diffs() == diffs() == diffs(seed=0) != diffs(seed=1)


def test_the_and_gate_rows_start_from_the_articles_weights():
    # The article starts the AND gate at W = (0.4, 0.2), b = 1.
    x, y, W, b = and_gate_case([[0.4], [0.2]], [[1.0]])
    truth = articles.and_gate_autograd(x, y, W, b)
    rows = [row for row in articles.check_derivations() if row.article == "001 AND gate"]
    expected = [
        articles._max_diff(articles.and_gate_closed_form(x, y, W, b), truth),
        articles._max_diff(articles.and_gate_perceptron_rule(x, y, W, b), truth),
    ]
    assert [row.max_abs_diff for row in rows] == expected

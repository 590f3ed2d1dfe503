"""The beginner articles' hand-derived gradients, in NumPy, next to autograd's.

Each function named ``*_closed_form`` computes a gradient the way an article
derives it on paper; ``*_as_coded`` computes what an article's code actually
does where that differs; ``*_autograd`` gets the same numbers from
tinygrad_ann's reverse mode. :func:`check_derivations` compares them on the
articles' own data. ``docs/articles.md`` walks through the math.

>>> rows = check_derivations()
>>> all(row.max_abs_diff < 1e-12 for row in rows if row.verdict == "matches autograd")
True
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from .. import data
from .. import functional as F
from ..autograd import grad
from ..tensor import Tensor

__all__ = [
    "DerivationResult",
    "and_gate_autograd",
    "and_gate_closed_form",
    "and_gate_perceptron_rule",
    "check_derivations",
    "l2_sigmoid_rule_autograd",
    "l2_sigmoid_rule_closed_form",
    "l_layer_autograd",
    "l_layer_closed_form",
    "perceptron_as_coded",
    "perceptron_autograd",
    "perceptron_closed_form",
    "two_layer_article_updates",
    "two_layer_autograd",
    "two_moons_autograd",
    "two_moons_closed_form",
]


@dataclass(frozen=True)
class DerivationResult:
    """One row of the check: which article, which formula, how far from autograd."""

    article: str
    formula: str
    max_abs_diff: float
    verdict: str


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -z))


def _leaves(*arrays: np.ndarray) -> list[Tensor]:
    return [Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]


def _gradients(loss: Tensor, leaves: list[Tensor]) -> list[np.ndarray]:
    return [g.numpy() for g in grad(loss, leaves)]


def _max_diff(left: list[np.ndarray], right: list[np.ndarray]) -> float:
    return max(float(np.max(np.abs(a - b))) for a, b in zip(left, right))


# ------------------------------------------------- 000 / 002: one sigmoid unit
def perceptron_closed_form(
    X: np.ndarray, y: np.ndarray, W: np.ndarray, b: np.ndarray
) -> list[np.ndarray]:
    """L = ½ Σ (s − y)², s = σ(XW + b).

    dL/dW = Xᵀ[(s − y) ⊙ s(1 − s)] and dL/db = Σ (s − y) ⊙ s(1 − s).
    """
    s = _sigmoid(X @ W + b)
    delta = (s - y) * s * (1 - s)
    return [X.T @ delta, delta.sum(axis=0)]


def perceptron_as_coded(
    X: np.ndarray, y: np.ndarray, W: np.ndarray, b: np.ndarray
) -> list[np.ndarray]:
    """The articles' code: the sigmoid derivative taken at s instead of at z = XW + b."""
    s = _sigmoid(X @ W + b)
    delta = (s - y) * _sigmoid(s) * (1 - _sigmoid(s))
    return [X.T @ delta, delta.sum(axis=0)]


def perceptron_autograd(
    X: np.ndarray, y: np.ndarray, W: np.ndarray, b: np.ndarray
) -> list[np.ndarray]:
    """Autograd's [dL/dW, dL/db] for :func:`perceptron_closed_form`'s loss, L = ½ Σ (s − y)².

    >>> import numpy as np
    >>> X, y = np.array([[0.0, 1.0], [1.0, 1.0]]), np.array([[0.0], [1.0]])
    >>> W, b = np.array([[0.5], [-0.5]]), np.array([0.1])
    >>> autograd = perceptron_autograd(X, y, W, b)
    >>> all(np.allclose(a, c) for a, c in zip(autograd, perceptron_closed_form(X, y, W, b)))
    True
    """
    weight, bias = _leaves(W, b)
    s = (Tensor(X) @ weight + bias).sigmoid()
    return _gradients(0.5 * F.mse_loss(s, y, reduction="sum"), [weight, bias])


# ------------------------------------------------- 001: AND gate
def and_gate_closed_form(
    x: np.ndarray, y: np.ndarray, W: np.ndarray, b: np.ndarray
) -> list[np.ndarray]:
    """Mean cross-entropy of s = σ(Wᵀx + b): dL/dW = x (s − y)ᵀ / m, dL/db = Σ (s − y) / m."""
    m = x.shape[1]
    s = _sigmoid(W.T @ x + b)
    return [x @ (s - y).T / m, np.sum(s - y, keepdims=True).reshape(np.shape(b)) / m]


def and_gate_perceptron_rule(
    x: np.ndarray, y: np.ndarray, W: np.ndarray, b: np.ndarray
) -> list[np.ndarray]:
    """The article's code: the thresholded prediction [s ≥ ½] in place of s."""
    m = x.shape[1]
    predicted = (_sigmoid(W.T @ x + b) >= 0.5).astype(np.float64)
    return [
        x @ (predicted - y).T / m,
        np.sum(predicted - y, keepdims=True).reshape(np.shape(b)) / m,
    ]


def and_gate_autograd(
    x: np.ndarray, y: np.ndarray, W: np.ndarray, b: np.ndarray
) -> list[np.ndarray]:
    """Autograd's [dL/dW, dL/db] for :func:`and_gate_closed_form`'s mean cross-entropy
    (samples as columns, through ``binary_cross_entropy_with_logits``)."""
    weight, bias = _leaves(W, b)
    logits = weight.T @ Tensor(x) + bias
    return _gradients(F.binary_cross_entropy_with_logits(logits, y), [weight, bias])


# ------------------------------------------------- 003, part 1: two sigmoid layers
def two_layer_article_updates(
    X: np.ndarray, y: np.ndarray, W1: np.ndarray, W2: np.ndarray
) -> list[np.ndarray]:
    """The article's d_weights1, d_weights2 for L = Σ (y − out)²: the NEGATIVE gradients."""
    layer1 = _sigmoid(X @ W1)
    out = _sigmoid(layer1 @ W2)
    delta_out = 2 * (y - out) * out * (1 - out)
    d_weights2 = layer1.T @ delta_out
    d_weights1 = X.T @ ((delta_out @ W2.T) * layer1 * (1 - layer1))
    return [d_weights1, d_weights2]


def two_layer_autograd(
    X: np.ndarray, y: np.ndarray, W1: np.ndarray, W2: np.ndarray
) -> list[np.ndarray]:
    """Autograd's [dL/dW1, dL/dW2] for L = Σ (y − out)²: the positive gradients, the
    opposite sign of :func:`two_layer_article_updates`."""
    w1, w2 = _leaves(W1, W2)
    out = ((Tensor(X) @ w1).sigmoid() @ w2).sigmoid()
    return _gradients(F.mse_loss(out, y, reduction="sum"), [w1, w2])


# ------------------------------------------------- 003, part 2: L sigmoid layers
def l_layer_closed_form(
    X: np.ndarray, Y: np.ndarray, weights: list[np.ndarray], biases: list[np.ndarray]
) -> list[np.ndarray]:
    """Samples as columns, mean cross-entropy. Returns dW_1..dW_L then db_1..db_L.

    dA_L = −(Y/A_L − (1 − Y)/(1 − A_L)); for l = L..1: dZ_l = dA_l ⊙ σ'(Z_l),
    dW_l = dZ_l A_{l−1}ᵀ / m, db_l = row sums of dZ_l / m, dA_{l−1} = W_lᵀ dZ_l.
    """
    m = X.shape[1]
    activations, pre_activations = [X], []
    for W, b in zip(weights, biases):
        pre_activations.append(W @ activations[-1] + b)
        activations.append(_sigmoid(pre_activations[-1]))
    A_L = activations[-1]
    dA = -(Y / A_L - (1 - Y) / (1 - A_L))
    dWs, dbs = [], []
    for layer in range(len(weights) - 1, -1, -1):
        s = _sigmoid(pre_activations[layer])
        dZ = dA * s * (1 - s)
        dWs.append(dZ @ activations[layer].T / m)
        dbs.append(dZ.sum(axis=1, keepdims=True) / m)
        dA = weights[layer].T @ dZ
    return dWs[::-1] + dbs[::-1]


def l_layer_autograd(
    X: np.ndarray, Y: np.ndarray, weights: list[np.ndarray], biases: list[np.ndarray]
) -> list[np.ndarray]:
    """Autograd's dW_1..dW_L then db_1..db_L, in the layout of :func:`l_layer_closed_form`
    (samples as columns, mean cross-entropy)."""
    weight_leaves, bias_leaves = _leaves(*weights), _leaves(*biases)
    A = Tensor(X)
    for W, b in zip(weight_leaves, bias_leaves):
        A = (W @ A + b).sigmoid()
    return _gradients(F.binary_cross_entropy(A, Y), weight_leaves + bias_leaves)


# ------------------------------------------------- 004: two moons, tanh + softmax
def two_moons_closed_form(
    X: np.ndarray,
    labels: np.ndarray,
    params: list[np.ndarray],
    strength: float,
) -> list[np.ndarray]:
    """Rows as samples; params = [W1, b1, W2, b2] with z1 = XW1 + b1, a1 = tanh z1, z2 = a1W2 + b2.

    δ3 = probs − onehot(y); dW2 = a1ᵀδ3 + λW2; db2 = column sums of δ3;
    δ2 = δ3 W2ᵀ ⊙ (1 − a1²); dW1 = Xᵀδ2 + λW1; db1 = column sums of δ2.
    """
    W1, b1, W2, b2 = params
    a1 = np.tanh(X @ W1 + b1)
    z2 = a1 @ W2 + b2
    probs = np.exp(z2 - z2.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    delta3 = probs - np.eye(W2.shape[1])[labels]
    delta2 = delta3 @ W2.T * (1 - a1**2)
    return [
        X.T @ delta2 + strength * W1,
        delta2.sum(axis=0, keepdims=True),
        a1.T @ delta3 + strength * W2,
        delta3.sum(axis=0, keepdims=True),
    ]


def two_moons_autograd(
    X: np.ndarray,
    labels: np.ndarray,
    params: list[np.ndarray],
    strength: float,
    mean: bool = False,
) -> list[np.ndarray]:
    """Gradients of Σ cross-entropy + λ/2 (‖W1‖² + ‖W2‖²), or of that over N with ``mean``."""
    W1, b1, W2, b2 = leaves = _leaves(*params)
    logits = (Tensor(X) @ W1 + b1).tanh() @ W2 + b2
    loss = F.cross_entropy(logits, labels, reduction="sum")
    loss = loss + strength / 2 * ((W1**2).sum() + (W2**2).sum())
    return _gradients(loss / len(labels) if mean else loss, leaves)


def l2_sigmoid_rule_closed_form(
    x: np.ndarray, t: np.ndarray, W: np.ndarray, U: np.ndarray
) -> list[np.ndarray]:
    """h = σ(xW), y = σ(hU), L = ½ Σ (y − t)²: the generic delta rule for dL/dW, dL/dU.

    Output δ_j = (y_j − t_j) y_j (1 − y_j), dL/du_ij = h_i δ_j;
    hidden δ_i = h_i (1 − h_i) Σ_j u_ij δ_j, dL/dw_ki = x_k δ_i.
    """
    h = _sigmoid(x @ W)
    y = _sigmoid(h @ U)
    delta_out = (y - t) * y * (1 - y)
    delta_hidden = h * (1 - h) * (delta_out @ U.T)
    return [x.T @ delta_hidden, h.T @ delta_out]


def l2_sigmoid_rule_autograd(
    x: np.ndarray, t: np.ndarray, W: np.ndarray, U: np.ndarray
) -> list[np.ndarray]:
    """Autograd's [dL/dW, dL/dU] for :func:`l2_sigmoid_rule_closed_form`'s
    L = ½ Σ (y − t)², y = σ(σ(xW) U)."""
    w, u = _leaves(W, U)
    y = ((Tensor(x) @ w).sigmoid() @ u).sigmoid()
    return _gradients(0.5 * F.mse_loss(y, t, reduction="sum"), [w, u])


# ------------------------------------------------- the table
MATCHES = "matches autograd"


def _row(
    article: str, formula: str, diff: float, expect_match: bool, mistake: str
) -> DerivationResult:
    if expect_match:
        verdict = MATCHES if diff < 1e-10 else "MISMATCH: the derivation or autograd is wrong"
    else:
        verdict = f"differs: {mistake}" if diff > 1e-6 else "UNEXPECTED: equals autograd"
    return DerivationResult(article, formula, diff, verdict)


def check_derivations(seed: int = 0) -> list[DerivationResult]:
    """Compare every derivation with autograd on the articles' data (weights from ``seed``)."""
    rng = np.random.default_rng(seed)
    rows = []

    X, y = data.diabetes_table()
    y = y.reshape(-1, 1)
    W, b = rng.random((3, 1)), rng.random(1)
    truth = perceptron_autograd(X, y, W, b)
    rows.append(
        _row(
            "000/002 perceptron",
            "dL/dW = Xᵀ[(s-y)·s(1-s)]",
            _max_diff(perceptron_closed_form(X, y, W, b), truth),
            True,
            "",
        )
    )
    rows.append(
        _row(
            "000/002 perceptron",
            "code: sigmoid'(s) for sigmoid'(z)",
            _max_diff(perceptron_as_coded(X, y, W, b), truth),
            False,
            "sigmoid derivative applied to s",
        )
    )

    x_and, y_and = data.and_gate()
    x_and, y_and = x_and.T, y_and.reshape(1, -1)
    W_and, b_and = np.array([[0.4], [0.2]]), np.array([[1.0]])
    truth = and_gate_autograd(x_and, y_and, W_and, b_and)
    rows.append(
        _row(
            "001 AND gate",
            "dL/dW = x(s-y)ᵀ/m",
            _max_diff(and_gate_closed_form(x_and, y_and, W_and, b_and), truth),
            True,
            "",
        )
    )
    rows.append(
        _row(
            "001 AND gate",
            "code: thresholded ŷ for s",
            _max_diff(and_gate_perceptron_rule(x_and, y_and, W_and, b_and), truth),
            False,
            "perceptron rule, not a gradient",
        )
    )

    X3, y3 = data.xor_bias_column()
    y3 = y3.reshape(-1, 1)
    W1, W2 = rng.random((3, 4)), rng.random((4, 1))
    truth = two_layer_autograd(X3, y3, W1, W2)
    article = two_layer_article_updates(X3, y3, W1, W2)
    rows.append(
        _row(
            "003 two-layer net",
            "dL/dW = -d_weights",
            _max_diff([-a for a in article], truth),
            True,
            "",
        )
    )
    rows.append(
        _row(
            "003 two-layer net",
            "d_weights taken as dL/dW",
            _max_diff(article, truth),
            False,
            "these are the negative gradients",
        )
    )

    points, labels = data.two_moons(40, noise=0.2, seed=seed)
    sizes = (2, 5, 3, 1)
    weights = [rng.normal(size=(n, p)) for p, n in itertools.pairwise(sizes)]
    biases = [rng.normal(size=(n, 1)) for n in sizes[1:]]
    Y = labels.reshape(1, -1).astype(np.float64)
    rows.append(
        _row(
            "003 L-layer net",
            "dW_l = dZ_l A_{l-1}ᵀ/m, all layers",
            _max_diff(
                l_layer_closed_form(points.T, Y, weights, biases),
                l_layer_autograd(points.T, Y, weights, biases),
            ),
            True,
            "",
        )
    )

    params = [rng.normal(size=(2, 3)), np.zeros((1, 3)), rng.normal(size=(3, 2)), np.zeros((1, 2))]
    closed = two_moons_closed_form(points, labels, params, 0.01)
    rows.append(
        _row(
            "004 two moons",
            "δ3 = probs - onehot, dW2 = a1ᵀδ3 + λW2",
            _max_diff(closed, two_moons_autograd(points, labels, params, 0.01)),
            True,
            "",
        )
    )
    mean_grads = two_moons_autograd(points, labels, params, 0.01, mean=True)
    rows.append(
        _row(
            "004 two moons",
            "same, against the reported loss/N",
            _max_diff(closed, mean_grads),
            False,
            f"N = {len(labels)} times the reported loss's gradient",
        )
    )

    x_rule, t_rule = rng.normal(size=(6, 3)), rng.random((6, 2))
    W_rule, U_rule = rng.normal(size=(3, 4)), rng.normal(size=(4, 2))
    rows.append(
        _row(
            "004 delta rule",
            "δ_j = (y-t)y(1-y), δ_i = h(1-h)Σu·δ",
            _max_diff(
                l2_sigmoid_rule_closed_form(x_rule, t_rule, W_rule, U_rule),
                l2_sigmoid_rule_autograd(x_rule, t_rule, W_rule, U_rule),
            ),
            True,
            "",
        )
    )
    return rows

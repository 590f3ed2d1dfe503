"""Article 003, part 1: two sigmoid layers without biases, L = sum((y - out)^2)."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_ann as tg
from tinygrad_ann import articles, data, nn, optim

X, Y = data.xor_bias_column()
Y = Y.reshape(-1, 1)


@given(
    hnp.arrays(np.float64, (3, 4), elements=st.floats(-2, 2)),
    hnp.arrays(np.float64, (4, 1), elements=st.floats(-2, 2)),
)
def test_the_articles_d_weights_are_the_negative_gradients(W1, W2):
    article = articles.two_layer_article_updates(X, Y, W1, W2)
    truth = articles.two_layer_autograd(X, Y, W1, W2)
    for d_weights, gradient in zip(article, truth):
        np.testing.assert_allclose(-d_weights, gradient, rtol=1e-10, atol=1e-14)


def test_read_as_gradients_they_point_uphill():
    rng = np.random.default_rng(0)
    W1, W2 = rng.random((3, 4)), rng.random((4, 1))
    article = articles.two_layer_article_updates(X, Y, W1, W2)
    truth = articles.two_layer_autograd(X, Y, W1, W2)
    assert all(float(np.sum(a * t)) < 0 for a, t in zip(article, truth))


def test_training_reaches_the_articles_result():
    """1,500 full-batch steps of size 1 (the article adds d_weights as they are)."""
    tg.manual_seed(1)
    model = nn.Sequential(
        nn.Linear(3, 4, bias=False), nn.Sigmoid(), nn.Linear(4, 1, bias=False), nn.Sigmoid()
    )
    for parameter in model.parameters():
        nn.init.uniform_(parameter, 0.0, 1.0)
    optimizer = optim.SGD(model.parameters(), lr=1.0)
    inputs = tg.tensor(X)
    for _ in range(1500):
        loss = tg.functional.mse_loss(model(inputs), Y, reduction="sum")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    outputs = model(inputs).numpy().ravel()
    assert np.all(np.abs(outputs - Y.ravel()) < 0.1), outputs

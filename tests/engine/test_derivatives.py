"""tg.jacobian, tg.hessian and tg.hvp against closed forms, and nested tg.grad."""

import numpy as np
import pytest

import tinygrad_ann as tg

RNG = np.random.default_rng(0)


def test_jacobian_of_a_linear_map_is_its_matrix():
    A = RNG.normal(size=(3, 4))
    result = tg.jacobian(lambda x: tg.tensor(A) @ x, tg.tensor(RNG.normal(size=4)))
    assert result.shape == (3, 4)
    np.testing.assert_allclose(result.numpy(), A, rtol=0, atol=1e-15)


def test_jacobian_of_elementwise_tanh_is_diagonal():
    x = RNG.normal(size=(2, 3))
    result = tg.jacobian(lambda t: t.tanh(), tg.tensor(x))
    assert result.shape == (2, 3, 2, 3)  # output.shape + input.shape
    expected = np.diag(1 - np.tanh(x.ravel()) ** 2).reshape(2, 3, 2, 3)
    np.testing.assert_allclose(result.numpy(), expected, rtol=0, atol=1e-15)


def test_hessian_of_a_quadratic_form_is_the_symmetric_part():
    Q, b = RNG.normal(size=(4, 4)), RNG.normal(size=4)

    def quadratic(x):
        return 0.5 * x @ (tg.tensor(Q) @ x) + tg.tensor(b) @ x

    result = tg.hessian(quadratic, tg.tensor(RNG.normal(size=4)))
    assert result.shape == (4, 4)
    np.testing.assert_allclose(result.numpy(), (Q + Q.T) / 2, rtol=0, atol=1e-14)


def perceptron_loss(X, y):
    """½ Σ (sigmoid(X w + b) − y)², the seed perceptron's squared error."""

    def loss(w, b):
        return 0.5 * (((tg.tensor(X) @ w + b).sigmoid() - tg.tensor(y)) ** 2).sum()

    return loss


def test_hessian_of_the_perceptron_loss_matches_the_hand_derivation():
    # With z = X w + b and s = sigmoid(z): dL/dw = Σ (s−y) s' x, so
    # d²L/dw² = Σ (s'² + (s−y) s'') x xᵀ = Xᵀ diag(d) X, with s' = s(1−s), s'' = s'(1−2s).
    X, y = tg.data.diabetes_table()
    w, b = np.array([0.3, -0.2, 0.5]), np.array(0.1)
    s = 1 / (1 + np.exp(-(X @ w + b)))
    slope = s * (1 - s)
    d = slope**2 + (s - y) * slope * (1 - 2 * s)
    loss = perceptron_loss(X, y)

    by_hand = X.T @ np.diag(d) @ X
    result = tg.hessian(lambda weights: loss(weights, tg.tensor(b)), tg.tensor(w))
    np.testing.assert_allclose(result.numpy(), by_hand, rtol=0, atol=1e-10)

    (ww, wb), (bw, bb) = tg.hessian(loss, (tg.tensor(w), tg.tensor(b)))
    np.testing.assert_allclose(ww.numpy(), by_hand, rtol=0, atol=1e-10)
    np.testing.assert_allclose(wb.numpy(), X.T @ d, rtol=0, atol=1e-10)  # shape (3,) + ()
    np.testing.assert_allclose(bw.numpy(), X.T @ d, rtol=0, atol=1e-10)
    np.testing.assert_allclose(bb.numpy(), d.sum(), rtol=0, atol=1e-10)


def test_hessian_of_a_linear_function_is_zero():
    c = tg.tensor([1.0, -2.0, 3.0])
    result = tg.hessian(lambda x: (c * x).sum() + 5.0, tg.tensor([0.5, 0.5, 0.5]))
    np.testing.assert_array_equal(result.numpy(), np.zeros((3, 3)))


def test_a_function_of_none_of_its_inputs_has_zero_derivatives():
    x = tg.tensor([1.0, 2.0])
    np.testing.assert_array_equal(tg.jacobian(lambda t: tg.ones(3), x).numpy(), np.zeros((3, 2)))
    np.testing.assert_array_equal(tg.hessian(lambda t: tg.tensor(1.0), x).numpy(), np.zeros((2, 2)))
    value, product = tg.hvp(lambda t: tg.tensor(1.0), x, tg.ones(2))
    assert value.item() == 1.0
    np.testing.assert_array_equal(product.numpy(), np.zeros(2))


def test_hvp_equals_the_hessian_times_v():
    X, y = tg.data.diabetes_table()
    loss = perceptron_loss(X, y)
    w, b = tg.tensor([0.3, -0.2, 0.5]), tg.tensor(0.1)
    v_w, v_b = RNG.normal(size=3), RNG.normal()

    value, product = tg.hvp(lambda weights: loss(weights, b), w, tg.tensor(v_w))
    H = tg.hessian(lambda weights: loss(weights, b), w).numpy()
    np.testing.assert_allclose(product.numpy(), H @ v_w, rtol=0, atol=1e-14)
    assert value.item() == pytest.approx(loss(w, b).item())
    assert not value.requires_grad

    value, (hv_w, hv_b) = tg.hvp(loss, (w, b), (tg.tensor(v_w), tg.tensor(v_b)))
    (ww, wb), (bw, bb) = (tuple(part.numpy() for part in row) for row in tg.hessian(loss, (w, b)))
    np.testing.assert_allclose(hv_w.numpy(), ww @ v_w + wb * v_b, rtol=0, atol=1e-14)
    np.testing.assert_allclose(hv_b.numpy(), bw @ v_w + bb * v_b, rtol=0, atol=1e-14)


def test_tuple_inputs_give_the_documented_shapes_and_zeros_for_unused_inputs():
    a, b, unused = tg.tensor([1.0, 2.0]), tg.tensor([[0.5], [-1.0], [2.0]]), tg.zeros(2, 2)

    def vector_fn(a, b, unused):
        return (b * a[0] + a[1]).reshape(3).tanh()

    jac = tg.jacobian(vector_fn, (a, b, unused))
    assert [part.shape for part in jac] == [(3, 2), (3, 3, 1), (3, 2, 2)]
    np.testing.assert_array_equal(jac[2].numpy(), 0.0)

    def scalar_fn(a, b, unused):
        return (b**2 * a[0] * a[1]).sum()

    hess = tg.hessian(scalar_fn, (a, b, unused))
    shapes = {(1, 2): (3, 1, 2, 2), (0, 1): (2, 3, 1), (1, 0): (3, 1, 2)}
    for (i, j), shape in shapes.items():
        assert hess[i][j].shape == shape
    sizes = [a.size, b.size, unused.size]
    for i in range(3):
        for j in range(3):  # a Hessian is symmetric, block by block
            np.testing.assert_allclose(
                hess[i][j].numpy().reshape(sizes[i], sizes[j]),
                hess[j][i].numpy().reshape(sizes[j], sizes[i]).T,
                rtol=0,
                atol=1e-14,
            )
    np.testing.assert_array_equal(hess[2][2].numpy(), 0.0)
    _, products = tg.hvp(scalar_fn, (a, b, unused), (tg.ones(2), tg.ones(3, 1), tg.ones(2, 2)))
    assert [part.shape for part in products] == [(2,), (3, 1), (2, 2)]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: tg.jacobian(lambda x: 1.0, tg.ones(2)), TypeError, "jacobian: fn must return"),
        (
            lambda: tg.hessian(lambda x: x * 2, tg.ones(2)),
            tg.ShapeError,
            "hessian: fn must return a Tensor with one element, got shape (2,)",
        ),
        (
            lambda: tg.hvp(lambda x: (x**2).sum(), tg.ones(2), tg.ones(3)),
            tg.ShapeError,
            "hvp: v for input 0 has shape (3,) but the input has shape (2,)",
        ),
        (
            lambda: tg.hvp(lambda x, y: (x * y).sum(), (tg.ones(2), tg.ones(2)), tg.ones(2)),
            ValueError,
            "hvp: inputs is a tuple of 2 Tensor(s), so v must be a tuple of 2 as well",
        ),
        (
            lambda: tg.hvp(lambda x: x * 2, tg.ones(2), tg.ones(2)),
            tg.ShapeError,
            "hvp: fn must return a Tensor with one element",
        ),
        (
            lambda: tg.jacobian(lambda x: x * 2, tg.tensor([1, 2])),
            tg.DTypeError,
            "jacobian: input 0 has dtype int64; only floating-point inputs",
        ),
        (
            lambda: tg.hessian(lambda x: x.sum(), np.ones(2)),
            TypeError,
            "hessian: input 0 has type ndarray, not Tensor",
        ),
    ],
    ids=[
        "not-a-tensor",
        "hessian-vector-output",
        "v-shape",
        "v-structure",
        "hvp-vector-output",
        "integer-input",
        "array-input",
    ],
)
def test_mistakes_raise_clear_errors(call, error, message):
    with pytest.raises(error) as raised:
        call()
    assert message in str(raised.value)


def test_the_callers_tensors_are_left_alone():
    x = tg.tensor([0.5, -1.0, 2.0], requires_grad=True)
    constant = tg.tensor([1.0, 2.0, 3.0])
    before = x.numpy().copy()

    def fn(t, c):
        return (t.tanh() * t * c).sum()

    with tg.no_grad():  # works, and records nothing the caller can see, even here
        results = [
            tg.jacobian(fn, (x, constant)),
            tg.hessian(fn, (x, constant)),
            tg.hvp(fn, (x, constant), (tg.ones(3), tg.ones(3))),
        ]
    assert x.grad is None and constant.grad is None
    assert x.requires_grad and not constant.requires_grad
    np.testing.assert_array_equal(x.numpy(), before)
    flat = [results[0][0], results[0][1], *results[1][0], *results[1][1], results[2][0]]
    flat += list(results[2][1])
    assert all(not part.requires_grad and part.grad_fn is None for part in flat)


def test_inputs_keep_their_float_dtype():
    x = tg.tensor(np.array([1.0, 2.0], dtype=np.float32))
    assert tg.jacobian(lambda t: t * t, x).dtype == np.float32
    assert tg.hessian(lambda t: (t**3).sum(), x).dtype == np.float32


def test_third_derivative_of_x_to_the_fourth_by_nested_grad():
    x = tg.tensor([-1.5, 0.5, 2.0], requires_grad=True)
    (first,) = tg.grad((x**4).sum(), x, create_graph=True)
    (second,) = tg.grad(first.sum(), x, create_graph=True)
    (third,) = tg.grad(second.sum(), x)
    np.testing.assert_allclose(first.numpy(), 4 * x.numpy() ** 3)
    np.testing.assert_allclose(second.numpy(), 12 * x.numpy() ** 2)
    np.testing.assert_allclose(third.numpy(), 24 * x.numpy())
    assert x.grad is None

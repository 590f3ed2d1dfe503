"""gradcheck names the op whose VJP is wrong, and the line that called it."""

import inspect

import numpy as np
import pytest

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann.autograd import observe_backward, recorded_results
from tinygrad_ann.gradcheck import localize_mismatch
from tinygrad_ann.testing import assert_gradients_match


class BadSoftplus(tg.Function):
    """softplus(x) = log(1 + e^x), whose derivative is sigmoid(x): written with the wrong sign."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.logaddexp(0, x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        return grad / (1 + np.exp(x))  # sigmoid(-x): the bug


class GoodSoftplus(BadSoftplus):
    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        return grad / (1 + np.exp(-x))


X, LABELS = tg.data.two_moons(12, noise=0.1, seed=0)
RNG = np.random.default_rng(0)
W1, B1 = RNG.normal(size=(8, 2)), RNG.normal(size=8)
W2, B2 = RNG.normal(size=(2, 8)), RNG.normal(size=2)


def two_moons_loss(softplus):
    """About a dozen ops: linear, tanh, mul, add, softplus, linear, cross-entropy, a penalty."""

    def loss(w1, b1, w2, b2):
        hidden = F.linear(tg.tensor(X), w1, b1).tanh()
        smooth = softplus.apply(hidden * 0.5 + 0.1)  # the line a report should name
        logits = F.linear(smooth, w2, b2)
        return F.cross_entropy(logits, LABELS) + 0.01 * (w1**2).sum()

    return loss


SOFTPLUS_LINE = next(
    number
    for number, line in enumerate(
        inspect.getsourcelines(two_moons_loss)[0], two_moons_loss.__code__.co_firstlineno
    )
    if "softplus.apply" in line
)


def parameters():
    return [tg.tensor(a, requires_grad=True) for a in (W1, B1, W2, B2)]


def test_gradcheck_names_the_broken_custom_op_and_where_it_was_called():
    with pytest.raises(tg.GradcheckError) as caught:
        tg.gradcheck(two_moons_loss(BadSoftplus), parameters())
    message = str(caught.value)
    assert "the first op whose gradient is wrong is BadSoftplus" in message
    assert f"test_localize.py:{SOFTPLUS_LINE}" in message
    assert "input 0 (shape (12, 8)), element" in message


def test_assert_gradients_match_names_it_too():
    with pytest.raises(tg.GradcheckError, match="wrong is BadSoftplus"):
        assert_gradients_match(two_moons_loss(BadSoftplus), *parameters())


def test_the_correct_model_passes():
    assert tg.gradcheck(two_moons_loss(GoodSoftplus), parameters())


def test_localization_checks_every_op_in_backward_order():
    message = localize_mismatch(two_moons_loss(GoodSoftplus), parameters())
    assert message.startswith("each of the 11 recorded ops computes its own gradient correctly")
    loss = two_moons_loss(GoodSoftplus)(*parameters())
    engine_order = []
    with observe_backward(lambda ctx, *_: engine_order.append(ctx)):
        loss.backward()
    walked = [id(result.grad_fn) for result in reversed(recorded_results(loss))]
    assert walked == [id(ctx) for ctx in engine_order]
    assert len(engine_order) == 11


def test_a_function_that_is_not_pure_is_not_blamed_on_an_op():
    rng = np.random.default_rng(1)

    def noisy(x):  # a fresh random factor on every call: finite differences see noise
        return (x * tg.tensor(rng.normal(size=3))).sum()

    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(tg.GradcheckError) as caught:
        tg.gradcheck(noisy, [x])
    assert "each of the 2 recorded ops computes its own gradient correctly" in str(caught.value)
    assert "not being a pure function" in str(caught.value)


def test_an_op_with_options_is_replayed_with_them():
    class DoubleSum(tg.Function):
        @staticmethod
        def forward(ctx, x, axis):
            ctx.save_for_backward(x.shape, axis)
            return 2 * x.sum(axis=axis)

        @staticmethod
        def backward(ctx, grad):
            shape, axis = ctx.saved
            return np.broadcast_to(np.expand_dims(grad, axis), shape) * 3.0  # should be 2

    x = tg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    message = localize_mismatch(lambda t: DoubleSum.apply(t, axis=1).sum(), [x])
    assert message.startswith("the first op whose gradient is wrong is DoubleSum")
    assert "analytic" in message and "numeric" in message

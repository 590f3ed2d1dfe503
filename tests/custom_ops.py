"""Custom ops the tests share: small correct ones, and ones with a deliberately wrong VJP
for the tests of the tools that must catch them."""

import numpy as np

import tinygrad_ann as tg


def scaled_exp(factor, wrong_at=slice(None)):
    """exp whose VJP is multiplied by ``factor`` at the elements ``wrong_at`` (all by default)."""

    class ScaledExp(tg.Function):
        @staticmethod
        def forward(ctx, x):
            out = np.exp(x)
            ctx.save_for_backward(out)
            return out

        @staticmethod
        def backward(ctx, grad):
            (out,) = ctx.saved
            vjp = grad * out
            vjp[wrong_at] *= factor
            return vjp

    return ScaledExp


class Cube(tg.Function):
    """x³ with a first-order (NumPy only) backward."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved
        return 3 * x**2 * grad_output


class Square(tg.Function):
    """x² with a backward that can be differentiated again; subclasses break its backward."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        return grad * 2.0 * x


class WrongShape(tg.Function):
    """Doubles its input; its VJP returns a gradient of shape (3,) whatever the input's."""

    name = "wrong_shape"

    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, grad):
        return np.ones(3)

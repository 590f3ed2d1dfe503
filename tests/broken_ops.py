"""Custom ops with a deliberately wrong VJP, for tests of the tools that must catch them."""

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

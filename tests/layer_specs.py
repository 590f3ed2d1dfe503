"""Op-table rows for the layers after the MLP: convolution, pooling, normalization.

They join ``op_specs.SPECS`` in ``tests/ops/test_op_gradients.py``, so each gets the same
forward, first-order, second-order and create_graph checks as every other op.
The references below are written the slow, obvious way (loops over output
positions), independent of the vectorized implementation under test. Shapes
are small because the second-order check perturbs every input element.
"""

from __future__ import annotations

import math

import numpy as np
from op_specs import OpSpec, well_conditioned

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann.nn.recurrent import gru_step, lstm_step, rnn_tanh_step


def _pair(value: int | tuple[int, int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else value


def conv2d_reference(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    batch, _, height, width = x.shape
    out_channels, per_group, kh, kw = weight.shape
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    out_h = (height + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    out_w = (width + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((batch, out_channels, out_h, out_w))
    outs_per_group = out_channels // groups
    for n in range(batch):
        for o in range(out_channels):
            first = (o // outs_per_group) * per_group
            for i in range(out_h):
                for j in range(out_w):
                    window = padded[
                        n,
                        first : first + per_group,
                        i * sh : i * sh + dh * (kh - 1) + 1 : dh,
                        j * sw : j * sw + dw * (kw - 1) + 1 : dw,
                    ]
                    out[n, o, i, j] = np.sum(window * weight[o])
            if bias is not None:
                out[n, o] += bias[o]
    return out


def _windows(x, kernel, stride, padding, fill):
    (kh, kw), (sh, sw), (ph, pw) = _pair(kernel), _pair(stride), _pair(padding)
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    out_h = (x.shape[2] + 2 * ph - kh) // sh + 1
    out_w = (x.shape[3] + 2 * pw - kw) // sw + 1
    for i in range(out_h):
        for j in range(out_w):
            yield i, j, padded[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw], (out_h, out_w)


def max_pool2d_reference(x, kernel, stride=None, padding=0):
    out = None
    for i, j, window, size in _windows(x, kernel, stride or kernel, padding, -np.inf):
        out = np.zeros((*x.shape[:2], *size)) if out is None else out
        out[:, :, i, j] = window.max(axis=(2, 3))
    return out


def avg_pool2d_reference(x, kernel, stride=None, padding=0, count_include_pad=True):
    out = None
    ones = np.ones((1, 1, *x.shape[2:]))
    counts = {
        (i, j): w.sum() for i, j, w, _ in _windows(ones, kernel, stride or kernel, padding, 0)
    }
    for i, j, window, size in _windows(x, kernel, stride or kernel, padding, 0.0):
        out = np.zeros((*x.shape[:2], *size)) if out is None else out
        divisor = np.prod(_pair(kernel)) if count_include_pad else counts[(i, j)]
        out[:, :, i, j] = window.sum(axis=(2, 3)) / divisor
    return out


def batch_norm_training_reference(x, weight, bias, eps=1e-5):
    axes = (0, *range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean = x.mean(axis=axes, keepdims=True)
    variance = x.var(axis=axes, keepdims=True)  # biased, as PyTorch normalizes
    return (x - mean) / np.sqrt(variance + eps) * weight.reshape(shape) + bias.reshape(shape)


def layer_norm_reference(x, weight, bias, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    variance = x.var(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + eps) * weight + bias


RUNNING_MEAN, RUNNING_VAR = np.array([0.5, -0.25]), np.array([2.0, 0.5])
# Batch statistics of 3-4 values per channel: kept away from a zero variance.
SPREAD = well_conditioned(-3.0, 3.0)

LAYER_SPECS: list[OpSpec] = [
    OpSpec(
        "conv2d_padded_bias",
        lambda x, w, b: F.conv2d(x, w, b, padding=1),
        lambda x, w, b: conv2d_reference(x, w, b, padding=1),
        3,
        shapes=((1, 2, 3, 3), (2, 2, 2, 2), (2,)),
    ),
    OpSpec(
        "conv2d_strided_dilated",
        lambda x, w: F.conv2d(x, w, stride=2, dilation=2, padding=1),
        lambda x, w: conv2d_reference(x, w, stride=2, dilation=2, padding=1),
        2,
        shapes=((2, 1, 4, 4), (2, 1, 2, 2)),
    ),
    OpSpec(
        "conv2d_grouped",
        lambda x, w: F.conv2d(x, w, groups=2),
        lambda x, w: conv2d_reference(x, w, groups=2),
        2,
        shapes=((1, 4, 3, 3), (2, 2, 2, 2)),
    ),
    OpSpec(
        "max_pool2d_padded",
        lambda x: F.max_pool2d(x, 2, stride=1, padding=1),
        lambda x: max_pool2d_reference(x, 2, stride=1, padding=1),
        shapes=((1, 2, 3, 3),),
        unique=True,  # no ties: the gradient of a tie is a choice, not a derivative
    ),
    OpSpec(
        "avg_pool2d_count_padding",
        lambda x: F.avg_pool2d(x, 3, stride=2, padding=1),
        lambda x: avg_pool2d_reference(x, 3, stride=2, padding=1),
        shapes=((1, 2, 4, 4),),
    ),
    OpSpec(
        "avg_pool2d_exclude_padding",
        lambda x: F.avg_pool2d(x, 2, stride=1, padding=1, count_include_pad=False),
        lambda x: avg_pool2d_reference(x, 2, stride=1, padding=1, count_include_pad=False),
        shapes=((1, 1, 3, 3),),
    ),
    OpSpec(
        "batch_norm_training",
        lambda x, w, b: F.batch_norm(x, np.zeros(2), np.ones(2), w, b, training=True),
        batch_norm_training_reference,
        3,
        SPREAD,
        shapes=((3, 2, 2), (2,), (2,)),
        unique=True,  # well-separated values: a batch variance far from zero
    ),
    OpSpec(
        "batch_norm_eval",
        lambda x, w, b: F.batch_norm(x, RUNNING_MEAN, RUNNING_VAR, w, b, training=False),
        lambda x, w, b: (
            (x - RUNNING_MEAN[:, None]) / np.sqrt(RUNNING_VAR[:, None] + 1e-5) * w[:, None]
            + b[:, None]
        ),
        3,
        shapes=((3, 2, 2), (2,), (2,)),
    ),
    OpSpec(
        "layer_norm",
        lambda x, w, b: F.layer_norm(x, (3,), w, b),
        layer_norm_reference,
        3,
        SPREAD,
        shapes=((2, 3), (3,), (3,)),
        unique=True,
    ),
]


# ------------------------------------------------------------------ sequence models
def _erf(x):
    return np.vectorize(math.erf, otypes=[float])(x)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _np_softmax(x):
    shifted = np.exp(x - x.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def attention_reference(q, k, v, allowed):
    """One query at a time: its weights over the keys it may attend to (zeros if none)."""
    out = np.zeros((*q.shape[:-1], v.shape[-1]))
    for batch in np.ndindex(q.shape[:-2]):
        for i in range(q.shape[-2]):
            keys = np.flatnonzero(allowed[i])
            if keys.size:
                scores = k[batch][keys] @ q[batch][i] / math.sqrt(q.shape[-1])
                out[batch][i] = _np_softmax(scores) @ v[batch][keys]
    return out


def lstm_cell_reference(x, h, c, w_ih, w_hh, b_ih, b_hh):
    i, f, g, o = np.split(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh, 4, axis=-1)
    c_next = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    return np.concatenate([_sigmoid(o) * np.tanh(c_next), c_next], axis=-1)


def gru_cell_reference(x, h, w_ih, w_hh, b_ih, b_hh):
    i_r, i_z, i_n = np.split(x @ w_ih.T + b_ih, 3, axis=-1)
    h_r, h_z, h_n = np.split(h @ w_hh.T + b_hh, 3, axis=-1)
    r, z = _sigmoid(i_r + h_r), _sigmoid(i_z + h_z)
    return (1 - z) * np.tanh(i_n + r * h_n) + z * h


# Repeated indices, whose gradients add up. (The padding row's gradient is left out on
# purpose, so it is no derivative: tests/nn/test_embedding.py checks it against PyTorch.)
TOKENS = np.array([[2, 0, 2], [1, 3, 1]])
CAUSAL = np.tril(np.ones((3, 3), dtype=bool))
SOME_KEYS = np.array([[True, False, True], [False, False, False], [False, True, False]])

LAYER_SPECS += [
    OpSpec("erf", F.erf, _erf, elements=well_conditioned(-4.5, 4.5)),
    OpSpec("gelu_exact", F.gelu, lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2)))),
    OpSpec(
        "gelu_tanh",
        lambda x: F.gelu(x, approximate="tanh"),
        lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
    ),
    OpSpec(
        "embedding_repeated",
        lambda w: F.embedding(TOKENS, w),
        lambda w: w[TOKENS],
        shapes=((4, 2),),
    ),
    OpSpec(
        "scaled_dot_product_attention_causal",
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
        lambda q, k, v: attention_reference(q, k, v, CAUSAL),
        3,
        shapes=((2, 3, 2), (2, 3, 2), (2, 3, 2)),
    ),
    OpSpec(
        "scaled_dot_product_attention_masked_row",
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=SOME_KEYS),
        lambda q, k, v: attention_reference(q, k, v, SOME_KEYS),
        3,
        shapes=((3, 2), (3, 2), (3, 1)),
    ),
    OpSpec(
        "lstm_cell",
        lambda x, h, c, w_ih, w_hh, b_ih, b_hh: tg.concatenate(
            lstm_step(F.linear(x, w_ih, b_ih), (h, c), w_hh, b_hh), axis=-1
        ),
        lstm_cell_reference,
        7,
        shapes=((2, 2), (2, 1), (2, 1), (4, 2), (4, 1), (4,), (4,)),
    ),
    OpSpec(
        "gru_cell",
        lambda x, h, w_ih, w_hh, b_ih, b_hh: gru_step(F.linear(x, w_ih, b_ih), h, w_hh, b_hh),
        gru_cell_reference,
        6,
        shapes=((2, 2), (2, 2), (6, 2), (6, 2), (6,), (6,)),
    ),
    OpSpec(
        "rnn_tanh_cell",
        lambda x, h, w_ih, w_hh: rnn_tanh_step(F.linear(x, w_ih), h, w_hh, None),
        lambda x, h, w_ih, w_hh: np.tanh(x @ w_ih.T + h @ w_hh.T),
        4,
        shapes=((2, 3), (2, 2), (2, 3), (2, 2)),
    ),
]

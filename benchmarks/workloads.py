"""The benchmark workloads, each written twice: with tinygrad_ann and as hand-written NumPy.

Both versions of a workload start from the same weights and do the same math,
so their final losses agree (``bench.py`` checks it); ``peers.py`` writes the
same workloads for PyTorch, MyGrad and HIPS autograd. Run one in this process:

    python benchmarks/workloads.py SYSTEM WORKLOAD [--quick] [--memory] [--width N]

SYSTEM is ``numpy``, ``tinygrad`` or a peer (``torch-1t``, ``torch-2t``, ``mygrad``,
``autograd``); WORKLOAD is W1..W7, W1c..W4c or W7c:

- W1..W4: the training workloads of ``bench.py``;
- W1c..W4c: W1..W4 with tinygrad_ann's step compiled by ``tg.compile`` (NumPy's
  version is W1..W4's; the peers have none);
- W5: one training step of a 16-WIDTH-10 tanh MLP (needs ``--width``), for ``cost_curve.py``;
- W6: one gradient and one Hessian-vector product of W2's loss, for ``cost_curve.py``
  (no NumPy version: the ratio of interest is the product's time to the gradient's);
- W7: one epoch of ``examples/digits_cnn.py``'s CNN on the digits, for ``bench.py``
  (no NumPy version: the peers are compared with tinygrad_ann; needs scikit-learn);
- W7c: W7 with tinygrad_ann's step compiled (compared with tinygrad_ann's W7).
- W8: training steps of ``examples/char_transformer.py``'s decoder-only transformer
  (2 pre-norm layers, 4 heads, width 64, context 64, 142 characters), float32,
  batch 32, AdamW (no NumPy version: the peers are compared with tinygrad_ann).

Prints one JSON line: seconds, final loss (W6: v·Hv; W7 adds the sum of the batch
norms' running statistics), and (with ``--memory``) the tracemalloc peak in bytes.
tinygrad_ann's W1c..W4c and W7c add ``recording_steps`` (see ``recording_cost``).
W5 and W6 time their own calls in blocks and add the median seconds per call
(``step_seconds``; ``grad_seconds``, ``hvp_seconds``).
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import itertools
import json
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import nn, optim

# Full sizes from the workload definitions; --quick divides the loop counts.
# W7 counts batches: one epoch of 1,347 images in batches of 32 is 43 of them.
EPOCHS = {"W1": 20_000, "W2": 2_000, "W3": 200, "W4": 20, "W6": 50, "W7": 43, "W8": 20}
EPOCHS.update({f"{name}c": EPOCHS[name] for name in ("W1", "W2", "W3", "W4", "W7")})
QUICK_DIVISOR = 100
# A hundredth of W7's epoch would be a single batch: too little to exercise the optimizer's state.
QUICK_ITERATIONS = {"W7": 3, "W7c": 3, "W8": 3}


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -z))


def _linear_from(weight: np.ndarray, bias: np.ndarray) -> nn.Linear:
    layer = nn.Linear(weight.shape[1], weight.shape[0], dtype=weight.dtype)
    layer.weight.data[...] = weight
    layer.bias.data[...] = bias
    return layer


class Training(NamedTuple):
    """A training workload's tinygrad_ann side, shared by its eager and compiled loops."""

    loss_of: Callable[..., tg.Tensor]  # one step's loss: what tg.compile records in W1c..W4c
    first_arguments: tuple  # loss_of's arguments in the first step
    optimizer: optim.Optimizer | None  # W4 updates nothing: it reads its leaf's gradient
    data: tuple = ()  # W3's images and labels, which its loop cuts into batches


class FirstStep:
    """A compiled step that notes when it is called first, second, and how often.

    The time between the first two calls is the first training step (forward,
    backward and update), the one that records or compiles: PyTorch compiles the
    backward on the first ``backward()``. The steps after it run at the compiled
    system's steady speed, which is what the compiled targets bound (the first
    call has its own). The loops are the eager ones; only this wrapper is added.
    """

    def __init__(self, function: Callable) -> None:
        self.function, self.calls, self.count = function, [], 0

    def __call__(self, *arguments):
        self.count += 1
        if len(self.calls) < 2:
            self.calls.append(time.perf_counter())
        return self.function(*arguments)

    def outcome(self, loss: float) -> dict:
        """The final loss, the first step's seconds and the mean seconds of the steps after
        it (both None after a single step)."""
        if len(self.calls) < 2:
            return {"loss": loss, "first_step_seconds": None, "steady_step_seconds": None}
        later = (time.perf_counter() - self.calls[1]) / (self.count - 1)
        first = self.calls[1] - self.calls[0]
        return {"loss": loss, "first_step_seconds": first, "steady_step_seconds": later}


def loop_result(loss: float, step: Callable) -> float | dict:
    """A loop's result: its final loss, with the first and later steps' times if compiled."""
    return step.outcome(loss) if isinstance(step, FirstStep) else loss


# ---------------------------------------------------------------- W1
def w1_setup():
    X, y = tg.data.diabetes_table()
    rng = np.random.default_rng(42)
    return X, y.reshape(-1, 1), rng.random((1, 3)), rng.random(1)


def w1_numpy(epochs: int) -> float:
    """One sigmoid unit, 0.5 * sum of squared errors, full-batch gradient descent."""
    X, y, weight, bias = w1_setup()
    lr = 0.05
    for _ in range(epochs):
        s = _sigmoid(X @ weight.T + bias)
        error = s - y
        loss = 0.5 * np.sum(error * error)
        dz = error * s * (1.0 - s)
        weight -= lr * (dz.T @ X)
        bias -= lr * dz.sum(axis=0)
    return float(loss)


def w1_training() -> Training:
    X, y, weight, bias = w1_setup()
    layer = _linear_from(weight, bias)
    return Training(
        lambda x: 0.5 * F.mse_loss(layer(x).sigmoid(), y, reduction="sum"),
        (tg.tensor(X),),
        optim.SGD(layer.parameters(), lr=0.05),
    )


def w1_tinygrad(epochs: int, compiled: bool = False) -> float:
    training = w1_training()
    step = FirstStep(tg.compile(training.loss_of)) if compiled else training.loss_of
    (inputs,), optimizer = training.first_arguments, training.optimizer
    for _ in range(epochs):
        loss = step(inputs)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loop_result(loss.item(), step)


# ---------------------------------------------------------------- W2
def w2_setup():
    X, labels = tg.data.two_moons(300, noise=0.2, seed=0)
    rng = np.random.default_rng(0)
    w1 = rng.normal(size=(50, 2)) / np.sqrt(2)
    w2 = rng.normal(size=(2, 50)) / np.sqrt(50)
    return X, labels, w1, np.zeros(50), w2, np.zeros(2)


def w2_numpy(passes: int) -> float:
    """2-50-2 tanh network, softmax cross-entropy (mean), full-batch gradient descent."""
    X, labels, w1, b1, w2, b2 = w2_setup()
    lr, n = 0.5, len(labels)
    onehot = np.eye(2)[labels]
    for _ in range(passes):
        hidden = np.tanh(X @ w1.T + b1)
        logits = hidden @ w2.T + b2
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = -np.sum(log_probs * onehot) / n
        d_logits = (np.exp(log_probs) - onehot) / n
        d_hidden = (d_logits @ w2) * (1.0 - hidden * hidden)
        w2 -= lr * (d_logits.T @ hidden)
        b2 -= lr * d_logits.sum(axis=0)
        w1 -= lr * (d_hidden.T @ X)
        b1 -= lr * d_hidden.sum(axis=0)
    return float(loss)


def w2_training() -> Training:
    X, labels, w1, b1, w2, b2 = w2_setup()
    model = nn.Sequential(_linear_from(w1, b1), nn.Tanh(), _linear_from(w2, b2))
    return Training(
        lambda x, t: F.cross_entropy(model(x), t),
        (tg.tensor(X), labels),
        optim.SGD(model.parameters(), lr=0.5),
    )


def w2_tinygrad(passes: int, compiled: bool = False) -> float:
    training = w2_training()
    step = FirstStep(tg.compile(training.loss_of)) if compiled else training.loss_of
    (inputs, labels), optimizer = training.first_arguments, training.optimizer
    for _ in range(passes):
        loss = step(inputs, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loop_result(loss.item(), step)


# ---------------------------------------------------------------- W3
def w3_setup():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(1280, 784)).astype(np.float32)
    labels = rng.integers(0, 10, size=1280)
    bound1, bound2 = 1 / np.sqrt(784), 1 / np.sqrt(256)
    w1 = rng.uniform(-bound1, bound1, (256, 784)).astype(np.float32)
    b1 = rng.uniform(-bound1, bound1, 256).astype(np.float32)
    w2 = rng.uniform(-bound2, bound2, (10, 256)).astype(np.float32)
    b2 = rng.uniform(-bound2, bound2, 10).astype(np.float32)
    return images, labels, w1, b1, w2, b2


def batches(images: np.ndarray, labels: np.ndarray, steps: int | None = None):
    """Minibatches of 128 in order, wrapping around; ``steps`` of them, or without end."""
    for step in range(steps) if steps is not None else itertools.count():
        start = (step * 128) % len(images)
        yield images[start : start + 128], labels[start : start + 128]


def w3_numpy(steps: int) -> float:
    """784-256-10 ReLU MLP in float32, minibatches of 128, plain SGD."""
    images, labels, w1, b1, w2, b2 = w3_setup()
    lr = np.float32(0.01)
    for x, y in batches(images, labels, steps):
        n = len(y)
        pre = x @ w1.T + b1
        hidden = np.maximum(pre, 0)
        logits = hidden @ w2.T + b2
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = -log_probs[np.arange(n), y].mean()
        d_logits = np.exp(log_probs)
        d_logits[np.arange(n), y] -= 1
        d_logits /= n
        d_hidden = (d_logits @ w2) * (pre > 0)
        w2 -= lr * (d_logits.T @ hidden)
        b2 -= lr * d_logits.sum(axis=0)
        w1 -= lr * (d_hidden.T @ x)
        b1 -= lr * d_hidden.sum(axis=0)
    return float(loss)


def w3_training() -> Training:
    images, labels, w1, b1, w2, b2 = w3_setup()
    model = nn.Sequential(_linear_from(w1, b1), nn.ReLU(), _linear_from(w2, b2))
    first_images, first_labels = next(batches(images, labels))
    return Training(
        lambda x, t: F.cross_entropy(model(x), t),
        (tg.from_numpy(first_images), first_labels),
        optim.SGD(model.parameters(), lr=0.01),
        (images, labels),
    )


def w3_tinygrad(steps: int, compiled: bool = False) -> float:
    training = w3_training()
    step = FirstStep(tg.compile(training.loss_of)) if compiled else training.loss_of
    optimizer = training.optimizer
    for x, y in batches(*training.data, steps):
        loss = step(tg.from_numpy(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loop_result(loss.item(), step)


# ---------------------------------------------------------------- W4
CHAIN_REPEATS = 250  # 4 ops each: 1,000 ops
W4_START = np.array([0.1, -0.2, 0.3, 0.4])


def w4_numpy(repeats: int) -> float:
    """x*1.0001, tanh, x+0.0001, tanh, ... 1,000 ops on 4 numbers, forward and backward."""
    for _ in range(repeats):
        x = W4_START
        tanh_outputs = []
        for _ in range(CHAIN_REPEATS):
            x = np.tanh(x * 1.0001)
            tanh_outputs.append(x)
            x = np.tanh(x + 0.0001)
            tanh_outputs.append(x)
        total = x.sum()
        grad = np.ones_like(x)
        for index in range(len(tanh_outputs) - 1, -1, -1):
            out = tanh_outputs[index]
            grad = grad * (1.0 - out * out)
            if index % 2 == 0:
                grad = grad * 1.0001
    return float(total + grad.sum())


def w4_chain(x: tg.Tensor) -> tg.Tensor:
    for _ in range(CHAIN_REPEATS):
        x = (x * 1.0001).tanh()
        x = (x + 0.0001).tanh()
    return x.sum()


def w4_training() -> Training:
    return Training(w4_chain, (tg.tensor(W4_START, requires_grad=True),), None)


def w4_tinygrad(repeats: int, compiled: bool = False) -> float:
    step = FirstStep(tg.compile(w4_chain)) if compiled else w4_chain
    for _ in range(repeats):
        leaf = tg.tensor(W4_START, requires_grad=True)
        total = step(leaf)
        total.backward()
    return loop_result(float(total.item() + leaf.grad.data.sum()), step)


# ---------------------------------------------------------------- W1c..W4c, W7c
# W1..W4 and W7 with tinygrad_ann's step compiled: their loops with `step = tg.compile(loss_of)`.
# A replay computes what eager computes bit for bit, so W1..W4's NumPy versions stay the
# references; W7c's is tinygrad_ann's own W7. TRAININGS, after W7, names each eager side.
COMPILED = {"W1c": "W1", "W2c": "W2", "W3c": "W3", "W4c": "W4", "W7c": "W7"}
RECORDINGS = 5  # fresh compiled steps whose first call recording_cost times


def eager_twin(workload: str) -> str:
    """The eager workload that ``workload`` compiles (a workload that compiles none: itself)."""
    return COMPILED.get(workload, workload)


def recording_cost(workload: str) -> float:
    """The first call of a newly compiled step (recording and planning), in eager steps.

    An eager step is one pass of the eager loop: forward, backward and update
    (W4: the chain's forward and backward), its time the median of ``BLOCKS``
    blocks; the first call's time is the median of ``RECORDINGS`` steps, each
    compiled afresh and called on the first step's arguments.
    """
    training = TRAININGS[eager_twin(workload)]()
    loss_of, arguments, optimizer = training.loss_of, training.first_arguments, training.optimizer

    def eager_step() -> None:
        loss = loss_of(*arguments)
        if optimizer is not None:
            optimizer.zero_grad()
        loss.backward()
        if optimizer is not None:
            optimizer.step()

    eager_seconds = time_blocks(20, eager=eager_step)["eager_seconds"]
    first_calls = []
    for _ in range(RECORDINGS):
        step = tg.compile(loss_of)
        start = time.perf_counter()
        step(*arguments)
        first_calls.append(time.perf_counter() - start)
    return float(np.median(first_calls)) / eager_seconds


# ---------------------------------------------------------------- W5
W5_WIDTHS = (8, 32, 128, 512, 2048)
W5_FEATURES, W5_CLASSES = 16, 10
BLOCKS = 5  # W5 and W6 time their calls in this many blocks and report the median


def time_blocks(calls: int, **functions: Callable[[], object]) -> dict[str, float]:
    """Median seconds per call of each function, timed in ``BLOCKS`` blocks of ``calls``.

    The functions take turns block by block, after one untimed call each (lazy
    set-up is not what we measure). Returns ``{"<name>_seconds": ...}``.
    """
    for function in functions.values():
        function()
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(BLOCKS):
        for name, function in functions.items():
            start = time.perf_counter()
            for _ in range(calls):
                function()
            times[name].append((time.perf_counter() - start) / calls)
    return {f"{name}_seconds": float(np.median(t)) for name, t in times.items()}


def w5_steps(width: int) -> int:
    """Training steps per timed W5 block: some 50 ms of NumPy work at every width."""
    return max(20, 40_000 // (width + 50))


def w5_setup(width: int):
    rng = np.random.default_rng(width)
    inputs = rng.normal(size=(1280, W5_FEATURES))
    labels = rng.integers(0, W5_CLASSES, size=1280)
    bound1, bound2 = 1 / np.sqrt(W5_FEATURES), 1 / np.sqrt(width)
    w1 = rng.uniform(-bound1, bound1, (width, W5_FEATURES))
    b1 = rng.uniform(-bound1, bound1, width)
    w2 = rng.uniform(-bound2, bound2, (W5_CLASSES, width))
    b2 = rng.uniform(-bound2, bound2, W5_CLASSES)
    return inputs, labels, w1, b1, w2, b2


def w5_numpy(steps: int, width: int) -> dict:
    """One SGD step of a 16-WIDTH-10 tanh MLP, float64, batch 128, cross-entropy: timed."""
    inputs, labels, w1, b1, w2, b2 = w5_setup(width)
    lr, data = 0.1, batches(inputs, labels)

    def step() -> float:
        nonlocal w1, b1, w2, b2  # `-=` below updates the arrays in place
        x, y = next(data)
        n = len(y)
        hidden = np.tanh(x @ w1.T + b1)
        logits = hidden @ w2.T + b2
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = -log_probs[np.arange(n), y].mean()
        d_logits = np.exp(log_probs)
        d_logits[np.arange(n), y] -= 1
        d_logits /= n
        d_hidden = (d_logits @ w2) * (1.0 - hidden * hidden)
        w2 -= lr * (d_logits.T @ hidden)
        b2 -= lr * d_logits.sum(axis=0)
        w1 -= lr * (d_hidden.T @ x)
        b1 -= lr * d_hidden.sum(axis=0)
        return float(loss)

    return {**time_blocks(steps, step=step), "loss": step()}


def w5_tinygrad(steps: int, width: int) -> dict:
    inputs, labels, w1, b1, w2, b2 = w5_setup(width)
    model = nn.Sequential(_linear_from(w1, b1), nn.Tanh(), _linear_from(w2, b2))
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    data = batches(inputs, labels)

    def step() -> float:
        x, y = next(data)
        loss = F.cross_entropy(model(tg.from_numpy(x)), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    return {**time_blocks(steps, step=step), "loss": step()}


# ---------------------------------------------------------------- W6
def w6_setup():
    """W2's network and data, and a fixed direction v (one array per parameter)."""
    X, labels, w1, b1, w2, b2 = w2_setup()
    rng = np.random.default_rng(1)
    parameters = (w1, b1, w2, b2)
    return X, labels, parameters, tuple(rng.normal(size=p.shape) for p in parameters)


def w6_tinygrad(calls: int) -> dict:
    """One gradient of W2's loss, one Hessian-vector product by double backward, and one
    JVP (the loss's derivative along the direction, by tg.jvp)."""
    X, labels, arrays, directions = w6_setup()
    parameters = [tg.tensor(a, requires_grad=True) for a in arrays]
    inputs = tg.tensor(X)

    def loss_of(w1, b1, w2, b2):
        return F.cross_entropy(F.linear(F.tanh(F.linear(inputs, w1, b1)), w2, b2), labels)

    def gradient():
        return tg.grad(loss_of(*parameters), parameters)

    def product():
        gradients = tg.grad(loss_of(*parameters), parameters, create_graph=True)
        dot = sum((g * v).sum() for g, v in zip(gradients, directions))
        return tg.grad(dot, parameters)

    values = tuple(tg.tensor(a) for a in arrays)

    def directional():
        return tg.jvp(loss_of, values, directions)[1]

    result = time_blocks(calls, grad=gradient, hvp=product, jvp=directional)
    hv = product()
    result["loss"] = float(sum(np.sum(h.data * v) for h, v in zip(hv, directions)))
    result["jvp"] = float(directional().data)  # the loss's derivative along v: Σ grad · v
    return result


# ---------------------------------------------------------------- W7
W7_BATCH_SIZE, W7_DROPOUT, W7_SEED = 32, 0.3, 0
W7_LR, W7_EPS = 0.01, 1e-5  # Adam's learning rate; the batch norms' eps (PyTorch's default)


class CnnSetup(NamedTuple):
    """Everything W7's systems share: data, batch order, dropout masks, initial weights."""

    images: np.ndarray  # (1347, 1, 8, 8) in [0, 1]
    labels: np.ndarray
    batches: list[np.ndarray]  # indices into images, one array per batch, in training order
    masks: list[np.ndarray]  # (batch, 256): 0 where dropped, 1 / (1 - p) where kept
    weights: dict[str, np.ndarray]  # conv1, bn1, conv2, bn2, fc: .weight and .bias


@functools.cache  # the digits are read once per process, before the timed run
def w7_setup() -> CnnSetup:
    """``digits_cnn.py``'s training split and network, with its randomness fixed in NumPy.

    The batch order is ``default_rng(W7_SEED).permutation``, which is also the
    order ``tg.data.DataLoader(..., shuffle=True, seed=W7_SEED)`` gives on its
    first pass. Dropout is a product with these masks in every system, since
    each library draws its own random masks differently. The weights are drawn
    as PyTorch initialises the layers, U(-1/sqrt(fan_in), 1/sqrt(fan_in));
    batch norm starts at weight 1, bias 0. Callers copy the weights, never write them.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    train_x, _, train_y, _ = train_test_split(
        digits.data, digits.target, test_size=0.25, random_state=0, stratify=digits.target
    )
    images = train_x.reshape(-1, 1, 8, 8) / 16
    rng = np.random.default_rng(W7_SEED)
    order = rng.permutation(len(images))
    starts = range(0, len(order), W7_BATCH_SIZE)
    batches = [order[start : start + W7_BATCH_SIZE] for start in starts]
    scale = 1.0 / (1.0 - W7_DROPOUT)
    masks = [(rng.random((len(batch), 256)) >= W7_DROPOUT) * scale for batch in batches]
    weights = {}
    for name, shape in (("conv1", (32, 1, 3, 3)), ("conv2", (64, 32, 3, 3)), ("fc", (10, 256))):
        bound = 1 / np.sqrt(np.prod(shape[1:]))
        weights[f"{name}.weight"] = rng.uniform(-bound, bound, shape)
        weights[f"{name}.bias"] = rng.uniform(-bound, bound, shape[0])
    for name, channels in (("bn1", 32), ("bn2", 64)):
        weights[f"{name}.weight"] = np.ones(channels)
        weights[f"{name}.bias"] = np.zeros(channels)
    return CnnSetup(images, train_y.astype(np.int64), batches, masks, weights)


def _conv_from(weight: np.ndarray, bias: np.ndarray) -> nn.Conv2d:
    layer = nn.Conv2d(weight.shape[1], weight.shape[0], 3, padding=1, dtype=weight.dtype)
    layer.weight.data[...] = weight
    layer.bias.data[...] = bias
    return layer


def _batch_norm_from(weight: np.ndarray, bias: np.ndarray) -> nn.BatchNorm2d:
    layer = nn.BatchNorm2d(len(weight), eps=W7_EPS, dtype=weight.dtype)
    layer.weight.data[...] = weight
    layer.bias.data[...] = bias
    return layer


def w7_training() -> Training:
    """The network of ``digits_cnn.py`` with its ``Dropout`` replaced by the shared masks
    (a product between ``features`` and ``head``), and Adam; ``data`` holds the set-up
    and the two batch norms, whose running statistics the epoch reports."""
    data = w7_setup()
    w = data.weights
    features = nn.Sequential(
        _conv_from(w["conv1.weight"], w["conv1.bias"]),
        _batch_norm_from(w["bn1.weight"], w["bn1.bias"]),
        nn.ReLU(),
        nn.MaxPool2d(2),
        _conv_from(w["conv2.weight"], w["conv2.bias"]),
        _batch_norm_from(w["bn2.weight"], w["bn2.bias"]),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
    )
    head = _linear_from(w["fc.weight"], w["fc.bias"])
    first = data.batches[0]
    return Training(
        # Each batch has its own mask, so the mask is an argument, not a closed-over array.
        lambda images, mask, labels: F.cross_entropy(head(features(images) * mask), labels),
        (tg.from_numpy(data.images[first]), data.masks[0], data.labels[first]),
        optim.Adam([*features.parameters(), *head.parameters()], lr=W7_LR),
        (data, (features[1], features[5])),
    )


def w7_tinygrad(batches: int, compiled: bool = False) -> dict:
    """One epoch (``batches`` batches) of the digits CNN: conv-BN-ReLU-pool twice, then linear.

    Returns the last batch's loss and the sum of the batch norms' running statistics.
    """
    training = w7_training()
    step = FirstStep(tg.compile(training.loss_of)) if compiled else training.loss_of
    (data, norms), optimizer = training.data, training.optimizer
    for indices, mask in zip(data.batches[:batches], data.masks):
        loss = step(tg.from_numpy(data.images[indices]), mask, data.labels[indices])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    statistics = sum(float(n.running_mean.data.sum() + n.running_var.data.sum()) for n in norms)
    outcome = loop_result(loss.item(), step)
    times = outcome if isinstance(outcome, dict) else {"loss": outcome}
    return {**times, "running_stats": statistics}


# ---------------------------------------------------------------- W8
W8_BATCH_SIZE, W8_CONTEXT, W8_VOCABULARY, W8_SEED = 32, 64, 142, 0
W8_WIDTH, W8_HEADS, W8_LAYERS, W8_LR = 64, 4, 2, 3e-3


class TransformerSetup(NamedTuple):
    """Everything W8's systems share: the batches and the initial weights (float32)."""

    batches: list[tuple[np.ndarray, np.ndarray]]  # (inputs, targets), each (32, 64) codes
    weights: dict[str, np.ndarray]  # the state dict, under PyTorch's keys


def example(name: str) -> Any:
    """An example script of ``examples/``, as a module: W8 times the example's own model."""
    path = Path(__file__).resolve().parents[1] / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def w8_model() -> nn.Module:
    """``examples/char_transformer.py``'s model at W8's sizes, in float32."""
    return example("char_transformer").CharTransformer(
        W8_VOCABULARY, W8_CONTEXT, W8_WIDTH, W8_HEADS, W8_LAYERS, dtype=np.float32
    )


@functools.cache
def w8_setup() -> TransformerSetup:
    """Random character codes (the model's speed does not depend on the text), and the
    weights tinygrad_ann's layers draw after ``tg.manual_seed(W8_SEED)``."""
    rng = np.random.default_rng(W8_SEED)
    windows = rng.integers(0, W8_VOCABULARY, (EPOCHS["W8"], W8_BATCH_SIZE, W8_CONTEXT + 1))
    tg.manual_seed(W8_SEED)
    weights = {key: value.numpy().copy() for key, value in w8_model().state_dict().items()}
    return TransformerSetup([(window[:, :-1], window[:, 1:]) for window in windows], weights)


def w8_tinygrad(steps: int) -> float:
    """``steps`` AdamW steps of the character transformer: the last step's loss."""
    data = w8_setup()
    model = w8_model()
    model.load_state_dict(data.weights)  # copies
    optimizer = optim.AdamW(model.parameters(), lr=W8_LR)
    for inputs, targets in data.batches[:steps]:
        loss = F.cross_entropy(model(inputs).permute(0, 2, 1), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loss.item()


TRAININGS = {
    "W1": w1_training,
    "W2": w2_training,
    "W3": w3_training,
    "W4": w4_training,
    "W7": w7_training,
}
WORKLOADS: dict[str, dict[str, Callable[..., float | dict]]] = {
    "W1": {"numpy": w1_numpy, "tinygrad": w1_tinygrad},
    "W2": {"numpy": w2_numpy, "tinygrad": w2_tinygrad},
    "W3": {"numpy": w3_numpy, "tinygrad": w3_tinygrad},
    "W4": {"numpy": w4_numpy, "tinygrad": w4_tinygrad},
    "W1c": {"numpy": w1_numpy, "tinygrad": functools.partial(w1_tinygrad, compiled=True)},
    "W2c": {"numpy": w2_numpy, "tinygrad": functools.partial(w2_tinygrad, compiled=True)},
    "W3c": {"numpy": w3_numpy, "tinygrad": functools.partial(w3_tinygrad, compiled=True)},
    "W4c": {"numpy": w4_numpy, "tinygrad": functools.partial(w4_tinygrad, compiled=True)},
    "W5": {"numpy": w5_numpy, "tinygrad": w5_tinygrad},
    "W6": {"tinygrad": w6_tinygrad},
    "W7": {"tinygrad": w7_tinygrad},
    "W7c": {"tinygrad": functools.partial(w7_tinygrad, compiled=True)},
    "W8": {"tinygrad": w8_tinygrad},
}
SYSTEMS = ("numpy", "tinygrad")


def workload_function(system: str, workload: str) -> Callable[..., float | dict]:
    """The function that runs ``workload`` on ``system``; a peer's library is imported here."""
    if system in SYSTEMS:
        return WORKLOADS[workload][system]
    import peers  # only a peer's own process imports its (optional) library

    return peers.workload_function(system, workload)


def run(
    system: str, workload: str, quick: bool = False, memory: bool = False, width: int = 0
) -> dict:
    """Time one workload once; with ``memory``, measure the tracemalloc peak instead.

    One untimed iteration runs first, so that one-time costs (PyTorch imports
    parts of itself when the first optimizer is made) are not counted.
    W5 needs the hidden ``width``. W5 and W6 time their calls themselves (see
    ``time_blocks``); W6's "loss" is v·Hv, the same for every system.
    """
    function = workload_function(system, workload)
    iterations = w5_steps(width) if workload == "W5" else EPOCHS[workload]
    if quick:
        iterations = QUICK_ITERATIONS.get(workload, iterations // QUICK_DIVISOR or 1)
    extra = (width,) if workload == "W5" else ()
    function(1, *extra)  # untimed warm-up: lazy imports and first-call set-up
    if memory:
        tracemalloc.start()
    start = time.perf_counter()
    outcome = function(iterations, *extra)
    seconds = time.perf_counter() - start
    result = {"system": system, "workload": workload, "seconds": seconds, "iterations": iterations}
    result.update(outcome if isinstance(outcome, dict) else {"loss": outcome})
    if workload == "W5":
        result["width"] = width
    if memory:
        result["peak_bytes"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    if workload in COMPILED and system == "tinygrad":
        result["recording_steps"] = recording_cost(workload)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("system", help="numpy, tinygrad, or a peer from peers.py (torch-1t, ...)")
    parser.add_argument("workload", choices=sorted(WORKLOADS))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--width", type=int, default=0, help="W5's hidden width")
    arguments = parser.parse_args()
    if arguments.workload == "W5" and arguments.width <= 0:
        parser.error("W5 needs --width")
    result = run(
        arguments.system, arguments.workload, arguments.quick, arguments.memory, arguments.width
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()

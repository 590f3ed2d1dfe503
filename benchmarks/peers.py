"""The benchmark workloads written for other autograd libraries: PyTorch, MyGrad, autograd, JAX.

Each function does what its NumPy twin in ``workloads.py`` does: the same data,
the same initial weights, the same math and step count, so the final losses
agree. Each is written the way a user of that library would write it:

- PyTorch eager: ``torch.nn`` layers, ``torch.optim.SGD`` (W7: ``Adam``),
  ``loss.backward()``; float64 tensors, except W3 in float32. ``torch-1t`` and
  ``torch-2t`` run the same code with ``torch.set_num_threads(1)`` and ``(2)``.
- ``torch-compile``: the same code on 2 threads, with the step's forward and loss
  (W4: the chain and its sum) compiled by ``torch.compile`` in its default mode
  (Dynamo, AOTAutograd, Inductor's C++ kernels), as the PyTorch tutorials do:
  ``step = torch.compile(loss_of)``, then ``loss = step(inputs, targets)``,
  ``loss.backward()`` and ``optimizer.step()`` as in eager, the backward compiled by
  AOTAutograd on the first ``backward()``, the optimizer left eager. W1..W4
  and W7 (whose last, smaller batch compiles a second time).
- MyGrad: ``mygrad`` tensors, ``loss.backward()``, SGD updates on ``.data``
  (its memory guard left on, as installed). MyGrad has no optimizers: W7's Adam
  is written out on the arrays, the same update as ``torch.optim.Adam``.
- HIPS autograd: a loss function of the parameters written in ``autograd.numpy``,
  differentiated by ``autograd.value_and_grad``; updates on plain arrays.
- JAX (``jax``): the whole training step, ``jax.value_and_grad`` of a loss
  written in ``jax.numpy`` and the SGD update of the parameters (a tuple of
  arrays), under one ``jax.jit``; W4 jits ``value_and_grad`` of the chain.
  float64 (``jax_enable_x64``), except W3 in float32; XLA's CPU threads as it
  sets them. W1..W4.

The compiled peers compile inside the timed run, as tinygrad_ann's W1c..W4c
record there: their caches of the untimed warm-up run are dropped first
(``torch.compiler.reset()``, ``jax.clear_caches()``), so the first step traces
and compiles again; Inductor's own caches, on disk and in the process, stay as
PyTorch keeps them. They report that first step's seconds (``first_step_seconds``)
and the mean seconds of the steps after it (``steady_step_seconds``), as W1c..W4c do.

W1..W4 exist for all; W5 (``cost_curve.py``'s training step) and W6 (a
gradient and a Hessian-vector product by double backward) for PyTorch eager
only; W7 (an epoch of the digits CNN) for PyTorch (eager and compiled) and
MyGrad, whose ``mygrad.nnet`` has convolution, max pooling and batch norm (HIPS
autograd has none of them; nor has JAX without a library of layers).

All four libraries are optional: each is imported only in the process that
runs it (``workloads.py SYSTEM WORKLOAD``). Run this file to see which are
importable here:

    python benchmarks/peers.py     # prints {"torch": "2.13.0", "mygrad": null, ...}
"""

from __future__ import annotations

import argparse
import functools
import importlib
import importlib.metadata
import json
import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from workloads import (
    CHAIN_REPEATS,
    W7_EPS,
    W7_LR,
    W8_CONTEXT,
    W8_HEADS,
    W8_LAYERS,
    W8_LR,
    W8_VOCABULARY,
    W8_WIDTH,
    FirstStep,
    batches,
    example,
    loop_result,
    time_blocks,
    w1_setup,
    w2_setup,
    w3_setup,
    w5_setup,
    w6_setup,
    w7_setup,
    w8_setup,
)


class Peer(NamedTuple):
    """A peer system: the library it imports, PyTorch's thread count, its workloads' key."""

    library: str
    threads: int | None
    code: str  # the key of its functions in WORKLOADS


SYSTEMS: dict[str, Peer] = {
    "torch-1t": Peer("torch", 1, "torch"),
    "torch-2t": Peer("torch", 2, "torch"),
    "torch-compile": Peer("torch", 2, "torch.compile"),
    "mygrad": Peer("mygrad", None, "mygrad"),
    "autograd": Peer("autograd", None, "autograd"),
    "jax": Peer("jax", None, "jax"),
}
LIBRARIES = ("torch", "mygrad", "autograd", "jax")


# ---------------------------------------------------------------- compiled steps
# ---------------------------------------------------------------- PyTorch
def _torch_compiled(function: Callable) -> FirstStep:
    """``torch.compile(function)`` (Inductor, default mode), with Dynamo's caches emptied
    first so that it traces and compiles again in the timed run, not only in the warm-up.
    Inductor's own caches (on disk, and in this process) are left as PyTorch keeps them."""
    import torch

    torch.compiler.reset()
    return FirstStep(torch.compile(function))


def _torch_linear(weight: np.ndarray, bias: np.ndarray):
    import torch

    layer = torch.nn.Linear(weight.shape[1], weight.shape[0], dtype=torch.from_numpy(weight).dtype)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(weight))
        layer.bias.copy_(torch.from_numpy(bias))
    return layer


def w1_torch(epochs: int, compiled: bool = False) -> float | dict:
    import torch

    X, y, weight, bias = w1_setup()
    layer = _torch_linear(weight, bias)
    inputs, targets = torch.from_numpy(X), torch.from_numpy(y)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.05)

    def loss_of(inputs, targets):
        output = torch.sigmoid(layer(inputs))
        return 0.5 * torch.nn.functional.mse_loss(output, targets, reduction="sum")

    step = _torch_compiled(loss_of) if compiled else loss_of
    for _ in range(epochs):
        loss = step(inputs, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loop_result(loss.item(), step)


def w2_torch(passes: int, compiled: bool = False) -> float | dict:
    import torch

    X, labels, w1, b1, w2, b2 = w2_setup()
    model = torch.nn.Sequential(_torch_linear(w1, b1), torch.nn.Tanh(), _torch_linear(w2, b2))
    inputs, targets = torch.from_numpy(X), torch.from_numpy(labels)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)

    def loss_of(inputs, targets):
        return torch.nn.functional.cross_entropy(model(inputs), targets)

    step = _torch_compiled(loss_of) if compiled else loss_of
    for _ in range(passes):
        loss = step(inputs, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loop_result(loss.item(), step)


def w3_torch(steps: int, compiled: bool = False) -> float | dict:
    import torch

    images, labels, w1, b1, w2, b2 = w3_setup()
    model = torch.nn.Sequential(_torch_linear(w1, b1), torch.nn.ReLU(), _torch_linear(w2, b2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)

    def loss_of(inputs, targets):
        return torch.nn.functional.cross_entropy(model(inputs), targets)

    step = _torch_compiled(loss_of) if compiled else loss_of
    for x, y in batches(images, labels, steps):
        loss = step(torch.from_numpy(x), torch.from_numpy(y))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loop_result(loss.item(), step)


def _torch_chain(x):
    import torch

    for _ in range(CHAIN_REPEATS):
        x = torch.tanh(x * 1.0001)
        x = torch.tanh(x + 0.0001)
    return x.sum()


def w4_torch(repeats: int, compiled: bool = False) -> float | dict:
    import torch

    start = np.array([0.1, -0.2, 0.3, 0.4])
    step = _torch_compiled(_torch_chain) if compiled else _torch_chain
    for _ in range(repeats):
        leaf = torch.tensor(start, requires_grad=True)
        total = step(leaf)
        total.backward()
    return loop_result(total.item() + leaf.grad.sum().item(), step)


def w5_torch(steps: int, width: int) -> dict:
    import torch

    inputs, labels, w1, b1, w2, b2 = w5_setup(width)
    model = torch.nn.Sequential(_torch_linear(w1, b1), torch.nn.Tanh(), _torch_linear(w2, b2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    data = batches(inputs, labels)

    def step() -> float:
        x, y = next(data)
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    return {**time_blocks(steps, step=step), "loss": step()}


def w6_torch(calls: int) -> dict:
    """One gradient of W2's loss, one Hessian-vector product by double backward, and one
    JVP by ``torch.func.jvp`` (forward-mode AD with dual numbers)."""
    import torch
    import torch.nn.functional as TF

    X, labels, arrays, directions = w6_setup()
    parameters = [torch.tensor(a, requires_grad=True) for a in arrays]
    inputs, targets = torch.from_numpy(X), torch.from_numpy(labels)
    vectors = [torch.from_numpy(v) for v in directions]

    def loss_of(w1, b1, w2, b2):
        return TF.cross_entropy(TF.linear(torch.tanh(TF.linear(inputs, w1, b1)), w2, b2), targets)

    def gradient():
        return torch.autograd.grad(loss_of(*parameters), parameters)

    def product():
        gradients = torch.autograd.grad(loss_of(*parameters), parameters, create_graph=True)
        dot = sum((g * v).sum() for g, v in zip(gradients, vectors))
        return torch.autograd.grad(dot, parameters)

    values = tuple(p.detach() for p in parameters)

    def directional():
        return torch.func.jvp(loss_of, values, tuple(vectors))[1]

    result = time_blocks(calls, grad=gradient, hvp=product, jvp=directional)
    hv = product()
    result["loss"] = sum((h * v).sum().item() for h, v in zip(hv, vectors))
    result["jvp"] = directional().item()
    return result


def w7_torch(batches: int, compiled: bool = False) -> dict:
    """The digits CNN for one epoch, as ``workloads.w7_tinygrad``: the same layers and masks."""
    import torch
    import torch.nn.functional as TF

    data = w7_setup()
    nn, float64 = torch.nn, torch.float64

    def loaded(layer, name):
        with torch.no_grad():
            layer.weight.copy_(torch.tensor(data.weights[f"{name}.weight"]))
            layer.bias.copy_(torch.tensor(data.weights[f"{name}.bias"]))
        return layer

    features = nn.Sequential(
        loaded(nn.Conv2d(1, 32, 3, padding=1, dtype=float64), "conv1"),
        loaded(nn.BatchNorm2d(32, eps=W7_EPS, dtype=float64), "bn1"),
        nn.ReLU(),
        nn.MaxPool2d(2),
        loaded(nn.Conv2d(32, 64, 3, padding=1, dtype=float64), "conv2"),
        loaded(nn.BatchNorm2d(64, eps=W7_EPS, dtype=float64), "bn2"),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
    )
    head = loaded(nn.Linear(256, 10, dtype=float64), "fc")
    optimizer = torch.optim.Adam([*features.parameters(), *head.parameters()], lr=W7_LR)

    def loss_of(images, mask, labels):
        return TF.cross_entropy(head(features(images) * mask), labels)

    step = _torch_compiled(loss_of) if compiled else loss_of
    for indices, mask in zip(data.batches[:batches], data.masks):
        images, labels = data.images[indices], data.labels[indices]
        loss = step(torch.from_numpy(images), torch.from_numpy(mask), torch.from_numpy(labels))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    norms = (features[1], features[5])
    statistics = sum((n.running_mean.sum() + n.running_var.sum()).item() for n in norms)
    outcome = {"loss": loss.item(), "running_stats": statistics}
    return {**step.outcome(loss.item()), **outcome} if isinstance(step, FirstStep) else outcome


def w8_torch(steps: int) -> float:
    """The character transformer, as ``workloads.w8_tinygrad``: the same weights and batches."""
    import torch
    import torch.nn.functional as TF

    data = w8_setup()
    sizes = argparse.Namespace(width=W8_WIDTH, heads=W8_HEADS, layers=W8_LAYERS, length=W8_CONTEXT)
    compare = example("char_compare")  # the examples' PyTorch twin of the model
    model = compare.torch_twin("transformer", sizes, W8_VOCABULARY, torch, torch.float32)
    model.load_state_dict({key: torch.from_numpy(value) for key, value in data.weights.items()})
    optimizer = torch.optim.AdamW(model.parameters(), lr=W8_LR)
    for inputs, targets in data.batches[:steps]:
        logits = model(torch.from_numpy(inputs))
        loss = TF.cross_entropy(logits.permute(0, 2, 1), torch.from_numpy(targets))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loss.item()


# ---------------------------------------------------------------- MyGrad
def w1_mygrad(epochs: int) -> float:
    import mygrad as mg

    X, y, weight, bias = w1_setup()
    weight, bias, lr = mg.tensor(weight), mg.tensor(bias), 0.05
    for _ in range(epochs):
        error = mg.nnet.sigmoid(mg.matmul(X, weight.T) + bias) - y
        loss = 0.5 * mg.sum(error * error)
        loss.backward()
        weight.data -= lr * weight.grad
        bias.data -= lr * bias.grad
    return loss.item()


def w2_mygrad(passes: int) -> float:
    import mygrad as mg

    X, labels, *arrays = w2_setup()
    w1, b1, w2, b2 = (mg.tensor(a) for a in arrays)
    lr = 0.5
    for _ in range(passes):
        hidden = mg.tanh(mg.matmul(X, w1.T) + b1)
        loss = mg.nnet.softmax_crossentropy(mg.matmul(hidden, w2.T) + b2, labels)
        loss.backward()
        for parameter in (w1, b1, w2, b2):
            parameter.data -= lr * parameter.grad
    return loss.item()


def w3_mygrad(steps: int) -> float:
    import mygrad as mg

    images, labels, *arrays = w3_setup()
    w1, b1, w2, b2 = (mg.tensor(a) for a in arrays)
    lr = np.float32(0.01)
    for x, y in batches(images, labels, steps):
        hidden = mg.nnet.relu(mg.matmul(x, w1.T) + b1)
        loss = mg.nnet.softmax_crossentropy(mg.matmul(hidden, w2.T) + b2, y)
        loss.backward()
        for parameter in (w1, b1, w2, b2):
            parameter.data -= lr * parameter.grad
    return loss.item()


def w4_mygrad(repeats: int) -> float:
    import mygrad as mg

    start = np.array([0.1, -0.2, 0.3, 0.4])
    for _ in range(repeats):
        leaf = mg.tensor(start)
        x = leaf
        for _ in range(CHAIN_REPEATS):
            x = mg.tanh(x * 1.0001)
            x = mg.tanh(x + 0.0001)
        total = x.sum()
        total.backward()
    return total.item() + float(leaf.grad.sum())


def w7_mygrad(batches: int) -> dict:
    """The digits CNN for one epoch with ``mygrad.nnet``'s layers and Adam written out.

    ``batchnorm`` has no running statistics: they are updated from the batch
    outside the graph, as PyTorch does (unbiased variance, momentum 0.1).
    """
    import mygrad as mg
    from mygrad.nnet import batchnorm, conv_nd, max_pool, relu, softmax_crossentropy

    data = w7_setup()
    parameters = {name: mg.tensor(array) for name, array in data.weights.items()}
    running = {
        norm: [np.zeros(channels), np.ones(channels)]
        for norm, channels in (("bn1", 32), ("bn2", 64))
    }

    def block(x, conv: str, norm: str):
        bias = parameters[f"{conv}.bias"].reshape(1, -1, 1, 1)
        z = conv_nd(x, parameters[f"{conv}.weight"], stride=1, padding=1) + bias
        statistics = running[norm]
        statistics[0] = 0.9 * statistics[0] + 0.1 * z.data.mean(axis=(0, 2, 3))
        statistics[1] = 0.9 * statistics[1] + 0.1 * z.data.var(axis=(0, 2, 3), ddof=1)
        gamma, beta = parameters[f"{norm}.weight"], parameters[f"{norm}.bias"]
        z = batchnorm(z, gamma=gamma, beta=beta, eps=W7_EPS)
        return max_pool(relu(z), (2, 2), 2)

    adam = _Adam(list(parameters.values()), lr=W7_LR)
    for indices, mask in zip(data.batches[:batches], data.masks):
        x = block(block(data.images[indices], "conv1", "bn1"), "conv2", "bn2")
        features = x.reshape(len(indices), -1) * mask
        logits = mg.matmul(features, parameters["fc.weight"].T) + parameters["fc.bias"]
        loss = softmax_crossentropy(logits, data.labels[indices])
        loss.backward()
        adam.step()
    statistics = sum(float(mean.sum() + var.sum()) for mean, var in running.values())
    return {"loss": loss.item(), "running_stats": statistics}


class _Adam:
    """``torch.optim.Adam``'s update (no weight decay) of tensors' ``.data`` by their ``.grad``."""

    def __init__(self, parameters: list, lr: float, betas=(0.9, 0.999), eps: float = 1e-8):
        self.parameters, self.lr, self.betas, self.eps = parameters, lr, betas, eps
        self.moments = [(np.zeros_like(p.data), np.zeros_like(p.data)) for p in parameters]
        self.steps = 0

    def step(self) -> None:
        beta1, beta2 = self.betas
        self.steps += 1
        step_size = self.lr / (1 - beta1**self.steps)
        correction = math.sqrt(1 - beta2**self.steps)
        for parameter, (exp_avg, exp_avg_sq) in zip(self.parameters, self.moments):
            grad = parameter.grad
            exp_avg *= beta1
            exp_avg += (1 - beta1) * grad
            exp_avg_sq *= beta2
            exp_avg_sq += (1 - beta2) * grad * grad
            parameter.data -= step_size * exp_avg / (np.sqrt(exp_avg_sq) / correction + self.eps)


# ---------------------------------------------------------------- HIPS autograd
def w1_autograd(epochs: int) -> float:
    import autograd.numpy as anp
    from autograd import value_and_grad

    X, y, weight, bias = w1_setup()

    def loss_of(weight, bias):
        s = anp.exp(-anp.logaddexp(0.0, -(X @ weight.T + bias)))
        error = s - y
        return 0.5 * anp.sum(error * error)

    step, lr = value_and_grad(loss_of, argnum=(0, 1)), 0.05
    for _ in range(epochs):
        loss, (d_weight, d_bias) = step(weight, bias)
        weight -= lr * d_weight
        bias -= lr * d_bias
    return float(loss)


def _log_softmax_autograd(logits):
    import autograd.numpy as anp

    shifted = logits - anp.max(logits, axis=1, keepdims=True)
    return shifted - anp.log(anp.sum(anp.exp(shifted), axis=1, keepdims=True))


def w2_autograd(passes: int) -> float:
    import autograd.numpy as anp
    from autograd import value_and_grad

    X, labels, *parameters = w2_setup()
    n, onehot = len(labels), np.eye(2)[labels]

    def loss_of(w1, b1, w2, b2):
        logits = anp.tanh(X @ w1.T + b1) @ w2.T + b2
        return -anp.sum(_log_softmax_autograd(logits) * onehot) / n

    step, lr = value_and_grad(loss_of, argnum=(0, 1, 2, 3)), 0.5
    for _ in range(passes):
        loss, gradients = step(*parameters)
        for parameter, gradient in zip(parameters, gradients):
            parameter -= lr * gradient
    return float(loss)


def w3_autograd(steps: int) -> float:
    import autograd.numpy as anp
    from autograd import value_and_grad

    images, labels, *parameters = w3_setup()

    def loss_of(w1, b1, w2, b2, x, y):
        logits = anp.maximum(x @ w1.T + b1, 0.0) @ w2.T + b2
        return -anp.mean(_log_softmax_autograd(logits)[np.arange(len(y)), y])

    step, lr = value_and_grad(loss_of, argnum=(0, 1, 2, 3)), np.float32(0.01)
    for x, y in batches(images, labels, steps):
        loss, gradients = step(*parameters, x, y)
        for parameter, gradient in zip(parameters, gradients):
            parameter -= lr * gradient
    return float(loss)


def w4_autograd(repeats: int) -> float:
    import autograd.numpy as anp
    from autograd import value_and_grad

    def chain(x):
        for _ in range(CHAIN_REPEATS):
            x = anp.tanh(x * 1.0001)
            x = anp.tanh(x + 0.0001)
        return anp.sum(x)

    start = np.array([0.1, -0.2, 0.3, 0.4])
    for _ in range(repeats):
        total, grad = value_and_grad(chain)(start)
    return float(total + grad.sum())


# ---------------------------------------------------------------- JAX
def _jax():
    """``jax`` and ``jax.numpy`` in float64 (W3's float32 arrays stay float32), with the
    compiled functions of earlier calls dropped, so that the timed run compiles its own."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    jax.clear_caches()
    return jax, jnp


def _jax_sgd(jax, loss_of: Callable, lr: float) -> FirstStep:
    """One jitted training step: the loss and its gradient, then the SGD update.

    ``step(parameters, *data)`` returns the new parameters and the loss.
    """

    @jax.jit
    def step(parameters, *data):
        loss, gradients = jax.value_and_grad(loss_of)(parameters, *data)
        return jax.tree.map(lambda p, g: p - lr * g, parameters, gradients), loss

    return FirstStep(step)


def w1_jax(epochs: int) -> dict:
    jax, jnp = _jax()
    X, y, weight, bias = w1_setup()

    def loss_of(parameters, X, y):
        weight, bias = parameters
        error = jax.nn.sigmoid(X @ weight.T + bias) - y
        return 0.5 * jnp.sum(error * error)

    step = _jax_sgd(jax, loss_of, lr=0.05)
    parameters, X, y = (jnp.asarray(weight), jnp.asarray(bias)), jnp.asarray(X), jnp.asarray(y)
    for _ in range(epochs):
        parameters, loss = step(parameters, X, y)
    return step.outcome(float(loss))


def w2_jax(passes: int) -> dict:
    jax, jnp = _jax()
    X, labels, *arrays = w2_setup()

    def loss_of(parameters, X, onehot):
        w1, b1, w2, b2 = parameters
        logits = jnp.tanh(X @ w1.T + b1) @ w2.T + b2
        return -jnp.sum(jax.nn.log_softmax(logits) * onehot) / len(onehot)

    step = _jax_sgd(jax, loss_of, lr=0.5)
    parameters = tuple(jnp.asarray(a) for a in arrays)
    X, onehot = jnp.asarray(X), jnp.asarray(np.eye(2)[labels])
    for _ in range(passes):
        parameters, loss = step(parameters, X, onehot)
    return step.outcome(float(loss))


def w3_jax(steps: int) -> dict:
    jax, jnp = _jax()
    images, labels, *arrays = w3_setup()

    def loss_of(parameters, x, y):
        w1, b1, w2, b2 = parameters
        logits = jax.nn.relu(x @ w1.T + b1) @ w2.T + b2
        log_probs = jax.nn.log_softmax(logits)
        return -jnp.mean(jnp.take_along_axis(log_probs, y[:, None], axis=1))

    step = _jax_sgd(jax, loss_of, lr=0.01)  # a Python float: the float32 arrays stay float32
    parameters = tuple(jnp.asarray(a) for a in arrays)
    for x, y in batches(images, labels, steps):
        parameters, loss = step(parameters, jnp.asarray(x), jnp.asarray(y))
    return step.outcome(float(loss))


def w4_jax(repeats: int) -> dict:
    jax, jnp = _jax()

    def chain(x):
        for _ in range(CHAIN_REPEATS):
            x = jnp.tanh(x * 1.0001)
            x = jnp.tanh(x + 0.0001)
        return jnp.sum(x)

    step = FirstStep(jax.jit(jax.value_and_grad(chain)))
    start = np.array([0.1, -0.2, 0.3, 0.4])
    for _ in range(repeats):
        total, grad = step(jnp.asarray(start))
    return step.outcome(float(total) + float(grad.sum()))


def _compiled(function: Callable[..., float | dict]) -> Callable[..., float | dict]:
    return functools.partial(function, compiled=True)


WORKLOADS: dict[str, dict[str, Callable[..., float | dict]]] = {
    "W1": {
        "torch": w1_torch,
        "torch.compile": _compiled(w1_torch),
        "mygrad": w1_mygrad,
        "autograd": w1_autograd,
        "jax": w1_jax,
    },
    "W2": {
        "torch": w2_torch,
        "torch.compile": _compiled(w2_torch),
        "mygrad": w2_mygrad,
        "autograd": w2_autograd,
        "jax": w2_jax,
    },
    "W3": {
        "torch": w3_torch,
        "torch.compile": _compiled(w3_torch),
        "mygrad": w3_mygrad,
        "autograd": w3_autograd,
        "jax": w3_jax,
    },
    "W4": {
        "torch": w4_torch,
        "torch.compile": _compiled(w4_torch),
        "mygrad": w4_mygrad,
        "autograd": w4_autograd,
        "jax": w4_jax,
    },
    "W5": {"torch": w5_torch},
    "W6": {"torch": w6_torch},
    "W7": {"torch": w7_torch, "torch.compile": _compiled(w7_torch), "mygrad": w7_mygrad},
    "W8": {"torch": w8_torch},
}


def has_workload(system: str, workload: str) -> bool:
    """Whether the peer ``system`` has a version of ``workload``."""
    return SYSTEMS[system].code in WORKLOADS.get(workload, {})


def workload_function(system: str, workload: str) -> Callable[..., float | dict]:
    """Import ``system``'s library (and set PyTorch's thread count) and return its workload."""
    peer = SYSTEMS[system]
    module = importlib.import_module(peer.library)
    if peer.threads is not None:
        module.set_num_threads(peer.threads)
    return WORKLOADS[workload][peer.code]


def versions() -> dict[str, str | None]:
    """Each peer library's version, or None where it does not import."""
    found = {}
    for library in LIBRARIES:
        try:
            importlib.import_module(library)
            found[library] = importlib.metadata.version(library)
        except Exception:  # not installed, or installed but broken: either way, not here
            found[library] = None
    return found


if __name__ == "__main__":
    print(json.dumps(versions()))

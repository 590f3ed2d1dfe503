"""How fast can a reverse-mode engine written in Python over NumPy be? A lower bound.

A *skeleton* tape records, per op, one result object and one node (backward
function, parents, saved values) and nothing else: no grad-mode switch, no
input checks, no guard on saved arrays, no broadcasting or dtype handling, no
topological order (it runs chains only), no anomaly mode, no module scopes.
It is not a usable library; it measures the cost every Python-level engine
pays, so that tinygrad_ann's ratios to NumPy can be read against it:

    python benchmarks/floor.py [--repeats 5]

prints, for W1 and W4 (the two workloads where per-op overhead dominates), the
median time of hand-written NumPy, the skeleton and tinygrad_ann, each run in
its own process, interleaved. All three compute the same final loss.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import workloads


class _Value:
    __slots__ = ("data", "grad", "node")

    def __init__(self, data: Any, node: _Node | None = None) -> None:
        self.data, self.grad, self.node = data, None, node


class _Node:
    __slots__ = ("backward", "parents", "saved")

    def __init__(self, backward: Callable, parents: tuple, saved: Any) -> None:
        self.backward, self.parents, self.saved = backward, parents, saved


def _record(out: Any, backward: Callable, parents: tuple, saved: Any) -> _Value:
    return _Value(out, _Node(backward, parents, saved))


def _backward(root: _Value) -> None:
    """Chains only: every op's result has exactly one consumer."""
    value, grad = root, np.ones_like(root.data)
    while value.node is not None:
        node, next_value = value.node, None
        for parent, parent_grad in zip(node.parents, node.backward(node.saved, grad)):
            if parent_grad is None:
                continue
            if parent.node is None:
                parent.grad = parent_grad if parent.grad is None else parent.grad + parent_grad
            else:
                next_value, next_grad = parent, parent_grad
        if next_value is None:
            return
        value, grad = next_value, next_grad


def _linear(x: _Value, weight: _Value, bias: _Value) -> _Value:
    def backward(saved, grad):
        return None, grad.T @ saved, grad.sum(axis=0)

    return _record(x.data @ weight.data.T + bias.data, backward, (x, weight, bias), x.data)


def _sigmoid(x: _Value) -> _Value:
    def backward(out, grad):
        return (grad * out * (1 - out),)

    out = np.exp(-np.logaddexp(0, -x.data))
    return _record(out, backward, (x,), out)


def _tanh(x: _Value) -> _Value:
    def backward(out, grad):
        return (grad * (1 - out * out),)

    out = np.tanh(x.data)
    return _record(out, backward, (x,), out)


def _squared_error_sum(prediction: _Value, target: np.ndarray) -> _Value:
    def backward(difference, grad):
        return (2 * grad * difference,)

    difference = prediction.data - target
    return _record(np.sum(difference * difference), backward, (prediction,), difference)


def _times(x: _Value, constant: float) -> _Value:
    def backward(constant, grad):
        return (grad * constant,)

    return _record(x.data * constant, backward, (x,), constant)


def _plus(x: _Value, constant: float) -> _Value:
    def backward(_, grad):
        return (grad,)

    return _record(x.data + constant, backward, (x,), None)


def _total(x: _Value) -> _Value:
    def backward(shape, grad):
        return (np.broadcast_to(grad, shape).copy(),)

    return _record(x.data.sum(), backward, (x,), x.data.shape)


def w1_skeleton(epochs: int) -> float:
    X, y, weight, bias = workloads.w1_setup()
    weight, bias, inputs = _Value(weight), _Value(bias), _Value(X)
    for _ in range(epochs):
        loss = _times(_squared_error_sum(_sigmoid(_linear(inputs, weight, bias)), y), 0.5)
        weight.grad = bias.grad = None
        _backward(loss)
        weight.data -= 0.05 * weight.grad
        bias.data -= 0.05 * bias.grad
    return float(loss.data)


def w4_skeleton(repeats: int) -> float:
    start = np.array([0.1, -0.2, 0.3, 0.4])
    for _ in range(repeats):
        leaf = x = _Value(start.copy())
        for _ in range(workloads.CHAIN_REPEATS):
            x = _tanh(_times(x, 1.0001))
            x = _tanh(_plus(x, 0.0001))
        total = _total(x)
        _backward(total)
    return float(total.data + leaf.grad.sum())


SKELETON = {"W1": w1_skeleton, "W4": w4_skeleton}
SYSTEMS = ("numpy", "skeleton", "tinygrad")


def run_one(system: str, workload: str) -> dict:
    """Time one workload on one system in this process (after an untimed warm-up)."""
    if system == "skeleton":
        function = SKELETON[workload]
    else:
        function = workloads.WORKLOADS[workload][system]
    function(1)
    start = time.perf_counter()
    loss = function(workloads.EPOCHS[workload])
    return {"seconds": time.perf_counter() - start, "loss": loss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--one", nargs=2, metavar=("SYSTEM", "WORKLOAD"), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.one:
        print(json.dumps(run_one(*arguments.one)))
        return
    script = str(Path(__file__).resolve())
    print("time / NumPy's time, medians; each run a fresh process")
    print(f"{'workload':10}{'numpy':>10}{'skeleton':>10}{'tinygrad':>10}")
    for workload in SKELETON:
        seconds: dict[str, list[float]] = {system: [] for system in SYSTEMS}
        losses = set()
        for _ in range(arguments.repeats):
            for system in SYSTEMS:
                command = [sys.executable, script, "--one", system, workload]
                output = subprocess.run(command, capture_output=True, text=True, check=True)
                result = json.loads(output.stdout)
                seconds[system].append(result["seconds"])
                losses.add(round(result["loss"], 12))
        if len(losses) != 1:
            raise SystemExit(f"{workload}: the systems disagree on the final loss: {losses}")
        base = statistics.median(seconds["numpy"])
        ratios = [statistics.median(seconds[s]) / base for s in SYSTEMS[1:]]
        print(f"{workload:10}{base:9.3f}s" + "".join(f"{r:9.2f}x" for r in ratios))


if __name__ == "__main__":
    main()

"""Running the function to export and reading what autograd recorded.

:func:`record` runs it once and lists the recorded ops in the order they ran;
:func:`record_again` runs it on a second example and :func:`compare_runs` checks
that the same graph was recorded, finding which axes follow the batch size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import conv_ops, norm_ops, ops
from ..autograd import Function, enable_grad, recorded_results
from ..tensor import Tensor

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class ExportError(ValueError):
    """The model cannot be exported as asked; the message says why and what to do."""

    __module__ = "tinygrad_ann.onnx"  # tracebacks name it by its public path


@dataclass
class Trace:
    inputs: list[Tensor]
    outputs: list[Tensor]
    nodes: list[Tensor]  # results of recorded ops, in the order they were computed


def record(fn: Callable[..., Any], arrays: list[np.ndarray]) -> Trace:
    inputs = [Tensor(array, requires_grad=True) for array in arrays]
    with enable_grad():  # an export inside no_grad() must still record
        result = fn(*inputs)
    if isinstance(result, Tensor):
        outputs = [result]
    elif isinstance(result, tuple | list) and result:
        outputs = list(result)
    else:
        outputs = []
    if not all(isinstance(output, Tensor) for output in outputs):
        outputs = []
    if not outputs:
        raise TypeError(
            f"export: the function returned a {type(result).__name__}; it must return a Tensor "
            "or a tuple of Tensors"
        )
    return Trace(inputs, outputs, recorded_results(outputs))


def recorded_op(tensor: Tensor) -> Function:
    ctx = tensor.grad_fn
    assert ctx is not None
    return ctx


def options_of(ctx: Function) -> dict[str, Any]:
    """The keyword options the op's forward received (its geometry, eps, statistics)."""
    options: dict[str, Any] = getattr(ctx, "options", {})
    return options


def second_example(arrays: list[np.ndarray], dynamic_batch: bool) -> list[np.ndarray] | None:
    if dynamic_batch:
        # One more row than the example, rows shifted by one: the shapes and the values differ.
        size = arrays[0].shape[0]
        rows = (np.arange(size + 1) + 1) % size
        return [array[rows] for array in arrays]
    if not any(array.ndim and array.shape[0] > 1 for array in arrays):
        return None  # nothing to reorder
    return [
        np.roll(array, 1, axis=0) if array.ndim and array.shape[0] > 1 else array
        for array in arrays
    ]


def rerun_label(arrays: list[np.ndarray], dynamic_batch: bool) -> str:
    """How the second run's inputs differ, for messages."""
    return f"batch size {len(arrays[0])}" if dynamic_batch else "the example rows in another order"


def record_again(fn: Callable[..., Any], arrays: list[np.ndarray], dynamic_batch: bool) -> Trace:
    try:
        # Rows mixed in a new way may leave an op's domain; the values are only compared.
        with np.errstate(all="ignore"):
            return record(fn, arrays)
    except Exception as error:
        hint = (
            ". Write shapes from x.shape or with -1 rather than the example's batch size; if "
            "the first axis of the inputs is not a batch axis, pass dynamic_batch=False"
            if dynamic_batch
            else ""
        )
        raise ExportError(
            f"export: the function failed when run again on {rerun_label(arrays, dynamic_batch)} "
            f"({type(error).__name__}: {error}){hint}"
        ) from error


def compare_runs(
    first: Trace, second: Trace, what: str, dynamic_batch: bool
) -> dict[int, frozenset[int]]:
    """Check that the second run recorded the same graph; the axes of each op result
    that changed size with the batch, by ``id`` of the first run's tensor."""

    def roles(trace: Trace) -> dict[int, tuple[str, int]]:
        found = {id(tensor): ("input", k) for k, tensor in enumerate(trace.inputs)}
        found.update({id(tensor): ("op", k) for k, tensor in enumerate(trace.nodes)})
        return found

    def differ(detail: str) -> ExportError:
        return ExportError(
            f"export: run again on {what}, the function recorded a different graph ({detail}): "
            "its ops depend on the input values (Python control flow such as "
            "`if x.sum() > 0`), which an exported graph cannot follow"
            + ("; or on the batch size, then pass dynamic_batch=False" if dynamic_batch else "")
        )

    first_roles, second_roles = roles(first), roles(second)
    if len(first.nodes) != len(second.nodes):
        raise differ(f"{len(first.nodes)} ops, then {len(second.nodes)}")
    batch_axes: dict[int, frozenset[int]] = {}
    for index, (one, two) in enumerate(zip(first.nodes, second.nodes)):
        ctx_one, ctx_two = recorded_op(one), recorded_op(two)
        name = ctx_one.op_name()
        if type(ctx_one) is not type(ctx_two) or len(ctx_one.inputs) != len(ctx_two.inputs):
            raise differ(f"op {index} was {name}, then {ctx_two.op_name()}")
        if one.ndim != two.ndim:
            raise differ(f"{name} gave shapes {one.shape}, then {two.shape}")
        for position, (parent_one, parent_two) in enumerate(zip(ctx_one.parents, ctx_two.parents)):
            if (parent_one is None) != (parent_two is None):
                raise differ(f"input {position} of {name} was a Tensor in one run only")
            if parent_one is not None and parent_two is not None:
                role = first_roles.get(id(parent_one), ("leaf", 0))
                if role != second_roles.get(id(parent_two), ("leaf", 0)):
                    raise differ(f"input {position} of {name} came from another op")
                if role[0] != "leaf" or parent_one is parent_two:
                    continue
                value_one, value_two = parent_one.data, parent_two.data
            else:
                value_one, value_two = ctx_one.inputs[position], ctx_two.inputs[position]
            label = f"input {position} of {name}"
            _check_same_constant(label, value_one, value_two, what, dynamic_batch)
        if one.dtype != two.dtype:
            raise differ(f"{name} gave dtype {one.dtype}, then {two.dtype}")
        # Options (axis, bounds, slope) were keyword arguments: forward kept them in saved.
        for option, position in _SAVED_OPTIONS.get(type(ctx_one), {}).items():
            label = f"the {option} of {name}"
            value_one, value_two = ctx_one.saved[position], ctx_two.saved[position]
            _check_same_constant(label, value_one, value_two, what, dynamic_batch)
        for option, key in _KEYWORD_OPTIONS.get(type(ctx_one), {}).items():
            label = f"the {option} of {name}"
            value_one, value_two = options_of(ctx_one)[key], options_of(ctx_two)[key]
            _check_same_constant(label, value_one, value_two, what, dynamic_batch)
        batch_axes[id(one)] = frozenset(
            axis for axis, (a, b) in enumerate(zip(one.shape, two.shape)) if a != b
        )
    for position, (one, two) in enumerate(zip(first.outputs, second.outputs)):
        if first_roles.get(id(one)) != second_roles.get(id(two)):
            raise differ(f"output {position} came from another op")
    return batch_axes


def _check_same_constant(label: str, one: Any, two: Any, what: str, dynamic_batch: bool) -> None:
    if one is two:
        return
    if one is None or two is None:
        problem = "was None in one run only"
    else:
        first, second = np.asarray(one), np.asarray(two)
        if first.shape != second.shape:
            problem = f"had shape {first.shape}, then {second.shape}"
        elif first.dtype != second.dtype:
            problem = f"had dtype {first.dtype}, then {second.dtype}"
        elif same_values(first, second):
            return
        else:
            problem = "changed value"
    hint = (
        ", or pass dynamic_batch=False if it follows only the batch size" if dynamic_batch else ""
    )
    raise ExportError(
        f"export: {label} is a value the recorded graph does not compute, "
        f"and it {problem} when the function ran again on {what}: it was made from the "
        "inputs outside the graph (a mask such as `x > 0`, x.numpy(), len(x)) or drawn at "
        "random, and the exported model would freeze it. Compute it with tinygrad_ann ops "
        f"on the input Tensors (e.g. relu, maximum, clip instead of where on a mask){hint}"
    )


def same_values(first: np.ndarray, second: np.ndarray) -> bool:
    if first.dtype.kind in "fc":
        return bool(np.array_equal(first, second, equal_nan=True))
    return bool(np.array_equal(first, second))


def check_output_batch_axes(
    first: Trace, second: Trace, batch_axes: dict[int, frozenset[int]]
) -> None:
    inputs = {id(tensor) for tensor in first.inputs}
    sizes = (len(first.inputs[0]), len(second.inputs[0]))
    for position, (one, two) in enumerate(zip(first.outputs, second.outputs)):
        axes = frozenset({0}) if id(one) in inputs else batch_axes[id(one)]
        if axes == {0} and (len(one), len(two)) == sizes:
            continue
        if axes == {0}:
            follows = "its first axis changes with the batch size but is not the batch size"
        else:
            follows = f"axes {sorted(axes)} follow" if axes else "no axis follows"
            follows += " the batch size"
        raise ExportError(
            f"export: output {position} has shape {one.shape}, and {follows}; with "
            "dynamic_batch=True the first axis of every output must be the batch. Pass "
            "dynamic_batch=False to fix every shape to the example's"
        )


# Where each op's forward saved its keyword options, by name: positions in ``ctx.saved``.
_SAVED_OPTIONS: dict[type[Function], dict[str, int]] = {
    ops.Clip: {"lower bound": 1, "upper bound": 2},
    ops.LeakyReLU: {"negative slope": 1},
    ops.Softmax: {"axis": 1},
    ops.LogSoftmax: {"axis": 1},
    ops.Sum: {"axis": 1, "keepdims option": 2},
    ops.Mean: {"axis": 1, "keepdims option": 2},
    ops.Max: {"axis": 1, "keepdims option": 2},
    ops.Min: {"axis": 1, "keepdims option": 2},
    ops.Transpose: {"axes": 0},
    ops.Concatenate: {"axis": 1},
    ops.Stack: {"axis": 1},
}

# The keyword options of each op that the exported nodes depend on, by name: their keys.
_KEYWORD_OPTIONS: dict[type[Function], dict[str, str]] = {
    conv_ops.Conv2d: {
        "stride": "stride",
        "padding": "padding",
        "dilation": "dilation",
        "groups": "groups",
    },
    conv_ops.MaxPool2d: {"kernel size": "kernel_size", "stride": "stride", "padding": "padding"},
    conv_ops.AvgPool2d: {
        "kernel size": "kernel_size",
        "stride": "stride",
        "padding": "padding",
        "count_include_pad option": "count_include_pad",
    },
    norm_ops.BatchNormEval: {"axes": "axes", "eps": "eps", "running statistics": "running"},
    norm_ops.LayerNorm: {"axes": "axes", "eps": "eps"},
}

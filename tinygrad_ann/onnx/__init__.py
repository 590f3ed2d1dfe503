"""Export a model to ONNX, to run it with onnxruntime or any other ONNX runtime.

:func:`export` runs the model once on example inputs, reads the graph that
autograd recorded, and writes the equivalent ONNX graph: parameters become
initializers under their ``named_parameters()`` names, each recorded op one
ONNX node or a few (see ``docs/onnx.md`` for the table). It needs the optional
``onnx`` package: ``pip install "tinygrad_ann[onnx]"``.

>>> import pathlib, tempfile
>>> import onnx
>>> import tinygrad_ann as tg
>>> from tinygrad_ann import nn
>>> tg.manual_seed(0)
>>> model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
>>> with tempfile.TemporaryDirectory() as folder:
...     path = tg.onnx.export(model, tg.randn(5, 3), pathlib.Path(folder) / "model.onnx")
...     graph = onnx.load(path).graph
>>> [node.op_type for node in graph.node]
['Gemm', 'Tanh', 'Gemm']
>>> [init.name for init in graph.initializer]
['0.weight', '0.bias', '2.weight', '2.bias']
>>> [dim.dim_param or dim.dim_value for dim in graph.input[0].type.tensor_type.shape.dim]
['batch', 3]
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

try:
    import onnx
except ImportError as error:
    raise ImportError(
        "tinygrad_ann.onnx needs the onnx package, which is not installed; "
        'install it with: pip install "tinygrad_ann[onnx]"'
    ) from error

from ..files import write_atomically
from ..nn.module import Module
from .builder import Exporter
from .checks import (
    DEFAULT_OPSET,
    check_batch_axis,
    check_eval_mode,
    check_graph,
    check_names,
    check_opset,
    checked_names,
    example_arrays,
)
from .emitters import supported_ops
from .trace import (
    ExportError,
    check_output_batch_axes,
    compare_runs,
    record,
    record_again,
    rerun_label,
    second_example,
)


def export(
    model_or_fn: Callable[..., Any],
    example_inputs: Any,
    path: str | os.PathLike[str],
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    dynamic_batch: bool = True,
    opset: int | None = None,
) -> Path:
    """Trace ``model_or_fn`` on ``example_inputs`` and write it to ``path`` as an ONNX model.

    ``model_or_fn`` is an ``nn.Module`` or any callable taking Tensors and
    returning a Tensor or a tuple of Tensors; it runs as it is (a module in its
    current train/eval mode). A module with batch norm or dropout layers in
    training mode is an :class:`ExportError` before anything runs: call
    ``model.eval()`` first. ``example_inputs`` is a Tensor or NumPy array of
    float32 or float64, or a tuple of them, one per argument. Parameters of a
    module are stored under their ``named_parameters()`` names, the running
    statistics of batch norm under their ``named_buffers()`` names; other
    constants as ``const_<k>``. Inputs are named ``input`` (``input_0``,
    ``input_1``, ... for several) and outputs ``output`` likewise, unless
    ``input_names`` and ``output_names`` say otherwise.

    With ``dynamic_batch`` (the default) the first axis of every input and
    output is the symbolic dimension ``"batch"``, so the file runs at any batch
    size. The function is run a second time, on the example rows cycled to one
    more row, to find which axes follow the batch and to catch what a single
    trace cannot show: a value read from the inputs outside the recorded graph
    (a mask made with ``x > 0``, ``x.numpy()``) or a graph whose ops depend on
    the input values. Both are errors, as they would be frozen into the file.
    Without ``dynamic_batch`` every shape is fixed to the example's, and the
    second run uses the example rows in another order.

    ``opset`` defaults to ``DEFAULT_OPSET`` (18). The model passes
    ``onnx.checker.check_model(full_check=True)`` before it is written, and it
    is written atomically: an error leaves ``path`` as it was. Returns ``path``
    as a ``pathlib.Path``. An op with no ONNX equivalent (a loss, indexing, a
    custom ``tg.Function``) raises :class:`ExportError` naming it.

    >>> import os, tempfile
    >>> import numpy as np
    >>> import tinygrad_ann as tg
    >>> def scaled_softmax(x, w):
    ...     return (x * w).softmax(axis=-1)
    >>> x = np.ones((2, 3), dtype=np.float32)
    >>> w = np.full(3, 0.5, dtype=np.float32)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = tg.onnx.export(
    ...         scaled_softmax, (x, w), os.path.join(folder, "f.onnx"),
    ...         input_names=["x", "w"], output_names=["probs"], dynamic_batch=False,
    ...     )
    ...     print(path.name, path.stat().st_size > 0)
    f.onnx True
    """
    if not callable(model_or_fn):
        raise TypeError(
            f"export: model_or_fn must be an nn.Module or a function taking Tensors, got a "
            f"{type(model_or_fn).__name__}"
        )
    opset = check_opset(opset)
    arrays = example_arrays(example_inputs)
    inputs_named = checked_names("input_names", input_names, len(arrays), "input")
    if dynamic_batch:
        check_batch_axis(arrays)

    parameters: dict[int, str] = {}
    buffers: dict[int, str] = {}
    scopes: dict[int, str] = {}
    if isinstance(model_or_fn, Module):
        # Before any run: a run in training mode would already update running statistics.
        check_eval_mode(model_or_fn)
        for name, parameter in model_or_fn.named_parameters():
            parameters[id(parameter)] = name
            parameters.setdefault(id(parameter.data), name)
        buffers = {id(buffer): name for name, buffer in model_or_fn.named_buffers()}
        scopes = {id(module): name for name, module in model_or_fn.named_modules() if name}

    first = record(model_or_fn, arrays)
    outputs_named = checked_names("output_names", output_names, len(first.outputs), "output")
    check_names(inputs_named, outputs_named, {*parameters.values(), *buffers.values()})
    check_graph(first, scopes)

    batch_axes: dict[int, frozenset[int]] = {}
    second_arrays = second_example(arrays, dynamic_batch)
    if second_arrays is not None:
        second = record_again(model_or_fn, second_arrays, dynamic_batch)
        batch_axes = compare_runs(
            first, second, rerun_label(second_arrays, dynamic_batch), dynamic_batch
        )
        if dynamic_batch:
            check_output_batch_axes(first, second, batch_axes)

    exporter = Exporter(
        first, inputs_named, outputs_named, parameters, buffers, scopes, batch_axes, dynamic_batch
    )
    graph_name = getattr(model_or_fn, "__name__", type(model_or_fn).__name__)
    model = exporter.model(graph_name, opset)
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as error:
        raise ExportError(f"export: the ONNX model built is invalid: {error}") from error
    return write_atomically(path, model.SerializeToString(), "tg.onnx.export")


__all__ = ["DEFAULT_OPSET", "ExportError", "export", "supported_ops"]

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

try:
    import onnx
    from onnx import helper, numpy_helper
except ImportError as error:
    raise ImportError(
        "tinygrad_ann.onnx needs the onnx package, which is not installed; "
        'install it with: pip install "tinygrad_ann[onnx]"'
    ) from error

from . import __version__, conv_ops, norm_ops, ops
from .autograd import Function, enable_grad
from .errors import DTypeError
from .files import write_atomically
from .nn.module import Module
from .nn.normalization import Dropout as DropoutLayer
from .nn.normalization import _BatchNorm
from .tensor import Tensor

#: The opset written when none is asked for. From 18 on every Reduce* op takes its
#: axes as an input, the form this exporter writes.
DEFAULT_OPSET = 18
_MIN_OPSET = 18
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


class ExportError(ValueError):
    """The model cannot be exported as asked; the message says why and what to do."""


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

    ``opset`` defaults to :data:`DEFAULT_OPSET` (18). The model passes
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
    opset = _check_opset(opset)
    arrays = _example_arrays(example_inputs)
    inputs_named = _names("input_names", input_names, len(arrays), "input")
    if dynamic_batch:
        _check_batch_axis(arrays)

    parameters: dict[int, str] = {}
    buffers: dict[int, str] = {}
    scopes: dict[int, str] = {}
    if isinstance(model_or_fn, Module):
        # Before any run: a run in training mode would already update running statistics.
        _check_eval_mode(model_or_fn)
        for name, parameter in model_or_fn.named_parameters():
            parameters[id(parameter)] = name
            parameters.setdefault(id(parameter.data), name)
        buffers = {id(buffer): name for name, buffer in model_or_fn.named_buffers()}
        scopes = {id(module): name for name, module in model_or_fn.named_modules() if name}

    first = _trace(model_or_fn, arrays)
    outputs_named = _names("output_names", output_names, len(first.outputs), "output")
    _check_names(inputs_named, outputs_named, {*parameters.values(), *buffers.values()})
    _check_graph(first, scopes)

    batch_axes: dict[int, frozenset[int]] = {}
    second_arrays = _second_example(arrays, dynamic_batch)
    if second_arrays is not None:
        second = _trace_again(model_or_fn, second_arrays, dynamic_batch)
        batch_axes = _compare(first, second, _again(second_arrays, dynamic_batch), dynamic_batch)
        if dynamic_batch:
            _check_output_batch_axes(first, second, batch_axes)

    exporter = _Exporter(
        first, inputs_named, outputs_named, parameters, buffers, scopes, batch_axes, dynamic_batch
    )
    graph_name = getattr(model_or_fn, "__name__", type(model_or_fn).__name__)
    model = exporter.model(graph_name, opset)
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as error:
        raise ExportError(f"export: the ONNX model built is invalid: {error}") from error
    return write_atomically(path, model.SerializeToString(), "tg.onnx.export")


# ---------------------------------------------------------------------- arguments
def _check_opset(opset: int | None) -> int:
    if opset is None:
        return DEFAULT_OPSET
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int | np.integer):
        raise TypeError(f"export: opset must be an integer, got {opset!r}")
    if not _MIN_OPSET <= opset <= newest:
        raise ValueError(
            f"export: opset {opset} is not supported; pass one from {_MIN_OPSET} to {newest} "
            f"(the installed onnx's newest), or leave it out for {DEFAULT_OPSET}"
        )
    return int(opset)


def _example_arrays(example_inputs: Any) -> list[np.ndarray]:
    items = list(example_inputs) if isinstance(example_inputs, tuple | list) else [example_inputs]
    if not items:
        raise ValueError("export: example_inputs is empty; pass one Tensor or array per input")
    arrays = []
    for position, item in enumerate(items):
        if isinstance(item, Tensor):
            array = item.data
        elif isinstance(item, np.ndarray):
            array = item
        else:
            raise TypeError(
                f"export: example input {position} is a {type(item).__name__}; pass a Tensor or "
                "a NumPy array (or a tuple of them, one per argument), e.g. tg.tensor(values)"
            )
        if array.dtype not in _FLOATS:
            raise DTypeError(
                f"export: example input {position} has dtype {array.dtype}; models export in "
                "float32 or float64, so convert it, e.g. x.astype(np.float32)"
            )
        arrays.append(array)
    return arrays


def _names(argument: str, names: Any, count: int, default: str) -> list[str]:
    kind = argument.split("_")[0]
    if names is None:
        return [default] if count == 1 else [f"{default}_{k}" for k in range(count)]
    names = [names] if isinstance(names, str) else list(names)
    if len(names) != count:
        raise ValueError(
            f"export: {argument} has {len(names)} name(s) but the model has {count} {kind}(s); "
            f"give exactly one name per {kind}, or leave {argument} out"
        )
    for name in names:
        if not isinstance(name, str) or not name:
            raise TypeError(f"export: {argument} must be non-empty strings, got {name!r}")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"export: {argument} repeats {repeated}; every name must be unique")
    return names


def _check_names(inputs: list[str], outputs: list[str], parameters: set[str]) -> None:
    for label, names in (("an input", inputs), ("an output", outputs)):
        clash = sorted(parameters.intersection(names))
        if clash:
            raise ValueError(
                f"export: {clash} is both {label} name and a parameter name; choose other names"
            )
    both = sorted(set(inputs).intersection(outputs))
    if both:
        raise ValueError(
            f"export: {both} is both an input and an output name; ONNX needs distinct names"
        )


def _check_batch_axis(arrays: list[np.ndarray]) -> None:
    sizes = []
    for position, array in enumerate(arrays):
        if array.ndim == 0 or array.shape[0] == 0:
            raise ValueError(
                f"export: example input {position} has shape {array.shape}, with no batch rows "
                "in a first axis; give it a non-empty first axis, or pass dynamic_batch=False"
            )
        sizes.append(array.shape[0])
    if len(set(sizes)) > 1:
        raise ValueError(
            f"export: the example inputs have first axes of sizes {sizes}, but with "
            "dynamic_batch=True they share one symbolic 'batch' dimension; make them equal or "
            "pass dynamic_batch=False"
        )


# ---------------------------------------------------------------------- tracing
@dataclass
class _Trace:
    inputs: list[Tensor]
    outputs: list[Tensor]
    nodes: list[Tensor]  # results of recorded ops, in the order they were computed


def _trace(fn: Callable[..., Any], arrays: list[np.ndarray]) -> _Trace:
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
    # Iterative, so a chain of many ops does not exhaust Python's recursion limit.
    seen: set[int] = set()
    nodes = []
    stack = [output for output in outputs if output._ctx is not None]
    while stack:
        tensor = stack.pop()
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        nodes.append(tensor)
        ctx: Any = tensor._ctx
        for parent in ctx.parents:
            if parent is not None and parent._ctx is not None and id(parent) not in seen:
                stack.append(parent)
    # Sequence numbers fall as ops are recorded: the largest came first.
    nodes.sort(key=lambda tensor: tensor._ctx.sequence, reverse=True)  # type: ignore[union-attr]
    return _Trace(inputs, outputs, nodes)


def _ctx(tensor: Tensor) -> Function:
    ctx = tensor._ctx
    assert ctx is not None
    return ctx


def _options(ctx: Function) -> dict[str, Any]:
    """The keyword options the op's forward received (its geometry, eps, statistics)."""
    options: dict[str, Any] = ctx.__dict__.get("options", {})
    return options


def _check_eval_mode(model: Module) -> None:
    """No layer of ``model`` would draw random numbers or use a batch's statistics."""
    for name, module in model.named_modules():
        if not module.training:
            continue
        if isinstance(module, _BatchNorm):
            raise _batch_norm_error(_layer_label(name, module), module)
        if isinstance(module, DropoutLayer) and module.p > 0:
            raise _dropout_error(_layer_label(name, module), module)


def _layer_label(name: str, module: Module) -> str:
    kind = type(module).__name__
    return f"layer {name!r} ({kind})" if name else kind


def _dropout_error(label: str, layer: Module | None) -> ExportError:
    fix = (
        "call model.eval() before exporting"
        if layer is not None
        else "pass training=False to F.dropout"
    )
    return ExportError(
        f"export: {label} is in training mode, where dropout zeroes random elements at every "
        f"call, which an exported model cannot reproduce: {fix} (dropout then passes its "
        "input through and records nothing). Nothing was written"
    )


def _batch_norm_error(label: str, layer: Module | None) -> ExportError:
    if layer is not None and not layer.training:
        return ExportError(
            f"export: {label} has no running statistics (track_running_stats=False), so even "
            "in eval mode it normalizes by the statistics of each batch, which does not "
            "export: build it with track_running_stats=True, train it, then call model.eval(). "
            "Nothing was written"
        )
    fix = (
        "call model.eval() before exporting, so that it uses its running statistics"
        if layer is not None
        else "pass training=False and the running statistics to F.batch_norm"
    )
    return ExportError(
        f"export: {label} is in training mode, where batch norm normalizes by the statistics "
        f"of each batch (and updates its running statistics): {fix}. Nothing was written"
    )


def _check_graph(trace: _Trace, scopes: dict[int, str]) -> None:
    """Every op has a mapping and every output is computed from the inputs."""
    for tensor in trace.nodes:
        ctx = _ctx(tensor)
        cls = type(ctx)
        if cls is norm_ops.Dropout or cls is norm_ops.BatchNorm:
            scope = ctx.scope[-1] if ctx.scope else None
            layer = scope if isinstance(scope, DropoutLayer | _BatchNorm) else None
            if layer is None:
                label = "F.dropout" if cls is norm_ops.Dropout else "F.batch_norm"
            else:
                label = _layer_label(scopes.get(id(layer), ""), layer)
            if cls is norm_ops.Dropout:
                raise _dropout_error(label, layer)
            raise _batch_norm_error(label, layer)
        if cls not in _EMITTERS:
            raise ExportError(
                f"export: the op {cls.op_name()!r} has no ONNX mapping, so the model cannot be "
                f"exported (nothing was written). Ops that export: {', '.join(supported_ops())}. "
                "Losses belong outside the exported function; indexing and custom "
                "tg.Function ops can be rewritten with the ops above"
            )
    inputs = {id(tensor) for tensor in trace.inputs}
    from_inputs = set(inputs)
    for tensor in trace.nodes:
        if any(p is not None and id(p) in from_inputs for p in _ctx(tensor).parents):
            from_inputs.add(id(tensor))
    for position, output in enumerate(trace.outputs):
        if id(output) in from_inputs:
            continue
        if output._ctx is None:
            why = (
                "it has no recorded graph (made under tg.no_grad(), from .data or .numpy(), "
                "or not from the inputs at all)"
            )
        else:
            why = "it is computed from parameters or constants only"
        raise ExportError(
            f"export: output {position} (shape {output.shape}) does not depend on the inputs: "
            f"{why}. Compute every output from the input Tensors with tinygrad_ann ops"
        )


def _second_example(arrays: list[np.ndarray], dynamic_batch: bool) -> list[np.ndarray] | None:
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


def _again(arrays: list[np.ndarray], dynamic_batch: bool) -> str:
    """How the second run's inputs differ, for messages."""
    return f"batch size {len(arrays[0])}" if dynamic_batch else "the example rows in another order"


def _trace_again(fn: Callable[..., Any], arrays: list[np.ndarray], dynamic_batch: bool) -> _Trace:
    try:
        # Rows mixed in a new way may leave an op's domain; the values are only compared.
        with np.errstate(all="ignore"):
            return _trace(fn, arrays)
    except Exception as error:
        hint = (
            ". Write shapes from x.shape or with -1 rather than the example's batch size; if "
            "the first axis of the inputs is not a batch axis, pass dynamic_batch=False"
            if dynamic_batch
            else ""
        )
        raise ExportError(
            f"export: the function failed when run again on {_again(arrays, dynamic_batch)} "
            f"({type(error).__name__}: {error}){hint}"
        ) from error


def _compare(
    first: _Trace, second: _Trace, what: str, dynamic_batch: bool
) -> dict[int, frozenset[int]]:
    """Check that the second run recorded the same graph; the axes of each op result
    that changed size with the batch, by ``id`` of the first run's tensor."""

    def roles(trace: _Trace) -> dict[int, tuple[str, int]]:
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
        ctx_one, ctx_two = _ctx(one), _ctx(two)
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
            value_one, value_two = _options(ctx_one)[key], _options(ctx_two)[key]
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
        elif _same_values(first, second):
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


def _same_values(first: np.ndarray, second: np.ndarray) -> bool:
    if first.dtype.kind in "fc":
        return bool(np.array_equal(first, second, equal_nan=True))
    return bool(np.array_equal(first, second))


def _check_output_batch_axes(
    first: _Trace, second: _Trace, batch_axes: dict[int, frozenset[int]]
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


# ---------------------------------------------------------------------- building
class _Exporter:
    """Turns the recorded ops of one trace into ONNX nodes and initializers."""

    def __init__(
        self,
        trace: _Trace,
        input_names: list[str],
        output_names: list[str],
        parameters: dict[int, str],
        buffers: dict[int, str],
        scopes: dict[int, str],
        batch_axes: dict[int, frozenset[int]],
        dynamic_batch: bool,
    ) -> None:
        self.trace = trace
        self.input_names = input_names
        self.output_names = output_names
        self.parameters = parameters
        self.buffers = buffers  # id(buffer Tensor) -> its named_buffers() name
        self.scopes = scopes
        self.batch = batch_axes
        self.dynamic_batch = dynamic_batch
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.taken = {*input_names, *output_names, *parameters.values(), *buffers.values()}
        self.counters: dict[str, int] = {}
        self.names = {id(tensor): name for tensor, name in zip(trace.inputs, input_names)}
        self.stored: dict[int, str] = {}  # id(array) -> initializer holding it as it is
        self.constants: dict[Any, str] = {}
        self.casts: dict[tuple[str, str], str] = {}
        self.scope = ""

    # ---------------------------------------------------------------- names
    def fresh(self, base: str) -> str:
        count = self.counters.get(base, 0)
        while f"{base}_{count}" in self.taken:
            count += 1
        self.counters[base] = count + 1
        name = f"{base}_{count}"
        self.taken.add(name)
        return name

    def add(self, op_type: str, inputs: list[str], output: str | None = None, **attrs: Any) -> str:
        """Append one node; returns its output's name (``output``, or a fresh one)."""
        output = output or self.fresh(op_type.lower())
        count = self.counters.get(f"node:{op_type}", 0)
        self.counters[f"node:{op_type}"] = count + 1
        name = f"{self.scope}/{op_type}_{count}" if self.scope else f"{op_type}_{count}"
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=name, **attrs))
        return output

    # ---------------------------------------------------------------- values
    def store(self, array: np.ndarray, name: str | None) -> str:
        """An initializer holding ``array`` unchanged (a parameter, or a Tensor constant)."""
        key = id(array)
        if key not in self.stored:
            if name is None:
                name = self.fresh("const")
            self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
            self.stored[key] = name
        return self.stored[key]

    def constant(self, value: Any, dtype: Any) -> str:
        """An initializer holding ``value`` converted to ``dtype``, shared between equal uses."""
        array = np.asarray(value, dtype=dtype)
        if array.size <= 64:
            key: Any = (array.dtype.str, array.shape, array.tobytes())
        else:  # comparing large arrays costs more than storing one twice
            key = (array.dtype.str, id(value))
        if key not in self.constants:
            name = self.fresh("const")
            self.initializers.append(numpy_helper.from_array(array, name))
            self.constants[key] = name
        return self.constants[key]

    def value(self, tensor: Tensor) -> str:
        """The name of a Tensor's value: an input, an op's result, or a leaf's initializer."""
        name = self.names.get(id(tensor))
        if name is None:
            preferred = self.parameters.get(id(tensor), self.parameters.get(id(tensor.data)))
            name = self.store(tensor.data, preferred)
            self.names[id(tensor)] = name
        return name

    def buffer(self, tensor: Tensor, kind: str, dtype: np.dtype) -> str:
        """A module's buffer as an initializer under its ``named_buffers()`` name, as ``dtype``."""
        name = self.stored.get(id(tensor.data))
        if name is None:
            name = self.store(tensor.data, self.buffers.get(id(tensor)) or self.fresh(kind))
        return self.cast(name, tensor.dtype, dtype)

    def cast(self, name: str, source: np.dtype, dtype: np.dtype) -> str:
        if source == dtype:
            return name
        key = (name, dtype.str)
        if key not in self.casts:
            self.casts[key] = self.add("Cast", [name], to=_onnx_dtype(dtype))
        return self.casts[key]

    def operand(self, ctx: Function, position: int, dtype: np.dtype | None) -> str:
        """Input ``position`` of ``ctx`` as a value of ``dtype`` (None: as it is)."""
        parent = ctx.parents[position]
        if parent is not None:
            name, source = self.value(parent), parent.dtype
        else:
            value = ctx.inputs[position]
            if isinstance(value, np.ndarray) and id(value) in self.parameters:
                # A parameter with requires_grad=False: still stored under its name.
                name, source = self.store(value, self.parameters[id(value)]), value.dtype
            else:
                return self.constant(value, dtype)
        return name if dtype is None else self.cast(name, source, dtype)

    def batch_axes(self, tensor: Tensor | None) -> frozenset[int]:
        """The axes of ``tensor`` whose size follows the batch size."""
        if tensor is None:
            return frozenset()
        if any(tensor is traced for traced in self.trace.inputs):
            return frozenset({0}) if self.dynamic_batch else frozenset()
        return self.batch.get(id(tensor), frozenset())

    # ---------------------------------------------------------------- the model
    def model(self, graph_name: str, opset: int) -> onnx.ModelProto:
        trace = self.trace
        first_output: dict[int, str] = {}
        for tensor, name in zip(trace.outputs, self.output_names):
            first_output.setdefault(id(tensor), name)
        for tensor in trace.nodes:
            ctx = _ctx(tensor)
            if tensor.dtype not in _FLOATS:
                raise ExportError(
                    f"export: {ctx.op_name()} gives dtype {tensor.dtype}; only float32 and "
                    "float64 values export"
                )
            scope = ctx.scope[-1] if ctx.scope else None
            self.scope = self.scopes.get(id(scope), "")
            target = first_output.get(id(tensor)) or self.fresh(ctx.op_name())
            _EMITTERS[type(ctx)](self, ctx, tensor, target)
            self.names[id(tensor)] = target
        self.scope = ""
        for tensor, name in zip(trace.outputs, self.output_names):
            if self.names[id(tensor)] != name:  # an input, or an output listed twice
                self.add("Identity", [self.names[id(tensor)]], name)

        def info(name: str, tensor: Tensor) -> onnx.ValueInfoProto:
            shape: list[Any] = list(tensor.shape)
            if self.dynamic_batch:
                shape[0] = "batch"
            return helper.make_tensor_value_info(name, _onnx_dtype(tensor.dtype), shape)

        graph = helper.make_graph(
            self.nodes,
            graph_name,
            [info(name, tensor) for tensor, name in zip(trace.inputs, self.input_names)],
            [info(name, tensor) for tensor, name in zip(trace.outputs, self.output_names)],
            self.initializers,
        )
        opset_id = helper.make_opsetid("", opset)
        return helper.make_model(
            graph,
            opset_imports=[opset_id],
            # The oldest IR that can hold this opset, so older runtimes can load the file.
            ir_version=helper.find_min_ir_version_for([opset_id]),
            producer_name="tinygrad_ann",
            producer_version=__version__,
        )


def _onnx_dtype(dtype: Any) -> int:
    return int(helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))


def _int64(values: Sequence[int]) -> np.ndarray:
    return np.array(list(values), dtype=np.int64)


def _axes(axis: Any, ndim: int) -> list[int] | None:
    """The reduced axes, non-negative and sorted; None for all of them."""
    if axis is None:
        return None
    axes = [axis] if isinstance(axis, int | np.integer) else list(axis)
    return sorted(int(a) % ndim for a in axes)


# ---------------------------------------------------------------------- ops
_Emitter = Callable[[_Exporter, Any, Tensor, str], None]


def _elementwise(op_type: str) -> _Emitter:
    # Every operand becomes the result's dtype: NumPy computed in that dtype too.
    def emit(ex: _Exporter, ctx: Any, out: Tensor, target: str) -> None:
        operands = [ex.operand(ctx, k, out.dtype) for k in range(len(ctx.inputs))]
        ex.add(op_type, operands, target)

    return emit


def _emit_linear(ex: _Exporter, ctx: Any, out: Tensor, target: str) -> None:
    x, weight, bias = ctx.inputs
    operands = [ex.operand(ctx, 0, out.dtype), ex.operand(ctx, 1, out.dtype)]
    if bias is not None:
        operands.append(ex.operand(ctx, 2, out.dtype))
    if np.ndim(x) == 2 and np.ndim(weight) == 2:
        ex.add("Gemm", operands, target, transB=1)
        return
    # MatMul follows NumPy's rules for 1-d and batched (N-d) inputs, which Gemm does not take.
    transposed = ex.add("Transpose", [operands[1]], perm=list(range(np.ndim(weight)))[::-1])
    product = ex.add("MatMul", [operands[0], transposed], None if bias is not None else target)
    if bias is not None:
        ex.add("Add", [product, operands[2]], target)


def _emit_cast(ex: _Exporter, ctx: Any, out: Tensor, target: str) -> None:
    ex.add("Cast", [ex.operand(ctx, 0, None)], target, to=_onnx_dtype(out.dtype))


def _emit_clip(ex: _Exporter, ctx: Any, out: Tensor, target: str) -> None:
    _, lo, hi = ctx.saved
    x = ex.operand(ctx, 0, out.dtype)
    if lo is None and hi is None:
        ex.add("Identity", [x], target)
    elif np.ndim(lo) == 0 and np.ndim(hi) == 0:
        bounds = ["" if bound is None else ex.constant(bound, out.dtype) for bound in (lo, hi)]
        ex.add("Clip", [x, *bounds] if bounds[1] else [x, bounds[0]], target)
    else:  # ONNX's Clip takes scalar bounds only; NumPy's broadcasts arrays
        if lo is not None:
            x = ex.add("Max", [x, ex.constant(lo, out.dtype)], None if hi is not None else target)
        if hi is not None:
            ex.add("Min", [x, ex.constant(hi, out.dtype)], target)


def _emit_leaky_relu(ex: _Exporter, ctx: Any, out: Tensor, target: str) -> None:
    _, slope = ctx.saved
    x = ex.operand(ctx, 0, out.dtype)
    if out.dtype == np.float32 and np.ndim(slope) == 0:
        ex.add("LeakyRelu", [x], target, alpha=float(slope))
    else:
        # LeakyRelu's alpha is a float32 attribute, too coarse for float64; PRelu takes a tensor.
        ex.add("PRelu", [x, ex.constant(slope, out.dtype)], target)


def _softmax(op_type: str) -> _Emitter:
    def emit(ex: _Exporter, ctx: Any, out: Tensor, target: str) -> None:
        _, axis = ctx.saved
        ex.add(op_type, [ex.operand(ctx, 0, out.dtype)], target, axis=int(axis))

    return emit


def _reduction(op_type: str) -> _Emitter:
    def emit(ex: _Exporter, ctx: Any, out: Tensor, target: str) -> None:
        _, axis, keepdims = ctx.saved
        ndim = np.ndim(ctx.inputs[0])
        x = ex.operand(ctx, 0, out.dtype)
        axes = _axes(axis, ndim)
        if ndim == 0 or axes == []:  # NumPy reduces nothing; ONNX's empty axes mean all
            ex.add("Identity", [x], target)
            return
        operands = [x] if axes is None else [x, ex.constant(axes, np.int64)]
        ex.add(op_type, operands, target, keepdims=int(bool(keepdims)))

    return emit


def _emit_reshape(ex: _Exporter, ctx: Any, out: Tensor, target: str) -> None:
    shape = list(out.shape)
    following = sorted(ex.batch_axes(out))
    if len(following) > 1:
        raise ExportError(
            f"export: reshape to {out.shape} gives {len(following)} axes ({following}) that "
            "follow the batch size, which one ONNX Reshape cannot express; keep the batch in "
            "one axis, or pass dynamic_batch=False"
        )
    for axis in following:
        shape[axis] = -1  # ONNX works this size out from the others, at any batch size
    attrs = {}
    if 0 in shape:  # ONNX reads 0 as "copy this axis"; allowzero makes it a real 0
        if following:
            raise ExportError(
                f"export: reshape to {out.shape} has an empty axis and an axis that follows the "
                "batch; pass dynamic_batch=False"
            )
        attrs["allowzero"] = 1
    x = ex.operand(ctx, 0, out.dtype)
    ex.add("Reshape", [x, ex.constant(shape, np.int64)], target, **attrs)


def _emit_transpose(ex: _Exporter, ctx: Any, out: Tensor, target: str) -> None:
    (axes,) = ctx.saved
    ndim = out.ndim
    perm = list(range(ndim))[::-1] if axes is None else [int(a) % ndim for a in axes]
    ex.add("Transpose", [ex.operand(ctx, 0, out.dtype)], target, perm=perm)


def _emit_broadcast_to(ex: _Exporter, ctx: Any, out: Tensor, target: str) -> None:
    shape = list(out.shape)
    parent = ctx.parents[0]
    offset = out.ndim - np.ndim(ctx.inputs[0])
    for axis in ex.batch_axes(out):
        if axis - offset not in ex.batch_axes(parent):
            raise ExportError(
                f"export: broadcast_to {out.shape} widens an axis to the batch size, which a "
                "fixed shape cannot follow; pass dynamic_batch=False"
            )
        shape[axis] = 1  # Expand broadcasts: 1 keeps the input's (batch-sized) axis
    x = ex.operand(ctx, 0, out.dtype)
    ex.add("Expand", [x, ex.constant(shape, np.int64)], target)


def _emit_concatenate(ex: _Exporter, ctx: Any, out: Tensor, target: str) -> None:
    _, axis = ctx.saved
    operands = [ex.operand(ctx, k, out.dtype) for k in range(len(ctx.inputs))]
    ex.add("Concat", operands, target, axis=int(axis))


def _emit_stack(ex: _Exporter, ctx: Any, out: Tensor, target: str) -> None:
    _, axis = ctx.saved
    axes = ex.constant([axis], np.int64)
    parts = [
        ex.add("Unsqueeze", [ex.operand(ctx, k, out.dtype), axes]) for k in range(len(ctx.inputs))
    ]
    ex.add("Concat", parts, target, axis=int(axis))


def _emit_where(ex: _Exporter, ctx: Any, out: Tensor, target: str) -> None:
    if ctx.parents[0] is None:
        condition = ex.constant(np.asarray(ctx.inputs[0], dtype=bool), bool)
    else:  # a float Tensor as the condition: nonzero means true, as np.asarray(..., bool)
        condition = ex.add("Cast", [ex.value(ctx.parents[0])], to=onnx.TensorProto.BOOL)
    a, b = ex.operand(ctx, 1, out.dtype), ex.operand(ctx, 2, out.dtype)
    ex.add("Where", [condition, a, b], target)


# ---------------------------------------------------------------------- images, normalization
def _geometry(options: dict[str, Any], kernel: Sequence[int]) -> dict[str, list[int]]:
    """The window attributes ONNX's Conv and pooling ops share, from a 2-d op's options."""
    padding = [int(size) for size in options["padding"]]
    return {
        "kernel_shape": [int(size) for size in kernel],
        "strides": [int(step) for step in options["stride"]],
        "pads": padding + padding,  # ONNX lists the start of every axis, then every end
    }


def _emit_conv2d(ex: _Exporter, ctx: Any, out: Tensor, target: str) -> None:
    options = _options(ctx)
    operands = [ex.operand(ctx, 0, out.dtype), ex.operand(ctx, 1, out.dtype)]
    if ctx.inputs[2] is not None:
        operands.append(ex.operand(ctx, 2, out.dtype))
    ex.add(
        "Conv",
        operands,
        target,
        dilations=[int(step) for step in options["dilation"]],
        group=int(options["groups"]),
        **_geometry(options, np.shape(ctx.inputs[1])[2:]),
    )


def _emit_max_pool2d(ex: _Exporter, ctx: Any, out: Tensor, target: str) -> None:
    # MaxPool leaves the padding out of every window: the same maximum as padding with -inf.
    options = _options(ctx)
    x = ex.operand(ctx, 0, out.dtype)
    ex.add("MaxPool", [x], target, **_geometry(options, options["kernel_size"]))


def _emit_avg_pool2d(ex: _Exporter, ctx: Any, out: Tensor, target: str) -> None:
    options = _options(ctx)
    ex.add(
        "AveragePool",
        [ex.operand(ctx, 0, out.dtype)],
        target,
        count_include_pad=int(bool(options["count_include_pad"])),
        **_geometry(options, options["kernel_size"]),
    )


def _float32_epsilon(eps: float, dtype: np.dtype) -> tuple[float, float]:
    """An ``epsilon`` attribute (a float32) for ``eps``, and what a float64 graph must add.

    A float32 model added ``eps`` rounded to float32, as the attribute holds it. A
    float64 one added all of it: the rest (exact, as the two are close) is added
    by the exported graph itself.
    """
    epsilon = float(np.float32(eps))
    return epsilon, (float(eps) - epsilon if dtype == np.float64 else 0.0)


def _parameter_or(
    ex: _Exporter, ctx: Any, position: int, fill: float, shape: Any, dtype: Any
) -> str:
    """The op's weight (``position`` 1) or bias (2) as ``dtype``, or ``fill`` if it has none."""
    if ctx.inputs[position] is None:
        return ex.constant(np.full(shape, fill), dtype)
    return ex.operand(ctx, position, dtype)


def _scale_and_shift(
    ex: _Exporter, ctx: Any, normalized: str, dtype: np.dtype, out: Tensor, target: str
) -> None:
    """``x̂ · weight + bias`` (one of them may be None) into ``target``, in the result's dtype.

    NumPy normalized in x̂'s ``dtype`` and applied the weight and bias after, in the
    result's, so x̂ is cast between the two when they differ.
    """
    normalized = ex.cast(normalized, dtype, out.dtype)
    has_bias = ctx.inputs[2] is not None
    if ctx.inputs[1] is not None:
        weight = ex.operand(ctx, 1, out.dtype)
        normalized = ex.add("Mul", [normalized, weight], None if has_bias else target)
    if has_bias:
        ex.add("Add", [normalized, ex.operand(ctx, 2, out.dtype)], target)


def _emit_batch_norm_eval(ex: _Exporter, ctx: Any, out: Tensor, target: str) -> None:
    options = _options(ctx)
    eps = float(options["eps"])
    recorded_mean, inv_std = options["running"]
    dtype = np.result_type(ctx.inputs[0], recorded_mean, inv_std)  # x̂'s
    apart = dtype != out.dtype
    epsilon, rest = _float32_epsilon(eps, dtype)
    channels = out.shape[1]
    if apart:  # the weight and bias come after x̂, as in NumPy
        scale, shift = ex.constant(np.ones(channels), dtype), ex.constant(np.zeros(channels), dtype)
    else:
        scale = _parameter_or(ex, ctx, 1, 1.0, channels, dtype)
        shift = _parameter_or(ex, ctx, 2, 0.0, channels, dtype)
    layer = ctx.scope[-1] if ctx.scope else None
    buffers = _running_buffers(layer, ctx, eps)
    if buffers is not None:
        mean = ex.buffer(buffers[0], "running_mean", dtype)
        variance = ex.buffer(buffers[1], "running_var", dtype)
        if rest:
            variance = ex.add("Add", [variance, ex.constant(rest, dtype)])
    else:
        # Statistics given as arrays to F.batch_norm, which copied them: the variance comes
        # back from 1/sqrt(var + eps), with the float64 rest of eps already in it.
        mean = ex.constant(np.reshape(recorded_mean, -1), dtype)
        rebuilt = 1.0 / np.square(np.reshape(inv_std, -1).astype(np.float64)) - epsilon
        variance = ex.constant(rebuilt, dtype)
    operands = [ex.operand(ctx, 0, dtype), scale, shift, mean, variance]
    normalized = ex.add("BatchNormalization", operands, None if apart else target, epsilon=epsilon)
    if apart:
        _scale_and_shift(ex, ctx, normalized, dtype, out, target)


def _running_buffers(layer: Any, ctx: Any, eps: float) -> tuple[Tensor, Tensor] | None:
    """The running mean and variance of ``layer`` if the op normalized by them as they are."""
    if not isinstance(layer, _BatchNorm):
        return None
    running_mean, running_var = layer.running_mean, layer.running_var
    if running_mean is None or running_var is None:
        return None
    recorded_mean, inv_std = _options(ctx)["running"]
    dtype = np.asarray(ctx.inputs[0]).dtype
    mean = np.array(running_mean.data, dtype=dtype).reshape(np.shape(recorded_mean))
    variance = np.array(running_var.data, dtype=dtype).reshape(np.shape(inv_std))
    with np.errstate(all="ignore"):
        # The same arithmetic as batch norm's forward, so equal means the same statistics.
        rebuilt = 1 / np.sqrt(variance + eps)
    if _same_values(mean, np.asarray(recorded_mean)) and _same_values(rebuilt, inv_std):
        return running_mean, running_var
    return None


def _emit_layer_norm(ex: _Exporter, ctx: Any, out: Tensor, target: str) -> None:
    options = _options(ctx)
    axes = sorted(int(axis) % out.ndim for axis in options["axes"])
    eps = options["eps"]
    dtype = np.result_type(ctx.inputs[0], eps)  # x̂'s
    apart = dtype != out.dtype
    plain = ctx.inputs[1] is None and ctx.inputs[2] is None
    epsilon, rest = _float32_epsilon(float(eps), dtype)
    x = ex.operand(ctx, 0, dtype)
    if rest:
        # LayerNormalization computes the variance inside, where the rest of a float64 eps
        # cannot be added: then the forward's own arithmetic, op by op.
        reduced = ex.constant(axes, np.int64)
        centered = ex.add("Sub", [x, ex.add("ReduceMean", [x, reduced], keepdims=1)])
        squares = ex.add("Mul", [centered, centered])
        variance = ex.add("ReduceMean", [squares, reduced], keepdims=1)
        shifted = ex.add("Add", [variance, ex.constant(eps, dtype)])
        inverse = ex.add("Reciprocal", [ex.add("Sqrt", [shifted])])
        normalized = ex.add("Mul", [centered, inverse], target if plain else None)
        if not plain:
            _scale_and_shift(ex, ctx, normalized, dtype, out, target)
        return
    shape = out.shape[axes[0] :]
    if apart:  # the weight and bias come after x̂, as in NumPy
        operands = [x, ex.constant(np.ones(shape), dtype)]
    else:
        operands = [x, _parameter_or(ex, ctx, 1, 1.0, shape, dtype)]
        if ctx.inputs[2] is not None:
            operands.append(ex.operand(ctx, 2, dtype))
    normalized = ex.add(
        "LayerNormalization",
        operands,
        None if apart else target,
        axis=axes[0],
        epsilon=epsilon,
        stash_type=_onnx_dtype(dtype),  # the mean and variance in x̂'s dtype
    )
    if apart:
        _scale_and_shift(ex, ctx, normalized, dtype, out, target)


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

_EMITTERS: dict[type[Function], _Emitter] = {
    ops.Add: _elementwise("Add"),
    ops.Sub: _elementwise("Sub"),
    ops.Mul: _elementwise("Mul"),
    ops.Div: _elementwise("Div"),
    ops.Pow: _elementwise("Pow"),
    ops.Neg: _elementwise("Neg"),
    ops.MatMul: _elementwise("MatMul"),
    ops.Linear: _emit_linear,
    ops.Cast: _emit_cast,
    ops.Exp: _elementwise("Exp"),
    ops.Log: _elementwise("Log"),
    ops.Sqrt: _elementwise("Sqrt"),
    ops.Abs: _elementwise("Abs"),
    ops.Clip: _emit_clip,
    ops.ReLU: _elementwise("Relu"),
    ops.LeakyReLU: _emit_leaky_relu,
    ops.Sigmoid: _elementwise("Sigmoid"),
    ops.Tanh: _elementwise("Tanh"),
    ops.Softmax: _softmax("Softmax"),
    ops.LogSoftmax: _softmax("LogSoftmax"),
    ops.Maximum: _elementwise("Max"),
    ops.Minimum: _elementwise("Min"),
    ops.Where: _emit_where,
    ops.Sum: _reduction("ReduceSum"),
    ops.Mean: _reduction("ReduceMean"),
    ops.Max: _reduction("ReduceMax"),
    ops.Min: _reduction("ReduceMin"),
    ops.Reshape: _emit_reshape,
    ops.Transpose: _emit_transpose,
    ops.BroadcastTo: _emit_broadcast_to,
    ops.Concatenate: _emit_concatenate,
    ops.Stack: _emit_stack,
    conv_ops.Conv2d: _emit_conv2d,
    conv_ops.MaxPool2d: _emit_max_pool2d,
    conv_ops.AvgPool2d: _emit_avg_pool2d,
    norm_ops.BatchNormEval: _emit_batch_norm_eval,
    norm_ops.LayerNorm: _emit_layer_norm,
}


def supported_ops() -> list[str]:
    """The names (``op_name()``) of the recorded ops that :func:`export` can write.

    >>> import tinygrad_ann as tg
    >>> "linear" in tg.onnx.supported_ops() and "cross_entropy" not in tg.onnx.supported_ops()
    True
    """
    return sorted(cls.op_name() for cls in _EMITTERS)


__all__ = ["DEFAULT_OPSET", "ExportError", "export", "supported_ops"]

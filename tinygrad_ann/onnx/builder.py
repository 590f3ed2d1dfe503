"""The ONNX graph being built: value names, initializers, casts, nodes, and the model."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .. import __version__
from ..autograd import Function
from ..tensor import Tensor
from .emitters import EMITTERS, onnx_dtype
from .trace import FLOAT_DTYPES, ExportError, Trace, recorded_op


# ---------------------------------------------------------------------- building
class Exporter:
    """Turns the recorded ops of one trace into ONNX nodes and initializers."""

    def __init__(
        self,
        trace: Trace,
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
            self.casts[key] = self.add("Cast", [name], to=onnx_dtype(dtype))
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
            ctx = recorded_op(tensor)
            if tensor.dtype not in FLOAT_DTYPES:
                raise ExportError(
                    f"export: {ctx.op_name()} gives dtype {tensor.dtype}; only float32 and "
                    "float64 values export"
                )
            scope = ctx.scope[-1] if ctx.scope else None
            self.scope = self.scopes.get(id(scope), "")
            target = first_output.get(id(tensor)) or self.fresh(ctx.op_name())
            EMITTERS[type(ctx)](self, ctx, tensor, target)
            self.names[id(tensor)] = target
        self.scope = ""
        for tensor, name in zip(trace.outputs, self.output_names):
            if self.names[id(tensor)] != name:  # an input, or an output listed twice
                self.add("Identity", [self.names[id(tensor)]], name)

        def info(name: str, tensor: Tensor) -> onnx.ValueInfoProto:
            shape: list[Any] = list(tensor.shape)
            if self.dynamic_batch:
                shape[0] = "batch"
            return helper.make_tensor_value_info(name, onnx_dtype(tensor.dtype), shape)

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

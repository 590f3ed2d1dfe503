"""The checks made before anything is written: the arguments, and what the model can export."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx

from .. import norm_ops
from ..errors import DTypeError
from ..nn.module import Module
from ..nn.normalization import BatchNorm1d, BatchNorm2d
from ..nn.normalization import Dropout as DropoutLayer
from ..tensor import Tensor
from .emitters import EMITTERS, supported_ops
from .trace import FLOAT_DTYPES, ExportError, Trace, recorded_op

#: The opset written when none is asked for. From 18 on every Reduce* op takes its
#: axes as an input, the form this exporter writes.
DEFAULT_OPSET = 18
_MIN_OPSET = 18


# ---------------------------------------------------------------------- arguments
def check_opset(opset: int | None) -> int:
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


def example_arrays(example_inputs: Any) -> list[np.ndarray]:
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
        if array.dtype not in FLOAT_DTYPES:
            raise DTypeError(
                f"export: example input {position} has dtype {array.dtype}; models export in "
                "float32 or float64, so convert it, e.g. x.astype(np.float32)"
            )
        arrays.append(array)
    return arrays


def checked_names(argument: str, names: Any, count: int, default: str) -> list[str]:
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


def check_names(inputs: list[str], outputs: list[str], parameters: set[str]) -> None:
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


def check_batch_axis(arrays: list[np.ndarray]) -> None:
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


def check_eval_mode(model: Module) -> None:
    """No layer of ``model`` would draw random numbers or use a batch's statistics."""
    for name, module in model.named_modules():
        if not module.training:
            continue
        if isinstance(module, BatchNorm1d | BatchNorm2d):
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


def check_graph(trace: Trace, scopes: dict[int, str]) -> None:
    """Every op has a mapping and every output is computed from the inputs."""
    for tensor in trace.nodes:
        ctx = recorded_op(tensor)
        cls = type(ctx)
        if cls is norm_ops.Dropout or cls is norm_ops.BatchNorm:
            scope = ctx.scope[-1] if ctx.scope else None
            layer = scope if isinstance(scope, DropoutLayer | BatchNorm1d | BatchNorm2d) else None
            if layer is None:
                label = "F.dropout" if cls is norm_ops.Dropout else "F.batch_norm"
            else:
                label = _layer_label(scopes.get(id(layer), ""), layer)
            if cls is norm_ops.Dropout:
                raise _dropout_error(label, layer)
            raise _batch_norm_error(label, layer)
        if cls not in EMITTERS:
            raise ExportError(
                f"export: the op {cls.op_name()!r} has no ONNX mapping, so the model cannot be "
                f"exported (nothing was written). Ops that export: {', '.join(supported_ops())}. "
                "Losses belong outside the exported function; indexing and custom "
                "tg.Function ops can be rewritten with the ops above"
            )
    inputs = {id(tensor) for tensor in trace.inputs}
    from_inputs = set(inputs)
    for tensor in trace.nodes:
        if any(p is not None and id(p) in from_inputs for p in recorded_op(tensor).parents):
            from_inputs.add(id(tensor))
    for position, output in enumerate(trace.outputs):
        if id(output) in from_inputs:
            continue
        if output.grad_fn is None:
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

"""A plan: the recorded ops as two straight-line Python functions, forward and backward.

Each line calls one op's ``forward`` (or its VJP ``backward``) on named arrays, in
the order eager ran them, so a replay makes the same NumPy calls in the same order
and gets the same bits. What eager does per op around those calls (a result
Tensor, a graph node, the heap that orders backward, hooks) is gone: the order
is known once and for all. Backward keeps only the VJPs whose gradients reach an
argument or a parameter that requires grad.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import Function, unbroadcast
from ..autograd.function import as_gradient, as_output_array
from ..autograd.saved import guard_saved
from .recorder import Recording, Step

_new_object = object.__new__


def _fit(grad: Any, shape: tuple[int, ...], dtype: np.dtype, ctx: Function) -> Any:
    """A VJP's gradient in its input's shape and dtype, as the eager engine makes it."""
    if type(grad) is not np.ndarray:
        grad = as_gradient(grad, False)
    if grad.shape != shape:
        grad = unbroadcast(grad, shape, ctx)
    if grad.dtype != dtype:
        grad = grad.astype(dtype)
    return grad


class Plan:
    """Forward and backward of one recording, as generated Python functions."""

    def __init__(
        self, recording: Recording, output: str, grad_targets: list[str], traced: bool = False
    ) -> None:
        self.recording = recording
        self.output = output
        #: The arguments (``a0``...) and outside Tensors (``e0``...) that get a gradient.
        self.grad_targets = grad_targets
        #: The positions of the arguments in ``grad_targets``, and the outside Tensors there:
        #: with the call's arguments, the parents of each replay's graph node.
        self.argument_parents: list[int] = []
        self.parents: list[Any] = []
        #: Sets of contexts no live call holds, for the next replays.
        self.free_contexts: list[list[Function]] = []
        steps = recording.steps
        self._ops = [step.op for step in steps]
        self._needs = [step.needs_input_grad for step in steps]
        self.backward_steps = self._steps_backward_needs()
        namespace: dict[str, Any] = {"nd": np.ndarray, "AS": as_output_array, "G": guard_saved}
        namespace["FIT"] = _fit
        namespace.update(recording.constants)
        for name, tensor in recording.externals.items():
            namespace[f"E_{name}"] = tensor
        forward_lines, shown_forward = self._forward_source(namespace, traced)
        backward_lines, shown_backward = self._backward_source(namespace)
        self.source = "\n".join([*forward_lines, "", *backward_lines]) + "\n"
        self.shown = "\n".join([*shown_forward, "", *shown_backward]) + "\n"
        exec(compile(self.source, "<tg.compile plan>", "exec"), namespace)
        self.forward = namespace["forward"]
        self.backward = namespace["backward"]

    # ------------------------------------------------------------------ contexts
    def new_contexts(self) -> list[Function]:
        """One ``ctx`` per op, as ``apply`` would make it, reused by the replays of a call."""
        contexts = []
        for op, needs in zip(self._ops, self._needs):
            ctx = _new_object(op)
            ctx.saved = ()
            ctx.needs_input_grad = needs
            contexts.append(ctx)
        return contexts

    def release(self, contexts: list[Function]) -> None:
        """Drop what the ops saved (unlocking guarded arrays), as backward's release does."""
        for index in self._guarded:
            contexts[index].saved = ()

    # ------------------------------------------------------------------ source
    def _steps_backward_needs(self) -> list[int]:
        """The steps whose VJP runs: their result's gradient reaches a grad target."""
        receives = {self.output}
        wanted: list[int] = []
        for index in reversed(range(len(self.recording.steps))):
            step = self.recording.steps[index]
            if not step.differentiable or step.output not in receives:
                continue
            wanted.append(index)
            for name, needs in zip(step.inputs, step.needs_input_grad):
                if needs:
                    receives.add(name)
        return wanted

    def _forward_source(
        self, namespace: dict[str, Any], traced: bool
    ) -> tuple[list[str], list[str]]:
        """Forward's source; ``traced`` adds each op's result to ``trace`` (for ``check=True``)."""
        recording = self.recording
        lines = ["def forward(arguments, contexts, trace=None):"]
        shown = ["# forward"]
        for name in recording.arrays:
            if name.startswith("a"):
                lines.append(f"    {name} = arguments[{name[1:]}]._data")
        for name in recording.externals:
            lines.append(f"    {name} = E_{name}._data")
        self._guarded = []
        for index, step in enumerate(recording.steps):
            namespace[f"F{index}"] = step.op.forward
            arguments = [*step.inputs, *(f"{key}={value}" for key, value in step.options.items())]
            call = ", ".join(arguments)
            lines.append(f"    c = contexts[{index}]")
            lines.append(f"    {step.output} = F{index}(c, {call})")
            lines.append(
                f"    if type({step.output}) is not nd: {step.output} = AS(c, {step.output})"
            )
            if traced:
                lines.append(f"    trace.append({step.output})")
            if step.differentiable and self._saves_outside_values(step):
                namespace[f"P{index}"] = step.op.private_saved
                lines.append(f"    if c.saved: c.saved = G(c.saved, P{index})")
                self._guarded.append(index)
            shown.append(f"{step.output} = {step.op.op_name()}({call})")
        lines.append(f"    return {self.output}")
        shown.append(f"return {self.output}")
        return lines, shown

    def _saves_outside_values(self, step: Step) -> bool:
        """Whether forward saved an array someone else may write before backward runs:
        an argument's, an outside Tensor's, a constant, or the function's result."""
        return any(
            name is not None and (name[0] in "aek" or name == self.output)
            for name in step.saved_names
        )

    def _backward_source(self, namespace: dict[str, Any]) -> tuple[list[str], list[str]]:
        recording = self.recording
        lines = [f"def backward(contexts, g_{self.output}):"]
        shown = [
            f"# backward (g_x: the result's gradient with respect to x; g_{self.output} is given)"
        ]
        assigned = {self.output}
        for index in self.backward_steps:
            step = recording.steps[index]
            namespace[f"B{index}"] = step.op.backward
            output_array = recording.arrays[step.output]
            lines.append(f"    c = contexts[{index}]")
            lines.append(f"    r = B{index}(c, g_{step.output})")
            lines.append("    if type(r) is not tuple: r = (r,)")
            targets = []
            for position, (name, needs) in enumerate(zip(step.inputs, step.needs_input_grad)):
                if not needs:
                    continue
                array = recording.arrays[name]
                value = f"r[{position}]"
                if array.shape != output_array.shape or array.dtype != output_array.dtype:
                    namespace[f"S_{name}"] = (array.shape, array.dtype)
                    value = f"FIT({value}, *S_{name}, c)"
                if name in assigned:
                    lines.append(f"    g_{name} = g_{name} + {value}")
                    targets.append(f"g_{name} +")
                else:
                    lines.append(f"    g_{name} = {value}")
                    assigned.add(name)
                    targets.append(f"g_{name}")
            shown.append(
                f"{', '.join(targets)} = {step.op.op_name()}.backward(g_{step.output})"
                if targets
                else f"{step.op.op_name()}.backward(g_{step.output})"
            )
        results = [f"g_{name}" if name in assigned else "None" for name in self.grad_targets]
        lines.append(f"    return ({', '.join(results)}{',' if len(results) == 1 else ''})")
        shown.append(f"return {', '.join(results) or 'nothing'}")
        return lines, shown

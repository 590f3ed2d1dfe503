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

from ..autograd import Function
from ..autograd.engine import fit_gradient
from ..autograd.function import as_output_array
from ..autograd.saved import guard_saved
from .inline import Template, needs_name, result_name, saved_name, template_of
from .recorder import Recording, Step

_new_object = object.__new__


def _as_output_and_saved(out: Any, saved: tuple[Any, ...]) -> tuple[np.ndarray, tuple[Any, ...]]:
    """An inlined forward's NumPy scalar result as a 0-d array, also where it was saved
    (what ``apply`` does for a called forward)."""
    array = np.asarray(out)
    return array, tuple(array if value is out else value for value in saved)


class Plan:
    """Forward and backward of one recording, as generated Python functions.

    ``forward(arguments, contexts)`` returns the result's array and the tuple of what
    the inlined ops saved; ``backward(contexts, stash, grad)`` returns one gradient per
    ``grad_targets``. Ops whose methods cannot be inlined are called with a ``ctx``
    from ``contexts`` (see :meth:`new_contexts`).
    """

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
        self.free_contexts: list[list[Function | None]] = []
        self.backward_steps = self._steps_backward_needs()
        needed = set(self.backward_steps)
        #: Per step, its (forward, backward) templates when it is inlined, else None.
        self._templates = [
            self._templates_of(step, index in needed) for index, step in enumerate(recording.steps)
        ]
        self._called = [index for index, found in enumerate(self._templates) if found is None]
        self._guarded: list[int] = []
        namespace: dict[str, Any] = {"nd": np.ndarray, "AS": as_output_array, "G": guard_saved}
        namespace["ASI"] = _as_output_and_saved
        namespace["FIT"] = fit_gradient
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

    @staticmethod
    def _templates_of(step: Step, differentiated: bool) -> tuple[Template, Template | None] | None:
        forward = template_of(step.op.forward)
        if forward is None:
            return None
        parameters = forward.parameters
        if len(step.inputs) > len(parameters) or set(step.options) - set(
            parameters[len(step.inputs) :]
        ):
            return None
        if set(parameters[len(step.inputs) :]) - set(step.options):
            return None  # a parameter left to its default: call forward instead
        if not differentiated:
            return forward, None
        backward = template_of(step.op.backward)
        if backward is None or len(backward.parameters) != 1:
            return None
        return forward, backward

    # ------------------------------------------------------------------ contexts
    def new_contexts(self) -> list[Function | None]:
        """A ``ctx`` for each op that is called, not inlined (None for the others)."""
        contexts: list[Function | None] = [None] * len(self.recording.steps)
        for index in self._called:
            step = self.recording.steps[index]
            ctx = _new_object(step.op)
            ctx.saved = ()
            ctx.needs_input_grad = step.needs_input_grad
            contexts[index] = ctx
        return contexts

    def release(self, contexts: list[Function | None]) -> None:
        """Drop what the called ops saved (unlocking guarded arrays), as backward's release does."""
        for index in self._guarded:
            ctx = contexts[index]
            if ctx is not None:
                ctx.saved = ()

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
        needed = set(self.backward_steps)
        stash = []
        for index, step in enumerate(recording.steps):
            out = step.output
            guard = step.differentiable and self._saves_outside_values(step)
            if guard:
                namespace[f"P{index}"] = step.op.private_saved
            templates = self._templates[index]
            if templates is None:
                namespace[f"F{index}"] = step.op.forward
                lines.append(f"    c = contexts[{index}]")
                if step.options:  # as apply keeps them, for a backward that reads ctx.options
                    options = ", ".join(f"{key!r}: {value}" for key, value in step.options.items())
                    lines.append(f"    c.options = {{{options}}}")
                lines.append(f"    {out} = F{index}(c, {_call_arguments(step)})")
                lines.append(f"    if type({out}) is not nd: {out} = AS(c, {out})")
                if guard:
                    lines.append(f"    if c.saved: c.saved = G(c.saved, P{index})")
                    self._guarded.append(index)
            else:
                suffix = f"__{index}"
                forward = templates[0]
                namespace.update(forward.globals_used)
                namespace[needs_name(suffix)] = step.needs_input_grad
                bound = [
                    *step.inputs,
                    *(step.options[p] for p in forward.parameters[len(step.inputs) :]),
                ]
                lines.extend(
                    "    " + line for line in forward.bind(suffix, bound, fresh_saved=True)
                )
                saved = saved_name(suffix)
                lines.append(f"    {out} = {result_name(suffix)}")
                lines.append(f"    if type({out}) is not nd: {out}, {saved} = ASI({out}, {saved})")
                if guard:
                    lines.append(f"    {saved} = G({saved}, P{index})")
                if index in needed:
                    stash.append(saved)
            if traced:
                lines.append(f"    trace.append({out})")
            call = ", ".join(
                [*step.inputs, *(f"{key}={value}" for key, value in step.options.items())]
            )
            shown.append(f"{out} = {step.op.op_name()}({call})")
        self._stash = stash
        lines.append(
            f"    return {self.output}, ({', '.join(stash)}{',' if len(stash) == 1 else ''})"
        )
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
        lines = [f"def backward(contexts, stash, g_{self.output}):"]
        if self._stash:
            lines.append(f"    ({', '.join(self._stash)},) = stash")
        shown = [
            f"# backward (g_x: the result's gradient with respect to x; g_{self.output} is given)"
        ]
        assigned = {self.output}
        for index in self.backward_steps:
            step = recording.steps[index]
            output_array = recording.arrays[step.output]
            templates = self._templates[index]
            if templates is None:
                namespace[f"B{index}"] = step.op.backward
                lines.append(f"    c = contexts[{index}]")
                lines.append(f"    r = B{index}(c, g_{step.output})")
            else:
                suffix = f"__{index}"
                backward = templates[1]
                assert backward is not None
                namespace.update(backward.globals_used)
                lines.extend(
                    "    " + line
                    for line in backward.bind(suffix, [f"g_{step.output}"], fresh_saved=False)
                )
                lines.append(f"    r = {result_name(suffix)}")
                namespace[f"O{index}"] = step.op  # names the op if a gradient does not fit
                lines.append(f"    c = O{index}")
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
                    targets.append(f"g_{name} (added)")
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
        lines.append(f"    return {_tuple(results)}")
        shown.append(f"return {', '.join(results) or 'nothing'}")
        return lines, shown


def _call_arguments(step: Step) -> str:
    return ", ".join([*step.inputs, *(f"{key}={value}" for key, value in step.options.items())])


def _tuple(names: list[str]) -> str:
    """A tuple display of ``names``, a one-element tuple included."""
    return f"({', '.join(names)}{',' if len(names) == 1 else ''})"

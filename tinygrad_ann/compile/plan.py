"""A plan: the recorded ops as two straight-line Python functions, forward and backward.

Each line calls one op's ``forward`` (or its VJP ``backward``) on named arrays, in
the order eager ran them, so a replay makes the same NumPy calls in the same order
and gets the same bits. What eager does per op around those calls (a result
Tensor, a graph node, the heap that orders backward, hooks) is gone: the order
is known once and for all. Backward keeps only the VJPs whose gradients reach an
argument or a parameter that requires grad.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..autograd import Function
from ..autograd import saved as saved_module
from ..autograd.engine import fit_gradient
from ..autograd.function import as_output_array, output_and_saved
from ..autograd.saved import guard_saved
from .inline import Template, needs_name, result_name, saved_name, template_of
from .kernels import (
    backward_kernel,
    called_backward,
    called_forward,
    forward_kernel,
)
from .optimize import constant_items, is_literal, simplify
from .recorder import Recording, Step

_new_object = object.__new__
_PACKAGE = __name__.split(".")[0] + "."
_TEMPLATES_BY_CALL: dict[tuple[Any, ...], tuple[Template, Template | None] | None] = {}

#: A plan runs first as a loop over kernels, which costs next to nothing to build, and
#: after this many runs as generated straight-line code, faster by a Python call or two
#: per op, whose compilation (about 10 µs a line) that many runs have paid for by then.
UPGRADE_AFTER = 500
#: After this many runs the straight-line code is simplified (``compile/optimize.py``),
#: which costs about 200 µs a line in Python: by then a small network's step has paid for it.
SIMPLIFY_AFTER = 5000
#: Whether plans start as kernel loops (False: straight-line code from the start, and
#: simplified if _SIMPLIFIED_FIRST): the tests run every form.
_KERNELS_FIRST = True
_SIMPLIFIED_FIRST = True


class Plan:
    """Forward and backward of one recording, as generated Python functions.

    ``forward(arguments, contexts)`` returns the result's array and the tuple of what
    the inlined ops saved; ``backward(contexts, stash, grad)`` returns one gradient per
    ``grad_targets``. Ops whose methods cannot be inlined are called with a ``ctx``
    from ``contexts`` (see :meth:`new_contexts`).
    """

    def __init__(
        self,
        recording: Recording,
        outputs: list[str],
        grad_targets: list[str],
        traced: bool = False,
    ) -> None:
        self.recording = recording
        #: The names of the function's results; a plan of several runs as kernels only, its
        #: forward returns a tuple and its backward takes a tuple of gradients (None: none).
        self.outputs = outputs
        self.output = outputs[0]
        #: ``tuple`` or ``list`` when the function returned several Tensors (None: one),
        #: and which of them required grad when recorded.
        self.results_type: type | None = None
        self.results_with_grad: list[bool] = []
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
        #: The called (not inlined) ops whose saved arrays are guarded: released by
        #: :meth:`give_back`.
        self._guarded = [
            index
            for index in self._called
            if recording.steps[index].differentiable
            and self._outside_positions(recording.steps[index])
        ]
        self._stash: list[str] = []
        self._shown: str | None = None
        #: The saved-array copy limit the plan was made under: its straight-line code copies
        #: the outside arrays an op saves up to this size inline, and locks larger ones.
        self.copy_limit = saved_module._COPY_LIMIT
        #: The generated source once the plan runs as straight-line code ("" before).
        self.source = ""
        #: How many times the plan ran; after UPGRADE_AFTER runs it is compiled line by line.
        self.replays = 0
        several = len(outputs) > 1
        #: Whether the straight-line code was simplified (``compile/optimize.py``), and
        #: whether its forward appends each op's result to ``trace`` (for ``check=True``).
        self.simplified = False
        self.traced = traced
        if not several and (traced or not self._kernels_fit() or not _KERNELS_FIRST):
            self.upgrade(simplified=not _KERNELS_FIRST and _SIMPLIFIED_FIRST)
        else:
            self.forward, self.backward = self._kernel_functions()

    def upgrade(self, simplified: bool = False) -> None:
        """Run as generated straight-line code from now on (the fastest form, but Python
        compiles it at about 10 µs a line, so a plan starts as a loop over kernels), and
        ``simplified`` (see ``compile/optimize.py``). A plan of several results keeps its
        kernels."""
        if len(self.outputs) > 1:
            return
        self.simplified = simplified
        traced = self.traced
        namespace: dict[str, Any] = {"nd": np.ndarray, "AS": as_output_array, "G": guard_saved}
        namespace["ASI"] = output_and_saved
        namespace["FIT"] = fit_gradient
        namespace.update(self.recording.constants)
        for name, tensor in self.recording.externals.items():
            namespace[f"E_{name}"] = tensor
        forward_lines, shown_forward = self._forward_source(namespace, traced)
        forward = "\n".join(forward_lines) + "\n"
        known: dict[str, tuple[int, dict[int, Any]]] = {}
        literals = {name: value for name, value in namespace.items() if is_literal(value)}
        if simplified:
            # Arguments, parameters and the ops' results are arrays: never None.
            arrays = {*self.recording.arrays, *(n for n, v in namespace.items() if v is not None)}
            forward = simplify(forward, literals, arrays)
            known = constant_items(forward, self._stash)
        backward_lines, shown_backward = self._backward_source(namespace, known)
        backward = "\n".join(backward_lines) + "\n"
        if simplified:
            backward = simplify(backward, literals)
        self.source = f"{forward}\n{backward}"
        self._shown = "\n".join([*shown_forward, "", *shown_backward]) + "\n"
        exec(compile(self.source, "<tg.compile plan>", "exec"), namespace)
        self.forward = namespace["forward"]
        self.backward = namespace["backward"]

    @property
    def shown(self) -> str:
        """The plan as text, one op per line: forward, then backward."""
        if self._shown is None:
            stash = self._stash
            _, shown_forward = self._forward_source({}, False)
            _, shown_backward = self._backward_source({}, {})
            self._stash = stash
            self._shown = "\n".join([*shown_forward, "", *shown_backward]) + "\n"
        return self._shown

    # ------------------------------------------------------------------ long plans
    def _kernels_fit(self) -> bool:
        """Whether every option is a named value (a long plan keeps values in a list)."""
        return all(
            value.isidentifier() for step in self.recording.steps for value in step.options.values()
        )

    def _kernel_functions(self) -> tuple[Callable[..., Any], Callable[..., Any]]:
        """``forward`` and ``backward`` as loops over kernels (see :mod:`.kernels`)."""
        recording = self.recording
        slots: dict[str, int] = {}
        environment: list[Any] = []
        for name, value in recording.constants.items():
            slots[name] = len(environment)
            environment.append(value)
        arguments = [name for name in recording.arrays if name.startswith("a")]
        externals = list(recording.externals.items())
        for name in [*arguments, *(name for name, _ in externals)]:
            slots[name] = len(environment)
            environment.append(None)
        for step in recording.steps:
            slots[step.output] = len(environment)
            environment.append(None)
        argument_slots = [(int(name[1:]), slots[name]) for name in arguments]
        external_slots = [(slots[name], tensor) for name, tensor in externals]
        needed = set(self.backward_steps)
        stash_of: dict[int, int] = {}
        program: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
        for index, step in enumerate(recording.steps):
            guard = step.differentiable and bool(self._outside_positions(step))
            templates = self._templates[index]
            if templates is None:
                options = tuple((key, slots[value]) for key, value in step.options.items())
                inputs = tuple(slots[name] for name in step.inputs)
                called = (index, step.op.forward, inputs, options, slots[step.output], guard)
                program.append((called_forward, (*called, self._private(step))))
                continue
            forward = templates[0]
            keywords = forward.parameters[len(step.inputs) :]
            bound = [slots[name] for name in [*step.inputs, *(step.options[k] for k in keywords)]]
            keep = index in needed
            if keep:
                stash_of[index] = len(stash_of)
            kernel = forward_kernel(step.op, forward, guard, keep, self._private(step))
            where = (slots[step.output], stash_of.get(index, -1))
            program.append((kernel, (step.needs_input_grad, *bound, *where)))
        backward_program: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
        for index in self.backward_steps:
            step = recording.steps[index]
            out_array = recording.arrays[step.output]
            edges = []
            for position, (name, needs) in enumerate(zip(step.inputs, step.needs_input_grad)):
                if needs:
                    array = recording.arrays[name]
                    fits = _differ(array, out_array)
                    fit = (array.shape, array.dtype) if fits else None
                    edges.append((position, slots[name], fit))
            templates = self._templates[index]
            if templates is None:
                called_back = (index, step.op.backward, slots[step.output], tuple(edges), step.op)
                backward_program.append((called_backward, called_back))
                continue
            backward = templates[1]
            assert backward is not None
            positions = tuple(edge[0] for edge in edges)
            kernel = backward_kernel(
                step.op, backward, positions, tuple(edge[2] is not None for edge in edges)
            )
            flat = [item for _, slot, fit in edges for item in (slot, fit)]
            where = (slots[step.output], stash_of[index])
            backward_program.append((kernel, (step.needs_input_grad, *where, *flat)))
        out_slot, stash_size = slots[self.output], len(stash_of)
        out_slots = [slots[name] for name in self.outputs]
        several = len(out_slots) > 1
        target_slots = [slots[name] for name in self.grad_targets]
        step_outputs = [slots[step.output] for step in recording.steps]
        size = len(environment)

        def forward_loop(
            tensors: list[Any], contexts: list[Any], trace: list[Any] | None = None
        ) -> tuple[Any, list[Any]]:
            values = environment.copy()
            for position, slot in argument_slots:
                values[slot] = tensors[position]._data
            for slot, tensor in external_slots:
                values[slot] = tensor._data
            stash: list[Any] = [None] * stash_size
            if trace is None:
                for kernel, kernel_arguments in program:
                    kernel(values, stash, contexts, *kernel_arguments)
            else:  # check=True: each op's result, in order
                for (kernel, kernel_arguments), slot in zip(program, step_outputs):
                    kernel(values, stash, contexts, *kernel_arguments)
                    trace.append(values[slot])
            if several:
                return tuple(values[slot] for slot in out_slots), stash
            return values[out_slot], stash

        def backward_loop(contexts: list[Any], stash: list[Any], grad: Any) -> tuple[Any, ...]:
            grads: list[Any] = [None] * size
            if several:  # one gradient (or None) per result
                for slot, seed in zip(out_slots, grad):
                    if seed is not None:
                        previous = grads[slot]
                        grads[slot] = seed if previous is None else previous + seed
            else:
                grads[out_slot] = grad
            for kernel, kernel_arguments in backward_program:
                kernel(grads, stash, contexts, *kernel_arguments)
            return tuple(grads[slot] for slot in target_slots)

        return forward_loop, backward_loop

    @staticmethod
    def _templates_of(step: Step, differentiated: bool) -> tuple[Template, Template | None] | None:
        # The same for every op of a kind called the same way: a long plan asks once per kind
        # (the package's own methods only, as template_of: nothing of a user's is kept).
        forward, backward = step.op.forward, step.op.backward
        if not getattr(forward, "__module__", "").startswith(_PACKAGE):
            return None
        key = (forward, backward, len(step.inputs), tuple(step.options), differentiated)
        if key not in _TEMPLATES_BY_CALL:
            _TEMPLATES_BY_CALL[key] = Plan._templates_for(step, differentiated)
        return _TEMPLATES_BY_CALL[key]

    @staticmethod
    def _templates_for(step: Step, differentiated: bool) -> tuple[Template, Template | None] | None:
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

    def give_back(self, contexts: list[Function | None]) -> None:
        """Drop what the called ops saved (unlocking guarded arrays), as backward's release
        does, and keep ``contexts`` for the next replay."""
        for index in self._guarded:
            ctx = contexts[index]
            if ctx is not None:
                ctx.saved = ()
        self.free_contexts.append(contexts)

    # ------------------------------------------------------------------ source
    def _steps_backward_needs(self) -> list[int]:
        """The steps whose VJP runs: their result's gradient reaches a grad target."""
        receives = set(self.outputs)
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
            guard = step.differentiable and bool(self._outside_positions(step))
            if guard:
                namespace[f"P{index}"] = self._private(step)
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
                if recording.arrays[out].ndim == 0:
                    # Only a 0-d result can have been a NumPy scalar, which apply converts;
                    # shapes, hence which results are 0-d, are the signature's.
                    lines.append(
                        f"    if type({out}) is not nd: {out}, {saved} = ASI({out}, {saved})"
                    )
                if guard:
                    lines.append(f"    {saved} = {self._guarded_saved(step, saved, index)}")
                if index in needed:
                    stash.append(saved)
            if traced:
                lines.append(f"    trace.append({out})")
            shown.append(f"{out} = {step.op.op_name()}({_call_arguments(step)})")
        self._stash = stash
        lines.append(f"    return {self.output}, {_tuple(stash)}")
        shown.append(f"return {', '.join(self.outputs)}")
        return lines, shown

    def _guarded_saved(self, step: Step, saved: str, index: int) -> str:
        """The expression that guards what an inlined op saved, as apply's guard would: the
        outside arrays copied in place in the tuple when all are small (no loop over the
        tuple, no call), else the guard itself, which locks the large ones."""
        outside = self._outside_positions(step)
        recording = self.recording
        for position in outside:
            name = step.saved_names[position]
            assert name is not None
            array = recording.arrays.get(name, recording.constants.get(name))
            if type(array) is not np.ndarray or array.size > self.copy_limit:
                return f"G({saved}, P{index})"
        items = [
            f"{saved}[{position}].copy()" if position in outside else f"{saved}[{position}]"
            for position in range(len(step.saved_names))
        ]
        return _tuple(items)

    def _private(self, step: Step) -> tuple[int, ...]:
        """The positions of what ``step`` saved that the guard may keep as they are: those
        its op declares private, and the plan's own intermediate results, which nothing
        outside a replay holds or writes (the guard copies or locks the rest)."""
        named = {position for position, name in enumerate(step.saved_names) if name is not None}
        intermediates = named.difference(self._outside_positions(step))
        return tuple(sorted(intermediates.union(step.op.private_saved)))

    def _outside_positions(self, step: Step) -> list[int]:
        """The positions of the arrays forward saved that someone else may write before
        backward runs: an argument's, an outside Tensor's, a constant, or the function's
        result."""
        return [
            position
            for position, name in enumerate(step.saved_names)
            if name is not None and (name[0] in "aek" or name in self.outputs)
        ]

    def _backward_source(
        self, namespace: dict[str, Any], known: dict[str, tuple[int, dict[int, Any]]]
    ) -> tuple[list[str], list[str]]:
        """Backward's source. ``known`` gives, per saved tuple of the stash, its length
        and the literal items forward put in it: backward takes those as written."""
        recording = self.recording
        lines = [f"def backward(contexts, stash, g_{self.output}):"]
        if self._stash:
            unpacked, rebuilt = [], []
            for name in self._stash:
                length, items = known.get(name, (0, {}))
                if not items:
                    unpacked.append(name)
                    continue
                unpacked.append("_" if len(items) == length else f"stashed_{name}")
                values = [
                    repr(items[position]) if position in items else f"stashed_{name}[{position}]"
                    for position in range(length)
                ]
                rebuilt.append(f"    {name} = {_tuple(values)}")
            lines.append(f"    ({', '.join(unpacked)},) = stash")
            lines.extend(rebuilt)
        given = ", ".join(f"g_{name}" for name in self.outputs)
        shown = [f"# backward (g_x: the result's gradient with respect to x; {given} given)"]
        assigned = set(self.outputs)
        for index in self.backward_steps:
            step = recording.steps[index]
            output_array = recording.arrays[step.output]
            templates = self._templates[index]
            result, op = f"r{index}", f"O{index}"
            namespace[op] = step.op  # names the op if a gradient does not fit
            if templates is None:
                namespace[f"B{index}"] = step.op.backward
                op = f"c{index}"
                lines.append(f"    {op} = contexts[{index}]")
                lines.append(f"    {result} = B{index}({op}, g_{step.output})")
            else:
                suffix = f"__{index}"
                backward = templates[1]
                assert backward is not None
                namespace.update(backward.globals_used)
                lines.extend(
                    "    " + line
                    for line in backward.bind(suffix, [f"g_{step.output}"], fresh_saved=False)
                )
                result = result_name(suffix)
            # One gradient per input: a tuple, or the gradient itself for one input.
            lines.append(f"    r{index} = {result} if type({result}) is tuple else ({result},)")
            targets = []
            for position, (name, needs) in enumerate(zip(step.inputs, step.needs_input_grad)):
                if not needs:
                    continue
                array = recording.arrays[name]
                value = f"r{index}[{position}]"
                if _differ(array, output_array):
                    namespace[f"S_{name}"] = (array.shape, array.dtype)
                    value = f"FIT({value}, *S_{name}, {op})"
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


def _differ(array: np.ndarray, other: np.ndarray) -> bool:
    """Whether two arrays differ in shape or dtype (a dtype compared by identity first:
    ``!=`` between dtypes costs a microsecond, once per op of a long plan)."""
    return array.shape != other.shape or (
        array.dtype is not other.dtype and array.dtype != other.dtype
    )


def _call_arguments(step: Step) -> str:
    return ", ".join([*step.inputs, *(f"{key}={value}" for key, value in step.options.items())])


def _tuple(names: list[str]) -> str:
    """A tuple display of ``names``, a one-element tuple included."""
    return f"({', '.join(names)}{',' if len(names) == 1 else ''})"

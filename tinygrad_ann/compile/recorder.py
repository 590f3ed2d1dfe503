"""Recording: run a function eagerly once and write down every op it runs.

Every op goes through ``Function.apply``. While a thread records, ``apply`` is
wrapped so that, after running the op as usual, it notes the op's class, where
each input came from and the array it produced. Where a value came from is found
by the identity of its array: an argument's, a Tensor's from outside the function
(a parameter, a buffer: read again on every replay), an earlier op's result, or
else a constant kept as it is.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..autograd import Function, TensorHooks, switches
from ..autograd.capture import RECORDING_THREADS, shown_location, user_line, user_location
from ..autograd.grad_mode import thread_id
from ..errors import CompileError
from ..tensor import Tensor


@dataclass(slots=True)
class Step:
    """One recorded op: ``output = op.forward(ctx, *inputs, **options)``."""

    op: type[Function]
    #: Each positional input as the name of a value (``a0`` argument, ``e0`` outside
    #: Tensor, ``t0`` earlier result, ``k0`` constant).
    inputs: list[str]
    #: Each keyword option as the Python expression that rebuilds it from named values.
    options: dict[str, str]
    output: str
    #: ``ctx.needs_input_grad`` as the op had it: one bool per positional input.
    needs_input_grad: tuple[bool, ...]
    #: Whether the op was recorded for backward (its result required grad).
    differentiable: bool
    #: The names of the values forward saved (None for arrays it made for itself).
    saved_names: list[str | None]
    #: The file and line of the user's code that ran the op (see ``line``).
    location: tuple[str, int] | None

    @property
    def line(self) -> str:
        """The user's line that ran the op, for messages: ``file:line (code)``."""
        return shown_location(self.location)


@dataclass
class Recording:
    """What one eager run of the function did, op by op."""

    steps: list[Step] = field(default_factory=list)
    #: Tensors from outside the function, by name: their ``_data`` is read on every replay.
    externals: dict[str, Tensor] = field(default_factory=dict)
    #: Constant values by name (Python values, arrays of unknown origin, option Tensors).
    constants: dict[str, Any] = field(default_factory=dict)
    #: Each named value's array when recorded: its shape and dtype at replay.
    arrays: dict[str, Any] = field(default_factory=dict)
    #: The modules whose forward ran an op (their train/eval mode is part of the plan).
    modules: dict[int, Any] = field(default_factory=dict)


class Recorder:
    """Names every value an op meets while a function runs once, eagerly."""

    def __init__(self, arguments: list[Tensor]) -> None:
        self.recording = Recording()
        self._name_of_array: dict[int, str] = {}
        self._name_of_tensor: dict[int, str] = {}
        self._results: list[Tensor] = []  # kept alive: no id is reused while recording
        for position, argument in enumerate(arguments):
            name = f"a{position}"
            self._name_of_array.setdefault(id(argument._data), name)
            self.recording.arrays[name] = argument._data

    # ------------------------------------------------------------------ naming values
    def _constant(self, value: Any) -> str:
        name = f"k{len(self.recording.constants)}"
        self.recording.constants[name] = value
        return name

    def _external(self, tensor: Tensor) -> str:
        name = self._name_of_tensor.get(id(tensor))
        if name is None:
            name = f"e{len(self.recording.externals)}"
            self._name_of_tensor[id(tensor)] = name
            self.recording.externals[name] = tensor
            self.recording.arrays[name] = tensor._data
            self._name_of_array.setdefault(id(tensor._data), name)
        return name

    def name_input(self, value: Any) -> str:
        if isinstance(value, Tensor):
            name = self._name_of_array.get(id(value._data))
            return name if name is not None else self._external(value)
        if isinstance(value, np.ndarray):
            name = self._name_of_array.get(id(value))
            return name if name is not None else self._constant(value)
        return self._constant(value)

    def option_expression(self, op: type[Function], key: str, value: Any) -> str:
        """The Python expression that gives option ``key`` its value on a replay."""
        if isinstance(value, Tensor):
            name = self._name_of_array.get(id(value._data))
            if name is not None and name.startswith("t"):
                raise CompileError(
                    f"{op.op_name()} received a Tensor computed inside the function as its "
                    f"option {key!r} (at {user_line()}); tg.compile passes option Tensors "
                    "as they were recorded, so it cannot replay this op"
                )
            if name is not None and name.startswith("a"):
                return f"arguments[{name[1:]}]"
            return self._constant(value)  # a buffer or parameter: forward reads it live
        if isinstance(value, np.ndarray):
            name = self._name_of_array.get(id(value))
            return name if name is not None else self._constant(value)
        if isinstance(value, tuple | list) and any(
            isinstance(item, np.ndarray | Tensor) for item in value
        ):
            items = [self.option_expression(op, key, item) for item in value]
            joined = ", ".join(items) + ("," if len(items) == 1 else "")
            return f"({joined})" if isinstance(value, tuple) else f"[{joined}]"
        return self._constant(value)

    # ------------------------------------------------------------------ recording
    def record(
        self, op: type[Function], inputs: tuple[Any, ...], options: dict[str, Any], result: Tensor
    ) -> None:
        state = switches()
        if state.anomaly:
            raise CompileError(
                f"tg.compile: detect_anomaly() was turned on inside the function (at "
                f"{user_line()}); a replay does not check each op, so it would be ignored. "
                "Wrap the call instead: under detect_anomaly a compiled function runs eagerly"
            )
        name_input = self.name_input
        names = [name_input(value) for value in inputs]
        expressions = (
            {key: self.option_expression(op, key, value) for key, value in options.items()}
            if options
            else {}
        )
        ctx = result._ctx
        recording = self.recording
        output = f"t{len(recording.steps)}"
        data = result._data
        saved_names: list[str | None] = []
        if ctx is not None and len(getattr(ctx, "saved", ())):
            known = self._name_of_array
            saved_names = [
                (output if value is data else known.get(id(value)))
                if isinstance(value, np.ndarray)
                else None
                for value in getattr(ctx, "saved_sources", ())
            ]
        needs = tuple(isinstance(value, Tensor) and value.requires_grad for value in inputs)
        recording.steps.append(
            Step(
                op, names, expressions, output, needs, ctx is not None, saved_names, user_location()
            )
        )
        self._name_of_array[id(data)] = output
        recording.arrays[output] = data
        self._results.append(result)
        for module in state.module_scope:
            recording.modules[id(module)] = module

    def names_of_outputs(self, value: Any) -> list[str]:
        """The names of what the function returned: a Tensor, or a tuple or list of them."""
        results = list(value) if isinstance(value, tuple | list) else [value]
        if not results or not all(isinstance(result, Tensor) for result in results):
            raise CompileError(
                "tg.compile: the function must return a Tensor (the loss, say) or a tuple or "
                f"list of Tensors, got {_described(value)}; return other values from a "
                "second, uncompiled function"
            )
        names = []
        for result in results:
            name = self._name_of_array.get(id(result._data))
            names.append(name if name is not None else self._external(result))
        return names

    def check_nothing_unseen(self) -> None:
        """Refuse what a replay would silently skip: hooks inside the function."""
        for result in self._results:
            if id(result) in TensorHooks.by_id or result._retains_grad:
                raise CompileError(
                    "tg.compile: a hook or retain_grad() was put on a Tensor computed inside "
                    "the function; a replay makes no such Tensors. Register hooks on the "
                    "parameters or on the compiled function's result instead"
                )
        for module in self.recording.modules.values():
            hooks = getattr(module, "__dict__", {}).get("_forward_hooks")
            if hooks and (hooks["pre"] or hooks["post"]):
                raise CompileError(
                    f"tg.compile: {type(module).__name__} has forward hooks, which run "
                    "in Python around its ops and so cannot be replayed; remove them, or "
                    "call the function uncompiled"
                )


# ---------------------------------------------------------------------- apply's wrapper
# One recorder per recording thread. While any is active, Function.apply is wrapped;
# other threads pass straight through to the real apply.
_RECORDERS: dict[int, Recorder] = {}
_LOCK = threading.Lock()
_PLAIN_APPLY = Function.__dict__["apply"]


def _recording_apply(cls: type[Function], *inputs: Any, **options: Any) -> Tensor:
    result = _PLAIN_APPLY.__func__(cls, *inputs, **options)
    recorder = _RECORDERS.get(thread_id())
    if recorder is not None:
        recorder.record(cls, inputs, options, result)
    return result


def record(
    function: Any, arguments: list[Any], keywords: dict[str, Any], recorder: Recorder
) -> Any:
    """Run ``function`` once, eagerly, with ``recorder`` noting every op of this thread."""
    me = thread_id()
    with _LOCK:
        if me in _RECORDERS:
            raise CompileError(
                "tg.compile: a compiled function was called while another one records; "
                "call it outside, or leave the inner function uncompiled"
            )
        _RECORDERS[me] = recorder
        RECORDING_THREADS.add(me)
        if len(_RECORDERS) == 1:
            Function.apply = classmethod(_recording_apply)  # type: ignore[method-assign,assignment]
    try:
        return function(*arguments, **keywords)
    finally:
        with _LOCK:
            del _RECORDERS[me]
            RECORDING_THREADS.discard(me)
            if not _RECORDERS:
                Function.apply = _PLAIN_APPLY  # type: ignore[method-assign]


def _described(value: Any) -> str:
    if isinstance(value, tuple | list):
        kinds = ", ".join(type(item).__name__ for item in value)
        return f"a {type(value).__name__} of ({kinds})"
    return f"a {type(value).__name__}"

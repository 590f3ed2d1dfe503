"""``tg.compile``: the cache of plans, the signature that picks one, and the graph node
through which a replay's result joins eager autograd."""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

from ..autograd import Function, switches
from ..autograd import saved as saved_module
from ..autograd.function import next_sequence
from ..autograd.saved import RELEASED
from ..errors import CompileError
from ..nn.module import Module, structure_changes
from ..tensor import Tensor
from .checking import checked_replay
from .plan import SIMPLIFY_AFTER, UPGRADE_AFTER, Plan
from .recorder import Recorder, record

#: Plans kept per compiled function; the least recently used one is dropped beyond.
CACHE_SIZE = 8

_new_object = object.__new__


class _ReplayNode(Function):
    """A graph node of a replay: what the engine needs of an op, and the release of what
    the replay kept for backward once backward is done with it (or the node is dropped)."""

    __slots__ = ("_held",)
    name = "compiled"
    differentiable_backward = False  # the plan's VJPs run on arrays

    @property
    def saved(self) -> Any:
        return self._held

    @saved.setter
    def saved(self, value: Any) -> None:
        self._held = value
        if value is RELEASED:  # backward is done with this call: its contexts can be reused
            self._give_back()

    def _give_back(self) -> None:
        raise NotImplementedError

    def __del__(self) -> None:
        self._give_back()

    @classmethod
    def backward_not_recordable(cls) -> Exception:
        return CompileError(
            "create_graph=True through a compiled function: its plan runs the ops' VJPs "
            "on arrays, so it cannot record a graph of its gradient; call the function "
            "uncompiled (compiled.function) for higher derivatives"
        )


class CompiledCall(_ReplayNode):
    """The graph node of one replay: its backward runs the plan's backward.

    Its parents are the arguments and outside Tensors (parameters) that require
    grad, so the eager engine accumulates their ``.grad``, runs their hooks and
    refuses a second backward, as for any op.
    """

    __slots__ = ("plan", "contexts", "stash", "plan_backward")

    plan: Plan
    contexts: list[Function | None]
    stash: Any
    plan_backward: Callable[..., Any]

    def _give_back(self) -> None:
        contexts = getattr(self, "contexts", None)
        if contexts is not None:
            del self.contexts
            self.stash = ()  # what the inlined ops saved: dropping it unlocks guarded arrays
            self.plan.give_back(contexts)

    @staticmethod
    def backward(ctx: Function, grad_output: Any) -> Any:
        assert isinstance(ctx, CompiledCall)
        return ctx.plan_backward(ctx.contexts, ctx.stash, grad_output)


class _Entry:
    """One plan and the checks that say it fits the call."""

    __slots__ = (
        "plan",
        "grad_enabled",
        "external_guard",
        "module_guard",
        "structure",
        "contents",
        "arguments",
        "distinct",
    )

    def __init__(self, plan: Plan, tensors: list[Tensor], positional: bool) -> None:
        self.plan = plan
        self.grad_enabled = switches().grad_enabled  # recorded under this grad mode
        recording = plan.recording
        self.external_guard = [
            (tensor, tensor._data.shape, tensor._data.dtype, tensor.requires_grad)
            for tensor in recording.externals.values()
        ]
        self.module_guard = [(module, module.training) for module in recording.modules.values()]
        #: What each module held (its Tensor and Module attributes, by identity), checked
        #: again only when some module's attributes changed since (``structure_changes``).
        self.structure = structure_changes()
        self.contents = [(module, _contents(module)) for module in recording.modules.values()]
        #: For calls of Tensors and arrays only, by position: what :meth:`fits_quickly`
        #: compares each argument with (None: the full signature is needed).
        self.arguments = (
            [(t._data.shape, t._data.dtype, t.requires_grad) for t in tensors]
            if positional
            else None
        )
        self.distinct = len({id(t._data) for t in tensors})

    def fits(self) -> bool:
        """Whether the outside Tensors and the modules are as recorded (and the saved-array
        copy limit the plan's code was made under)."""
        if self.plan.copy_limit != saved_module._COPY_LIMIT:
            return False
        for tensor, shape, dtype, requires_grad in self.external_guard:
            data = tensor._data
            if (
                data.shape != shape
                or (data.dtype is not dtype and data.dtype != dtype)
                or tensor.requires_grad is not requires_grad
            ):
                return False
        for module, training in self.module_guard:
            if module.training != training:
                return False
        changes = structure_changes()
        if changes != self.structure:
            if any(_contents(module) != held for module, held in self.contents):
                return False  # a layer or parameter object replaced: record again
            self.structure = changes
        return True

    def fits_quickly(self, arguments: tuple[Any, ...], grad_enabled: bool) -> list[Tensor] | None:
        """The call's Tensors if positional ``arguments`` fit this plan, else None: the
        signature's checks without building its key (the common call: the same plan again)."""
        expected = self.arguments
        if (
            expected is None
            or len(arguments) != len(expected)
            or grad_enabled is not self.grad_enabled
        ):
            return None
        tensors = []
        for value, (shape, dtype, requires_grad) in zip(arguments, expected):
            kind = type(value)
            if kind is Tensor:
                data = value._data
                if value.requires_grad is not requires_grad:
                    return None
            elif kind is np.ndarray:
                data = value
                value = Tensor._wrap(data)
                if requires_grad:
                    return None
            else:
                return None
            if data.shape != shape or (data.dtype is not dtype and data.dtype != dtype):
                return None
            tensors.append(value)
        if len(tensors) > 1 and len({id(t._data) for t in tensors}) != self.distinct:
            return None
        return tensors if self.fits() else None


class CompiledFunction:
    """A function of Tensors that runs as a recorded plan after its first call.

    See :func:`compile`.
    """

    def __init__(self, function: Callable[..., Any], check: bool = False) -> None:
        if not callable(function):
            raise TypeError(f"tg.compile: expected a function, got {type(function).__name__}")
        self.function = function
        self.check = check
        self._cache: OrderedDict[Hashable, list[_Entry]] = OrderedDict()
        self._last: _Entry | None = None  # the plan the last call ran
        self._lock = threading.Lock()
        #: How many times the function was recorded (a new signature, or a plan dropped).
        self.recordings = 0
        # A module's own attributes (its parameters) stay on it: reached by __getattr__.
        functools.update_wrapper(
            self, function, updated=() if isinstance(function, Module) else ("__dict__",)
        )

    def __getattr__(self, name: str) -> Any:
        # As torch.compile's result: the compiled module's own methods and attributes
        # (parameters(), train(), eval(), state_dict()) are the module's.
        if name.startswith("__") or name == "function":
            raise AttributeError(name)
        return getattr(self.function, name)

    def __repr__(self) -> str:
        name = getattr(self.function, "__qualname__", repr(self.function))
        return f"<compiled {name}: {sum(map(len, self._cache.values()))} plan(s)>"

    # ------------------------------------------------------------------ calling
    def __call__(self, *arguments: Any, **keywords: Any) -> Any:
        state = switches()
        if state.anomaly:
            # Anomaly mode checks every op as it runs, which only eager does.
            return self.function(*arguments, **keywords)
        last = self._last
        if last is not None and not keywords and not self.check:
            tensors = last.fits_quickly(arguments, state.grad_enabled)
            if tensors is not None:
                return _replay(last.plan, tensors)
        tensors, key = _signature(arguments, keywords)
        found = None
        with self._lock:  # the cache is shared by the threads that call the function
            entries = self._cache.get(key)
            if entries is not None:
                self._cache.move_to_end(key)
                found = next((entry for entry in entries if entry.fits()), None)
                if found is not None:
                    self._last = found
        if found is None:
            return self._record(key, tensors, arguments, keywords)
        if self.check:
            return self._checked_replay(found.plan, tensors, arguments, keywords)
        return _replay(found.plan, tensors)

    def _record(
        self,
        key: Hashable,
        tensors: list[Tensor],
        arguments: tuple[Any, ...],
        keywords: dict[str, Any],
    ) -> Any:
        recorder = Recorder(tensors)
        passed_arguments, passed_keywords = _as_passed(arguments, keywords, tensors)
        result = record(self.function, passed_arguments, passed_keywords, recorder)
        outputs = recorder.names_of_outputs(result)
        recorder.check_nothing_unseen()
        grad_targets = [
            f"a{position}" for position, tensor in enumerate(tensors) if tensor.requires_grad
        ] + [name for name, tensor in recorder.recording.externals.items() if tensor.requires_grad]
        plan = Plan(recorder.recording, outputs, grad_targets, traced=self.check)
        if isinstance(result, tuple | list):
            plan.results_type = type(result)
            plan.results_with_grad = [tensor.requires_grad for tensor in result]
        plan.argument_parents = [
            position for position, tensor in enumerate(tensors) if tensor.requires_grad
        ]
        plan.parents = [
            tensor for tensor in recorder.recording.externals.values() if tensor.requires_grad
        ]
        positional = not keywords and all(isinstance(v, np.ndarray | Tensor) for v in arguments)
        entry = _Entry(plan, tensors, positional)
        with self._lock:
            self._cache.setdefault(key, []).append(entry)
            self._last = entry
            self._cache.move_to_end(key)
            while sum(map(len, self._cache.values())) > CACHE_SIZE:
                oldest = next(iter(self._cache))
                dropped = self._cache[oldest].pop(0)
                if dropped is self._last:
                    self._last = None
                if not self._cache[oldest]:
                    del self._cache[oldest]
            self.recordings += 1
        return result

    # ------------------------------------------------------------------ looking
    def recorded(self, *arguments: Any, **keywords: Any) -> Plan:
        """The plan recorded for these arguments (without arguments: the last recorded)."""
        if arguments or keywords:
            _, key = _signature(arguments, keywords)
            entries = self._cache.get(key)
        else:
            entries = next(reversed(self._cache.values()), None) if self._cache else None
        if not entries:
            raise CompileError(
                "plan(): nothing recorded for these arguments yet; call the compiled function once"
            )
        return entries[-1].plan

    def plan(self, *arguments: Any, source: bool = False, **keywords: Any) -> str:
        """The plan for these arguments (the last one recorded, without arguments) as text:
        one op per line, forward then backward. With ``source=True``, the Python it runs as
        straight-line code instead: each op's own NumPy lines, inlined. ``tg.viz.draw_plan``
        draws it."""
        plan = self.recorded(*arguments, **keywords)
        if not source:
            return plan.shown
        if not plan.simplified:
            plan.upgrade(simplified=True)  # what is shown is what runs from now on
        return plan.source

    def _checked_replay(
        self,
        plan: Plan,
        tensors: list[Tensor],
        arguments: tuple[Any, ...],
        keywords: dict[str, Any],
    ) -> Any:
        passed = _as_passed(arguments, keywords, tensors)
        return checked_replay(self.function, plan, tensors, passed, _replay)


def _contents(module: Any) -> dict[str, int]:
    """The identities of a module's Tensor and Module attributes, by name."""
    return {
        name: id(value)
        for name, value in vars(module).items()
        if isinstance(value, Tensor | Module)
    }


def _signature(
    arguments: tuple[Any, ...], keywords: dict[str, Any]
) -> tuple[list[Tensor], Hashable]:
    """The Tensors (NumPy arrays become Tensors) and the key that picks a plan for them."""
    tensors: list[Tensor] = []
    parts: list[Any] = [switches().grad_enabled]
    seen: dict[int, int] = {}
    for name, value in [*enumerate(arguments), *sorted(keywords.items())]:
        if isinstance(value, np.ndarray):
            value = Tensor._wrap(value)
        if isinstance(value, Tensor):
            data = value._data
            first = seen.setdefault(id(data), len(tensors))
            parts.append((name, data.shape, data.dtype.str, value.requires_grad, first))
            tensors.append(value)
        else:
            try:
                hash(value)
            except TypeError:
                raise CompileError(
                    f"tg.compile: argument {name!r} is a {type(value).__name__}, which is "
                    "neither a Tensor, a NumPy array nor a hashable value; the plan depends "
                    "on every argument, so pass Tensors, or values such as numbers and strings"
                ) from None
            parts.append((name, type(value), value))
    return tensors, tuple(parts)


def _as_passed(
    arguments: tuple[Any, ...], keywords: dict[str, Any], tensors: list[Tensor]
) -> tuple[list[Any], dict[str, Any]]:
    """The call's arguments with NumPy arrays replaced by the Tensors that wrap them."""
    pending = iter(tensors)
    passed = [
        next(pending) if isinstance(value, np.ndarray | Tensor) else value for value in arguments
    ]
    passed_keywords = {}
    for name, value in sorted(keywords.items()):
        passed_keywords[name] = next(pending) if isinstance(value, np.ndarray | Tensor) else value
    return passed, passed_keywords


def _replay(plan: Plan, tensors: list[Tensor], trace: list[Any] | None = None) -> Tensor:
    """Run the plan's forward on this call's Tensors; the result joins eager autograd.

    With ``trace`` (a plan made with ``traced=True``), each op's result is appended to it.
    """
    plan.replays += 1
    if plan.replays == UPGRADE_AFTER and not plan.source:
        plan.upgrade()
    elif plan.replays == SIMPLIFY_AFTER and plan.source and not plan.simplified:
        plan.upgrade(simplified=True)
    free = plan.free_contexts
    contexts = free.pop() if free else plan.new_contexts()
    if trace is None:
        out, stash = plan.forward(tensors, contexts)
    else:
        out, stash = plan.forward(tensors, contexts, trace)
    if plan.results_type is not None:
        return _several_results(plan, tensors, contexts, out, stash)
    result = _new_object(Tensor)
    result._data = out
    result._grad = None
    result._retains_grad = False
    parents = _parents(plan, tensors)
    if parents and switches().grad_enabled:
        node = _new_object(CompiledCall)
        node.plan = plan
        node.contexts = contexts
        node.stash = stash
        node.plan_backward = plan.backward  # the form (kernels or code) that ran forward
        node._held = (True,)  # anything but RELEASED: the engine checks it before backward
        node.parents = parents
        node.needs_input_grad = (True,) * len(parents)
        node.sequence = next_sequence()
        node.scope = ()
        result.requires_grad = True
        result._ctx = node
    else:
        plan.give_back(contexts)
        result.requires_grad = False
        result._ctx = None
    return result


def _parents(plan: Plan, tensors: list[Tensor]) -> list[Tensor | None]:
    """A replay node's parents: the call's arguments and the outside Tensors that need grad."""
    if plan.argument_parents:
        return [tensors[position] for position in plan.argument_parents] + plan.parents
    return plan.parents


class _Call:
    """What one replay of a plan with several results keeps for their backward passes,
    shared by their nodes and given back when the last is released."""

    __slots__ = ("plan", "contexts", "stash", "backward", "alive")

    plan: Plan
    contexts: list[Any]
    stash: Any
    backward: Callable[..., Any]
    alive: int

    def release_one(self) -> None:
        self.alive -= 1
        if self.alive == 0:
            self.plan.give_back(self.contexts)
            self.stash = ()


class CompiledResult(_ReplayNode):
    """The graph node of one result of a replay with several: its backward runs the plan's
    backward with this result's gradient (None for the others)."""

    __slots__ = ("call", "index")

    call: _Call | None
    index: int

    def _give_back(self) -> None:
        call = getattr(self, "call", None)
        if call is not None:
            self.call = None
            call.release_one()

    @staticmethod
    def backward(ctx: Function, grad_output: Any) -> Any:
        assert isinstance(ctx, CompiledResult) and ctx.call is not None
        call = ctx.call
        seeds = [None] * len(call.plan.outputs)
        seeds[ctx.index] = grad_output
        return call.backward(call.contexts, call.stash, seeds)


def _several_results(
    plan: Plan, tensors: list[Tensor], contexts: list[Any], arrays: tuple[Any, ...], stash: Any
) -> Any:
    """The results of a replay with several, each with its own node where it needs grad."""
    parents = _parents(plan, tensors)
    recording = parents and switches().grad_enabled
    call = _new_object(_Call)
    call.plan, call.contexts, call.stash, call.backward = plan, contexts, stash, plan.backward
    call.alive = 0
    results = []
    for index, (array, with_grad) in enumerate(zip(arrays, plan.results_with_grad)):
        result = _new_object(Tensor)
        result._data = array
        result._grad = None
        result._retains_grad = False
        result.requires_grad = False
        result._ctx = None
        if recording and with_grad:
            node = _new_object(CompiledResult)
            node.call, node.index, node._held = call, index, (True,)
            node.parents = parents
            node.needs_input_grad = (True,) * len(parents)
            node.sequence = next_sequence()
            node.scope = ()
            call.alive += 1
            result.requires_grad = True
            result._ctx = node
        results.append(result)
    if call.alive == 0:
        call.alive = 1
        call.release_one()
    assert plan.results_type is not None
    return plan.results_type(results)


def compile(  # noqa: A001 - torch.compile's name
    function: Callable[..., Any] | None = None, *, check: bool = False, **torch_options: Any
) -> Any:
    """Record ``function`` once, then replay it as a flat plan of NumPy calls.

    The first call with a new signature runs eagerly and records every op;
    later calls replay the recorded ops' forward (and, on ``backward()``, their
    VJPs) with no per-op Python objects. Usable as ``tg.compile(fn)`` or as
    the decorator ``@tg.compile``. See docs/compile.md.

    >>> import tinygrad_ann as tg
    >>> w = tg.tensor([1.0, 2.0], requires_grad=True)
    >>> @tg.compile
    ... def loss(x):
    ...     return ((x * w).sum() - 1.0) ** 2
    >>> for _ in range(3):
    ...     w.grad = None
    ...     loss(tg.tensor([3.0, 4.0])).backward()
    >>> w.grad
    Tensor([60., 80.])
    >>> loss.recordings
    1
    """
    if torch_options:
        raise TypeError(
            f"tg.compile takes no {', '.join(f'{name}=' for name in torch_options)} (options of "
            "torch.compile): it has one kind of plan, bit for bit as eager. Its only option is "
            "check=True (docs/compile.md)"
        )
    if function is None:
        return lambda inner: CompiledFunction(inner, check=check)
    return CompiledFunction(function, check=check)

"""Grad mode: whether ops are recorded, switched for each thread apart.

:func:`switches` gives the running thread's :class:`EngineSwitches`;
:class:`no_grad` and :class:`enable_grad` turn recording off and on for a
``with`` block or a decorated function, and put the old value back after it.

>>> import tinygrad_ann as tg
>>> w = tg.ones(2, requires_grad=True)
>>> with tg.no_grad():
...     print(tg.is_grad_enabled(), (w * 2).requires_grad)
False False
"""

from __future__ import annotations

import _thread  # what threading is built on, without importing all of threading
import contextlib
from collections.abc import Callable
from typing import Any

__all__ = [
    "EngineSwitches",
    "enable_grad",
    "is_grad_enabled",
    "no_grad",
    "set_grad_enabled",
    "switches",
    "thread_id",
]


class EngineSwitches:
    """The engine's switches, one set per thread.

    Every thread starts with the defaults (grad mode on, as in PyTorch, whatever
    the thread that started it was doing), so a ``no_grad`` block in one thread
    never changes what another thread records. :func:`switches` gives the
    running thread's; whoever changes one puts the old value back when done.
    """

    __slots__ = (
        "grad_enabled",
        "anomaly",
        "record_origin",
        "module_scope",
        "recording_backward_depth",
        "saved_as_constants",
        "backward_observers",
    )

    def __init__(self) -> None:
        #: Whether ops are recorded for backward (``no_grad``, ``enable_grad``).
        self.grad_enabled = True
        #: Whether every op is checked for NaN and inf (``detect_anomaly``).
        self.anomaly = False
        #: Whether each recorded op keeps where it was called: a stack walk per op, so
        #: only under ``detect_anomaly`` and while gradcheck replays a graph to name an op.
        self.record_origin = False
        #: The modules whose ``forward`` is running, outermost first: ``Module.__call__``
        #: pushes and pops it, and every recorded op keeps the value it had (``ctx.scope``),
        #: so a drawing can group ops by the module that made them.
        self.module_scope: tuple[Any, ...] = ()
        #: How many backward passes under ``create_graph`` are running: converting a
        #: Tensor that requires grad to an array there would make part of a gradient a
        #: constant.
        self.recording_backward_depth = 0
        #: Whether a backward under ``create_graph`` records only how the gradients depend
        #: on the upstream gradient, what ops saved staying constants: all that J·v needs
        #: (``tg.jvp`` differentiates a VJP with respect to that gradient alone), in a
        #: smaller graph than the full recording.
        self.saved_as_constants = False
        #: Called for every op a backward pass differentiates, as ``observer(ctx, output,
        #: grad_output, input_grads)`` (``observe_backward``, which types its arguments:
        #: naming Function and Tensor here would make this lowest module import the others).
        self.backward_observers: tuple[Callable[..., None], ...] = ()


class _OtherThreads(_thread._local):
    def __init__(self) -> None:
        self.switches = EngineSwitches()


# The thread that imported the package (in most programs the only one) has its switches
# in a plain global, found by comparing thread identifiers: cheaper than any per-thread
# lookup (a threading.local attribute costs four times a class attribute, a context
# variable's lookup costs NumPy's too), and ops look once each.
_FIRST_THREAD_ID = _thread.get_ident()
_FIRST_THREAD = EngineSwitches()
_OTHER_THREADS = _OtherThreads()
thread_id = _thread.get_ident


def switches() -> EngineSwitches:
    """The running thread's switches (see :class:`EngineSwitches`)."""
    if thread_id() == _FIRST_THREAD_ID:
        return _FIRST_THREAD
    return _OTHER_THREADS.switches


def is_grad_enabled() -> bool:
    """Return True when operations are being recorded for backward (in this thread)."""
    return switches().grad_enabled


class _PerThreadStack:
    """What a context manager must restore on exit, kept for each thread apart.

    One ``no_grad()`` object may be entered by several threads at once (a
    decorator's, or one kept in a variable), so what it saved on entry must be
    the entering thread's own.
    """

    def __init__(self) -> None:
        self._stacks: dict[int, list[Any]] = {}

    def push(self, value: Any) -> None:
        self._stacks.setdefault(thread_id(), []).append(value)

    def pop(self) -> Any:
        thread = thread_id()
        stack = self._stacks[thread]
        value = stack.pop()
        if not stack:
            del self._stacks[thread]
        return value


class _SetGradMode(contextlib.ContextDecorator):
    """Context manager and decorator that sets grad mode, restoring it on exit.

    A decorator enters the same object at every call, from any thread and
    recursively: each thread's saved values wait on their own stack.
    """

    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled
        self._previous = _PerThreadStack()

    def __enter__(self) -> None:
        state = switches()
        self._previous.push(state.grad_enabled)
        state.grad_enabled = self._enabled

    def __exit__(self, *exc_info: object) -> None:
        switches().grad_enabled = self._previous.pop()


class no_grad(_SetGradMode):  # noqa: N801 - PyTorch's name
    """Disable graph recording in this thread, as a ``with`` block or a decorator.

    >>> import tinygrad_ann as tg
    >>> w = tg.ones(3, requires_grad=True)
    >>> with tg.no_grad():
    ...     y = w * 2
    >>> y.requires_grad
    False
    """

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(_SetGradMode):  # noqa: N801 - PyTorch's name
    """Re-enable graph recording in this thread inside a :class:`no_grad` region."""

    def __init__(self) -> None:
        super().__init__(True)


class set_grad_enabled(_SetGradMode):  # noqa: N801 - PyTorch's name
    """Turn recording on or off in this thread: at once when called, and back to the
    mode before the call at the end of a ``with`` block, as PyTorch's does.

    >>> import tinygrad_ann as tg
    >>> w = tg.ones(2, requires_grad=True)
    >>> with tg.set_grad_enabled(False):
    ...     print((w * 2).requires_grad)
    False
    >>> _ = tg.set_grad_enabled(False)
    >>> tg.is_grad_enabled()
    False
    >>> _ = tg.set_grad_enabled(True)
    """

    def __init__(self, mode: bool) -> None:
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled: mode must be True or False, got {mode!r}")
        super().__init__(mode)
        state = switches()
        self._before_call: bool | None = state.grad_enabled
        state.grad_enabled = mode

    def __enter__(self) -> None:
        # The call already set the mode: the first block restores the one before the call.
        before, self._before_call = self._before_call, None
        state = switches()
        self._previous.push(state.grad_enabled if before is None else before)
        state.grad_enabled = self._enabled

    def __call__(self, function: Callable[..., Any]) -> Callable[..., Any]:  # type: ignore[override]
        # As a decorator it sets the mode only while the function runs.
        if self._before_call is not None:
            switches().grad_enabled = self._before_call
            self._before_call = None
        return super().__call__(function)

"""The autograd engine: ``Function`` (one differentiable op), grad mode, and backward.

Every op is a subclass of :class:`Function` with two static methods working on
NumPy arrays: ``forward(ctx, *arrays)`` computes the result, and
``backward(ctx, grad_output)`` returns the vector-Jacobian product, one gradient
per input. ``Function.apply`` runs ``forward`` on the inputs' arrays and, when a
gradient is needed, records the call so :func:`run_backward` can replay it in
reverse.

Broadcasting is undone here, once, for every op: a backward may return a
gradient of the broadcast shape and the engine sums it back to the input's
shape.

Higher-order gradients reuse the same ``backward``. With ``create_graph=True``
the engine hands it Tensors instead of arrays (the upstream gradient, and each
saved input or output as the Tensor it came from), so the formula's own
operations are recorded and can be differentiated again.

Arrays saved for backward are guarded: while a graph that saved an array is
alive, the array is read-only, so an in-place write cannot silently change a
gradient (see :class:`SavedArrays`).
"""

from __future__ import annotations

import _thread  # what threading is built on, without importing all of threading
import contextlib
import functools
import heapq
import itertools
import os
import sys
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal, ParamSpec, TypeVar, overload

import numpy as np

from .errors import AnomalyError, ShapeError

if TYPE_CHECKING:
    from types import FrameType

_P = ParamSpec("_P")
_R = TypeVar("_R")


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
        #: Called for every op a backward pass differentiates (``observe_backward``).
        self.backward_observers: tuple[
            Callable[[Function, Tensor, Any, tuple[Any, ...]], None], ...
        ] = ()


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


class _SetGradMode:
    """Context manager and decorator that sets grad mode, restoring it on exit."""

    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled
        self._previous = _PerThreadStack()

    def __enter__(self) -> None:
        state = switches()
        self._previous.push(state.grad_enabled)
        state.grad_enabled = self._enabled

    def __exit__(self, *exc_info: object) -> None:
        switches().grad_enabled = self._previous.pop()

    def __call__(self, func: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(func)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            with _SetGradMode(self._enabled):
                return func(*args, **kwargs)

        return wrapper


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


class detect_anomaly:  # noqa: N801 - PyTorch's name
    """Check every op of this thread for NaN and inf while the block runs (or the decorated
    function).

    In forward, an op whose result holds NaN or inf although its inputs are
    finite raises :class:`AnomalyError` naming the op, its input shapes and the
    line of your code that called it. In backward, a vector-Jacobian product
    that turns a finite upstream gradient into NaN or inf raises naming the op
    and the line where that op was recorded. Outside the block nothing is
    checked and no stack is inspected.

    >>> import tinygrad_ann as tg
    >>> x = tg.tensor([1.0, 0.0], requires_grad=True)
    >>> try:
    ...     with tg.detect_anomaly():
    ...         y = x.log()
    ... except tg.AnomalyError as error:
    ...     print(str(error).split(", called at")[0])
    log: forward produced -inf from finite inputs of shape (2,)
    """

    def __init__(self) -> None:
        self._previous = _PerThreadStack()

    def __enter__(self) -> None:
        state = switches()
        self._previous.push((state.anomaly, state.record_origin))
        state.anomaly = state.record_origin = True

    def __exit__(self, *exc_info: object) -> None:
        state = switches()
        state.anomaly, state.record_origin = self._previous.pop()

    def __call__(self, func: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(func)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            with detect_anomaly():
                return func(*args, **kwargs)

        return wrapper


def is_anomaly_enabled() -> bool:
    """Return True inside :class:`detect_anomaly` (in this thread)."""
    return switches().anomaly


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _caller_location() -> str:
    """``file:line`` of the innermost stack frame outside this package."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def _non_finite(value: Any) -> str | None:
    """``"nan"``, ``"inf"`` or ``"-inf"`` for the first non-finite entry of a float array."""
    array = _data(value)
    # np.inexact rather than np.generic: every float or complex scalar is one, and unlike
    # np.generic it has ``>`` in NumPy's stubs.
    if not isinstance(array, np.ndarray | np.inexact) or array.dtype.kind not in "fc":
        return None
    if np.isfinite(array).all():
        return None
    if isinstance(array, np.ndarray) and array.ndim:
        first = array[~np.isfinite(array)].flat[0]
    else:
        first = array
    return "nan" if np.isnan(first) else ("inf" if first > 0 else "-inf")


def _checked_forward(
    cls: type[Function], ctx: Function, arrays: Sequence[Any], options: dict[str, Any]
) -> Any:
    """``cls.forward`` with NumPy's overflow warnings replaced by an AnomalyError."""
    with np.errstate(all="ignore"):
        out = cls.forward(ctx, *arrays, **options)
    produced = _non_finite(np.asarray(out))
    # Inside a recorded backward the op whose VJP this is gets reported instead (below).
    if (
        produced is None
        or switches().recording_backward_depth
        or any(_non_finite(a) for a in arrays)
    ):
        return out
    shapes = ", ".join(str(np.shape(a)) for a in arrays if isinstance(a, np.ndarray))
    raise AnomalyError(
        f"{cls.op_name()}: forward produced {produced} from finite inputs of shape "
        f"{shapes or '()'}, called at {_caller_location()}"
    )


def _check_backward(ctx: Function, grad: Any, input_grads: Sequence[Any]) -> None:
    if _non_finite(grad):
        return
    for position, input_grad in enumerate(input_grads):
        produced = None if input_grad is None else _non_finite(np.asarray(_data(input_grad)))
        if produced:
            recorded_at = ctx.__dict__.get("origin", "<recorded outside detect_anomaly>")
            raise AnomalyError(
                f"{ctx.op_name()}: backward produced {produced} in the gradient of input "
                f"{position} from a finite upstream gradient; the op was recorded at "
                f"{recorded_at}"
            )


# ---------------------------------------------------------------- saved-array guard
class SavedArrays:
    """How arrays saved for backward are kept safe from in-place writes.

    An in-place write (``x.data[...] = v``, ``x.data += v``) into an array an
    op saved would silently change the gradient that op computes later. So a
    recorded op never backpropagates through an array someone else can change
    (an intermediate that forward computed for itself and declared in
    ``Function.private_saved`` is kept as it is: nobody else holds it):

    - an array of at most ``copy_limit`` elements is copied when saved (cheaper
      than any lock at that size): later writes to the original are allowed and
      the graph keeps differentiating the values it was computed with;
    - a larger array is made read-only until the last graph that saved it runs
      its backward or is garbage collected, so a write raises at once. A saved
      view locks the array it views as well.

    Arrays nobody saved, and arrays saved by forward passes under ``no_grad``,
    are never touched. ``counts`` maps ``id(array)`` to the number of live
    graphs that locked it.
    """

    copy_limit: ClassVar[int] = 1024  # elements; read when the package is imported
    counts: ClassVar[dict[int, int]] = {}

    @staticmethod
    def is_locked(array: np.ndarray) -> bool:
        """True while a live graph holds ``array`` (or a view of it) read-only."""
        return id(array) in SavedArrays.counts


_COPY_LIMIT = SavedArrays.copy_limit
# Graphs in two threads may save the same large array (a shared weight): its lock count
# and its write flag change together, or a count is lost and the array unlocked early.
# Reentrant, because a graph freed by the garbage collector inside the block unlocks too.
_GUARD_LOCK = _thread.RLock()
_ndarray = np.ndarray


class _GuardedSaved(tuple):
    """``ctx.saved`` when it locked arrays: unlocks them (``locked``) when it is dropped,
    which happens when backward releases the graph or when the graph is garbage collected."""

    locked: list[np.ndarray]

    def __del__(self) -> None:
        counts = SavedArrays.counts
        with _GUARD_LOCK:
            for array in self.locked:  # bases come before their views
                _unlock(array, counts)


def _guard(saved: tuple[Any, ...], private: tuple[int, ...]) -> tuple[Any, ...]:
    """``saved`` with its arrays copied, or locked if large (see :class:`SavedArrays`).

    Positions in ``private`` hold intermediates forward computed for itself:
    nobody else has them, so they are kept as they are.
    """
    if len(saved) == 1 and not private:  # most ops save one array: the short way
        (value,) = saved
        if type(value) is _ndarray and value.size <= _COPY_LIMIT:
            return (value.copy(),)
    for value in saved:
        if type(value) is _ndarray:
            return _guard_each(saved, private)
    return saved  # no arrays: nothing to guard


def _guard_each(saved: tuple[Any, ...], private: tuple[int, ...]) -> tuple[Any, ...]:
    counts = SavedArrays.counts
    guarded = []
    locked = []
    for position, value in enumerate(saved):
        if type(value) is _ndarray and position not in private:
            if value.size <= _COPY_LIMIT or not _can_unlock(value):
                value = value.copy()
            else:
                with _GUARD_LOCK:
                    base = value.base
                    if base is not None and type(base) is _ndarray and _lock(base, counts):
                        locked.append(base)
                    if _lock(value, counts):
                        locked.append(value)
        guarded.append(value)
    if not locked:
        return tuple(guarded)
    result = _GuardedSaved(guarded)
    result.locked = locked
    return result


def _can_unlock(array: np.ndarray) -> bool:
    """False when NumPy could not make ``array`` writable again once locked.

    An array backed by memory that is read-only underneath (the bytes an
    unpickled array was read from, say) keeps its lock forever, so it is
    copied instead.
    """
    base = array.base
    while isinstance(base, np.ndarray):
        array, base = base, base.base
    if base is None:
        return True
    try:
        return not memoryview(base).readonly
    except TypeError:  # no buffer to ask: take the safe way
        return False


def _lock(array: np.ndarray, counts: dict[int, int]) -> bool:
    """Lock ``array`` once more; False if it is read-only for other reasons (not ours)."""
    key = id(array)
    count = counts.get(key)
    if count is not None:
        counts[key] = count + 1
    elif array.flags.writeable:
        array.setflags(write=False)
        counts[key] = 1
    else:
        return False
    return True


def _unlock(array: np.ndarray, counts: dict[int, int]) -> None:
    key = id(array)
    count = counts.get(key)
    if count is None:
        return
    if count > 1:
        counts[key] = count - 1
        return
    del counts[key]
    try:
        array.setflags(write=True)
    except ValueError:
        # A view whose base another graph still guards: it becomes writable with its base.
        _VIEWS_WAITING.setdefault(id(array.base), []).append(array)
        return
    for view in _VIEWS_WAITING.pop(key, ()):
        # No graph locked it meanwhile: a waiting view is read-only, and _lock leaves those.
        view.setflags(write=True)


# Views that ``_unlock`` could not make writable yet, by ``id`` of their locked base (each
# view keeps its base alive, so the id is not reused meanwhile).
_VIEWS_WAITING: dict[int, list[np.ndarray]] = {}


class Function:
    """A differentiable operation: subclass it and write two static methods.

    ``forward(ctx, *arrays, **options)`` receives NumPy arrays (and any
    non-tensor arguments as they were given) and returns an array.
    ``backward(ctx, grad_output)`` receives the gradient of the output and
    returns one gradient per positional input (a tuple, or a bare array for a
    single input); ``None`` stands for "no gradient". A returned gradient may
    have the broadcast shape: the engine reduces it to the input's shape.

    ``ctx`` is the Function instance. ``ctx.save_for_backward(*arrays)`` keeps
    arrays for backward, read back as ``ctx.saved``; ``ctx.needs_input_grad``
    tells which inputs need a gradient so backward can skip the others. Saved
    arrays are guarded against later in-place writes: small ones are copied,
    large ones are read-only until the graph is freed (see :class:`SavedArrays`).

    A Function is differentiable twice (``create_graph=True``) when its class
    sets ``differentiable_backward = True``: backward must then compute with
    operators and :mod:`tinygrad_ann.vjp_math` only, so that it runs on arrays
    in a first-order backward and is recorded when given Tensors. See
    ``docs/custom_ops.md``.

    >>> import numpy as np
    >>> import tinygrad_ann as tg
    >>> class Cube(tg.Function):
    ...     differentiable_backward = True
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x**3
    ...     @staticmethod
    ...     def backward(ctx, grad_output):
    ...         (x,) = ctx.saved
    ...         return 3 * x**2 * grad_output
    >>> t = tg.tensor([1.0, 2.0], requires_grad=True)
    >>> Cube.apply(t).sum().backward()
    >>> t.grad
    Tensor([ 3., 12.])
    >>> (slope,) = tg.grad(Cube.apply(t).sum(), t, create_graph=True)
    >>> tg.grad(slope.sum(), t)  # d²/dx² x³ = 6x
    (Tensor([ 6., 12.]),)
    """

    __slots__ = ("parents", "inputs", "saved", "saved_sources", "sequence", "scope", "__dict__")
    # Set by ``apply`` (which skips ``__init__``); all but ``parents`` and ``saved`` only
    # when the call is recorded.
    #: One entry per positional input: its Tensor when it needs a gradient, else None.
    parents: list[Tensor | None]
    #: The arrays forward received, to recognise saved inputs in ``lift_saved``.
    inputs: list[Any]
    #: What ``save_for_backward`` kept (guarded), or ``_RELEASED`` after backward.
    saved: Any
    #: ``saved`` as forward gave it, before any array was copied.
    saved_sources: tuple[Any, ...]
    #: Position in backward's order (see ``_sequence``).
    sequence: int
    #: ``switches().module_scope`` when the op ran.
    scope: tuple[Any, ...]
    #: Where the op was called, recorded under ``detect_anomaly`` (kept in ``__dict__``).
    origin: str
    #: The keyword options forward received, when it received any (kept in ``__dict__``).
    options: dict[str, Any]
    #: Who ran the backward that freed ``saved``, when not ``backward()`` itself (``__dict__``).
    released_by: str
    #: Shown in errors and graph drawings; a subclass without one shows its class name.
    name: str | None = None
    #: The local derivative in the articles' notation, shown by ``viz.explain`` (None: custom).
    formula: str | None = None
    #: True when ``backward`` can run on Tensors and be recorded (see the class docstring).
    differentiable_backward: bool = False
    #: Positions in ``saved`` of arrays forward computed for itself (intermediates): they
    #: are not guarded against writes, and ``lift_saved`` must rebuild them from Tensors.
    private_saved: tuple[int, ...] = ()

    def __init__(self) -> None:
        self.saved = ()

    def save_for_backward(self, *arrays: Any) -> None:
        """Keep ``arrays`` for backward; they are released after it runs."""
        self.saved = arrays

    @staticmethod
    def forward(ctx: Function, *arrays: Any, **options: Any) -> np.ndarray:
        raise NotImplementedError

    # ``grad_output`` is an array, or a Tensor under create_graph; Any lets a subclass
    # annotate the one it handles.
    @staticmethod
    def backward(ctx: Function, grad_output: Any) -> Any:
        raise NotImplementedError

    @classmethod
    def op_name(cls) -> str:
        """The name shown in errors, reprs and graph drawings."""
        return cls.name or cls.__name__

    @classmethod
    def explain_value_error(cls, arrays: Sequence[Any], error: ValueError) -> Exception:
        """Turn NumPy's ValueError from ``forward`` into one that names the op."""
        shapes = ", ".join(str(np.shape(a)) for a in arrays)
        return ShapeError(f"{cls.op_name()}: invalid input shapes {shapes}: {error}")

    @classmethod
    def apply(cls, *inputs: Any, **options: Any) -> Tensor:
        """Run the op on ``inputs`` (Tensors or plain values) and record it."""
        ctx = _new_object(cls)  # skips __init__: this is the hot path of every op
        ctx.saved = ()
        # One plain loop: cheaper than comprehensions for the one or two inputs of most ops.
        arrays: list[Any] = []
        parents: list[Tensor | None] = []
        recording = False
        for value in inputs:
            if isinstance(value, Tensor):
                arrays.append(value._data)
                if value.requires_grad:
                    parents.append(value)
                    recording = True
                    continue
            else:
                arrays.append(value)
            parents.append(None)
        # switches(), inlined: this runs once per op.
        state = _FIRST_THREAD if thread_id() == _FIRST_THREAD_ID else _OTHER_THREADS.switches
        recording = recording and state.grad_enabled
        ctx.parents = parents
        try:
            if state.anomaly:
                if options:
                    ctx.options = options
                out = _checked_forward(cls, ctx, arrays, options)
            elif options:
                ctx.options = options  # so the op can be replayed (gradcheck's localization)
                out = cls.forward(ctx, *arrays, **options)
            else:
                out = cls.forward(ctx, *arrays)
        except ValueError as error:
            raise cls.explain_value_error(arrays, error) from None
        if type(out) is not _ndarray:
            out = _as_output_array(ctx, out)
        result = _new_object(Tensor)  # Tensor._wrap, inlined: once per op
        result._data = out
        result._grad = None
        result._retains_grad = False
        if recording:
            ctx.sequence = next(_sequence)
            ctx.scope = state.module_scope
            ctx.inputs = arrays  # identifies saved inputs in lift_saved
            saved = ctx.saved
            if saved:
                ctx.saved_sources = saved  # the arrays forward saved, before _guard copied any
                ctx.saved = _guard(saved, cls.private_saved)
            if state.record_origin:
                ctx.origin = _caller_location()
            result.requires_grad = True
            result._ctx = ctx
        else:
            result.requires_grad = False
            result._ctx = None
        return result

    @property
    def needs_input_grad(self) -> tuple[bool, ...]:
        """Which inputs need a gradient, one bool per positional input of forward."""
        return tuple(parent is not None for parent in self.parents)

    def lift_saved(self, output: Tensor) -> tuple[Any, ...]:
        """``saved`` for a recorded backward: inputs and output as the Tensors they were.

        Each saved array that was an input of forward becomes that input's
        Tensor (an input that needs no gradient stays an array: a constant),
        and the output's array becomes ``output``. Other integer or boolean
        arrays (indices, masks) stay constants. A saved floating-point array
        that is neither input nor output depends on the inputs in a way the
        engine cannot see, so it is an error: override this method to rebuild
        it from Tensors (as ``cross_entropy`` does) or recompute it in backward.
        """
        if not self.saved:
            return ()
        lifted = []
        for value, source in zip(self.saved, self.saved_sources):
            if isinstance(value, np.ndarray | np.generic):
                for index, array in enumerate(self.inputs):
                    if array is source:
                        value = self._lifted_input(index, value, self.parents[index])
                        break
                else:
                    if source is output.data:
                        value = self._lifted_input(None, value, output)
                    elif value.dtype.kind in "fc":
                        raise RuntimeError(
                            f"create_graph=True: {self.op_name()} saved a floating-point array of "
                            f"shape {value.shape} that is neither an input of its forward nor its "
                            "output (or the output got a new array since), so its dependence on "
                            "the inputs cannot be recorded. Save the inputs (or the output) and "
                            "recompute the value in backward, or override lift_saved to build it "
                            "from Tensors"
                        )
            lifted.append(value)
        return tuple(lifted)

    def _lifted_input(self, index: int | None, value: Any, tensor: Tensor | None) -> Any:
        """The Tensor for a saved array, if it still holds the values forward saw."""
        if tensor is None:
            return value
        if tensor.data is not value and not np.array_equal(tensor.data, value, equal_nan=True):
            which = "output" if index is None else f"input {index}"
            raise RuntimeError(
                f"create_graph=True: the {which} of {self.op_name()} (shape {np.shape(value)}) "
                "has changed since the forward pass (written in place or given a new array, "
                "e.g. by an optimizer step), so a recorded backward would mix old and new "
                "values; compute the forward again"
            )
        return tensor


def _as_output_array(ctx: Function, out: Any) -> np.ndarray:
    """Turn a NumPy scalar result into a 0-d array, also where forward saved it."""
    array = np.asarray(out)
    for value in ctx.saved:
        if value is out:
            ctx.saved = tuple(array if value is out else value for value in ctx.saved)
            break
    return array


_new_object = object.__new__

# Each recorded op takes the next (decreasing) number, so an op's number is
# below that of every op it consumes: popping the smallest first from a heap
# visits every tensor after all the ops that use it, with no graph sort.
_sequence = itertools.count(0, -1)


def may_have_been_used(output: Tensor, value: Any) -> bool:
    """Whether an op recorded since ``output`` was made may have used it.

    ``value`` is what an in-place change of ``output`` is about to combine with
    it, computed (and so recorded) after ``output``. False only when every op
    recorded since is part of ``value``'s graph and none of them used ``output``.
    """
    ctx = output._ctx
    assert ctx is not None  # only op results are asked about
    # ``repr`` is the one way to read an itertools.count without advancing it.
    upcoming = int(repr(_sequence)[len("count(") :].split(",")[0])
    newer = ctx.sequence - upcoming - 1  # ops recorded since ``output`` was made
    if newer == 0:
        return False
    if not isinstance(value, Tensor) or value._ctx is None:
        return True
    seen: set[int] = set()
    stack = [value._ctx]
    while stack:
        op = stack.pop()
        if op.sequence >= ctx.sequence or id(op) in seen:
            continue  # recorded before ``output``, or visited
        seen.add(id(op))
        for parent in op.parents:
            if parent is output:
                return True
            if parent is not None and parent._ctx is not None:
                stack.append(parent._ctx)
    return len(seen) != newer


def recorded_results(outputs: Tensor | Sequence[Tensor]) -> list[Tensor]:
    """The op results behind ``outputs`` (those included), each once, in the order they ran.

    The one walk of a recorded graph: backward's order is this list reversed, each
    result's op is its ``grad_fn``, and drawing, explaining, checking and exporting
    a graph all start here. Iterative, so a chain of any length is fine.
    """
    stack = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    found: dict[int, Tensor] = {}
    while stack:
        tensor = stack.pop()
        ctx = tensor._ctx
        if ctx is None or id(tensor) in found:
            continue
        found[id(tensor)] = tensor
        stack.extend(parent for parent in ctx.parents if parent is not None)
    # Sequence numbers fall as ops are recorded (see ``_sequence``): the largest ran first.
    return sorted(found.values(), key=lambda tensor: -tensor._ctx.sequence)  # type: ignore[union-attr]


# What ``saved`` becomes once backward has used and dropped it.
_RELEASED = object()


class RemovableHandle:
    """Returned by ``register_hook`` and the module hook registrations: ``remove()`` undoes it.

    Removing twice is harmless; ``with handle:`` removes the hook at the block's end.
    """

    __slots__ = ("_hooks", "_key")

    def __init__(self, hooks: dict[int, Callable[..., Any]], key: int) -> None:
        self._hooks = hooks
        self._key = key

    def remove(self) -> None:
        self._hooks.pop(self._key, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()


_hook_keys = itertools.count()


class _TensorHooks:
    """Gradient hooks of tensors (``Tensor.register_hook``), by ``id`` of the tensor.

    Kept here rather than on each Tensor so that creating a Tensor, once per op,
    does not pay for them; an entry goes when its tensor is garbage collected.
    """

    by_id: ClassVar[dict[int, dict[int, Callable[[Any], Any]]]] = {}

    @staticmethod
    def register(tensor: Tensor, hook: Callable[[Any], Any]) -> RemovableHandle:
        key = id(tensor)
        hooks = _TensorHooks.by_id.get(key)
        if hooks is None:
            hooks = _TensorHooks.by_id[key] = {}
            weakref.finalize(tensor, _TensorHooks.by_id.pop, key, None)
        handle_key = next(_hook_keys)
        hooks[handle_key] = hook
        return RemovableHandle(hooks, handle_key)


def _run_tensor_hooks(tensor: Tensor, grad: Any, create_graph: bool) -> Any:
    """``grad`` after each of ``tensor``'s hooks, in registration order, could replace it."""
    hooks = _TensorHooks.by_id.get(id(tensor))
    if not hooks:
        return grad
    for hook in list(hooks.values()):  # a hook may remove itself
        shown = grad if create_graph else Tensor._wrap(grad)
        replaced = hook(shown)
        if replaced is None:
            continue
        grad = _as_gradient(replaced if create_graph else _data(replaced), create_graph)
        if grad.shape != tensor.shape:
            raise ShapeError(
                f"a gradient hook of a tensor of shape {tensor.shape} returned a gradient of "
                f"shape {grad.shape}; return one of the tensor's shape, or None to keep the "
                "gradient"
            )
        if grad.dtype != tensor.dtype:
            grad = grad.astype(tensor.dtype)
    return grad


@contextlib.contextmanager
def observe_backward(
    callback: Callable[[Function, Tensor, Any, tuple[Any, ...]], None],
) -> Iterator[None]:
    """Call ``callback`` for each op differentiated inside the block, in this thread.

    It is called as ``callback(ctx, output, grad_output, input_grads)`` after the
    op's VJP ran, with ``input_grads`` as the VJP returned them (one per input).
    """
    state = switches()
    previous = state.backward_observers
    state.backward_observers = (*previous, callback)
    try:
        yield
    finally:
        state.backward_observers = previous


def _unbroadcast(grad: Any, shape: tuple[int, ...], ctx: Function) -> Any:
    """Sum ``grad`` (an array, or a Tensor under create_graph) to an input of ``shape``."""
    extra = grad.ndim - len(shape)
    if extra < 0:
        _raise_gradient_shape(ctx, grad.shape, shape, "it has fewer axes than the input")
    for axis, (size, grad_size) in enumerate(zip(shape, grad.shape[extra:])):
        if size != 1 and size != grad_size:
            _raise_gradient_shape(
                ctx,
                grad.shape,
                shape,
                f"its axis {axis + extra} has size {grad_size} where the input's axis {axis} "
                f"has size {size}, and only axes of size 1 can have grown",
            )
    if extra == 1 and grad.ndim == 2:
        grad = column_sums(grad)
    elif extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, size in enumerate(shape) if size == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad


def _raise_gradient_shape(
    ctx: Function, grad_shape: tuple[int, ...], shape: tuple[int, ...], reason: str
) -> None:
    raise ShapeError(
        f"{ctx.op_name()}.backward returned a gradient of shape {grad_shape} for an input of "
        f"shape {shape}: {reason}. A gradient must have the input's shape, or a shape the "
        "input broadcasts to (extra leading axes, or size-1 axes grown), which the engine "
        "sums back to the input's shape"
    )


def _one_per_positional_input(ctx: Function, input_grads: tuple[Any, ...]) -> tuple[Any, ...]:
    """Spread gradients given only for array inputs over all positional inputs.

    A backward may return one gradient per positional input of forward, or one
    per Tensor (or array) input, leaving out plain values such as numbers: so
    ``apply(t, 2.0)`` and ``apply(t, beta=2.0)`` take the same backward.
    """
    inputs = ctx.inputs
    array_positions = [i for i, value in enumerate(inputs) if isinstance(value, np.ndarray)]
    if len(input_grads) == len(array_positions):
        spread: list[Any] = [None] * len(inputs)
        for position, input_grad in zip(array_positions, input_grads):
            spread[position] = input_grad
        return tuple(spread)
    described = ", ".join(
        f"{i}: array of shape {value.shape}"
        if isinstance(value, np.ndarray)
        else f"{i}: {type(value).__name__}"
        for i, value in enumerate(inputs)
    )
    raise TypeError(
        f"{ctx.op_name()}.backward returned {len(input_grads)} gradient(s) but its forward took "
        f"{len(inputs)} positional input(s) ({described}); return one per positional input, "
        f"or one per Tensor or array input ({len(array_positions)}) leaving out plain values "
        "such as numbers; None stands for an input that needs no gradient"
    )


def column_sums(rows: Any) -> Any:
    """``rows.sum(axis=0)`` for a 2-D array (or Tensor); a float array's through BLAS.

    ``ones @ rows`` adds the rows in the same order as NumPy's reduce over a
    leading axis (one after another), so the rounding is of the same kind, and
    takes half the time or less from a few hundred elements on: 4 µs instead of
    9 µs for a (300, 50) gradient.
    """
    if (
        type(rows) is np.ndarray
        and rows.size >= 256
        and (rows.dtype == np.float64 or rows.dtype == np.float32)
    ):
        return np.ones(rows.shape[0], rows.dtype) @ rows
    return rows.sum(axis=0)


def _accumulate_into_grad(tensor: Tensor, grad: Any) -> None:
    if isinstance(grad, Tensor):  # create_graph keeps .grad differentiable
        # Out of place, and a fresh node on first write, so no two tensors share a .grad.
        tensor._grad = grad.astype(tensor.dtype) if tensor._grad is None else tensor._grad + grad
    elif tensor._grad is None:
        # A copy, so no two tensors ever share a gradient buffer (and an array even where
        # adding 0-d gradients gave a NumPy scalar).
        tensor._grad = Tensor._wrap(np.array(grad, dtype=tensor.data.dtype))
    elif tensor._grad.requires_grad:
        # Leave a recorded .grad intact.
        tensor._grad = Tensor._wrap(np.asarray(tensor._grad.data + grad))
    else:
        try:
            tensor._grad.data += grad
        except ValueError:  # read-only: a live graph saved this .grad
            tensor._grad = Tensor._wrap(np.asarray(tensor._grad.data + grad))


def _recorded_backward(ctx: Function, output: Tensor, grad: Tensor) -> Any:
    """Run ``ctx.backward`` on Tensors so that its operations are recorded."""
    if not ctx.differentiable_backward:
        raise RuntimeError(
            f"create_graph=True: the backward of {ctx.op_name()} works on NumPy arrays only, "
            "so it cannot be differentiated again (its second derivative would silently be "
            "zero). Write its backward with operators and tinygrad_ann.vjp_math functions and "
            "set differentiable_backward = True on the class (docs/custom_ops.md)"
        )
    saved = ctx.saved
    ctx.saved = ctx.lift_saved(output)
    state = switches()
    state.recording_backward_depth += 1
    try:
        return ctx.backward(ctx, grad)
    except TypeError as error:
        raise RuntimeError(
            f"create_graph=True: the backward of {ctx.op_name()} failed on Tensors ({error}); "
            "it must compute with operators and tinygrad_ann.vjp_math functions, not NumPy "
            "functions (docs/custom_ops.md)"
        ) from error
    finally:
        state.recording_backward_depth -= 1
        ctx.saved = saved


def _as_gradient(value: Any, create_graph: bool) -> Any:
    """A VJP result as the engine carries it: a Tensor under create_graph, else an array."""
    if create_graph:
        return value if isinstance(value, Tensor) else Tensor._wrap(np.asarray(value))
    return np.asarray(value)


def run_backward(
    roots: Sequence[Tensor],
    root_grads: Sequence[Any],
    retain_graph: bool = False,
    inputs: Sequence[Tensor] | None = None,
    create_graph: bool = False,
) -> dict[Tensor, Any]:
    """Propagate ``root_grads`` from ``roots`` back through the recorded graph.

    Without ``inputs``, gradients are accumulated into the ``.grad`` of leaves
    (and of tensors that called ``retain_grad``). With ``inputs``, nothing is
    written: the gradients reaching those tensors are returned instead. With
    ``create_graph``, gradients are Tensors recorded in a new graph (pass
    Tensors as ``root_grads``); otherwise they are arrays and nothing is recorded.
    """
    state = switches()
    previous_mode = state.grad_enabled
    state.grad_enabled = create_graph
    try:
        found = _backward_pass(roots, root_grads, retain_graph, inputs, create_graph, state)
        if inputs is not None:
            return found
        # Written once the pass's own references to the gradients are gone (see _write_grads).
        _write_grads(found)
        return {}
    finally:
        state.grad_enabled = previous_mode


def _backward_pass(
    roots: Sequence[Tensor],
    root_grads: Sequence[Any],
    retain_graph: bool,
    inputs: Sequence[Tensor] | None,
    create_graph: bool,
    state: EngineSwitches,
) -> dict[Tensor, Any]:
    wanted = set(inputs) if inputs is not None else None
    found: dict[Tensor, Any] = {}

    # Gradients for .grad are summed here first and written when the pass is done.
    def reach_leaf(leaf: Tensor, grad: Any) -> None:
        if wanted is None or leaf in wanted:
            previous = found.get(leaf)
            found[leaf] = grad if previous is None else previous + grad

    # Op results wait in ``pending`` until every op that consumed them has
    # added its contribution; the heap orders them by sequence number (see
    # ``_sequence``), so the one popped next never has a consumer left to run.
    pending: dict[Tensor, Any] = {}
    heap: list[tuple[int, Tensor]] = []
    for root, grad in zip(roots, root_grads):
        if root._ctx is None:
            reach_leaf(root, grad)
        elif root in pending:
            pending[root] = pending[root] + grad
        else:
            pending[root] = grad
            heapq.heappush(heap, (root._ctx.sequence, root))

    heappush, heappop, ndarray = heapq.heappush, heapq.heappop, np.ndarray
    tensor_hooks = _TensorHooks.by_id
    observers = state.backward_observers
    anomaly = state.anomaly
    plain = not (anomaly or create_graph)
    # In a chain (the common case) the next op is known without the heap: when an
    # op's input is the only tensor still waiting, no other op can consume it.
    next_node: Tensor | None = None
    next_grad: Any = None
    while True:
        if next_node is not None:
            node, grad, next_node = next_node, next_grad, None
        elif heap:
            node = heappop(heap)[1]
            grad = pending.pop(node)
        else:
            break
        ctx = node._ctx
        assert ctx is not None  # only op results are queued
        if tensor_hooks and id(node) in tensor_hooks:
            grad = _run_tensor_hooks(node, grad, create_graph)
        if wanted is not None:
            if node in wanted:
                found[node] = grad
        elif node._retains_grad:
            found[node] = grad
        saved = ctx.saved
        if saved is _RELEASED:
            raise _second_backward_error(ctx)
        if plain:
            input_grads = ctx.backward(ctx, grad)
        elif anomaly:
            with np.errstate(all="ignore"):  # reported below, as an AnomalyError
                input_grads = (
                    _recorded_backward(ctx, node, grad) if create_graph else ctx.backward(ctx, grad)
                )
        else:
            input_grads = _recorded_backward(ctx, node, grad)
        parents = ctx.parents
        if type(input_grads) is not tuple:
            input_grads = (input_grads,)
        if len(input_grads) != len(parents):
            input_grads = _one_per_positional_input(ctx, input_grads)
        if anomaly:
            _check_backward(ctx, grad, input_grads)
        if observers:
            for observer in observers:
                observer(ctx, node, grad, input_grads)
        for parent, input_grad in zip(parents, input_grads):
            if parent is None or input_grad is None:
                continue
            data = parent._data
            if create_graph or type(input_grad) is not ndarray:
                input_grad = _as_gradient(input_grad, create_graph)
            if input_grad.shape != data.shape:
                input_grad = _unbroadcast(input_grad, data.shape, ctx)
            if input_grad.dtype is not data.dtype and input_grad.dtype != data.dtype:
                input_grad = input_grad.astype(data.dtype)
            parent_ctx = parent._ctx
            if parent_ctx is None:
                reach_leaf(parent, input_grad)
            elif parent is next_node:
                next_grad = next_grad + input_grad
            elif not heap and next_node is None:
                next_node, next_grad = parent, input_grad
            else:
                previous = pending.get(parent)
                if previous is None:
                    pending[parent] = input_grad
                    heappush(heap, (parent_ctx.sequence, parent))
                else:
                    pending[parent] = previous + input_grad
        if next_node is not None and heap:  # not alone after all: it waits its turn
            pending[next_node] = next_grad
            next_ctx = next_node._ctx
            assert next_ctx is not None  # next_node is always an op result
            heappush(heap, (next_ctx.sequence, next_node))
            next_node = None
        if not retain_graph:
            ctx.saved = _RELEASED  # drops the guard on the saved arrays
    if tensor_hooks:  # a leaf's hooks see its total gradient, once per pass
        for tensor in found:
            if tensor._ctx is None and id(tensor) in tensor_hooks:
                found[tensor] = _run_tensor_hooks(tensor, found[tensor], create_graph)
    return found


def _second_backward_error(ctx: Function) -> RuntimeError:
    released_by = ctx.__dict__.get("released_by")
    if released_by is not None:
        return RuntimeError(
            f"backward through the graph a second time: it was already backpropagated by "
            f"{released_by} ({ctx.op_name()}'s saved arrays are freed), so the gradients are "
            "in .grad already; pass retain_graph=True to it if you need to call backward again"
        )
    return RuntimeError(
        f"backward through the graph a second time ({ctx.op_name()} was already "
        "backpropagated and its saved arrays freed); pass retain_graph=True to the "
        "first backward() if you need to call it twice"
    )


def _write_grads(grads: dict[Tensor, Any]) -> None:
    """Add each gradient into its tensor's ``.grad``.

    A gradient array nothing else refers to (not a view; not shared with another
    tensor, the caller or an op) becomes ``.grad`` as it is; any other is copied,
    so no two tensors ever share a gradient buffer.
    """
    getrefcount = sys.getrefcount
    for tensor in grads:
        grad = grads[tensor]
        if (
            tensor._grad is None
            and type(grad) is _ndarray
            and grad.base is None
            and getrefcount(grad) == _ALONE
        ):
            tensor._grad = Tensor._wrap(grad)
        else:
            _accumulate_into_grad(tensor, grad)


def _references_of_an_unshared_value() -> int:
    """What ``sys.getrefcount`` says, in ``_write_grads``'s loop, of a value only the dict holds."""
    probe = {None: np.empty(0)}
    for key in probe:
        value = probe[key]
        return sys.getrefcount(value)
    raise AssertionError("unreachable")


_ALONE = _references_of_an_unshared_value()


def _seed(
    where: str, output: Tensor, gradient: Any, create_graph: bool, position: int | None = None
) -> Any:
    """The upstream gradient of ``output``: checked, in its dtype, a Tensor under create_graph."""
    data = output._data
    label = "output" if position is None else f"output {position}"
    if gradient is None:
        if data.size != 1:
            argument = "gradient=" if position is None else "grad_outputs="
            raise RuntimeError(
                f"{where}: the {label} has shape {data.shape}; a gradient can be implied only "
                f"for a single-element output. Reduce it first (e.g. y.sum()) or pass {argument} "
                "with the output's shape"
            )
        # Not np.ones_like: its Python wrapper costs more than the rest of this function.
        seed: Any = np.array(1, dtype=data.dtype).reshape(data.shape)
    elif isinstance(gradient, Tensor) and create_graph:
        seed = gradient if gradient.dtype == output.dtype else gradient.astype(output.dtype)
    else:
        seed = np.asarray(_data(gradient), dtype=output.dtype)
    if seed.shape != output.shape:
        raise ShapeError(
            f"{where}: the gradient for the {label} has shape {seed.shape} but the {label} "
            f"has shape {output.shape}; they must be equal"
        )
    if create_graph and not isinstance(seed, Tensor):
        seed = Tensor._wrap(seed)
    return seed


# Without allow_unused every input gets a Tensor; overloads tell type checkers so.
@overload
def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: Literal[False] = False,
) -> tuple[Tensor, ...]: ...


@overload
def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]: ...


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, leaving every ``.grad`` alone.

    ``grad_outputs`` gives the upstream gradient of each output (needed for
    outputs with more than one element). Returns a tuple with one Tensor per
    input; an input the outputs do not depend on is an error unless
    ``allow_unused=True``, which gives ``None`` for it.

    With ``create_graph=True`` the gradients are recorded Tensors that can be
    differentiated again (``retain_graph`` then defaults to True, so the first
    graph stays usable). A gradient that does not depend on any input that
    requires grad (the derivative of a linear function, say) comes back as a
    Tensor with ``requires_grad=False``: its own derivative is zero.

    >>> import tinygrad_ann as tg
    >>> x = tg.tensor([1.0, 2.0], requires_grad=True)
    >>> tg.grad((x**2).sum(), x)
    (Tensor([2., 4.]),)
    >>> x.grad is None
    True
    >>> (slope,) = tg.grad((x**3).sum(), x, create_graph=True)
    >>> tg.grad(slope.sum(), x)  # the second derivative, 6x
    (Tensor([ 6., 12.]),)
    """
    outputs = (outputs,) if isinstance(outputs, Tensor) else tuple(outputs)
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    if retain_graph is None:
        retain_graph = create_graph
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    elif isinstance(grad_outputs, Tensor | np.ndarray):
        grad_outputs = (grad_outputs,)
    if len(grad_outputs) != len(outputs):
        raise ValueError(
            f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs; give one each"
        )
    for position, tensor in enumerate(inputs):
        if not isinstance(tensor, Tensor):
            raise TypeError(f"grad: input {position} is a {type(tensor).__name__}, not a Tensor")
        if not tensor.requires_grad:
            raise RuntimeError(f"grad: input {position} does not require grad")
    seeds = []
    for position, (output, seed) in enumerate(zip(outputs, grad_outputs)):
        if not output.requires_grad:
            raise RuntimeError(
                f"grad: output {position} does not require grad (no input it depends on does; "
                "if it is itself a gradient, it is constant and its derivative is zero)"
            )
        seeds.append(_seed("grad", output, seed, create_graph, position))
    found = run_backward(
        outputs, seeds, retain_graph=retain_graph, inputs=inputs, create_graph=create_graph
    )
    result: list[Tensor | None] = []
    for position, tensor in enumerate(inputs):
        if tensor in found:
            gradient = found[tensor]
            if create_graph:
                result.append(gradient)
            else:
                result.append(Tensor._wrap(np.array(gradient, dtype=tensor.dtype)))
        elif allow_unused:
            result.append(None)
        else:
            raise RuntimeError(
                f"grad: input {position} (shape {tensor.shape}) is not used to compute the "
                "outputs; pass allow_unused=True to get None for it"
            )
    return tuple(result)


from .tensor import Tensor, _data  # noqa: E402 - Tensor is built on Function; imported last to break the cycle

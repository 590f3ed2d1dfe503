"""``Function``: one differentiable op, and ``apply``, which runs it and records it.

A recorded op keeps its inputs that need a gradient (``parents``), what its
forward saved (guarded, see :mod:`.saved`) and a sequence number that orders
backward without sorting the graph.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ShapeError
from . import saved as saved_module
from .anomaly import _caller_location, _checked_forward
from .grad_mode import _FIRST_THREAD, _FIRST_THREAD_ID, _OTHER_THREADS, thread_id
from .saved import _guard

__all__ = ["Function", "may_have_been_used"]

_ndarray = np.ndarray


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
    large ones are read-only until the graph is freed (see
    :class:`~tinygrad_ann.autograd.saved.SavedArrays`).

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

    # No ``__dict__`` here: CPython caches a method lookup (``ctx.save_for_backward``) only
    # on objects that cannot carry one, and built-in ops call it once per op. A subclass
    # without ``__slots__`` (a user's op) gets a ``__dict__`` for attributes of its own.
    __slots__ = (
        "parents",
        "needs_input_grad",
        "inputs",
        "saved",
        "saved_sources",
        "sequence",
        "scope",
        "origin",
        "options",
        "released_by",
    )
    # Set by ``apply`` (which skips ``__init__``); all but ``parents``, ``needs_input_grad``
    # and ``saved`` only when the call is recorded.
    #: One entry per positional input: its Tensor when it needs a gradient, else None.
    parents: list[Tensor | None]
    #: One bool per positional input of forward: whether that input needs a gradient, so
    #: forward can save less and backward skip gradients nobody asked for. A list filled by
    #: ``apply`` beside ``parents`` (shared tuples: building one per op, or per read as a
    #: property would, costs every op more than the rest of its bookkeeping).
    needs_input_grad: tuple[bool, ...]
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
    #: Where the op was called, recorded under ``detect_anomaly``.
    origin: str
    #: The keyword options forward received, when it received any.
    options: dict[str, Any]
    #: Who ran the backward that freed ``saved``, when not ``backward()`` itself.
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
        """Keep ``arrays`` for backward, read back as ``ctx.saved``; released after backward runs.

        Arrays are guarded once forward returns (see :class:`~.saved.SavedArrays`), and
        only when the call is recorded; ``None`` keeps a place for a value not needed.
        """
        self.saved = arrays

    @staticmethod
    def forward(ctx: Function, *arrays: Any, **options: Any) -> np.ndarray:
        """The op's computation on NumPy arrays: what a subclass defines, as a static method.

        ``arrays`` are the arrays inside the Tensors given to ``apply`` (non-tensor
        arguments arrive as they were given) and ``options`` its keyword arguments.
        Return the output array; keep what ``backward`` needs with
        ``ctx.save_for_backward(...)``. Call the op with ``MyOp.apply(...)``, which
        records it for backward, never ``MyOp.forward`` directly. See the class
        docstring for an example and ``docs/custom_ops.md`` for the full contract.
        """
        raise NotImplementedError

    # ``grad_output`` is an array, or a Tensor under create_graph; Any lets a subclass
    # annotate the one it handles.
    @staticmethod
    def backward(ctx: Function, grad_output: Any) -> Any:
        """The op's vector-Jacobian product: what a subclass defines, as a static method.

        ``grad_output`` is the gradient of the loss with respect to the output
        (the output's shape). Return the gradient with respect to each positional
        input of ``forward``, ``grad_output`` times the local derivative: a tuple
        for several inputs, a bare array for one, ``None`` for an input that needs
        none (``ctx.needs_input_grad`` tells which do). A gradient may keep the
        broadcast shape; the engine sums it back to the input's. What forward
        saved is in ``ctx.saved``. See ``docs/custom_ops.md``.
        """
        raise NotImplementedError

    @classmethod
    def op_name(cls) -> str:
        """The name shown in errors, reprs and graph drawings."""
        return cls.name or cls.__name__

    @classmethod
    def backward_not_recordable(cls) -> Exception:
        """The error ``create_graph=True`` gives for this op when its ``backward`` cannot be
        recorded (``differentiable_backward`` is False)."""
        return RuntimeError(
            f"create_graph=True: the backward of {cls.op_name()} works on NumPy arrays only, "
            "so it cannot be differentiated again (its second derivative would silently be "
            "zero). Write its backward with operators and tinygrad_ann.vjp_math functions and "
            "set differentiable_backward = True on the class (docs/custom_ops.md)"
        )

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
        # The inputs that need a gradient as binary digits after a leading 1, first input
        # first: one number that picks needs_input_grad from shared tuples (so no op
        # allocates one) and tells whether any input needs a gradient (a digit is set).
        needs = 1
        for value in inputs:
            if isinstance(value, Tensor):
                arrays.append(value._data)
                if value.requires_grad:
                    parents.append(value)
                    needs = needs * 2 + 1
                    continue
            else:
                arrays.append(value)
            parents.append(None)
            needs *= 2
        # switches(), inlined: this runs once per op.
        state = _FIRST_THREAD if thread_id() == _FIRST_THREAD_ID else _OTHER_THREADS.switches
        recording = needs & (needs - 1) and state.grad_enabled
        ctx.parents = parents
        ctx.needs_input_grad = (
            _NEEDS_INPUT_GRAD[needs]
            if needs < _SHARED_BELOW
            else tuple(parent is not None for parent in parents)
        )
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
                # Most ops save one small array: _guard's short way, inlined, since this runs
                # for every recorded op that saves.
                if len(saved) == 1 and not cls.private_saved:
                    (value,) = saved
                    if type(value) is _ndarray and value.size <= saved_module._COPY_LIMIT:
                        ctx.saved = (value.copy(),)
                    else:
                        ctx.saved = _guard(saved, ())
                else:
                    ctx.saved = _guard(saved, cls.private_saved)
            if state.record_origin:
                ctx.origin = _caller_location()
            result.requires_grad = True
            result._ctx = ctx
        else:
            result.requires_grad = False
            result._ctx = None
        return result

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
    array, ctx.saved = output_and_saved(out, ctx.saved)
    return array


def output_and_saved(out: Any, saved: tuple[Any, ...]) -> tuple[np.ndarray, tuple[Any, ...]]:
    """A forward's NumPy scalar result as a 0-d array, and ``saved`` with the array where
    it held the scalar (for a plan's inlined forward, which has no ``ctx``)."""
    array = np.asarray(out)
    for value in saved:
        if value is out:  # rare: most forwards save inputs, not their scalar result
            return array, tuple(array if value is out else value for value in saved)
    return array, saved


_new_object = object.__new__

# needs_input_grad for ops of up to six inputs, by apply's number: a leading 1, then one
# binary digit per input, 1 where it needs a gradient (first input, highest digit).
_SHARED_BELOW = 2**7
_NEEDS_INPUT_GRAD = [
    tuple(bool(number >> digit & 1) for digit in reversed(range(number.bit_length() - 1)))
    for number in range(_SHARED_BELOW)
]

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


def _as_gradient(value: Any, create_graph: bool) -> Any:
    """A VJP result as the engine carries it: a Tensor under create_graph, else an array."""
    if create_graph:
        return value if isinstance(value, Tensor) else Tensor._wrap(np.asarray(value))
    return np.asarray(value)


from ..tensor import Tensor  # noqa: E402 - tensor.py imports this package; imported last to break the cycle


def next_sequence() -> int:
    """The next number of backward's order, for a node made outside ``apply`` (``tg.compile``)."""
    return next(_sequence)


# For code that runs ops' forward and backward itself (``tg.compile``), as apply and the
# engine do: forward's result as an array, and a VJP's value as a gradient array.
as_output_array = _as_output_array
as_gradient = _as_gradient

"""The guard on arrays saved for backward: small ones copied, large ones read-only.

An op's ``ctx.save_for_backward`` keeps arrays its backward reads later; an
in-place write into one of them meanwhile would silently change a gradient.
:func:`_guard` runs once per recorded op that saved something and decides, per
array, between a copy and a read-only lock that lasts as long as the graph (see
:class:`SavedArrays`).
"""

from __future__ import annotations

import _thread  # what threading is built on, without importing all of threading
from typing import Any, ClassVar

import numpy as np

__all__ = ["SavedArrays"]


class _SavedArraysSettings(type):
    """Makes ``SavedArrays.copy_limit`` a setting checked when it is set, read by the guard
    from a module global (no attribute lookup per op)."""

    @property
    def copy_limit(cls) -> int:
        """The largest saved array, in elements, that is copied rather than locked."""
        return _COPY_LIMIT

    @copy_limit.setter
    def copy_limit(cls, value: int) -> None:
        global _COPY_LIMIT
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise TypeError(
                f"SavedArrays.copy_limit must be an int (a number of elements, 0 or more), "
                f"not {type(value).__name__} {value!r}"
            )
        if value < 0:
            raise ValueError(
                f"SavedArrays.copy_limit must be 0 or more (a number of elements; 0 locks "
                f"every saved array instead of copying it), not {value}"
            )
        _COPY_LIMIT = int(value)


class SavedArrays(metaclass=_SavedArraysSettings):
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

    ``copy_limit`` (1024 by default) is a setting: ``SavedArrays.copy_limit = 0``
    locks every saved array, small ones too, from the next recorded op on.

    Arrays nobody saved, and arrays saved by forward passes under ``no_grad``,
    are never touched. ``counts`` maps ``id(array)`` to the number of live
    graphs that locked it.
    """

    counts: ClassVar[dict[int, int]] = {}

    @staticmethod
    def is_locked(array: np.ndarray) -> bool:
        """True while a live graph holds ``array`` (or a view of it) read-only."""
        return id(array) in SavedArrays.counts


# SavedArrays.copy_limit, which sets it; the guard reads it once per saved array.
_COPY_LIMIT = 1024
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
    nobody else has them, so they are kept as they are. ``Function.apply`` copies a
    single small array itself, the case of most ops, before it calls this.
    """
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


# What ``saved`` becomes once backward has used and dropped it.
_RELEASED = object()


# For code that runs ops' forward itself (``tg.compile``): the guard apply puts on what an
# op saved, and the value ``saved`` takes once backward has used it.
guard_saved = _guard
RELEASED = _RELEASED

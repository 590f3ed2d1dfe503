"""Which threads are recording a function for ``tg.compile``, and the reads it refuses.

A recording sees the ops a function runs, not the Python around them: a value read
into Python (``loss.item()``, ``if loss > 1:``) would be frozen into the plan. So,
as ``jax.jit`` does, such reads raise :class:`~tinygrad_ann.errors.CompileError`
while a thread records, naming the line that made them.
"""

from __future__ import annotations

import functools
import linecache
import sys
from pathlib import Path

from ..errors import CompileError
from .grad_mode import thread_id

#: The ids of the threads recording now (a set, so a recording in one thread never
#: refuses a read in another).
RECORDING_THREADS: set[int] = set()

_PACKAGE = str(Path(__file__).resolve().parent.parent)


def refuse_while_recording(what: str, problem: str, instead: str) -> None:
    """Raise CompileError if this thread is recording: ``what`` does something a replay
    would not repeat (``problem``); ``instead`` says what to do."""
    if RECORDING_THREADS and thread_id() in RECORDING_THREADS:
        raise CompileError(
            f"{what} {problem} while tg.compile records the function (at {user_line()}); {instead}"
        )


def refuse_value_read(what: str) -> None:
    """Raise CompileError if this thread is recording: ``what`` reads a value into Python."""
    if RECORDING_THREADS:
        refuse_while_recording(
            what,
            "reads a Tensor's value into Python (float() and int() call item())",
            "the recorded plan would keep this call's value forever. Return the Tensor from "
            "the compiled function and read it outside, or compute with Tensor ops "
            "(tg.where instead of an if on a value)",
        )


def user_line() -> str:
    """``file:line (code)`` of the innermost frame outside this package."""
    return shown_location(user_location())


def user_location() -> tuple[str, int] | None:
    """The file and line of the innermost frame outside this package (None: none), cheap
    enough to take for every op; :func:`shown_location` writes it out when a message needs it."""
    frame = sys._getframe(1)
    while frame is not None and _inside_package(frame.f_code.co_filename):
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return None
    return frame.f_code.co_filename, frame.f_lineno


def shown_location(location: tuple[str, int] | None) -> str:
    """``file:line (code)``, as :func:`user_line` gives it."""
    if location is None:
        return "an unknown line"
    filename, line = location
    code = linecache.getline(filename, line).strip()
    return f"{filename}:{line} ({code})" if code else f"{filename}:{line}"


@functools.lru_cache(maxsize=256)
def _inside_package(filename: str) -> bool:
    return str(Path(filename).resolve()).startswith(_PACKAGE)

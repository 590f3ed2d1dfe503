"""``check=True``: run eager beside each replay and name the first op whose value differs.

A replay sees only the recorded ops. What it cannot see (a write through ``.data``
inside the function, Python randomness, a closed-over value that changed) makes
eager and the replay disagree; this finds the first op where they do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import CompileError
from ..factories import generator
from ..tensor import Tensor
from .plan import Plan
from .recorder import Recorder, record


def checked_replay(
    function: Callable[..., Any],
    plan: Plan,
    tensors: list[Tensor],
    passed: tuple[list[Any], dict[str, Any]],
    replay: Callable[[Plan, list[Tensor], list[Any]], Tensor],
) -> Tensor:
    """``replay`` the plan, then run ``function`` eagerly (on the ``passed`` arguments)
    from the same random and buffer state, and compare op by op."""
    random_state = generator().bit_generator.state
    outside = {name: tensor._data.copy() for name, tensor in plan.recording.externals.items()}
    replayed: list[Any] = []
    result = replay(plan, tensors, replayed)
    after_state = generator().bit_generator.state
    after_outside = {name: tensor._data.copy() for name, tensor in plan.recording.externals.items()}
    # Eager from the state the replay started from: same random draws, same buffers.
    generator().bit_generator.state = random_state
    for name, tensor in plan.recording.externals.items():
        _write(tensor, outside[name])
    recorder = Recorder(tensors)
    record(function, *passed, recorder)
    generator().bit_generator.state = after_state
    for name, tensor in plan.recording.externals.items():
        _write(tensor, after_outside[name])
    eager_steps = recorder.recording.steps
    eager_arrays = recorder.recording.arrays
    for index, step in enumerate(plan.recording.steps):
        if index >= len(eager_steps) or eager_steps[index].op is not step.op:
            raise CompileError(
                f"check=True: eager ran different ops than the plan from op {index} "
                f"({step.op.op_name()}, recorded at {step.line}); the function's ops depend on "
                "something the plan does not see (a Python value, or the data): call it "
                "uncompiled"
            )
        eager_value = eager_arrays[eager_steps[index].output]
        if not _same(replayed[index], eager_value):
            raise CompileError(
                f"check=True: op {index} ({step.op.op_name()}, at {step.line}) gives different "
                "values replayed and eager. Something it depends on is invisible to the "
                "plan: an array computed outside the ops (raw NumPy on .data), Python or NumPy "
                "randomness, or a changed value closed over by the function; see "
                "docs/compile.md, 'What is frozen'"
            )
    return result


def _write(tensor: Tensor, values: np.ndarray) -> None:
    if tensor._data.flags.writeable:
        tensor._data[...] = values
    else:
        tensor._data = values.copy()


def _same(a: Any, b: Any) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b, equal_nan=True))

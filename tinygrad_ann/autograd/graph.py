"""Walking a recorded graph: :func:`recorded_results` is the one public walk."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["recorded_results"]


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


from ..tensor import Tensor  # noqa: E402 - tensor.py imports this package; imported last to break the cycle

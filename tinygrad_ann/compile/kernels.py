"""Long plans: one small function per kind of op, and a loop over the ops.

Python compiles generated code at about 10 µs a line, so a plan of a thousand
ops written out line by line costs more to compile than many steps save. A long
plan instead runs a loop over its ops; each op's lines (the same inlined
``forward`` or VJP, see :mod:`.inline`) are compiled once per kind of op into a
*kernel* that reads its inputs from a list of arrays by position and writes its
result back. The arithmetic is the same, in the same order, as in a short plan
and in eager.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..autograd.engine import fit_gradient
from ..autograd.function import as_output_array, output_and_saved
from ..autograd.saved import guard_saved
from .inline import Template, needs_name, result_name, saved_name

_SUFFIX = "__k"
_KERNELS: dict[tuple[Any, ...], Callable[..., Any]] = {}


def _compiled(name: str, lines: list[str], namespace: dict[str, Any]) -> Callable[..., Any]:
    exec(compile("\n".join(lines) + "\n", f"<tg.compile kernel {name}>", "exec"), namespace)
    return namespace[name]


def forward_kernel(
    op: Any, template: Template, guard: bool, keep: bool, private: tuple[int, ...]
) -> Callable[..., Any]:
    """``kernel(E, S, C, needs, *input_slots, out_slot, stash_slot)``: the op's inlined
    forward on ``E[input_slot]``, its result into ``E[out_slot]``, what it saved into
    ``S[stash_slot]`` (when ``keep``), guarded (when ``guard``) as apply guards it."""
    key = ("forward", op, guard, keep, private)
    kernel = _KERNELS.get(key)
    if kernel is None:
        slots = [f"p{position}" for position in range(len(template.parameters))]
        lines = [f"def forward_kernel(E, S, C, needs, {', '.join(slots)}, o, si):"]
        lines.append(f"    {needs_name(_SUFFIX)} = needs")
        body = template.bind(_SUFFIX, [f"E[{slot}]" for slot in slots], fresh_saved=True)
        lines.extend(f"    {line}" for line in body)
        saved = saved_name(_SUFFIX)
        lines.append(f"    out = {result_name(_SUFFIX)}")
        lines.append(f"    if type(out) is not nd: out, {saved} = ASI(out, {saved})")
        if guard:
            lines.append(f"    {saved} = G({saved}, P)")
        lines.append("    E[o] = out")
        if keep:
            lines.append(f"    S[si] = {saved}")
        namespace = {"nd": np.ndarray, "ASI": output_and_saved, "G": guard_saved}
        namespace["P"] = private
        namespace.update(template.globals_used)
        kernel = _KERNELS[key] = _compiled("forward_kernel", lines, namespace)
    return kernel


def backward_kernel(
    op: Any, template: Template, positions: tuple[int, ...], fits: tuple[bool, ...]
) -> Callable[..., Any]:
    """``kernel(G, S, C, needs, go, si, *(slot, fit) per position)``: the op's inlined VJP
    of ``G[go]`` with what forward saved in ``S[si]``; the gradient of each input in
    ``positions`` fitted to its shape (where ``fits`` says) and added into ``G[slot]``."""
    key = ("backward", op, positions, fits)
    kernel = _KERNELS.get(key)
    if kernel is None:
        targets = [f"v{index}, f{index}" for index in range(len(positions))]
        lines = [f"def backward_kernel(G, S, C, needs, go, si, {', '.join(targets)}):"]
        lines.append("    grad = G[go]")
        lines.append("    if grad is None: return")  # no gradient reached this op
        lines.append(f"    {needs_name(_SUFFIX)} = needs")
        lines.append(f"    {saved_name(_SUFFIX)} = S[si]")
        lines.extend(f"    {line}" for line in template.bind(_SUFFIX, ["grad"], fresh_saved=False))
        lines.append(f"    r = {result_name(_SUFFIX)}")
        lines.append("    if type(r) is not tuple: r = (r,)")
        for index, (position, fit) in enumerate(zip(positions, fits)):
            lines.append(f"    g = r[{position}]")
            lines.append("    if g is not None:")
            if fit:
                lines.append(f"        g = FIT(g, *f{index}, OP)")
            lines.append(f"        p = G[v{index}]")
            lines.append(f"        G[v{index}] = g if p is None else p + g")
        namespace = {"FIT": fit_gradient, "OP": op}
        namespace.update(template.globals_used)
        kernel = _KERNELS[key] = _compiled("backward_kernel", lines, namespace)
    return kernel


def called_forward(
    E: list[Any],
    S: list[Any],
    C: list[Any],
    index: int,
    forward: Any,
    inputs: tuple[int, ...],
    options: tuple[tuple[str, int], ...],
    o: int,
    guard: bool,
    private: tuple[int, ...],
) -> None:
    """A forward the rewriting left as a call, as a kernel: on the op's ``ctx`` in ``C``."""
    c = C[index]
    keywords = {key: E[slot] for key, slot in options}
    if keywords:
        c.options = keywords
    out = forward(c, *[E[slot] for slot in inputs], **keywords)
    if type(out) is not np.ndarray:
        out = as_output_array(c, out)
    if guard and c.saved:
        c.saved = guard_saved(c.saved, private)
    E[o] = out


def called_backward(
    G: list[Any],
    S: list[Any],
    C: list[Any],
    index: int,
    backward: Any,
    go: int,
    edges: tuple[tuple[int, int, Any], ...],
    op: Any,
) -> None:
    """A VJP the rewriting left as a call, as a kernel (see :func:`backward_kernel`)."""
    grad = G[go]
    if grad is None:
        return
    r = backward(C[index], grad)
    if type(r) is not tuple:
        r = (r,)
    for position, slot, fit in edges:
        g = r[position]
        if g is None:
            continue
        if fit is not None:
            g = fit_gradient(g, fit[0], fit[1], op)
        previous = G[slot]
        G[slot] = g if previous is None else previous + g

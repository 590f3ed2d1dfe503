"""A picture of a ``tg.compile`` plan: its forward ops, and its backward VJPs in reverse.

The same plan ``step.plan()`` prints, drawn: the arguments, parameters and constants
it reads, one box per op with its result's name and shape, and beside it the
backward pass as the chain of VJPs the plan kept, each gradient's name on its edge.
"""

from __future__ import annotations

from typing import Any

import graphviz
import numpy as np

from ..compile import CompiledFunction
from .graph import STYLES, _label

_KIND = {"a": "input", "e": "parameter", "k": "input"}
_WHAT = {"a": "argument", "e": "parameter", "k": "constant"}


def draw_plan(
    compiled: CompiledFunction, *arguments: Any, rankdir: str = "TB", **keywords: Any
) -> graphviz.Digraph:
    """Draw the plan ``compiled`` recorded for these arguments (without: the last one).

    Forward on the left, backward on the right; save it with ``tg.viz.save(graph, path)``.

    >>> import tinygrad_ann as tg
    >>> w = tg.tensor([1.0, 2.0], requires_grad=True)
    >>> step = tg.compile(lambda x: (x * w).tanh().sum())
    >>> _ = step(tg.ones(2))
    >>> graph = tg.viz.draw_plan(step)
    >>> "tanh.backward" in graph.source
    True
    """
    if not isinstance(compiled, CompiledFunction):
        raise TypeError(
            f"draw_plan: expected a compiled function (tg.compile(fn)), got "
            f"{type(compiled).__name__}; draw an eager result with tg.viz.draw_graph"
        )
    plan = compiled.recorded(*arguments, **keywords)
    recording = plan.recording
    graph = graphviz.Digraph("plan", graph_attr={"rankdir": rankdir})
    forward = graphviz.Digraph("cluster_forward", graph_attr={"label": "forward"})
    backward = graphviz.Digraph("cluster_backward", graph_attr={"label": "backward"})
    drawn: set[str] = set()

    def value_node(name: str) -> str:
        if name not in drawn and name[0] in _KIND:
            drawn.add(name)
            value = recording.arrays.get(name, recording.constants.get(name))
            label = [name, _WHAT[name[0]], _describe(value)]
            forward.node(name, _label(*label), **STYLES[_KIND[name[0]]])
        return name

    for step in recording.steps:
        shape = np.shape(recording.arrays[step.output])
        style = STYLES["output"] if step.output == plan.output else STYLES["op"]
        forward.node(
            step.output, _label(f"{step.output} = {step.op.op_name()}", str(shape)), **style
        )
        for name in [*step.inputs, *step.options.values()]:
            if name.isidentifier() and (name[0] in _KIND or name in recording.arrays):
                forward.edge(value_node(name), step.output)
    # Who sends a gradient to each value: the VJPs of the ops that used it.
    senders: dict[str, list[str]] = {plan.output: [f"g_{plan.output}"]}
    backward.node(f"g_{plan.output}", _label(f"g_{plan.output}", "given"), **STYLES["input"])
    for index in plan.backward_steps:
        step = recording.steps[index]
        node = f"vjp_{index}"
        backward.node(node, _label(f"{step.op.op_name()}.backward"), **STYLES["op"])
        for sender in senders.get(step.output, ()):
            backward.edge(sender, node, label=f"g_{step.output}")
        for name, needs in zip(step.inputs, step.needs_input_grad):
            if needs:
                senders.setdefault(name, []).append(node)
    for name in plan.grad_targets:
        target = f"grad_{name}"
        backward.node(target, _label(f"g_{name}", "into .grad"), **STYLES["output"])
        for sender in senders.get(name, ()):
            backward.edge(sender, target, label=f"g_{name}")
    graph.subgraph(forward)
    graph.subgraph(backward)
    return graph


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"{value.dtype} {value.shape}"
    return repr(value)

"""Draw the computation graph behind a tensor with Graphviz.

:func:`draw_graph` returns a :class:`graphviz.Digraph` (shown inline by Jupyter);
:func:`save` renders it to SVG, PNG or PDF with Graphviz's ``dot`` program, or
writes the DOT source. Building the Digraph needs only the ``graphviz`` Python
package; rendering needs ``dot`` (``apt-get install graphviz``). :func:`explain`
runs backward and shows it step by step on that drawing, as a web page or a
table (:mod:`tinygrad_ann.viz.explainer`).

What the picture shows:

- **op nodes** (grey boxes): one per recorded operation, labelled with its name
  (``matmul``, ``tanh``, ``cross_entropy``, or a custom Function's class name);
- **edges** carry the shape of the tensor flowing along them;
- **parameters** (blue): leaves found in ``params``, labelled with their dotted
  name (``hidden.weight``), shape and dtype;
- **inputs** (yellow): other leaves that require grad;
- **outputs** (green): the tensors passed to :func:`draw_graph`;
- **red** fill: a tensor whose value or gradient holds NaN or inf, or an op
  whose result does;
- **clusters**: ops run inside an ``nn.Module``'s forward are boxed and labelled
  with the module's name and summary (``hidden: Linear(2 -> 50)``); nested
  modules nest.

Tensors that do not require grad are constants of the op that uses them and
are not drawn.

>>> import tinygrad_ann as tg
>>> w = tg.tensor([1.0, -2.0], requires_grad=True)
>>> loss = (w * w).sum()
>>> dot = tg.viz.draw_graph(loss, {"w": w})
>>> "mul" in dot.source and "sum" in dot.source and "w" in dot.source
True
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import graphviz
import numpy as np

from ..autograd import Function, recorded_results
from ..files import write_atomically
from ..tensor import Tensor

__all__ = [
    "INSTALL_HINT",
    "GraphvizMissingWarning",
    "dot_available",
    "draw_graph",
    "save",
    "visible_text",
]

INSTALL_HINT = (
    "install Graphviz's `dot` to render: apt-get install graphviz | brew install graphviz | "
    "conda install graphviz"
)

STYLES: dict[str, dict[str, str]] = {
    "op": {"shape": "box", "style": "rounded,filled", "fillcolor": "#eeeeee"},
    "parameter": {"shape": "box", "style": "filled", "fillcolor": "#cfe2f3"},
    "input": {"shape": "box", "style": "filled", "fillcolor": "#fff2cc"},
    "output": {"shape": "box", "style": "filled,bold", "fillcolor": "#d9ead3"},
    "nonfinite": {"fillcolor": "#ea9999", "color": "#cc0000", "penwidth": "2"},
    "note": {"shape": "note", "style": "dashed", "fontcolor": "#666666"},
}


#: dot 2.43 rejects a quoted string longer than 16,381 bytes ("syntax error ... longer than
#: 16384?"); a label is kept under this many bytes of DOT, with room to spare.
LABEL_BYTES = 15_000
#: dot also fails on a node wider than about 30,000 points ("Edge length ... larger than
#: maximum 65535 allowed"): a longer line of a label is shortened in the middle.
LINE_CHARACTERS = 1_000


class GraphvizMissingWarning(UserWarning):
    """Graphviz's ``dot`` is not installed, so only the DOT source could be written."""


# Characters a name cannot be shown with as themselves: dot rejects NUL, XML 1.0 (the
# SVG) forbids the other C0 controls, lone surrogates and U+FFFE/U+FFFF, UTF-8 cannot
# encode lone surrogates, and the rest (DEL, C1 controls, line and paragraph
# separators, bidirectional overrides) draw nothing or reorder the text around them.
_HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]")
_STAND_INS = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _stand_in(match: re.Match[str]) -> str:
    character = match.group()
    if character in _STAND_INS:
        return _STAND_INS[character]
    code = ord(character)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def visible_text(text: str) -> str:
    """``text`` with each character that would not show as itself written as its escape.

    Python's notation (``\\n``, ``\\x00``, ``\\u202e``), so that two names differing
    only there still look different; used for graph labels and by the explainer's page.
    """
    return _HIDDEN.sub(_stand_in, text)


def dot_available() -> bool:
    """True when Graphviz's ``dot`` program is on the PATH."""
    return shutil.which("dot") is not None


def _parameter_names(params: Any) -> dict[int, str]:
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):
        items: Iterable[tuple[str, Any]] = params.named_parameters()
    elif isinstance(params, Mapping):
        items = params.items()
    else:
        raise TypeError(
            f"draw_graph: params must be a Module or a dict of name -> Tensor, "
            f"got {type(params).__name__}"
        )
    return {id(tensor): name for name, tensor in items}


def _module_names(params: Any) -> dict[int, str]:
    if not hasattr(params, "named_modules"):
        return {}
    return {id(module): name for name, module in params.named_modules()}


def _is_finite(array: np.ndarray | None) -> bool:
    return array is None or array.dtype.kind not in "fc" or bool(np.isfinite(array).all())


def _summary(array: np.ndarray) -> str:
    return np.array2string(array, precision=4, threshold=6, edgeitems=2, separator=", ")


def _dot_text(text: str) -> str:
    """``text`` as a plain (escString) label shows it: literally, on one line.

    dot reads ``\\N``, ``\\l`` and friends in a label as escapes, and a backslash before
    the closing quote as an escaped quote; it decodes HTML entities, so ``&amp;`` would
    show as ``&``. The graphviz package adds the backslash before each ``"``.
    """
    return visible_text(text).replace("\\", "\\\\").replace("&", "&amp;")


def _dot_bytes(text: str) -> int:
    """How many bytes of DOT ``text`` takes inside a quoted label."""
    escaped = _dot_text(text)
    return len(escaped.encode("utf-8")) + escaped.count('"')


def _shorten(text: str, measure: Callable[[str], int], limit: int) -> str:
    """``text`` with as little of its middle left out as brings ``measure`` to ``limit``.

    Head and tail stay, since a long name is told apart by its ends; the middle is
    replaced by a note of how much is missing.
    """
    kept = len(text)
    while kept > 0:
        kept = min(kept - 1, kept * 9 // 10)
        head, tail = text[: (kept + 1) // 2], text[len(text) - kept // 2 :]
        shortened = f"{head} … ({len(text) - kept} characters left out) … {tail}"
        if measure(shortened) <= limit:
            return shortened
    return f"… ({len(text)} characters left out) …"


def _label(*lines: str) -> str:
    """A plain Graphviz label showing ``lines`` as text, one to a line.

    Marked ``nohtml`` so that a name in ``<...>`` is not taken for an HTML-like
    label, whose markup could draw a link (``<TD HREF="...">``).
    """
    shown = [
        line if _width(line) <= LINE_CHARACTERS else _shorten(line, _width, LINE_CHARACTERS)
        for line in lines
    ]
    # Only many lines can still be too long for dot: the longest gives up the excess.
    for _ in shown:
        excess = sum(map(_dot_bytes, shown)) + len(shown) - 1 - LABEL_BYTES
        if excess <= 0:
            break
        longest = max(range(len(shown)), key=lambda index: _dot_bytes(shown[index]))
        budget = _dot_bytes(shown[longest]) - excess
        shown[longest] = _shorten(shown[longest], _dot_bytes, budget)
    return graphviz.nohtml("\n".join(map(_dot_text, shown)))


def _width(line: str) -> int:
    return len(visible_text(line))


def _tensor_label(tensor: Tensor, name: str, show_values: bool, show_grads: bool) -> str:
    lines = [name, f"{tensor.shape} {tensor.dtype}"]
    if show_values:
        lines.extend(_summary(tensor.data).split("\n"))
    if show_grads:
        grad = tensor.grad
        lines.append("grad: none" if grad is None else f"|grad| = {np.linalg.norm(grad.data):.4g}")
    return _label(*lines)


def _op(result: Tensor) -> Function:
    """The op that made ``result``, one of :func:`~tinygrad_ann.autograd.recorded_results`."""
    op = result.grad_fn
    assert op is not None
    return op


def _collect(outputs: Sequence[Tensor], max_nodes: int | None) -> tuple[list[Tensor], int]:
    """The op results behind ``outputs``, nearest the outputs first, and how many were left out.

    Nearest means fewest ops away from an output, so that a truncated drawing keeps the
    part next to the outputs; results equally far keep the order their ops ran in.
    """
    results = recorded_results(outputs)
    distance = {id(tensor): 0 for tensor in outputs}
    # Backward's order reaches every result after all the results made from it.
    for result in reversed(results):
        nearer = distance[id(result)] + 1
        for parent in _op(result).parents:
            if parent is not None and parent.grad_fn is not None:
                distance[id(parent)] = min(distance.get(id(parent), nearer), nearer)
    results.sort(key=lambda result: distance[id(result)])
    if max_nodes is not None and len(results) > max_nodes:
        return results[:max_nodes], len(results) - max_nodes
    return results, 0


def _owner_scope(
    name: str, scopes: list[tuple[Any, ...]], module_names: dict[int, str]
) -> tuple[Any, ...]:
    """Where to draw a parameter: inside the module that owns it, when an op ran there.

    Otherwise (a weight-decay term outside the model, say) inside the modules
    that all of its uses share.
    """
    owner = name.rpartition(".")[0]
    for scope in scopes:
        for depth in range(len(scope), 0, -1):
            if module_names.get(id(scope[depth - 1])) == owner:
                return scope[:depth]
    shared = scopes[0]
    for scope in scopes[1:]:
        length = 0
        while length < min(len(shared), len(scope)) and shared[length] is scope[length]:
            length += 1
        shared = shared[:length]
    return shared


class _ClusterTree:
    """Op and leaf nodes grouped by the chain of modules that were running."""

    def __init__(self) -> None:
        self.nodes: list[tuple[str, str, dict[str, str]]] = []
        self.children: dict[int, tuple[Any, _ClusterTree]] = {}

    def add(self, scope: tuple[Any, ...], node: tuple[str, str, dict[str, str]]) -> None:
        tree = self
        for module in scope:
            if id(module) not in tree.children:
                tree.children[id(module)] = (module, _ClusterTree())
            tree = tree.children[id(module)][1]
        tree.nodes.append(node)

    def emit(
        self, graph: graphviz.Digraph, module_names: dict[int, str], numbers: Iterator[int]
    ) -> None:
        for node_id, label, attributes in self.nodes:
            graph.node(node_id, label, **attributes)
        for module, subtree in self.children.values():
            with graph.subgraph(name=f"cluster_{next(numbers)}") as cluster:
                name = module_names.get(id(module))
                summary = module.short_repr()
                cluster.attr(
                    label=_label(f"{name}: {summary}" if name else summary),
                    style="rounded,dashed",
                    color="#888888",
                    labeljust="l",
                )
                subtree.emit(cluster, module_names, numbers)


def draw_graph(
    output: Tensor | Sequence[Tensor],
    params: Any = None,
    *,
    show_shapes: bool = True,
    show_values: bool = False,
    show_grads: bool = False,
    rankdir: str = "TB",
    max_nodes: int | None = None,
) -> graphviz.Digraph:
    """The computation graph that produced ``output`` (one Tensor or several).

    ``params`` names the leaves: a Module (its ``named_parameters()``, and its
    sub-modules name the clusters) or a dict of name -> Tensor. ``show_shapes``
    labels edges with shapes; ``show_values`` and ``show_grads`` add each leaf's
    values and gradient norm. ``rankdir`` is Graphviz's layout direction
    ("TB", "LR", ...). ``max_nodes`` keeps only that many op nodes, those
    nearest the outputs, and notes how many were left out.

    Drawing reads the graph and never changes it; it works before and after
    ``backward()``.
    """
    return _draw(
        output,
        params,
        show_shapes=show_shapes,
        show_values=show_values,
        show_grads=show_grads,
        rankdir=rankdir,
        max_nodes=max_nodes,
    )[0]


def _draw(
    output: Tensor | Sequence[Tensor],
    params: Any = None,
    *,
    show_shapes: bool = True,
    show_values: bool = False,
    show_grads: bool = False,
    rankdir: str = "TB",
    max_nodes: int | None = None,
) -> tuple[graphviz.Digraph, dict[int, str]]:
    """:func:`draw_graph`, and the node id it gave each op, leaf and output.

    The ids are keyed by ``id()`` of the op's ``Function`` instance, or of the
    leaf or output Tensor; :mod:`tinygrad_ann.viz.explainer` finds them in the SVG.
    """
    outputs = _checked_outputs(output, max_nodes, rankdir)
    names = _parameter_names(params)
    module_names = _module_names(params)
    results, left_out = _collect(outputs, max_nodes)
    # Node ids number the ops in drawing order, so the same graph gives the same DOT source.
    op_ids = {id(_op(result)): f"op{number}" for number, result in enumerate(results)}

    tree = _ClusterTree()
    leaves, edges = _add_ops(tree, results, op_ids, show_shapes)
    _add_leaves(tree, leaves, names, module_names, show_values, show_grads)
    edges += _add_outputs(tree, outputs, op_ids, show_values, show_grads)

    graph = graphviz.Digraph(
        "computation_graph",
        graph_attr={"rankdir": rankdir},
        node_attr={"fontname": "Helvetica", "fontsize": "11"},
        edge_attr={"fontname": "Helvetica", "fontsize": "9", "color": "#555555"},
    )
    tree.emit(graph, module_names, itertools.count())
    for tail, head, label in edges:
        graph.edge(tail, head, label=_label(label))
    if left_out:
        _add_left_out_note(
            graph, results, op_ids, f"{left_out} more op(s) not drawn (max_nodes={max_nodes})"
        )

    node_ids = dict(op_ids)
    node_ids.update((id(leaf.tensor), leaf.node_id) for leaf in leaves)
    for position, tensor in enumerate(outputs):
        node_ids.setdefault(id(tensor), f"out{position}")
    return graph, node_ids


def _checked_outputs(
    output: Tensor | Sequence[Tensor], max_nodes: int | None, rankdir: str
) -> list[Tensor]:
    """The tensors to draw, as a list, once they and the options are known to be valid."""
    given: list[object] = list(output) if isinstance(output, list | tuple) else [output]
    outputs: list[Tensor] = []
    for position, tensor in enumerate(given):
        if not isinstance(tensor, Tensor):
            raise TypeError(
                f"draw_graph: output {position} is a {type(tensor).__name__}, not a Tensor"
            )
        outputs.append(tensor)
    if max_nodes is not None and max_nodes < 1:
        raise ValueError(f"draw_graph: max_nodes must be at least 1, got {max_nodes}")
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"draw_graph: rankdir must be 'TB', 'LR', 'BT' or 'RL', got {rankdir!r}")
    return outputs


@dataclass
class _Leaf:
    """A leaf some drawn op uses, and the module scopes of the ops that use it."""

    tensor: Tensor
    node_id: str
    scopes: list[tuple[Any, ...]] = field(default_factory=list)


def _is_finite_tensor(tensor: Tensor) -> bool:
    """True when neither the value nor the gradient of ``tensor`` holds NaN or inf."""
    grad = tensor.grad.data if tensor.grad is not None else None
    return _is_finite(tensor.data) and _is_finite(grad)


def _add_ops(
    tree: _ClusterTree, results: list[Tensor], op_ids: dict[int, str], show_shapes: bool
) -> tuple[list[_Leaf], list[tuple[str, str, str]]]:
    """One node per op, in its module's cluster, and an edge from each input drawn.

    An op is red when its result is not finite. Returns the leaves the ops use, in the
    order first met, and the edges as (tail, head, label).
    """
    leaves: dict[int, _Leaf] = {}
    edges: list[tuple[str, str, str]] = []
    for result in results:
        op = _op(result)
        node_id = op_ids[id(op)]
        attributes = dict(STYLES["op"])
        if not _is_finite_tensor(result):
            attributes.update(STYLES["nonfinite"])
        tree.add(op.scope, (node_id, _label(op.op_name()), attributes))
        for parent in op.parents:
            if parent is None:
                continue
            shape = str(parent.shape) if show_shapes else ""
            if parent.grad_fn is None:
                leaf = leaves.setdefault(id(parent), _Leaf(parent, f"leaf{len(leaves)}"))
                leaf.scopes.append(op.scope)
                edges.append((leaf.node_id, node_id, shape))
            elif id(parent.grad_fn) in op_ids:
                edges.append((op_ids[id(parent.grad_fn)], node_id, shape))
    return list(leaves.values()), edges


def _add_leaves(
    tree: _ClusterTree,
    leaves: list[_Leaf],
    names: dict[int, str],
    module_names: dict[int, str],
    show_values: bool,
    show_grads: bool,
) -> None:
    """A node per leaf: a parameter (named, in its module's cluster) or an input."""
    for leaf in leaves:
        name = names.get(id(leaf.tensor))
        attributes = dict(STYLES["parameter" if name is not None else "input"])
        if not _is_finite_tensor(leaf.tensor):
            attributes.update(STYLES["nonfinite"])
        label = _tensor_label(leaf.tensor, name or "input", show_values, show_grads)
        scope = _owner_scope(name, leaf.scopes, module_names) if name is not None else ()
        tree.add(scope, (leaf.node_id, label, attributes))


def _add_outputs(
    tree: _ClusterTree,
    outputs: list[Tensor],
    op_ids: dict[int, str],
    show_values: bool,
    show_grads: bool,
) -> list[tuple[str, str, str]]:
    """A node per output, outside every cluster; returns the edges from the ops that made them."""
    edges = []
    for position, tensor in enumerate(outputs):
        attributes = dict(STYLES["output"])
        if not _is_finite_tensor(tensor):
            attributes.update(STYLES["nonfinite"])
        node_id = f"out{position}"
        title = "output" if len(outputs) == 1 else f"output {position}"
        label = _tensor_label(tensor, title, show_values or tensor.size == 1, show_grads)
        tree.add((), (node_id, label, attributes))
        if id(tensor.grad_fn) in op_ids:
            edges.append((op_ids[id(tensor.grad_fn)], node_id, ""))
    return edges


def _add_left_out_note(
    graph: graphviz.Digraph, results: list[Tensor], op_ids: dict[int, str], note: str
) -> None:
    """A note saying what was left out, with a dashed edge to each op whose input was."""
    graph.node("truncated", _label(note), **STYLES["note"])
    for result in results:
        op = _op(result)
        cut = (p for p in op.parents if p is not None and p.grad_fn is not None)
        if any(id(parent.grad_fn) not in op_ids for parent in cut):
            graph.edge("truncated", op_ids[id(op)], style="dashed")


def save(output: Tensor | Sequence[Tensor], path: str | os.PathLike[str], **options: Any) -> Path:
    """Draw ``output``'s graph (see :func:`draw_graph` for ``options``) into ``path``.

    The suffix picks the format: ``.svg``, ``.png`` and ``.pdf`` are rendered by
    Graphviz's ``dot``; ``.dot`` (or ``.gv``) is the source. Without ``dot`` the
    source is written next to ``path`` with a ``.dot`` suffix and a
    :class:`GraphvizMissingWarning` gives the install hint. Returns the path
    written. Files are replaced atomically.
    """
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in ("svg", "png", "pdf", "dot", "gv"):
        raise ValueError(
            f"viz.save: cannot tell the format from {path.name!r}; use a .svg, .png, .pdf "
            "or .dot file name"
        )
    graph = output if isinstance(output, graphviz.Digraph) else draw_graph(output, **options)
    if suffix in ("dot", "gv"):
        write_atomically(path, graph.source.encode(), "viz.save")
        return path
    if not dot_available():
        fallback = path.with_suffix(".dot")
        write_atomically(fallback, graph.source.encode(), "viz.save")
        warnings.warn(
            f"viz.save: wrote {fallback} instead of {path.name}: {INSTALL_HINT}",
            GraphvizMissingWarning,
            stacklevel=2,
        )
        return fallback
    write_atomically(path, graph.pipe(format=suffix), "viz.save")
    return path

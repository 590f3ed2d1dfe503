"""Backpropagation, step by step: what the engine differentiates, in its order, with the numbers.

:func:`explain` runs ``loss.backward()`` while watching the engine (through
``autograd.observe_backward``) and shows every op it differentiates, in the
order it really does so: the op's name, its local derivative (the op class's
``formula``), the upstream gradient it received and the gradient it sent to
each input. When a tensor feeds several ops its gradient is a sum, and the
step where a further contribution arrives shows the addition. A last step
shows each leaf's final ``.grad``.

``format="html"`` writes one self-contained page (no network needed): the
computation graph as :func:`tinygrad_ann.viz.draw_graph` draws it, rendered to
SVG by Graphviz's ``dot``, beside a panel with the steps; the current op and
its edges are highlighted. ← and → (or the buttons) step through, and
``page.html#step=5`` opens step 5. ``format="text"`` gives the same steps as a
plain-text table.

Names on the page: a leaf is called by its name in ``params`` (else
``input``), the loss ``loss``, and any other tensor by the op that made it,
numbered in forward order when an op occurs more than once (``matmul₁``,
``matmul₂``). In a formula ``y`` is the op's output and ``∂y`` its upstream
gradient; ``∂x`` (``∂a``, ``∂W``, ...) is what the op sends to that input.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np

from .. import autograd
from ..autograd import Function
from ..files import write_atomically
from ..tensor import Tensor
from . import graph as viz
from .page import _html_page, _text_table, _total

__all__ = [
    "BackpropTrace",
    "Contribution",
    "LeafGradient",
    "SentGradient",
    "Step",
    "explain",
    "trace",
    "write_page",
]

_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
_ROLE = re.compile(r"∂(\w+) =")


# ---------------------------------------------------------------- what was seen
@dataclass(frozen=True)
class Contribution:
    """One gradient a tensor received: from which op (and as which of its inputs)."""

    source: str
    role: str | None
    value: np.ndarray

    def describe(self) -> str:
        return f"from {self.source}" + (f" as {self.role}" if self.role else "")


@dataclass(frozen=True)
class SentGradient:
    """What an op's VJP sent to one of its inputs, summed to the input's shape.

    ``target`` is None for an input that is a constant (needs no gradient).
    ``earlier`` holds what ``target`` had already received from other ops, so
    ``total`` (the running sum) differs from ``value`` when it is not empty.
    """

    position: int
    role: str | None
    target: str | None
    node: str | None
    value: np.ndarray | None
    earlier: tuple[Contribution, ...] = ()
    total: np.ndarray | None = None
    is_leaf: bool = False


@dataclass(frozen=True)
class Step:
    """One op the engine differentiated."""

    number: int
    op: str
    op_name: str
    formula: str | None
    node: str | None
    output: str
    upstream: np.ndarray
    #: The gradients that added up to ``upstream``; empty for the loss (the seed).
    upstream_parts: tuple[Contribution, ...]
    #: True when ``upstream`` is not the sum of its parts (a gradient hook replaced it).
    hooked: bool
    sent: tuple[SentGradient, ...]

    def parts_received(self, sent: SentGradient) -> tuple[Contribution, ...]:
        """What ``sent.target`` has received up to this step: ``sent.earlier``, then ``sent``."""
        assert sent.value is not None
        return (*sent.earlier, Contribution(self.op, sent.role, sent.value))


@dataclass(frozen=True)
class LeafGradient:
    """A leaf's ``.grad`` after the pass, with the contributions it was summed from."""

    name: str
    node: str | None
    parts: tuple[Contribution, ...]
    before: np.ndarray | None
    grad: np.ndarray | None


@dataclass
class BackpropTrace:
    """Every step of one backward pass, ready to show as HTML or text."""

    loss: np.ndarray
    steps: list[Step]
    leaves: list[LeafGradient]
    #: The graph rendered by Graphviz (inline SVG), or None when ``dot`` is missing.
    svg: str | None = None
    notes: list[str] = field(default_factory=list)

    def text(self, first: int | None = None) -> str:
        """The steps as a plain-text table, one or more lines per step; ``first`` cuts it short."""
        return _text_table(self, first)

    def html(self) -> str:
        """The whole page: graph, step panel, styles and script, with nothing to fetch."""
        return _html_page(self)


# ---------------------------------------------------------------- running backward
def _numbered(names: Sequence[str]) -> list[str]:
    """``names`` with a subscript count on each that occurs more than once, in order."""
    totals: dict[str, int] = {}
    for name in names:
        totals[name] = totals.get(name, 0) + 1
    seen: dict[str, int] = {}
    labels = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        labels.append(name + str(seen[name]).translate(_SUBSCRIPTS) if totals[name] > 1 else name)
    return labels


def _roles(ctx: Function) -> list[str | None]:
    """The formula's name for each input (``∂a = ...`` names input ``a``), where it is clear."""
    roles: list[str | None] = list(dict.fromkeys(_ROLE.findall(ctx.formula or "")))
    parents = ctx.parents
    if len(roles) > len(parents):
        return [None] * len(parents)
    # Fewer names than inputs: only when the unnamed inputs are constants (a loss's target).
    if any(parent is not None for parent in parents[len(roles) :]):
        return [None] * len(parents)
    return roles + [None] * (len(parents) - len(roles))


def _check(loss: object, gradient: Any) -> Tensor:
    if not isinstance(loss, Tensor):
        raise TypeError(f"explain: the loss must be a Tensor, got {type(loss).__name__}")
    if loss.grad_fn is None:
        raise RuntimeError(
            "explain: the loss has no recorded graph (it is a leaf, or was computed under "
            "no_grad() or from tensors that do not require grad); compute it from tensors "
            "created with requires_grad=True"
        )
    if gradient is None and loss.size != 1:
        raise RuntimeError(
            f"explain: the loss has shape {loss.shape}; a gradient can be implied only for a "
            "single-element loss. Reduce it first (e.g. loss.sum()) or pass gradient= with "
            "the loss's shape"
        )
    return loss


def trace(
    loss: Tensor,
    params: Any = None,
    *,
    gradient: Any = None,
    retain_graph: bool = False,
    draw: bool = True,
) -> BackpropTrace:
    """Run ``loss.backward()`` and record every step of it (see :func:`explain`).

    The gradients accumulate into ``.grad`` exactly as ``loss.backward(gradient,
    retain_graph)`` would. With ``draw`` the graph is rendered to SVG for the page.
    """
    loss = _check(loss, gradient)
    svg, node_ids, notes = _picture(loss, params) if draw else (None, {}, [])
    names = _Names(loss, params, node_ids)
    grads_before = {id(leaf): _copy(leaf.grad) for leaf in names.leaves}

    recorder = _Recorder(names)
    with autograd.observe_backward(recorder.observe):
        loss.backward(gradient, retain_graph=retain_graph)
    if not retain_graph:  # so that a later loss.backward() says who freed the graph
        for ctx in recorder.differentiated:
            ctx.released_by = "tg.viz.explain, which runs loss.backward() itself"

    leaves = _leaf_gradients(names, grads_before, recorder.received)
    return BackpropTrace(np.array(loss.data), recorder.steps, leaves, svg, notes)


def _picture(loss: Tensor, params: Any) -> tuple[str | None, dict[int, str], list[str]]:
    """The graph as SVG for the page, the node id of each op and leaf in it, and notes.

    Without ``dot`` there is no SVG: a note on the page and a warning say why.
    """
    graph, node_ids = viz._draw(loss, params)
    if not viz.dot_available():
        warnings.warn(
            f"explain: the page has no graph picture; {viz.INSTALL_HINT}",
            viz.GraphvizMissingWarning,
            stacklevel=4,
        )
        return None, node_ids, [f"The graph is not drawn: {viz.INSTALL_HINT}."]
    rendered = graph.pipe(format="svg").decode("utf-8")
    svg = rendered[rendered.index("<svg") :]  # no XML prolog or DOCTYPE inside HTML
    return svg, node_ids, []


class _Names:
    """What the steps call each tensor, and which node of the picture shows it.

    A leaf is called by its name in ``params`` (else ``input``), the loss ``loss``, and
    any other tensor by the op that made it, numbered in forward order when that op
    occurs more than once.
    """

    def __init__(self, loss: Tensor, params: Any, node_ids: dict[int, str]) -> None:
        self.loss = loss
        self.node_ids = node_ids
        ops = [viz._op(result) for result in autograd.recorded_results(loss)]
        self.op_labels = dict(zip(map(id, ops), _numbered([op.op_name() for op in ops])))
        leaves: dict[int, Tensor] = {}
        for op in ops:
            for parent in op.parents:
                if parent is not None and parent.grad_fn is None:
                    leaves.setdefault(id(parent), parent)
        #: The leaves behind the loss, in the order the ops that use them ran.
        self.leaves = list(leaves.values())
        names = viz._parameter_names(params)
        unnamed = [leaf for leaf in self.leaves if id(leaf) not in names]
        self.leaf_names = dict(names)
        self.leaf_names.update(zip(map(id, unnamed), _numbered(["input"] * len(unnamed))))

    def op(self, ctx: Function) -> str:
        return self.op_labels.get(id(ctx), ctx.op_name())

    def of(self, tensor: Tensor) -> str:
        if tensor is self.loss:
            return "loss"
        if tensor.grad_fn is None:
            return self.leaf_names.get(id(tensor), "input")
        return self.op(tensor.grad_fn)

    def node(self, tensor: Tensor) -> str | None:
        return self.node_ids.get(id(tensor) if tensor.grad_fn is None else id(tensor.grad_fn))


class _Recorder:
    """Writes down a :class:`Step` for each op backward differentiates, as it does so.

    Its :meth:`observe` is the callback of ``autograd.observe_backward``.
    """

    def __init__(self, names: _Names) -> None:
        self.names = names
        self.steps: list[Step] = []
        self.differentiated: list[Function] = []
        #: The gradients each tensor has received so far, by ``id()``.
        self.received: dict[int, list[Contribution]] = {}
        # The tensors whose ids key ``received``: kept alive so that no id is reused meanwhile.
        self.keep: list[Tensor] = []

    def observe(
        self, ctx: Function, output: Tensor, grad: Any, input_grads: tuple[Any, ...]
    ) -> None:
        self.differentiated.append(ctx)
        upstream = np.array(_numbers(grad))
        parts = tuple(self.received.pop(id(output), ()))
        hooked = bool(parts) and not np.allclose(
            _total(parts), upstream, rtol=1e-12, atol=0.0, equal_nan=True
        )
        op = self.names.op(ctx)
        sent = []
        for position, (parent, role) in enumerate(zip(ctx.parents, _roles(ctx))):
            input_grad = input_grads[position] if position < len(input_grads) else None
            sent.append(self._sent(ctx, op, position, role, parent, input_grad))
        self.steps.append(
            Step(
                number=len(self.steps) + 1,
                op=op,
                op_name=ctx.op_name(),
                formula=ctx.formula,
                node=self.names.node_ids.get(id(ctx)),
                output=self.names.of(output),
                upstream=upstream,
                upstream_parts=parts,
                hooked=hooked,
                sent=tuple(sent),
            )
        )

    def _sent(
        self,
        ctx: Function,
        op: str,
        position: int,
        role: str | None,
        parent: Tensor | None,
        input_grad: Any,
    ) -> SentGradient:
        """What ``op`` sent to its input at ``position``, summed to the input's shape."""
        if parent is None:
            return SentGradient(position, role, None, None, None)
        target, node = self.names.of(parent), self.names.node(parent)
        if input_grad is None:
            return SentGradient(position, role, target, node, None)
        value = np.asarray(_numbers(input_grad))
        if value.shape != parent.shape:
            value = autograd.unbroadcast(value, parent.shape, ctx)
        value = np.array(value, dtype=parent.dtype)
        earlier = tuple(self.received.get(id(parent), ()))
        contribution = Contribution(op, role, value)
        self.received.setdefault(id(parent), []).append(contribution)
        self.keep.append(parent)
        total = _total([*earlier, contribution])
        is_leaf = parent.grad_fn is None
        return SentGradient(position, role, target, node, value, earlier, total, is_leaf)


def _leaf_gradients(
    names: _Names,
    grads_before: dict[int, np.ndarray | None],
    received: dict[int, list[Contribution]],
) -> list[LeafGradient]:
    """Each leaf that received a gradient: its ``.grad`` before and after, and the parts."""
    return [
        LeafGradient(
            name=names.leaf_names.get(id(leaf), "input"),
            node=names.node_ids.get(id(leaf)),
            parts=tuple(received[id(leaf)]),
            before=grads_before[id(leaf)],
            grad=_copy(leaf.grad),
        )
        for leaf in names.leaves
        if id(leaf) in received
    ]


def _numbers(value: Any) -> Any:
    """A Tensor's array, or ``value`` itself (a gradient can be either)."""
    return value.data if isinstance(value, Tensor) else value


def _copy(grad: Tensor | None) -> np.ndarray | None:
    return None if grad is None else np.array(grad.data)


@overload
def explain(
    loss: Tensor,
    path: str | os.PathLike[str] = ...,
    params: Any = ...,
    format: Literal["html"] = ...,
    *,
    gradient: Any = ...,
    retain_graph: bool = ...,
) -> Path: ...


@overload
def explain(
    loss: Tensor,
    path: str | os.PathLike[str] = ...,
    params: Any = ...,
    *,
    format: Literal["text"],
    gradient: Any = ...,
    retain_graph: bool = ...,
) -> str: ...


@overload
def explain(
    loss: Tensor,
    path: str | os.PathLike[str],
    params: Any,
    format: Literal["text"],
    *,
    gradient: Any = ...,
    retain_graph: bool = ...,
) -> str: ...


def explain(
    loss: Tensor,
    path: str | os.PathLike[str] = "backprop.html",
    params: Any = None,
    format: str = "html",  # noqa: A002 - the argument's documented name
    *,
    gradient: Any = None,
    retain_graph: bool = False,
) -> Path | str:
    """Run ``loss.backward()`` and show every step of it, as a web page or a text table.

    It *is* ``loss.backward(gradient, retain_graph=retain_graph)``: the
    gradients accumulate into each leaf's ``.grad`` as they would there (so the
    last step shows the same ``.grad`` you get), and the graph is freed
    afterwards unless ``retain_graph=True``.

    With ``format="html"`` (the default) one self-contained page is written to
    ``path`` and its path returned: the graph as :func:`draw_graph` draws it
    (``params`` names the leaves and gives the module clusters), rendered by
    Graphviz's ``dot`` (without ``dot`` the page has no picture and a
    :class:`GraphvizMissingWarning` says so), beside the step panel. With
    ``format="text"`` nothing is written: the same steps are printed as a
    table and returned.

    >>> import tempfile
    >>> from pathlib import Path
    >>> import tinygrad_ann as tg
    >>> w = tg.tensor([3.0], requires_grad=True)
    >>> table = tg.viz.explain(w * w, params={"w": w}, format="text")
    Backpropagation of loss = [9]: 1 op(s) in the engine's order, then the leaves' .grad
    step  op      formula                   gradients
    ----  ------  ------------------------  ---------
    1     mul     ∂a = ∂y · b, ∂b = ∂y · a  ∂y = ∂loss = [1] (the start of backward)
                                            ∂a → w: [3]
                                            ∂b → w: [3]
                                              ∂w = [3] (from mul as a) + [3] (from mul as b) = [6]
    2     leaves  Σ of what each received   w.grad = [6]
                                              ∂w = [3] (from mul as a) + [3] (from mul as b) = [6]
    >>> w.grad
    Tensor([6.])
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     page = tg.viz.explain(2 * w, Path(folder) / "backprop.html", {"w": w})
    ...     "#step=" in page.read_text(encoding="utf-8")
    True
    >>> w.grad  # added to what the first call left, as loss.backward() does
    Tensor([8.])
    """
    if format not in ("html", "text"):
        raise ValueError(f"explain: format must be 'html' or 'text', got {format!r}")
    steps = trace(loss, params, gradient=gradient, retain_graph=retain_graph, draw=format == "html")
    if format == "text":
        table = steps.text()
        print(table)
        return table
    return write_page(steps, path)


def write_page(steps: BackpropTrace, path: str | os.PathLike[str]) -> Path:
    """Write ``steps`` as the HTML page :func:`explain` writes (atomically)."""
    return write_atomically(path, steps.html().encode("utf-8"), "viz.explain")

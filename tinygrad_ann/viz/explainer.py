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

import html
import json
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
from ..tensor import array_of as _data
from . import graph as viz
from .graph import visible_text

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

#: Tensors with at most this many elements are shown in full; larger ones by shape and norm.
SMALL = 16

_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
_ROLE = re.compile(r"∂(\w+) =")
# Characters a name cannot be shown with as themselves: dot rejects NUL, XML 1.0 (the
# SVG) forbids the other C0 controls, lone surrogates and U+FFFE/U+FFFF, UTF-8 cannot
# encode lone surrogates, and the rest (DEL, C1 controls, line and paragraph
# separators, bidirectional overrides) draw nothing or reorder the text around them.


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
        rows: list[tuple[str, str, str, str]] = []
        shown = self.steps if first is None else self.steps[:first]
        for step in shown:
            lines = _step_lines(step)
            rows.append((str(step.number), step.op, step.formula or "custom op", lines[0]))
            rows += [("", "", "", line) for line in lines[1:]]
        if first is None or first > len(self.steps):
            lines = _leaf_lines(self.leaves)
            number = str(len(self.steps) + 1)
            rows.append((number, "leaves", "Σ of what each received", lines[0]))
            rows += [("", "", "", line) for line in lines[1:]]
        # A name's newline or terminal escape would break the table (or the terminal).
        rows = [
            (number, visible_text(op), visible_text(formula), visible_text(gradients))
            for number, op, formula, gradients in rows
        ]
        headers = ("step", "op", "formula", "gradients")
        widths = [max(len(headers[i]), *(len(row[i]) for row in rows)) for i in range(3)]
        layout = "  ".join(f"{{:<{width}}}" for width in widths) + "  {}"
        out = [
            f"Backpropagation of loss = {_show(self.loss)}: {len(self.steps)} op(s) in the "
            "engine's order, then the leaves' .grad",
            layout.format(*headers).rstrip(),
            layout.format(*("-" * w for w in widths), "-" * len(headers[3])),
        ]
        out += [layout.format(*row).rstrip() for row in rows]
        if len(shown) < len(self.steps):
            more = len(self.steps) - len(shown)
            out.append(f"... {more} more op(s), then the leaves' .grad")
        return "\n".join([*self.notes, *out]) if self.notes else "\n".join(out)

    def html(self) -> str:
        """The whole page: graph, step panel, styles and script, with nothing to fetch."""
        sections = [_step_section(step, len(self.steps) + 1) for step in self.steps]
        sections.append(_leaves_section(self.leaves, len(self.steps) + 1))
        listing = (
            "".join(
                f'<li><a href="#step={step.number}">{_e(step.op)}</a></li>' for step in self.steps
            )
            + f'<li><a href="#step={len(self.steps) + 1}">leaves\' .grad</a></li>'
        )
        graph = (
            self.svg if self.svg is not None else f'<p class="note">{_e(" ".join(self.notes))}</p>'
        )
        # The exact names (the page shows each hidden character as its escape), for tools.
        data = {
            "steps": [
                {"step": s.number, "op": s.op, "op_name": s.op_name, "node": s.node}
                for s in self.steps
            ],
            "leaves": [{"name": leaf.name, "node": leaf.node} for leaf in self.leaves],
        }
        return _PAGE.format(
            style=_STYLE,
            script=_SCRIPT,
            data=_script_json(data),
            loss=_e(_show(self.loss)),
            count=len(self.steps),
            total=len(self.steps) + 1,
            graph=graph,
            sections="\n".join(sections),
            listing=listing,
        )


# ---------------------------------------------------------------- formatting
def _e(text: str) -> str:
    return html.escape(visible_text(text), quote=True)


def _script_json(value: Any) -> str:
    """``value`` as JSON that can sit inside ``<script>`` and parses back exactly.

    ``ensure_ascii`` writes every non-ASCII character as ``\\uXXXX`` (so U+2028,
    U+2029 and lone surrogates too); no ``<``, ``>`` or ``&`` is left, so nothing
    can close the script (``</script>``) or switch the parser's state (``<!--``).
    """
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _number(value: Any) -> str:
    return f"{value:.4g}"


def _show(array: np.ndarray | None, one_line: bool = True) -> str:
    """A tensor's values when it is small (4 significant digits), else its shape and norm.

    A matrix's rows go on lines of their own unless ``one_line``.
    """
    if array is None:
        return "none"
    array = np.asarray(array)
    if array.size > SMALL:
        return f"shape {array.shape}, norm {float(np.linalg.norm(array)):.4g}"
    if array.ndim == 0:
        return _number(array.item()) if array.dtype.kind in "fc" else str(array.item())
    text = np.array2string(
        array, separator=", ", max_line_width=10**6, formatter={"float_kind": _number}
    )
    return text.replace("\n", "") if one_line else text


def _sum_line(name: str, parts: Sequence[Contribution], total: np.ndarray) -> str:
    terms = " + ".join(f"{_show(part.value)} ({part.describe()})" for part in parts)
    return f"∂{name} = {terms} = {_show(total)}"


def _step_lines(step: Step) -> list[str]:
    if step.upstream_parts:
        origin = ", ".join(part.describe() for part in step.upstream_parts)
    else:
        origin = "the start of backward"
    lines = [f"∂y = ∂{step.output} = {_show(step.upstream)} ({origin})"]
    if len(step.upstream_parts) > 1 or step.hooked:
        lines.append(
            "  " + _sum_line(step.output, step.upstream_parts, _total(step.upstream_parts))
        )
    if step.hooked:
        lines.append(f"  a gradient hook replaced it with {_show(step.upstream)}")
    for sent in step.sent:
        role = f"∂{sent.role}" if sent.role else f"input {sent.position}"
        if sent.target is None:
            lines.append(f"{role}: a constant, no gradient")
            continue
        lines.append(f"{role} → {sent.target}: {_show(sent.value)}")
        if sent.earlier and sent.total is not None and sent.value is not None:
            part = Contribution(step.op, sent.role, sent.value)
            lines.append("  " + _sum_line(sent.target, [*sent.earlier, part], sent.total))
    return lines


def _leaf_lines(leaves: Sequence[LeafGradient]) -> list[str]:
    lines = []
    for leaf in leaves:
        lines.append(f"{leaf.name}.grad = {_show(leaf.grad)}")
        if len(leaf.parts) > 1:
            lines.append("  " + _sum_line(leaf.name, leaf.parts, _total(leaf.parts)))
        if leaf.before is not None:
            lines.append("  " + _before_line(leaf))
    return lines or ["no leaf received a gradient"]


def _before_line(leaf: LeafGradient) -> str:
    """How backward added this pass's gradient to the ``.grad`` the leaf already had."""
    assert leaf.before is not None and leaf.parts
    this_pass = _show(_total(leaf.parts))
    return f"= {_show(leaf.before)} (.grad before) + {this_pass} (this pass)"


def _total(parts: Sequence[Contribution]) -> np.ndarray:
    total = parts[0].value
    for part in parts[1:]:
        total = total + part.value
    return total


# ---------------------------------------------------------------- HTML
def _value(array: np.ndarray | None) -> str:
    shape = "" if array is None or array.ndim == 0 else f' <span class="shape">{array.shape}</span>'
    # Numbers only, whose line breaks are the matrix's rows: not _e, which would show them.
    numbers = html.escape(_show(array, one_line=False))
    return f'<span class="value">{numbers}</span>{shape}'


def _step_section(step: Step, total_steps: int) -> str:
    receivers = " ".join(s.node for s in step.sent if s.node is not None)
    formula = _e(step.formula) if step.formula else "custom op"
    parts = [
        f'<section class="step" id="step-{step.number}" data-step="{step.number}" '
        f'data-op="{_e(step.op_name)}" data-node="{_e(step.node or "")}" '
        f'data-receivers="{_e(receivers)}" hidden>',
        f'<h2>Step {step.number} of {total_steps}: <span class="op">{_e(step.op)}</span></h2>',
        f'<p class="formula">Local derivative: <code>{formula}</code></p>',
    ]
    if step.upstream_parts:
        origin = ", ".join(_e(part.describe()) for part in step.upstream_parts)
    else:
        origin = "the start of backward: ∂loss/∂loss"
    parts.append(
        f'<p class="upstream">Upstream gradient <span class="name">∂y = ∂{_e(step.output)}</span>'
        f' = {_value(step.upstream)} <span class="origin">({origin})</span></p>'
    )
    if len(step.upstream_parts) > 1 or step.hooked:
        line = _sum_line(step.output, step.upstream_parts, _total(step.upstream_parts))
        parts.append(f'<p class="sum">{_e(line)}</p>')
    if step.hooked:
        parts.append('<p class="note">A gradient hook replaced the sum.</p>')
    parts.append('<h3>Sent to each input</h3><ul class="sent">')
    for sent in step.sent:
        role = f"∂{sent.role}" if sent.role else f"input {sent.position}"
        if sent.target is None:
            parts.append(
                f'<li class="constant" data-position="{sent.position}">'
                f'<span class="role">{_e(role)}</span>: a constant, no gradient</li>'
            )
            continue
        item = [
            f'<li data-position="{sent.position}" data-target="{_e(sent.target)}">'
            f'<span class="role">{_e(role)}</span> → <span class="name">{_e(sent.target)}</span>'
            f": {_value(sent.value)}"
        ]
        if sent.is_leaf:
            item.append(' <span class="origin">(a leaf: added into its .grad at the end)</span>')
        if sent.earlier and sent.total is not None and sent.value is not None:
            part = Contribution(step.op, sent.role, sent.value)
            line = _sum_line(sent.target, [*sent.earlier, part], sent.total)
            item.append(f'<div class="sum">{_e(line)}</div>')
        parts.append("".join(item) + "</li>")
    parts.append("</ul></section>")
    return "\n".join(parts)


def _leaves_section(leaves: Sequence[LeafGradient], number: int) -> str:
    nodes = " ".join(leaf.node for leaf in leaves if leaf.node is not None)
    parts = [
        f'<section class="step" id="step-{number}" data-step="{number}" data-op="" '
        f'data-node="" data-receivers="{_e(nodes)}" hidden>',
        f'<h2>Step {number} of {number}: <span class="op">the leaves\' .grad</span></h2>',
        '<p class="formula">Each leaf\'s <code>.grad</code> is the sum of every gradient it '
        "received, added to what <code>.grad</code> already held (as "
        "<code>loss.backward()</code> does).</p>",
        '<ul class="sent">',
    ]
    for leaf in leaves:
        item = [
            f'<li data-target="{_e(leaf.name)}"><span class="name">{_e(leaf.name)}.grad</span>'
            f" = {_value(leaf.grad)}"
        ]
        if len(leaf.parts) > 1:
            item.append(
                f'<div class="sum">{_e(_sum_line(leaf.name, leaf.parts, _total(leaf.parts)))}</div>'
            )
        if leaf.before is not None:
            item.append(f'<div class="sum">{_e(_before_line(leaf))}</div>')
        parts.append("".join(item) + "</li>")
    if not leaves:
        parts.append("<li>No leaf received a gradient.</li>")
    parts.append("</ul></section>")
    return "\n".join(parts)


_STYLE = """
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
       color: #222; background: #fafafa; }
header { padding: 0.6em 1.2em; border-bottom: 1px solid #ddd; background: #fff; }
header h1 { font-size: 1.25em; margin: 0 0 0.2em; }
header p { margin: 0; color: #555; }
main { display: flex; align-items: flex-start; gap: 1em; padding: 1em; }
#graph { flex: 1 1 55%; overflow: auto; max-height: calc(100vh - 7em); background: #fff;
         border: 1px solid #ddd; padding: 0.5em; }
#graph svg { max-width: 100%; height: auto; }
#panel { flex: 1 1 45%; max-width: 44em; background: #fff; border: 1px solid #ddd;
         padding: 0.8em 1em; max-height: calc(100vh - 7em); overflow: auto; }
nav { display: flex; align-items: center; gap: 0.8em; margin-bottom: 0.6em; }
nav button { font: inherit; padding: 0.25em 0.8em; cursor: pointer; }
h2 { font-size: 1.1em; margin: 0.2em 0 0.5em; }
h3 { font-size: 1em; margin: 0.8em 0 0.3em; }
code, .value, .sum { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; }
.formula code { background: #f3f3f3; padding: 0.1em 0.35em; border-radius: 3px; }
.value { background: #eef5ff; padding: 0 0.25em; border-radius: 3px; white-space: pre;
         display: inline-block; vertical-align: top; }
.shape, .origin, .note { color: #666; font-size: 0.9em; }
.sum { margin: 0.25em 0 0.25em 1em; padding: 0.2em 0.5em; border-left: 3px solid #e69138;
       background: #fff8ee; }
ul.sent { padding-left: 1.2em; }
ul.sent li { margin: 0.3em 0; }
li.constant { color: #777; }
.op { color: #b3261e; }
#step-list { columns: 2; font-size: 0.9em; padding-left: 1.6em; }
#step-list li.active a { font-weight: bold; color: #b3261e; }
.legend { font-size: 0.85em; color: #555; margin-top: 0.8em; }
.swatch { display: inline-block; width: 1.6em; height: 0.35em; vertical-align: middle; }
#graph g.node.current > path, #graph g.node.current > polygon,
#graph g.node.current > ellipse { stroke: #d62728; stroke-width: 4px; }
#graph g.node.receives > path, #graph g.node.receives > polygon,
#graph g.node.receives > ellipse { stroke: #1f5fbf; stroke-width: 3px; stroke-dasharray: 6 3; }
#graph g.edge.downstream > path { stroke: #d62728; stroke-width: 3px; }
#graph g.edge.downstream > polygon { stroke: #d62728; fill: #d62728; }
#graph g.edge.upstream > path { stroke: #2e8b57; stroke-width: 3px; }
#graph g.edge.upstream > polygon { stroke: #2e8b57; fill: #2e8b57; }
"""

_SCRIPT = """
(() => {
  "use strict";
  const steps = Array.from(document.querySelectorAll("section.step"));
  const links = Array.from(document.querySelectorAll("#step-list li"));
  const counter = document.getElementById("counter");
  const prev = document.getElementById("prev");
  const next = document.getElementById("next");
  const nodes = new Map();
  const edges = [];
  for (const g of document.querySelectorAll("#graph g.node")) {
    const title = g.querySelector("title");
    if (title) nodes.set(title.textContent.trim(), g);
  }
  for (const g of document.querySelectorAll("#graph g.edge")) {
    const title = g.querySelector("title");
    if (!title) continue;
    const [tail, head] = title.textContent.trim().split("->");
    edges.push({ tail, head, g });
  }
  let current = 0;

  function show(number, updateHash) {
    number = Math.min(steps.length, Math.max(1, Number.isFinite(number) ? number : 1));
    current = number;
    steps.forEach((section, index) => { section.hidden = index !== number - 1; });
    links.forEach((item, index) => item.classList.toggle("active", index === number - 1));
    for (const element of document.querySelectorAll(
      "#graph .current, #graph .receives, #graph .upstream, #graph .downstream")) {
      element.classList.remove("current", "receives", "upstream", "downstream");
    }
    const section = steps[number - 1];
    const op = section.dataset.node;
    const receivers = (section.dataset.receivers || "").split(" ").filter(Boolean);
    for (const id of receivers) { if (nodes.has(id)) nodes.get(id).classList.add("receives"); }
    if (op && nodes.has(op)) nodes.get(op).classList.add("current");
    for (const edge of edges) {
      if (op && edge.tail === op) edge.g.classList.add("upstream");
      if (op && edge.head === op) edge.g.classList.add("downstream");
    }
    counter.textContent = "Step " + number + " of " + steps.length;
    prev.disabled = number === 1;
    next.disabled = number === steps.length;
    const focus = op ? nodes.get(op) : nodes.get(receivers[0]);
    if (focus) focus.scrollIntoView({ block: "nearest", inline: "nearest" });
    const hash = "#step=" + number;
    if (updateHash && location.hash !== hash) {
      try {
        history.replaceState(null, "", hash);
      } catch (error) {
        location.replace(hash);
      }
    }
  }

  function fromHash() {
    const match = /^#step=(\\d+)$/.exec(location.hash);
    return match ? parseInt(match[1], 10) : 1;
  }

  document.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === "ArrowRight") { show(current + 1, true); event.preventDefault(); }
    if (event.key === "ArrowLeft") { show(current - 1, true); event.preventDefault(); }
  });
  prev.addEventListener("click", () => show(current - 1, true));
  next.addEventListener("click", () => show(current + 1, true));
  window.addEventListener("hashchange", () => show(fromHash(), false));
  show(fromHash(), location.hash !== "");
})();
"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Backpropagation, step by step</title>
<style>{style}</style>
</head>
<body>
<header>
<h1>Backpropagation, step by step</h1>
<p>loss = {loss}. {count} op(s) in the order the engine differentiates them, then the leaves'
<code>.grad</code>. Step with ← / → or the buttons; <code>#step=N</code> in the address opens
step N.</p>
</header>
<main>
<div id="graph">{graph}</div>
<aside id="panel">
<nav><button id="prev" type="button">← Prev</button><span id="counter">Step 1 of {total}</span>
<button id="next" type="button">Next →</button></nav>
{sections}
<h3>All steps</h3>
<ol id="step-list">{listing}</ol>
<p class="legend"><span class="swatch" style="background:#d62728"></span> the op being
differentiated and the edges its gradients go back along;
<span class="swatch" style="background:#2e8b57"></span> where its upstream gradient came from;
<span class="swatch" style="background:#1f5fbf"></span> the tensors receiving a gradient.
In a formula <code>y</code> is the op's output and <code>∂y</code> its upstream gradient.</p>
</aside>
</main>
<script type="application/json" id="backprop-data">{data}</script>
<script>{script}</script>
</body>
</html>
"""


# ---------------------------------------------------------------- running backward
def _ops_behind(loss: Tensor) -> list[Function]:
    """Every op the loss depends on, in forward order (their sequence numbers decrease)."""
    assert loss._ctx is not None
    seen = {id(loss._ctx): loss._ctx}
    stack = [loss._ctx]
    while stack:
        for parent in stack.pop().parents:
            if parent is not None and parent._ctx is not None and id(parent._ctx) not in seen:
                seen[id(parent._ctx)] = parent._ctx
                stack.append(parent._ctx)
    return sorted(seen.values(), key=lambda ctx: -ctx.sequence)


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
    if loss._ctx is None:
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

    svg: str | None = None
    notes: list[str] = []
    node_ids: dict[int, str] = {}
    if draw:
        graph, node_ids = viz._draw(loss, params)
        if viz.dot_available():
            rendered = graph.pipe(format="svg").decode("utf-8")
            svg = rendered[rendered.index("<svg") :]  # no XML prolog or DOCTYPE inside HTML
        else:
            notes.append(f"The graph is not drawn: {viz.INSTALL_HINT}.")
            warnings.warn(
                f"explain: the page has no graph picture; {viz.INSTALL_HINT}",
                viz.GraphvizMissingWarning,
                stacklevel=3,
            )

    ops = _ops_behind(loss)
    op_labels = dict(zip((id(ctx) for ctx in ops), _numbered([ctx.op_name() for ctx in ops])))
    names = viz._parameter_names(params)
    leaves: dict[int, Tensor] = {}
    for ctx in ops:
        for parent in ctx.parents:
            if parent is not None and parent._ctx is None:
                leaves.setdefault(id(parent), parent)
    unnamed = [leaf for leaf in leaves.values() if id(leaf) not in names]
    leaf_names = dict(names)
    leaf_names.update(zip((id(leaf) for leaf in unnamed), _numbered(["input"] * len(unnamed))))
    before = {
        key: None if leaf.grad is None else np.array(_data(leaf.grad))
        for key, leaf in leaves.items()
    }

    def name_of(tensor: Tensor) -> str:
        if tensor is loss:
            return "loss"
        if tensor._ctx is None:
            return leaf_names.get(id(tensor), "input")
        return op_labels.get(id(tensor._ctx), tensor._ctx.op_name())

    def node_of(tensor: Tensor) -> str | None:
        return node_ids.get(id(tensor) if tensor._ctx is None else id(tensor._ctx))

    steps: list[Step] = []
    received: dict[int, list[Contribution]] = {}
    # The tensors whose ids key ``received``: kept alive so that no id is reused meanwhile.
    keep: list[Tensor] = []

    differentiated: list[Function] = []

    def observe(ctx: Function, output: Tensor, grad: Any, input_grads: tuple[Any, ...]) -> None:
        differentiated.append(ctx)
        upstream = np.array(_data(grad))
        parts = tuple(received.pop(id(output), ()))
        hooked = bool(parts) and not np.allclose(
            _total(parts), upstream, rtol=1e-12, atol=0.0, equal_nan=True
        )
        op = op_labels.get(id(ctx), ctx.op_name())
        sent = []
        for position, (parent, role) in enumerate(zip(ctx.parents, _roles(ctx))):
            input_grad = input_grads[position] if position < len(input_grads) else None
            if parent is None:
                sent.append(SentGradient(position, role, None, None, None))
                continue
            if input_grad is None:
                sent.append(SentGradient(position, role, name_of(parent), node_of(parent), None))
                continue
            value = np.asarray(_data(input_grad))
            if value.shape != parent.shape:
                value = autograd.unbroadcast(value, parent.shape, ctx)
            value = np.array(value, dtype=parent.dtype)
            earlier = tuple(received.get(id(parent), ()))
            contribution = Contribution(op, role, value)
            received.setdefault(id(parent), []).append(contribution)
            keep.append(parent)
            total = _total([*earlier, contribution])
            sent.append(
                SentGradient(
                    position,
                    role,
                    name_of(parent),
                    node_of(parent),
                    value,
                    earlier,
                    total,
                    parent._ctx is None,
                )
            )
        steps.append(
            Step(
                number=len(steps) + 1,
                op=op,
                op_name=ctx.op_name(),
                formula=ctx.formula,
                node=node_ids.get(id(ctx)),
                output=name_of(output),
                upstream=upstream,
                upstream_parts=parts,
                hooked=hooked,
                sent=tuple(sent),
            )
        )

    with autograd.observe_backward(observe):
        loss.backward(gradient, retain_graph=retain_graph)
    if not retain_graph:  # so that a later loss.backward() says who freed the graph
        for ctx in differentiated:
            ctx.released_by = "tg.viz.explain, which runs loss.backward() itself"

    finals = [
        LeafGradient(
            name=leaf_names.get(key, "input"),
            node=node_ids.get(key),
            parts=tuple(received.get(key, ())),
            before=before[key],
            grad=None if leaf.grad is None else np.array(_data(leaf.grad)),
        )
        for key, leaf in leaves.items()
        if key in received
    ]
    return BackpropTrace(np.array(loss.data), steps, finals, svg, notes)


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

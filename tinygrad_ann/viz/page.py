"""How a recorded backward pass is shown: as a plain-text table, or as one web page.

:class:`~tinygrad_ann.viz.explainer.BackpropTrace`'s ``text()`` and ``html()`` come
from here. The page needs nothing from the network: the graph's SVG, one panel per
step, the styles and the script that steps through them are all inside it.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .graph import visible_text

if TYPE_CHECKING:
    from .explainer import BackpropTrace, Contribution, LeafGradient, Step

#: Tensors with at most this many elements are shown in full; larger ones by shape and norm.
SMALL = 16


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
            lines.append("  " + _sum_line(sent.target, step.parts_received(sent), sent.total))
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
            line = _sum_line(sent.target, step.parts_received(sent), sent.total)
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


def _text_table(trace: BackpropTrace, first: int | None) -> str:
    """The steps as a plain-text table, one or more lines per step; ``first`` cuts it short."""
    rows: list[tuple[str, str, str, str]] = []
    shown = trace.steps if first is None else trace.steps[:first]
    for step in shown:
        lines = _step_lines(step)
        rows.append((str(step.number), step.op, step.formula or "custom op", lines[0]))
        rows += [("", "", "", line) for line in lines[1:]]
    if first is None or first > len(trace.steps):
        lines = _leaf_lines(trace.leaves)
        number = str(len(trace.steps) + 1)
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
        f"Backpropagation of loss = {_show(trace.loss)}: {len(trace.steps)} op(s) in the "
        "engine's order, then the leaves' .grad",
        layout.format(*headers).rstrip(),
        layout.format(*("-" * w for w in widths), "-" * len(headers[3])),
    ]
    out += [layout.format(*row).rstrip() for row in rows]
    if len(shown) < len(trace.steps):
        more = len(trace.steps) - len(shown)
        out.append(f"... {more} more op(s), then the leaves' .grad")
    return "\n".join([*trace.notes, *out]) if trace.notes else "\n".join(out)


def _html_page(trace: BackpropTrace) -> str:
    """The whole page: graph, step panel, styles and script, with nothing to fetch."""
    sections = [_step_section(step, len(trace.steps) + 1) for step in trace.steps]
    sections.append(_leaves_section(trace.leaves, len(trace.steps) + 1))
    listing = (
        "".join(f'<li><a href="#step={step.number}">{_e(step.op)}</a></li>' for step in trace.steps)
        + f'<li><a href="#step={len(trace.steps) + 1}">leaves\' .grad</a></li>'
    )
    graph = (
        trace.svg if trace.svg is not None else f'<p class="note">{_e(" ".join(trace.notes))}</p>'
    )
    # The exact names (the page shows each hidden character as its escape), for tools.
    data = {
        "steps": [
            {"step": s.number, "op": s.op, "op_name": s.op_name, "node": s.node}
            for s in trace.steps
        ],
        "leaves": [{"name": leaf.name, "node": leaf.node} for leaf in trace.leaves],
    }
    return _PAGE.format(
        style=_STYLE,
        script=_SCRIPT,
        data=_script_json(data),
        loss=_e(_show(trace.loss)),
        count=len(trace.steps),
        total=len(trace.steps) + 1,
        graph=graph,
        sections="\n".join(sections),
        listing=listing,
    )


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

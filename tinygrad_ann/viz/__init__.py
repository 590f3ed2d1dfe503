"""Pictures of the computation graph, and the backward pass explained step by step.

``viz.graph`` draws a graph with Graphviz (:func:`draw_graph`, :func:`save`);
``viz.explainer`` runs one backward pass and records every op's vector-Jacobian
product (:func:`explain`; ``viz.explainer.trace`` returns the steps as data),
which ``viz.page`` lays out as a text table or a web page; ``viz.plan`` draws a
``tg.compile`` plan (:func:`draw_plan`).
"""

from .explainer import explain
from .graph import (
    INSTALL_HINT,
    LABEL_BYTES,
    LINE_CHARACTERS,
    STYLES,
    GraphvizMissingWarning,
    dot_available,
    draw_graph,
    save,
    visible_text,
)
from .plan import draw_plan

__all__ = [
    "INSTALL_HINT",
    "LABEL_BYTES",
    "LINE_CHARACTERS",
    "STYLES",
    "GraphvizMissingWarning",
    "dot_available",
    "draw_graph",
    "draw_plan",
    "explain",
    "save",
    "visible_text",
]

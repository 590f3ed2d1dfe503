"""Pictures of the computation graph, and the backward pass explained step by step.

:mod:`~tinygrad_ann.viz.graph` draws a graph with Graphviz (``draw_graph``, ``save``);
:mod:`~tinygrad_ann.viz.explainer` runs one backward pass and shows every op's
vector-Jacobian product on a page (``explain``).
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

__all__ = [
    "INSTALL_HINT",
    "LABEL_BYTES",
    "LINE_CHARACTERS",
    "STYLES",
    "GraphvizMissingWarning",
    "dot_available",
    "draw_graph",
    "explain",
    "save",
    "visible_text",
]

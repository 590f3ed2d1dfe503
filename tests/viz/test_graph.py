"""Graph drawing: structure of the DOT source, styles, clusters, rendering and fallbacks."""

import re
import xml.etree.ElementTree as ET

import graphviz
import numpy as np
import pytest
from custom_ops import Cube

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import nn, viz


def node_labels(graph: graphviz.Digraph) -> dict[str, str]:
    """Node id -> label, read back from the DOT source."""
    found = {}
    for match in re.finditer(r'^\s*(\w+) \[label=("(?:[^"\\]|\\.)*"|\S+)', graph.source, re.M):
        found[match.group(1)] = match.group(2).strip('"')
    return found


def edge_pairs(graph: graphviz.Digraph) -> list[tuple[str, str]]:
    return re.findall(r"^\s*(\w+) -> (\w+)", graph.source, re.M)


def node_line(graph: graphviz.Digraph, node_id: str) -> str:
    start = graph.source.index(f"\t{node_id} [")
    return graph.source[start : graph.source.index("]", start)]


class TwoMoonsNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(2, 5)
        self.output = nn.Linear(5, 2)

    def forward(self, x):
        return self.output(self.hidden(x).tanh())


def test_small_graph_has_one_node_per_op_and_leaf_and_the_right_edges():
    w = tg.tensor([1.0, -2.0], requires_grad=True)
    b = tg.tensor(0.5, requires_grad=True)
    loss = (w * w + b).sum()
    graph = viz.draw_graph(loss, {"w": w, "b": b})
    labels = node_labels(graph)
    ops = sorted(label for node, label in labels.items() if node.startswith("op"))
    assert ops == ["add", "mul", "sum"]
    leaves = {label.split("\n")[0] for node, label in labels.items() if node.startswith("leaf")}
    assert leaves == {"w", "b"}
    by_label = {label.split("\n")[0]: node for node, label in labels.items()}
    edges = edge_pairs(graph)
    # w feeds mul twice (w * w), and the chain runs mul -> add -> sum -> output.
    assert edges.count((by_label["w"], by_label["mul"])) == 2
    assert (by_label["b"], by_label["add"]) in edges
    assert (by_label["mul"], by_label["add"]) in edges
    assert (by_label["add"], by_label["sum"]) in edges
    assert (by_label["sum"], by_label["output"]) in edges
    assert len(edges) == 6


def test_edges_carry_shapes_and_leaves_show_shape_and_dtype():
    x = tg.tensor(np.ones((3, 2), dtype=np.float32), requires_grad=True)
    graph = viz.draw_graph((x @ x.T).sum())
    assert 'label="(3, 2)"' in graph.source
    assert 'label="(3, 3)"' in graph.source
    assert "(3, 2) float32" in graph.source
    no_shapes = viz.draw_graph((x @ x.T).sum(), show_shapes=False)
    assert 'label="(3, 3)"' not in no_shapes.source


def test_parameters_inputs_and_output_have_distinct_styles():
    model = nn.Linear(2, 1)
    x = tg.tensor([[1.0, 2.0]], requires_grad=True)
    out = model(x).sum()
    graph = viz.draw_graph(out, model)
    labels = node_labels(graph)
    by_name = {label.split("\n")[0]: node for node, label in labels.items()}
    assert set(by_name) >= {"weight", "bias", "input", "output", "linear", "sum"}
    fills = {
        name: re.search(r'fillcolor="(#\w+)"', node_line(graph, by_name[name])).group(1)
        for name in ("weight", "input", "output", "linear")
    }
    assert fills["weight"] == viz.STYLES["parameter"]["fillcolor"]
    assert fills["input"] == viz.STYLES["input"]["fillcolor"]
    assert fills["output"] == viz.STYLES["output"]["fillcolor"]
    assert fills["linear"] == viz.STYLES["op"]["fillcolor"]
    assert len(set(fills.values())) == 4


def test_module_forward_makes_nested_labelled_clusters_with_named_parameters():
    model = TwoMoonsNet()
    outer = nn.Sequential(model)
    x = tg.tensor(np.random.default_rng(0).normal(size=(4, 2)))
    loss = F.cross_entropy(outer(x), np.array([0, 1, 1, 0]))
    graph = viz.draw_graph(loss, outer)
    source = graph.source
    assert source.count("subgraph cluster_") == 4
    assert 'label="0: TwoMoonsNet()"' in source
    assert 'label="0.hidden: Linear(2 -> 5)"' in source
    assert 'label="0.output: Linear(5 -> 2)"' in source
    assert 'label="Sequential()"' in source
    # The hidden cluster sits inside TwoMoonsNet's, which sits inside Sequential's.
    sequential_at = source.index('label="Sequential()"')
    net_at = source.index('label="0: TwoMoonsNet()"')
    hidden_at = source.index('label="0.hidden: Linear(2 -> 5)"')
    assert sequential_at < net_at < hidden_at
    hidden_block = source[hidden_at : source.index("}", hidden_at)]
    assert "0.hidden.weight" in hidden_block and "0.hidden.bias" in hidden_block
    assert "linear" in hidden_block and "tanh" not in hidden_block
    # cross_entropy ran outside every module: it is drawn outside every cluster.
    assert source.index("cross_entropy") < source.index("subgraph cluster_")


def test_parameter_used_outside_its_module_still_sits_in_its_module_cluster():
    model = TwoMoonsNet()
    penalty = (model.hidden.weight**2).sum()
    loss = model(tg.ones(3, 2)).sum() + penalty
    source = viz.draw_graph(loss, model).source
    hidden_at = source.index('label="hidden: Linear(2 -> 5)"')
    assert "hidden.weight" in source[hidden_at : source.index("}", hidden_at)]
    assert source.count("hidden.weight") == 1


def test_custom_function_is_drawn_under_its_class_name():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    assert "Cube" in node_labels(viz.draw_graph(Cube.apply(x).sum())).values()


def test_nonfinite_values_and_gradients_are_marked_red():
    x = tg.tensor([1.0, 0.0], requires_grad=True)
    with np.errstate(divide="ignore"):
        out = (x.log() * 1.0).sum()  # log(0) = -inf
    graph = viz.draw_graph(out, {"x": x})
    red = viz.STYLES["nonfinite"]["fillcolor"]
    labels = node_labels(graph)
    red_nodes = {labels[node].split("\n")[0] for node in labels if red in node_line(graph, node)}
    # log made the -inf, mul and sum carried it, and the output holds it; x itself is finite.
    assert {"log", "mul", "sum", "output"} <= red_nodes
    assert "x" not in red_nodes
    with np.errstate(invalid="ignore", divide="ignore"):
        out.backward()
    assert not np.isfinite(x.grad.data).all()
    after = viz.draw_graph(out, {"x": x}, show_grads=True)
    x_node = next(n for n, label in node_labels(after).items() if label.startswith("x\n"))
    assert red in node_line(after, x_node)


def test_values_and_gradient_norms_on_request():
    w = tg.tensor([3.0, 4.0], requires_grad=True)
    loss = (w * 1.0).sum()
    before = viz.draw_graph(loss, {"w": w}, show_values=True, show_grads=True)
    assert "[3., 4.]" in before.source
    assert "grad: none" in before.source
    loss.backward()
    after = viz.draw_graph(loss, {"w": w}, show_grads=True)
    assert f"|grad| = {np.sqrt(2):.4g}" in after.source


def test_drawing_does_not_change_the_graph_and_works_after_backward():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    loss = (w.tanh() * w).sum()
    before = viz.draw_graph(loss, {"w": w}).source
    assert viz.draw_graph(loss, {"w": w}).source == before
    loss.backward()
    expected = 1 - np.tanh(w.data) ** 2
    np.testing.assert_allclose(w.grad.data, expected * w.data + np.tanh(w.data))
    assert viz.draw_graph(loss, {"w": w}).source == before
    assert w.grad is not None and loss.grad is None


def test_several_outputs():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    graph = viz.draw_graph([x.exp().sum(), x.sum()])
    labels = node_labels(graph)
    assert {"out0", "out1"} <= set(labels)
    assert labels["out0"].startswith("output 0")
    # The leaf is shared, not drawn twice.
    assert sum(node.startswith("leaf") for node in labels) == 1


def test_max_nodes_truncates_with_a_visible_note():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x
    for _ in range(50):
        y = y.tanh()
    graph = viz.draw_graph(y.sum(), max_nodes=10)
    labels = node_labels(graph)
    assert sum(node.startswith("op") for node in labels) == 10
    assert "41 more op(s) not drawn (max_nodes=10)" in labels["truncated"]
    assert ("truncated", "op9") in edge_pairs(graph)


@pytest.mark.parametrize(
    ("argument", "error"),
    [({"max_nodes": 0}, ValueError), ({"rankdir": "up"}, ValueError), ({"params": [1]}, TypeError)],
)
def test_bad_arguments_are_clear_errors(argument, error):
    x = tg.tensor([1.0], requires_grad=True)
    with pytest.raises(error, match="draw_graph"):
        viz.draw_graph(x * 2, **argument)


def test_not_a_tensor_is_a_clear_error():
    with pytest.raises(TypeError, match="output 0 is a ndarray"):
        viz.draw_graph(np.ones(2))


def test_save_dot_source_needs_no_graphviz(tmp_path):
    x = tg.tensor([1.0], requires_grad=True)
    path = viz.save(x.exp(), tmp_path / "graph.dot")
    assert path.read_text().startswith("digraph")
    with pytest.raises(ValueError, match=r"\.svg, \.png, \.pdf or \.dot"):
        viz.save(x.exp(), tmp_path / "graph.jpeg")


def test_save_without_dot_writes_source_and_warns_with_install_hint(tmp_path, monkeypatch):
    monkeypatch.setattr(viz.graph.shutil, "which", lambda name: None)
    x = tg.tensor([1.0], requires_grad=True)
    with pytest.warns(viz.GraphvizMissingWarning, match="apt-get install graphviz"):
        written = viz.save(x.exp(), tmp_path / "graph.svg")
    assert written == tmp_path / "graph.dot"
    assert "exp" in written.read_text()
    assert not (tmp_path / "graph.svg").exists()


def test_real_svg_render_of_the_two_moons_model(tmp_path):
    """Renders with Graphviz's dot, which the test setup installs: fails rather than skips."""
    assert viz.dot_available(), f"Graphviz's dot is missing; {viz.INSTALL_HINT}"
    model = TwoMoonsNet()
    points, labels = tg.data.two_moons(20)
    loss = F.cross_entropy(model(tg.tensor(points)), labels)
    path = viz.save(loss, tmp_path / "two_moons.svg", params=model)
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    texts = {node.text for node in root.iter() if node.tag.endswith("text")}
    for expected in ("hidden: Linear(2 -> 5)", "hidden.weight", "cross_entropy", "tanh", "linear"):
        assert expected in texts


def test_tensor_shows_its_graph_in_jupyter():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    leaf_bundle = x._repr_mimebundle_()
    assert leaf_bundle == {"text/plain": repr(x)}
    bundle = (x * 2).sum()._repr_mimebundle_()
    assert bundle["text/plain"].startswith("Tensor(6.")
    assert ("image/svg+xml" in bundle) == viz.dot_available()

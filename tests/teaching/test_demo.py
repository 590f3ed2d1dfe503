"""``python -m tinygrad_ann demo``: the table, the training runs and the pictures."""

import math
import sys
import xml.etree.ElementTree as ET

import pytest

from tinygrad_ann import __main__ as cli
from tinygrad_ann import viz
from tinygrad_ann.teaching import demo


@pytest.fixture(scope="module")
def quick_demo(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("demo-out")
    lines: list[str] = []
    result = demo.run(out_dir, quick=True, echo=lines.append)
    return result, "\n".join(lines), out_dir


def test_demo_prints_the_derivation_table_with_verdicts(quick_demo):
    result, text, _ = quick_demo
    assert "max |diff|" in text and "verdict" in text
    assert len(result.derivations) >= 5
    for row in result.derivations:
        assert row.article in text and row.verdict in text


def test_demo_trains_every_article_network_and_reports_accuracy(quick_demo):
    result, text, _ = quick_demo
    names = [run.name for run in result.runs]
    assert len(names) == 4 + len(demo.HIDDEN_SIZES)
    assert "final training accuracy" in text
    for run in result.runs:
        assert run.name in text
        assert 0.0 <= run.accuracy <= 1.0
        assert len(run.losses) >= 2
    assert "loss" in text and "epoch" in text


def test_demo_trains_the_perceptron_compiled_to_the_same_losses_and_prints_both_times(
    quick_demo,
):
    result, text, _ = quick_demo
    assert result.compiled is not None
    assert result.compiled.losses == result.runs[0].losses
    assert "compiled with tg.compile" in text
    assert "the same losses, bit for bit: True" in text
    assert f"compiled {result.compiled.seconds:.2f} s" in text


def test_demo_writes_the_plots_and_a_graph_that_parses(quick_demo):
    result, _, out_dir = quick_demo
    for name in ("decision_boundary", "loss_curve"):
        assert result.files[name].read_bytes().startswith(b"\x89PNG")
    graph = result.files["graph"]
    assert graph.parent == out_dir
    assert viz.dot_available(), f"Graphviz's dot is missing; {viz.INSTALL_HINT}"
    texts = {n.text for n in ET.parse(graph).getroot().iter() if n.tag.endswith("text")}
    assert {"hidden: Linear(2 -> 3)", "output: Linear(3 -> 2)", "hidden.weight"} <= texts


def test_demo_without_matplotlib_or_dot_says_what_it_skipped(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    monkeypatch.setattr(viz.graph.shutil, "which", lambda name: None)
    monkeypatch.setattr(demo, "HIDDEN_SIZES", (3,))
    lines: list[str] = []
    result = demo.run(tmp_path, quick=True, echo=lines.append)
    text = "\n".join(lines)
    assert "matplotlib is not installed" in text
    assert "apt-get install graphviz" in text
    # The backprop page is still written, with its step panel but no graph picture.
    assert result.files == {
        "graph": tmp_path / "two_moons_graph.dot",
        "backprop": tmp_path / "backprop_two_layer.html",
        "cnn_graph": tmp_path / "digits_cnn_graph.dot",
    }
    assert result.files["graph"].read_text().startswith("digraph")
    assert "<svg" not in result.files["backprop"].read_text(encoding="utf-8")
    assert len(result.skipped) == 5  # plots, two SVGs, the page's picture, the CNN's filters


def test_demo_labels_each_two_moons_block_with_its_hidden_size(quick_demo):
    _, text, _ = quick_demo
    lines = text.splitlines()
    for hidden_size in demo.HIDDEN_SIZES:
        label = lines.index(f"   hidden size {hidden_size}")
        assert "epoch" in lines[label + 1] and "loss" in lines[label + 1]


def test_demo_writes_the_backprop_page_and_prints_its_first_steps(quick_demo):
    result, text, out_dir = quick_demo
    page = result.files["backprop"]
    assert page == out_dir / "backprop_two_layer.html"
    assert "<svg" in page.read_text(encoding="utf-8")
    assert "4. Backpropagation step by step" in text
    assert "1     mse_loss" in text and "2     sigmoid₂" in text
    assert "more op(s), then the leaves' .grad" in text


def test_demo_trains_a_cnn_and_draws_its_filters_and_graph(quick_demo):
    result, text, out_dir = quick_demo
    assert "5. Beyond the MLP: a small CNN on the 8x8 digits" in text
    accuracy = float(text.split("test accuracy ")[1].split("%")[0])
    assert accuracy > 80  # two quick epochs; examples/digits_cnn.py trains to 99.5%
    assert result.files["cnn_filters"] == out_dir / "digits_cnn_filters.png"
    assert result.files["cnn_filters"].read_bytes().startswith(b"\x89PNG")
    texts = {
        n.text
        for n in ET.parse(result.files["cnn_graph"]).getroot().iter()
        if n.tag.endswith("text")
    }
    assert any(t and t.startswith("0: Conv2d") for t in texts), sorted(t for t in texts if t)[:20]


def test_full_length_training_reaches_the_articles_results():
    lines: list[str] = []
    perceptron = demo.train_perceptron(20_000, lines.append)
    and_gate = demo.train_and_gate(1_000, lines.append)
    two_layer = demo.train_two_layer(1_500, lines.append)
    assert perceptron.accuracy == 1.0
    assert and_gate.accuracy == 1.0
    assert two_layer.accuracy == 1.0
    for run in (perceptron, and_gate, two_layer):
        assert run.losses[-1] < run.losses[0] / 5


def test_command_line_runs_the_demo(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(demo, "HIDDEN_SIZES", (3,))
    assert cli.main(["demo", "--quick", "--out", str(tmp_path / "pictures")]) == 0
    printed = capsys.readouterr().out
    assert "tinygrad_ann demo" in printed
    assert (tmp_path / "pictures").is_dir()


def test_demo_trains_both_character_models_in_their_quick_form(quick_demo):
    result, text, _ = quick_demo
    assert set(result.character_models) == {"char_lstm", "char_transformer"}
    uniform = math.log2(142)  # the corpus's distinct characters
    assert all(0 < bits < uniform for bits in result.character_models.values())
    assert "examples/char_transformer.py --quick" in text
    assert "    final validation" in text and "    sample (temperature 0.8):" in text


def test_demo_without_the_examples_says_it_skipped_the_character_models(monkeypatch):
    lines: list[str] = []
    result = demo.DemoResult([], [])
    monkeypatch.setattr(demo, "__file__", "/nowhere/tinygrad_ann/teaching/demo.py")
    demo._character_models(True, result, lines.append)
    assert result.character_models == {}
    assert result.skipped == ["the character models (examples/ is not in this installation)"]
    assert "run the demo from a checkout" in lines[0]

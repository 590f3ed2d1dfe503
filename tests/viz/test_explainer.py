"""tg.viz.explain: the backward pass step by step, as a page and as a table."""

import html
import inspect
import re
import warnings

import numpy as np
import pytest
from custom_ops import Cube

import tinygrad_ann as tg
from tinygrad_ann import autograd, nn, ops, viz
from tinygrad_ann.viz import explainer

SECTION = re.compile(
    r'<section class="step" id="step-(\d+)" data-step="\d+" data-op="([^"]*)" '
    r'data-node="([^"]*)" data-receivers="([^"]*)" hidden>(.*?)</section>',
    re.DOTALL,
)
VALUE = re.compile(r'<span class="value">(.*?)</span>', re.DOTALL)
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def sections(page: str) -> list[dict]:
    found = []
    for number, op, node, receivers, body in SECTION.findall(page):
        values = [
            np.array([float(n) for n in NUMBER.findall(html.unescape(text))])
            for text in VALUE.findall(body)
        ]
        found.append(
            {
                "number": int(number),
                "op": op,
                "node": node,
                "receivers": receivers.split(),
                "body": html.unescape(body),
                "values": values,
            }
        )
    return found


# Every primitive op class: the Function subclasses of ops.py that name an op.
OPS_BY_NAME = {
    vars(cls)["name"]: cls
    for _, cls in inspect.getmembers(ops, inspect.isclass)
    if issubclass(cls, tg.Function) and cls.__module__ == ops.__name__ and "name" in vars(cls)
}


def shown(array) -> str:
    """An array as the page rounds it: 4 significant digits."""
    return "[" + ", ".join(f"{v:.4g}" for v in np.ravel(array)) + "]"


def small_net():
    """h = tanh(w x) feeds two ops, so its gradient is a sum of two contributions."""
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    w = tg.tensor([0.5, -1.0], requires_grad=True)
    h = (w * x).tanh()
    loss = (h * 2.0 + h.exp()).sum()
    return loss, w, x


def hand_steps(w: np.ndarray, x: np.ndarray):
    """The VJPs of small_net worked out by hand: (op, upstream, gradients sent), in order.

    Recorded forward: mul₁ (w x), tanh, mul₂ (h · 2), exp, add, sum. Backward
    pops the most recent op whose consumers are all done, so exp runs before mul₂.
    """
    h = np.tanh(w * x)
    ones = np.ones(2)
    through_tanh = (np.exp(h) + 2.0) * (1 - h**2)
    return [
        ("sum", np.array(1.0), [ones]),
        ("add", ones, [ones, ones]),
        ("exp", ones, [np.exp(h)]),
        ("mul", ones, [2 * ones]),  # the constant 2 gets nothing
        ("tanh", np.exp(h) + 2.0, [through_tanh]),
        ("mul", through_tanh, [through_tanh * x, through_tanh * w]),
    ]


def engine_order(loss: tg.Tensor) -> list[str]:
    seen: list[str] = []
    with autograd.observe_backward(lambda ctx, *_: seen.append(ctx.op_name())):
        loss.backward()
    return seen


def test_every_primitive_op_class_has_a_formula():
    classes = OPS_BY_NAME.values()
    assert len(classes) >= 35
    for cls in classes:
        formula = vars(cls).get("formula")
        assert isinstance(formula, str) and formula.startswith("∂"), cls.__name__
    assert tg.Function.formula is None


def test_page_steps_follow_the_engine_with_the_hand_computed_values(tmp_path):
    loss, w, x = small_net()
    w0, x0 = w.data.copy(), x.data.copy()
    page = viz.explain(loss, tmp_path / "page.html", params={"w": w}).read_text(encoding="utf-8")
    found = sections(page)
    expected = hand_steps(w0, x0)

    assert [s["op"] for s in found] == [op for op, _, _ in expected] + [""]
    assert [s["op"] for s in found[:-1]] == engine_order(small_net()[0])
    for section, (op, upstream, sent) in zip(found, expected):
        assert f"Step {section['number']} of 7" in section["body"]
        # The first value is the upstream gradient, then one per gradient sent (a sum
        # line, where there is one, is not a value).
        np.testing.assert_allclose(section["values"][0], np.ravel(upstream), rtol=1e-3)
        assert len(section["values"]) == 1 + len(sent), op
        for value, hand in zip(section["values"][1:], sent):
            np.testing.assert_allclose(value, np.ravel(hand), rtol=1e-3)

    h = np.tanh(w0 * x0)
    # Step 4 (mul₂) brings tanh's second contribution: the page adds them up there.
    sum_line = (
        f"∂tanh = {shown(np.exp(h))} (from exp as x) + {shown([2, 2])} (from mul₂ as a) "
        f"= {shown(np.exp(h) + 2)}"
    )
    assert sum_line in found[3]["body"]
    assert "a constant, no gradient" in found[3]["body"]
    assert "from exp as x, from mul₂ as a" in found[4]["body"]

    leaves = found[-1]
    assert "w.grad" in leaves["body"] and "input.grad" in leaves["body"]
    np.testing.assert_allclose(leaves["values"][0], w.grad.data, rtol=1e-3)
    np.testing.assert_allclose(leaves["values"][1], x.grad.data, rtol=1e-3)


def test_trace_holds_the_exact_vjps_and_formulas():
    loss, w, x = small_net()
    w0, x0 = w.data.copy(), x.data.copy()
    steps = explainer.trace(loss, {"w": w}, draw=False)
    for step, (op, upstream, sent) in zip(steps.steps, hand_steps(w0, x0), strict=True):
        assert step.op_name == op
        assert step.formula == OPS_BY_NAME[op].formula
        np.testing.assert_allclose(step.upstream, upstream, rtol=1e-12)
        values = [s.value for s in step.sent if s.value is not None]
        for value, hand in zip(values, sent, strict=True):
            np.testing.assert_allclose(value, hand, rtol=1e-12)
    assert [s.op for s in steps.steps] == ["sum", "add", "exp", "mul₂", "tanh", "mul₁"]
    tanh_step = steps.steps[4]
    assert [part.source for part in tanh_step.upstream_parts] == ["exp", "mul₂"]
    assert not tanh_step.hooked


def test_page_highlights_the_drawn_nodes_of_each_op(tmp_path):
    loss, w, _ = small_net()
    _, ids = viz.graph._draw(loss, {"w": w})
    page = viz.explain(loss, tmp_path / "page.html", params={"w": w}).read_text(encoding="utf-8")
    titles = dict(
        re.findall(r'<g id="node\d+" class="node">\s*<title>(\w+)</title>(.*?)</g>', page, re.S)
    )
    for section in sections(page)[:-1]:
        label = re.search(r"<text[^>]*>([^<]*)</text>", titles[section["node"]]).group(1)
        assert label == section["op"]
        for receiver in section["receivers"]:
            assert receiver in titles
    final = sections(page)[-1]
    assert sorted(final["receivers"]) == sorted(v for v in ids.values() if v.startswith("leaf"))


def test_explain_accumulates_into_grad_like_backward(tmp_path):
    loss, w, x = small_net()
    reference, w_ref, x_ref = small_net()
    reference.backward()
    viz.explain(loss, tmp_path / "page.html")
    np.testing.assert_array_equal(w.grad.data, w_ref.grad.data)
    np.testing.assert_array_equal(x.grad.data, x_ref.grad.data)

    again, w2, _ = small_net()
    # Leaves whose .grad is already set: this pass adds to it.
    w2.grad = tg.tensor([10.0, 10.0])
    text = viz.explain(again, format="text")
    np.testing.assert_allclose(w2.grad.data, 10.0 + w_ref.grad.data)
    assert "(.grad before)" in text and "(this pass)" in text


def test_graph_is_freed_unless_retain_graph(tmp_path):
    loss, _, _ = small_net()
    viz.explain(loss, tmp_path / "a.html", retain_graph=True)
    viz.explain(loss, tmp_path / "b.html")
    with pytest.raises(RuntimeError, match="second time"):
        viz.explain(loss, tmp_path / "c.html")
    assert not (tmp_path / "c.html").exists()


def test_text_format_prints_and_returns_the_table_and_writes_nothing(tmp_path, capsys):
    loss, w, _ = small_net()
    text = viz.explain(loss, tmp_path / "unused.html", {"w": w}, "text")
    assert capsys.readouterr().out == text + "\n"
    assert not (tmp_path / "unused.html").exists()
    lines = text.splitlines()
    assert lines[1].split() == ["step", "op", "formula", "gradients"]
    starts = [line.split()[:2] for line in lines[3:] if line[:1].isdigit()]
    assert starts == [
        ["1", "sum"],
        ["2", "add"],
        ["3", "exp"],
        ["4", "mul₂"],
        ["5", "tanh"],
        ["6", "mul₁"],
        ["7", "leaves"],
    ]
    assert "∂tanh = " in text and "(from exp as x) + " in text
    assert re.search(r"^5 +tanh +∂x = ∂y · \(1 - y²\) ", text, re.M)


def test_custom_function_is_shown_by_name_as_a_custom_op(tmp_path):
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    page = viz.explain(Cube.apply(x).sum(), tmp_path / "cube.html").read_text(encoding="utf-8")
    cube = sections(page)[1]
    assert cube["op"] == "Cube"
    assert "<code>custom op</code>" in cube["body"]
    np.testing.assert_allclose(cube["values"][1], [3.0, 12.0])


def test_large_tensors_are_shown_by_shape_and_norm(tmp_path):
    w = tg.tensor(np.full((5, 4), 0.5), requires_grad=True)
    text = viz.explain((w * w).sum(), format="text")
    assert f"∂x → mul: shape (5, 4), norm {np.sqrt(20):.4g}" in text  # sum's ones


def test_module_clusters_and_parameter_names_are_on_the_page(tmp_path):
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 2))
    points, labels = tg.data.two_moons(8)
    loss = tg.functional.cross_entropy(model(tg.tensor(points)), labels)
    page = viz.explain(loss, tmp_path / "m.html", params=model).read_text(encoding="utf-8")
    texts = {html.unescape(text) for text in re.findall(r"<text[^>]*>([^<]*)</text>", page)}
    assert {"Sequential()", "0: Linear(2 -> 3)", "1: Tanh()", "0.weight"} <= texts
    found = sections(page)
    assert found[0]["op"] == "cross_entropy"
    assert "∂z = ∂y · (softmax(z) - onehot(t)) / N" in found[0]["body"]
    assert "0.weight.grad" in found[-1]["body"]


def test_page_is_self_contained(tmp_path):
    loss, w, _ = small_net()
    page = viz.explain(loss, tmp_path / "page.html", params={"w": w}).read_text(encoding="utf-8")
    assert "<svg" in page and "<script>" in page and "<style>" in page
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert not re.search(r"<script[^>]+src|<link|@import|url\(|<iframe|<img", page, re.I)
    # The only URLs are the SVG namespace names, which are never fetched.
    for match in re.finditer(r"https?://", page):
        assert page[: match.start()].rstrip().endswith(('xmlns="', 'xmlns:xlink="'))
    assert "<!DOCTYPE svg" not in page and "<?xml" not in page


def test_without_dot_the_page_has_no_picture_and_says_why(tmp_path, monkeypatch):
    monkeypatch.setattr(viz.graph.shutil, "which", lambda name: None)
    loss, _, _ = small_net()
    with pytest.warns(viz.GraphvizMissingWarning, match="apt-get install graphviz"):
        page = viz.explain(loss, tmp_path / "page.html").read_text(encoding="utf-8")
    assert "<svg" not in page and "apt-get install graphviz" in page
    assert len(sections(page)) == 7


def test_a_gradient_hook_that_replaces_the_sum_is_pointed_out():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3.0
    h.register_hook(lambda grad: grad * 0.0)
    steps = explainer.trace((h + h).sum(), draw=False)
    mul = steps.steps[-1]
    assert mul.hooked and [part.source for part in mul.upstream_parts] == ["add", "add"]
    assert "a gradient hook replaced it" in steps.text()


def test_gradient_for_a_non_scalar_loss():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        text = viz.explain(x * x, format="text", gradient=np.array([1.0, 0.5]))
    assert "∂y = ∂loss = [1, 0.5] (the start of backward)" in text
    np.testing.assert_allclose(x.grad.data, [2.0, 2.0])


@pytest.mark.parametrize(
    ("make_loss", "error", "message"),
    [
        (lambda x: x * 2, RuntimeError, r"shape \(2,\).*loss\.sum\(\)"),
        (lambda x: x, RuntimeError, "no recorded graph"),
        (lambda x: x.detach().sum(), RuntimeError, "no recorded graph"),
        (lambda x: x.data, TypeError, "must be a Tensor"),
    ],
)
def test_clear_errors(tmp_path, make_loss, error, message):
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(error, match=message):
        viz.explain(make_loss(x), tmp_path / "page.html")
    assert not (tmp_path / "page.html").exists()


def test_unknown_format_is_an_error_and_leaves_the_graph_alone(tmp_path):
    loss, w, _ = small_net()
    with pytest.raises(ValueError, match="format must be 'html' or 'text', got 'svg'"):
        viz.explain(loss, tmp_path / "page.svg", format="svg")
    assert w.grad is None
    loss.backward()  # not consumed by the failed call

"""``tg.viz.draw_plan``: a ``tg.compile`` plan drawn, forward and backward, rendered by dot."""

import xml.etree.ElementTree as ET

import numpy as np
import pytest

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import nn


def compiled_mlp():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    step = tg.compile(lambda x, y: F.cross_entropy(model(x), y))
    step(np.ones((2, 4)), np.array([0, 2]))
    return step


def texts_of(svg: bytes) -> list[str]:
    root = ET.fromstring(svg)
    return [element.text for element in root.iter() if element.tag.endswith("text")]


def test_the_plan_renders_as_svg_with_every_op_and_vjp(tmp_path):
    path = tg.viz.save(tg.viz.draw_plan(compiled_mlp()), tmp_path / "plan.svg")
    texts = texts_of(path.read_bytes())
    for expected in (
        "t0 = linear",
        "t1 = tanh",
        "t3 = cross_entropy",
        "cross_entropy.backward",
        "tanh.backward",
        "g_e0",
        "into .grad",
        "parameter",
        "argument",
    ):
        assert any(text and expected in text for text in texts), expected
    assert sum(text == "linear.backward" for text in texts) == 2


def test_the_edges_follow_the_gradients():
    source = tg.viz.draw_plan(compiled_mlp()).source
    assert "g_t3 -> vjp_3 [label=g_t3]" in source
    assert "vjp_2 -> vjp_1 [label=g_t1]" in source
    assert "vjp_0 -> grad_e0 [label=g_e0]" in source


def test_a_hostile_op_name_is_drawn_as_text(tmp_path):
    class Hostile(tg.Function):
        name = 'x<b>"</b>\x00&amp;'

        @staticmethod
        def forward(ctx, a):
            return a * 2.0

        @staticmethod
        def backward(ctx, grad):
            return grad * 2.0

    w = tg.tensor([1.0, 2.0], requires_grad=True)
    step = tg.compile(lambda x: Hostile.apply(x * w).sum())
    step(tg.ones(2))
    path = tg.viz.save(tg.viz.draw_plan(step), tmp_path / "plan.svg")
    texts = [text for text in texts_of(path.read_bytes()) if text]
    assert any('x<b>"</b>' in text and "&amp;" in text for text in texts)


def test_drawing_needs_a_compiled_function_with_a_plan():
    with pytest.raises(TypeError, match="expected a compiled function"):
        tg.viz.draw_plan(lambda x: x)
    with pytest.raises(tg.CompileError, match="nothing recorded"):
        tg.viz.draw_plan(tg.compile(lambda x: x.sum()))

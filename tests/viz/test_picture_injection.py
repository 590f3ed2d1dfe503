"""Hostile names reach Graphviz and the explainer page as text, never as markup or syntax.

Op names (a custom Function's ``name``), parameter names (ParameterDict keys, dict
keys given as ``params``), module names (ModuleDict keys), module class names and
reprs are all the user's: a name must not make ``dot`` fail, put a link or a script
into the SVG or the page, or show as something other than itself.
"""

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import numpy as np
import pytest

import tinygrad_ann as tg
from tinygrad_ann import nn, viz
from tinygrad_ann.viz.page import _SCRIPT

HOSTILE = {
    "less_than": "a<b",
    "greater_than": "a>b",
    "ampersand": "a&b",
    "entities": "&amp;&lt;&#60;",
    "double_quote": 'a"b',
    "single_quote": "a'b",
    "backslash": "a\\b",
    "trailing_backslash": "name\\",
    "escaped_quote": 'a\\"b\\',
    "newline": "a\nb",
    "carriage_return": "a\rb",
    "tab": "a\tb",
    "nul": "a\x00b",
    "delete": "a\x7fb",
    "escape_sequence": "a\x1b[31mb\x01",
    "cdata_end": "]]>",
    "comment": "<!--",
    "script_end": "</script><script>alert(1)</script>",
    "bold_markup": "<B>x</B>",
    "bold_html_label": "<<B>x</B>>",
    "table_link": '<TABLE><TR><TD HREF="javascript:alert(1)">x</TD></TR></TABLE>',
    "table_link_html_label": '<<TABLE><TR><TD HREF="javascript:alert(1)">x</TD></TR></TABLE>>',
    "event_handler": '<img src=x onerror="alert(1)">',
    "javascript_url": "javascript:alert(1)",
    "node_name_escape": "\\N",
    "graph_name_escape": "\\G",
    "left_justify_escape": "a\\lb",
    "record": "{a|b}",
    "long": ("abcdefghij" * 1000)[:10_000],
    "micro": "µ",
    "emoji": "😀",
    "lone_surrogate": "a\ud800b",
    "line_separators": "a\u2028b\u2029c",
    "right_to_left_override": "a\u202eb",
    "noncharacter": "a\ufffeb",
}

# What cannot be shown as itself: XML 1.0 forbids most of it, dot rejects NUL, and the
# rest draws nothing or reorders the text around it.
HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]")
# A longer line of a label is shortened in the middle: dot fails on too wide a node.
LONG = viz.LINE_CHARACTERS


def pieces(name: str) -> list[str]:
    """The runs of ``name`` that must appear literally wherever it is shown."""
    return [piece for piece in HIDDEN.split(name) if piece]


def assert_shows(text: str, name: str, *, whole: bool = True) -> None:
    """``text`` shows ``name``: its printable runs in order, and no raw hidden character.

    ``whole=False`` (a picture) allows a run longer than ``LONG`` to lose its middle.
    """
    assert not HIDDEN.search(text), f"a raw control character in {text[:200]!r}"
    at = 0
    for piece in pieces(name):
        if whole or len(piece) <= LONG:
            found = text.find(piece, at)
            assert found >= 0, f"{piece[:80]!r} is not shown in {text[:300]!r}"
            at = found + len(piece)
        else:
            assert piece[:400] in text and piece[-400:] in text
            assert "characters left out" in text
    if HIDDEN.search(name):
        # Each hidden character is replaced by something visible, not dropped.
        assert len(text) > sum(map(len, pieces(name)))


def is_javascript(value: str) -> bool:
    # Browsers ignore control characters and spaces anywhere in a URL's scheme.
    return re.sub(r"[\x00-\x20]", "", value).lower().startswith("javascript:")


def local(name: str) -> str:
    return name.rpartition("}")[2]


def check_svg(svg: str) -> ET.Element:
    """The SVG parses as XML and holds no script, link, event handler or javascript: URL."""
    root = ET.fromstring(svg)
    assert "<script" not in svg.lower()
    for element in root.iter():
        assert local(element.tag) not in ("script", "a", "foreignObject")
        for attribute, value in element.attrib.items():
            assert not local(attribute).lower().startswith("on"), attribute
            assert local(attribute).lower() != "href", attribute
            assert not is_javascript(value), (attribute, value)
    return root


def node_texts(root: ET.Element) -> dict[str, list[str]]:
    """Node or cluster id (its <title>) -> the lines of its label."""
    found = {}
    for group in root.iter():
        if local(group.tag) != "g" or group.get("class") not in ("node", "cluster"):
            continue
        title = next(child for child in group if local(child.tag) == "title")
        lines = [child.text or "" for child in group if local(child.tag) == "text"]
        found[title.text] = lines
    return found


def hostile_op(name: str) -> type[tg.Function]:
    def forward(ctx, x):
        return x * 2.0

    def backward(ctx, grad):
        return grad * 2.0

    return type(
        "HostileOp",
        (tg.Function,),
        {"name": name, "forward": staticmethod(forward), "backward": staticmethod(backward)},
    )


def hostile_model(name: str) -> nn.Module:
    """A module whose class name and repr are ``name``, holding ``name`` as keys below it."""
    op = hostile_op(name)

    class Inner(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scales = nn.ParameterDict({name: np.array([1.0, 2.0])})

        def forward(self, x):
            return op.apply(x * self.scales[name])

    def init(self) -> None:
        nn.Module.__init__(self)
        self.blocks = nn.ModuleDict({name: Inner()})

    def forward(self, x):
        return self.blocks[name](x).sum()

    namespace = {"__init__": init, "forward": forward, "extra_repr": lambda self: name}
    return type(class_name(name), (nn.Module,), namespace)()


def class_name(name: str) -> str:
    """``name`` as a class name, when Python takes it (no NUL, no lone surrogate)."""
    try:
        type(name, (), {})
    except (ValueError, UnicodeEncodeError):
        return "Hostile"
    return name


def hostile_graph(name: str):
    model = hostile_model(name)
    x = tg.tensor([3.0, -1.0], requires_grad=True)
    return model(x), model


@pytest.fixture(autouse=True)
def _real_dot():
    # Rendering is the point: without dot these tests fail rather than skip.
    assert viz.dot_available(), f"Graphviz's dot is missing; {viz.INSTALL_HINT}"


@pytest.mark.parametrize("name", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_names_render_as_text_in_the_svg_and_the_dot_source(name, tmp_path):
    loss, model = hostile_graph(name)
    svg_path = viz.save(loss, tmp_path / "graph.svg", params=model)
    root = check_svg(svg_path.read_text(encoding="utf-8"))

    _, ids = viz.graph._draw(loss, model)
    texts = node_texts(root)
    inner = model.blocks[name]
    op_ctx = loss._ctx.parents[0]._ctx
    assert len(texts[ids[id(op_ctx)]]) == 1
    assert_shows(texts[ids[id(op_ctx)]][0], name, whole=False)
    parameter = inner.scales[name]
    assert_shows(texts[ids[id(parameter)]][0], f"blocks.{name}.scales.{name}", whole=False)
    # The model's cluster holds its block's.
    assert sorted(node for node in texts if node.startswith("cluster")) == [
        "cluster_0",
        "cluster_1",
    ]
    assert len(texts["cluster_0"]) == len(texts["cluster_1"]) == 1
    assert_shows(texts["cluster_0"][0], f"{class_name(name)}({name})", whole=False)
    assert_shows(texts["cluster_1"][0], f"blocks.{name}: Inner()", whole=False)

    dot_path = viz.save(loss, tmp_path / "graph.dot", params=model)
    rendered = subprocess.run(
        [shutil.which("dot"), "-Tsvg", str(dot_path)], capture_output=True, check=True
    )
    assert rendered.stdout == svg_path.read_bytes()


@pytest.mark.parametrize("name", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_names_given_as_a_params_dict(name, tmp_path):
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    loss = hostile_op(name).apply(w).sum()
    graph, ids = viz.graph._draw(loss, {name: w})
    root = check_svg(graph.pipe(format="svg").decode("utf-8"))
    texts = node_texts(root)
    assert_shows(texts[ids[id(w)]][0], name, whole=False)
    assert_shows(texts[ids[id(loss._ctx.parents[0]._ctx)]][0], name, whole=False)
    viz.save(loss, tmp_path / "graph.png", params={name: w})
    viz.save(loss, tmp_path / "graph.pdf", params={name: w})


def test_names_differing_only_in_a_hidden_character_are_told_apart():
    names = ["ab", "a\x00b", "a\x01b", "a\nb", "a\rb", "a\ud800b", "a\udc00b"]
    x = tg.tensor([1.0], requires_grad=True)
    outputs = [hostile_op(name).apply(x) for name in names]
    graph, ids = viz.graph._draw(outputs)
    texts = node_texts(check_svg(graph.pipe(format="svg").decode("utf-8")))
    shown = [texts[ids[id(out._ctx)]][0] for out in outputs]
    assert len(set(shown)) == len(names)


def test_normal_names_are_drawn_as_before():
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh())
    loss = model(tg.ones(1, 2)).sum()
    source = viz.draw_graph(loss, model).source
    assert "\top0 [label=sum " in source
    assert 'label="0.weight\n(3, 2) float64"' in source
    assert 'label="0: Linear(2 -> 3)"' in source
    assert 'label="Sequential()"' in source


def test_a_label_too_long_for_dot_is_shortened_in_the_middle_and_says_so():
    # dot rejects a quoted string longer than about 16,000 bytes; & costs 5 in DOT.
    name = "start" + "&" * 20_000 + "end"
    x = tg.tensor([1.0], requires_grad=True)
    loss = hostile_op(name).apply(x)
    graph, ids = viz.graph._draw(loss)
    texts = node_texts(check_svg(graph.pipe(format="svg").decode("utf-8")))
    label = texts[ids[id(loss._ctx)]][0]
    assert label.startswith("start&&&") and label.endswith("&&&end")
    assert "characters left out" in label


class PageParser(HTMLParser):
    """Every element with its attributes, the scripts' text and the step list's text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.step_list: list[str] = []
        self._open: list[str] = []
        self._in_list = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.elements.append((tag, attributes))
        if tag == "script":
            self.scripts.append((attributes, ""))
        if tag == "ol" and attributes.get("id") == "step-list":
            self._in_list = 1
        elif self._in_list and tag == "li":
            self.step_list.append("")

    def handle_endtag(self, tag):
        if tag == "ol":
            self._in_list = 0

    def handle_data(self, data):
        if self.lasttag == "script" and self.scripts and not self.scripts[-1][1]:
            self.scripts[-1] = (self.scripts[-1][0], data)
        elif self._in_list and self.step_list:
            self.step_list[-1] += data


def check_page(page: str) -> PageParser:
    parser = PageParser()
    parser.feed(page)
    parser.close()
    for tag, attributes in parser.elements:
        for attribute, value in attributes.items():
            assert not attribute.lower().startswith("on"), (tag, attribute)
            # data-* attributes hold names as inert text (the names of nodes and tensors).
            if not attribute.startswith("data-"):
                assert not is_javascript(value or ""), (tag, attribute, value)
        if tag == "a":
            assert re.fullmatch(r"#step=\d+", attributes.get("href") or ""), attributes
    # The page's own two scripts and nothing else: its data, then its code, unchanged.
    assert [attributes for attributes, _ in parser.scripts] == [
        {"type": "application/json", "id": "backprop-data"},
        {},
    ]
    assert parser.scripts[1][1] == _SCRIPT
    svg = page[page.index("<svg") : page.index("</svg>") + len("</svg>")]
    check_svg(svg)
    return parser


@pytest.mark.parametrize("name", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_names_on_the_explainer_page(name, tmp_path):
    loss, model = hostile_graph(name)
    path = viz.explain(loss, tmp_path / "page.html", model)
    page = path.read_text(encoding="utf-8")
    parser = check_page(page)

    data = json.loads(parser.scripts[0][1])
    assert [step["op_name"] for step in data["steps"]] == ["sum", name, "mul"]
    assert [leaf["name"] for leaf in data["leaves"]] == ["input", f"blocks.{name}.scales.{name}"]
    assert_shows(parser.step_list[1], name)
    ops = [attributes["data-op"] for tag, attributes in parser.elements if "data-op" in attributes]
    assert_shows(ops[1], name)
    targets = [
        attributes["data-target"]
        for _, attributes in parser.elements
        if "data-target" in attributes
    ]
    assert_shows(targets[-1], f"blocks.{name}.scales.{name}")


@pytest.mark.parametrize("name", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_names_in_the_text_table_cannot_break_its_lines_or_the_terminal(name):
    loss, model = hostile_graph(name)
    table = viz.explain(loss, params=model, format="text")
    hidden = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")
    assert not hidden.search(table), repr(hidden.search(table))
    for line in table.split("\n"):
        if line.startswith("2 "):  # the step of the hostile op
            assert viz.visible_text(name)[:40] in line
            break
    else:
        raise AssertionError(table)


def test_script_data_escapes_everything_that_ends_or_hides_a_script(tmp_path):
    name = "</script><!--<script>\u2028\u2029&"
    w = tg.tensor([1.0], requires_grad=True)
    page = viz.explain(hostile_op(name).apply(w).sum(), tmp_path / "page.html", {name: w})
    text = page.read_text(encoding="utf-8")
    data = text[text.index('id="backprop-data">') : text.index("</script>")]
    for forbidden in ("</", "<!--", "<script", "\u2028", "\u2029", "&"):
        assert forbidden not in data


# ---------------------------------------------------------------- in a real browser
BROWSER_NAMES = [
    HOSTILE[key]
    for key in (
        "script_end",
        "table_link_html_label",
        "bold_html_label",
        "event_handler",
        "javascript_url",
        "comment",
        "double_quote",
        "trailing_backslash",
        "nul",
        "newline",
        "lone_surrogate",
    )
]


def test_hostile_page_in_headless_chromium(browser, tmp_path):
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x
    for name in BROWSER_NAMES:
        y = hostile_op(name).apply(y)
    page = viz.explain(y.sum(), tmp_path / "page.html", {name: x for name in BROWSER_NAMES[:1]})
    browser.get_log("browser")  # drop what earlier pages logged
    browser.get(page.resolve().as_uri())

    hrefs = browser.execute_script(
        "return Array.from(document.querySelectorAll('a'), a => a.getAttribute('href'));"
    )
    assert hrefs and all(re.fullmatch(r"#step=\d+", href) for href in hrefs)
    handlers = browser.execute_script(
        "return Array.from(document.querySelectorAll('*')).flatMap(element =>"
        " Array.from(element.attributes, a => a.name).filter(n => /^on/i.test(n)));"
    )
    assert handlers == []
    scripts = browser.execute_script(
        "return Array.from(document.scripts, s => [s.type, s.id, s.text]);"
    )
    assert [script[:2] for script in scripts] == [["application/json", "backprop-data"], ["", ""]]
    assert scripts[1][2] == _SCRIPT
    data = json.loads(scripts[0][2])
    assert [step["op_name"] for step in data["steps"]] == ["sum", *reversed(BROWSER_NAMES)]
    assert data["leaves"][0]["name"] == BROWSER_NAMES[0]
    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []

    listed = browser.execute_script(
        "return Array.from(document.querySelectorAll('#step-list li'), li => li.textContent);"
    )
    for shown, name in zip(listed[1:], reversed(BROWSER_NAMES)):
        assert_shows(shown, name)
    # The page's own script still runs: it shows step 1 and highlights the op's node.
    assert browser.find_element("id", "counter").text == f"Step 1 of {len(BROWSER_NAMES) + 2}"
    assert browser.find_elements("css selector", "#graph g.node.current")
    browser.find_element("id", "next").click()
    current = browser.find_element("css selector", "#graph g.node.current text")
    assert_shows(current.get_attribute("textContent"), BROWSER_NAMES[-1])

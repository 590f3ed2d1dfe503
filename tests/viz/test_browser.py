"""The demo's backprop page in a real browser: headless Chromium, driven by Selenium.

Without Chromium, its driver or Selenium the test skips with the install hint;
in CI (the ``CI`` environment variable set) it fails instead, so a runner that
lost the browser cannot pass silently.
"""

import re

import numpy as np
import pytest
from conftest import browser_missing as missing

from tinygrad_ann import viz
from tinygrad_ann.teaching import demo

NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def expected_steps():
    """Article 003's net by hand: the node each step highlights and the values it shows."""
    loss, params = demo.two_layer_example()
    _, ids = viz.graph._draw(loss, params)
    mse = loss._ctx
    sigmoid2 = mse.parents[0]._ctx
    matmul2 = sigmoid2.parents[0]._ctx
    sigmoid1 = matmul2.parents[0]._ctx
    matmul1 = sigmoid1.parents[0]._ctx
    W1, W2 = params["W1"].data, params["W2"].data
    x, y = np.array([[0.0, 1.0, 1.0]]), np.array([[1.0]])
    layer1 = sigmoid(x @ W1)
    out = sigmoid(layer1 @ W2)
    d_out = 2 * (out - y)  # ∂L/∂out for L = Σ (y − out)²
    d_z2 = d_out * out * (1 - out)  # the article's −δ
    d_layer1 = d_z2 @ W2.T
    d_z1 = d_layer1 * layer1 * (1 - layer1)
    leaf = {name: ids[id(tensor)] for name, tensor in params.items()}
    return {
        1: ("mse_loss", ids[id(mse)], [ids[id(sigmoid2)]], [np.ones(1), d_out]),
        2: ("sigmoid", ids[id(sigmoid2)], [ids[id(matmul2)]], [d_out, d_z2]),
        3: (
            "matmul",
            ids[id(matmul2)],
            [ids[id(sigmoid1)], leaf["W2"]],
            [d_z2, d_layer1, layer1.T @ d_z2],
        ),
        4: ("sigmoid", ids[id(sigmoid1)], [ids[id(matmul1)]], [d_layer1, d_z1]),
        5: ("matmul", ids[id(matmul1)], [leaf["W1"]], [d_z1, x.T @ d_z1]),
        6: (None, None, [leaf["W1"], leaf["W2"]], [x.T @ d_z1, layer1.T @ d_z2]),
    }


def page_state(driver) -> dict:
    """What the page shows now: the visible step, highlighted nodes and edges, numbers."""
    visible = [
        section
        for section in driver.find_elements("css selector", "section.step")
        if section.is_displayed()
    ]
    assert len(visible) == 1
    section = visible[0]

    def titles(selector: str) -> list[str]:
        return sorted(
            element.find_element("css selector", "title").get_attribute("textContent").strip()
            for element in driver.find_elements("css selector", selector)
        )

    current = driver.find_elements("css selector", "#graph g.node.current")
    values = [
        np.array([float(n) for n in NUMBER.findall(element.text)])
        for element in section.find_elements("css selector", ".value")
    ]
    return {
        "step": int(section.get_attribute("data-step")),
        "counter": driver.find_element("id", "counter").text,
        "current": titles("#graph g.node.current"),
        "current_label": [
            node.find_element("css selector", "text").get_attribute("textContent")
            for node in current
        ],
        "receivers": titles("#graph g.node.receives"),
        "downstream": titles("#graph g.edge.downstream"),
        "values": values,
        "url": driver.current_url,
    }


def check(state: dict, number: int, expected: dict) -> None:
    op, node, receivers, values = expected[number]
    assert state["step"] == number
    assert state["counter"] == f"Step {number} of 6"
    assert state["url"].endswith(f"#step={number}")
    assert state["current"] == ([] if node is None else [node])
    assert state["current_label"] == ([] if op is None else [op])
    assert state["receivers"] == sorted(receivers)
    if node is not None:
        assert state["downstream"] == sorted(f"{r}->{node}" for r in receivers)
    assert len(state["values"]) == len(values)
    for shown, computed in zip(state["values"], values):
        np.testing.assert_allclose(shown, np.ravel(computed), rtol=1e-3, atol=1e-6)


def test_demo_page_steps_with_keys_buttons_and_fragment(browser, tmp_path, record_property):
    from selenium.webdriver.common.keys import Keys

    page, _ = demo.write_backprop_page(tmp_path, echo=lambda line: None)
    url = page.resolve().as_uri()
    expected = expected_steps()

    browser.get(url)
    state = page_state(browser)
    assert state["step"] == 1 and state["current_label"] == ["mse_loss"]
    assert state["current"] == [expected[1][1]]
    body = browser.find_element("css selector", "body")

    body.send_keys(Keys.ARROW_RIGHT)
    check(page_state(browser), 2, expected)
    body.send_keys(Keys.ARROW_RIGHT)
    check(page_state(browser), 3, expected)
    screenshot = tmp_path / "backprop_step3.png"
    assert browser.save_screenshot(str(screenshot))
    assert screenshot.read_bytes().startswith(b"\x89PNG")
    record_property("saved", f"the backprop page at step 3: {screenshot}")
    body.send_keys(Keys.ARROW_LEFT)
    check(page_state(browser), 2, expected)

    browser.get(f"{url}#step=5")
    check(page_state(browser), 5, expected)
    browser.find_element("id", "next").click()
    check(page_state(browser), 6, expected)
    assert not browser.find_element("id", "next").is_enabled()
    body = browser.find_element("css selector", "body")
    body.send_keys(Keys.ARROW_RIGHT)  # the last step stays put
    check(page_state(browser), 6, expected)

    browser.get(f"{url}#step=4")  # a new fragment on the open page: no reload
    check(page_state(browser), 4, expected)
    browser.find_element("id", "prev").click()
    check(page_state(browser), 3, expected)

    browser.get(f"{url}#step=1")
    check(page_state(browser), 1, expected)


def test_a_missing_browser_skips_with_the_hint_but_fails_in_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"install-chromium\.sh"):
        missing("Chromium or chromedriver is not installed")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="apt-get install chromium chromium-driver"):
        missing("Chromium or chromedriver is not installed")
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception):
        missing("Chromium or chromedriver is not installed")

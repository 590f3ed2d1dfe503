"""The documentation site in a real browser: build/site/ (``make docs``, which
``make test`` runs before pytest) served on 127.0.0.1 and opened in headless Chromium.

Every page opened must log no console error and request nothing outside the local
server. Without the built site, or without the browser, the tests skip with the
command to run; in CI they fail instead.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "build" / "site"
NOTEBOOK = ROOT / "notebooks" / "05_two_moons.ipynb"
WAIT_SECONDS = 15


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    """The built site's address on a local server."""
    if not (SITE / "index.html").exists():
        message = f"{SITE} is not built: run `make docs`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(SITE)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _requested_urls(driver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def visit(driver, site: str, page: str) -> None:
    """Open ``page``, wait for it to load, and check it as :func:`check_clean` does."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get_log("browser")  # drop what earlier pages logged
    driver.get_log("performance")
    driver.get(site + page)
    WebDriverWait(driver, WAIT_SECONDS).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )
    urls = check_clean(driver, site, page)
    assert any(url.startswith(site) for url in urls), f"{page}: no request was logged"


def check_clean(driver, site: str, page: str) -> list[str]:
    """Since the logs were last read: no console error, nothing fetched from anywhere but
    the local server (data: URLs are part of the page itself). The requests, returned."""
    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == [], f"{page}: console errors {errors}"
    urls = _requested_urls(driver)
    outside = [url for url in urls if not url.startswith((site, "data:", "blob:", "about:"))]
    assert outside == [], f"{page}: requests leaving the machine: {outside}"
    return urls


def heading(driver) -> str:
    return driver.find_element("css selector", "article h1").text.strip("#¶ \n")


def test_home_page(browser, site, tmp_path, record_property):
    visit(browser, site, "index.html")
    assert heading(browser) == "tinygrad_ann"
    # The README's quickstart is the home page, and the navigation reaches every part.
    assert browser.find_element("id", "quickstart")
    navigation = browser.find_element("css selector", ".sidebar-tree").text
    for entry in ("Tutorial", "API reference", "Autograd from the inside"):
        assert entry.lower() in navigation.lower(), f"{entry!r} is not in the navigation"
    screenshot = tmp_path / "site_home.png"
    assert browser.save_screenshot(str(screenshot))
    assert screenshot.read_bytes().startswith(b"\x89PNG")
    record_property("saved", f"the documentation site's home page: {screenshot}")


def test_tensor_api_page(browser, site):
    visit(browser, site, "reference/tensor.html")
    assert heading(browser) == "Tensor"
    # Generated from the docstrings: the signature with its types, then the text.
    backward = browser.find_element("id", "tinygrad_ann.Tensor.backward")
    assert "retain_graph" in backward.text and "create_graph" in backward.text
    assert browser.find_element("id", "tinygrad_ann.Tensor.register_hook")


def test_notebook_page_shows_its_outputs(browser, site):
    title = nbformat.read(NOTEBOOK, as_version=4).cells[0].source.splitlines()[0][2:]
    visit(browser, site, f"notebooks/{NOTEBOOK.stem}.html")
    assert heading(browser) == title.replace("`", "").strip()  # code spans render as code
    body = browser.find_element("css selector", "article").text
    assert "Final numbers:" in body
    images = browser.find_elements("css selector", "article .cell_output img")
    assert images, "the notebook's figures are not on the page"
    for image in images:
        assert browser.execute_script("return arguments[0].naturalWidth", image) > 0


def test_explainer_page_embeds_the_steps_and_the_graph(browser, site):
    from selenium.webdriver.support.ui import WebDriverWait

    visit(browser, site, "docs/explainer.html")
    assert heading(browser) == "Backpropagation, step by step"
    graph = browser.find_element("css selector", "article img[src$='two_layer_graph.svg']")
    assert browser.execute_script("return arguments[0].naturalWidth", graph) > 0
    browser.switch_to.frame(browser.find_element("css selector", "article iframe"))
    try:
        WebDriverWait(browser, WAIT_SECONDS).until(
            lambda d: d.find_elements("css selector", "section.step")
        )
        assert browser.find_element("id", "counter").text == "Step 1 of 6"
        assert browser.find_elements("css selector", "#graph g.node.current")
    finally:
        browser.switch_to.default_content()


def test_search_finds_gradcheck(browser, site):
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    visit(browser, site, "index.html")
    box = browser.find_element("css selector", "input.sidebar-search")
    box.send_keys("gradcheck", Keys.ENTER)
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda d: d.find_elements("css selector", "#search-results a[href*='gradcheck']")
    )
    assert "search.html?q=gradcheck" in browser.current_url
    found = browser.find_elements("css selector", "#search-results a[href*='gradcheck']")
    assert any("tinygrad_ann.gradcheck" in link.get_attribute("href") for link in found)
    check_clean(browser, site, "search.html")


def test_search_shows_a_hostile_query_as_text(browser, site):
    """A query is text: markup in it is neither rendered nor run (an <img> that
    loaded would fetch x and fail in the console; an alert would be open)."""
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.support.ui import WebDriverWait

    query = "<img src=x onerror=alert(1)>\"'"
    visit(browser, site, "search.html?q=" + quote(query))
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda d: (
            "Search finished" in d.find_element("id", "search-results").text
            or d.find_elements("css selector", "#search-results p")
        )
    )
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 - reading it is the check
    assert not browser.find_elements("css selector", "#search-results img")
    check_clean(browser, site, "search.html")

"""Shared test configuration: hypothesis profiles and a clean global state per test."""

import gc
import os
import shutil

import pytest
from hypothesis import HealthCheck, settings

import tinygrad_ann as tg

# Numeric work is slow and its timing noisy, so no deadline anywhere.
# "dev" (default) keeps the suite fast; "ci" is derandomized so a red build
# always reproduces, with more examples per property.
settings.register_profile(
    "dev",
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(autouse=True)
def _restore_global_state():
    """Undo changes to tg's global settings a test may make."""
    dtype = tg.get_default_dtype()
    grad_enabled = tg.is_grad_enabled()
    yield
    tg.set_default_dtype(dtype)
    assert tg.is_grad_enabled() == grad_enabled, "a test left grad mode changed"


@pytest.fixture
def no_lock_left_behind():
    """The test must leave the saved-array guard's bookkeeping as it found it.

    Entries left behind are reported, then dropped so they cannot affect the next test.
    """
    counts = tg.autograd.SavedArrays.counts
    before = set(counts)
    yield
    gc.collect()
    left = set(counts) - before
    for key in left:
        del counts[key]
    assert not left, f"{len(left)} lock(s) outlived their graph"


BROWSER_INSTALL_HINT = (
    "run scripts/install-chromium.sh (apt-get install chromium chromium-driver) and "
    "pip install selenium (in the dev extra)"
)


def browser_missing(what: str) -> None:
    """In CI (the ``CI`` variable set) a missing browser fails the test: a runner that lost
    it must not pass silently. Elsewhere the test skips with the install hint."""
    message = f"{what}; {BROWSER_INSTALL_HINT}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium driven by Selenium, keeping the page's console and network logs."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        browser_missing("Selenium is not installed")
    binary = next(
        (
            path
            for name in ("chromium", "chromium-browser", "google-chrome")
            if (path := shutil.which(name))
        ),
        None,
    )
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        browser_missing("Chromium or chromedriver is not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1400,900",
        # Nothing a page asks for may leave the machine: every name but the local
        # server's fails to resolve (the network log still shows the attempt).
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    ):
        options.add_argument(argument)
    # The console, and the network requests (the "performance" log) of each page.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    # An explicit driver path: Selenium would otherwise try to download one.
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    try:
        yield driver
    finally:
        driver.quit()


def pytest_terminal_summary(terminalreporter):
    """Print the files tests saved for a person to look at (``record_property("saved",
    path)``): test workers' own output never reaches the terminal."""
    saved = [
        value
        for report in terminalreporter.stats.get("passed", [])
        for name, value in getattr(report, "user_properties", [])
        if name == "saved"
    ]
    for path in saved:
        terminalreporter.write_line(f"saved for a look: {path}")

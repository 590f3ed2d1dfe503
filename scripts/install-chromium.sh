#!/usr/bin/env bash
# Install Chromium and its WebDriver where we can: tests/viz/test_browser.py drives them headless.
# Never fails: without them that test skips (in CI, where CI is set, it fails with the hint).
have_browser() {
    command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 ||
        command -v google-chrome >/dev/null 2>&1
}
command -v chromedriver >/dev/null 2>&1 && have_browser && exit 0
if command -v apt-get >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo -n"
    if $sudo apt-get update -qq >/dev/null 2>&1 &&
        $sudo apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1; then
        exit 0
    fi
fi
echo "Chromium or its driver is not installed (apt-get install chromium chromium-driver)" >&2
exit 0

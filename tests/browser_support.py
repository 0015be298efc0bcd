"""Browser-test helpers: Debian's Chromium via Playwright and guarded pages (apps are served by serving.serve)."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
# Screenshots replace the README's images only when asked for (MEDCODES_SCREENSHOTS=1); otherwise a temp folder.
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium "
                                                     "(scripts/install-browser.sh installs it; needs root)"),
]


def screenshot_dir(tmp_path_factory) -> Path:
    if os.environ.get("MEDCODES_SCREENSHOTS") == "1":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return DOCS_SCREENSHOTS
    return tmp_path_factory.mktemp("screenshots")


@contextmanager
def chromium():
    """Headless Chromium driven by Playwright (skips the test when Playwright is not installed)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser, outside_requests: list, **options):
    """A page in a fresh context; any request to another host is recorded in `outside_requests` and refused."""
    context = browser.new_context(viewport=options.pop("viewport", {"width": 1100, "height": 900}), **options)
    context.set_default_timeout(15_000)
    page = context.new_page()

    def guard(route):
        if urlparse(route.request.url).hostname != "127.0.0.1" and not route.request.url.startswith("data:"):
            outside_requests.append(route.request.url)
            return route.abort()
        return route.continue_()
    page.route("**/*", guard)
    return page

"""The console as a person sees it: headless Chromium (the system's, driven by Playwright) opens the page of a
running emulator that has classified a few clips, and finds the functions table and the recognised frames.

Skipped only where no browser is installed: `apt-get install -y chromium` (Debian) provides one.
"""

from __future__ import annotations

import os
import shutil

import pytest

from tests.conftest import ROOT
from tests.console.conftest import Classified

pytestmark = pytest.mark.integration

CHROMIUM = os.environ.get("CONSOLE_TEST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOT = ROOT / ".emulator" / "console-test.png"


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("no Chromium installed: `apt-get install -y chromium` (Debian), or set CONSOLE_TEST_CHROMIUM")
    from playwright.sync_api import sync_playwright  # the dev extra; it drives the system browser, downloads none

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def test_the_console_shows_the_functions_and_the_recognised_frames(browser, classified: Classified) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.goto(classified.console_url)
    for name in classified.names:
        frame = page.locator(f'figure.frame[data-key^="frames/{classified.device_id}/"]',
                             has=page.locator(f'.name.recognized:text-is("{name}")'))
        frame.wait_for(timeout=30_000)
        assert frame.locator("rect.box").count() == 1, f"no box drawn on {name}'s frame"
    rows = page.locator("#functions tr.function .fname").all_text_contents()
    assert {classified.emulator.outputs["FrameExtractorFunction"],
            classified.emulator.outputs["FaceClassifierFunction"]} <= set(rows)
    page.locator("#status", has_text="updated").wait_for(timeout=15_000)  # the page refreshed itself
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 10_000
    assert failed == [], f"requests that failed: {failed}"
    assert not [url for url in page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
                if not url.startswith(classified.emulator.endpoint)], "the console loaded something off the emulator"

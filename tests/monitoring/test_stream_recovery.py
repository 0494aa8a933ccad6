"""The browser's stream client recovers by itself when the server restarts (real Chromium,
real daphne restarted on the same port)."""

import os
import time

import pytest

from lib.realtime import publish_samples
from tests.conftest import (
    ARTIFACTS,
    NEEDS_CHROMIUM,
    free_port,
    launch_chromium,
    log_in,
    new_page,
    start_daphne,
    wait_until,
)

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    NEEDS_CHROMIUM,
]


def put(value: float) -> None:
    publish_samples("cache-metrics", time.time(), [{"metric": "redis_keys", "labels": {"db": "0"}, "value": value}])


def test_the_page_reconnects_resubscribes_and_replays_what_it_missed_after_a_server_restart(viewer):
    from playwright.sync_api import sync_playwright

    port = free_port()
    server = start_daphne(port)
    base = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as p:
            browser = launch_chromium(p)
            page, errors = new_page(browser, timeout=30_000, console=False)
            log_in(page, base, "viewer")
            status = page.locator("#stream-status")
            page.wait_for_function("document.getElementById('stream-status').dataset.state === 'open'")
            page.evaluate(
                "window.__got = []; window.__resyncs = 0;"
                "document.addEventListener('seismo:stream-resync', () => window.__resyncs++);"
                "SeismoStream.subscribe(['cache-metrics'], (m) => window.__got.push(m))"
            )
            time.sleep(0.5)
            put(1)
            # A compact frame, decoded by the client back into samples with their labels.
            page.wait_for_function(
                "window.__got.some((m) => m.samples[0].value === 1 && m.samples[0].labels.db === '0')"
            )

            server.stop()
            page.wait_for_function("document.getElementById('stream-status').dataset.state !== 'open'")
            page.screenshot(path=str(ARTIFACTS / "stream-offline.png"))
            for value in (10, 11, 12):  # published while the page is offline
                put(value)
            server = start_daphne(port)
            page.wait_for_function("document.getElementById('stream-status').dataset.state === 'open'", timeout=30_000)
            assert status.get_attribute("data-state") == "open"
            page.wait_for_function("window.__got.filter((m) => m.samples[0].value >= 10).length === 3", timeout=20_000)
            missed = page.evaluate(
                "window.__got.filter((m) => m.samples[0].value >= 10).map((m) => m.samples[0].value)"
            )
            assert missed == [10, 11, 12] and page.evaluate("window.__resyncs") == 0  # replayed: no reload needed

            def delivered() -> bool:
                put(2)
                return page.evaluate("window.__got.some((m) => m.samples[0].value === 2)")

            wait_until(delivered, timeout=20, interval=0.5)  # resubscribed by itself
            page.screenshot(path=str(ARTIFACTS / "stream-recovered.png"))
            browser.close()
        assert errors == []
    finally:
        server.stop()

"""Explore in real Chromium against a real daphne: find a metric by typing, filter it by a label
value that exists, see the chart and table, put a second query on the same chart, reopen the
view from its address, zoom, and add the query to a dashboard where the widget then shows."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from dashboards import services as dashboards
from dashboards.models import Widget
from lib.realtime import publish_samples
from monitoring.store import writer as store
from tests.conftest import ARTIFACTS, NEEDS_CHROMIUM, launch_chromium, log_in, new_page, wait_until

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SHOTS = ARTIFACTS / "explore"
pytestmark = [pytest.mark.browser, NEEDS_CHROMIUM]


@pytest.fixture
def browser_page(live_server_asgi: str) -> Iterator[tuple[Any, list[str], str]]:
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page, errors = new_page(browser)
        try:
            yield page, errors, f"http://{live_server_asgi}"
        finally:
            browser.close()


def _seed() -> None:
    now = time.time()
    rows = [
        (metric, {"host": host}, now - 1800 + i * 30, float(base + (i % 9) * 1024 + (100 if host == "web2" else 0)))
        for metric, base in (("ui_explore_memory_bytes", 5_000_000), ("ui_explore_queue_depth", 3))
        for host in ("web1", "web2")
        for i in range(60)
    ]
    store.record_samples(rows)


def test_a_user_explores_a_metric_filters_it_and_adds_it_to_a_dashboard(browser_page, editor):
    page, errors, base = browser_page
    _seed()
    board = dashboards.create_dashboard(editor, {"title": "Explored board"})

    log_in(page, base, "editor")
    page.click("nav >> text=Explore")
    page.wait_for_selector("#chart-empty")

    # Search as you type: the suggestion shows the unit and kind; Enter picks it.
    page.fill("#metric-0", "ui_explore_mem")
    suggestion = page.locator("#suggestions-0 li").first
    suggestion.wait_for()
    assert "ui_explore_memory_bytes" in suggestion.inner_text() and "gauge" in suggestion.inner_text()
    with page.expect_request(lambda r: "/api/v1/query/" in r.url) as asked:
        page.press("#metric-0", "Enter")
    page.wait_for_selector('#chart[data-loaded="true"][data-series="2"] canvas')
    # Exactly the range's length (a second more and "last 24 h" would be answered from rollups).
    query = parse_qs(urlsplit(asked.value.url).query)
    assert int(query["to"][0]) - int(query["from"][0]) == 3600
    assert "m0=ui_explore_memory_bytes" in page.url
    # The table reads bytes as MiB, not "5.0M B".
    assert "MiB" in page.locator("#series-table tbody").inner_text()

    # A label filter from the values that exist.
    page.select_option('[data-index="0"] .label-key', "host")
    page.select_option('[data-index="0"] .label-value', "web1")
    page.wait_for_selector('#chart[data-series="1"]')
    assert "l0.host=web1" in page.url
    assert page.locator('[data-index="0"] .filter-chips').text_content().replace("\u00d7", "").strip() == "host=web1"

    # Live: a sample published on the stream joins the line (and the table's last value).
    page.wait_for_function("window.SeismoStream && SeismoStream.state === 'open'")

    def shown() -> bool:
        publish_samples(
            "basic-metrics",
            time.time(),
            [{"metric": "ui_explore_memory_bytes", "labels": {"host": "web1"}, "value": 9_000_000}],
        )
        return page.locator("#series-table tbody td.num").first.inner_text() == "8.58 MiB"

    wait_until(shown, timeout=15, interval=0.3)

    # A second query on the same chart, with its own aggregation.
    page.click("#add-query")
    page.fill("#metric-1", "ui_explore_queue")
    page.locator("#suggestions-1 li").first.wait_for()
    page.press("#metric-1", "Enter")
    page.select_option("#agg-1", "max")
    page.wait_for_url("**a1=max**")
    assert page.input_value("#metric-1") == "ui_explore_queue_depth" and "m1=ui_explore_queue_depth" in page.url
    page.wait_for_selector('#chart[data-loaded="true"][data-series="3"]')
    assert page.locator("#series-table tbody tr").count() == 3
    assert (
        page.locator("#export-csv-0").get_attribute("href").startswith("/api/v1/export/?metric=ui_explore_memory_bytes")
    )
    page.screenshot(path=str(SHOTS / "01-two-queries.png"), full_page=True)

    # The address reopens the same view.
    shared = page.url
    page.goto(shared)
    page.wait_for_selector('#chart[data-loaded="true"][data-series="3"]')
    assert page.input_value("#metric-0") == "ui_explore_memory_bytes"
    assert page.input_value("#agg-1") == "max"

    # Drag across the chart to zoom: the range becomes custom and can be reset.
    area = page.locator("#chart .u-over").bounding_box()
    page.mouse.move(area["x"] + area["width"] * 0.5, area["y"] + area["height"] / 2)
    page.mouse.down()
    page.mouse.move(area["x"] + area["width"] * 0.9, area["y"] + area["height"] / 2, steps=8)
    page.mouse.up()
    page.wait_for_url("**range=custom**")
    assert page.locator("#zoom-reset").is_visible()
    page.click("#zoom-reset")
    page.wait_for_url("**range=1h**")

    # Dark theme via the toggle: the chart redraws, nothing breaks.
    page.click("#theme-toggle")  # system -> light
    page.click("#theme-toggle")  # light -> dark
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(17, 20, 24)"
    page.wait_for_selector('#chart[data-loaded="true"][data-series="3"] canvas')
    page.screenshot(path=str(SHOTS / "02-dark.png"), full_page=True)

    # Add query A to a dashboard: the widget is created there with this query.
    page.select_option("#add-query-index", "0")
    page.select_option("#id_dashboard", str(board.pk))
    page.click("#add-form button[type=submit]")
    page.wait_for_url(f"**/dashboards/{board.pk}/**")
    widget = Widget.objects.get(dashboard=board)
    assert (widget.metric, widget.labels) == ("ui_explore_memory_bytes", {"host": "web1"})
    page.wait_for_selector(f'[data-widget="{widget.pk}"] .widget-body[data-loaded="true"] canvas')
    assert "ui_explore_memory_bytes" in page.locator(f'[data-widget="{widget.pk}"] .widget-title').inner_text()
    page.screenshot(path=str(SHOTS / "03-widget-on-dashboard.png"), full_page=True)
    assert errors == []

"""Real-browser walk through the UI (Playwright + Debian Chromium against a real daphne):
log in, watch the overview's live values change, create a dashboard, add and move a widget,
reload and find it where it was, change the range, export CSV, import a dashboard JSON —
with no console errors. Screenshots go to test-artifacts/."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from accounts.models import ApiToken
from dashboards.models import Dashboard, Widget
from lib.realtime import publish_samples
from tests.conftest import ARTIFACTS, NEEDS_CHROMIUM, launch_chromium, log_in, new_page, wait_until

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SHOTS = ARTIFACTS / "dashboards"

pytestmark = [
    pytest.mark.browser,
    NEEDS_CHROMIUM,
]


@pytest.fixture
def open_page(live_server_asgi: str) -> Iterator[Callable[..., tuple[Any, list[str], str]]]:
    """``open_page(**context options)`` → (a fresh Chromium page, its console errors, base URL)."""
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = launch_chromium(p)

        def open_(**options: Any) -> tuple[Any, list[str], str]:
            page, errors = new_page(browser, 1400, 1000, **options)
            return page, errors, f"http://{live_server_asgi}"

        try:
            yield open_
        finally:
            browser.close()


def _ingest(base: str, token: str, metric: str, count: int = 30) -> None:
    """Real samples over the last 15 minutes through the ingest API (so charts have data)."""
    now = time.time()
    samples = [
        {"metric": metric, "labels": {"host": "web1"}, "value": 10 + i % 7, "ts": now - 900 + i * 30}
        for i in range(count)
    ]
    response = requests.post(
        f"{base}/api/v1/ingest/", json={"samples": samples}, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert response.status_code == 202, response.text


def test_a_user_watches_the_overview_and_builds_a_dashboard(open_page, editor):
    page, errors, base = open_page(accept_downloads=True)
    _, token = ApiToken.issue(editor)
    _ingest(base, token, "ui_test_latency_ms")

    # Log in through the form and land on the overview.
    log_in(page, base, "editor")
    assert page.locator("h1").inner_text() == "Overview"
    page.wait_for_function("window.SeismoStream && window.SeismoStream.state === 'open'")
    assert page.locator("#stream-status").get_attribute("data-state") == "open"

    # Live values: the CPU card follows what the collectors publish.
    cpu = page.locator('[data-card="cpu"] .card-value')
    for value in (42.5, 57.25):

        def shown(value: float = value) -> bool:
            publish_samples(
                "system-metrics", time.time(), [{"metric": "system_cpu_percent", "labels": {}, "value": value}]
            )
            return cpu.get_attribute("data-value") == str(value)

        wait_until(shown, timeout=15, interval=0.3)
    assert cpu.inner_text() == "57.3%"  # the formatter: one decimal from 10 up, the unit after
    page.screenshot(path=str(SHOTS / "01-overview.png"), full_page=True)

    # Create a dashboard.
    page.click("nav >> text=Dashboards")
    page.fill("#id_title", "Browser board")
    page.click("#create-form button[type=submit]")
    page.wait_for_selector("h1:has-text('Browser board')")
    dashboard = Dashboard.objects.get(title="Browser board")

    # Add two widgets through the (HTMX) form; a bad one first shows a form error.
    page.click("summary:has-text('Add a widget')")
    page.select_option("#id_kind", "timeseries")
    page.fill("#id_metric", "not a metric!")
    page.click("#widget-form button[type=submit]")
    page.wait_for_selector("#widget-form .form-error")
    assert "not a valid metric name" in page.locator("#widget-form").inner_text()
    for title, width in (("Latency", "12"), ("Latency p95", "8")):
        page.fill("#id_title", title)
        page.fill("#id_metric", "ui_test_latency_ms")
        page.fill("#id_labels", "host=web1")
        page.fill("#id_thresholds", "14 warning, 16 critical")
        page.fill("#id_w", width)
        page.fill("#id_h", "6")
        page.click("#widget-form button[type=submit]")
        page.wait_for_selector(f".widget-title:has-text('{title}')")
        if title == "Latency":
            page.click("summary:has-text('Add a widget')")
    first, second = Widget.objects.filter(dashboard=dashboard).order_by("id")
    assert (second.x, second.y) == (0, 6)

    # The chart drew the ingested points (uPlot canvas inside the widget).
    page.wait_for_selector(f'[data-widget="{first.pk}"] .widget-body[data-loaded="true"] canvas')
    page.screenshot(path=str(SHOTS / "02-dashboard.png"), full_page=True)

    # Move the second widget to the right of the first by dragging its header.
    head = page.locator(f'[data-widget="{second.pk}"] .widget-head')
    box = head.bounding_box()
    grid_box = page.locator("#grid").bounding_box()
    target_x = grid_box["x"] + grid_box["width"] * 0.5 + 60
    target_y = grid_box["y"] + 20
    page.mouse.move(box["x"] + 30, box["y"] + box["height"] / 2)
    page.mouse.down()
    for i in range(1, 16):
        page.mouse.move(box["x"] + 30 + (target_x - box["x"] - 30) * i / 15, box["y"] + (target_y - box["y"]) * i / 15)
        page.wait_for_timeout(30)
    page.mouse.up()
    page.wait_for_function("document.getElementById('grid').dataset.saved === 'ok'")
    second.refresh_from_db()
    assert second.x >= 12, (second.x, second.y)
    moved = (second.x, second.y, second.w, second.h)

    # Reload: the widget is where it was left.
    page.reload()
    item = page.locator(f'.grid-stack-item[gs-id="{second.pk}"]')
    assert int(item.get_attribute("gs-x")) == moved[0] and int(item.get_attribute("gs-y") or 0) == moved[1]

    # Change the range: the address keeps it, the widgets reload, a reload keeps it.
    page.select_option("#range", "24h")
    page.wait_for_url("**range=24h**")
    page.wait_for_selector(f'[data-widget="{first.pk}"] .widget-body[data-loaded="true"]')
    page.reload()
    assert page.locator("#range").input_value() == "24h"
    page.screenshot(path=str(SHOTS / "03-range-24h.png"), full_page=True)

    # Drag across the chart to zoom: the selection becomes the dashboard's (custom) range.
    plot = page.locator(f'[data-widget="{first.pk}"] .u-over')
    area = plot.bounding_box()
    page.mouse.move(area["x"] + area["width"] * 0.3, area["y"] + area["height"] / 2)
    page.mouse.down()
    page.mouse.move(area["x"] + area["width"] * 0.6, area["y"] + area["height"] / 2, steps=8)
    page.mouse.up()
    page.wait_for_url("**range=custom**")
    assert page.locator("#range").input_value() == "custom"
    assert page.locator("#zoom-reset").is_visible()

    # Compare with the previous period: every chart asks for the period before as well.
    queries: list[str] = []
    page.on("request", lambda r: queries.append(r.url) if "/api/v1/query/" in r.url else None)
    page.check("#compare")
    page.wait_for_url("**compare=1**")
    for _ in range(50):
        if len(queries) >= 4:
            break
        page.wait_for_timeout(100)
    assert len(queries) >= 4

    # History page: export the shown range as CSV.
    page.click(f'[data-widget="{first.pk}"] .history-link')
    page.wait_for_selector("#export-csv")
    with page.expect_download() as download_info:
        page.click("#export-csv")
    csv_path = download_info.value.path()
    csv_text = Path(csv_path).read_text()
    assert "ui_test_latency_ms" in csv_text or "value" in csv_text.splitlines()[0]
    assert len(csv_text.strip().splitlines()) > 1
    page.screenshot(path=str(SHOTS / "04-history.png"), full_page=True)

    # Export the dashboard JSON and import it back through the page.
    document = page.request.get(f"{base}/api/v1/dashboards/{dashboard.pk}/export/").json()
    document["title"] = "Imported board"
    document["variables"] = [{"name": "host", "default": ""}]
    page.goto(f"{base}/dashboards/")
    page.fill("#id_document", "{ broken")
    page.click("#import-form button[type=submit]")
    assert "This is not valid JSON" in page.locator("#import-form").inner_text()
    page.fill("#id_document", json.dumps(document))
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("h1:has-text('Imported board')")
    assert page.locator(".grid-stack-item").count() == 2
    page.screenshot(path=str(SHOTS / "05-imported.png"), full_page=True)

    # A dashboard variable filters every widget's query by that label.
    with page.expect_request(lambda r: "/api/v1/query/" in r.url and "label.host=web1" in r.url):
        page.fill("#var-host", "web1")
        page.press("#var-host", "Enter")
    assert "var-host=web1" in page.url

    # The two deliberate bad inputs answered 4xx (logged by Chrome as failed resources); nothing else.
    unexpected = [e for e in errors if "status of 400" not in e and "status of 422" not in e]
    assert unexpected == []


def test_a_viewer_reads_a_shared_dashboard_on_a_phone_in_dark_mode(open_page, viewer):
    page, errors, base = open_page(viewport={"width": 390, "height": 844}, color_scheme="dark", is_mobile=True)
    system = Dashboard.objects.get(default_key="system")
    before = list(system.widgets.values_list("id", "x", "y", "w", "h"))
    log_in(page, base, "viewer")
    page.goto(f"{base}/dashboards/")
    assert page.locator("#create-form").count() == 0
    page.click("a:has-text('System')")
    page.wait_for_selector("h1:has-text('System')")
    page.wait_for_function(f"document.querySelectorAll('.widget-body[data-loaded=\"true\"]').length === {len(before)}")
    assert page.locator("#widget-form").count() == 0 and page.locator("button.icon").count() == 0
    assert page.locator("#grid").get_attribute("data-editable") == "false"
    # Dark colours and one column on a phone.
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(17, 20, 24)"
    widths = page.evaluate(
        "[...document.querySelectorAll('.grid-stack-item')].map(e => e.getBoundingClientRect().width)"
    )
    assert min(widths) > 300
    # Dragging does nothing for a viewer.
    head = page.locator(".widget-head").first.bounding_box()
    page.mouse.move(head["x"] + 20, head["y"] + 10)
    page.mouse.down()
    page.mouse.move(head["x"] + 200, head["y"] + 300, steps=8)
    page.mouse.up()
    page.wait_for_timeout(300)
    assert list(system.widgets.values_list("id", "x", "y", "w", "h")) == before
    page.screenshot(path=str(SHOTS / "06-viewer-phone-dark.png"), full_page=True)
    assert errors == []

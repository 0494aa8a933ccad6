"""Every page in real Chromium, in light and dark, at 1280x720 and at phone width: no console
errors, nothing loaded from another host, no sideways scrolling, visible keyboard focus; an alert's page draws its timeline and
its chart with the thresholds; charts redraw in the new colours when the theme changes.
Screenshots go to test-artifacts/ui/."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from alerts.models import Alert
from checks.models import Check
from dashboards import services as dashboard_services
from dashboards.models import Dashboard
from loadtest.models import LoadTestRun, RunSecond, Scenario
from monitoring.store.writer import record_samples
from tests.conftest import ARTIFACTS, NEEDS_CHROMIUM, launch_chromium, log_in, new_page
from tests.ui.conftest import acknowledged_disk_alert

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SHOTS = ARTIFACTS / "ui"
# How far the page scrolls sideways, and the first elements that stick out (outside any element
# that scrolls by itself, like a wide table on a phone).
WIDER_THAN_THE_SCREEN = """(() => {
  const clipped = (e) => { for (let p = e.parentElement; p; p = p.parentElement)
    if (getComputedStyle(p).overflowX !== "visible") return true; return false; };
  const out = [...document.querySelectorAll("body *")]
    .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && !clipped(e))
    .slice(0, 4).map((e) => e.tagName + "#" + e.id + "." + e.className);
  const widest = [...document.querySelectorAll("body *")].map((e) => [Math.round(e.getBoundingClientRect().right),
    e.tagName + "#" + e.id + "." + e.className, getComputedStyle(e).overflowX, getComputedStyle(e).position])
    .sort((a, b) => b[0] - a[0]).slice(0, 6);
  return [document.documentElement.scrollWidth - window.innerWidth, out, document.body.scrollWidth, widest];
})()"""
pytestmark = [pytest.mark.browser, NEEDS_CHROMIUM]


@pytest.fixture
def chromium(live_server_asgi: str) -> Iterator[tuple[Any, str]]:
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            yield browser, f"http://{live_server_asgi}"
        finally:
            browser.close()


def _session(browser: Any, base: str, username: str, **options: Any) -> tuple[Any, list[str]]:
    page, errors = new_page(browser, **options)
    log_in(page, base, username)
    return page, errors


def _incident(editor: Any) -> Alert:
    return acknowledged_disk_alert(editor, 600, 30, 70.0)


def test_an_alert_page_shows_its_timeline_and_its_chart_with_thresholds(chromium, editor):
    browser, base = chromium
    alert = _incident(editor)
    page, errors = _session(browser, base, "editor")
    page.click("nav >> text=Alerts")
    page.click(f"#alert-{alert.pk} a:has-text('Disk full')")
    page.wait_for_url(f"**/alerts/{alert.pk}/")
    page.wait_for_selector('#alert-chart[data-loaded="true"][data-thresholds="2"] canvas')
    states = page.locator("#timeline .state-badge").all_inner_texts()
    assert states[:3] == ["Pending", "Firing", "Acknowledged"]
    assert "on it" in page.inner_text("#timeline")
    page.screenshot(path=str(SHOTS / "alert-detail.png"), full_page=True)
    # Resolve from the page: the timeline gains its last step, by this user.
    page.fill(".actions input[name=comment]", "freed space")
    page.click("button:has-text('Resolve')")
    page.wait_for_selector("#timeline li.resolved")
    assert "by editor" in page.inner_text("#timeline li.resolved")
    # The filter bar: changing a filter applies it and keeps it in the address.
    page.goto(f"{base}/alerts/")
    page.select_option("#f-state", "resolved")
    page.wait_for_url("**state=resolved**")
    page.check("input[name=since][value='24h']")
    page.wait_for_url("**since=24h**")
    assert page.locator("#alert-history tbody tr").count() == 1
    assert errors == []


def _finished_runs() -> list[LoadTestRun]:
    """Two finished runs of one scenario, a minute of per-second results each."""
    scenario = Scenario.objects.create(name="ui pages", target_url="http://127.0.0.1:1")
    runs = []
    for rps in (10, 12):
        run = LoadTestRun.objects.create(scenario=scenario, config={}, status="finished", requests=60 * rps, rps=rps)
        RunSecond.objects.bulk_create(
            RunSecond(run=run, second=s, users=2, requests=rps, failures=0, p50_ms=1, p95_ms=2, p99_ms=3)
            for s in range(60)
        )
        runs.append(run)
    return runs


def test_every_page_in_light_and_dark_at_desktop_and_phone_width(chromium, editor):
    browser, base = chromium
    alert = _incident(editor)
    board = Dashboard.objects.get(default_key="system")
    widget = board.widgets.first()
    check = Check.objects.create(name="nightly backup", kind="heartbeat")
    record_samples(
        [("check_duration_seconds", {"check": check.name}, time.time() - 600 + i * 60, 0.01 * i) for i in range(9)]
    )
    first, second = _finished_runs()
    pages = {
        "overview": "/",
        "dashboards": "/dashboards/",
        "dashboard": f"/dashboards/{board.pk}/",
        "widget-history": f"/dashboards/{board.pk}/widgets/{widget.pk}/",
        "widget-edit": f"/dashboards/{board.pk}/widgets/{widget.pk}/edit/",
        "explore-empty": "/explore/",
        "explore": "/explore/?m0=ui_disk_used_percent&l0.host=web1",
        "alerts": "/alerts/",
        "alert": f"/alerts/{alert.pk}/",
        "checks": "/checks/",
        "check": f"/checks/{check.pk}/",
        "check-new": "/checks/new/",
        "sla": "/checks/sla/",
        "targets": "/targets/",
        "loadtest": "/loadtest/",
        "scenario-new": "/loadtest/scenarios/new/?preset=api_stress",
        "run": f"/loadtest/runs/{first.pk}/",
        "compare": f"/loadtest/compare/?a={first.pk}&b={second.pk}",
    }
    for scheme in ("light", "dark"):
        for width, height, tag in ((1280, 720, "desktop"), (390, 844, "phone")):
            page, errors = _session(
                browser, base, "editor", color_scheme=scheme, viewport={"width": width, "height": height}
            )
            # Nothing comes from a CDN or any other host: every request goes to this instance.
            elsewhere: list[str] = []
            page.on(
                "request", lambda r, seen=elsewhere: None if r.url.startswith((base, "data:")) else seen.append(r.url)
            )
            background = "rgb(17, 20, 24)" if scheme == "dark" else "rgb(246, 247, 249)"
            for name, path in pages.items():
                page.goto(base + path)
                page.wait_for_load_state("load")
                # Charts and lists that load after the page: wait until none is busy.
                page.wait_for_function("!document.querySelector('[aria-busy=\\'true\\']')")
                # Fragments the page asks for once shown (the overview's component health).
                page.wait_for_function("!document.querySelector('.component.checking')")
                page.wait_for_timeout(200)
                assert page.evaluate("getComputedStyle(document.body).backgroundColor") == background, name
                overflow = page.evaluate(WIDER_THAN_THE_SCREEN)
                assert overflow[0] <= 1, (name, tag, overflow)
                page.screenshot(path=str(SHOTS / f"{name}-{scheme}-{tag}.png"), full_page=True)
            assert errors == [], (scheme, tag)
            assert elsewhere == [], (scheme, tag)
            page.context.close()


# How many opaque pixels of the first chart's canvas have this colour (lines are antialiased:
# a small tolerance per channel).
PIXELS_OF = """(rgb) => { const c = document.querySelector('#grid canvas'); if (!c) return -1;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 200 && Math.abs(d[i] - rgb[0]) < 12
    && Math.abs(d[i + 1] - rgb[1]) < 12 && Math.abs(d[i + 2] - rgb[2]) < 12) n++;
  return n; }"""
LIGHT_ACCENT, DARK_ACCENT = [37, 99, 235], [96, 165, 250]  # --accent in static/css/seismo.css


def test_charts_redraw_in_the_new_colours_when_the_theme_changes(chromium, editor):
    browser, base = chromium
    record_samples([("ui_theme_load", {"host": "web1"}, time.time() - 600 + i * 20, float(i % 7)) for i in range(30)])
    board = dashboard_services.create_dashboard(
        editor, {"title": "Theme", "time_range": "1h"}, [{"kind": "timeseries", "metric": "ui_theme_load", "w": 12}]
    )
    page, errors = _session(browser, base, "editor", color_scheme="light")
    page.goto(f"{base}/dashboards/{board.pk}/")
    page.wait_for_selector("#grid .widget-body[data-loaded='true'] canvas")
    page.wait_for_function(f"({PIXELS_OF})({LIGHT_ACCENT}) > 20")
    # The system turns dark while the toggle says "system": the line takes the dark accent.
    page.emulate_media(color_scheme="dark")
    page.wait_for_function(f"({PIXELS_OF})({DARK_ACCENT}) > 20 && ({PIXELS_OF})({LIGHT_ACCENT}) === 0")
    page.screenshot(path=str(SHOTS / "theme-chart-system-dark.png"))
    # The toggle (system → light) wins over the system's dark: the light accent comes back.
    page.click("#theme-toggle")
    assert page.evaluate("document.documentElement.dataset.theme") == "light"
    page.wait_for_function(f"({PIXELS_OF})({LIGHT_ACCENT}) > 20 && ({PIXELS_OF})({DARK_ACCENT}) === 0")
    page.click("#theme-toggle")  # light → dark
    page.wait_for_function(f"({PIXELS_OF})({DARK_ACCENT}) > 20 && ({PIXELS_OF})({LIGHT_ACCENT}) === 0")
    page.screenshot(path=str(SHOTS / "theme-chart-toggled-dark.png"))
    assert errors == []


def test_an_editor_removes_one_widget_with_its_button(chromium, editor):
    browser, base = chromium
    board = dashboard_services.create_dashboard(
        editor,
        {"title": "Two widgets", "time_range": "1h"},
        [
            {"kind": "stat", "metric": "ui_keep", "title": "Keep"},
            {"kind": "stat", "metric": "ui_drop", "title": "Drop"},
        ],
    )
    page, errors = _session(browser, base, "editor")
    page.goto(f"{base}/dashboards/{board.pk}/")
    page.click("button[aria-label='Remove widget Drop']")
    page.wait_for_url(f"{base}/dashboards/{board.pk}/")
    page.wait_for_selector("h2.widget-title:has-text('Keep')")
    assert page.locator("h2.widget-title").all_inner_texts() == ["Keep"]
    assert list(board.widgets.values_list("title", flat=True)) == ["Keep"]
    assert errors == []


def test_keyboard_users_reach_the_controls_and_see_where_focus_is(chromium, editor):
    browser, base = chromium
    page, errors = _session(browser, base, "editor")
    page.goto(f"{base}/explore/")
    seen = []
    for _ in range(30):
        page.keyboard.press("Tab")
        info = page.evaluate(
            "(() => { const e = document.activeElement; const s = getComputedStyle(e);"
            " return [e.id || e.className || e.tagName, s.outlineStyle, s.outlineWidth]; })()"
        )
        seen.append(info[0])
        assert info[1] != "none" and info[2] != "0px", info
        if info[0] == "metric-0":
            break
    assert "metric-0" in seen and "theme-toggle" in seen
    # The theme toggle works from the keyboard and sticks across pages.
    page.focus("#theme-toggle")
    page.keyboard.press("Enter")  # system -> light
    page.keyboard.press("Enter")  # light -> dark
    page.goto(f"{base}/alerts/")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(17, 20, 24)"
    assert errors == []

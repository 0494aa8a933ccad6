"""The checks pages in Chromium against a real daphne: the list follows results live through
the stream, the check page draws its history chart, the form explains its fields."""

from __future__ import annotations

import os

import pytest
from django.utils import timezone

from checks import services
from checks.models import Check
from checks.probes import Result
from tests.conftest import ARTIFACTS, NEEDS_CHROMIUM, launch_chromium, log_in, new_page

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, NEEDS_CHROMIUM, pytest.mark.django_db(transaction=True)]


def test_the_list_updates_live_and_the_check_page_draws_its_history(live_server_asgi: str, editor) -> None:
    from playwright.sync_api import sync_playwright

    check = Check(name="shop", kind="http", target="http://127.0.0.1:9/", interval_seconds=30)
    check.full_clean()
    services.save_check(check, [])
    now = timezone.now()
    for n in range(3):
        services.record_results([(check.pk, Result(True, "status 200", 0.02 + n / 100, 200), now)], now=now)
    base = f"http://{live_server_asgi}"
    shots = ARTIFACTS / "checks"
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page, errors = new_page(browser, 1300, 900, console=False)
            log_in(page, base, "editor", landing="/checks/")
            row = page.locator(f"tr[data-check='{check.pk}']")
            assert row.get_attribute("data-state") == "up"
            assert row.locator("svg.spark polyline").count() == 1
            page.wait_for_function("document.getElementById('stream-status').dataset.state === 'open'")
            services.record_results([(check.pk, Result(False, "status 503 (expected 2xx)", 0.05, 503), timezone.now())])
            page.wait_for_selector(f"tr[data-check='{check.pk}'][data-state='down']")
            assert "status 503 (expected 2xx)" in page.locator(f"tr[data-check='{check.pk}']").inner_text()
            page.screenshot(path=str(shots / "list.png"), full_page=True)
            page.click("text=shop")
            page.wait_for_selector("#history-chart canvas")
            assert "Down" in page.locator("#check-status").inner_text()
            page.screenshot(path=str(shots / "check.png"), full_page=True)
            page.goto(f"{base}/checks/new/")
            assert "Consecutive failed attempts before the check is down" in page.inner_text("form.check-form")
            assert errors == []
        finally:
            browser.close()

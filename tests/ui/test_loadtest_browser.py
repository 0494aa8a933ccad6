"""Load tests from the browser, in real Chromium against this instance (real daphne and Celery
worker): create a scenario from the "API Stress" preset with the form, start it, watch it
finish, run it again, and compare the two runs with both curves on one chart."""

from __future__ import annotations

import os

import pytest
from django.db import connections

from loadtest.choices import RunStatus
from loadtest.models import LoadTestRun, Scenario
from tests.conftest import (
    ARTIFACTS,
    NEEDS_CHROMIUM,
    free_port,
    launch_chromium,
    log_in,
    new_page,
    start_daphne,
    start_worker,
)

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
SHOTS = ARTIFACTS / "ui"

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True), NEEDS_CHROMIUM]

FINISHED = "document.querySelector('#run-summary [data-field=\"status\"]').textContent.trim() === 'finished'"


def test_a_user_creates_a_scenario_from_a_preset_runs_it_twice_and_compares(editor):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    processes = [start_daphne(port, OUTBOUND_ALLOWLIST="127.0.0.1")]
    processes.append(start_worker("ui-loadtest-worker", OUTBOUND_ALLOWLIST="127.0.0.1"))
    try:
        with sync_playwright() as p:
            browser = launch_chromium(p)
            page, errors = new_page(browser, timeout=20_000)
            log_in(page, base, "editor")

            # No scenario yet: the page says how to make one and offers the presets.
            page.click("nav >> text=Load tests")
            assert "No scenarios yet" in page.inner_text("#no-scenarios")
            page.click("#no-scenarios >> text=API Stress")
            page.wait_for_url("**/loadtest/scenarios/new/?preset=api_stress")
            assert page.input_value("#id_name") == "API Stress" and page.input_value("#id_users") == "50"
            assert page.input_value("#id_target_url") == base  # this instance
            # A bad value first: the form says what is wrong, nothing is created.
            page.fill("#id_users", "0")
            page.click("#scenario-form button[type=submit]")
            page.wait_for_selector("#form-errors")
            assert "between 1 and" in page.inner_text("#scenario-form")
            assert not Scenario.objects.exists()
            # Gentle enough for a shared machine: 2 users, 4 s, a request every 50 ms each.
            page.fill("#id_users", "2")
            page.fill("#id_duration_seconds", "4")
            page.fill("#id_think_time_ms", "50")
            page.fill("#id_endpoints_text", "GET /healthz 1")
            page.screenshot(path=str(SHOTS / "loadtest-form.png"), full_page=True)
            page.click("#scenario-form button[type=submit]")
            page.wait_for_url("**/loadtest/#scenario-*")
            scenario = Scenario.objects.get()
            assert scenario.preset == "api_stress" and scenario.users == 2

            runs = []
            for _ in range(2):
                page.goto(f"{base}/loadtest/")
                with page.expect_navigation():
                    page.click(f'.start-run[data-scenario="{scenario.pk}"]')
                run = LoadTestRun.objects.filter(scenario=scenario).order_by("-pk").first()
                page.wait_for_url(f"{base}/loadtest/runs/{run.pk}/")
                page.wait_for_function(FINISHED, timeout=60_000)
                assert page.locator("#stop-run").count() == 0  # no stop once it ended
                runs.append(run)
            first, second = runs
            page.screenshot(path=str(SHOTS / "loadtest-run.png"), full_page=True)

            # Mark the first as baseline; the second run's page offers the comparison.
            page.goto(f"{base}/loadtest/runs/{first.pk}/")
            page.click("#mark-baseline")
            page.wait_for_selector("text=is now the baseline")
            page.goto(f"{base}/loadtest/runs/{second.pk}/")
            page.click("#compare-baseline")
            page.wait_for_url(f"**/loadtest/compare/?a={first.pk}&b={second.pk}")
            page.wait_for_selector('#compare-charts[data-loaded="true"]')
            for chart in ("rps", "p95", "errors"):
                assert page.get_attribute(f'[data-chart="{chart}"]', "data-series") == "2"
                assert page.locator(f'[data-chart="{chart}"] canvas').count() >= 1
            legend = page.inner_text('[data-chart="rps"] .u-legend')
            assert f"run {first.pk}" in legend and f"run {second.pk}" in legend
            assert page.inner_text("#verdict") in ("Regression", "No regression")
            page.screenshot(path=str(SHOTS / "loadtest-compare.png"), full_page=True)

            # The runs list: no stop button on finished runs; ticking two compares them too.
            page.goto(f"{base}/loadtest/")
            assert page.locator(".stop-run").count() == 0
            page.check(f'.pick[value="{second.pk}"]')
            page.check(f'.pick[value="{first.pk}"]')
            page.click("#compare-button")
            page.wait_for_url(f"**/loadtest/compare/?a={first.pk}&b={second.pk}")
            browser.close()
            connections.close_all()
        for run in runs:
            run.refresh_from_db()
            assert run.status == RunStatus.FINISHED and run.requests > 0
        # The deliberate bad input answered 400 (logged by Chrome as a failed resource); nothing else.
        assert [e for e in errors if "status of 400" not in e] == []
    finally:
        for process in reversed(processes):
            process.stop()

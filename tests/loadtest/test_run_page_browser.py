"""The live run page in real Chromium: a run started from the UI against this instance (real
daphne, Celery worker and beat), its charts getting points while it runs, the server's own
metrics beside them, the final status after it ends, and the emergency stop button."""

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
    start_beat,
    start_daphne,
    start_worker,
)

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
SHOTS = ARTIFACTS / "loadtest"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    NEEDS_CHROMIUM,
]

RUNNING_WITH_POINTS = """(n) => {
  const status = document.querySelector('#run-summary [data-field="status"]');
  const points = (name) => Number(document.querySelector(`[data-chart="${name}"]`).dataset.points || 0);
  return status && status.textContent.trim() === 'running' && points('rps') >= n && points('latency') >= n
    && points('users') >= n && points('errors') >= n;
}"""


def test_a_user_watches_a_run_live_and_stops_another(editor, tmp_path, settings):
    from playwright.sync_api import sync_playwright

    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    SHOTS.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    processes = [start_daphne(port, OUTBOUND_ALLOWLIST="127.0.0.1")]
    processes.append(start_worker("loadtest-page-worker", OUTBOUND_ALLOWLIST="127.0.0.1"))
    processes.append(start_beat(tmp_path))
    # The target is this instance itself: its request metrics then show the load on the same axis.
    target = {
        "target_url": base,
        "endpoints": [{"method": "GET", "path": "/healthz", "weight": 1}],
        "users": 2,
        "spawn_rate": 10,
        "think_mode": "constant_throughput",
        "throughput_per_user": 5,
    }
    short = Scenario.objects.create(name="Short live run", duration_seconds=8, **target)
    long = Scenario.objects.create(name="Long run to stop", duration_seconds=120, **target)
    try:
        with sync_playwright() as p:
            browser = launch_chromium(p)
            page, errors = new_page(browser, 1400, 1100, timeout=20_000)
            log_in(page, base, "editor")

            # Start the short run from the load-test page and open its page.
            page.goto(f"{base}/loadtest/")
            with page.expect_navigation():  # Start opens the new run's page
                page.click(f'.start-run[data-scenario="{short.pk}"]')
            run = LoadTestRun.objects.get(scenario=short)
            page.wait_for_url(f"{base}/loadtest/runs/{run.pk}/")
            page.wait_for_function("window.SeismoStream && SeismoStream.state === 'open'")

            # While it runs, every run chart gets points from the stream.
            page.wait_for_function(RUNNING_WITH_POINTS, arg=3, timeout=30_000)
            assert page.locator('[data-chart="rps"] .chart-last').inner_text().startswith("requests/s ")
            # The server's own metrics (the collectors on beat) share the time axis.
            page.wait_for_function(
                "Number(document.querySelector('[data-chart=\"server-cpu\"]').dataset.points || 0) >= 1",
                timeout=30_000,
            )
            page.screenshot(path=str(SHOTS / "01-running.png"), full_page=True)

            # After the end: the final status and totals, and one point per stored second.
            page.wait_for_function(
                "document.querySelector('#run-summary [data-field=\"status\"]').textContent.trim() === 'finished'",
                timeout=40_000,
            )
            run.refresh_from_db()
            assert run.status == RunStatus.FINISHED and run.requests > 0
            summary = page.locator("#run-summary")
            assert summary.locator('[data-field="requests"]').inner_text() == str(run.requests)
            assert page.locator("#stop-run").count() == 0
            page.wait_for_function(
                "(n) => Number(document.querySelector('[data-chart=\"rps\"]').dataset.points) === n",
                arg=run.seconds.count(),
            )
            page.wait_for_function(
                "Number(document.querySelector('[data-chart=\"server-rate\"]').dataset.points || 0) >= 1",
                timeout=30_000,
            )
            page.screenshot(path=str(SHOTS / "02-finished.png"), full_page=True)

            # A long run, stopped with the page's emergency stop button.
            page.goto(f"{base}/loadtest/")
            with page.expect_navigation():  # Start opens the new run's page
                page.click(f'.start-run[data-scenario="{long.pk}"]')
            stoppable = LoadTestRun.objects.get(scenario=long)
            page.wait_for_url(f"{base}/loadtest/runs/{stoppable.pk}/")
            page.wait_for_function(RUNNING_WITH_POINTS, arg=1, timeout=30_000)
            page.click("#stop-run")
            page.wait_for_function(
                "document.querySelector('#run-summary [data-field=\"status\"]').textContent.trim() === 'stopped'",
                timeout=20_000,
            )
            assert "stopped by a user" in summary.inner_text()
            page.screenshot(path=str(SHOTS / "03-stopped.png"), full_page=True)
            browser.close()
            # Playwright runs an event loop on this thread, so the ORM calls above used their own
            # connection (asgiref's context-local): close it, or the test database cannot be dropped.
            connections.close_all()
        stoppable.refresh_from_db()
        assert stoppable.status == RunStatus.STOPPED and stoppable.stop_reason == "stopped by a user"
        assert errors == []
    finally:
        for process in reversed(processes):
            process.stop()

"""Web UI: a dashboard of 12 widgets over 24 h.

Server time (Django in-process, real PostgreSQL + Redis): p95 of the dashboard page and of its
12 widget query calls, beside the bare login page (anchor). Browser: headless Chromium
navigation timing (load event) of the dashboard on a real daphne, beside the login page.
"""

from __future__ import annotations

import os
import statistics
import time
from argparse import Namespace
from pathlib import Path
from typing import Any

from bench.common import Result

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
USERNAME, PASSWORD = "bench-ui", "bench-ui-password"
WIDGETS = 12
DAY = 86_400


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _metric(i: int) -> str:
    return f"bench_ui_metric_{i}"


def seed(points_per_series: int, hosts: int) -> int:
    """24 h of samples for the 12 widget metrics (``hosts`` series each), through the metrics
    store's own write path (COPY). Returns the number of samples written."""
    from monitoring.store.writer import record_samples

    now = time.time()
    step = DAY / points_per_series
    written = 0
    for i in range(WIDGETS):
        rows = [
            (_metric(i), {"host": f"h{h}"}, now - DAY + k * step, float((k * 7 + h) % 100))
            for h in range(hosts)
            for k in range(points_per_series)
        ]
        for start in range(0, len(rows), 5000):
            written += record_samples(rows[start : start + 5000])
    return written


def build_dashboard() -> tuple[Any, Any]:
    from django.contrib.auth.models import User

    from dashboards import services
    from dashboards.models import Dashboard

    user, _ = User.objects.get_or_create(username=USERNAME, defaults={"is_superuser": True, "is_staff": True})
    user.is_superuser = True
    user.set_password(PASSWORD)
    user.save()
    Dashboard.objects.filter(owner=user, title="Bench UI").delete()
    kinds = [
        "timeseries",
        "timeseries",
        "timeseries",
        "timeseries",
        "stat",
        "stat",
        "stat",
        "gauge",
        "gauge",
        "table",
        "timeseries",
        "timeseries",
    ]
    widgets = [
        {
            "kind": kind,
            "title": f"W{i}",
            "metric": _metric(i),
            "aggregation": "avg",
            "x": (i % 4) * 6,
            "y": (i // 4) * 6,
            "w": 6,
            "h": 6,
            "thresholds": [{"value": 80, "level": "warning"}],
        }
        for i, kind in enumerate(kinds)
    ]
    dashboard = services.create_dashboard(user, {"title": "Bench UI", "time_range": "24h"}, widgets)
    return user, dashboard


def server_timings(user: Any, dashboard: Any, rounds: int) -> dict[str, list[float]]:
    from django.test import Client

    from dashboards import ranges

    client = Client()
    client.force_login(user)
    anon = Client()
    page_url = f"/dashboards/{dashboard.pk}/?range=24h"
    now = time.time()
    step = ranges.step_for(now - DAY, now)
    queries = [
        f"/api/v1/query/?metric={w.metric}&from={int(now - DAY)}&to={int(now)}&step={step}&agg={w.aggregation}"
        for w in dashboard.widgets.all()
    ]
    out: dict[str, list[float]] = {"login": [], "page": [], "query": [], "points": []}
    for _ in range(2):  # warm-up: connections, template and URL caches
        anon.get("/accounts/login/")
        client.get(page_url)
    for _ in range(rounds):
        started = time.perf_counter()
        response = anon.get("/accounts/login/")
        out["login"].append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
        started = time.perf_counter()
        response = client.get(page_url)
        out["page"].append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
        for url in queries:
            started = time.perf_counter()
            response = client.get(url)
            out["query"].append((time.perf_counter() - started) * 1000)
            if response.status_code == 200:
                for series in response.json().get("series", []):
                    out["points"].append(len(series.get("points", [])))
    return out


def browser_timings(dashboard: Any, rounds: int) -> dict[str, list[float]] | None:
    """Navigation timing of the login page and the dashboard in headless Chromium on daphne."""
    if not Path(CHROMIUM).exists():
        return None
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    from tests.conftest import free_port, start_daphne

    port = free_port()
    daphne = start_daphne(port)
    base = f"http://127.0.0.1:{port}"
    out: dict[str, list[float]] = {"login": [], "page": [], "drawn": []}
    load_event = (
        "(() => { const n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd - n.startTime; })()"
    )
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.set_default_timeout(30_000)
            for i in range(rounds + 1):
                page.goto(f"{base}/accounts/login/", wait_until="load")
                if i:
                    out["login"].append(page.evaluate(load_event))
            page.fill("#id_username", USERNAME)
            page.fill("#id_password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/")
            url = f"{base}/dashboards/{dashboard.pk}/?range=24h"
            for i in range(rounds + 1):
                page.goto(url, wait_until="load")
                page.wait_for_function(
                    f"document.querySelectorAll('.widget-body[data-loaded=\"true\"]').length >= {WIDGETS}"
                )
                drawn = page.evaluate("performance.now()")
                if i:
                    out["page"].append(page.evaluate(load_event))
                    out["drawn"].append(drawn)
            context.close()
            browser.close()
    finally:
        daphne.stop()
    return out


def run(args: Namespace) -> list[Result]:
    quick = getattr(args, "quick", False)
    points, hosts, rounds = (288, 2, 10) if quick else (2880, 4, 30)
    written = seed(points, hosts)
    user, dashboard = build_dashboard()
    server = server_timings(user, dashboard, rounds)
    notes = f"{WIDGETS} widgets, 24 h, {written:,} samples ({hosts} series/metric)"
    max_points = max(server["points"], default=0)
    results = [
        Result(
            "dashboard page, server p95",
            p95(server["page"]),
            "ms",
            "login page p95",
            p95(server["login"]),
            "≤200 ms",
            p95(server["page"]) <= 200,
            notes,
        ),
        Result(
            "widget query (24 h), server p95",
            p95(server["query"]),
            "ms",
            "login page p95",
            p95(server["login"]),
            "≤200 ms",
            p95(server["query"]) <= 200 if written else None,
            f"{len(server['query'])} calls; max {max_points} points/series" + ("" if written else "; no data"),
        ),
        Result(
            "points per series drawn (max)",
            max_points,
            "points",
            goal="≤2000",
            met=max_points <= 2000 if server["points"] else None,
        ),
    ]
    browser = browser_timings(dashboard, max(3, rounds // 3))
    if browser:
        login = statistics.median(browser["login"])
        page = statistics.median(browser["page"])
        results.append(
            Result(
                "dashboard load event, Chromium (median)",
                page,
                "ms",
                "login page load event",
                login,
                "≤1000 ms",
                page <= 1000,
                "navigation timing, loopback daphne",
            )
        )
        results.append(
            Result(
                "dashboard all 12 widgets drawn (median)",
                statistics.median(browser["drawn"]),
                "ms",
                "login page load event",
                login,
                notes="from navigation start",
            )
        )
    else:
        results.append(Result("dashboard load event, Chromium", 0, "ms", goal="≤1000 ms", notes="chromium missing"))
    return results

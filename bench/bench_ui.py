"""Web UI: a dashboard of 12 widgets over 24 h; Explore with 4 queries over 24 h; every page
with 10,000 series in the catalogue.

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

from bench.common import Result, arriving_on_time, forget_samples, settle_like_beat
from lib.processes import CHROMIUM, launch_chromium

USERNAME, PASSWORD = "bench-ui", "bench-ui-password"
WIDGETS = 12
DAY = 86_400


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _metric(i: int) -> str:
    return f"bench_ui_metric_{i}"


def seed(points_per_series: int, hosts: int) -> tuple[int, dict[str, Any]]:
    """24 h of samples for the 12 widget metrics (``hosts`` series each), through the metrics
    store's own write path (COPY), left as a live instance holds a day that came in over time:
    each sample arrived inside the hot window, then beat's rollup and compaction tasks ran
    (``settle_like_beat``), so the hours past the hot window are chunks and the last ones raw
    rows, with no late rows. An earlier run's samples of these series are removed first: every
    run reads the same day. Returns the samples written and what compaction reported."""
    from datetime import UTC, datetime

    from monitoring.models import Series
    from monitoring.store.writer import record_samples

    names = [_metric(i) for i in range(WIDGETS)]
    old = list(Series.objects.filter(metric__name__in=names).values_list("id", flat=True))
    forget_samples(old)
    now = time.time()
    step = DAY / points_per_series
    written = 0
    with arriving_on_time():
        for i in range(WIDGETS):
            rows = [
                (_metric(i), {"host": f"h{h}"}, now - DAY + k * step, float((k * 7 + h) % 100))
                for h in range(hosts)
                for k in range(points_per_series)
            ]
            for start in range(0, len(rows), 5000):
                written += record_samples(rows[start : start + 5000])
    return written, settle_like_beat(datetime.fromtimestamp(now - DAY, UTC))


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


EXPLORE_QUERIES = 4
CATALOGUE_SERIES = 10_000
CATALOGUE_METRICS = 100


def explore_url() -> str:
    """Explore showing the first four widget metrics over the last 24 h (as a shared link)."""
    return "/explore/?" + "&".join(f"m{i}={_metric(i)}" for i in range(EXPLORE_QUERIES)) + "&range=24h"


def seed_catalogue() -> int:
    """10,000 series (100 metrics x 100 hosts, one recent sample each) in the catalogue."""
    from monitoring.store.writer import record_samples

    now = time.time()
    per_metric = CATALOGUE_SERIES // CATALOGUE_METRICS
    rows = [
        (f"bench_ui_catalogue_{m}", {"host": f"h{h}", "dc": f"dc{h % 4}"}, now - 30, float(h))
        for m in range(CATALOGUE_METRICS)
        for h in range(per_metric)
    ]
    for start in range(0, len(rows), 5000):
        record_samples(rows[start : start + 5000])
    return len(rows)


def page_fixtures(user: Any) -> dict[str, str]:
    """An alert (with its events) and two finished runs, so their pages have something to show."""
    from django.utils import timezone

    from alerts.models import Alert, AlertRule
    from loadtest.models import LoadTestRun, RunSecond, Scenario

    rule, _ = AlertRule.objects.get_or_create(
        name="bench ui rule", defaults={"metric": _metric(0), "critical_threshold": 90, "warning_threshold": 80}
    )
    alert = Alert.objects.filter(rule=rule).first() or Alert.start(
        rule, {"host": "h0"}, '{"host":"h0"}', "critical", 95.0, timezone.now()
    )
    scenario, _ = Scenario.objects.get_or_create(name="bench ui", defaults={"target_url": "http://127.0.0.1:1"})
    runs = []
    for _ in range(2):
        run = LoadTestRun.objects.create(scenario=scenario, config={}, status="finished", requests=600, rps=10)
        RunSecond.objects.bulk_create(
            RunSecond(run=run, second=s, users=2, requests=10, failures=0, p50_ms=1, p95_ms=2, p99_ms=3)
            for s in range(60)
        )
        runs.append(run)
    return {
        "alert": f"/alerts/{alert.pk}/",
        "compare": f"/loadtest/compare/?a={runs[0].pk}&b={runs[1].pk}",
    }


def explore_step() -> int:
    """The step Explore's script asks for over 24 h (static/js/explore.js ``stepFor``)."""
    from monitoring import rules

    return max(1, -(-DAY // rules.MAX_POINTS))


def explore_server_timings(user: Any, rounds: int) -> dict[str, list[float]]:
    """Explore's page and the 4 query calls its script makes (24 h, the step it asks for)."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    now = time.time()
    step = explore_step()
    queries = [
        f"/api/v1/query/?metric={_metric(i)}&from={int(now - DAY)}&to={int(now)}&step={step}&agg=avg"
        for i in range(EXPLORE_QUERIES)
    ]
    out: dict[str, list[float]] = {"page": [], "view": []}
    for _ in range(2):
        client.get(explore_url())
    for _ in range(rounds):
        started = time.perf_counter()
        assert client.get(explore_url()).status_code == 200
        page_ms = (time.perf_counter() - started) * 1000
        total = page_ms
        for url in queries:
            started = time.perf_counter()
            assert client.get(url).status_code == 200
            total += (time.perf_counter() - started) * 1000
        out["page"].append(page_ms)
        out["view"].append(total)
    return out


def pages_server_timings(user: Any, dashboard: Any, extra: dict[str, str], rounds: int) -> dict[str, list[float]]:
    """Every page (and Explore's catalogue search and label values) with the big catalogue."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    pages = {
        "overview": "/",
        "dashboards": "/dashboards/",
        "dashboard": f"/dashboards/{dashboard.pk}/",
        "explore": "/explore/",
        "explore search": "/explore/metrics/?q=bench_ui_catalogue_4",
        "explore labels": "/explore/labels/?metric=bench_ui_catalogue_7",
        "alerts": "/alerts/",
        "alert": extra["alert"],
        "load tests": "/loadtest/",
        "new scenario": "/loadtest/scenarios/new/?preset=api_stress",
        "compare runs": extra["compare"],
    }
    out: dict[str, list[float]] = {name: [] for name in pages}
    for url in pages.values():  # warm-up
        assert client.get(url).status_code == 200, url
    for _ in range(rounds):
        for name, url in pages.items():
            started = time.perf_counter()
            response = client.get(url)
            out[name].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, url
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
            browser = launch_chromium(p)
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
            # Explore with 4 queries x 24 h: navigation start to the chart drawn with every series.
            out["explore"] = []
            for i in range(rounds + 1):
                page.goto(base + explore_url(), wait_until="load")
                page.wait_for_function(
                    "(n) => { const c = document.getElementById('chart'); return c.dataset.loaded === 'true'"
                    " && Number(c.dataset.series) >= n && c.querySelector('canvas'); }",
                    arg=EXPLORE_QUERIES,
                )
                drawn = page.evaluate("performance.now()")
                if i:
                    out["explore"].append(drawn)
            context.close()
            browser.close()
    finally:
        daphne.stop()
    return out


def _beside_login(
    name: str, values: list[float], login: list[float], goal_ms: int, notes: str = "", measured: bool = True
) -> Result:
    """A server-time p95 beside the bare login page's p95 of the same run, against a goal."""
    value = p95(values)
    return Result(
        name, value, "ms", "login page p95", p95(login), f"≤{goal_ms} ms", value <= goal_ms if measured else None, notes
    )


def run(args: Namespace) -> list[Result]:
    quick = getattr(args, "quick", False)
    points, hosts, rounds = (288, 2, 10) if quick else (2880, 4, 30)
    written, compacted = seed(points, hosts)
    user, dashboard = build_dashboard()
    server = server_timings(user, dashboard, rounds)
    # The state a live instance is in after its own schedule ran (see seed()).
    state = f"as a live instance holds it: beat's compaction took {compacted['samples']:,} samples, the hot window raw"
    notes = f"{WIDGETS} widgets, 24 h, {written:,} samples ({hosts} series/metric); {state}"
    max_points = max(server["points"], default=0)
    results = [
        _beside_login("dashboard page, server p95", server["page"], server["login"], 200, notes),
        _beside_login(
            "widget query (24 h), server p95",
            server["query"],
            server["login"],
            200,
            f"{len(server['query'])} calls; max {max_points} points/series; {state}" + ("" if written else "; no data"),
            measured=bool(written),
        ),
        Result(
            "points per series drawn (max)",
            max_points,
            "points",
            goal="≤2000",
            met=max_points <= 2000 if server["points"] else None,
        ),
    ]
    seeded = seed_catalogue()
    explore = explore_server_timings(user, rounds)
    results.append(
        _beside_login(
            "Explore 4 queries x 24 h, server p95 (page + 4 queries)",
            explore["view"],
            server["login"],
            150,
            f"page alone p95 {p95(explore['page']):.1f} ms; {hosts} series/metric, 24 h at step "
            f"{explore_step()} s as the page asks; {state}",
        )
    )
    pages = pages_server_timings(user, dashboard, page_fixtures(user), rounds)
    for name, values in pages.items():
        results.append(
            _beside_login(
                f"page '{name}', server p95", values, server["login"], 50, f"{seeded:,} series in the catalogue"
            )
        )
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
        explore_drawn = statistics.median(browser["explore"])
        results.append(
            Result(
                "Explore 4 queries x 24 h, load to drawn, Chromium (median)",
                explore_drawn,
                "ms",
                "login page load event",
                login,
                "≤1000 ms",
                explore_drawn <= 1000,
                "navigation start to the uPlot chart drawn with every series",
            )
        )
    else:
        results.append(Result("dashboard load event, Chromium", 0, "ms", goal="≤1000 ms", notes="chromium missing"))
    return results

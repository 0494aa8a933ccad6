"""The shared dashboards Seismo creates on first run (System, Application, Database, Cache, Celery)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from dashboards.models import Dashboard, Widget
from dashboards.validation import clean_widget


def _w(
    kind: str,
    title: str,
    metric: str,
    agg: str = "avg",
    x: int = 0,
    y: int = 0,
    w: int = 12,
    h: int = 6,
    labels: dict[str, str] | None = None,
    thresholds: list[dict[str, Any]] | None = None,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "kind": kind,
        "title": title,
        "metric": metric,
        "aggregation": agg,
        "x": x,
        "y": y,
        "w": w,
        "h": h,
        "labels": labels or {},
        "thresholds": thresholds or [],
        "options": options or {},
    }


def _bands(warning: float, critical: float) -> list[dict[str, Any]]:
    return [{"value": warning, "level": "warning"}, {"value": critical, "level": "critical"}]


PCT = {"max": 100, "unit": "%"}
TOP10 = {"limit": 10, "label": "route"}
SUM = {"combine": "sum"}  # a stat over several series adds them up (default: the highest)

DEFAULT_DASHBOARDS: dict[str, dict[str, Any]] = {
    "system": {
        "title": "System",
        "variables": [{"name": "host", "default": ""}],
        "widgets": [
            _w("gauge", "CPU", "system_cpu_percent", "last", 0, 0, 6, 5, thresholds=_bands(80, 95), options=PCT),
            _w(
                "gauge",
                "Memory",
                "system_memory_used_percent",
                "last",
                6,
                0,
                6,
                5,
                thresholds=_bands(80, 95),
                options=PCT,
            ),
            _w("stat", "Load (1 m)", "system_load1", "last", 12, 0, 6, 5),
            _w(
                "gauge", "Disk", "system_disk_used_percent", "last", 18, 0, 6, 5, thresholds=_bands(85, 95), options=PCT
            ),
            _w("timeseries", "CPU %", "system_cpu_percent", "avg", 0, 5, 12, 7, thresholds=_bands(80, 95)),
            _w("timeseries", "Memory %", "system_memory_used_percent", "avg", 12, 5, 12, 7),
            _w("timeseries", "Network bytes/s", "system_network_bytes_total", "rate", 0, 12, 12, 7),
            _w("timeseries", "Disk I/O bytes/s", "system_disk_io_bytes_total", "rate", 12, 12, 12, 7),
        ],
    },
    "application": {
        "title": "Application",
        "variables": [{"name": "source", "default": ""}],
        "widgets": [
            _w("stat", "Requests/s", "http_request_rate", "last", 0, 0, 6, 5, options=SUM),
            _w(
                "stat",
                "p95 latency",
                "http_request_duration_seconds",
                "p95",
                6,
                0,
                6,
                5,
                thresholds=_bands(0.3, 1.0),
                options={"unit": "s"},
            ),
            _w("stat", "Error rate", "http_error_rate", "last", 12, 0, 6, 5, thresholds=_bands(1, 5), options=PCT),
            _w("stat", "In flight", "http_requests_in_flight", "last", 18, 0, 6, 5),
            _w("timeseries", "Request rate", "http_request_rate", "avg", 0, 5, 12, 7),
            _w(
                "timeseries",
                "p95 latency",
                "http_request_duration_seconds",
                "p95",
                12,
                5,
                12,
                7,
                thresholds=_bands(0.3, 1.0),
                options={"unit": "s"},
            ),
            _w(
                "table",
                "Slowest routes (p95)",
                "http_request_duration_seconds",
                "p95",
                0,
                12,
                12,
                7,
                options={**TOP10, "unit": "s"},
            ),
            _w("alert-list", "Firing alerts", "", "last", 12, 12, 12, 7),
        ],
    },
    "database": {
        "title": "Database",
        "variables": [],
        "widgets": [
            _w("stat", "Connections", "pg_connections", "last", 0, 0, 6, 5, options=SUM),
            _w("gauge", "Cache hit ratio", "pg_cache_hit_ratio", "last", 6, 0, 6, 5, options=PCT),
            _w("stat", "Commits/s", "pg_commits_total", "rate", 12, 0, 6, 5, options=SUM),
            _w("stat", "Database size", "pg_database_size_bytes", "last", 18, 0, 6, 5, options={"unit": "B"}),
            _w("timeseries", "Connections by state", "pg_connections", "avg", 0, 5, 12, 7),
            _w("timeseries", "Longest query (s)", "pg_longest_query_seconds", "max", 12, 5, 12, 7),
            _w("timeseries", "Rows read/s", "pg_rows_read_total", "rate", 0, 12, 12, 7),
            _w("timeseries", "Rows written/s", "pg_rows_written_total", "rate", 12, 12, 12, 7),
        ],
    },
    "cache": {
        "title": "Cache",
        "variables": [],
        "widgets": [
            _w("gauge", "Hit ratio", "redis_hit_ratio", "last", 0, 0, 6, 5, options=PCT),
            _w("stat", "Memory used", "redis_memory_used_bytes", "last", 6, 0, 6, 5, options={"unit": "B"}),
            _w("stat", "Ops/s", "redis_ops_per_second", "last", 12, 0, 6, 5),
            _w("stat", "Clients", "redis_clients", "last", 18, 0, 6, 5),
            _w("timeseries", "Hit ratio", "redis_hit_ratio", "avg", 0, 5, 12, 7),
            _w("timeseries", "PING", "redis_ping_seconds", "avg", 12, 5, 12, 7, options={"unit": "s"}),
        ],
    },
    "celery": {
        "title": "Celery",
        "variables": [{"name": "task", "default": ""}],
        "widgets": [
            _w("stat", "Queue depth", "celery_queue_depth", "last", 0, 0, 8, 5, thresholds=_bands(100, 1000)),
            _w("stat", "Workers", "celery_workers", "last", 8, 0, 8, 5),
            _w("stat", "Tasks/s", "celery_tasks_total", "rate", 16, 0, 8, 5, options=SUM),
            _w("timeseries", "Queue depth", "celery_queue_depth", "avg", 0, 5, 12, 7),
            _w("timeseries", "Task runtime", "celery_task_runtime_seconds", "avg", 12, 5, 12, 7, options={"unit": "s"}),
            _w(
                "table",
                "Failures by task",
                "celery_task_failures_total",
                "last",
                0,
                12,
                12,
                6,
                options={"label": "task"},
            ),
            _w("loadtest-summary", "Latest load test", "", "last", 12, 12, 12, 6),
        ],
    },
}


# Created when the first node_exporter series arrives (scraped or remote-written), as Grafana's
# "Node Exporter Full" dashboard is imported for node_exporter: one instance at a time.
NODE_KEY = "node"
NODE_DASHBOARD: dict[str, Any] = {
    "title": "Node",
    "variables": [{"name": "instance", "default": ""}],
    "widgets": [
        _w("stat", "Load (1 m)", "node_load1", "last", 0, 0, 6, 5),
        _w("stat", "Load (5 m)", "node_load5", "last", 6, 0, 6, 5),
        _w("stat", "Memory available", "node_memory_MemAvailable_bytes", "last", 12, 0, 6, 5, options={"unit": "B"}),
        _w("stat", "Up", "up", "last", 18, 0, 6, 5, labels={"job": "node"}),
        _w(
            "timeseries",
            "CPU seconds/s by mode",
            "node_cpu_seconds_total",
            "rate",
            0,
            5,
            12,
            7,
            options={"label": "mode"},
        ),
        _w("timeseries", "Load", "node_load1", "avg", 12, 5, 12, 7),
        _w(
            "timeseries",
            "Network received bytes/s",
            "node_network_receive_bytes_total",
            "rate",
            0,
            12,
            12,
            7,
            options={"unit": "B"},
        ),
        _w(
            "timeseries",
            "Filesystem available",
            "node_filesystem_avail_bytes",
            "last",
            12,
            12,
            12,
            7,
            options={"unit": "B"},
        ),
    ],
}


def _create(key: str, spec: dict[str, Any]) -> Dashboard | None:
    """The dashboard ``key``; None when another process created it first (``default_key`` is
    unique: two web processes see the first node_exporter series at once)."""
    try:
        with transaction.atomic():
            dashboard = Dashboard.objects.create(
                owner=None, shared=True, title=spec["title"], default_key=key, variables=spec["variables"]
            )
            Widget.objects.bulk_create([Widget(dashboard=dashboard, **clean_widget(w)) for w in spec["widgets"]])
    except IntegrityError:
        if Dashboard.objects.filter(default_key=key).exists():
            return None
        raise
    return dashboard


def ensure_node_dashboard() -> bool:
    """Create the shared "Node" dashboard if it does not exist yet; True when it was created."""
    if Dashboard.objects.filter(default_key=NODE_KEY).exists():
        return False
    return _create(NODE_KEY, NODE_DASHBOARD) is not None


def ensure_default_dashboards() -> int:
    """Create the shared System/Application/Database/Cache/Celery dashboards once (idempotent:
    keyed by ``default_key``; a user's later edits are kept). Returns how many were created."""
    existing = set(Dashboard.objects.filter(default_key__isnull=False).values_list("default_key", flat=True))
    created = 0
    for key, spec in DEFAULT_DASHBOARDS.items():
        if key in existing:
            continue
        if _create(key, spec) is not None:
            created += 1
    return created

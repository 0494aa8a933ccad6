"""Dashboards: who sees and edits what, widget validation, layout, copy/export/import, defaults,
and the overview's data."""

from __future__ import annotations

import logging
import math
import re
import time
from typing import Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet

from accounts.choices import Role
from accounts.roles import has_role, role_of
from dashboards.choices import METRIC_KINDS, RANGE_SECONDS, Aggregation, ThresholdLevel, TimeRange, WidgetKind
from dashboards.models import GRID_COLUMNS, Dashboard, Widget

log = logging.getLogger(__name__)

EXPORT_FORMAT = "seismo-dashboard/1"
METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")  # as the metrics store accepts
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
MAX_WIDGETS = 60
MAX_ROWS = 200
MAX_POINTS = 2000  # a chart never draws more than this many points per series


# Visibility and permissions ------------------------------------------------------------------


def visible_dashboards(user: Any) -> QuerySet[Dashboard]:
    """Shared dashboards and the user's own; nothing for users without a role."""
    if role_of(user) is None:
        return Dashboard.objects.none()
    return Dashboard.objects.filter(Q(shared=True) | Q(owner=user))


def can_create(user: Any) -> bool:
    return has_role(user, Role.EDITOR)


def can_edit(user: Any, dashboard: Dashboard) -> bool:
    """Editors edit shared dashboards and their own; admins edit everything; viewers nothing."""
    if has_role(user, Role.ADMIN):
        return True
    if not has_role(user, Role.EDITOR):
        return False
    return dashboard.shared or dashboard.owner_id == user.pk


# Validation ----------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _int_in(value: Any, low: int, high: int) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    return value if isinstance(value, int) and low <= value <= high else None


def clean_widget(data: dict[str, Any]) -> dict[str, Any]:
    """A widget's config, checked and normalised; raises ValidationError naming each bad field."""
    if not isinstance(data, dict):
        raise ValidationError({"widget": ["must be an object"]})
    errors: dict[str, list[str]] = {}
    kind = data.get("kind") or WidgetKind.TIMESERIES
    if kind not in WidgetKind.values:
        errors["kind"] = [f"must be one of {', '.join(WidgetKind.values)}"]
    metric = str(data.get("metric") or "").strip()
    if kind in METRIC_KINDS and not metric:
        errors["metric"] = ["a chart needs a metric"]
    elif metric and (len(metric) > 200 or not METRIC_NAME.match(metric)):
        errors["metric"] = ["not a valid metric name (letters, digits, _ and :)"]
    labels = data.get("labels") or {}
    if not isinstance(labels, dict):
        errors["labels"] = ["must be an object of label name → value"]
    else:
        bad = [k for k, v in labels.items() if not LABEL_NAME.match(str(k)) or not isinstance(v, str | int | float)]
        if bad or len(labels) > 20:
            errors["labels"] = [f"bad label(s): {', '.join(map(str, bad))}" if bad else "at most 20 labels"]
        labels = {str(k): str(v) for k, v in labels.items()}
    aggregation = data.get("aggregation") or Aggregation.AVG
    if aggregation not in Aggregation.values:
        errors["aggregation"] = [f"must be one of {', '.join(Aggregation.values)}"]
    thresholds = data.get("thresholds") or []
    clean_thresholds: list[dict[str, Any]] = []
    if not isinstance(thresholds, list) or len(thresholds) > 10:
        errors["thresholds"] = ["must be a list of at most 10 {value, level}"]
    else:
        for item in thresholds:
            value = _number(item.get("value")) if isinstance(item, dict) else None
            level = item.get("level", ThresholdLevel.WARNING) if isinstance(item, dict) else None
            if value is None or level not in ThresholdLevel.values:
                errors["thresholds"] = ["each threshold needs a number value and level warning or critical"]
                break
            clean_thresholds.append({"value": value, "level": level})
    options = data.get("options") or {}
    if not isinstance(options, dict):
        errors["options"] = ["must be an object"]
    title = str(data.get("title") or "")[:120]
    position = {}
    for field, low, high, default in (
        ("x", 0, GRID_COLUMNS - 1, 0),
        ("y", 0, 10_000, 0),
        ("w", 1, GRID_COLUMNS, 12),
        ("h", 1, 40, 6),
    ):
        raw = data.get(field, default)
        value = _int_in(raw, low, high)
        if value is None:
            errors[field] = [f"must be a whole number from {low} to {high}"]
        else:
            position[field] = value
    if "x" in position and "w" in position and position["x"] + position["w"] > GRID_COLUMNS:
        errors["w"] = [f"x + w must fit the {GRID_COLUMNS}-column grid"]
    if errors:
        raise ValidationError(errors)
    return {
        "kind": kind,
        "title": title,
        "metric": metric,
        "labels": labels,
        "aggregation": aggregation,
        "thresholds": clean_thresholds,
        "options": options,
        **position,
    }


def clean_variables(raw: Any) -> list[dict[str, str]]:
    """Dashboard variables: ``[{"name": "host", "default": ""}]`` (label names)."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, list) or len(raw) > 10:
        raise ValidationError({"variables": ["must be a list of at most 10 {name, default}"]})
    out = []
    for item in raw:
        name = item.get("name") if isinstance(item, dict) else item
        if not isinstance(name, str) or not LABEL_NAME.match(name):
            raise ValidationError({"variables": [f"{name!r} is not a label name"]})
        default = item.get("default", "") if isinstance(item, dict) else ""
        out.append({"name": name, "default": str(default or "")})
    return out


# Changes -------------------------------------------------------------------------------------


@transaction.atomic
def create_dashboard(owner: Any, fields: dict[str, Any], widgets: list[dict[str, Any]] | None = None) -> Dashboard:
    """A new dashboard owned by ``owner`` with already-validated fields and widgets."""
    dashboard = Dashboard.objects.create(owner=owner, **fields)
    Widget.objects.bulk_create([Widget(dashboard=dashboard, **clean_widget(w)) for w in widgets or []])
    return dashboard


@transaction.atomic
def update_dashboard(
    dashboard: Dashboard, fields: dict[str, Any], widgets: list[dict[str, Any]] | None = None
) -> Dashboard:
    """Change a dashboard's fields; a given widget list replaces all widgets (PUT semantics)."""
    for name, value in fields.items():
        setattr(dashboard, name, value)
    dashboard.save()
    if widgets is not None:
        dashboard.widgets.all().delete()
        Widget.objects.bulk_create([Widget(dashboard=dashboard, **clean_widget(w)) for w in widgets])
    return dashboard


def next_row(dashboard: Dashboard) -> int:
    """The first free row below every widget, where a new widget goes."""
    rows = [w.y + w.h for w in dashboard.widgets.all()]
    return max(rows, default=0)


def add_widget(dashboard: Dashboard, data: dict[str, Any]) -> Widget:
    """Validate and append a widget (at the bottom unless ``y`` is given)."""
    if dashboard.widgets.count() >= MAX_WIDGETS:
        raise ValidationError({"widget": [f"a dashboard holds at most {MAX_WIDGETS} widgets"]})
    if "y" not in data:
        data = {**data, "y": next_row(dashboard)}
    return Widget.objects.create(dashboard=dashboard, **clean_widget(data))


def update_widget(widget: Widget, data: dict[str, Any]) -> Widget:
    """Change a widget's config (its position stays unless given)."""
    merged = {**widget_config(widget), **data}
    for field, value in clean_widget(merged).items():
        setattr(widget, field, value)
    widget.save()
    return widget


def save_layout(dashboard: Dashboard, items: Any) -> int:
    """Persist gridstack positions ``[{"id", "x", "y", "w", "h"}]`` in one query per changed widget."""
    if not isinstance(items, list):
        raise ValidationError({"layout": ["must be a list of {id, x, y, w, h}"]})
    widgets = {w.pk: w for w in dashboard.widgets.all()}
    changed = []
    for item in items:
        if not isinstance(item, dict) or item.get("id") not in widgets:
            wanted = item.get("id") if isinstance(item, dict) else item
            raise ValidationError({"layout": [f"unknown widget {wanted!r}"]})
        widget = widgets[item["id"]]
        position = clean_widget({**widget_config(widget), **{k: item.get(k) for k in ("x", "y", "w", "h")}})
        widget.move(position["x"], position["y"], position["w"], position["h"])
        changed.append(widget)
    Widget.objects.bulk_update(changed, ["x", "y", "w", "h"])
    return len(changed)


def widget_config(widget: Widget) -> dict[str, Any]:
    return {
        "kind": widget.kind,
        "title": widget.title,
        "metric": widget.metric,
        "labels": widget.labels,
        "aggregation": widget.aggregation,
        "thresholds": widget.thresholds,
        "options": widget.options,
        "x": widget.x,
        "y": widget.y,
        "w": widget.w,
        "h": widget.h,
    }


def widget_payload(widgets: list[Widget], *, as_chart: bool = False) -> list[dict[str, Any]]:
    """What the page's script needs per widget (``as_chart``: the history page's line chart)."""
    out = []
    for widget in widgets:
        config = {"id": widget.pk, **widget_config(widget)}
        if as_chart and widget.kind in METRIC_KINDS:
            config["kind"] = WidgetKind.TIMESERIES
        out.append(config)
    return out


def export_dashboard(dashboard: Dashboard) -> dict[str, Any]:
    """A self-contained JSON document for keeping a dashboard in git (no ids, no owner)."""
    return {
        "format": EXPORT_FORMAT,
        "title": dashboard.title,
        "description": dashboard.description,
        "time_range": dashboard.time_range,
        "variables": dashboard.variables,
        "widgets": [widget_config(w) for w in dashboard.widgets.all()],
    }


@transaction.atomic
def import_dashboard(document: Any, owner: Any, *, shared: bool = False) -> Dashboard:
    """Create a dashboard from an exported document; raises ValidationError naming what is wrong."""
    if not isinstance(document, dict):
        raise ValidationError({"document": ["must be a JSON object (an exported dashboard)"]})
    if document.get("format", EXPORT_FORMAT) != EXPORT_FORMAT:
        raise ValidationError({"format": [f"expected {EXPORT_FORMAT!r}"]})
    title = str(document.get("title") or "").strip()
    if not title or len(title) > 120:
        raise ValidationError({"title": ["a title of 1 to 120 characters is required"]})
    time_range = document.get("time_range") or TimeRange.H1
    if time_range not in TimeRange.values:
        raise ValidationError({"time_range": [f"must be one of {', '.join(TimeRange.values)}"]})
    widgets = document.get("widgets") or []
    if not isinstance(widgets, list) or len(widgets) > MAX_WIDGETS:
        raise ValidationError({"widgets": [f"must be a list of at most {MAX_WIDGETS} widgets"]})
    cleaned = []
    for index, widget in enumerate(widgets):
        try:
            cleaned.append(clean_widget(widget))
        except ValidationError as exc:
            raise ValidationError({f"widgets[{index}]": _messages(exc)}) from exc
    dashboard = Dashboard.objects.create(
        owner=owner,
        shared=shared,
        title=title,
        description=str(document.get("description") or ""),
        time_range=time_range,
        variables=clean_variables(document.get("variables")),
    )
    Widget.objects.bulk_create([Widget(dashboard=dashboard, **c) for c in cleaned])
    return dashboard


def duplicate_dashboard(dashboard: Dashboard, owner: Any) -> Dashboard:
    """A personal copy (with all widgets) of a dashboard the user can see."""
    document = export_dashboard(dashboard)
    document["title"] = f"{dashboard.title} (copy)"[:120]
    return import_dashboard(document, owner, shared=False)


def _messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [
            f"{k}: {' '.join(str(m) for m in v.messages) if hasattr(v, 'messages') else v}"
            for k, v in exc.message_dict.items()
        ]
    return list(exc.messages)


def error_text(exc: ValidationError) -> str:
    """A one-line message for a form error."""
    return "; ".join(_messages(exc))


# Time ranges ---------------------------------------------------------------------------------


def resolve_range(params: Any, default: str) -> dict[str, Any]:
    """``?range=1h`` or ``?from=&to=`` (epoch seconds) → {"range", "from", "to", "step"}."""
    now = time.time()
    preset = params.get("range") or default
    start = _number(params.get("from"))
    end = _number(params.get("to"))
    if start is not None and end is not None and 0 < start < end:
        preset = "custom"
    else:
        if preset not in RANGE_SECONDS:
            preset = default if default in RANGE_SECONDS else TimeRange.H1
        end, start = now, now - RANGE_SECONDS[preset]
    return {"range": preset, "from": start, "to": end, "step": step_for(start, end)}


def step_for(start: float, end: float) -> int:
    """The query step that keeps a series at or under MAX_POINTS points."""
    return max(1, math.ceil((end - start) / MAX_POINTS))


def export_query(widget: Widget, span: dict[str, Any]) -> str:
    """The query string of the export API for what a widget shows over ``span``."""
    from urllib.parse import urlencode

    params = {"metric": widget.metric, **{f"label.{k}": v for k, v in widget.labels.items()}}
    params |= {"from": int(span["from"]), "to": int(span["to"]), "step": span["step"], "agg": widget.aggregation}
    return urlencode(params)


# Defaults ------------------------------------------------------------------------------------


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
                "http_request_duration_p95_ms",
                "last",
                6,
                0,
                6,
                5,
                thresholds=_bands(300, 1000),
                options={"unit": "ms"},
            ),
            _w("stat", "Error rate", "http_error_rate", "last", 12, 0, 6, 5, thresholds=_bands(1, 5), options=PCT),
            _w("stat", "In flight", "http_requests_in_flight", "last", 18, 0, 6, 5),
            _w("timeseries", "Request rate", "http_request_rate", "avg", 0, 5, 12, 7),
            _w(
                "timeseries",
                "p95 latency (ms)",
                "http_request_duration_p95_ms",
                "avg",
                12,
                5,
                12,
                7,
                thresholds=_bands(300, 1000),
            ),
            _w("table", "Slowest routes (p95 ms)", "http_request_duration_p95_ms", "max", 0, 12, 12, 7, options=TOP10),
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
            _w("timeseries", "PING (ms)", "redis_ping_ms", "avg", 12, 5, 12, 7),
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
            _w("timeseries", "Task runtime (ms)", "celery_task_runtime_ms", "avg", 12, 5, 12, 7),
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


def ensure_default_dashboards() -> int:
    """Create the shared System/Application/Database/Cache/Celery dashboards once (idempotent:
    keyed by ``default_key``; a user's later edits are kept). Returns how many were created."""
    existing = set(Dashboard.objects.filter(default_key__isnull=False).values_list("default_key", flat=True))
    created = 0
    for key, spec in DEFAULT_DASHBOARDS.items():
        if key in existing:
            continue
        with transaction.atomic():
            dashboard = Dashboard.objects.create(
                owner=None, shared=True, title=spec["title"], default_key=key, variables=spec["variables"]
            )
            Widget.objects.bulk_create([Widget(dashboard=dashboard, **clean_widget(w)) for w in spec["widgets"]])
        created += 1
    return created


# Overview ------------------------------------------------------------------------------------

# (key, title, stream topic, metric, how the card combines several series, unit)
OVERVIEW_CARDS: list[tuple[str, str, str, str, str, str]] = [
    ("cpu", "CPU", "system-metrics", "system_cpu_percent", "max", "%"),
    ("memory", "Memory", "system-metrics", "system_memory_used_percent", "max", "%"),
    ("request_rate", "Request rate", "network-metrics", "http_request_rate", "sum", "req/s"),
    ("p95_latency", "p95 latency", "network-metrics", "http_request_duration_p95_ms", "max", "ms"),
    ("error_rate", "Error rate", "network-metrics", "http_error_rate", "max", "%"),
    ("db_connections", "DB connections", "database-metrics", "pg_connections", "sum", ""),
    ("cache_hit_ratio", "Cache hit ratio", "cache-metrics", "redis_hit_ratio", "max", "%"),
]


def component_states(raw: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Health checks → healthy / degraded / failing (slow answers and late beats are degraded)."""
    out = {}
    for name, state in raw.items():
        if state.get("status") != "up":
            health = "failing"
        elif (state.get("latency_ms") or 0) > 250 or (state.get("age_seconds") or 0) > 30:
            health = "degraded"
        else:
            health = "healthy"
        out[name] = {**state, "health": health}
    return out


def combine(values: list[float], how: str) -> float | None:
    """Several series of one metric as one card value (the same rule overview.js applies live)."""
    if not values:
        return None
    return sum(values) if how == "sum" else max(values)


def overview_cards() -> list[dict[str, Any]]:
    """The key-metric cards with their newest stored values (one query for all of them)."""
    wanted = {card[3] for card in OVERVIEW_CARDS}
    try:
        from monitoring import services as monitoring_services

        latest = [s for s in monitoring_services.latest_samples(max_age_seconds=300) if s["metric"] in wanted]
    except Exception:  # the page must render even when the metrics store cannot answer
        log.warning("overview cards: no stored values", exc_info=True)
        latest = []
    cards = []
    for key, title, topic, metric, how, unit in OVERVIEW_CARDS:
        value = combine([s["value"] for s in latest if s["metric"] == metric], how)
        cards.append(
            {"key": key, "title": title, "topic": topic, "metric": metric, "combine": how, "unit": unit, "value": value}
        )
    return cards


def firing_alerts(limit: int = 20) -> list[Any]:
    """Firing alerts, newest first, when the alerts app has its models (empty otherwise)."""
    try:
        alert = apps.get_model("alerts", "Alert")
    except LookupError:
        return []
    try:
        return list(alert.objects.filter(state="firing").select_related("rule").order_by("-id")[:limit])
    except Exception:
        log.debug("alerts not readable", exc_info=True)
        return []


def recent_events(limit: int = 10) -> list[dict[str, Any]]:
    """Recent alert changes and load-test runs, newest first (each app only when present)."""
    events: list[dict[str, Any]] = []
    sources = (("alerts", "Alert", "alert", ["rule"]), ("loadtest", "LoadTestRun", "load test", []))
    for app_label, model_name, kind, related in sources:
        try:
            model = apps.get_model(app_label, model_name)
            queryset = model.objects.select_related(*related) if related else model.objects.all()
            rows = list(queryset.order_by("-id")[:limit])
        except Exception:  # that app is not built yet, or its table differs: skip it
            log.debug("no %s events", kind, exc_info=True)
            continue
        for row in rows:
            stamps = (getattr(row, f, None) for f in ("updated_at", "started_at", "created_at"))
            when = next((s for s in stamps if s), None)
            events.append(
                {
                    "kind": kind,
                    "text": str(row),
                    "state": getattr(row, "state", getattr(row, "status", "")),
                    "when": when,
                }
            )
    events.sort(key=lambda e: e["when"].timestamp() if e["when"] else 0, reverse=True)
    return events[:limit]

"""What the overview shows: component health, key-metric cards, firing alerts, recent events."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from alerts.choices import AlertState
from alerts.models import Alert
from loadtest.models import LoadTestRun
from monitoring import health, topics
from monitoring.store.query import histogram_quantiles, latest_samples

log = logging.getLogger(__name__)

# Above these a component that answers is shown degraded rather than healthy.
SLOW_ANSWER_MS = 250
LATE_BEAT_SECONDS = 30

# (key, title, stream topic, metric, how the card combines several series, unit)
OVERVIEW_CARDS: list[tuple[str, str, str, str, str, str]] = [
    ("cpu", "CPU", topics.SYSTEM, "system_cpu_percent", "max", "%"),
    ("memory", "Memory", topics.SYSTEM, "system_memory_used_percent", "max", "%"),
    ("request_rate", "Request rate", topics.NETWORK, "http_request_rate", "sum", "req/s"),
    ("p95_latency", "p95 latency", topics.NETWORK, "http_request_duration_seconds", "p95", "s"),
    ("error_rate", "Error rate", topics.NETWORK, "http_error_rate", "max", "%"),
    ("db_connections", "DB connections", topics.DATABASE, "pg_connections", "sum", ""),
    ("cache_hit_ratio", "Cache hit ratio", topics.CACHE, "redis_hit_ratio", "max", "%"),
]


def component_states(raw: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Health checks → healthy / degraded / failing (slow answers and late beats are degraded)."""
    out = {}
    for name, state in raw.items():
        if state.get("status") != "up":
            health = "failing"
        elif (state.get("latency_ms") or 0) > SLOW_ANSWER_MS or (state.get("age_seconds") or 0) > LATE_BEAT_SECONDS:
            health = "degraded"
        else:
            health = "healthy"
        out[name] = {**state, "health": health}
    return out


def pending_components() -> dict[str, dict[str, Any]]:
    """Every component as "checking", for the first render before its health fragment arrives."""
    return {name: {"health": "checking"} for name in health.COMPONENTS}


def combine(values: list[float], how: str) -> float | None:
    """Several series of one metric as one card value (the same rule overview.js applies live)."""
    if not values:
        return None
    return sum(values) if how == "sum" else max(values)


def overview_cards() -> list[dict[str, Any]]:
    """The key-metric cards with their newest stored values (one query for all of them)."""
    wanted = {card[3] for card in OVERVIEW_CARDS}
    try:
        latest = latest_samples(max_age_seconds=300, metrics=sorted(wanted))
    except Exception:  # the page must render even when the metrics store cannot answer
        log.warning("overview cards: no stored values", exc_info=True)
        latest = []
    cards = []
    for key, title, topic, metric, how, unit in OVERVIEW_CARDS:
        if how in HISTOGRAM_QUANTILES:
            value = _histogram_quantile(metric, HISTOGRAM_QUANTILES[how])
        else:
            value = combine([s["value"] for s in latest if s["metric"] == metric], how)
        cards.append(
            {"key": key, "title": title, "topic": topic, "metric": metric, "combine": how, "unit": unit, "value": value}
        )
    return cards


# A card over a histogram (``<metric>_bucket``) shows this quantile of the last five minutes.
HISTOGRAM_QUANTILES = {"p95": 0.95}


def _histogram_quantile(metric: str, q: float) -> float | None:
    """The highest q-quantile across the histogram's label sets over the last five minutes."""
    end = datetime.now(UTC)
    try:
        groups = histogram_quantiles(metric, None, end - timedelta(minutes=5), end, 300, q)
    except Exception:  # the page must render even when the metrics store cannot answer
        log.warning("overview card %s: no value", metric, exc_info=True)
        return None
    values = [v for group in groups for _, v in group["points"] if v is not None]
    return max(values) if values else None


def firing_alerts(limit: int = 20) -> list[Alert]:
    """Firing alerts, newest first."""
    return list(Alert.objects.filter(state=AlertState.FIRING).select_related("rule").order_by("-id")[:limit])


def recent_events(limit: int = 10) -> list[dict[str, Any]]:
    """Recent alert changes and load-test runs, newest first (one query each)."""
    rows: list[tuple[str, Any]] = [
        *(("alert", a) for a in Alert.objects.select_related("rule").order_by("-id")[:limit]),
        *(("load test", r) for r in LoadTestRun.objects.order_by("-id")[:limit]),
    ]
    events = []
    for kind, row in rows:
        stamps = (getattr(row, f, None) for f in ("updated_at", "started_at", "created_at"))
        events.append(
            {
                "kind": kind,
                # An alert reads as its rule's name with its labels as chips, never a dict.
                "text": row.rule.name if isinstance(row, Alert) else str(row),
                "labels": getattr(row, "labels", None) if isinstance(row, Alert) else None,
                "state": getattr(row, "state", getattr(row, "status", "")),
                "when": next((s for s in stamps if s), None),
            }
        )
    events.sort(key=lambda e: e["when"].timestamp() if e["when"] else 0, reverse=True)
    return events[:limit]

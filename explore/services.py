"""Explore: the catalogue search, label values, the view state in a URL, and adding a query to a
dashboard. Reads the metrics store; writes only through dashboards.services."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.db import connection
from django.db.models import Count, QuerySet

from dashboards.choices import TimeRange
from monitoring import rules
from monitoring.choices import FAMILY_TOPIC, POINT_AGGREGATIONS, Aggregation, Family
from monitoring.models import Metric, Series

MAX_QUERIES = 6  # queries on one Explore chart (each is one /api/v1/query call)
SEARCH_LIMIT = 20  # suggestions shown while typing
LABEL_VALUES_LIMIT = 200  # values offered per label name (a picker, not an export)
DEFAULT_RANGE = TimeRange.H1


@dataclass
class ExploreQuery:
    """One line of the Explore view: a metric, label matchers and an aggregation."""

    metric: str
    labels: dict[str, str] = field(default_factory=dict)
    agg: str = Aggregation.AVG

    def as_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "labels": self.labels, "agg": self.agg}


# The view state in the address ------------------------------------------------------------------
# ?m0=metric&a0=avg&l0.host=web1&m1=…&range=1h (or from=&to=) &step=60 — short, readable, and
# the same shape for one query (a link from a metric name) and for several.


def explore_url(metric: str, labels: dict[str, str] | None = None, agg: str | None = None, **extra: Any) -> str:
    """The Explore address showing one metric's query (what every metric name links to)."""
    params: dict[str, Any] = {"m0": metric}
    if agg and agg != Aggregation.AVG:
        params["a0"] = agg
    params |= {f"l0.{k}": v for k, v in sorted((labels or {}).items())}
    params |= {k: v for k, v in extra.items() if v not in (None, "")}
    return "/explore/?" + urlencode(params)


def parse_queries(params: Any) -> list[ExploreQuery]:
    """The queries an Explore address holds; malformed entries are dropped, not fatal."""
    out: list[ExploreQuery] = []
    for index in range(MAX_QUERIES):
        metric = (params.get(f"m{index}") or "").strip()
        if not metric or not rules.NAME_RE.match(metric):
            continue
        prefix = f"l{index}."
        labels = {
            k[len(prefix) :]: v
            for k, v in params.items()
            if k.startswith(prefix) and rules.LABEL_RE.match(k[len(prefix) :]) and len(v) <= rules.MAX_LABEL_VALUE
        }
        agg = params.get(f"a{index}") or Aggregation.AVG
        out.append(ExploreQuery(metric, dict(sorted(labels.items())[: rules.MAX_LABELS]), agg))
    return out


def parse_step(raw: Any) -> int | None:
    """A step in whole seconds, or None for "auto" (anything else is treated as auto)."""
    try:
        step = int(raw)
    except (TypeError, ValueError):
        return None
    return step if 0 < step <= 86_400 else None


# Catalogue --------------------------------------------------------------------------------------


def _describe(metric: Metric, series: int | None = None) -> dict[str, Any]:
    return {
        "name": metric.name,
        "unit": metric.unit,
        "kind": metric.kind,
        "help": metric.help,
        "family": metric.family,
        "topic": FAMILY_TOPIC.get(metric.family, FAMILY_TOPIC[Family.CUSTOM]),
        **({"series": series} if series is not None else {}),
    }


def search_metrics(text: str, limit: int = SEARCH_LIMIT) -> list[dict[str, Any]]:
    """Metrics whose name (or help) contains ``text``; names that start with it come first."""
    text = text.strip()[:200]
    queryset: QuerySet[Metric] = Metric.objects.filter(enabled=True)
    if text:
        starts = list(queryset.filter(name__istartswith=text).order_by("name")[:limit])
        rest = limit - len(starts)
        others = (
            list(queryset.filter(name__icontains=text).exclude(name__istartswith=text).order_by("name")[:rest])
            if rest > 0
            else []
        )
        if len(starts) + len(others) < limit:
            seen = {m.pk for m in starts + others}
            others += [
                m for m in queryset.filter(help__icontains=text).order_by("name")[: limit * 2] if m.pk not in seen
            ][: limit - len(starts) - len(others)]
        metrics = starts + others
    else:
        metrics = list(queryset.order_by("name")[:limit])
    counts = dict(
        Series.objects.filter(metric__in=metrics)
        .values_list("metric_id")
        .annotate(n=Count("id"))
        .values_list("metric_id", "n")
    )
    return [_describe(m, counts.get(m.pk, 0)) for m in metrics]


def describe_metrics(names: list[str]) -> dict[str, dict[str, Any]]:
    """Unit, kind, help and stream topic of the named metrics (those in the catalogue)."""
    return {m.name: _describe(m) for m in Metric.objects.filter(name__in=set(names))}


def label_values(metric: str, limit: int = LABEL_VALUES_LIMIT) -> dict[str, list[str]]:
    """Each label name of the metric's series with the values that exist (sorted, capped)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT key, array_agg(value ORDER BY value) FROM ("
            " SELECT DISTINCT kv.key, kv.value FROM monitoring_series s"
            " JOIN monitoring_metric m ON m.id = s.metric_id, jsonb_each_text(s.labels) kv"
            " WHERE m.name = %s) x GROUP BY key ORDER BY key",
            [metric],
        )
        return {key: values[:limit] for key, values in cursor.fetchall()}


# The page's initial data ---------------------------------------------------------------------


def initial_data(params: Any) -> dict[str, Any]:
    """Everything the Explore script needs before its first query, read from the one home of
    each concept (aggregations, ranges, the point cap, stream topics)."""
    queries = parse_queries(params)
    return {
        "queries": [q.as_dict() for q in queries],
        "metrics": describe_metrics([q.metric for q in queries]),
        "range": params.get("range") or ("custom" if params.get("from") and params.get("to") else DEFAULT_RANGE),
        "from": params.get("from") or None,
        "to": params.get("to") or None,
        "step": parse_step(params.get("step")),
        "live": params.get("live") != "0",
        "aggregations": Aggregation.choices,
        "point_aggregations": list(POINT_AGGREGATIONS),
        "defaults": {"aggregation": Aggregation.AVG, "range": DEFAULT_RANGE},
        "ranges": [[r.value, r.label, r.seconds] for r in TimeRange],
        "max_points": rules.MAX_POINTS,
        "max_queries": MAX_QUERIES,
        "urls": {
            "metrics": "/explore/metrics/",
            "labels": "/explore/labels/",
            "query": "/api/v1/query/",
            "export": "/api/v1/export/",
        },
    }

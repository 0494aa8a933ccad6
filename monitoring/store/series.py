"""Series identity: (metric, canonical labels) → series id, created on first sight and cached."""

from __future__ import annotations

import threading
from collections.abc import Iterable

import orjson
from django.db import connection

from monitoring.catalog import BY_NAME
from monitoring.models import Metric, Series


def labels_key(labels: dict[str, str]) -> str:
    """The canonical text of a label set (sorted keys): two equal sets always give one key."""
    return orjson.dumps(labels, option=orjson.OPT_SORT_KEYS).decode()


class _SeriesCache:
    """(metric, labels_key) → series id, per process. Ids never change, so no invalidation."""

    def __init__(self, limit: int = 200_000) -> None:
        self.ids: dict[tuple[str, str], int] = {}
        self.limit = limit
        self.lock = threading.Lock()

    def get_many(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
        ids = self.ids
        return {key: ids[key] for key in keys if key in ids}

    def put_many(self, values: dict[tuple[str, str], int]) -> None:
        with self.lock:
            if len(self.ids) + len(values) > self.limit:
                self.ids.clear()
            self.ids.update(values)

    def clear(self) -> None:
        self.ids.clear()


series_cache = _SeriesCache()


def resolve_series(wanted: dict[tuple[str, str], dict[str, str]]) -> dict[tuple[str, str], int]:
    """Series ids for (metric, labels_key) pairs, creating metrics and series not seen before."""
    found = series_cache.get_many(wanted)
    missing = [key for key in wanted if key not in found]
    if not missing:
        return found
    names = {name for name, _ in missing}
    metric_ids = dict(Metric.objects.filter(name__in=names).values_list("name", "id"))
    new_metrics = names - metric_ids.keys()
    if new_metrics:
        Metric.objects.bulk_create([_new_metric(name) for name in new_metrics], ignore_conflicts=True)
        metric_ids = dict(Metric.objects.filter(name__in=names).values_list("name", "id"))
    Series.objects.bulk_create(
        [Series(metric_id=metric_ids[name], labels=wanted[(name, key)], labels_key=key) for name, key in missing],
        ignore_conflicts=True,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.id, m.name, s.labels_key FROM monitoring_series s JOIN monitoring_metric m ON m.id = s.metric_id "
            "JOIN unnest(%s::bigint[], %s::text[]) AS w(metric_id, labels_key) "
            "ON s.metric_id = w.metric_id AND s.labels_key = w.labels_key",
            [[metric_ids[name] for name, _ in missing], [key for _, key in missing]],
        )
        created = {(name, key): sid for sid, name, key in cursor.fetchall()}
    series_cache.put_many(created)
    found.update(created)
    return found


def _new_metric(name: str) -> Metric:
    known = BY_NAME.get(name)
    if known is None:
        return Metric(name=name)
    return Metric(name=name, family=known.family, kind=known.kind, unit=known.unit, help=known.help)

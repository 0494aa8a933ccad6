"""Series identity: (metric, canonical labels) → series id, created on first sight and cached."""

from __future__ import annotations

import threading
from collections.abc import Iterable

import orjson
from django.db import connection

from monitoring.catalog import BY_NAME
from monitoring.models import Metric


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
    # One statement creates what is new and reads back every id. The batch travels as one JSON
    # document: psycopg quotes a text[] element by element (JSON keys are full of quotes), which
    # cost ~0.4 s per 2,000 new series; jsonb_to_recordset parses it server-side in a millisecond.
    # labels_key is the canonical JSON of the labels, so it is also their jsonb value.
    batch = sorted((metric_ids[name], key) for name, key in missing)  # one lock order for all writers
    document = orjson.dumps([{"metric_id": mid, "labels_key": key} for mid, key in batch]).decode()
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH w AS (SELECT * FROM jsonb_to_recordset(%s::jsonb) AS w(metric_id bigint, labels_key text)), "
            "ins AS (INSERT INTO monitoring_series (metric_id, labels, labels_key, created_at) "
            "SELECT metric_id, labels_key::jsonb, labels_key, now() FROM w "
            "ON CONFLICT (metric_id, labels_key) DO NOTHING RETURNING id, metric_id, labels_key) "
            "SELECT id, metric_id, labels_key FROM ins UNION ALL "
            "SELECT s.id, s.metric_id, s.labels_key FROM monitoring_series s JOIN w USING (metric_id, labels_key)",
            [document],
        )
        rows = cursor.fetchall()
        if len(rows) < len(batch):
            # A concurrent writer committed some of these after this statement's snapshot.
            cursor.execute(
                "SELECT s.id, s.metric_id, s.labels_key FROM monitoring_series s JOIN "
                "jsonb_to_recordset(%s::jsonb) AS w(metric_id bigint, labels_key text) USING (metric_id, labels_key)",
                [document],
            )
            rows = cursor.fetchall()
    name_of = {mid: name for name, mid in metric_ids.items()}
    created = {(name_of[mid], key): sid for sid, mid, key in rows}
    series_cache.put_many(created)
    found.update(created)
    return found


def _new_metric(name: str) -> Metric:
    known = BY_NAME.get(name)
    if known is None:
        return Metric(name=name)
    return Metric(name=name, family=known.family, kind=known.kind, unit=known.unit, help=known.help)

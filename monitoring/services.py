"""The metrics pipeline: ingest, storage, query, export, rollups and retention.

Writes go through COPY into a day-partitioned ``monitoring_sample`` table keyed by
(series_id, ts). A batch is first copied straight in inside a savepoint; only when a duplicate
(series, ts) appears does it fall back to a staging table + ``ON CONFLICT DO NOTHING``, so the
common case pays for no deduplication. Series ids come from an in-process cache keyed by
(metric, canonical labels JSON).
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet

from lib import sketch
from lib.api import ApiError
from monitoring.catalog import BY_NAME
from monitoring.choices import FAMILY_TOPIC, Family
from monitoring.models import Metric, Series
from monitoring.signals import samples_ingested

logger = logging.getLogger(__name__)

NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]{0,199}$")
LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,99}$")
MAX_LABELS = 20
METRIC_NAME_RULE = "metric must match [a-zA-Z_:][a-zA-Z0-9_:]* (at most 200 characters)"
MAX_LABEL_VALUE = 256
MAX_FUTURE_SECONDS = 600
MAX_POINTS = 2000
MAX_SERIES_PER_QUERY = 500
AGGREGATIONS = ("avg", "min", "max", "sum", "count", "last", "p50", "p95", "p99", "rate")
TIER_SECONDS = {"raw": 1, "1m": 60, "1h": 3600}


def raw_retention_days() -> int:
    return settings.SEISMO_RETENTION_RAW_DAYS


# Series and partitions caches -------------------------------------------------------------


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
_known_partitions: set[date] = set()


def labels_key(labels: dict[str, str]) -> str:
    return orjson.dumps(labels, option=orjson.OPT_SORT_KEYS).decode()


def partition_name(day: date) -> str:
    return f"monitoring_sample_p{day:%Y%m%d}"


def ensure_partitions(days: Iterable[date]) -> None:
    """Create the daily partitions a batch needs (each once per process)."""
    for day in sorted(set(days) - _known_partitions):
        nxt = day + timedelta(days=1)
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    f"CREATE TABLE IF NOT EXISTS {partition_name(day)} PARTITION OF monitoring_sample "
                    f"FOR VALUES FROM ('{day.isoformat()}') TO ('{nxt.isoformat()}')"
                )
        except Exception as exc:  # a concurrent creator won the race
            if "already exists" not in str(exc):
                raise
        # Remember it only once committed: a rolled-back batch takes its partition with it.
        transaction.on_commit(lambda day=day: _known_partitions.add(day))


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


# Writing -------------------------------------------------------------------------------------


def copy_rows(rows: list[tuple[int, datetime, float]]) -> None:
    """Store (series_id, ts, value) rows; a (series, ts) already stored is kept, not doubled."""
    if not rows:
        return
    ensure_partitions({ts.date() for _, ts, _ in rows})
    with transaction.atomic():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                _copy(cursor.cursor, "monitoring_sample", rows)
        except psycopg.errors.UniqueViolation:
            with connection.cursor() as cursor:
                cursor.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS sample_stage "
                    "(series_id bigint, ts timestamptz, value double precision) ON COMMIT DELETE ROWS"
                )
                _copy(cursor.cursor, "sample_stage", rows)
                cursor.execute(
                    "INSERT INTO monitoring_sample (series_id, ts, value) "
                    "SELECT DISTINCT ON (series_id, ts) series_id, ts, value FROM sample_stage "
                    "ON CONFLICT (series_id, ts) DO NOTHING"
                )


def _copy(raw: psycopg.Cursor[Any], table: str, rows: list[tuple[int, datetime, float]]) -> None:
    with raw.copy(f"COPY {table} (series_id, ts, value) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(["int8", "timestamptz", "float8"])
        for row in rows:
            copy.write_row(row)


@dataclass
class IngestResult:
    accepted: int
    series: int


def _parse_ts(raw: Any, now: float) -> float:
    if raw is None:
        return now
    if isinstance(raw, bool):
        raise ValueError("ts must be RFC 3339 or epoch seconds")
    if isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, str):
        try:
            value = float(raw)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError("ts must be RFC 3339 or epoch seconds") from None
            if parsed.tzinfo is None:
                raise ValueError("ts needs a time zone (e.g. Z)") from None
            value = parsed.timestamp()
    else:
        raise ValueError("ts must be RFC 3339 or epoch seconds")
    if not math.isfinite(value):
        raise ValueError("ts must be finite")
    return value


def validate_samples(
    samples: Any, now: float | None = None
) -> tuple[list[tuple[str, dict[str, str], str, float, float]], list[dict[str, Any]]]:
    """Check every sample; return the valid rows and one error per invalid sample (by index).

    A tight loop rather than per-sample serializers: this is the ingest hot path.
    """
    if not isinstance(samples, list):
        raise ApiError("`samples` must be a list.", code="invalid", details={"field": "samples"})
    now = time.time() if now is None else now
    oldest = now - raw_retention_days() * 86400
    newest = now + MAX_FUTURE_SECONDS
    rows: list[tuple[str, dict[str, str], str, float, float]] = []
    errors: list[dict[str, Any]] = []
    name_ok = NAME_RE.match
    label_ok = LABEL_RE.match
    for index, sample in enumerate(samples):
        if not isinstance(sample, dict):
            errors.append({"index": index, "rule": "type", "message": "each sample must be an object"})
            continue
        name = sample.get("metric")
        if not isinstance(name, str) or not name_ok(name):
            errors.append(
                {"index": index, "rule": "metric_name", "message": "metric must match [a-zA-Z_:][a-zA-Z0-9_:]* (≤200)"}
            )
            continue
        labels = sample.get("labels") or {}
        if not isinstance(labels, dict):
            errors.append({"index": index, "rule": "labels", "message": "labels must be an object"})
            continue
        if len(labels) > MAX_LABELS:
            errors.append({"index": index, "rule": "label_count", "message": f"at most {MAX_LABELS} labels"})
            continue
        bad_label = None
        for key, value in labels.items():
            if not label_ok(key):
                bad_label = ("label_name", f"label name {key[:50]!r} must match [a-zA-Z_][a-zA-Z0-9_]* (≤100)")
                break
            if not isinstance(value, str):
                bad_label = ("label_value", f"label {key!r} must be a string")
                break
            if len(value) > MAX_LABEL_VALUE:
                bad_label = ("label_value", f"label {key!r} is longer than {MAX_LABEL_VALUE} characters")
                break
        if bad_label:
            errors.append({"index": index, "rule": bad_label[0], "message": bad_label[1]})
            continue
        value = sample.get("value")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            errors.append({"index": index, "rule": "value", "message": "value must be a finite number"})
            continue
        try:
            ts = _parse_ts(sample.get("ts"), now)
        except ValueError as exc:
            errors.append({"index": index, "rule": "ts", "message": str(exc)})
            continue
        if ts > newest:
            errors.append({"index": index, "rule": "ts_future", "message": "ts is more than 10 minutes ahead"})
            continue
        if ts < oldest:
            errors.append(
                {
                    "index": index,
                    "rule": "ts_past",
                    "message": f"ts is older than the {raw_retention_days()}-day retention",
                }
            )
            continue
        rows.append((name, labels, labels_key(labels) if labels else "{}", ts, float(value)))
    return rows, errors


def _store(rows: list[tuple[str, dict[str, str], str, float, float]], topic: str) -> int:
    wanted = {(name, key): labels for name, labels, key, _, _ in rows}
    ids = resolve_series(wanted)
    from_ts = datetime.fromtimestamp
    copy_rows([(ids[(name, key)], from_ts(ts, UTC), value) for name, _, key, ts, value in rows])
    latest: dict[int, tuple[float, float]] = {}
    for name, _, key, ts, value in rows:
        sid = ids[(name, key)]
        if sid not in latest or latest[sid][0] <= ts:
            latest[sid] = (ts, value)
    by_id = {sid: key for key, sid in ids.items()}

    def after_commit() -> None:
        metrics = {name for name, _ in wanted}
        samples_ingested.send(sender=Series, series_ids=list(latest), metrics=metrics, latest=latest)
        from lib.realtime import publish_samples

        shown = [
            {"metric": by_id[sid][0], "labels": wanted[by_id[sid]], "value": value}
            for sid, (_, value) in list(latest.items())[:500]
        ]
        try:
            publish_samples(topic, max(ts for ts, _ in latest.values()), shown)
        except Exception as exc:  # the stream is best effort; stored data is what counts
            logger.warning("publishing %s failed: %s", topic, exc)

    transaction.on_commit(after_commit)
    return len(ids)


def ingest_samples(samples: Any, *, source: str = "api", now: float | None = None) -> IngestResult:
    """Validate and store an API batch atomically: all samples, or none and a 400 per index."""
    rows, errors = validate_samples(samples, now)
    if errors:
        raise ApiError(
            f"{len(errors)} of {len(samples)} samples are invalid; nothing was stored "
            f"(first: sample {errors[0]['index']}: {errors[0]['message']}).",
            code="invalid_samples",
            details={"errors": errors[:100], "invalid": len(errors)},
        )
    with transaction.atomic():
        series = _store(rows, FAMILY_TOPIC[Family.CUSTOM]) if rows else 0
    return IngestResult(accepted=len(rows), series=series)


def record_samples(rows: Iterable[tuple[str, dict[str, str], float, float]], topic: str = "basic-metrics") -> int:
    """Store samples from Seismo's own producers (collectors, middleware, load tests)."""
    prepared = [
        (name, labels, labels_key(labels) if labels else "{}", ts, float(value)) for name, labels, ts, value in rows
    ]
    if not prepared:
        return 0
    with transaction.atomic():
        _store(prepared, topic)
    return len(prepared)


# Reading -------------------------------------------------------------------------------------


def series_matching(metric: str, matchers: dict[str, str] | None = None) -> QuerySet[Series]:
    queryset = Series.objects.filter(metric__name=metric)
    if matchers:
        queryset = queryset.filter(labels__contains=matchers)
    return queryset.order_by("id")


def choose_tier(start: datetime, end: datetime, now: datetime | None = None) -> str:
    """Raw samples up to a day, 1-minute rollups up to 31 days, hourly rollups beyond —
    and never raw data older than its retention."""
    now = now or datetime.now(UTC)
    span = (end - start).total_seconds()
    if span <= 86400 and start >= now - timedelta(days=raw_retention_days()):
        return "raw"
    if span <= 31 * 86400:
        return "1m"
    return "1h"


def pick_step(start: datetime, end: datetime, tier: str, step: int | None) -> int:
    resolution = TIER_SECONDS[tier]
    span = max(1, (end - start).total_seconds())
    needed = math.ceil(span / MAX_POINTS)
    chosen = max(step or 0, needed, resolution)
    return math.ceil(chosen / resolution) * resolution


_RAW_AGG = {
    "avg": "avg(value)",
    "min": "min(value)",
    "max": "max(value)",
    "sum": "sum(value)",
    "count": "count(*)::float8",
    "last": "(array_agg(value ORDER BY ts DESC))[1]",
    "p50": "percentile_cont(0.5) WITHIN GROUP (ORDER BY value)",
    "p95": "percentile_cont(0.95) WITHIN GROUP (ORDER BY value)",
    "p99": "percentile_cont(0.99) WITHIN GROUP (ORDER BY value)",
    "rate": "CASE WHEN count(*) > 1 THEN greatest((array_agg(value ORDER BY ts DESC))[1] "
    "- (array_agg(value ORDER BY ts))[1], 0) / nullif(extract(epoch FROM max(ts) - min(ts)), 0) END",
}
_ROLLUP_AGG = {
    "avg": "sum(sum) / nullif(sum(count), 0)",
    "min": "min(min)",
    "max": "max(max)",
    "sum": "sum(sum)",
    "count": "sum(count)::float8",
    "last": "(array_agg(last ORDER BY bucket DESC))[1]",
    "rate": "CASE WHEN count(*) > 1 THEN greatest((array_agg(last ORDER BY bucket DESC))[1] "
    "- (array_agg(last ORDER BY bucket))[1], 0) / nullif(extract(epoch FROM max(bucket) - min(bucket)), 0) END",
}
_QUANTILE = {"p50": 0.5, "p95": 0.95, "p99": 0.99}
_TIER_TABLE = {
    "raw": ("monitoring_sample", "ts"),
    "1m": ("monitoring_rollup_1m", "bucket"),
    "1h": ("monitoring_rollup_1h", "bucket"),
}


def _check_agg(agg: str) -> None:
    if agg not in AGGREGATIONS:
        raise ApiError(f"agg must be one of {', '.join(AGGREGATIONS)}.", details={"field": "agg"})


def query(
    metric: str,
    matchers: dict[str, str] | None,
    start: datetime,
    end: datetime,
    step: int | None = None,
    agg: str = "avg",
) -> list[dict[str, Any]]:
    """Points per matching series, bucketed by ``step`` (≤ 2,000 per series)."""
    _check_agg(agg)
    if end <= start:
        raise ApiError("`from` must be before `to`.", details={"field": "from"})
    series = list(series_matching(metric, matchers)[:MAX_SERIES_PER_QUERY])
    if not series:
        return []
    tier = choose_tier(start, end)
    step = pick_step(start, end, tier, step)
    ids = [s.id for s in series]
    points = _bucketed(tier, ids, start, end, step, agg)
    return [{"labels": s.labels, "points": points.get(s.id, [])} for s in series]


def _bucketed(
    tier: str, ids: list[int], start: datetime, end: datetime, step: int, agg: str
) -> dict[int, list[list[float]]]:
    table, time_col = {
        "raw": ("monitoring_sample", "ts"),
        "1m": ("monitoring_rollup_1m", "bucket"),
        "1h": ("monitoring_rollup_1h", "bucket"),
    }[tier]
    bucket = f"date_bin(make_interval(secs => %s), {time_col}, 'epoch'::timestamptz)"
    where = f"series_id = ANY(%s) AND {time_col} >= %s AND {time_col} < %s"
    params: list[Any] = [step, ids, start, end]
    out: dict[int, list[list[float]]] = {}
    with connection.cursor() as cursor:
        if tier != "raw" and agg in _QUANTILE:
            cursor.execute(
                f"SELECT series_id, b, key, sum(n) FROM (SELECT series_id, {bucket} AS b, kv.key, "  # noqa: S608
                f"kv.value::bigint AS n FROM {table}, jsonb_each_text(sketch) kv WHERE {where}) x "
                "GROUP BY 1, 2, 3 ORDER BY 1, 2",
                params,
            )
            merged: dict[tuple[int, datetime], dict[str, int]] = {}
            for sid, b, key, n in cursor.fetchall():
                merged.setdefault((sid, b), {})[key] = int(n)
            for (sid, b), counts in merged.items():
                out.setdefault(sid, []).append([b.timestamp(), sketch.quantile(counts, _QUANTILE[agg])])
            return out
        expression = (_RAW_AGG if tier == "raw" else _ROLLUP_AGG)[agg]
        cursor.execute(
            f"SELECT series_id, {bucket} AS b, {expression} FROM {table} WHERE {where} GROUP BY 1, 2 ORDER BY 1, 2",  # noqa: S608
            params,
        )
        for sid, b, value in cursor.fetchall():
            out.setdefault(sid, []).append([b.timestamp(), None if value is None else float(value)])
    return out


def aggregate_window(
    metric: str,
    matchers: dict[str, str] | None,
    window_seconds: int,
    agg: str,
    now: datetime | None = None,
    limit: int | None = MAX_SERIES_PER_QUERY,
) -> list[tuple[Series, float | None]]:
    """One aggregated value per matching series over the last ``window_seconds`` (None: no data).

    ``limit=None`` takes every matching series (alert evaluation must not skip any)."""
    _check_agg(agg)
    now = now or datetime.now(UTC)
    queryset = series_matching(metric, matchers)
    series = list(queryset if limit is None else queryset[:limit])
    if not series:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT series_id, {_RAW_AGG[agg]} FROM monitoring_sample "  # noqa: S608
            "WHERE series_id = ANY(%s) AND ts > %s AND ts <= %s GROUP BY 1",
            [[s.id for s in series], now - timedelta(seconds=window_seconds), now],
        )
        values = {sid: (None if v is None else float(v)) for sid, v in cursor.fetchall()}
    return [(s, values.get(s.id)) for s in series]


def latest_value(metric: str, matchers: dict[str, str] | None = None, max_age_seconds: int = 300) -> float | None:
    """The most recent value among the matching series (None when nothing is recent)."""
    ids = list(series_matching(metric, matchers).values_list("id", flat=True)[:MAX_SERIES_PER_QUERY])
    if not ids:
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT l.ts, l.value FROM unnest(%s::bigint[]) AS s(id) CROSS JOIN LATERAL "
            "(SELECT ts, value FROM monitoring_sample WHERE series_id = s.id AND ts > %s ORDER BY ts DESC LIMIT 1) l "
            "ORDER BY l.ts DESC LIMIT 1",
            [ids, datetime.now(UTC) - timedelta(seconds=max_age_seconds)],
        )
        row = cursor.fetchone()
    return None if row is None else float(row[1])


def latest_samples(family: str | None = None, max_age_seconds: int = 120) -> list[dict[str, Any]]:
    """The last value of every recent series (for /metrics and the overview)."""
    sql = (
        "SELECT m.name, s.labels, l.ts, l.value FROM monitoring_series s "
        "JOIN monitoring_metric m ON m.id = s.metric_id CROSS JOIN LATERAL "
        "(SELECT ts, value FROM monitoring_sample WHERE series_id = s.id AND ts > %s ORDER BY ts DESC LIMIT 1) l"
    )
    params: list[Any] = [datetime.now(UTC) - timedelta(seconds=max_age_seconds)]
    if family:
        sql += " WHERE m.family = %s"
        params.append(family)
    with connection.cursor() as cursor:
        cursor.execute(sql + " ORDER BY m.name, s.id", params)
        return [
            # Django hands jsonb from a raw cursor back as text.
            {
                "metric": n,
                "labels": orjson.loads(lab) if isinstance(lab, str) else lab,
                "ts": ts.timestamp(),
                "value": v,
            }
            for n, lab, ts, v in cursor.fetchall()
        ]


def export_rows(
    metric: str, matchers: dict[str, str] | None, start: datetime, end: datetime, chunk: int = 5000
) -> Iterator[list[tuple[str, dict[str, str], float, float]]]:
    """Raw samples in (series, ts) order, a chunk at a time (keyset pages: nothing is buffered)."""
    series = {s.id: s for s in series_matching(metric, matchers)[:MAX_SERIES_PER_QUERY]}
    if not series:
        return
    after_sid, after_ts = 0, start - timedelta(microseconds=1)
    ids = sorted(series)
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT series_id, ts, value FROM monitoring_sample WHERE series_id = ANY(%s) "
                "AND ts >= %s AND ts < %s AND (series_id, ts) > (%s, %s) ORDER BY series_id, ts LIMIT %s",
                [ids, start, end, after_sid, after_ts, chunk],
            )
            rows = cursor.fetchall()
        if not rows:
            return
        yield [(metric, series[sid].labels, ts.timestamp(), value) for sid, ts, value in rows]
        after_sid, after_ts = rows[-1][0], rows[-1][1]
        if len(rows) < chunk:
            return

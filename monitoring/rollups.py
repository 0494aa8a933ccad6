"""Rollups (1 minute, 1 hour), retention and daily summaries, kept by beat tasks."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from lib.sketch import SQL_CODE, SQL_ENCODE, sql_decode
from monitoring.models import Metric, RollupState
from monitoring.store import fsum
from monitoring.store.chunks import CHUNK_SECONDS, known_chunk_partitions
from monitoring.store.partitions import known_partitions, partition_name

# Late samples up to this far behind the watermark are still folded into their minute.
LATENESS = timedelta(minutes=5)


def _floor(moment: datetime, seconds: int) -> datetime:
    return datetime.fromtimestamp(int(moment.timestamp()) // seconds * seconds, UTC)


@contextlib.contextmanager
def _no_nested_loop(cursor: Any) -> Iterator[None]:
    """Join a rollup's two aggregates by hash or merge, never by a nested loop.

    The minutes a rollup reads are the newest, newer than the last ANALYZE saw: the planner
    estimates one row per side, picks a nested loop, and a real 5,000,000-sample rollup then
    compares every group with every other (it ran for 25 minutes instead of seconds).
    """
    cursor.execute("SELECT current_setting('enable_nestloop'), set_config('enable_nestloop', 'off', true)")
    (before, _) = cursor.fetchone()
    yield  # on an error the rollback (of the transaction or its savepoint) undoes the setting
    cursor.execute("SELECT set_config('enable_nestloop', %s, true)", [before])


def _watermark(name: str, default: datetime) -> datetime:
    state, _ = RollupState.objects.get_or_create(name=name, defaults={"watermark": default})
    return state.watermark


def rollup_minutes(now: datetime | None = None) -> int:
    """Fold raw samples of closed minutes into 1-minute rollups (recomputing recent ones)."""
    now = now or datetime.now(UTC)
    end = _floor(now, 60)
    start = min(_watermark("1m", end - timedelta(hours=1)), end) - LATENESS
    with transaction.atomic(), connection.cursor() as cursor, _no_nested_loop(cursor):
        fsum.execute(
            cursor,
            f"""
            INSERT INTO monitoring_rollup_1m (series_id, bucket, count, sum, min, max, last, sketch)
            SELECT a.series_id, a.bucket, a.count, a.sum, a.min, a.max, a.last, k.sketch
            FROM (
                SELECT series_id, date_trunc('minute', ts) AS bucket, count(*) AS count, {fsum.sum_of("value")} AS sum,
                       min(value) AS min, max(value) AS max, (array_agg(value ORDER BY ts DESC))[1] AS last
                FROM monitoring_sample WHERE ts >= %(start)s AND ts < %(end)s GROUP BY 1, 2
            ) a JOIN (
                SELECT series_id, bucket, {SQL_ENCODE} AS sketch FROM (
                    SELECT series_id, date_trunc('minute', ts) AS bucket, {SQL_CODE} AS code, count(*) AS n
                    FROM monitoring_sample WHERE ts >= %(start)s AND ts < %(end)s GROUP BY 1, 2, 3
                ) b GROUP BY 1, 2
            ) k USING (series_id, bucket)
            ON CONFLICT (series_id, bucket) DO UPDATE SET count = EXCLUDED.count, sum = EXCLUDED.sum,
                min = EXCLUDED.min, max = EXCLUDED.max, last = EXCLUDED.last, sketch = EXCLUDED.sketch
            """,  # noqa: S608 (SQL_CODE and SQL_ENCODE are constants)
            {"start": start, "end": end},
        )
        written = cursor.rowcount
        RollupState.objects.filter(name="1m").update(watermark=end)
    return written


def rollup_hours(now: datetime | None = None) -> int:
    """Merge 1-minute rollups of closed hours into hourly ones (sketches add up)."""
    now = now or datetime.now(UTC)
    end = _floor(now, 3600)
    start = min(_watermark("1h", end - timedelta(days=1)), end) - timedelta(hours=1)
    with transaction.atomic(), connection.cursor() as cursor, _no_nested_loop(cursor):
        fsum.execute(
            cursor,
            f"""
            INSERT INTO monitoring_rollup_1h (series_id, bucket, count, sum, min, max, last, sketch)
            SELECT a.series_id, a.bucket, a.count, a.sum, a.min, a.max, a.last, k.sketch
            FROM (
                SELECT series_id, date_trunc('hour', bucket) AS bucket, sum(count) AS count,
                       {fsum.sum_of("sum")} AS sum,
                       min(min) AS min, max(max) AS max, (array_agg(last ORDER BY bucket DESC))[1] AS last
                FROM monitoring_rollup_1m WHERE bucket >= %(start)s AND bucket < %(end)s GROUP BY 1, 2
            ) a JOIN (
                SELECT series_id, bucket, {SQL_ENCODE} AS sketch FROM (
                    SELECT r.series_id, date_trunc('hour', r.bucket) AS bucket, kv.code, sum(kv.n) AS n
                    FROM monitoring_rollup_1m r, {sql_decode("r.sketch")}
                    WHERE r.bucket >= %(start)s AND r.bucket < %(end)s GROUP BY 1, 2, 3
                ) b GROUP BY 1, 2
            ) k USING (series_id, bucket)
            ON CONFLICT (series_id, bucket) DO UPDATE SET count = EXCLUDED.count, sum = EXCLUDED.sum,
                min = EXCLUDED.min, max = EXCLUDED.max, last = EXCLUDED.last, sketch = EXCLUDED.sketch
            """,  # noqa: S608 (SQL_ENCODE and sql_decode are constants)
            {"start": start, "end": end},
        )
        written = cursor.rowcount
        RollupState.objects.filter(name="1h").update(watermark=end)
    return written


def _partitions(parent: str) -> list[tuple[str, date]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s ORDER BY 1",
            [parent],
        )
        names = [row[0] for row in cursor.fetchall()]
    return [(name, datetime.strptime(name[-8:], "%Y%m%d").replace(tzinfo=UTC).date()) for name in names]


def sample_partitions() -> list[tuple[str, date]]:
    return _partitions("monitoring_sample")


def chunk_partitions() -> list[tuple[str, date]]:
    return _partitions("monitoring_chunk")


def apply_retention(now: datetime | None = None) -> dict[str, int]:
    """Drop raw and chunk partitions past retention, delete old rollups and late samples, honour
    per-metric retention (for chunks to the hour: a chunk goes once all of it is too old)."""
    now = now or datetime.now(UTC)
    oldest = now - timedelta(days=settings.SEISMO_RETENTION_RAW_DAYS)
    cutoff = oldest.date()
    dropped = 0
    with connection.cursor() as cursor:
        for name, day in sample_partitions() + chunk_partitions():
            if day < cutoff:
                cursor.execute(f"DROP TABLE IF EXISTS {name}")
                known_partitions.discard(day)
                known_chunk_partitions.discard(day)
                dropped += 1
        cursor.execute("DELETE FROM monitoring_sample_late WHERE ts < %s", [oldest])
        for metric_id, days in Metric.objects.filter(retention_days__isnull=False).values_list("id", "retention_days"):
            limit = now - timedelta(days=days)
            series = "series_id IN (SELECT id FROM monitoring_series WHERE metric_id = %s)"
            cursor.execute(f"DELETE FROM monitoring_sample WHERE ts < %s AND {series}", [limit, metric_id])  # noqa: S608
            cursor.execute(f"DELETE FROM monitoring_sample_late WHERE ts < %s AND {series}", [limit, metric_id])  # noqa: S608
            cursor.execute(
                f"DELETE FROM monitoring_chunk WHERE hour < %s AND {series}",  # noqa: S608
                [limit - timedelta(seconds=CHUNK_SECONDS), metric_id],
            )
        cursor.execute(
            "DELETE FROM monitoring_rollup_1m WHERE bucket < %s",
            [now - timedelta(days=settings.SEISMO_RETENTION_1M_DAYS)],
        )
        minute_rows = cursor.rowcount
        cursor.execute(
            "DELETE FROM monitoring_rollup_1h WHERE bucket < %s",
            [now - timedelta(days=settings.SEISMO_RETENTION_1H_DAYS)],
        )
        hour_rows = cursor.rowcount
    return {"partitions_dropped": dropped, "rollup_1m_deleted": minute_rows, "rollup_1h_deleted": hour_rows}


def summarize_day(day: date) -> int:
    """One row per metric for ``day`` from its hourly rollups."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    with connection.cursor() as cursor:
        fsum.execute(
            cursor,
            f"""
            INSERT INTO monitoring_dailysummary (metric_id, day, series_count, count, min, max, avg)
            SELECT s.metric_id, %(day)s, count(DISTINCT r.series_id), sum(r.count), min(r.min), max(r.max),
                   {fsum.sum_of("r.sum")} / nullif(sum(r.count), 0)
            FROM monitoring_rollup_1h r JOIN monitoring_series s ON s.id = r.series_id
            WHERE r.bucket >= %(start)s AND r.bucket < %(end)s GROUP BY s.metric_id
            ON CONFLICT (metric_id, day) DO UPDATE SET series_count = EXCLUDED.series_count,
                count = EXCLUDED.count, min = EXCLUDED.min, max = EXCLUDED.max, avg = EXCLUDED.avg
            """,  # noqa: S608 (fsum.sum_of writes a constant expression)
            {"day": day, "start": start, "end": start + timedelta(days=1)},
        )
        return cursor.rowcount


__all__ = ["apply_retention", "partition_name", "rollup_hours", "rollup_minutes", "summarize_day"]

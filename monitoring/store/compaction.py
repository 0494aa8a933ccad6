"""Compaction: raw and late samples past the hot window become per-series hourly chunks.

A beat task (and ``POST /api/v1/storage/compact/``) runs ``compact()``. It takes one hour of
raw samples at a time, a batch of series per transaction: the batch's rows are removed with
``DELETE … RETURNING`` and written into chunks in the same transaction, so a process killed
at any point leaves either the raw rows or the chunks, never both and never neither. Chunks
are keyed by (series, hour) and upserted, so a rerun merges instead of doubling. Late samples
(``monitoring_sample_late``) are merged into their hour's chunk the same way; a timestamp the
chunk already holds keeps its first value. A raw day partition is dropped once compaction has
passed its end and it is empty. One run at a time: a PostgreSQL advisory lock, released by
PostgreSQL itself if the process dies.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection, transaction

from monitoring.models import Compaction, RollupState
from monitoring.rollups import LATENESS, sample_partitions
from monitoring.store import codec
from monitoring.store.chunks import (
    HOUR_US,
    chunk_stats,
    decode,
    ensure_chunk_partitions,
    fetch_rows,
    from_us,
    groups,
    merge_first_wins,
    to_us,
)
from monitoring.store.partitions import known_partitions

logger = logging.getLogger(__name__)

# pg_advisory_lock key of the compaction run ("seismo compaction").
LOCK_KEY = 0x5E15_C0
# Samples per transaction: bounds the worker's memory (~40 bytes a sample while merging).
BATCH_SAMPLES = 50_000


def horizon(now: datetime | None = None) -> datetime:
    """Compaction takes whole hours before this: past the hot window, and never ahead of the
    1-minute rollups (they are computed from raw rows)."""
    now = now or datetime.now(UTC)
    limit = now - timedelta(seconds=settings.STORAGE_HOT_WINDOW_SECONDS)
    rolled = RollupState.objects.filter(name="1m").values_list("watermark", flat=True).first()
    if rolled is not None:
        limit = min(limit, rolled - LATENESS)
    return datetime.fromtimestamp(int(limit.timestamp()) // 3600 * 3600, UTC)


def is_running() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND ((classid::bigint << 32) | objid::bigint) = %s)",
            [LOCK_KEY],
        )
        return bool(cursor.fetchone()[0])


def compact(now: datetime | None = None) -> dict[str, Any]:
    """Compact everything older than the horizon; a no-op while another run holds the lock."""
    now = now or datetime.now(UTC)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
        if not cursor.fetchone()[0]:
            return {"skipped": "another compaction is running"}
    began = time.perf_counter()
    try:
        until = horizon(now)
        state = Compaction.current()
        samples = chunks = 0
        for hour in _raw_hours(until, state.compacted_until):
            done = _compact_raw_hour(hour)
            samples, chunks = samples + done[0], chunks + done[1]
        done = _merge_late(until)
        samples, chunks = samples + done[0], chunks + done[1]
        dropped = _drop_compacted_partitions(until)
        state.finish(until, samples, chunks, time.perf_counter() - began, at=datetime.now(UTC))
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
    return {"compacted_until": until.isoformat(), "samples": samples, "chunks": chunks, "partitions_dropped": dropped}


def _raw_hours(until: datetime, compacted_until: datetime | None) -> list[datetime]:
    """Hours before ``until`` that may still hold raw rows: from the last run's watermark (an
    hour earlier, for a batch that committed late), or from the oldest partition."""
    days = [day for _, day in sample_partitions()]
    if not days:
        return []
    first = datetime(days[0].year, days[0].month, days[0].day, tzinfo=UTC)
    if compacted_until is not None:
        first = max(first, compacted_until - timedelta(hours=1))
    hours = []
    hour = first
    while hour < until:
        hours.append(hour)
        hour += timedelta(hours=1)
    return hours


def _compact_raw_hour(hour: datetime) -> tuple[int, int]:
    end = hour + timedelta(hours=1)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT series_id, count(*) FROM monitoring_sample WHERE ts >= %s AND ts < %s GROUP BY 1 ORDER BY 1",
            [hour, end],
        )
        counts = cursor.fetchall()
    samples = chunks = 0
    batch: list[int] = []
    size = 0
    for index, (sid, count) in enumerate(counts):
        batch.append(sid)
        size += count
        if size >= BATCH_SAMPLES or index == len(counts) - 1:
            with transaction.atomic():
                rows = fetch_rows(
                    "DELETE FROM monitoring_sample WHERE ts >= %s AND ts < %s AND series_id = ANY(%s) "
                    "RETURNING series_id, ts, value",
                    [hour, end, batch],
                )
                chunks += _merge_into_chunks(*rows)
            samples += len(rows[0])
            batch, size = [], 0
    return samples, chunks


def _merge_late(until: datetime) -> tuple[int, int]:
    samples = chunks = 0
    while True:
        with transaction.atomic():
            rows = fetch_rows(
                "DELETE FROM monitoring_sample_late WHERE ctid = ANY(ARRAY(SELECT ctid FROM monitoring_sample_late "
                "WHERE ts < %s LIMIT %s)) RETURNING series_id, ts, value",
                [until, BATCH_SAMPLES],
            )
            chunks += _merge_into_chunks(*rows)
        samples += len(rows[0])
        if len(rows[0]) < BATCH_SAMPLES:
            return samples, chunks


def _merge_into_chunks(sids: np.ndarray, ts: np.ndarray, values: np.ndarray) -> int:
    """Write (series, time)-sorted rows into their hourly chunks, merging with chunks already
    stored (whose values win for a timestamp both hold). Runs inside the caller's transaction."""
    if len(sids) == 0:
        return 0
    hours = ts // HOUR_US * HOUR_US
    keys: list[tuple[int, int, int, int]] = []  # (sid, hour µs, start, end)
    for sid, lo, hi in groups(sids):
        for hour, h_lo, h_hi in groups(hours[lo:hi]):
            keys.append((sid, hour, lo + h_lo, lo + h_hi))
    ensure_chunk_partitions({from_us(hour).date() for _, hour, _, _ in keys})
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.series_id, c.hour, c.timestamps, c.values FROM monitoring_chunk c "
            "JOIN unnest(%s::bigint[], %s::timestamptz[]) AS k(series_id, hour) "
            "ON c.series_id = k.series_id AND c.hour = k.hour FOR UPDATE OF c",
            [[k[0] for k in keys], [from_us(k[1]) for k in keys]],
        )
        stored = {(sid, to_us(hour)): decode(t, v) for sid, hour, t, v in cursor.fetchall()}
    columns: list[list[Any]] = [[] for _ in range(12)]
    for sid, hour, lo, hi in keys:
        parts = [(ts[lo:hi], values[lo:hi])]
        if (sid, hour) in stored:
            parts.insert(0, stored[(sid, hour)])
        merged_ts, merged_values = merge_first_wins(parts)
        count, low, high, total, first, last = chunk_stats(merged_ts, merged_values)
        row = [sid, from_us(hour), from_us(merged_ts[0]), from_us(merged_ts[-1]), count, low, high, total, first, last]
        row += [codec.encode_times(merged_ts), codec.encode_values(merged_values)]
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO monitoring_chunk (series_id, hour, first_ts, last_ts, count, min, max, sum, first, last, "
            'timestamps, "values") SELECT * FROM unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[], '
            "%s::timestamptz[], %s::int[], %s::float8[], %s::float8[], %s::float8[], %s::float8[], %s::float8[], "
            "%s::bytea[], %s::bytea[]) ON CONFLICT (series_id, hour) DO UPDATE SET first_ts = EXCLUDED.first_ts, "
            "last_ts = EXCLUDED.last_ts, count = EXCLUDED.count, min = EXCLUDED.min, max = EXCLUDED.max, "
            "sum = EXCLUDED.sum, first = EXCLUDED.first, last = EXCLUDED.last, timestamps = EXCLUDED.timestamps, "
            '"values" = EXCLUDED."values"',
            columns,
        )
    return len(keys)


def _drop_compacted_partitions(until: datetime) -> int:
    """Drop raw day partitions compaction has passed, once empty (a late writer may still hold one)."""
    dropped = 0
    for name, day in sample_partitions():
        if datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1) > until:
            continue
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '5s'")
                cursor.execute(f"LOCK TABLE {name} IN ACCESS EXCLUSIVE MODE")
                cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {name})")  # noqa: S608 (a partition name)
                if cursor.fetchone()[0]:
                    continue
                cursor.execute(f"DROP TABLE {name}")
        except Exception as exc:  # busy: the next run drops it
            logger.info("partition %s not dropped yet: %s", name, exc)
            continue
        known_partitions.discard(day)
        dropped += 1
    return dropped

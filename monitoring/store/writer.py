"""Writing samples: binary COPY into the day partitions, then the after-commit notifications.

A batch is first copied straight in inside a savepoint; only when a duplicate (series, ts)
appears does it fall back to a staging table + ``ON CONFLICT DO NOTHING`` (the first value
stored for a timestamp wins), so the common case pays for no deduplication.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from itertools import repeat
from typing import Any

import numpy as np
import psycopg
from django.db import connection, transaction

from lib.realtime import publish_samples
from monitoring import topics
from monitoring.models import Series
from monitoring.signals import samples_ingested
from monitoring.store.chunks import from_us, late_cutoff, store_late, to_us
from monitoring.store.partitions import ensure_partitions
from monitoring.store.series import labels_key, resolve_series

logger = logging.getLogger(__name__)

# (metric, labels, labels_key, ts seconds, value): a sample that passed the rules.
Row = tuple[str, dict[str, str], str, float, float]


# A batch holding one (series, ts) twice keeps the first written, as for rows already stored:
# ``seq`` numbers the staged rows in COPY order (DISTINCT ON alone keeps an arbitrary one).
_STAGE_TABLE = (
    "CREATE TEMP TABLE IF NOT EXISTS sample_stage "
    "(series_id bigint, ts timestamptz, value double precision, seq bigserial) ON COMMIT DELETE ROWS"
)
_FROM_STAGE = (
    "INSERT INTO monitoring_sample (series_id, ts, value) "
    "SELECT DISTINCT ON (series_id, ts) series_id, ts, value FROM sample_stage "
    "ORDER BY series_id, ts, seq "
    "ON CONFLICT (series_id, ts) DO NOTHING"
)
# ON COMMIT only empties the stage at the end of the transaction: a second batch in the same
# transaction must not insert the first one's rows again.
_EMPTY_STAGE = "DELETE FROM sample_stage"


def copy_rows(rows: list[tuple[int, datetime, float]]) -> None:
    """Store (series_id, ts, value) rows; a (series, ts) already stored is kept, not doubled."""
    if not rows:
        return
    cutoff = late_cutoff()
    if any(ts < cutoff for _, ts, _ in rows):
        # Past the hot window: compaction may already have taken that hour (chunks.py).
        store_late([row for row in rows if row[1] < cutoff])
        rows = [row for row in rows if row[1] >= cutoff]
        if not rows:
            return
    ensure_partitions({ts.date() for _, ts, _ in rows})
    # savepoint=False: inside the caller's transaction (record_samples') only the inner one is needed.
    with transaction.atomic(savepoint=False):
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                _copy(cursor.cursor, "monitoring_sample", rows)
        except psycopg.errors.UniqueViolation:
            with connection.cursor() as cursor:
                cursor.execute(_STAGE_TABLE)
                _copy(cursor.cursor, "sample_stage", rows)
                cursor.execute(_FROM_STAGE)
                cursor.execute(_EMPTY_STAGE)


def _copy(raw: psycopg.Cursor[Any], table: str, rows: list[tuple[int, datetime, float]]) -> None:
    with raw.copy(f"COPY {table} (series_id, ts, value) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(["int8", "timestamptz", "float8"])
        for row in rows:
            copy.write_row(row)


# PostgreSQL's binary COPY framing per row: field count, then (length, big-endian value), three times.
_COPY_ROW = np.dtype(
    [("n", ">i2"), ("l1", ">i4"), ("sid", ">i8"), ("l2", ">i4"), ("ts", ">i8"), ("l3", ">i4"), ("v", ">f8")]
)
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension length
_COPY_TRAILER = b"\xff\xff"
_PG_EPOCH_US = 946_684_800 * 1_000_000  # PostgreSQL counts microseconds from 2000-01-01
_US_PER_DAY = 86_400 * 1_000_000
_EPOCH_DAY = date(1970, 1, 1)


def copy_columns(series_ids: np.ndarray, ts_us: np.ndarray, values: np.ndarray) -> None:
    """``copy_rows`` for columns (series id, Unix microseconds, value): the COPY payload is built
    by numpy in one go, with no Python object per sample — the high-volume doors' writer."""
    if not len(series_ids):
        return
    late = ts_us < to_us(late_cutoff())
    if late.any():
        # Past the hot window: compaction may already have taken that hour (chunks.py).
        pairs = zip(series_ids[late].tolist(), ts_us[late].tolist(), values[late].tolist(), strict=True)
        store_late([(sid, from_us(ts), value) for sid, ts, value in pairs])
        keep = ~late
        series_ids, ts_us, values = series_ids[keep], ts_us[keep], values[keep]
        if not len(series_ids):
            return
    if (np.diff(series_ids) < 0).any():
        # In primary-key order each index page is touched once per batch (measured: a sixth
        # less database CPU than a Prometheus shard's arrival order). Stable: a series' own
        # samples keep their order, so of a (series, ts) sent twice the first still wins.
        order = np.argsort(series_ids, kind="stable")
        series_ids, ts_us, values = series_ids[order], ts_us[order], values[order]
    days = np.unique(ts_us // _US_PER_DAY)
    ensure_partitions({_EPOCH_DAY + timedelta(days=int(day)) for day in days})
    data = np.empty(len(series_ids), dtype=_COPY_ROW)
    data["n"] = 3
    data["l1"] = data["l2"] = data["l3"] = 8
    data["sid"] = series_ids
    data["ts"] = ts_us - _PG_EPOCH_US
    data["v"] = values
    payload = b"".join((_COPY_HEADER, data.tobytes(), _COPY_TRAILER))
    if connection.in_atomic_block:
        # Inside the caller's transaction: a savepoint lets a duplicate fall back without undoing it.
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                _copy_payload(cursor.cursor, "monitoring_sample", payload)
        except psycopg.errors.UniqueViolation:
            _copy_through_stage(payload)
        return
    # A transaction of its own (the doors): straight in, no savepoint; a duplicate undoes it
    # and the batch goes again through the stage.
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            _copy_payload(cursor.cursor, "monitoring_sample", payload)
    except psycopg.errors.UniqueViolation:
        with transaction.atomic():
            _copy_through_stage(payload)


def _copy_through_stage(payload: bytes) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_STAGE_TABLE)
        _copy_payload(cursor.cursor, "sample_stage", payload)
        cursor.execute(_FROM_STAGE)
        cursor.execute(_EMPTY_STAGE)


def _copy_payload(raw: psycopg.Cursor[Any], table: str, payload: bytes) -> None:
    with raw.copy(f"COPY {table} (series_id, ts, value) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(payload)


# The doors' batches reach the live stream at most this often per topic and process: a
# Prometheus sending 100 requests a second must not turn into 100 stream frames a second.
PUBLISH_EVERY_SECONDS = 0.5
_published_at: dict[str, float] = {}


def _publish_due(topic: str) -> bool:
    now = time.monotonic()
    if now - _published_at.get(topic, -math.inf) < PUBLISH_EVERY_SECONDS:
        return False
    _published_at[topic] = now
    return True


_UNDESCRIBED: tuple[str, dict[str, str]] = ("", {})


def store_columns(
    series_ids: np.ndarray, ts_us: np.ndarray, values: np.ndarray, topic: str, describe: dict[int, tuple[str, dict]]
) -> None:
    """Store columns and, after commit, tell what `store_rows` tells (alerts, the live stream).

    ``describe`` maps series id → (metric, labels) for the series in the batch."""
    copy_columns(series_ids, ts_us, values)

    def after_commit() -> None:
        # Built by C loops (unique, map): a Prometheus batch is ~2,000 series, so per-series
        # Python is per-sample Python.
        present = np.unique(series_ids).tolist()
        metrics = {metric for metric, _ in map(describe.get, present, repeat(_UNDESCRIBED))}
        metrics.discard("")
        samples_ingested.send(sender=Series, series_ids=present, metrics=metrics)
        if not _publish_due(topic):
            return
        # The last sample of each series: sort by (series, ts), keep each run's end.
        order = np.lexsort((ts_us, series_ids))
        last = order[np.flatnonzero(np.diff(series_ids[order], append=-1) != 0)][:500]
        shown = [
            {"metric": describe[sid][0], "labels": describe[sid][1], "value": value}
            for sid, value in zip(series_ids[last].tolist(), values[last].tolist(), strict=True)
            if sid in describe
        ]
        try:
            publish_samples(topic, float(ts_us[last].max()) / 1e6, shown)
        except Exception as exc:  # the stream is best effort; stored data is what counts
            logger.warning("publishing %s failed: %s", topic, exc)

    # robust: the samples are committed whatever a listener does; its failure is logged.
    transaction.on_commit(after_commit, robust=True)


def store_rows(rows: list[Row], topic: str) -> int:
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
        samples_ingested.send(sender=Series, series_ids=list(latest), metrics=metrics)
        shown = [
            {"metric": by_id[sid][0], "labels": wanted[by_id[sid]], "value": value}
            for sid, (_, value) in list(latest.items())[:500]
        ]
        try:
            publish_samples(topic, max(ts for ts, _ in latest.values()), shown)
        except Exception as exc:  # the stream is best effort; stored data is what counts
            logger.warning("publishing %s failed: %s", topic, exc)

    # robust: the samples are committed whatever a listener does; its failure is logged.
    transaction.on_commit(after_commit, robust=True)
    return len(ids)


def record_samples(rows: Iterable[tuple[str, dict[str, str], float, float]], topic: str = topics.BASIC) -> int:
    """Store samples from Seismo's own producers (collectors, middleware, load tests)."""
    prepared = [
        (name, labels, labels_key(labels) if labels else "{}", ts, float(value)) for name, labels, ts, value in rows
    ]
    if not prepared:
        return 0
    with transaction.atomic():
        store_rows(prepared, topic)
    return len(prepared)

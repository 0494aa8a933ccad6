"""Writing samples: binary COPY into the day partitions, then the after-commit notifications.

A batch is first copied straight in inside a savepoint; only when a duplicate (series, ts)
appears does it fall back to a staging table + ``ON CONFLICT DO NOTHING`` (the first value
stored for a timestamp wins), so the common case pays for no deduplication.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import psycopg
from django.db import connection, transaction

from lib.realtime import publish_samples
from monitoring.models import Series
from monitoring.signals import samples_ingested
from monitoring.store.partitions import ensure_partitions
from monitoring.store.series import labels_key, resolve_series

logger = logging.getLogger(__name__)

# (metric, labels, labels_key, ts seconds, value): a sample that passed the rules.
Row = tuple[str, dict[str, str], str, float, float]


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
        samples_ingested.send(sender=Series, series_ids=list(latest), metrics=metrics, latest=latest)
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


def record_samples(rows: Iterable[tuple[str, dict[str, str], float, float]], topic: str = "basic-metrics") -> int:
    """Store samples from Seismo's own producers (collectors, middleware, load tests)."""
    prepared = [
        (name, labels, labels_key(labels) if labels else "{}", ts, float(value)) for name, labels, ts, value in rows
    ]
    if not prepared:
        return 0
    with transaction.atomic():
        store_rows(prepared, topic)
    return len(prepared)

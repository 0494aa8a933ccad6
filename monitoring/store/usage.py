"""What storage costs: samples, bytes (as PostgreSQL reports them) and age range per tier, and
the projected size of the raw retention window at the current ingest rate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection

from monitoring.models import Compaction
from monitoring.rollups import chunk_partitions, sample_partitions
from monitoring.store import compaction

# (tier, tables, samples/oldest/newest SQL). Rollup tiers count rows: one row is one point.
_TIERS = [
    (
        "raw",
        "SELECT (SELECT count(*) FROM monitoring_sample) + (SELECT count(*) FROM monitoring_sample_late), "
        "least((SELECT min(ts) FROM monitoring_sample), (SELECT min(ts) FROM monitoring_sample_late)), "
        "greatest((SELECT max(ts) FROM monitoring_sample), (SELECT max(ts) FROM monitoring_sample_late))",
    ),
    ("compressed", "SELECT coalesce(sum(count), 0), min(first_ts), max(last_ts) FROM monitoring_chunk"),
    ("rollup_1m", "SELECT count(*), min(bucket), max(bucket) FROM monitoring_rollup_1m"),
    ("rollup_1h", "SELECT count(*), min(bucket), max(bucket) FROM monitoring_rollup_1h"),
]


def _tables(tier: str) -> list[str]:
    if tier == "raw":
        return [name for name, _ in sample_partitions()] + ["monitoring_sample_late"]
    if tier == "compressed":
        return [name for name, _ in chunk_partitions()]
    return [f"monitoring_{tier}"]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def storage_report(now: datetime | None = None) -> dict[str, Any]:
    """The body of ``GET /api/v1/storage/`` (CONTRACT.md, "Storage")."""
    now = now or datetime.now(UTC)
    tiers = []
    with connection.cursor() as cursor:
        for name, sql in _TIERS:
            cursor.execute(sql)
            samples, oldest, newest = cursor.fetchone()
            tables = _tables(name)
            cursor.execute(
                "SELECT coalesce(sum(pg_total_relation_size(t::regclass)), 0) FROM unnest(%s::text[]) t", [tables]
            )
            size = int(cursor.fetchone()[0])
            tiers.append(
                {
                    "name": name,
                    "samples": int(samples),
                    "bytes": size,
                    "bytes_per_sample": round(size / samples, 3) if samples else None,
                    "oldest": _iso(oldest),
                    "newest": _iso(newest),
                }
            )
        cursor.execute("SELECT pg_database_size(current_database())")
        database_bytes = int(cursor.fetchone()[0])
        # The ingest rate: samples stamped in the last hour (all of it is still raw).
        cursor.execute(
            "SELECT (SELECT count(*) FROM monitoring_sample WHERE ts > %(since)s AND ts <= %(now)s) "
            "+ (SELECT count(*) FROM monitoring_sample_late WHERE ts > %(since)s AND ts <= %(now)s)",
            {"since": now - timedelta(hours=1), "now": now},
        )
        rate = int(cursor.fetchone()[0]) / 3600
    state = Compaction.current()
    by_name = {tier["name"]: tier for tier in tiers}
    density = by_name["compressed"]["bytes_per_sample"] or by_name["raw"]["bytes_per_sample"] or 0.0
    retention = settings.SEISMO_RETENTION_RAW_DAYS
    return {
        "tiers": tiers,
        "database_bytes": database_bytes,
        "compaction": {
            "running": compaction.is_running(),
            "last_run": _iso(state.last_run_at),
            "compacted_until": _iso(state.compacted_until),
            "hot_window_seconds": settings.STORAGE_HOT_WINDOW_SECONDS,
        },
        "projection": {
            "samples_per_second": round(rate, 3),
            "retention_days": retention,
            "bytes_per_sample": density,
            "bytes": int(rate * retention * 86400 * density),
        },
    }

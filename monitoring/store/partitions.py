"""The day partitions of ``monitoring_sample``: created on first write, dropped by retention."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from django.db import connection, transaction

# Days whose partition this process knows exists (created or seen); retention forgets them.
known_partitions: set[date] = set()


def partition_name(day: date) -> str:
    return f"monitoring_sample_p{day:%Y%m%d}"


def ensure_partitions(days: Iterable[date]) -> None:
    """Create the daily partitions a batch needs (each once per process)."""
    for day in sorted(set(days) - known_partitions):
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
        transaction.on_commit(lambda day=day: known_partitions.add(day))

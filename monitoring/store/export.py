"""Exporting raw samples page by page (keyset pagination: nothing is buffered whole)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from django.db import connection

from monitoring.rules import MAX_SERIES_PER_QUERY
from monitoring.store.query import series_matching


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

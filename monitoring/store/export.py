"""Exporting samples page by page, hot rows and compacted chunks alike (nothing is buffered whole)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import numpy as np

from monitoring.rules import MAX_SERIES_PER_QUERY
from monitoring.store import raw_read
from monitoring.store.chunks import to_us
from monitoring.store.query import series_matching

WINDOW_US = 86_400 * 1_000_000


def export_rows(
    metric: str, matchers: dict[str, str] | None, start: datetime, end: datetime, chunk: int = 5000
) -> Iterator[list[tuple[str, dict[str, str], float, float]]]:
    """Samples in (series, ts) order, a page at a time, wherever they are stored (hot rows or
    compacted chunks, raw_read.py); a series is read a day at a time, so nothing is buffered whole."""
    series = {s.id: s for s in series_matching(metric, matchers)[:MAX_SERIES_PER_QUERY]}
    if not series:
        return
    page: list[tuple[str, dict[str, str], float, float]] = []
    begin, finish = to_us(start), to_us(end)
    for sid in sorted(series):
        labels = series[sid].labels
        window = begin
        while window < finish:
            upto = min(finish, window + WINDOW_US)
            ts, values = raw_read.samples([sid], window, upto).get(sid, (np.empty(0), np.empty(0)))
            for stamp, value in zip((ts / 1e6).tolist(), values.tolist(), strict=True):
                page.append((metric, labels, stamp, value))
                if len(page) == chunk:
                    yield page
                    page = []
            window = upto
    if page:
        yield page

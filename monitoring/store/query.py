"""Reading samples: series matching, tier choice, bucketed queries and window aggregates.

Raw samples serve ranges up to a day, 1-minute rollups up to 31 days, hourly rollups beyond.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import numpy as np
import orjson
from django.conf import settings
from django.db import connection
from django.db.models import QuerySet

from lib import sketch
from lib.api import ApiError
from monitoring.choices import Aggregation
from monitoring.models import Series
from monitoring.rules import MAX_POINTS, MAX_SERIES_PER_QUERY
from monitoring.store import fsum, raw_read
from monitoring.store.chunks import groups as equal_runs
from monitoring.store.chunks import to_us

# Storage tier → the resolution (seconds) of its rows.
TIER_SECONDS = {"raw": 1, "1m": 60, "1h": 3600}


class SeriesRef(NamedTuple):
    """What a window aggregate says of each series it read: building ten thousand ``Series``
    models costs more than the query (alert evaluation reads these three fields)."""

    id: int
    labels: dict[str, str]
    labels_key: str


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
    if span <= 86400 and start >= now - timedelta(days=settings.SEISMO_RETENTION_RAW_DAYS):
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


_ROLLUP_AGG = {
    "avg": f"{fsum.sum_of('sum')} / nullif(sum(count), 0)",
    "min": "min(min)",
    "max": "max(max)",
    "sum": fsum.sum_of("sum"),
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
    if agg not in Aggregation.values:
        raise ApiError(f"agg must be one of {', '.join(Aggregation.values)}.", details={"field": "agg"})


def query(
    metric: str,
    matchers: dict[str, str] | None,
    start: datetime,
    end: datetime,
    step: int | None = None,
    agg: str = "avg",
    arrays: bool = False,
) -> list[dict[str, Any]]:
    """Points per matching series, bucketed by ``step`` (≤ 2,000 per series).

    ``arrays``: raw-tier points as one float64 ``(n, 2)`` array per series (NaN where a list
    would hold None), for the JSON API: orjson writes the same bytes without a Python list per
    point, and those thousands of lists, alive for the whole request, set off full garbage
    collections of the process (the profile's largest cost of a 24 h query)."""
    _check_agg(agg)
    if end <= start:
        raise ApiError("`from` must be before `to`.", details={"field": "from"})
    series = list(series_matching(metric, matchers)[:MAX_SERIES_PER_QUERY])
    if not series:
        if agg in _QUANTILE:
            # A Prometheus histogram lives as <metric>_bucket{le=…}: quantiles come from its buckets.
            return histogram_quantiles(metric, matchers, start, end, step, _QUANTILE[agg])
        return []
    tier = choose_tier(start, end)
    step = pick_step(start, end, tier, step)
    ids = [s.id for s in series]
    points = _bucketed(tier, ids, start, end, step, agg, arrays)
    empty: Any = np.empty((0, 2)) if arrays and tier == "raw" else []
    return [{"labels": s.labels, "points": points.get(s.id, empty)} for s in series]


def _bucketed(
    tier: str, ids: list[int], start: datetime, end: datetime, step: int, agg: str, arrays: bool = False
) -> dict[int, Any]:
    if tier == "raw":
        return _raw_bucketed(ids, start, end, step, agg, arrays)
    table, time_col = _TIER_TABLE[tier]
    bucket = f"date_bin(make_interval(secs => %s), {time_col}, 'epoch'::timestamptz)"
    where = f"series_id = ANY(%s) AND {time_col} >= %s AND {time_col} < %s"
    params: list[Any] = [step, ids, start, end]
    out: dict[int, list[list[float]]] = {}
    with connection.cursor() as cursor:
        if tier != "raw" and agg in _QUANTILE:
            cursor.execute(
                f"SELECT series_id, b, code, sum(n) FROM (SELECT series_id, {bucket} AS b, kv.code, "  # noqa: S608
                f"kv.n FROM {table}, {sketch.sql_decode('sketch')} WHERE {where}) x "
                "GROUP BY 1, 2, 3 ORDER BY 1, 2",
                params,
            )
            merged: dict[tuple[int, datetime], dict[str, int]] = {}
            for sid, b, code, n in cursor.fetchall():
                merged.setdefault((sid, b), {})[sketch.key_of(code)] = int(n)
            for (sid, b), counts in merged.items():
                out.setdefault(sid, []).append([b.timestamp(), sketch.quantile(counts, _QUANTILE[agg])])
            return out
        expression = _ROLLUP_AGG[agg]
        fsum.execute(
            cursor,
            f"SELECT series_id, {bucket} AS b, {expression} FROM {table} WHERE {where} GROUP BY 1, 2 ORDER BY 1, 2",  # noqa: S608
            params,
        )
        for sid, b, value in cursor.fetchall():
            out.setdefault(sid, []).append([b.timestamp(), None if value is None else float(value)])
    return out


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """``histogram_quantile``: the q-quantile of (upper bound, cumulative count) buckets,
    interpolated linearly inside the bucket it falls in (as Prometheus does)."""
    buckets = sorted(buckets)
    if not buckets or not math.isinf(buckets[-1][0]):
        return None
    total = buckets[-1][1]
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for index, (bound, count) in enumerate(buckets):
        if count >= rank:
            if math.isinf(bound):
                return buckets[index - 1][0] if index else None
            if index == 0 and bound <= 0:
                return bound
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return None


def histogram_quantiles(
    metric: str, matchers: dict[str, str] | None, start: datetime, end: datetime, step: int | None, q: float
) -> list[dict[str, Any]]:
    """Per step, the q-quantile of the observations a histogram's buckets counted in that step
    (the increase of each cumulative bucket since the step before), one series per label set."""
    buckets = list(series_matching(f"{metric}_bucket", matchers)[:MAX_SERIES_PER_QUERY])
    groups: dict[str, tuple[dict[str, str], list[tuple[float, int]]]] = {}
    for series in buckets:
        labels = {k: v for k, v in series.labels.items() if k != "le"}
        try:
            bound = float(series.labels.get("le", ""))
        except ValueError:
            continue
        key = orjson.dumps(labels, option=orjson.OPT_SORT_KEYS).decode()
        groups.setdefault(key, (labels, []))[1].append((bound, series.id))
    if not groups:
        return []
    tier = choose_tier(start, end)
    step = pick_step(start, end, tier, step)
    ids = [sid for _, members in groups.values() for _, sid in members]
    # One step earlier too: the first step's increase is measured from it.
    last = _bucketed(tier, ids, start - timedelta(seconds=step), end, step, "last")
    out = []
    for labels, members in groups.values():
        by_step: dict[float, dict[float, float]] = {}
        for bound, sid in members:
            for ts, value in last.get(sid, []):
                by_step.setdefault(ts, {})[bound] = value
        points: list[list[float | None]] = []
        previous: dict[float, float] = {}
        for ts in sorted(by_step):
            counts = by_step[ts]
            # A bucket that went down was reset (the target restarted): its count starts over.
            increase = [
                (bound, count - previous[bound] if previous.get(bound, math.inf) <= count else count)
                for bound, count in counts.items()
            ]
            previous.update(counts)
            if ts + step > start.timestamp():  # a step overlapping the range
                points.append([ts, bucket_quantile(q, increase)])
        out.append({"labels": labels, "points": points})
    return out


def _raw_bucketed(
    ids: list[int], start: datetime, end: datetime, step: int, agg: str, arrays: bool = False
) -> dict[int, Any]:
    """Raw-tier buckets over hot rows and compacted chunks alike (raw_read.py): per series a
    list of [ts, value] points, or with ``arrays`` one (n, 2) array (see ``query``)."""
    out: dict[int, Any] = {}
    begin, finish, step_us = to_us(start), to_us(end), step * 1_000_000
    if agg in _QUANTILE:
        found = raw_read.quantiles(ids, begin, finish, step_us, agg)
        for sid, buckets in found.items():
            out[sid] = [[b / 1e6, value] for b, value in sorted(buckets.items())]
        return out
    found = raw_read.bucket_stats(ids, begin, finish, step_us)
    if arrays:
        columns = np.column_stack((found.bucket / 1e6, found.array(agg)))
        return {sid: columns[lo:hi] for sid, lo, hi in equal_runs(found.sid)}
    stamps, values = (found.bucket / 1e6).tolist(), found.values(agg)
    for sid, lo, hi in equal_runs(found.sid):
        out[sid] = [list(point) for point in zip(stamps[lo:hi], values[lo:hi], strict=True)]
    return out


def aggregate_window(
    metric: str,
    matchers: dict[str, str] | None,
    window_seconds: int,
    agg: str,
    now: datetime | None = None,
    limit: int | None = MAX_SERIES_PER_QUERY,
) -> list[tuple[SeriesRef, float | None]]:
    """One aggregated value per matching series over the last ``window_seconds`` (None: no data).

    ``limit=None`` takes every matching series (alert evaluation must not skip any)."""
    _check_agg(agg)
    now = now or datetime.now(UTC)
    queryset = series_matching(metric, matchers).values_list("id", "labels_key")
    # The labels from their canonical JSON (orjson): Django's jsonb converter costs more.
    series = [SeriesRef(sid, orjson.loads(key), key) for sid, key in (queryset if limit is None else queryset[:limit])]
    # (now - window, now] in whole microseconds, PostgreSQL's resolution.
    begin, finish = to_us(now - timedelta(seconds=window_seconds)) + 1, to_us(now) + 1
    if not series:
        if agg in _QUANTILE:
            return _histogram_window(metric, matchers, begin, finish, _QUANTILE[agg])
        return []
    ids = [s.id for s in series]
    if agg in _QUANTILE:
        found = raw_read.quantiles(ids, begin, finish, None, agg)
        values = {sid: buckets[0] for sid, buckets in found.items()}
    else:
        stats = raw_read.bucket_stats(ids, begin, finish, None)
        values = dict(zip(stats.sid.tolist(), stats.values(agg), strict=True))
    return [(s, values.get(s.id)) for s in series]


def _histogram_window(
    metric: str, matchers: dict[str, str] | None, begin: int, finish: int, q: float
) -> list[tuple[SeriesRef, float | None]]:
    """``aggregate_window`` of a quantile over a histogram: per label set, the q-quantile of what
    its cumulative buckets counted in the window. Each label set is represented by its ``+Inf``
    bucket series (a stable id) carrying the label set without ``le``."""
    groups: dict[str, tuple[SeriesRef | None, list[tuple[float, int]]]] = {}
    for series in series_matching(f"{metric}_bucket", matchers):
        try:
            bound = float(series.labels.get("le", ""))
        except ValueError:
            continue
        labels = {k: v for k, v in series.labels.items() if k != "le"}
        key = orjson.dumps(labels, option=orjson.OPT_SORT_KEYS).decode()
        anchor, members = groups.get(key, (None, []))
        members.append((bound, series.id))
        if math.isinf(bound):
            anchor = SeriesRef(series.id, labels, series.labels_key)
        groups[key] = (anchor, members)
    ids = [sid for _, members in groups.values() for _, sid in members]
    if not ids:
        return []
    found = raw_read.bucket_stats(ids, begin, finish, None)
    stats = {
        sid: (count, first, last)
        for sid, count, first, last in zip(
            found.sid.tolist(), found.count.tolist(), found.first.tolist(), found.last.tolist(), strict=True
        )
    }
    out: list[tuple[SeriesRef, float | None]] = []
    for anchor, members in groups.values():
        if anchor is None:
            continue
        counted = []
        for bound, sid in members:
            entry = stats.get(sid)
            if not entry:
                continue
            count, first, last = entry
            # One sample in the window: its cumulative count is all there is to go on.
            increase = last - first if count > 1 else last
            counted.append((bound, increase if increase >= 0 else last))
        out.append((anchor, bucket_quantile(q, counted) if counted else None))
    return out


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


def latest_samples(
    family: str | None = None, max_age_seconds: int = 120, metrics: list[str] | None = None
) -> list[dict[str, Any]]:
    """The last value of every recent series (for /metrics), or of the named ``metrics``' series
    only (the overview's cards: without it a big catalogue costs the page a lateral scan each)."""
    sql = (
        "SELECT m.name, s.labels, l.ts, l.value FROM monitoring_series s "
        "JOIN monitoring_metric m ON m.id = s.metric_id CROSS JOIN LATERAL "
        "(SELECT ts, value FROM monitoring_sample WHERE series_id = s.id AND ts > %s ORDER BY ts DESC LIMIT 1) l"
    )
    params: list[Any] = [datetime.now(UTC) - timedelta(seconds=max_age_seconds)]
    where = []
    if family:
        where.append("m.family = %s")
        params.append(family)
    if metrics is not None:
        where.append("m.name = ANY(%s)")
        params.append(list(metrics))
    if where:
        sql += " WHERE " + " AND ".join(where)
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

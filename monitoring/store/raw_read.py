"""Raw-tier reads: hot rows, late rows and chunks of a series answered as one series.

Aggregates are built from *segments*: the samples of one series in one (bucket, hour). A
segment's stats come from SQL over raw rows, from a chunk's stored stats (no decoding: the
chunk lies whole inside the bucket and nothing else holds samples of its hour), or from decoded
samples. Sums add one by one in time order inside a segment and segment by segment in time
order, wherever the samples are, so a bucket gets the same bits before and after compaction.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection

from monitoring.store.chunks import HOUR_US, chunk_stats, decode, fetch_rows, from_us, groups, merge_first_wins, to_us

_QUANTILE = {"p50": 0.5, "p95": 0.95, "p99": 0.99}


@dataclass
class Stats:
    count: int
    min: float
    max: float
    sum: float
    first: float
    last: float
    first_ts: int
    last_ts: int

    def then(self, later: Stats) -> Stats:
        """These samples followed by ``later``'s (PostgreSQL's min/max semantics for NaN)."""
        return Stats(
            self.count + later.count,
            _pg_min(self.min, later.min),
            _pg_max(self.max, later.max),
            self.sum + later.sum,
            self.first,
            later.last,
            self.first_ts,
            later.last_ts,
        )

    def value(self, agg: str) -> float | None:
        if agg == "avg":
            return self.sum / self.count
        if agg == "count":
            return float(self.count)
        if agg == "rate":
            if self.count < 2 or self.last_ts == self.first_ts:
                return None
            delta = self.last - self.first
            return (0.0 if delta < 0 else delta) / ((self.last_ts - self.first_ts) / 1e6)
        return float(getattr(self, agg))


def _pg_min(a: float, b: float) -> float:
    return b if math.isnan(a) or b < a else a


def _pg_max(a: float, b: float) -> float:
    return a if math.isnan(a) or not (b > a or math.isnan(b)) else b


def _bucket_of(ts: np.ndarray, step_us: int | None) -> np.ndarray:
    if step_us is None:
        return np.zeros(len(ts), dtype=np.int64)
    return ts - ts % step_us


def _segments(ts: np.ndarray, values: np.ndarray, step_us: int | None) -> Iterator[tuple[int, int, Stats]]:
    """(bucket, hour, stats) of time-ordered samples."""
    keys = ts // HOUR_US
    buckets = _bucket_of(ts, step_us)
    change = np.flatnonzero((buckets[1:] != buckets[:-1]) | (keys[1:] != keys[:-1])) + 1
    starts = np.concatenate(([0], change)) if len(ts) else np.empty(0, np.int64)
    ends = np.concatenate((change, [len(ts)])) if len(ts) else np.empty(0, np.int64)
    for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True):
        part_ts, part_values = ts[lo:hi], values[lo:hi]
        count, low, high, total, first, last = chunk_stats(part_ts, part_values)
        yield (
            int(buckets[lo]),
            int(keys[lo]) * HOUR_US,
            Stats(count, low, high, total, first, last, int(part_ts[0]), int(part_ts[-1])),
        )


def _hot_segments(ids: list[int], start_us: int, end_us: int, step_us: int | None) -> dict[tuple[int, int], dict]:
    """(sid, hour) → {bucket: Stats} from raw rows, computed by PostgreSQL."""
    bucket = "date_bin(make_interval(secs => %s), ts, 'epoch'::timestamptz)" if step_us else "'epoch'::timestamptz"
    params: list[Any] = [step_us / 1e6] if step_us else []
    params += [ids, from_us(start_us), from_us(end_us)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT series_id, {_us(bucket)} AS b, {_us(_HOUR)} AS h, "  # noqa: S608
            "count(*), min(value), max(value), sum(value ORDER BY ts), (array_agg(value ORDER BY ts))[1], "
            f"(array_agg(value ORDER BY ts DESC))[1], {_us('min(ts)')}, {_us('max(ts)')} FROM monitoring_sample "
            "WHERE series_id = ANY(%s) AND ts >= %s AND ts < %s GROUP BY 1, 2, 3",
            params,
        )
        rows = cursor.fetchall()
    found: dict[tuple[int, int], dict[int, Stats]] = {}
    for sid, b, h, count, low, high, total, first, last, first_ts, last_ts in rows:
        stats = Stats(count, low, high, total, first, last, first_ts, last_ts)
        found.setdefault((sid, h), {})[b if step_us else 0] = stats
    return found


def _late_hours(ids: list[int], start_us: int, end_us: int) -> set[tuple[int, int]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT series_id, date_bin('1 hour', ts, 'epoch'::timestamptz) FROM monitoring_sample_late "
            "WHERE series_id = ANY(%s) AND ts >= %s AND ts < %s",
            [ids, from_us(start_us), from_us(end_us)],
        )
        return {(sid, to_us(h)) for sid, h in cursor.fetchall()}


_HOUR = "date_bin('1 hour', ts, 'epoch'::timestamptz)"


def _us(column: str) -> str:
    """A timestamptz column as integer microseconds since the epoch (no datetime per row)."""
    return f"(extract(epoch FROM {column}) * 1000000)::int8"


def _chunk_meta(ids: list[int], start_us: int, end_us: int) -> dict[tuple[int, int], Stats]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT series_id, {_us('hour')}, count, min, max, sum, first, last, {_us('first_ts')}, "  # noqa: S608
            f"{_us('last_ts')} FROM monitoring_chunk WHERE series_id = ANY(%s) AND hour > %s AND hour < %s",
            [ids, from_us(start_us - HOUR_US), from_us(end_us)],
        )
        rows = cursor.fetchall()
    return {
        (sid, hour): Stats(count, low, high, total, first, last, first_ts, last_ts)
        for sid, hour, count, low, high, total, first, last, first_ts, last_ts in rows
    }


def _chunk_samples(pairs: list[tuple[int, int]]) -> dict[tuple[int, int], tuple[np.ndarray, np.ndarray]]:
    if not pairs:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.series_id, {_us('c.hour')}, c.timestamps, c.values FROM monitoring_chunk c "  # noqa: S608
            "JOIN unnest(%s::bigint[], %s::timestamptz[]) AS k(series_id, hour) "
            "ON c.series_id = k.series_id AND c.hour = k.hour",
            [[p[0] for p in pairs], [from_us(p[1]) for p in pairs]],
        )
        return {(sid, hour): decode(t, v) for sid, hour, t, v in cursor.fetchall()}


def _hour_samples(pairs: list[tuple[int, int]], start_us: int, end_us: int) -> dict[tuple[int, int], Any]:
    """Every sample of each (sid, hour) inside [start, end), merged: chunk > raw > late."""
    if not pairs:
        return {}
    chunks = _chunk_samples(pairs)
    found: dict[tuple[int, int], list[tuple[np.ndarray, np.ndarray]]] = {}
    for key, (ts, values) in chunks.items():
        found.setdefault(key, []).append((ts, values))
    ids = sorted({p[0] for p in pairs})
    wanted = set(pairs)
    lo_us = max(start_us, min(p[1] for p in pairs))
    hi_us = min(end_us, max(p[1] for p in pairs) + HOUR_US)
    for table in ("monitoring_sample", "monitoring_sample_late"):
        sids, ts, values = fetch_rows(
            f"SELECT series_id, ts, value FROM {table} WHERE series_id = ANY(%s) AND ts >= %s AND ts < %s",  # noqa: S608
            [ids, from_us(lo_us), from_us(hi_us)],
        )
        hours = ts // HOUR_US * HOUR_US
        for sid, a, b in groups(sids):
            for hour, c, d in groups(hours[a:b]):
                if (sid, hour) in wanted:
                    found.setdefault((sid, hour), []).append((ts[a + c : a + d], values[a + c : a + d]))
    merged = {}
    for key, parts in found.items():
        ts, values = merge_first_wins(parts)
        inside = (ts >= start_us) & (ts < end_us)
        merged[key] = (ts[inside], values[inside])
    return merged


def bucket_stats(ids: list[int], start_us: int, end_us: int, step_us: int | None) -> dict[int, dict[int, Stats]]:
    """sid → {bucket µs (0 when ``step_us`` is None: one bucket): Stats} over [start, end)."""
    hot = _hot_segments(ids, start_us, end_us, step_us)
    meta = _chunk_meta(ids, start_us, end_us)
    late = _late_hours(ids, start_us, end_us)
    segments: dict[tuple[int, int], dict[int, Stats]] = {}
    decode_pairs = sorted(late | (meta.keys() & hot.keys()))
    for key, stats in hot.items():
        if key not in late and key not in meta:
            segments[key] = stats
    for key, stats in meta.items():
        if key in hot or key in late:
            continue
        inside = stats.first_ts >= start_us and stats.last_ts < end_us
        first_bucket = stats.first_ts - stats.first_ts % step_us if step_us else 0
        last_bucket = stats.last_ts - stats.last_ts % step_us if step_us else 0
        if inside and first_bucket == last_bucket:
            segments[key] = {first_bucket: stats}
        else:
            decode_pairs.append(key)
    for key, (ts, values) in _hour_samples(decode_pairs, start_us, end_us).items():
        for bucket, _, stats in _segments(ts, values, step_us):
            segments.setdefault(key, {})[bucket] = stats
    out: dict[int, dict[int, Stats]] = {}
    for sid, hour in sorted(segments):
        buckets = out.setdefault(sid, {})
        for bucket, stats in segments[(sid, hour)].items():
            buckets[bucket] = buckets[bucket].then(stats) if bucket in buckets else stats
    return out


def samples(ids: list[int], start_us: int, end_us: int) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Every sample of ``ids`` in [start, end), per series in time order (for quantiles)."""
    meta = _chunk_meta(ids, start_us, end_us)
    pairs = sorted(meta)
    found: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    for (sid, _), part in sorted(_chunk_samples(pairs).items()):
        found.setdefault(sid, []).append(part)
    for table in ("monitoring_sample", "monitoring_sample_late"):
        sids, ts, values = fetch_rows(
            f"SELECT series_id, ts, value FROM {table} WHERE series_id = ANY(%s) AND ts >= %s AND ts < %s",  # noqa: S608
            [ids, from_us(start_us), from_us(end_us)],
        )
        for sid, lo, hi in groups(sids):
            found.setdefault(sid, []).append((ts[lo:hi], values[lo:hi]))
    out = {}
    for sid, parts in found.items():
        ts, values = merge_first_wins(parts)
        inside = (ts >= start_us) & (ts < end_us)
        out[sid] = (ts[inside], values[inside])
    return out


def quantiles(ids: list[int], start_us: int, end_us: int, step_us: int | None, agg: str) -> dict[int, dict[int, float]]:
    q = _QUANTILE[agg]
    out: dict[int, dict[int, float]] = {}
    for sid, (ts, values) in samples(ids, start_us, end_us).items():
        buckets = _bucket_of(ts, step_us)
        for bucket, lo, hi in groups(buckets):
            out.setdefault(sid, {})[bucket] = float(np.quantile(values[lo:hi], q))
    return out

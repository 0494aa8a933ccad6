"""Raw-tier reads: hot rows, late rows and chunks of a series answered as one series.

Aggregates are built from *segments*: the samples of one series in one (bucket, hour). A
segment's stats come from SQL over raw rows, from a chunk's stored stats (no decoding: the
chunk lies whole inside the bucket and nothing else holds samples of its hour), or from decoded
samples. Sums add one by one in time order inside a segment and segment by segment in time
order, wherever the samples are, so a bucket gets the same bits before and after compaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection

from monitoring.store import fsum
from monitoring.store.chunks import (
    HOUR_US,
    decode,
    fetch_columns,
    from_us,
    groups,
    id_array,
    merge_first_wins,
)

_QUANTILE = {"p50": 0.5, "p95": 0.95, "p99": 0.99}


# The columns of a set of segments (or of buckets: the same stats, merged), one entry per row.
_STAT_COLUMNS = ("sid", "bucket", "hour", "count", "min", "max", "sum", "first", "last", "first_ts", "last_ts")
_STAT_KINDS = "ittiffffftt"


@dataclass
class Buckets:
    """Stats of samples per (series, bucket) — or per (series, bucket, hour) segment — as
    columns: ``sid``, ``bucket`` (µs; 0 for one bucket), ``hour`` (µs), ``count``, ``min``,
    ``max``, ``sum``, ``first``, ``last``, ``first_ts`` and ``last_ts`` (µs)."""

    sid: np.ndarray
    bucket: np.ndarray
    hour: np.ndarray
    count: np.ndarray
    min: np.ndarray
    max: np.ndarray
    sum: np.ndarray
    first: np.ndarray
    last: np.ndarray
    first_ts: np.ndarray
    last_ts: np.ndarray

    @classmethod
    def of(cls, columns: list[np.ndarray]) -> Buckets:
        return cls(*columns)

    @classmethod
    def concat(cls, parts: list[Buckets]) -> Buckets:
        if not parts:
            return cls.of([np.empty(0, np.float64 if k == "f" else np.int64) for k in _STAT_KINDS])
        return cls.of([np.concatenate([getattr(p, c) for p in parts]) for c in _STAT_COLUMNS])

    def take(self, index: np.ndarray) -> Buckets:
        return Buckets.of([getattr(self, c)[index] for c in _STAT_COLUMNS])

    def __len__(self) -> int:
        return len(self.sid)

    def values(self, agg: str) -> list[float | None]:
        """The aggregate of each row (None where there is none: a rate needs two samples)."""
        if agg == "rate":
            rates, missing = self._rates()
            return [None if m else r for r, m in zip(rates.tolist(), missing.tolist(), strict=True)]
        return self.array(agg).tolist()

    def array(self, agg: str) -> np.ndarray:
        """``values`` as float64, NaN where there is none (JSON has no NaN: null either way)."""
        if agg == "avg":
            with np.errstate(invalid="ignore", over="ignore"):
                return self.sum / self.count
        if agg == "count":
            return self.count.astype(np.float64)
        if agg == "rate":
            rates, missing = self._rates()
            return np.where(missing, np.nan, rates)
        return getattr(self, agg)

    def _rates(self) -> tuple[np.ndarray, np.ndarray]:
        spans = (self.last_ts - self.first_ts) / 1e6
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            delta = self.last - self.first
            rates = np.where(delta < 0, 0.0, delta) / np.where(spans > 0, spans, 1.0)
        return rates, (self.count < 2) | (self.last_ts == self.first_ts)


def _ordered_sums(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The sum of each segment ``values[start:start + length]`` added one by one in order, as
    PostgreSQL's float8 ``sum`` does (``np.add.reduceat`` adds pairwise: other bits). Vectorised
    across segments: one numpy step per position, over the segments that long."""
    out = np.empty(len(starts), np.float64)
    if not len(starts):
        return out
    order = np.argsort(-lengths, kind="stable")
    first, longest = starts[order], lengths[order]
    total = values[first].copy()
    descending = -longest
    with np.errstate(over="ignore", invalid="ignore"):  # ±Inf and NaN sums are answers, not errors
        for position in range(1, int(longest[0])):
            active = int(np.searchsorted(descending, -position, side="left"))  # segments longer than this
            total[:active] += values[first[:active] + position]
    out[order] = total
    return out


def _segment_stats(
    sids: np.ndarray, ts: np.ndarray, values: np.ndarray, step_us: int | None, keys: tuple[np.ndarray, ...]
) -> Buckets:
    """Stats of each run of equal ``keys`` in samples sorted by them (and by time within)."""
    if not len(ts):
        return Buckets.concat([])
    change = np.zeros(len(ts), dtype=bool)
    change[0] = True
    for key in keys:
        change[1:] |= key[1:] != key[:-1]
    starts = np.flatnonzero(change)
    ends = np.append(starts[1:], len(ts))
    lengths = ends - starts
    last = ends - 1
    return Buckets(
        sid=sids[starts],
        bucket=_bucket_of(ts[starts], step_us),
        hour=ts[starts] // HOUR_US * HOUR_US,
        count=lengths.astype(np.int64),
        min=np.fmin.reduceat(values, starts),  # PostgreSQL's order: NaN above every number
        max=np.maximum.reduceat(values, starts),
        sum=_ordered_sums(values, starts, lengths),
        first=values[starts],
        last=values[last],
        first_ts=ts[starts],
        last_ts=ts[last],
    )


def _bucket_of(ts: np.ndarray, step_us: int | None) -> np.ndarray:
    if step_us is None:
        return np.zeros(len(ts), dtype=np.int64)
    return ts - ts % step_us


def _merge_segments(segments: Buckets) -> Buckets:
    """Segments of one (series, bucket) merged in time order: counts added, PostgreSQL's min and
    max, sums added segment by segment in time order, the first and last of the ends."""
    if not len(segments):
        return segments
    order = np.lexsort((segments.hour, segments.bucket, segments.sid))
    segments = segments.take(order)
    change = np.ones(len(segments), dtype=bool)
    change[1:] = (segments.sid[1:] != segments.sid[:-1]) | (segments.bucket[1:] != segments.bucket[:-1])
    starts = np.flatnonzero(change)
    if len(starts) == len(segments):
        return segments
    ends = np.append(starts[1:], len(segments))
    last = ends - 1
    return Buckets(
        sid=segments.sid[starts],
        bucket=segments.bucket[starts],
        hour=segments.hour[starts],
        count=np.add.reduceat(segments.count, starts),
        min=np.fmin.reduceat(segments.min, starts),
        max=np.maximum.reduceat(segments.max, starts),
        sum=_ordered_sums(segments.sum, starts, ends - starts),
        first=segments.first[starts],
        last=segments.last[last],
        first_ts=segments.first_ts[starts],
        last_ts=segments.last_ts[last],
    )


def _sql_segments(table: str, ids: list[int], start_us: int, end_us: int, step_us: int | None) -> Buckets:
    """(sid, bucket, hour) segments of a sample table's rows, computed by PostgreSQL."""
    bucket = "date_bin(make_interval(secs => %s), ts, 'epoch'::timestamptz)" if step_us else "'epoch'::timestamptz"
    params: list[Any] = [step_us / 1e6] if step_us else []
    params += [id_array(ids), from_us(start_us), from_us(end_us)]
    return Buckets.of(
        fetch_columns(
            f"SELECT series_id, {bucket}, {_HOUR}, "  # noqa: S608
            f"count(*), min(value), max(value), {fsum.sum_of('value', 'ts')}, (array_agg(value ORDER BY ts))[1], "
            f"(array_agg(value ORDER BY ts DESC))[1], min(ts), max(ts) FROM {table} "
            "WHERE series_id = ANY(%s::int8[]) AND ts >= %s AND ts < %s GROUP BY 1, 2, 3",
            params,
            _STAT_KINDS,
        )
    )


_HOUR = "date_bin('1 hour', ts, 'epoch'::timestamptz)"


def _us(column: str) -> str:
    """A timestamptz column as integer microseconds since the epoch (no datetime per row)."""
    return f"(extract(epoch FROM {column}) * 1000000)::int8"


def _chunk_meta(ids: list[int], start_us: int, end_us: int) -> Buckets:
    """The stored stats of the chunks that may hold samples of [start, end) (``bucket`` 0)."""
    return Buckets.of(
        fetch_columns(
            "SELECT series_id, 'epoch'::timestamptz, hour, count, min, max, sum, first, last, first_ts, last_ts "
            "FROM monitoring_chunk WHERE series_id = ANY(%s::int8[]) AND hour > %s AND hour < %s",
            [id_array(ids), from_us(start_us - HOUR_US), from_us(end_us)],
            _STAT_KINDS,
        )
    )


def _chunk_samples(pairs: list[tuple[int, int]]) -> dict[tuple[int, int], tuple[np.ndarray, np.ndarray]]:
    if not pairs:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.series_id, {_us('c.hour')}, c.timestamps, c.values FROM monitoring_chunk c "  # noqa: S608
            "JOIN unnest(%s::bigint[], %s::timestamptz[]) AS k(series_id, hour) "
            "ON c.series_id = k.series_id AND c.hour = k.hour",
            [id_array([p[0] for p in pairs]), [from_us(p[1]) for p in pairs]],
        )
        return {(sid, hour): decode(t, v) for sid, hour, t, v in cursor.fetchall()}


def _rows(table: str, ids: list[int], start_us: int, end_us: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(series_id, ts µs, value) of a sample table's rows in [start, end), by series then time."""
    sids, ts, values = fetch_columns(
        f"SELECT series_id, ts, value FROM {table} "  # noqa: S608
        "WHERE series_id = ANY(%s::int8[]) AND ts >= %s AND ts < %s",
        [id_array(ids), from_us(start_us), from_us(end_us)],
        "itf",
    )
    order = np.lexsort((ts, sids))
    return sids[order], ts[order], values[order]


def _keys(sids: np.ndarray, micros: np.ndarray) -> np.ndarray:
    """One int64 per (series, hour of ``micros``): the series id above 24 bits of hour number."""
    return (sids << 24) | (micros // HOUR_US)


def _pairs(keys: np.ndarray) -> list[tuple[int, int]]:
    return [(key >> 24, (key & 0xFFFFFF) * HOUR_US) for key in keys.tolist()]


def _hour_samples(
    keys: np.ndarray,
    in_chunks: np.ndarray,
    in_raw: np.ndarray,
    late: tuple[np.ndarray, np.ndarray, np.ndarray],
    start_us: int,
    end_us: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(series_id, ts µs, value) of every sample of the (series, hour) ``keys`` inside
    [start, end), by series then time, where a timestamp held twice keeps the first written:
    chunk > raw > late. ``in_chunks``/``in_raw``: the keys chunks and raw rows hold (no query
    for a place that holds none of them); ``late``: the range's late rows, already read."""
    sids: list[np.ndarray] = []
    stamps: list[np.ndarray] = []
    values: list[np.ndarray] = []
    places: list[np.ndarray] = []

    def add(sid: np.ndarray, ts: np.ndarray, value: np.ndarray, place: int) -> None:
        sids.append(sid)
        stamps.append(ts)
        values.append(value)
        places.append(np.full(len(ts), place, np.int8))

    for (sid, _), (ts, value) in _chunk_samples(_pairs(keys[np.isin(keys, in_chunks)])).items():
        add(np.full(len(ts), sid, np.int64), ts, value, 0)
    wanted = keys[np.isin(keys, in_raw)]
    if len(wanted):
        hours = (wanted & 0xFFFFFF) * HOUR_US
        lo_us, hi_us = max(start_us, int(hours.min())), min(end_us, int(hours.max()) + HOUR_US)
        sid, ts, value = _rows("monitoring_sample", np.unique(wanted >> 24).tolist(), lo_us, hi_us)
        keep = np.isin(_keys(sid, ts), wanted)
        add(sid[keep], ts[keep], value[keep], 1)
    sid, ts, value = late
    keep = np.isin(_keys(sid, ts), keys)
    add(sid[keep], ts[keep], value[keep], 2)
    if not sids:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64)
    sid, ts, value, place = (np.concatenate(p) for p in (sids, stamps, values, places))
    order = np.lexsort((place, ts, sid))
    sid, ts, value = sid[order], ts[order], value[order]
    keep = (ts >= start_us) & (ts < end_us)
    keep[1:] &= (sid[1:] != sid[:-1]) | (ts[1:] != ts[:-1])
    return sid[keep], ts[keep], value[keep]


def bucket_stats(ids: list[int], start_us: int, end_us: int, step_us: int | None) -> Buckets:
    """Stats per (series, bucket µs — 0 when ``step_us`` is None: one bucket) over [start, end),
    rows ordered by series then bucket."""
    hot = _sql_segments("monitoring_sample", ids, start_us, end_us, step_us)
    # Late rows are few (the next compaction merges them): read whole, merged here.
    late = _rows("monitoring_sample_late", ids, start_us, end_us)
    meta = _chunk_meta(ids, start_us, end_us)
    hot_keys, late_keys, meta_keys = _keys(hot.sid, hot.hour), _keys(late[0], late[1]), _keys(meta.sid, meta.hour)
    # Raw rows alone in their hour (no other place holds samples of it): PostgreSQL's segments stand.
    hot_alone = ~np.isin(hot_keys, late_keys) & ~np.isin(hot_keys, meta_keys)
    # A chunk alone in its hour, whole inside the range and inside one bucket: its stored stats.
    meta_alone = ~np.isin(meta_keys, hot_keys) & ~np.isin(meta_keys, late_keys)
    inside = (meta.first_ts >= start_us) & (meta.last_ts < end_us)
    if step_us:
        one_bucket = _bucket_of(meta.first_ts, step_us) == _bucket_of(meta.last_ts, step_us)
    else:
        one_bucket = np.ones(len(meta), dtype=bool)
    whole = meta_alone & inside & one_bucket
    from_chunk = meta.take(np.flatnonzero(whole))
    from_chunk.bucket = _bucket_of(from_chunk.first_ts, step_us)
    # Everything else is decoded and merged sample by sample: hours two places share, chunks
    # cut by the range or by a bucket.
    decode_keys = np.unique(np.concatenate((hot_keys[~hot_alone], late_keys, meta_keys[~whole])))
    parts = [hot.take(np.flatnonzero(hot_alone)), from_chunk]
    if len(decode_keys):
        sids, ts, values = _hour_samples(decode_keys, meta_keys, hot_keys, late, start_us, end_us)
        parts.append(_segment_stats(sids, ts, values, step_us, (sids, _bucket_of(ts, step_us), ts // HOUR_US)))
    return _merge_segments(Buckets.concat(parts))


def samples(ids: list[int], start_us: int, end_us: int) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Every sample of ``ids`` in [start, end), per series in time order (for quantiles)."""
    meta = _chunk_meta(ids, start_us, end_us)
    pairs = sorted(zip(meta.sid.tolist(), meta.hour.tolist(), strict=True))
    found: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    for (sid, _), part in sorted(_chunk_samples(pairs).items()):
        found.setdefault(sid, []).append(part)
    for table in ("monitoring_sample", "monitoring_sample_late"):
        sids, ts, values = _rows(table, ids, start_us, end_us)
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

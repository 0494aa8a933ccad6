"""Where compacted samples live and how they are read back: chunks, the late table, one series.

Three places hold samples: ``monitoring_sample`` (hot, raw rows), ``monitoring_sample_late``
(samples that arrived for a range past the hot window) and ``monitoring_chunk`` (one row per
series per hour, compressed). Readers see them as one series: when two places hold the same
(series, ts), the first written wins — a chunk over a raw row, a raw row over a late one —
which is the rule ``ON CONFLICT DO NOTHING`` applies within the raw table.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

import numpy as np
from django.conf import settings
from django.db import connection, transaction

from monitoring.store import codec, fsum

CHUNK_SECONDS = 3600
HOUR_US = CHUNK_SECONDS * 1_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Samples older than (now - hot window + this) go to the late table, so a sample never lands in
# a raw hour that compaction may already have taken (compaction stops at now - hot window).
LATE_MARGIN = timedelta(minutes=5)

# Days whose chunk partition this process knows exists.
known_chunk_partitions: set[date] = set()


def to_us(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def from_us(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=int(micros))


def late_cutoff(now: datetime | None = None) -> datetime:
    """Samples stamped before this are written to the late table, not to a raw partition."""
    now = now or datetime.now(UTC)
    return now - timedelta(seconds=settings.STORAGE_HOT_WINDOW_SECONDS) + LATE_MARGIN


def chunk_partition_name(day: date) -> str:
    return f"monitoring_chunk_p{day:%Y%m%d}"


def ensure_chunk_partitions(days: Iterable[date]) -> None:
    for day in sorted(set(days) - known_chunk_partitions):
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {chunk_partition_name(day)} PARTITION OF monitoring_chunk "
                f"FOR VALUES FROM ('{day.isoformat()}') TO ('{(day + timedelta(days=1)).isoformat()}')"
            )
        transaction.on_commit(lambda day=day: known_chunk_partitions.add(day))


def merge_first_wins(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate (ts, values) parts, earlier parts first, into one time-ordered series where
    a timestamp held by several parts keeps the value of the earliest part."""
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return np.empty(0, np.int64), np.empty(0, np.float64)
    if len(parts) == 1:
        ts, values = parts[0]
        if len(ts) < 2 or bool(np.all(ts[1:] > ts[:-1])):
            return ts, values
    ts = np.concatenate([p[0] for p in parts])
    values = np.concatenate([p[1] for p in parts])
    order = np.argsort(ts, kind="stable")
    ts, values = ts[order], values[order]
    keep = np.ones(len(ts), dtype=bool)
    keep[1:] = ts[1:] != ts[:-1]
    return ts[keep], values[keep]


def hot_rows(ids: list[int], start_us: int, end_us: int) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Raw and late rows of ``ids`` in [start, end), merged per series (raw wins over late)."""
    found: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    params = [ids, from_us(start_us), from_us(end_us)]
    for table in ("monitoring_sample", "monitoring_sample_late"):
        sids, ts, values = fetch_rows(
            f"SELECT series_id, ts, value FROM {table} WHERE series_id = ANY(%s) AND ts >= %s AND ts < %s",  # noqa: S608
            params,
        )
        for sid, lo, hi in groups(sids):
            found.setdefault(sid, []).append((ts[lo:hi], values[lo:hi]))
    return {sid: merge_first_wins(parts) for sid, parts in found.items()}


# PostgreSQL's binary COPY of (int8, timestamptz, float8) rows: fixed-size tuples numpy reads
# in one go (timestamps are µs since 2000-01-01).
_COPY_ROW = np.dtype(
    [("n", ">i2"), ("l1", ">i4"), ("sid", ">i8"), ("l2", ">i4"), ("ts", ">i8"), ("l3", ">i4"), ("value", ">f8")]
)
_PG_EPOCH_US = 946_684_800 * 1_000_000
_COPY_HEADER = 19


def fetch_rows(sql: str, params: list[object]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(series_id, ts µs, value) arrays of a query's rows, sorted by series then time."""
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT BINARY)", params) as copy:
        data = b"".join(bytes(block) for block in copy)
    count = (len(data) - _COPY_HEADER - 2) // _COPY_ROW.itemsize
    rows = np.frombuffer(data, dtype=_COPY_ROW, count=count, offset=_COPY_HEADER)
    sids = rows["sid"].astype(np.int64)
    ts = rows["ts"].astype(np.int64) + _PG_EPOCH_US
    values = rows["value"].astype(np.float64)
    order = np.lexsort((ts, sids))
    return sids[order], ts[order], values[order]


def fetch_columns(sql: str, params: list[object], kinds: str) -> list[np.ndarray]:
    """The columns of a query whose columns are integers (``i``), floats (``f``) or timestamps
    (``t``, answered as int64 µs since the epoch), never NULL, as arrays: PostgreSQL packs each
    column into one bytea (``int8send``/``float8send``/``timestamptz_send``, the last being the
    exact int64 µs since 2000-01-01 PostgreSQL stores, with no per-row numeric conversion), so
    the rows cost one round trip and no Python object per value."""
    packed = ", ".join(
        f"string_agg({_SEND[kind]}(c{index}::{_CAST[kind]}), ''::bytea)" for index, kind in enumerate(kinds)
    )
    names = ", ".join(f"c{index}" for index in range(len(kinds)))
    with connection.cursor() as cursor:
        fsum.execute(cursor, f"SELECT {packed} FROM ({sql}) AS rows ({names})", params)  # noqa: S608
        row = cursor.fetchone()
    columns = []
    for blob, kind in zip(row, kinds, strict=True):
        column = np.frombuffer(bytes(blob or b""), dtype=">f8" if kind == "f" else ">i8")
        if kind == "f":
            columns.append(column.astype(np.float64))
        else:
            columns.append(column.astype(np.int64) + (_PG_EPOCH_US if kind == "t" else 0))
    return columns


_SEND = {"i": "int8send", "f": "float8send", "t": "timestamptz_send"}
_CAST = {"i": "int8", "f": "float8", "t": "timestamptz"}


def id_array(ids: list[int] | np.ndarray) -> str:
    """A bigint[] literal of ``ids`` (``%s::int8[]``): psycopg adapts a list element by element,
    which costs more than the query for thousands of ids."""
    return "{" + ",".join(map(str, np.asarray(ids, dtype=np.int64).tolist())) + "}"


def groups(keys: np.ndarray) -> list[tuple[int, int, int]]:
    """(key, start, end) of each run of equal values in a sorted array."""
    if len(keys) == 0:
        return []
    edges = np.flatnonzero(keys[1:] != keys[:-1]) + 1
    starts = np.concatenate(([0], edges))
    ends = np.concatenate((edges, [len(keys)]))
    return [(int(keys[s]), int(s), int(e)) for s, e in zip(starts, ends, strict=True)]


def decode(timestamps: bytes | memoryview, values: bytes | memoryview) -> tuple[np.ndarray, np.ndarray]:
    return codec.decode_times(timestamps), codec.decode_values(values)


def chunk_stats(ts: np.ndarray, values: np.ndarray) -> tuple[int, float, float, float, float, float]:
    """(count, min, max, sum, first, last) with PostgreSQL's semantics: NaN is greater than every
    number (min skips it, max returns it) and the sum adds values one by one in time order."""
    with np.errstate(over="ignore", invalid="ignore"):  # ±Inf and NaN sums are answers, not errors
        total = float(np.add.accumulate(values)[-1])
    return (
        len(values),
        float(np.fmin.reduce(values)),
        float(np.maximum.reduce(values)),
        total,
        float(values[0]),
        float(values[-1]),
    )


def store_late(rows: list[tuple[int, datetime, float]]) -> None:
    """Keep samples stamped past the hot window until the next compaction merges them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO monitoring_sample_late (series_id, ts, value) "
            "SELECT DISTINCT ON (series_id, ts) series_id, ts, value "
            "FROM unnest(%s::bigint[], %s::timestamptz[], %s::float8[]) WITH ORDINALITY AS r(series_id, ts, value, n) "
            "ORDER BY series_id, ts, n "  # one (series, ts) twice in the batch: the first written is kept
            "ON CONFLICT (series_id, ts) DO NOTHING",
            [[r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]],
        )

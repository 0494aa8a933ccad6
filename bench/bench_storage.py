"""Storage density and speed of compacted data.

Values come from this machine's system collector (``system_fast``, the 1-s tier) captured live
for a couple of minutes at 1 s, stamped in milliseconds as the collector stamps them, and tiled
to one day per series (counters keep counting across tiles). Anchors from the same run: the same
day stored as raw rows (bytes per sample as PostgreSQL reports them), a plain SQL scan.

The codec was chosen here: pcodec against Gorilla-style XOR (gorillacompression) and zstandard
on the untiled capture (tiling would flatter zstd, which finds repeats, not pcodec or Gorilla).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from django.db import connection

from bench.common import Result, arriving_on_time, median_ms
from monitoring import collectors
from monitoring.models import Chunk, Compaction, RollupState
from monitoring.store import compaction, query, writer
from monitoring.store.series import resolve_series

RUNS = 7
HOUR_US = 3_600_000_000


def _median_ms(fn: Any) -> float:
    return median_ms(RUNS, fn)


def capture(seconds: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``seconds`` of the real system collector at 1 s: key → (ms-stamped µs, values)."""
    found: dict[str, tuple[list[int], list[float]]] = {}
    tick = time.time()
    for _ in range(seconds):
        stamp = round(time.time(), 3)
        for name, labels, value in collectors.system_fast():
            key = name + "|" + ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
            entry = found.setdefault(key, ([], []))
            entry[0].append(round(stamp * 1e6))
            entry[1].append(float(value))
        tick += 1.0
        time.sleep(max(0.0, tick - time.time()))
    return {k: (np.array(t, np.int64), np.array(v, np.float64)) for k, (t, v) in found.items()}


def tile(ts: np.ndarray, values: np.ndarray, start_us: int, counter: bool) -> tuple[np.ndarray, np.ndarray]:
    """One day from a capture: the captured intervals and values repeated (counters continue)."""
    steps = np.diff(ts)
    steps = steps if len(steps) else np.array([1_000_000])
    reps = int(np.ceil(86_400 / len(steps)))
    stamps = start_us + np.concatenate(([0], np.cumsum(np.tile(steps, reps))))
    stamps = stamps[stamps < start_us + 86_400_000_000]
    n = len(stamps)
    if counter:
        increments = np.tile(np.diff(values) if len(values) > 1 else np.zeros(1), reps + 1)[: n - 1]
        day = values[0] + np.concatenate(([0.0], np.cumsum(np.maximum(increments, 0))))
    else:
        day = np.tile(values, reps + 1)[:n]
    return stamps, day


def codec_table(captured: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """Bytes per sample (values + timestamps) of each codec over the untiled capture."""
    import pcodec
    import zstandard
    from gorillacompression import TimestampsEncoder, ValuesEncoder
    from pcodec import standalone

    total = sum(len(v) for _, v in captured.values())
    zstd = zstandard.ZstdCompressor(level=19)
    sizes = {"pcodec": 0, "gorilla": 0, "zstd": 0}
    for ts, values in captured.values():
        sizes["pcodec"] += len(standalone.simple_compress(values, pcodec.ChunkConfig()))
        sizes["pcodec"] += len(standalone.simple_compress(ts, pcodec.ChunkConfig()))
        sizes["gorilla"] += len(ValuesEncoder.encode_all(values.tolist())["encoded"])
        # The library takes int32 timestamps: milliseconds from the capture's start.
        sizes["gorilla"] += len(TimestampsEncoder.encode_all(((ts - ts[0]) // 1000).tolist())["encoded"])
        sizes["zstd"] += len(zstd.compress(values.tobytes()))
        sizes["zstd"] += len(zstd.compress(np.diff(ts, n=2, prepend=[ts[0], ts[0]]).tobytes()))
    return {name: size / total for name, size in sizes.items()}


def _size(tables_sql: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s",
            [tables_sql],
        )
        return int(cursor.fetchone()[0])


def _clear() -> None:
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE monitoring_sample, monitoring_sample_late, monitoring_chunk")
        cursor.execute("DELETE FROM monitoring_compaction")
    RollupState.objects.filter(name="1m").delete()


def run(args: Any) -> list[Result]:
    seconds = 20 if args.quick else 120
    captured = capture(seconds)
    codecs = codec_table(captured)
    _clear()
    day_start = (int(time.time()) // 86400 - 3) * 86400  # an aligned day, three days ago
    start_us = day_start * 1_000_000
    names = {key: key.split("|")[0] for key in captured}
    label_sets = {key: dict(kv.split("=", 1) for kv in key.split("|")[1].split(",") if kv) for key in captured}
    keys = {key: (names[key], writer.labels_key(label_sets[key]) if label_sets[key] else "{}") for key in captured}
    ids = resolve_series({keys[key]: label_sets[key] for key in captured})
    sid_of = {key: ids[keys[key]] for key in captured}
    total = 0
    with arriving_on_time():  # store the day as raw rows first
        for key, (ts, values) in captured.items():
            day_ts, day_values = tile(ts, values, start_us, counter=names[key].endswith("_total"))
            writer.copy_columns(np.full(len(day_ts), sid_of[key], np.int64), day_ts, day_values)
            total += len(day_ts)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE monitoring_sample")
    raw_bytes = _size("monitoring_sample")
    began = time.perf_counter()
    compaction.compact()
    compact_seconds = time.perf_counter() - began
    compressed = _size("monitoring_chunk")
    chunk_samples = sum(Chunk.objects.values_list("count", flat=True))
    assert chunk_samples == total, (chunk_samples, total)
    per_sample = compressed / total
    raw_per_sample = raw_bytes / total

    cpu = next(k for k in captured if k.startswith("system_cpu_percent"))
    metric = names[cpu]
    day_range = (datetime.fromtimestamp(day_start, UTC), datetime.fromtimestamp(day_start + 86400, UTC))
    day_ms = _median_ms(lambda: query.query(metric, {}, *day_range, agg="avg"))
    points = len(query.query(metric, {}, *day_range, agg="avg")[0]["points"])

    # 30 days at 1 minute: the rollup tier that range is served from (binary sketches).
    month = resolve_series({("bench_storage_month", "{}"): {}})[("bench_storage_month", "{}")]
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM monitoring_rollup_1m WHERE series_id = %s", [month])
        cursor.execute(
            "INSERT INTO monitoring_rollup_1m (series_id, bucket, count, sum, min, max, last, sketch) "
            "SELECT %s, b, 60, 60 * random(), 0, 1, random(), int4send(50000) || int4send(60) "
            "FROM generate_series(%s::timestamptz, %s::timestamptz, interval '1 minute') AS b",
            [month, now - timedelta(days=30), now - timedelta(minutes=1)],
        )
    month_ms = _median_ms(lambda: query.query("bench_storage_month", {}, now - timedelta(days=30), now, agg="avg"))

    # 10,000 series x 1 h at 10 s, compacted; one compaction's cost scaled to a day.
    many = 1000 if args.quick else 10_000
    hour_start = day_start * 1_000_000 + HOUR_US
    fleet = resolve_series(
        {("bench_storage_fleet", writer.labels_key({"i": str(i)})): {"i": str(i)} for i in range(many)}
    )
    fleet_ids = np.array(sorted(fleet.values()), np.int64)
    rng = np.random.default_rng(7)
    with arriving_on_time():
        for offset in range(0, 3600, 10):
            stamps = np.full(
                len(fleet_ids), hour_start + offset * 1_000_000 + rng.integers(0, 5, len(fleet_ids)) * 1000
            )
            writer.copy_columns(fleet_ids, stamps, np.round(rng.normal(50, 10, len(fleet_ids)), 1))
    Compaction.objects.all().delete()  # the fleet's hour lies before the day compacted above
    cpu_began = time.process_time()
    began = time.perf_counter()
    compaction.compact()
    fleet_seconds = time.perf_counter() - began
    fleet_cpu = time.process_time() - cpu_began
    # Wall time (this process and PostgreSQL's work on its behalf), for 1 h of data: x24 a day.
    day_share = 100 * fleet_seconds * 24 * (10_000 / many) / 86_400
    # The hour of chunks exactly ((end - 1 h, end]): answered from chunk stats, nothing decoded.
    window_end = datetime.fromtimestamp((hour_start + HOUR_US - 1) / 1e6, UTC)
    fleet_max = query.aggregate_window
    agg_ms = _median_ms(lambda: fleet_max("bench_storage_fleet", None, 3600, "max", now=window_end, limit=None))
    # Half an hour later the window cuts two chunks of every series: those are decoded.
    shifted = window_end + timedelta(minutes=30)
    cut_ms = _median_ms(lambda: fleet_max("bench_storage_fleet", None, 3600, "max", now=shifted, limit=None))

    def scan() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM monitoring_chunk WHERE series_id = ANY(%s)", [fleet_ids.tolist()])

    _clear()
    cpu_note = f"day of {len(captured)} series at 1 s = {total:,} samples; compacted in {compact_seconds:.1f} s"
    return [
        Result(
            "bytes per sample, compacted (1 day, system collector at 1 s)",
            per_sample,
            "B/sample",
            "the same day as raw rows",
            raw_per_sample,
            goal="≤2.0 B/sample (Prometheus ~1.3)",
            met=per_sample <= 2.0,
            notes=cpu_note,
        ),
        Result(
            "codec: pcodec (values + timestamps)",
            codecs["pcodec"],
            "B/sample",
            "zstandard level 19 (delta-of-delta timestamps)",
            codecs["zstd"],
            notes=f"Gorilla XOR + delta-of-delta: {codecs['gorilla']:.2f} B/sample; {seconds} s capture, untiled",
        ),
        Result(
            "query 1 series x 24 h of 1-s samples, compacted, downsampled",
            day_ms,
            "ms",
            goal="≤150 ms",
            met=day_ms <= 150,
            notes=f"{points} points",
        ),
        Result(
            "query 1 series x 30 days at 1 min (1-minute rollups, binary sketches)",
            month_ms,
            "ms",
            goal="≤100 ms",
            met=month_ms <= 100,
        ),
        Result(
            f"{many:,} series x 1 h agg=max, compacted (alert window)",
            agg_ms,
            "ms",
            "SQL count(*) of their chunks",
            _median_ms(scan),
            goal="≤1 s",
            met=agg_ms <= 1000,
            notes=f"from chunk stats; a window cutting every chunk (decoded): {cut_ms:,.0f} ms",
        ),
        Result(
            "compaction of 10,000 series at 10 s, share of one core over the day",
            day_share,
            "%",
            goal="≤5 %",
            met=day_share <= 5,
            notes=f"1 h of {many:,} series compacted in {fleet_seconds:.1f} s wall ({fleet_cpu:.1f} s CPU here), x24",
        ),
    ]

"""Query latency: one series over 30 days at 1-minute resolution (rollups), and 24 h of 1-second
raw samples downsampled to ≤2,000 points. Anchor: a plain scan of the same rows in SQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection

from bench.common import Result, arriving_on_time, forget_samples, median_ms
from lib import sketch
from monitoring.store import query, writer

RUNS = 9


def _median_ms(fn: Any) -> float:
    return median_ms(RUNS, fn)


def _scan_ms(table: str, time_col: str, sid: int, start: datetime, end: datetime) -> float:
    def scan() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT count(*) FROM {table} WHERE series_id = %s AND {time_col} >= %s AND {time_col} < %s",  # noqa: S608
                [sid, start, end],
            )
            cursor.fetchone()

    return _median_ms(scan)


def run(args: Any) -> list[Result]:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    writer.record_samples([("bench_query_month", {}, now.timestamp() - 3600, 1.0)])
    writer.record_samples([("bench_query_day", {}, now.timestamp() - 3600, 1.0)])
    month = query.series_matching("bench_query_month").get()
    day = query.series_matching("bench_query_day").get()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM monitoring_rollup_1m WHERE series_id = %s", [month.id])
        cursor.execute(
            "INSERT INTO monitoring_rollup_1m (series_id, bucket, count, sum, min, max, last, sketch) "
            "SELECT %s, b, 60, 60 * random(), 0, 1, random(), %s "
            "FROM generate_series(%s::timestamptz, %s::timestamptz, interval '1 minute') AS b",
            [month.id, sketch.encode({"p0": 60}), now - timedelta(days=30), now - timedelta(minutes=1)],
        )
    seconds = 3600 if args.quick else 86400
    start = now.timestamp() - seconds
    # Raw rows, as the figure says: each sample arrived while inside the hot window (written in
    # one go, 22 of the 24 hours would land in the late table instead), and no earlier run's rows.
    forget_samples([day.id])
    with arriving_on_time():
        writer.record_samples(("bench_query_day", {}, start + i, float(i % 100)) for i in range(seconds))

    month_range = (now - timedelta(days=30), now)
    day_range = (datetime.fromtimestamp(start, UTC), now)
    month_ms = _median_ms(lambda: query.query("bench_query_month", {}, *month_range, agg="avg"))
    day_ms = _median_ms(lambda: query.query("bench_query_day", {}, *day_range, agg="avg"))
    points = len(query.query("bench_query_day", {}, *day_range, agg="avg")[0]["points"])
    return [
        Result(
            "1 series x 30 days at 1 min (1-minute rollups)",
            month_ms,
            "ms",
            "SQL count(*) of the same rows",
            _scan_ms("monitoring_rollup_1m", "bucket", month.id, *month_range),
            goal="≤100 ms",
            met=month_ms <= 100,
        ),
        Result(
            f"1 series x {seconds // 3600} h of 1-s raw samples, downsampled",
            day_ms,
            "ms",
            "SQL count(*) of the same rows",
            _scan_ms("monitoring_sample", "ts", day.id, *day_range),
            goal="≤150 ms",
            met=day_ms <= 150,
            notes=f"{points} points returned",
        ),
    ]

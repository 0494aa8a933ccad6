"""Compaction: chunks hold exactly the samples they replaced, and every read path gives the same
answer before and after compaction, with late samples, whatever the mix."""

import itertools
import math
import struct
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.conf import settings as django_settings
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.evaluation import Window
from monitoring import rollups
from monitoring.models import Chunk, Compaction
from monitoring.store import chunks, compaction, export, query, writer
from monitoring.store.series import resolve_series

pytestmark = pytest.mark.django_db

HOUR = 3600
# A fresh series per Hypothesis example: the examples share one transaction, and id() of an
# example's list is reused once an earlier one is freed (that series would still hold its data).
_examples = itertools.count()


def hour_floor(moment: float) -> float:
    return moment // HOUR * HOUR


def series_id(name: str, **labels: str) -> int:
    key = writer.labels_key(labels) if labels else "{}"
    return resolve_series({(name, key): labels})[(name, key)]


def write(sid: int, points: list[tuple[float, float]]) -> None:
    """Through the store's writer, which is what every door uses (and which allows NaN/±Inf)."""
    writer.copy_rows([(sid, datetime.fromtimestamp(ts, UTC), value) for ts, value in points])


def stored(sid: int) -> tuple[list[int], list[int]]:
    """Every sample of a series wherever it lives: (µs timestamps, value bit patterns)."""
    found = chunks.hot_rows([sid], 0, 2**52)
    ts, values = found.get(sid, (np.empty(0, np.int64), np.empty(0)))
    parts = [(ts, values)]
    for chunk in Chunk.objects.filter(series_id=sid).order_by("hour"):
        parts.insert(0, chunks.decode(chunk.timestamps, chunk.values))
    merged_ts, merged_values = chunks.merge_first_wins(parts)
    return merged_ts.tolist(), merged_values.view(np.uint64).tolist()


def bits(value: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", value))[0]


def later(hours: float) -> datetime:
    return datetime.now(UTC) + timedelta(hours=hours)


values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.0, -0.0, 1e308, -1e308, 5e-324]),
    st.integers(-(2**40), 2**40).map(float),
)


# Sums of these stay finite unless an infinity is summed (PostgreSQL refuses a float8 sum that
# overflows to ±Inf from finite values); no -0.0 (which of two equal zeros a min keeps is not
# an answer this test pins down).
summable = st.one_of(
    st.floats(min_value=-1e300, max_value=1e300, width=64, allow_subnormal=True).map(lambda v: v + 0.0),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.0, 5e-324]),
    st.integers(-(2**40), 2**40).map(float),
)


@st.composite
def series_points(draw: st.DrawFn, values: st.SearchStrategy[float] = values) -> list[tuple[float, float]]:
    """Up to ~50 h of samples: gaps, jitter, repeated timestamps, counters that reset."""
    start = hour_floor(datetime.now(UTC).timestamp()) - HOUR  # recent enough to be raw, not late
    count = draw(st.integers(1, 300))
    steps = draw(st.lists(st.sampled_from([0.0, 0.001, 1.0, 1.0, 1.0, 10.0, 600.0]), min_size=count, max_size=count))
    kind = draw(st.sampled_from(["any", "counter"]))
    points, ts, total = [], start, 0.0
    for step in steps:
        ts += step
        if kind == "counter":
            total = 0.0 if draw(st.integers(0, 20)) == 0 else total + draw(st.integers(0, 1000))
            points.append((ts, total))
        else:
            points.append((ts, draw(values)))
    return points


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(points=series_points())
def test_compacted_data_equals_the_raw_it_replaced_bit_for_bit(points):
    Compaction.objects.all().delete()  # examples share one transaction; each starts from scratch
    sid = series_id("prop_series", run=str(next(_examples)))
    write(sid, points)
    before = stored(sid)
    # Identical timestamps are refused: the first value written for a timestamp is the one kept.
    first: dict[int, float] = {}
    for ts, value in points:
        first.setdefault(chunks.to_us(datetime.fromtimestamp(ts, UTC)), value)
    assert before == (sorted(first), [bits(first[t]) for t in sorted(first)])
    compaction.compact(now=later(60))  # a horizon past the last sample
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM monitoring_sample WHERE series_id = %s", [sid])
        assert cursor.fetchone()[0] == 0  # all of it went into chunks
    assert Chunk.objects.filter(series_id=sid).exists()
    assert stored(sid) == before


def exact_value(value: float | None) -> int | str | None:
    """A value as its bit pattern (-0.0 is not 0.0); NaN as NaN, whatever its sign bit."""
    return None if value is None else "NaN" if math.isnan(value) else bits(value)


def exact(found: list[dict]) -> list[list[tuple[float, int | str | None]]]:
    return [[(ts, exact_value(v)) for ts, v in s["points"]] for s in found]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(points=series_points(summable), step=st.sampled_from([1, 7, 60, 600, 3600, 5400]))
def test_bucketed_answers_are_bit_for_bit_the_same_from_chunks_as_from_raw_rows(points, step):
    """Sums add in time order, NaN sorts above every number, ±Inf and -0.0 survive: buckets
    read from chunk stats or decoded chunks give PostgreSQL's answer over the raw rows."""
    Compaction.objects.all().delete()
    name = f"prop_query_{next(_examples)}_{step}"
    write(series_id(name, host="a"), points)
    start = datetime.fromtimestamp(hour_floor(points[0][0]), UTC)
    end = min(datetime.fromtimestamp(points[-1][0] + 1, UTC), start + timedelta(days=1))  # raw tier

    def answers() -> dict:
        out = {}
        for agg in ("avg", "min", "max", "sum", "count", "last", "rate"):
            out[agg] = exact(query.query(name, {}, start, end, step=step, agg=agg))
            window = query.aggregate_window(name, {}, int((end - start).total_seconds()) + 1, agg, now=end)
            out[(agg, "window")] = [exact_value(v) for _, v in window]
        return out

    before = answers()
    compaction.compact(
        now=start + timedelta(hours=2) + timedelta(seconds=django_settings.STORAGE_HOT_WINDOW_SECONDS)
    )  # the first hours
    assert answers() == before
    compaction.compact(now=later(60))  # all of it
    assert answers() == before


def seed(name: str = "mixed") -> tuple[int, float]:
    """Three hours of 10-s samples ending now-ish, with NaN-free awkward floats, for two series."""
    base = hour_floor(datetime.now(UTC).timestamp()) - 2 * HOUR
    for host in ("a", "b"):
        sid = series_id(name, host=host)
        write(sid, [(base + i * 10 + 0.123, math.sin(i) * 1e3 + (0.1 if host == "a" else 7.7)) for i in range(1000)])
    return base, base + 10_000


def answers(name: str, base: float, end: float) -> dict:
    start_dt, end_dt = datetime.fromtimestamp(base, UTC), datetime.fromtimestamp(end, UTC)
    out = {}
    for agg in ("avg", "min", "max", "sum", "count", "last", "p50", "p95", "p99", "rate"):
        for step in (60, 130, 3600, 7200):
            out[(agg, step)] = query.query(name, {}, start_dt, end_dt, step=step, agg=agg)
        window = Window(now=end_dt)
        out[(agg, "alert")] = [(s.id, v) for s, v in window.rows(name, {}, 9000, agg)]
    out["export"] = [row for page in export.export_rows(name, {}, start_dt, end_dt, chunk=700) for row in page]
    return out


def test_queries_exports_and_alert_windows_answer_the_same_before_and_after_compaction():
    base, end = seed()
    before = answers("mixed", base, end)
    assert len(before["export"]) == 2000
    # Part compacted (the first hour), part hot: the same answers.
    compaction.compact(now=datetime.fromtimestamp(base + HOUR + 2 * HOUR + 60, UTC))
    assert Chunk.objects.count() == 2
    assert answers("mixed", base, end) == before
    # All compacted: still the same.
    compaction.compact(now=later(6))
    assert Chunk.objects.count() == 6
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM monitoring_sample")
        assert cursor.fetchone()[0] == 0
    assert answers("mixed", base, end) == before


def test_whole_hour_buckets_are_answered_from_chunk_stats_without_decoding(monkeypatch):
    base, end = seed("coarse")
    before = answers("coarse", base, end)
    compaction.compact(now=later(6))

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded a chunk")

    monkeypatch.setattr("monitoring.store.raw_read.decode", no_decoding)
    start_dt, end_dt = datetime.fromtimestamp(base, UTC), datetime.fromtimestamp(base + 2 * HOUR, UTC)
    for agg in ("avg", "min", "max", "sum", "count", "last", "rate"):
        hourly = query.query("coarse", {}, start_dt, end_dt, step=3600, agg=agg)
        assert [s["points"] for s in hourly] == [
            [p for p in s["points"] if p[0] < base + 2 * HOUR] for s in before[(agg, 3600)]
        ]


@pytest.mark.parametrize("place", ["hot", "late"])
def test_a_batch_holding_a_timestamp_several_times_keeps_the_first_value_written(place):
    """The rule for identical timestamps holds inside one batch too (not only against rows
    already stored): PostgreSQL's DISTINCT ON alone keeps an arbitrary one of the duplicates."""
    sid = series_id("dup_in_batch", place=place)
    base = datetime.now(UTC) - (timedelta(minutes=5) if place == "hot" else timedelta(days=1))
    moments = [base.replace(microsecond=0) + timedelta(seconds=i) for i in range(50)]
    rows = [(sid, moments[i % 50], float(i)) for i in range(5000)]  # value i: written i-th
    writer.copy_rows(rows)
    table = "monitoring_sample" if place == "hot" else "monitoring_sample_late"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT ts, value FROM {table} WHERE series_id = %s ORDER BY ts", [sid])  # noqa: S608
        got = cursor.fetchall()
    assert got == [(moment, float(i)) for i, moment in enumerate(moments)]


def test_a_late_sample_into_a_compacted_hour_is_stored_once_and_read_back():
    base, _ = seed("late")
    compaction.compact(now=later(6))
    sid = series_id("late", host="a")
    count = Chunk.objects.get(series_id=sid, hour=datetime.fromtimestamp(base, UTC)).count
    stamp = base + 5.5  # between two compacted samples
    for _ in range(2):
        writer.record_samples([("late", {"host": "a"}, stamp, 42.0)])
    existing = base + 10 + 0.123  # a timestamp the chunk already holds: the first value wins
    writer.record_samples([("late", {"host": "a"}, existing, -1.0)])
    start_dt = datetime.fromtimestamp(base, UTC)
    (points,) = [
        s["points"]
        for s in query.query("late", {"host": "a"}, start_dt, start_dt + timedelta(seconds=20), step=20, agg="count")
    ]
    assert points == [[base, 3.0]]  # 0.123, 5.5 and 10.123: the late one once, the duplicate not at all
    fine = query.query("late", {"host": "a"}, start_dt, start_dt + timedelta(seconds=15), step=5, agg="avg")
    assert fine[0]["points"][1] == [base + 5, 42.0]
    compaction.compact(now=later(6))
    chunk = Chunk.objects.get(series_id=sid, hour=start_dt)
    assert chunk.count == count + 1
    ts, vals = chunks.decode(chunk.timestamps, chunk.values)
    assert vals[list(ts).index(chunks.to_us(datetime.fromtimestamp(existing, UTC)))] != -1.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM monitoring_sample_late")
        assert cursor.fetchone()[0] == 0


def test_retention_drops_compacted_partitions_and_per_metric_retention_reaches_chunks(settings):
    old = datetime.now(UTC) - timedelta(days=10)
    keep, short = series_id("kept_metric"), series_id("short_metric")
    for sid in (keep, short):
        write(sid, [(old.timestamp() + i, float(i)) for i in range(100)])
    compaction.compact()
    assert chunks.chunk_partition_name(old.date()) in [n for n, _ in rollups.chunk_partitions()]
    from monitoring.models import Metric

    Metric.objects.filter(name="short_metric").update(retention_days=5)
    rollups.apply_retention()
    assert not Chunk.objects.filter(series_id=short).exists()
    assert Chunk.objects.filter(series_id=keep).exists()
    settings.SEISMO_RETENTION_RAW_DAYS = 7
    result = rollups.apply_retention()
    assert result["partitions_dropped"] >= 1
    assert chunks.chunk_partition_name(old.date()) not in [n for n, _ in rollups.chunk_partitions()]


def test_compaction_drops_raw_partitions_it_has_emptied():
    base, _ = seed("dropper")
    day = datetime.fromtimestamp(base, UTC).date()
    compaction.compact(now=datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC) + timedelta(hours=3))
    assert f"monitoring_sample_p{day:%Y%m%d}" not in [n for n, _ in rollups.sample_partitions()]
    assert Compaction.current().compacted_until is not None


def test_storage_api_reports_each_tier_to_admins_only(api_as, owner, viewer, anon_api):
    seed("reported")
    compaction.compact(now=datetime.now(UTC) + timedelta(hours=2, minutes=59))
    response = api_as(owner).get("/api/v1/storage/")
    assert response.status_code == 200
    body = response.json()
    tiers = {t["name"]: t for t in body["tiers"]}
    assert list(tiers) == ["raw", "compressed", "rollup_1m", "rollup_1h"]
    assert tiers["raw"]["samples"] + tiers["compressed"]["samples"] == 2000
    assert tiers["compressed"]["samples"] > 0 and tiers["compressed"]["bytes"] > 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM monitoring_sample")
        assert tiers["raw"]["samples"] == cursor.fetchone()[0]
    assert tiers["compressed"]["bytes_per_sample"] == pytest.approx(
        tiers["compressed"]["bytes"] / tiers["compressed"]["samples"], rel=1e-3
    )
    assert body["database_bytes"] >= sum(t["bytes"] for t in body["tiers"])
    assert body["compaction"]["running"] is False and body["compaction"]["compacted_until"]
    assert body["projection"]["retention_days"] == 30
    assert api_as(viewer).get("/api/v1/storage/").status_code == 403
    assert anon_api.get("/api/v1/storage/").status_code == 401
    assert api_as(viewer).post("/api/v1/storage/compact/").status_code == 403
    assert anon_api.post("/api/v1/storage/compact/").status_code == 401


def test_the_overview_shows_admins_what_storage_costs(client, owner, viewer):
    seed("overview_cost")
    compaction.compact(now=datetime.now(UTC) + timedelta(hours=2, minutes=59))
    client.force_login(owner)
    assert 'id="storage"' in client.get("/").content.decode()  # the page asks for the report once shown
    report = client.get("/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="storage").content.decode()
    assert 'data-tier="compressed"' in report and 'id="storage-projection"' in report
    client.force_login(viewer)
    assert 'id="storage"' not in client.get("/").content.decode()
    assert "data-tier" not in client.get("/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="storage").content.decode()


def test_rollup_sketches_are_binary_and_postgresql_buckets_values_as_python_does():
    from lib import sketch

    values = [-1e300, -12.5, -0.001, 0.0, 5e-324, 0.37, 1.0, 99.9, 1e300]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {sketch.SQL_CODE} FROM unnest(%s::float8[]) AS v(value)",  # noqa: S608
            [values],
        )
        codes = [row[0] for row in cursor.fetchall()]
    assert codes == [sketch.code_of(sketch.bucket_of(v)) for v in values]
    counts = {"p12": 3, "z": 1, "n4": 2}
    blob = sketch.encode(counts)
    assert len(blob) == 8 * 3 and sketch.decode(blob) == counts

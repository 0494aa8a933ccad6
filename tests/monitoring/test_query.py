import csv
import io
import math
import time
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from django.db import connection

from lib import sketch
from lib.renderers import FastJSONRenderer
from monitoring import rollups
from monitoring.choices import Aggregation
from monitoring.models import Chunk, Rollup1h, Rollup1m, RollupState
from monitoring.store import chunks, compaction, export, query, writer

pytestmark = pytest.mark.django_db


def put(metric: str, points: list[tuple[float, float]], **labels: str) -> None:
    writer.record_samples([(metric, labels, ts, value) for ts, value in points])


def test_query_buckets_raw_samples_by_step_and_aggregation(api_as, viewer):
    base = (int(time.time()) // 3600 - 1) * 3600  # aligned, so buckets of 60/120 s line up
    put("cpu", [(base + i, float(i)) for i in range(120)], host="a")
    put("cpu", [(base + i, 100.0) for i in range(120)], host="b")
    api = api_as(viewer)
    response = api.get(
        "/api/v1/query/", {"metric": "cpu", "label.host": "a", "from": base, "to": base + 120, "step": 60, "agg": "max"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["tier"] == "raw" and body["step"] == 60
    assert body["series"] == [{"labels": {"host": "a"}, "points": [[base, 59.0], [base + 60, 119.0]]}]
    both = api.get(
        "/api/v1/query/", {"metric": "cpu", "from": base, "to": base + 120, "step": 120, "agg": "avg"}
    ).json()
    assert sorted(s["points"][0][1] for s in both["series"]) == [59.5, 100.0]
    last = api.get(
        "/api/v1/query/",
        {"metric": "cpu", "label.host": "a", "from": base, "to": base + 120, "step": 120, "agg": "last"},
    )
    assert last.json()["series"][0]["points"] == [[base, 119.0]]
    p95 = api.get(
        "/api/v1/query/",
        {"metric": "cpu", "label.host": "a", "from": base, "to": base + 120, "step": 120, "agg": "p95"},
    )
    assert p95.json()["series"][0]["points"][0][1] == pytest.approx(113.05)


def test_rate_turns_a_counter_into_per_second_values(api_as, viewer):
    base = (int(time.time()) // 3600 - 1) * 3600  # aligned, so buckets of 60/120 s line up
    put("requests_total", [(base + i, 10.0 * i) for i in range(61)])
    response = api_as(viewer).get(
        "/api/v1/query/", {"metric": "requests_total", "from": base, "to": base + 60, "step": 60, "agg": "rate"}
    )
    assert response.json()["series"][0]["points"][0][1] == pytest.approx(10.0)


def test_a_long_range_never_returns_more_than_2000_points_per_series():
    start = datetime.now(UTC) - timedelta(hours=6)
    put("dense", [(start.timestamp() + i, 1.0) for i in range(0, 6 * 3600, 1)])
    (series,) = query.query("dense", {}, start, start + timedelta(hours=6), agg="avg")
    assert 0 < len(series["points"]) <= 2000


def test_the_store_tier_follows_the_range():
    now = datetime.now(UTC)
    assert query.choose_tier(now - timedelta(hours=1), now) == "raw"
    assert query.choose_tier(now - timedelta(days=7), now) == "1m"
    assert query.choose_tier(now - timedelta(days=90), now) == "1h"
    assert query.choose_tier(now - timedelta(days=40, hours=1), now - timedelta(days=40)) == "1m"  # past raw retention


def test_rollups_equal_aggregates_computed_from_raw():
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now - timedelta(minutes=30)
    values = [((i * 37) % 101) / 3 for i in range(20 * 60)]
    put("lat", [(start.timestamp() + i, v) for i, v in enumerate(values)], route="/x")
    rollups.rollup_minutes(now)
    rows = list(Rollup1m.objects.filter(series__metric__name="lat").order_by("bucket"))
    assert len(rows) == 20
    for minute, row in enumerate(rows):
        chunk = values[minute * 60 : (minute + 1) * 60]
        assert row.count == 60 and row.sum == pytest.approx(sum(chunk))
        assert row.min == min(chunk) and row.max == max(chunk) and row.last == chunk[-1]
        assert sum(sketch.decode(row.sketch).values()) == 60
    rollups.rollup_hours(now + timedelta(hours=1))
    hour_rows = list(Rollup1h.objects.filter(series__metric__name="lat"))
    assert sum(r.count for r in hour_rows) == 1200
    assert sum(r.sum for r in hour_rows) == pytest.approx(sum(values))
    assert min(r.min for r in hour_rows) == min(values) and max(r.max for r in hour_rows) == max(values)
    merged = sketch.merge(sketch.decode(r.sketch) for r in hour_rows)
    exact = sorted(values)[int(0.95 * (len(values) - 1))]
    assert sketch.quantile(merged, 0.95) == pytest.approx(exact, rel=0.03)


def test_a_rollup_of_minutes_newer_than_the_statistics_never_joins_by_nested_loop(settings):
    """The newest minutes are past the histogram of the last ANALYZE: the planner guesses one row
    a side and would compare every group with every other (a 5M-sample rollup ran 25 minutes)."""
    settings.STORAGE_HOT_WINDOW_SECONDS = 3 * 86400  # yesterday's samples stay raw, one day partition
    noon = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=1)
    for host in range(20):
        put("seen", [((noon - timedelta(minutes=60)).timestamp() + 10 * i, 1.0) for i in range(120)], host=str(host))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE monitoring_sample")
    for host in range(20):
        put(
            "fresh",
            [((noon - timedelta(minutes=20)).timestamp() + 10 * i, float(i)) for i in range(120)],
            host=str(host),
        )
    RollupState.objects.update_or_create(name="1m", defaults={"watermark": noon - timedelta(minutes=25)})
    plans: dict[str, str] = {}

    def explain(execute, sql, params, many, context):
        if sql.lstrip().startswith("INSERT INTO monitoring_rollup_1m"):
            cursor = context["cursor"]
            cursor.execute(f"EXPLAIN {sql}", params)
            plans["rollup"] = "\n".join(row[0] for row in cursor.fetchall())
            cursor.execute("SELECT set_config('enable_nestloop', 'on', true)")
            cursor.execute(f"EXPLAIN {sql}", params)
            plans["planner alone"] = "\n".join(row[0] for row in cursor.fetchall())
            cursor.execute("SELECT set_config('enable_nestloop', 'off', true)")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(explain):
        written = rollups.rollup_minutes(noon + timedelta(seconds=30))
    assert "Nested Loop" in plans["planner alone"]  # the trap is there
    assert "Nested Loop" not in plans["rollup"]
    assert written == 20 * 20
    fresh = Rollup1m.objects.filter(series__metric__name="fresh")
    assert fresh.count() == 400 and {row.count for row in fresh} == {6}
    with connection.cursor() as cursor:
        cursor.execute("SHOW enable_nestloop")
        assert cursor.fetchone()[0] == "on"  # the rest of the transaction plans as usual


def test_queries_over_rollup_tiers_match_raw_aggregates():
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = datetime.fromtimestamp((int(now.timestamp()) // 1800 - 1) * 1800, UTC)  # one aligned half hour
    end = start + timedelta(minutes=30)
    put("mem", [(start.timestamp() + i, float(i % 60)) for i in range(30 * 60)])
    rollups.rollup_minutes(now)
    ids = list(query.series_matching("mem").values_list("id", flat=True))
    ((_, value),) = next(iter(query._bucketed("1m", ids, start, end, 1800, "avg").values()))
    assert value == pytest.approx(29.5)
    ((_, median),) = next(iter(query._bucketed("1m", ids, start, end, 1800, "p50").values()))
    assert median == pytest.approx(29.5, rel=0.05)
    ((_, highest),) = next(iter(query._bucketed("1m", ids, start, end, 1800, "max").values()))
    assert highest == 59.0


def test_retention_drops_whole_old_partitions(settings):
    settings.SEISMO_RETENTION_RAW_DAYS = 30
    old = datetime.now(UTC) - timedelta(days=29, hours=23)
    put("old_metric", [(old.timestamp(), 1.0)])
    put("old_metric", [(time.time(), 2.0)])
    compaction.compact()  # the old sample arrived late: compaction puts it in its day's chunk partition
    assert chunks.chunk_partition_name(old.date()) in [name for name, _ in rollups.chunk_partitions()]
    result = rollups.apply_retention(now=datetime.now(UTC) + timedelta(days=2))
    assert result["partitions_dropped"] >= 1
    assert chunks.chunk_partition_name(old.date()) not in [name for name, _ in rollups.chunk_partitions()]
    assert query.latest_value("old_metric") == 2.0


def test_per_metric_retention_deletes_only_that_metrics_old_samples():
    from monitoring.models import Metric

    stamp = time.time() - 3 * 86400
    put("short_lived", [(stamp, 1.0), (time.time(), 2.0)])
    put("long_lived", [(stamp, 1.0)])
    Metric.objects.filter(name="short_lived").update(retention_days=1)
    rollups.apply_retention()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM monitoring_sample) + (SELECT count(*) FROM monitoring_sample_late)"
        )
        assert cursor.fetchone()[0] == 2


def test_export_streams_csv_and_json_for_the_filters(api_as, viewer):
    base = time.time() - 600
    put("exp", [(base + i, float(i)) for i in range(12_000 // 100)], host="a")
    api = api_as(viewer)
    response = api.get(
        "/api/v1/export/", {"metric": "exp", "label.host": "a", "from": base - 1, "to": base + 1000, "format": "csv"}
    )
    assert response.status_code == 200 and response.streaming
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["metric", "labels", "ts", "time", "value"] and len(rows) == 121
    assert rows[1][1] == '{"host":"a"}' and float(rows[-1][4]) == 119.0
    as_json = api.get("/api/v1/export/", {"metric": "exp", "from": base - 1, "to": base + 1000, "format": "json"})
    import json

    assert len(json.loads(b"".join(as_json.streaming_content))["samples"]) == 120


def test_export_pages_through_many_rows_without_one_big_query():
    base = time.time() - 1000
    put("pages", [(base + i / 10, float(i)) for i in range(2500)])
    pages = list(export.export_rows("pages", {}, datetime.fromtimestamp(base - 1, UTC), datetime.now(UTC), chunk=1000))
    assert [len(p) for p in pages] == [1000, 1000, 500]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"metric": "bad name"},
        {"metric": "cpu", "from": "yesterday"},
        {"metric": "cpu", "from": 200, "to": 100},
        {"metric": "cpu", "step": "-5"},
        {"metric": "cpu", "agg": "median"},
        {"metric": "cpu", "step": "0"},
        {"metric": "cpu", "step": str(366 * 86400 + 1)},
        {"metric": "cpu", "from": "2021-02-29"},  # no such day
        {"metric": "cpu", "from": "1e9"},
        {"metric": "cpu", "to": "1700000000\n"},
        {"metric": "cpu\n"},
    ],
)
def test_bad_query_parameters_answer_400_json(api_as, viewer, params):
    response = api_as(viewer).get("/api/v1/query/", params)
    assert response.status_code == 400 and "error" in response.json()


def test_catalogue_and_series_listing(api_as, viewer):
    put("cat_metric", [(time.time(), 1.0)], host="x")
    api = api_as(viewer)
    catalogue = api.get("/api/v1/metrics/").json()["metrics"]
    assert {"name": "cat_metric", "series": 1}.items() <= next(
        m for m in catalogue if m["name"] == "cat_metric"
    ).items()
    series = api.get("/api/v1/series/", {"metric": "cat_metric", "label.host": "x"}).json()["series"]
    assert series[0]["labels"] == {"host": "x"}
    assert api.get("/api/v1/series/").status_code == 400
    assert api.get("/api/v1/export/", {"metric": "cat_metric", "format": "xml"}).status_code == 400


def test_outsiders_cannot_read_metrics(api_as, outsider, anon_api):
    assert api_as(outsider).get("/api/v1/metrics/").status_code == 403
    assert anon_api.get("/api/v1/query/", {"metric": "x"}).status_code == 401


def test_aggregate_window_gives_one_value_per_series_and_none_without_data():
    now = time.time()
    put("win", [(now - 30, 5.0), (now - 10, 7.0)], host="a")
    put("win", [(now - 3600, 1.0)], host="b")
    values = {s.labels["host"]: v for s, v in query.aggregate_window("win", {}, 60, "max")}
    assert values == {"a": 7.0, "b": None}


def test_values_whose_sum_overflows_a_float_add_up_to_infinity_in_queries_and_rollups(api_as, viewer):
    """PostgreSQL refuses to add 1e308 and 1e308 (it raises instead of giving Infinity): the
    query answers, the rollup run that covers them succeeds, and the sum is +Infinity."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now - timedelta(minutes=30)
    put("huge", [(start.timestamp() + i, 1e308) for i in range(3)], host="a")
    put("huge", [(start.timestamp() + i, 1.0) for i in range(3)], host="b")
    response = api_as(viewer).get(
        "/api/v1/query/",
        {"metric": "huge", "from": start.timestamp(), "to": start.timestamp() + 60, "step": 60, "agg": "sum"},
    )
    assert response.status_code == 200
    sums = {s["labels"]["host"]: s["points"][0][1] for s in response.json()["series"]}
    assert sums["b"] == 3.0 and sums["a"] is None  # JSON has no Infinity: null, as for NaN

    rollups.rollup_minutes(now)  # the minute of three 1e308s does not fail the run for the other series
    rows = {r.series.labels["host"]: r for r in Rollup1m.objects.filter(series__metric__name="huge")}
    assert rows["a"].sum == float("inf") and rows["a"].max == 1e308 and rows["b"].sum == 3.0
    ids = list(query.series_matching("huge", {"host": "a"}).values_list("id", flat=True))
    ((_, total),) = next(iter(query._bucketed("1m", ids, start, start + timedelta(minutes=1), 60, "sum").values()))
    assert total == float("inf")


def test_the_query_api_writes_the_same_json_from_arrays_as_from_lists_wherever_samples_live(api_as, viewer):
    """The API takes raw-tier points as arrays (no Python list per point): its JSON is byte for
    byte the list form's over chunks, late rows and raw rows, NaN, ±Inf, -0.0 and a rate
    without two samples included."""
    base = (int(time.time()) // 3600 - 4) * 3600
    values = [1.5, -0.0, math.nan, math.inf, -math.inf, 1e308, 5e-324, 42.0]
    put("mixed_places", [(base + i * 97.3, values[i % len(values)]) for i in range(150)], host="a")  # to now
    put("mixed_places", [(base + 7213.0, 3.0)], host="b")  # one sample: no rate
    compaction.compact()  # the hours past the hot window become chunks
    put("mixed_places", [(base + 50.0, 9.0)], host="a")  # late, into a compacted hour
    assert Chunk.objects.filter(series__metric__name="mixed_places").exists()
    start, end = datetime.fromtimestamp(base, UTC), datetime.fromtimestamp(base + 4 * 3600 + 60, UTC)
    render = FastJSONRenderer().render
    for agg in Aggregation.values:
        for step in (60, 600, 3600):
            lists = query.query("mixed_places", {}, start, end, step=step, agg=agg)
            assert render(query.query("mixed_places", {}, start, end, step=step, agg=agg, arrays=True)) == render(lists)
    response = api_as(viewer).get(
        "/api/v1/query/", {"metric": "mixed_places", "from": base, "to": end.timestamp(), "step": 60, "agg": "rate"}
    )
    lists = query.query("mixed_places", {}, start, end, step=60, agg="rate")
    assert response.json()["series"] == orjson.loads(render(lists))
    assert [p[1] for p in response.json()["series"][1]["points"]] == [None]


@pytest.mark.parametrize("moment", ["1700000000.5", "2024-02-29", "2024-02-29T10:00", "2024-02-29T10:00:00.25+05:30"])
def test_query_times_take_epoch_seconds_and_rfc_3339_dates(api_as, viewer, moment):
    response = api_as(viewer).get("/api/v1/query/", {"metric": "cpu", "from": moment, "to": "2030-01-01T00:00:00Z"})
    assert response.status_code == 200 and response.json()["series"] == []

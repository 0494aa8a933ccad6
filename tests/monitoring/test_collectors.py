import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from lib.redis import get_redis, key
from monitoring import collectors, reqstats
from monitoring.models import Collector, Metric
from monitoring.store import query, writer

pytestmark = pytest.mark.django_db


def values(rows, name):
    return [row[2] for row in rows if row[0] == name]


def test_system_collectors_read_sane_changing_values():
    fast = collectors.system_fast()
    (cpu,) = values(fast, "system_cpu_percent")
    assert 0 <= cpu <= 100
    assert 0 < values(fast, "system_memory_used_percent")[0] < 100
    assert values(fast, "system_cpu_core_percent")
    rx_before = sum(v for n, lab, v in fast if n == "system_network_bytes_total" and lab["direction"] == "rx")
    get_redis().ping()  # some loopback traffic
    medium = collectors.system_medium()
    assert values(medium, "system_load1")[0] >= 0
    slow = collectors.system_slow()
    assert values(slow, "system_uptime_seconds")[0] > 0 and values(slow, "system_cpus")[0] >= 1
    assert all(0 <= v <= 100 for v in values(slow, "system_disk_used_percent"))
    time.sleep(0.2)
    again = collectors.system_fast()
    rx_after = sum(v for n, lab, v in again if n == "system_network_bytes_total" and lab["direction"] == "rx")
    assert rx_after >= rx_before


def test_open_connections_count_sockets_by_state_named_as_psutil_names_them():
    with (
        socket.create_server(("127.0.0.1", 0)) as server,
        socket.create_connection(server.getsockname()),
        server.accept()[0],
    ):
        counts = {lab["state"]: v for n, lab, v in collectors.system_medium() if n == "system_open_connections"}
        # The /proc tables are the fallback where the netlink dump is refused: both see the same pair.
        netlink = collectors.tcp_states_netlink()
        tables = collectors.tcp_states_proc([Path("/proc/net/tcp"), Path("/proc/net/tcp6")])
    assert counts["listen"] >= 1
    assert counts["established"] >= 2  # both ends of the pair
    for seen in (netlink, tables):
        assert seen["LISTEN"] >= 1 and seen["ESTABLISHED"] >= 2
    assert set(counts) <= {getattr(psutil, name).lower() for name in dir(psutil) if name.startswith("CONN_")}


def test_process_metrics_find_a_worker_started_after_the_last_look():
    collectors.system_medium()
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "celery", " worker"])
    try:
        rows = collectors.system_medium()
        pids = {lab["pid"] for n, lab, _ in rows if n == "process_rss_bytes" and lab["role"] == "worker"}
        assert str(worker.pid) in pids
    finally:
        worker.kill()
        worker.wait()
    rows = collectors.system_medium()
    assert str(worker.pid) not in {lab["pid"] for n, lab, _ in rows if n == "process_rss_bytes"}


def test_database_collector_sees_commits_grow():
    first = dict((n, v) for n, lab, v in collectors.database_medium() if not lab)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    second = dict((n, v) for n, lab, v in collectors.database_medium() if not lab)
    assert 0 <= second["pg_cache_hit_ratio"] <= 100
    assert second["pg_rows_read_total"] >= first["pg_rows_read_total"]
    assert any(n == "pg_connections" for n, _, _ in collectors.database_medium())
    assert values(collectors.database_slow(), "pg_database_size_bytes")[0] > 1_000_000
    assert collectors.pg_stat_statements_available() in (True, False)


def test_cache_collector_counts_hits_and_misses():
    client = get_redis()
    client.set(key("probe"), 1)
    before = dict((n, v) for n, _, v in collectors.cache_medium())
    client.get(key("probe"))
    client.get(key("missing-key"))
    after = dict((n, v) for n, _, v in collectors.cache_medium())
    assert after["redis_hits_total"] >= before["redis_hits_total"] + 1
    assert after["redis_misses_total"] >= before["redis_misses_total"] + 1
    assert 0 <= after["redis_hit_ratio"] <= 100 and after["redis_ping_seconds"] >= 0 and after["redis_keys"] >= 1


def test_celery_collector_reports_queue_and_task_statistics():
    collectors.record_task_run("demo.task", 0.25, failed=False)
    collectors.record_task_run("demo.task", 0.75, failed=True)
    rows = collectors.celery_medium()
    by = {(n, lab.get("task")): v for n, lab, v in rows}
    assert by[("celery_tasks_total", "demo.task")] >= 2
    assert by[("celery_task_failures_total", "demo.task")] >= 1
    assert by[("celery_task_runtime_seconds", "demo.task")] > 0
    assert values(rows, "celery_queue_depth")[0] >= 0 and values(rows, "celery_workers")[0] >= 0


def test_a_cadence_stores_samples_and_honours_switches():
    stored = collectors.collect_cadence("slow")
    assert stored > 0 and query.latest_value("system_uptime_seconds") > 0
    Metric.objects.filter(name="system_uptime_seconds").update(enabled=False)
    Collector.objects.filter(family="database").update(enabled=False)
    collectors._switches["at"] = 0  # switches are re-read every 5 s; don't wait in a test
    names = set()
    original = writer.record_samples

    def spy(rows, topic="basic-metrics"):
        rows = list(rows)
        names.update(r[0] for r in rows)
        return original(rows, topic)

    writer.record_samples = spy
    try:
        collectors.collect_cadence("slow")
    finally:
        writer.record_samples = original
    assert "system_uptime_seconds" not in names and "pg_database_size_bytes" not in names
    assert "system_cpus" in names


def test_a_failing_collector_does_not_stop_the_others(monkeypatch):
    def broken():
        raise RuntimeError("boom")

    readers = [("system", broken), ("database", collectors.database_slow)]
    monkeypatch.setitem(collectors.READERS, collectors.Cadence.SLOW, readers)
    collectors._switches["at"] = 0
    assert collectors.collect_cadence("slow") == 1


def test_requests_through_the_middleware_write_nothing_to_the_database(client, viewer, stats):
    client.force_login(viewer)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/healthz").status_code == 200
    writes = [q["sql"] for q in queries.captured_queries if not q["sql"].lstrip().upper().startswith("SELECT")]
    assert writes == []
    counted = stats.take()
    assert counted["c|/healthz|GET|2xx|seismo"] == 1
    assert any(field.startswith("s|/healthz|seismo|") for field in counted)
    assert not any(field.startswith("d|") for field in counted)  # nobody reads a duration sum


def test_request_periods_become_rate_latency_and_error_samples(client, viewer, stats):
    client.force_login(viewer)
    client.get("/api/v1/metrics/")
    client.get("/api/v1/metrics/", HTTP_X_SEISMO_LOADTEST_RUN="42")
    client.get("/no-such-page/")
    # An hour ago: no live flusher writes into that period, and no collector claims it.
    now = time.time() - 3600
    period = reqstats.period_of(now)
    step = reqstats.PERIOD_SECONDS
    keys = (reqstats.period_key(period), reqstats.DONE_KEY, reqstats.claim_key(period))
    get_redis().delete(*(key(name) for name in keys))
    assert stats.flush(now) > 0
    rows = collectors.network_fast(now=period + step + 0.1)
    by = {(r[0], tuple(sorted(r[1].items()))): r[2] for r in rows}
    for source in ("seismo", "loadtest", "app"):  # the API, the load test, an unknown page
        assert by[("http_request_rate", (("source", source),))] == pytest.approx(1 / step)
    routes = {dict(labels)["route"] for name, labels in by if name == "http_request_duration_seconds_count"}
    assert "/api/v1/metrics/" in routes
    assert any(dict(labels).get("route") == "unmatched" for _, labels in by)
    assert by[("http_error_rate", (("source", "app"),))] == 0  # a 404 is not a server error
    assert collectors.network_fast(now=period + step + 0.2) == []  # each period once


def test_server_errors_count_as_errors_of_their_route(stats):
    fields = reqstats.request_fields(
        route="/boom/", method="GET", status=503, source="app", elapsed_ms=12.0, size=0, queries=1, query_ms=2.0
    )
    stats.add(fields)
    now = time.time() - 7200
    period = reqstats.period_of(now)
    keys = (reqstats.period_key(period), reqstats.DONE_KEY, reqstats.claim_key(period))
    get_redis().delete(*(key(name) for name in keys))
    stats.flush(now)
    rows = collectors.network_fast(now=period + reqstats.PERIOD_SECONDS + 0.1)
    by = {(r[0], tuple(sorted(r[1].items()))): r[2] for r in rows}
    assert by[("http_error_rate", (("source", "app"),))] == 100.0
    assert by[("http_db_queries_per_request", (("source", "app"),))] == 1.0
    assert ("http_errors_total", (("route", "/boom/"), ("source", "app"))) in by


def test_prometheus_exposition_lists_collected_series(api_as, viewer):
    writer.record_samples(
        [("system_cpu_percent", {}, time.time(), 12.5), ("custom_thing", {"k": 'a"b'}, time.time(), 1)]
    )
    Metric.objects.filter(name="system_cpu_percent").update(help="CPU use", kind="gauge")
    text = api_as(viewer).get("/metrics").content.decode()
    assert "# TYPE system_cpu_percent gauge" in text
    assert "system_cpu_percent{} 12.5" in text
    assert 'custom_thing{k="a\\"b"} 1.0' in text

"""What Seismo exposes and stores follows Prometheus naming: promtool is the judge."""

import shutil
import subprocess
import time

import pytest
from django.test import Client

from accounts.models import IngestKey
from lib.redis import get_redis, key
from monitoring import collectors, middleware, reqstats
from monitoring.intake import remote_write
from monitoring.middleware import RequestStats
from monitoring.store.query import query
from monitoring.store.writer import record_samples

pytestmark = pytest.mark.django_db
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


@pytest.fixture
def requests_counted(monkeypatch):
    """Requests made through this returns are turned into samples by the network collector
    (own counters: the process-wide flusher thread would take them mid-test)."""
    own = RequestStats(autoflush=False)
    monkeypatch.setattr(middleware, "stats", own)

    def collect(client: Client) -> list:
        client.get("/api/v1/metrics/")
        now = time.time() - 3600  # a period no live flusher writes into
        period = reqstats.period_of(now)
        names = (reqstats.period_key(period), reqstats.DONE_KEY, reqstats.claim_key(period))
        get_redis().delete(*(key(name) for name in names))
        own.flush(now)
        rows = collectors.network_fast(now=period + reqstats.PERIOD_SECONDS + 0.1)
        record_samples([(name, labels, time.time() - 1, value) for name, labels, value, _ in rows])
        return rows

    return collect


@pytest.mark.skipif(not shutil.which("promtool"), reason="promtool missing")
def test_metrics_passes_promtool_check_metrics_without_a_warning(owner, requests_counted):
    client = Client()
    client.force_login(owner)
    requests_counted(client)
    for cadence in ("fast", "medium", "slow"):
        collectors.collect_cadence(cadence)
    # What other systems send lands in /metrics too: a histogram and a summary, pushed.
    key = IngestKey.issue("naming")[1]
    t = int((time.time() - 30) * 1000)
    series = [({"__name__": "rpc_seconds_bucket", "le": le}, [(n, t)]) for le, n in (("0.1", 3.0), ("+Inf", 5.0))]
    series += [({"__name__": "rpc_seconds_sum"}, [(1.5, t)]), ({"__name__": "rpc_seconds_count"}, [(5.0, t)])]
    series += [({"__name__": "rpc_seconds_cache"}, [(1.0, t)])]  # sorts between _bucket and _count
    series += [
        ({"__name__": "gc_seconds", "quantile": "0.5"}, [(0.1, t)]),
        ({"__name__": "gc_seconds_count"}, [(2, t)]),
    ]
    response = client.post(
        "/api/v1/write",
        remote_write.encode(series),
        content_type="application/x-protobuf",
        HTTP_AUTHORIZATION=f"Bearer {key}",
        HTTP_CONTENT_ENCODING="snappy",
    )
    assert response.status_code == 204
    text = client.get("/metrics").content.decode()
    assert "http_request_duration_seconds_bucket{" in text and "# TYPE rpc_seconds histogram" in text
    assert "_ms{" not in text and "system_cpu_count" not in text
    checked = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0 and checked.stdout + checked.stderr == "", checked.stdout + checked.stderr


def test_request_latency_is_a_histogram_that_p95_reads(owner, requests_counted):
    client = Client()
    client.force_login(owner)
    rows = requests_counted(client)
    buckets = [
        r for r in rows if r[0] == "http_request_duration_seconds_bucket" and r[1]["route"] == "/api/v1/metrics/"
    ]
    counts = [value for _, _, value, _ in buckets]
    assert counts == sorted(counts) and buckets[-1][1]["le"] == "+Inf" and counts[-1] >= 1  # cumulative
    now = time.time()
    from datetime import UTC, datetime

    end = datetime.fromtimestamp(now + 60, UTC)
    start = datetime.fromtimestamp(now - 600, UTC)
    [*groups] = query("http_request_duration_seconds", {"route": "/api/v1/metrics/"}, start, end, 600, "p95")
    assert groups
    values = [v for g in groups for _, v in g["points"] if v is not None]
    assert values and all(0 < v <= 10 for v in values)


def test_a_rule_on_request_latency_p95_reads_the_histogram(owner, requests_counted):
    from alerts.evaluation import Window

    client = Client()
    client.force_login(owner)
    requests_counted(client)
    from datetime import UTC, datetime

    rows = Window(datetime.now(UTC)).rows("http_request_duration_seconds", {"route": "/api/v1/metrics/"}, 300, "p95")
    assert rows
    for series, value in rows:
        assert "le" not in series.labels and series.labels["route"] == "/api/v1/metrics/"
        assert value is not None and 0 < value <= 10


def test_existing_rules_and_widgets_follow_the_renamed_metrics():
    import importlib

    from django.apps import apps

    from alerts.models import AlertRule
    from dashboards.models import Dashboard, Widget

    rule = AlertRule.objects.create(
        name="slow", metric="http_request_duration_p95_ms", critical_threshold=500, warning_threshold=300
    )
    ping = AlertRule.objects.create(name="ping", metric="redis_ping_ms", critical_threshold=50)
    board = Dashboard.objects.create(title="mine")
    widget = Widget.objects.create(
        dashboard=board,
        kind="timeseries",
        title="p95 latency (ms)",
        metric="http_request_duration_p95_ms",
        aggregation="avg",
        thresholds=[{"value": 300, "level": "warning"}],
        options={"unit": "ms"},
    )
    importlib.import_module("alerts.migrations.0006_prometheus_names").forwards(apps, None)
    importlib.import_module("dashboards.migrations.0003_prometheus_names").forwards(apps, None)
    rule.refresh_from_db()
    ping.refresh_from_db()
    widget.refresh_from_db()
    assert (rule.metric, rule.aggregation, rule.critical_threshold, rule.warning_threshold) == (
        "http_request_duration_seconds",
        "p95",
        0.5,
        0.3,
    )
    assert (ping.metric, ping.critical_threshold) == ("redis_ping_seconds", 0.05)
    assert (widget.metric, widget.aggregation, widget.title) == ("http_request_duration_seconds", "p95", "p95 latency")
    assert widget.thresholds == [{"value": 0.3, "level": "warning"}] and widget.options == {"unit": "s"}

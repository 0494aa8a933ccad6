import time

import pytest
import yaml
from django.core.exceptions import ValidationError
from prometheus_client.parser import text_string_to_metric_families

from alerts.lifecycle import evaluate_rule
from alerts.models import AlertRule
from monitoring.intake import scrape
from monitoring.intake.targets import import_scrape_configs
from monitoring.models import ScrapeTarget, Series
from tests.monitoring.intake.conftest import stored
from tests.monitoring.intake.exporters import NEEDS_NODE_EXPORTER, relay, start_node_exporter

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _loopback_allowed(settings):
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.0/8"]


def target(url: str, **fields) -> ScrapeTarget:
    item = ScrapeTarget(name=fields.pop("name", "node"), url=url, **fields)
    item.full_clean()
    item.save()
    return item


def served(body: bytes) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


@NEEDS_NODE_EXPORTER
def test_node_exporter_is_scraped_with_the_values_it_served_then_goes_down_and_a_rule_on_up_fires():
    exporter, port = start_node_exporter()
    rule = AlertRule.objects.create(
        name="Target down",
        metric="up",
        labels={"job": "node"},
        comparator="<",
        critical_threshold=1,
        aggregation="last",
        window_seconds=60,
    )
    try:
        with relay(f"http://127.0.0.1:{port}") as (url, bodies):
            node = target(f"{url}/metrics")
            assert scrape.scrape_now(node) == ""
            [body] = bodies
            values = served(body)
            instance = node.instance
            [(_, load1)] = stored("node_load1", job="node", instance=instance)
            assert load1 == values[("node_load1", ())]
            idle = [k for k in values if k[0] == "node_cpu_seconds_total" and dict(k[1]).get("mode") == "idle"]
            assert idle
            for name, labels in idle:
                [(_, value)] = stored(name, job="node", instance=instance, **dict(labels))
                assert value == values[(name, labels)]
            node.refresh_from_db()
            assert node.health == "up" and node.last_samples == len(values) and node.last_error == ""
            assert [v for _, v in stored("up", job="node", instance=instance)] == [1.0]
            assert [v for _, v in stored("scrape_samples_scraped", job="node")] == [len(values)]
            assert evaluate_rule(rule) == []

            exporter.stop()
            time.sleep(1.1)  # the next scrape lands on another millisecond
            error = scrape.scrape_now(node)  # node_exporter is gone: the relay answers 502
    finally:
        exporter.stop()
    assert "502" in error
    node.refresh_from_db()
    assert node.health == "down" and "502" in node.last_error
    assert [v for _, v in stored("up", job="node", instance=instance)] == [1.0, 0.0]
    [alert] = evaluate_rule(rule)
    assert alert.state == "firing"


def test_a_connection_refused_target_is_down_with_the_reason():
    from tests.conftest import free_port

    node = target(f"http://127.0.0.1:{free_port()}/metrics")
    error = scrape.scrape_now(node)
    node.refresh_from_db()
    assert node.health == "down" and node.last_error == error and error
    assert [v for _, v in stored("up", job="node")] == [0.0]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html>this is not metrics</html>\n", "line 1"),
        (b"ok_metric 1\nbad metric with spaces\n", "line 2"),
        (b'metric_a{x="unterminated} 1\n', "line 1"),
        (b"metric_a not-a-number\n", "invalid value"),
    ],
)
def test_a_target_serving_garbage_fails_the_scrape_with_the_reason(body, reason):
    with relay(body=body) as (url, _):
        node = target(f"{url}/metrics")
        error = scrape.scrape_now(node)
    assert reason in error
    node.refresh_from_db()
    assert node.health == "down" and reason in node.last_error
    assert [v for _, v in stored("up", job="node")] == [0.0]
    assert stored("ok_metric") == []


def test_over_the_sample_limit_the_scrape_fails_like_prometheus():
    body = "".join(f'big_metric{{i="{i}"}} {i}\n' for i in range(100_000)).encode()
    with relay(body=body) as (url, _):
        node = target(f"{url}/metrics", sample_limit=10_000)
        error = scrape.scrape_now(node)
    assert "sample_limit exceeded" in error
    assert Series.objects.filter(metric__name="big_metric").count() == 0


def test_histograms_summaries_timestamps_and_label_clashes_are_kept():
    stamp = int((time.time() - 30) * 1000)
    body = (
        "# TYPE rpc_seconds histogram\n"
        'rpc_seconds_bucket{le="0.1"} 5\nrpc_seconds_bucket{le="1"} 9\nrpc_seconds_bucket{le="+Inf"} 10\n'
        "rpc_seconds_sum 4.2\nrpc_seconds_count 10\n"
        "# TYPE gc_seconds summary\n"
        'gc_seconds{quantile="0.5"} 0.01\ngc_seconds_sum 1\ngc_seconds_count 3\n'
        f'stamped_metric{{job="theirs"}} 7 {stamp}\n'
    ).encode()
    with relay(body=body) as (url, _):
        node = target(f"{url}/metrics", labels={"env": "prod"})
        assert scrape.scrape_now(node) == ""
    assert [v for _, v in stored("rpc_seconds_bucket", le="+Inf", env="prod")] == [10]
    assert [v for _, v in stored("gc_seconds", quantile="0.5")] == [0.01]
    assert stored("stamped_metric", exported_job="theirs", job="node") == [(stamp / 1000, 7)]


def test_a_target_outside_the_outbound_allowlist_is_refused_at_save_and_at_scrape(settings):
    settings.OUTBOUND_ALLOWLIST = []
    with pytest.raises(ValidationError) as refused:
        target("http://127.0.0.1:9100/metrics")
    assert "OUTBOUND_ALLOWLIST" in str(refused.value)
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.0/8"]
    with relay(body=b"m 1\n") as (url, bodies):
        node = target(f"{url}/metrics")
        settings.OUTBOUND_ALLOWLIST = []  # the rules changed after the target was saved
        error = scrape.scrape_now(node)
        assert bodies == []  # no connection was made
    assert "OUTBOUND_ALLOWLIST" in error


def test_a_redirect_is_not_followed():
    import http.server
    import threading

    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.handle_request, daemon=True).start()
    node = target(f"http://127.0.0.1:{server.server_address[1]}/metrics")
    error = scrape.scrape_now(node)
    server.server_close()
    assert "not followed" in error


def test_scrapes_are_spread_over_the_interval_and_planned_without_gaps():
    targets = [ScrapeTarget(pk=i, name=f"t{i}", url="http://x/", interval_seconds=15) for i in range(50)]
    planned = scrape.plan(targets, 1000.0, 15.0)
    assert len(planned) == 50  # each target exactly once in one interval
    offsets = sorted(at - 1000.0 for at, _ in planned)
    assert offsets[0] < 3 and offsets[-1] > 12  # spread, not bunched
    later = scrape.plan(targets, 1015.0, 15.0)
    assert all(abs((b - a) - 15.0) < 1e-6 for (a, _), (b, _) in zip(planned, later, strict=True))


def test_a_scrape_configs_block_imports_targets():
    text = """
scrape_configs:
  - job_name: node
    scrape_interval: 30s
    static_configs:
      - targets: ["127.0.0.1:9100", "127.0.0.2:9100"]
        labels: {env: prod}
  - job_name: redis
    metrics_path: /scrape
    authorization: {credentials: s3cret}
    static_configs:
      - targets: ["127.0.0.1:9121"]
"""
    created = import_scrape_configs(yaml.safe_load(text))
    assert sorted(t.name for t in created) == ["node-127.0.0.1:9100", "node-127.0.0.2:9100", "redis"]
    node = ScrapeTarget.objects.get(name="node-127.0.0.2:9100")
    assert node.url == "http://127.0.0.2:9100/metrics" and node.interval_seconds == 30
    assert node.labels == {"job": "node", "env": "prod"}
    redis = ScrapeTarget.objects.get(name="redis")
    assert redis.url == "http://127.0.0.1:9121/scrape" and redis.auth == {"bearer": "s3cret"}
    with pytest.raises(ValidationError):
        import_scrape_configs({"scrape_configs": [{"job_name": "x", "static_configs": [{"targets": ["10.0.0.1:1"]}]}]})


def test_a_hanging_target_never_delays_another():
    import socket

    from asgiref.sync import async_to_sync

    hanging = socket.socket()
    hanging.bind(("127.0.0.1", 0))
    hanging.listen(8)  # accepts connections, never answers
    try:
        with relay(body=b"fast_metric 1\n") as (url, _):
            fast = target(f"{url}/metrics", name="fast", interval_seconds=2, timeout_seconds=1)
            slow = target(
                f"http://127.0.0.1:{hanging.getsockname()[1]}/metrics",
                name="slow",
                interval_seconds=2,
                timeout_seconds=1,
            )
            outcome = async_to_sync(scrape.run_window)([fast, slow], time.time(), 2.0)
    finally:
        hanging.close()
    assert outcome[fast.pk] == ""
    assert "deadline" in outcome[slow.pk] and "1 s" in outcome[slow.pk]
    assert [v for _, v in stored("fast_metric", job="fast")] == [1.0]
    slow.refresh_from_db()
    assert slow.health == "down" and "deadline" in slow.last_error


def test_a_series_that_disappears_from_a_target_stops_counting_as_present():
    from datetime import UTC, datetime, timedelta

    rule = AlertRule.objects.create(
        name="gone",
        metric="flaky_metric",
        labels={"job": "node"},
        comparator=">",
        critical_threshold=100,
        aggregation="last",
        window_seconds=2,
        no_data="alert",
    )
    with relay(body=b'flaky_metric{disk="a"} 1\nflaky_metric{disk="b"} 1\n') as (url, _):
        node = target(f"{url}/metrics", labels={"instance": "node-1"})  # the same instance on both relays
        assert scrape.scrape_now(node) == ""
    first = time.time()
    assert evaluate_rule(rule, now=datetime.now(UTC)) == []
    time.sleep(1.1)
    with relay(body=b'flaky_metric{disk="a"} 1\n') as (url, _):
        node.url = f"{url}/metrics"
        node.save()
        assert scrape.scrape_now(node) == ""
    # Once the rule's window has passed since the last sample of disk b, b has no data; a still has.
    later = datetime.fromtimestamp(first, UTC) + timedelta(seconds=2.5)
    alerts = evaluate_rule(rule, now=later)
    assert [alert.labels.get("disk") for alert in alerts] == ["b"]


def test_the_beat_task_scrapes_each_due_target_once_per_window(settings):
    from lib.redis import get_redis
    from lib.redis import key as redis_key
    from monitoring import tasks

    settings.SCRAPE_WINDOW_SECONDS = 2
    get_redis().delete(redis_key(scrape.PLANNED_KEY))
    with relay(body=b"beat_metric 1\n") as (url, bodies):
        target(f"{url}/metrics", name="beat", interval_seconds=2, timeout_seconds=1)
        target(f"{url}/metrics", name="paused", interval_seconds=2, timeout_seconds=1, enabled=False)
        assert tasks.scrape.apply().get() == 1  # the enabled target, once
        assert len(bodies) == 1
    assert [v for _, v in stored("beat_metric", job="beat")] == [1.0]
    assert stored("beat_metric", job="paused") == []

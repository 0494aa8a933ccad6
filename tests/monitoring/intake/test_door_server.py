"""The push doors as daphne serves them (the ASGI door app, before Django's handler)."""

from __future__ import annotations

import time

import httpx
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from accounts.models import IngestKey
from alerts.models import AlertRule
from alerts.signals import WatchedMetrics
from monitoring.intake import remote_write
from tests.conftest import free_port, start_daphne
from tests.monitoring.intake.conftest import stored

RW = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf"}


@pytest.fixture
def seismo(transactional_db):
    port = free_port()
    process = start_daphne(port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop()


def test_remote_write_through_daphne_answers_per_the_spec(seismo):
    _, key = IngestKey.issue("prometheus")
    auth = {"Authorization": f"Bearer {key}"}
    t = int((time.time() - 60) * 1000)
    body = remote_write.encode([({"__name__": "door_up", "job": "node", "instance": "a:9100"}, [(1.0, t)])])
    with httpx.Client(base_url=seismo, timeout=10) as client:
        assert client.post("/api/v1/write", content=body, headers={**RW, **auth}).status_code == 204
        assert client.post("/api/v1/write", content=body, headers={**RW, **auth}).status_code == 204  # a retry
        assert stored("door_up", instance="a:9100") == [(t / 1000, 1.0)]
        # A batch holding a stored sample and a new one: the new one is stored, nothing twice.
        overlap = remote_write.encode(
            [({"__name__": "door_up", "job": "node", "instance": "a:9100"}, [(1.0, t), (0.0, t + 15000)])]
        )
        assert client.post("/api/v1/write", content=overlap, headers={**RW, **auth}).status_code == 204
        assert stored("door_up", instance="a:9100") == [(t / 1000, 1.0), ((t + 15000) / 1000, 0.0)]

        outsider = client.post("/api/v1/write", content=body, headers={**RW, "Authorization": "Bearer nope"})
        assert outsider.status_code == 401
        assert outsider.headers["WWW-Authenticate"] == "Bearer"
        assert outsider.json()["error"]["code"] == "not_authenticated"

        bad = remote_write.encode([({"__name__": "0bad"}, [(1.0, t)])])
        refused = client.post("/api/v1/write", content=bad, headers={**RW, **auth})
        assert refused.status_code == 400 and refused.json()["error"]["details"]["refused"] == 1

        garbage = client.post("/api/v1/write", content=b"not snappy", headers={**RW, **auth})
        assert garbage.status_code == 400 and "snappy" in garbage.json()["error"]["message"]

        v2 = {**RW, **auth, "Content-Type": "application/x-protobuf;proto=io.prometheus.write.v2.Request"}
        assert client.post("/api/v1/write", content=body, headers=v2).status_code == 415

        wrong_method = client.get("/api/v1/write", headers=auth)
        assert wrong_method.status_code == 405 and wrong_method.headers["Allow"] == "POST"


def test_otlp_through_daphne_answers_an_export_response(seismo):
    _, key = IngestKey.issue("otel")
    request = ExportMetricsServiceRequest()
    resource = request.resource_metrics.add()
    attr = resource.resource.attributes.add()
    attr.key, attr.value.string_value = "service.name", "shop"
    metric = resource.scope_metrics.add().metrics.add()
    metric.name = "queue.depth"
    for value, route in ((3.0, "/a"), (4.0, "/b")):
        point = metric.gauge.data_points.add()
        point.time_unix_nano = int((time.time() - 30) * 1e9)
        point.as_double = value
        label = point.attributes.add()
        label.key, label.value.string_value = "route", route
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/x-protobuf"}
    answer = httpx.post(f"{seismo}/otlp/v1/metrics", content=request.SerializeToString(), headers=headers, timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/x-protobuf"
    assert ExportMetricsServiceResponse.FromString(answer.content).partial_success.rejected_data_points == 0
    assert [value for _, value in stored("queue_depth", job="shop", route="/b")] == [4.0]


def test_a_rule_saved_anywhere_is_watched_by_every_process_at_its_next_batch(transactional_db):
    elsewhere = WatchedMetrics()  # what another web process knows
    assert "door_latency" not in elsewhere.get()
    rule = AlertRule.objects.create(name="slow", metric="door_latency", critical_threshold=1, aggregation="last")
    assert "door_latency" in elsewhere.get()
    rule.enabled = False
    rule.save()
    assert "door_latency" not in elsewhere.get()

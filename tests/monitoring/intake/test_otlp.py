import gzip
import json
import time

import pytest
from django.test import Client
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from accounts.models import IngestKey
from monitoring.intake.otlp import metric_name
from monitoring.store.query import bucket_quantile
from tests.monitoring.intake.conftest import stored


def gauge_request(name: str, value: float, unit: str = "", attrs: dict | None = None, service: str = "shop") -> dict:
    """An OTLP JSON request (the shape the spec's JSON encoding gives) with one gauge point."""
    return {
        "resourceMetrics": [
            {
                "resource": {
                    "attributes": [
                        {"key": "service.name", "value": {"stringValue": service}},
                        {"key": "service.instance.id", "value": {"stringValue": "pod-1"}},
                        {"key": "host.name", "value": {"stringValue": "web-1"}},
                    ]
                },
                "scopeMetrics": [
                    {
                        "metrics": [
                            {
                                "name": name,
                                "unit": unit,
                                "gauge": {
                                    "dataPoints": [
                                        {
                                            "asDouble": value,
                                            "timeUnixNano": str(int((time.time() - 30) * 1e9)),
                                            "attributes": [
                                                {"key": k, "value": {"stringValue": v}}
                                                for k, v in (attrs or {}).items()
                                            ],
                                        }
                                    ]
                                },
                            }
                        ]
                    }
                ],
            }
        ]
    }


def post(body: bytes, key: str | None, content_type: str = "application/json", encoding: str = "") -> object:
    extra = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
    if encoding:
        extra["HTTP_CONTENT_ENCODING"] = encoding
    return Client().post("/otlp/v1/metrics", body, content_type=content_type, **extra)


@pytest.mark.parametrize(
    ("name", "unit", "kind", "expected"),
    [
        ("http.server.duration", "s", "histogram", "http_server_duration_seconds"),
        ("process.memory.usage", "By", "gauge", "process_memory_usage_bytes"),
        ("system.cpu.utilization", "1", "gauge", "system_cpu_utilization_ratio"),
        ("app.requests", "1", "counter", "app_requests_total"),
        ("app.requests.total", "{request}", "counter", "app_requests_total"),
        ("net.io", "By/s", "gauge", "net_io_bytes_per_second"),
        ("queue-depth", "", "gauge", "queue_depth"),
        ("9lives", "", "gauge", "_9lives"),
        ("latency_seconds", "s", "gauge", "latency_seconds"),
    ],
)
def test_names_translate_as_the_otel_prometheus_compatibility_spec_says(name, unit, kind, expected):
    assert metric_name(name, unit, counter=kind == "counter", gauge=kind == "gauge") == expected


def test_bucket_quantile_interpolates_like_histogram_quantile():
    buckets = [(0.1, 10.0), (0.5, 60.0), (1.0, 100.0), (float("inf"), 100.0)]
    assert bucket_quantile(0.5, buckets) == pytest.approx(0.1 + 0.4 * (50 - 10) / 50)
    assert bucket_quantile(0.95, buckets) == pytest.approx(0.5 + 0.5 * (95 - 60) / 40)
    assert bucket_quantile(0.99, [(1.0, 1.0), (float("inf"), 10.0)]) == 1.0  # in +Inf: the last finite bound
    assert bucket_quantile(0.5, [(1.0, 0.0), (float("inf"), 0.0)]) is None


@pytest.mark.django_db
class TestTheDoor:
    @pytest.fixture
    def key(self) -> str:
        return IngestKey.issue("otel")[1]

    def test_json_points_are_stored_with_job_instance_and_allowed_resource_labels(self, key, settings):
        settings.OTLP_RESOURCE_LABELS = ["host.name"]
        response = post(json.dumps(gauge_request("queue.depth", 7, attrs={"queue": "mail"})).encode(), key)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        assert response.json() == {}
        [(_, value)] = stored("queue_depth", job="shop", instance="pod-1", host_name="web-1", queue="mail")
        assert value == 7

    def test_resource_attributes_not_allowlisted_are_not_labels(self, key):
        assert post(json.dumps(gauge_request("cpu.temp", 50, unit="Cel")).encode(), key).status_code == 200
        from monitoring.models import Series

        assert Series.objects.get(metric__name="cpu_temp_celsius").labels == {"job": "shop", "instance": "pod-1"}

    def test_gzip_protobuf_is_taken_and_answered_in_protobuf(self, key):
        from google.protobuf import json_format

        request = json_format.ParseDict(gauge_request("gz.metric", 3), ExportMetricsServiceRequest())
        body = gzip.compress(request.SerializeToString())
        response = post(body, key, content_type="application/x-protobuf", encoding="gzip")
        assert response.status_code == 200
        assert response["Content-Type"] == "application/x-protobuf"
        answer = ExportMetricsServiceResponse.FromString(response.content)
        assert answer.partial_success.rejected_data_points == 0
        assert [v for _, v in stored("gz_metric")] == [3]

    def test_partial_success_names_what_was_refused(self, key):
        request = gauge_request("ok.metric", 1)
        bad = gauge_request("long.label", 2, attrs={"x": "v" * 300})
        request["resourceMetrics"] += bad["resourceMetrics"]
        nan = gauge_request("nan.metric", 0)
        nan["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["gauge"]["dataPoints"][0]["asDouble"] = "NaN"
        request["resourceMetrics"] += nan["resourceMetrics"]
        response = post(json.dumps(request).encode(), key)
        assert response.status_code == 200
        partial = response.json()["partialSuccess"]
        assert partial["rejectedDataPoints"] == "2"
        assert "longer than 256" in partial["errorMessage"] and "NaN" in partial["errorMessage"]
        assert [v for _, v in stored("ok_metric")] == [1]

    @pytest.mark.parametrize(
        ("body", "content_type", "encoding", "status", "reason"),
        [
            (b"\x0a\xff\xff\xff\x0f", "application/x-protobuf", "", 400, "protobuf"),
            (b"not gzip at all", "application/x-protobuf", "gzip", 400, "gzip"),
            (gzip.compress(b"x" * 1000)[:-8], "application/json", "gzip", 400, "gzip"),
            (b"{not json", "application/json", "", 400, "JSON"),
            (b"{}", "text/plain", "", 415, "Content-Type"),
            (b"{}", "application/json", "br", 415, "Content-Encoding"),
        ],
    )
    def test_bad_bodies_get_a_4xx_with_the_reason(self, key, body, content_type, encoding, status, reason):
        response = post(body, key, content_type=content_type, encoding=encoding)
        assert response.status_code == status
        assert reason in response.json()["error"]["message"]

    def test_a_50_mb_body_answers_413(self, key):
        response = post(b"{" + b" " * (50 * 1024 * 1024) + b"}", key)
        assert response.status_code == 413

    def test_outsiders_get_401_and_traces_are_reserved(self, key, outsider):
        body = json.dumps(gauge_request("m.auth", 1)).encode()
        assert post(body, None).status_code == 401
        assert post(body, "ssi_wrong").status_code == 401
        from accounts.models import ApiToken

        assert post(body, ApiToken.issue(outsider)[1]).status_code == 403
        traces = Client().post("/otlp/v1/traces", b"", content_type="application/x-protobuf")
        assert traces.status_code == 404
        assert "reserved for tracing" in traces.json()["error"]["message"]
        assert stored("m_auth") == []

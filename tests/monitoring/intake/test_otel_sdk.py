"""The real OpenTelemetry Python SDK pushing to a real daphne-served Seismo."""

import time

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource

from accounts.models import ApiToken, IngestKey
from monitoring.models import Series
from tests.conftest import wait_until
from tests.monitoring.intake.conftest import stored

BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@pytest.fixture
def provider(live_server_asgi):
    key = IngestKey.issue("checkout-sdk")[1]
    exporter = OTLPMetricExporter(
        endpoint=f"http://{live_server_asgi}/otlp/v1/metrics", headers={"Authorization": f"Bearer {key}"}
    )
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    resource = Resource.create({"service.name": "checkout", "service.namespace": "shop", "service.instance.id": "i-1"})
    view = View(instrument_name="checkout.duration", aggregation=ExplicitBucketHistogramAggregation(BOUNDS))
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader], views=[view])
    yield meter_provider
    meter_provider.shutdown()


def test_what_the_sdk_recorded_is_what_seismo_stores(provider, live_server_asgi, owner):
    meter = provider.get_meter("tests")
    orders = meter.create_counter("checkout.orders", unit="{order}")
    carts = meter.create_up_down_counter("checkout.carts.open")
    duration = meter.create_histogram("checkout.duration", unit="s")
    meter.create_observable_gauge(
        "checkout.queue.utilization", unit="1", callbacks=[lambda options: [_observation(0.42)]]
    )
    orders.add(5, {"region": "eu"})
    orders.add(3, {"region": "eu"})
    carts.add(10)
    carts.add(-4)
    observed = [0.003, 0.02, 0.04, 0.07, 0.08, 0.2, 0.3, 0.4, 0.9, 2.0]
    for value in observed:
        duration.record(value)
    assert provider.force_flush(10_000)

    job = {"job": "shop/checkout", "instance": "i-1"}
    wait_until(lambda: stored("checkout_orders_total", **job), timeout=20)
    assert [v for _, v in stored("checkout_orders_total", region="eu", **job)] == [8]
    assert [v for _, v in stored("checkout_carts_open", **job)] == [6]
    assert [v for _, v in stored("checkout_queue_utilization_ratio", **job)] == [0.42]
    assert [v for _, v in stored("checkout_duration_seconds_count", **job)] == [len(observed)]
    assert [v for _, v in stored("checkout_duration_seconds_sum", **job)] == [pytest.approx(sum(observed))]
    buckets = {
        s.labels["le"]: stored("checkout_duration_seconds_bucket", le=s.labels["le"], **job)[0][1]
        for s in Series.objects.filter(metric__name="checkout_duration_seconds_bucket")
    }
    assert buckets["0.05"] == 3 and buckets["0.5"] == 8 and buckets["+Inf"] == len(observed)

    # A second export carries the cumulative totals; the counter keeps counting.
    orders.add(2, {"region": "eu"})
    assert provider.force_flush(10_000)
    wait_until(lambda: len(stored("checkout_orders_total", region="eu", **job)) == 2, timeout=20)
    assert [v for _, v in stored("checkout_orders_total", region="eu", **job)][-1] == 10

    token = ApiToken.issue(owner)[1]
    now = time.time()
    response = httpx.get(
        f"http://{live_server_asgi}/api/v1/query/",
        params={"metric": "checkout_duration_seconds", "agg": "p95", "from": now - 600, "to": now + 60, "step": 3600},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    [series] = response.json()["series"]
    assert series["labels"] == job
    values = [v for _, v in series["points"] if v is not None]
    # 95 % of ten observations is the 9.5th: it lies in the (1.0, 2.5] bucket.
    assert values and all(1.0 <= v <= 2.5 for v in values)


def _observation(value: float):
    from opentelemetry.metrics import Observation

    return Observation(value)

"""A broker outage only delays rule evaluation: ingest still answers 202, and the alert fires
once the broker is back (the sweep a real worker runs catches up)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from celery import current_app
from kombu import pools

from alerts.models import Alert, AlertRule
from config.embedded import celery_broker_url
from tests.conftest import free_port, start_worker, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _use_broker(url: str) -> None:
    current_app.conf.broker_url = url
    current_app._pool = None  # the app's connection pool was built for the old URL
    current_app.amqp._producer_pool = None
    pools.reset()


@pytest.fixture
def broker_down(settings) -> Iterator[None]:
    """The broker is unreachable (nothing listens where this process sends tasks)."""
    _use_broker(celery_broker_url(f"redis://127.0.0.1:{free_port()}/0"))
    yield
    _use_broker(settings.CELERY_BROKER_URL)


def test_ingest_succeeds_while_the_broker_is_down_and_the_alert_fires_once_it_is_back(
    editor, api_as, broker_down, settings
):
    AlertRule.objects.create(
        name="CPU high", metric="outage_cpu", critical_threshold=90, aggregation="last", window_seconds=60
    )
    body = {"samples": [{"metric": "outage_cpu", "labels": {"host": "a"}, "value": 99.0, "ts": time.time()}]}
    response = api_as(editor).post("/api/v1/ingest/", body, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["accepted"] == 1
    assert not Alert.objects.exists()  # nothing evaluated it yet

    _use_broker(settings.CELERY_BROKER_URL)  # the broker is back
    worker = start_worker("outage-worker")
    try:
        current_app.send_task("alerts.tasks.sweep")
        wait_until(lambda: Alert.objects.filter(rule__metric="outage_cpu", state="firing").exists(), timeout=30)
    finally:
        worker.stop()

"""Killing a worker with SIGKILL in the middle of ingesting loses no acknowledged sample."""

import signal
import time

import pytest
from django.conf import settings
from django.db import connection

from lib.redis import get_redis
from monitoring.tasks import ingest_batch
from tests.conftest import start_beat, start_worker, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def stored_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM monitoring_sample s JOIN monitoring_series r ON r.id = s.series_id "
            "JOIN monitoring_metric m ON m.id = r.metric_id WHERE m.name = 'durable'"
        )
        return cursor.fetchone()[0]


def test_a_worker_killed_mid_batch_loses_no_queued_sample(tmp_path):
    env = {"CELERY_VISIBILITY_TIMEOUT": "3", "RESTORE_UNACKED_SECONDS": "1"}
    start = time.time() - 3000
    batches = [
        [{"metric": "durable", "labels": {"b": str(b)}, "value": i, "ts": start + i} for i in range(2000)]
        for b in range(40)
    ]
    worker = start_worker("doomed", **env)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("CELERY_VISIBILITY_TIMEOUT", "3")
            for batch in batches:
                ingest_batch.delay(batch)
        wait_until(lambda: stored_count() > 0, timeout=30)
        worker.stop(sig=signal.SIGKILL)  # mid-stream: some batches done, one likely in flight
        assert stored_count() < 80_000
    finally:
        worker.stop()
    # The worst moment to die: while holding the lock that guards restoring (the worker's own
    # event loop restores too). The lock must expire soon, not after kombu's default 300 s.
    transport = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    get_redis().set(transport["unacked_mutex_key"], "killed-holder", ex=transport["unacked_mutex_expire"])
    # The dead worker's unacknowledged tasks become visible again after the visibility timeout;
    # beat's restore task puts them back in the queue for the surviving worker.
    survivor = start_worker("survivor", **env)
    beat = start_beat(tmp_path, **env)
    try:
        wait_until(lambda: stored_count() == 80_000, timeout=90, interval=0.5)
        time.sleep(2)  # nothing more arrives: no batch was stored twice
    finally:
        survivor.stop()
        beat.stop()
    assert stored_count() == 80_000  # every batch stored exactly once, none lost, none doubled

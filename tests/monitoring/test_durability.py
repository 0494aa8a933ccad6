"""Killing a worker with SIGKILL in the middle of a stream of tasks loses none it had taken.

Kombu's Redis transport takes a task with BRPOP and then records it as unacknowledged; a
worker killed between the two loses that one message (celery/kombu#305). Nothing in Seismo
depends on such a message surviving (see docs/operations.md): what this test holds is that
every task a worker *received* — in flight, prefetched, or done but not yet acknowledged — is
run again by another worker and stored exactly once.
"""

import re
import signal
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from lib.redis import get_redis
from monitoring.tasks import ingest_batch
from tests.conftest import start_beat, start_worker, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
BATCHES, SIZE = 40, 2000


def stored_by_batch() -> dict[int, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT r.labels->>'b', count(*) FROM monitoring_sample s JOIN monitoring_series r ON r.id = s.series_id "
            "JOIN monitoring_metric m ON m.id = r.metric_id WHERE m.name = 'durable' GROUP BY 1"
        )
        return {int(b): n for b, n in cursor.fetchall()}


def received(*logs: Path) -> set[str]:
    """Ids of the ingest tasks the workers took (Celery logs "received" once it holds one)."""
    pattern = re.compile(r"ingest_batch\[([0-9a-f-]+)\] received")
    return {match for log in logs for match in pattern.findall(log.read_text(errors="replace"))}


def test_a_worker_killed_mid_batch_loses_no_task_it_had_taken(tmp_path):
    env = {"CELERY_VISIBILITY_TIMEOUT": "3", "RESTORE_UNACKED_SECONDS": "1"}
    start = time.time() - 3000
    worker = start_worker("doomed", **env)
    try:
        task_ids = [
            ingest_batch.delay(
                [{"metric": "durable", "labels": {"b": str(b)}, "value": i, "ts": start + i} for i in range(SIZE)]
            ).id
            for b in range(BATCHES)
        ]
        wait_until(lambda: stored_by_batch(), timeout=30)
        worker.stop(sig=signal.SIGKILL)  # mid-stream: some batches done, some in flight or prefetched
        assert sum(stored_by_batch().values()) < BATCHES * SIZE
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
    index = {task_id: b for b, task_id in enumerate(task_ids)}

    def settled() -> bool:
        taken = {index[t] for t in received(worker.log_path, survivor.log_path) if t in index}
        stored = stored_by_batch()
        return taken <= set(stored) and BATCHES - len(taken) <= 1

    try:
        wait_until(settled, timeout=90, interval=0.5)
        time.sleep(2)  # nothing more arrives: no batch was stored twice
    finally:
        survivor.stop()
        beat.stop()
    taken = {index[t] for t in received(worker.log_path, survivor.log_path) if t in index}
    stored = stored_by_batch()
    assert set(stored) == taken and BATCHES - len(taken) <= 1  # at most the one message in kombu's fetch window
    assert all(n == SIZE for n in stored.values()), stored  # each batch stored exactly once, whole

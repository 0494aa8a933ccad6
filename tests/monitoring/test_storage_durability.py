"""A Celery worker killed (SIGKILL) in the middle of a compaction loses nothing and stores
nothing twice; the next run finishes the job."""

import signal
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest
from django.db import connection

from monitoring.models import Chunk
from monitoring.store import chunks, compaction, writer
from monitoring.store.series import resolve_series
from monitoring.tasks import compact
from tests.conftest import children_database_url, start_worker, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def counts(sids: np.ndarray) -> tuple[int, int]:
    """Raw rows and compacted samples of this test's series only: the worker it starts records
    its own task statistics, and those are samples too."""
    ids = [int(sid) for sid in sids]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM monitoring_sample WHERE series_id = ANY(%s)", [ids])
        raw = cursor.fetchone()[0]
        cursor.execute("SELECT coalesce(sum(count), 0) FROM monitoring_chunk WHERE series_id = ANY(%s)", [ids])
        return raw, int(cursor.fetchone()[0])


def test_a_worker_killed_mid_compaction_loses_nothing_and_doubles_nothing(settings):
    settings.STORAGE_HOT_WINDOW_SECONDS = 30 * 86400  # write three old hours as raw rows
    first = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=6)
    ids = resolve_series({("durable_chunk", writer.labels_key({"n": str(n)})): {"n": str(n)} for n in range(20)})
    sids = np.array(sorted(ids.values()), np.int64)
    start_us = chunks.to_us(first)
    stamps = start_us + np.arange(0, 3 * 3600, 5) * 1_000_000
    all_sids = np.repeat(sids, len(stamps))
    all_ts = np.tile(stamps, len(sids))
    writer.copy_columns(all_sids, all_ts, np.sin(all_ts / 1e9) * all_sids)
    total = len(all_ts)
    settings.STORAGE_HOT_WINDOW_SECONDS = 7200
    # Another session holds the rows of the second hour: the worker commits the first hour,
    # then waits on them, and is killed there.
    blocker = psycopg.connect(children_database_url())
    blocker.execute(
        "SELECT 1 FROM monitoring_sample WHERE ts >= %s AND ts < %s FOR UPDATE",
        [first + timedelta(hours=1), first + timedelta(hours=2)],
    )
    worker = start_worker("compactor")
    try:
        compact.delay()
        wait_until(lambda: Chunk.objects.filter(series_id__in=sids.tolist()).exists(), timeout=60)
        wait_until(lambda: counts(sids)[1] == 20 * 720, timeout=30)  # the first hour, committed
        worker.stop(sig=signal.SIGKILL)
    finally:
        worker.stop()
        blocker.rollback()
        blocker.close()
    raw, compacted = counts(sids)
    assert compacted == 20 * 720 and raw + compacted == total  # nothing lost, nothing twice
    wait_until(lambda: not compaction.is_running(), timeout=30)  # PostgreSQL released the lock
    compaction.compact()
    raw, compacted = counts(sids)
    assert (raw, compacted) == (0, total)
    for sid in sids[:3]:
        ts = np.concatenate(
            [chunks.decode(c.timestamps, c.values)[0] for c in Chunk.objects.filter(series_id=sid).order_by("hour")]
        )
        assert ts.tolist() == stamps.tolist()

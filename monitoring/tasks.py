"""Celery tasks: thin wrappers around services."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from celery import shared_task
from celery.signals import task_postrun, task_prerun
from django.conf import settings

from config.celery import app
from monitoring.ingest import ingest_samples

_STARTED: dict[str, float] = {}


@shared_task(ignore_result=True)
def collect(cadence: str) -> int:
    from monitoring.collectors import collect_cadence  # here, not on top: beat imports every tasks module too

    return collect_cadence(cadence)


@shared_task(ignore_result=True)
def scrape() -> int:
    from monitoring.intake.scrape import scrape_due  # here, not on top: beat imports every tasks module too

    return len(scrape_due(settings.SCRAPE_WINDOW_SECONDS))


@shared_task(ignore_result=True)
def rollup_minutes() -> int:
    from monitoring import rollups  # here, not on top: beat imports every tasks module too

    return rollups.rollup_minutes()


@shared_task(ignore_result=True)
def rollup_hours() -> int:
    from monitoring import rollups  # here, not on top: beat imports every tasks module too

    return rollups.rollup_hours()


@shared_task(ignore_result=True)
def retention() -> dict[str, int]:
    from monitoring import rollups  # here, not on top: beat imports every tasks module too

    return rollups.apply_retention()


@shared_task(ignore_result=True)
def daily_summary() -> int:
    from monitoring import rollups  # here, not on top: beat imports every tasks module too

    yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
    return rollups.summarize_day(yesterday) + rollups.summarize_day(yesterday + timedelta(days=1))


@shared_task(ignore_result=True)
def compact() -> dict[str, Any]:
    from monitoring.store import compaction  # here, not on top: beat imports every tasks module too

    return compaction.compact()


@shared_task(ignore_result=True)
def restore_unacked() -> None:
    """Requeue tasks whose worker died (SIGKILL, OOM) once their visibility timeout passed.

    Kombu only sweeps for them from an event loop, which the threads pool does not run.
    """
    with app.connection_for_write() as conn:
        conn.default_channel.qos.restore_visible(num=1000, interval=1)


@shared_task(ignore_result=True)
def ingest_batch(samples: list[dict[str, Any]]) -> int:
    """Ingest from a worker (used to prove a killed worker loses no acknowledged batch)."""
    return ingest_samples(samples).accepted


@task_prerun.connect
def _task_started(task_id: str | None = None, **kwargs: Any) -> None:
    if task_id:
        _STARTED[task_id] = time.perf_counter()


@task_postrun.connect
def _task_finished(task_id: str | None = None, task: Any = None, state: str | None = None, **kwargs: Any) -> None:
    started = _STARTED.pop(task_id or "", None)
    if started is None or task is None:
        return
    from monitoring.collectors import record_task_run  # here, not on top: beat imports every tasks module too

    # Statistics are best effort: the task itself already ran.
    with contextlib.suppress(Exception):
        record_task_run(task.name, time.perf_counter() - started, failed=state == "FAILURE")

"""Celery tasks: thin wrappers around alerts.lifecycle and alerts.outbox."""

from __future__ import annotations

from celery import shared_task

from alerts import lifecycle, outbox
from alerts.schedule import DELIVER_DUE_TASK


@shared_task(ignore_result=True)
def evaluate_metrics(metrics: list[str]) -> int:
    return lifecycle.evaluate_metrics(metrics)


@shared_task(ignore_result=True)
def sweep() -> int:
    return lifecycle.sweep()


@shared_task(ignore_result=True, name=DELIVER_DUE_TASK)
def deliver_due() -> int:
    return outbox.deliver_due()


@shared_task(ignore_result=True)
def release_stale_claims() -> int:
    return outbox.release_stale_claims()

"""Celery tasks: thin wrappers around alerts.lifecycle and alerts.outbox."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from alerts import lifecycle, outbox

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "alerts-sweep": {"task": "alerts.tasks.sweep", "schedule": 5.0, "options": {"expires": 10}},
    "alerts-deliver": {"task": outbox.DELIVER_DUE_TASK, "schedule": 5.0, "options": {"expires": 10}},
    # Often: a claim is stale NOTIFY_TIMEOUT_SECONDS + 5 s after its send started.
    "alerts-release-claims": {"task": "alerts.tasks.release_stale_claims", "schedule": 5.0, "options": {"expires": 10}},
}


@shared_task(ignore_result=True)
def evaluate_metrics(metrics: list[str]) -> int:
    return lifecycle.evaluate_metrics(metrics)


@shared_task(ignore_result=True)
def sweep() -> int:
    return lifecycle.sweep()


@shared_task(ignore_result=True, name=outbox.DELIVER_DUE_TASK)
def deliver_due() -> int:
    return outbox.deliver_due()


@shared_task(ignore_result=True)
def release_stale_claims() -> int:
    return outbox.release_stale_claims()

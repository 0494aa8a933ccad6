"""Celery tasks: thin wrappers around alerts.services."""

from __future__ import annotations

from typing import Any

from celery import shared_task

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "alerts-sweep": {"task": "alerts.tasks.sweep", "schedule": 5.0, "options": {"expires": 10}},
    "alerts-deliver": {"task": "alerts.tasks.deliver_due", "schedule": 5.0, "options": {"expires": 10}},
    "alerts-release-claims": {"task": "alerts.tasks.release_stale_claims", "schedule": 60.0},
}


@shared_task(ignore_result=True)
def evaluate_metrics(metrics: list[str]) -> int:
    from alerts import services

    return services.evaluate_metrics(metrics)


@shared_task(ignore_result=True)
def sweep() -> int:
    from alerts import services

    return services.sweep()


@shared_task(ignore_result=True)
def deliver_due() -> int:
    from alerts import services

    return services.deliver_due()


@shared_task(ignore_result=True)
def release_stale_claims() -> int:
    from alerts import services

    return services.release_stale_claims()

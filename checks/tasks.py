"""Celery tasks: thin wrappers around the checks services (the scheduler itself runs beside
the worker, see checks.scheduler)."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.schedules import crontab

from checks import reports, statuspage

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "checks-status-pages": {"task": "checks.tasks.refresh_status_pages", "schedule": 60.0, "options": {"expires": 60}},
    "checks-weekly-digest": {
        "task": "checks.tasks.weekly_digest",
        "schedule": crontab(minute=0, hour=8, day_of_week=1),
    },
}


@shared_task(ignore_result=True)
def refresh_status_pages() -> int:
    return statuspage.refresh_all()


@shared_task(ignore_result=True)
def weekly_digest() -> int:
    return reports.send_weekly_digests()

"""Periodic tasks of the checks app, by task name (config/beat.py merges every app's; the check
scheduler itself runs beside the worker, see checks.scheduler)."""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

# Beat reads this module without loading the app: no model or task imports here.

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "checks-status-pages": {"task": "checks.tasks.refresh_status_pages", "schedule": 60.0, "options": {"expires": 60}},
    "checks-weekly-digest": {
        "task": "checks.tasks.weekly_digest",
        "schedule": crontab(minute=0, hour=8, day_of_week=1),
    },
}

"""Periodic tasks of the audit app, by task name (config/beat.py merges every app's)."""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

# Beat reads this module without loading the app: no model or task imports here.

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "audit-prune": {"task": "audit.tasks.prune", "schedule": crontab(minute=17, hour=3)},
}

"""Periodic tasks of the monitoring app, by task name (config/beat.py merges every app's)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

# Beat reads this module without loading the app: no model or task imports here.


def _schedule() -> dict[str, dict[str, Any]]:
    cadences = {
        "fast": settings.COLLECT_FAST_SECONDS,
        "medium": settings.COLLECT_MEDIUM_SECONDS,
        "slow": settings.COLLECT_SLOW_SECONDS,
    }
    schedule: dict[str, dict[str, Any]] = {
        f"collect-{cadence}": {
            "task": "monitoring.tasks.collect",
            "schedule": seconds,
            "args": (cadence,),
            # A collection that could not run in its slot is stale: drop it, the next one comes.
            "options": {"expires": seconds * 2},
        }
        for cadence, seconds in cadences.items()
    }
    schedule["restore-unacked"] = {
        "task": "monitoring.tasks.restore_unacked",
        "schedule": settings.RESTORE_UNACKED_SECONDS,
    }
    schedule["rollup-minutes"] = {"task": "monitoring.tasks.rollup_minutes", "schedule": 30.0}
    schedule["rollup-hours"] = {"task": "monitoring.tasks.rollup_hours", "schedule": 600.0}
    schedule["retention"] = {"task": "monitoring.tasks.retention", "schedule": 3600.0}
    schedule["daily-summary"] = {"task": "monitoring.tasks.daily_summary", "schedule": 3600.0}
    schedule["scrape"] = {
        "task": "monitoring.tasks.scrape",
        "schedule": float(settings.SCRAPE_WINDOW_SECONDS),
        # A window that could not start in time is planned by the next one (nothing is skipped).
        "options": {"expires": settings.SCRAPE_WINDOW_SECONDS},
    }
    schedule["compact"] = {"task": "monitoring.tasks.compact", "schedule": settings.STORAGE_COMPACT_SECONDS}
    return schedule


BEAT_SCHEDULE: dict[str, dict[str, Any]] = _schedule()

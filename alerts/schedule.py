"""Periodic tasks of the alerts app, by task name (config/beat.py merges every app's)."""

from __future__ import annotations

from typing import Any

# Beat reads this module without loading the app: no model or task imports here.

# The Celery task that drains the outbox (alerts.tasks registers it under this name).
DELIVER_DUE_TASK = "alerts.tasks.deliver_due"

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "alerts-sweep": {"task": "alerts.tasks.sweep", "schedule": 5.0, "options": {"expires": 10}},
    "alerts-deliver": {"task": DELIVER_DUE_TASK, "schedule": 5.0, "options": {"expires": 10}},
    # Often: a claim is stale NOTIFY_TIMEOUT_SECONDS + 5 s after its send started.
    "alerts-release-claims": {"task": "alerts.tasks.release_stale_claims", "schedule": 5.0, "options": {"expires": 10}},
}

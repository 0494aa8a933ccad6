"""Celery tasks: thin wrappers around services."""

from __future__ import annotations

import time
from typing import Any

from celery import shared_task

from lib.redis import get_redis, key
from monitoring.health import WORKER_KEY

# Periodic tasks of this app (config.celery merges every app's BEAT_SCHEDULE).
BEAT_SCHEDULE: dict[str, dict[str, Any]] = {}


@shared_task(ignore_result=True)
def worker_heartbeat() -> None:
    """Proves a worker executes scheduled tasks (shown on the overview)."""
    get_redis().set(key(WORKER_KEY), time.time())

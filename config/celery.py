"""The Celery app, its beat schedule and the beat heartbeat."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from celery import Celery
from celery.beat import PersistentScheduler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

logger = logging.getLogger(__name__)

app = Celery("seismo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

BEAT_HEARTBEAT_KEY = "beat:heartbeat"


def beat_schedule() -> dict[str, dict[str, Any]]:
    """Every app contributes its periodic tasks through ``<app>.tasks.BEAT_SCHEDULE``."""
    from importlib import import_module

    schedule: dict[str, dict[str, Any]] = {}
    for app_name in ("monitoring", "alerts", "dashboards", "loadtest", "audit", "checks"):
        try:
            module = import_module(f"{app_name}.tasks")
        except ModuleNotFoundError:
            continue
        schedule.update(getattr(module, "BEAT_SCHEDULE", {}))
    return schedule


class HeartbeatScheduler(PersistentScheduler):
    """Beat's own scheduler, which also records that beat itself is alive.

    /readyz reads the heartbeat's age; it is written by beat, not by a task on the worker, so a
    dead worker and a dead beat are told apart.
    """

    _last_beat = 0.0

    def setup_schedule(self) -> None:
        self.app.conf.beat_schedule = beat_schedule()
        super().setup_schedule()

    def tick(self, *args: Any, **kwargs: Any) -> float:
        interval = super().tick(*args, **kwargs)
        from django.conf import settings

        now = time.time()
        if now - self._last_beat >= settings.BEAT_HEARTBEAT_SECONDS / 2:
            # Here, not at the top: config/__init__ imports this module before settings exist.
            from lib.redis import get_redis, key

            try:
                get_redis().set(key(BEAT_HEARTBEAT_KEY), now)
                self._last_beat = now
            except Exception as exc:  # Redis down: readyz reports it; beat keeps scheduling
                logger.warning("beat heartbeat not written: %s", exc)
        return min(interval, settings.BEAT_HEARTBEAT_SECONDS / 2)

"""Celery beat's own app: the schedule and the broker, without the Django project.

Beat only sends tasks by name, so it needs neither the models nor the task modules; loading
them (``django.setup()`` through Celery's Django fix-up, then every ``tasks`` module) made beat
as large as the worker. This app reads the same ``CELERY_*`` settings as ``config.celery``'s,
so the broker, queues, routes and key prefixes are the worker's. ``python -m config.celeryd beat``
runs it (the launcher's ``beat`` command).
"""

from __future__ import annotations

import logging
import time
from importlib import import_module
from typing import Any

from celery import Celery
from celery.beat import PersistentScheduler
from django.conf import settings

from config.celery import BEAT_HEARTBEAT_KEY
from lib.redis import get_redis, key

logger = logging.getLogger(__name__)

# The apps with periodic tasks; each lists them in ``<app>/schedule.py`` (no model imports).
SCHEDULE_MODULES = ("monitoring.schedule", "alerts.schedule", "checks.schedule", "audit.schedule")

# No fix-ups: Celery's Django fix-up would call django.setup() when beat starts.
app = Celery("seismo", fixups=[], set_as_current=False)
app.config_from_object("django.conf:settings", namespace="CELERY")


def beat_schedule() -> dict[str, dict[str, Any]]:
    """Every app's ``BEAT_SCHEDULE``, merged."""
    schedule: dict[str, dict[str, Any]] = {}
    for name in SCHEDULE_MODULES:
        schedule.update(import_module(name).BEAT_SCHEDULE)
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
        now = time.time()
        if now - self._last_beat >= settings.BEAT_HEARTBEAT_SECONDS / 2:
            try:
                get_redis().set(key(BEAT_HEARTBEAT_KEY), now)
                self._last_beat = now
            except Exception as exc:  # Redis down: readyz reports it; beat keeps scheduling
                logger.warning("beat heartbeat not written: %s", exc)
        return min(interval, settings.BEAT_HEARTBEAT_SECONDS / 2)

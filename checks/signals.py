"""Start the check scheduler beside every Celery worker (and stop it with the worker)."""

from __future__ import annotations

from typing import Any

from celery.signals import worker_ready, worker_shutdown
from django.conf import settings


@worker_ready.connect
def start_scheduler(sender: Any = None, **kwargs: Any) -> None:
    if not settings.CHECKS_SCHEDULER:
        return
    from checks import scheduler  # the scheduler imports the services and probes: only in workers

    scheduler.start(getattr(sender, "hostname", "") or "worker")


@worker_shutdown.connect
def stop_scheduler(**kwargs: Any) -> None:
    from checks import scheduler  # as above: only in workers

    scheduler.stop()

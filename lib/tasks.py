"""Queueing Celery work from domain code: the one helper services enqueue through.

Services name the task instead of importing it (tasks import services, never the other way
round), and the task is sent only once the transaction commits, so the worker finds the rows.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import current_app
from django.db import transaction
from kombu.exceptions import OperationalError as BrokerUnavailable

logger = logging.getLogger(__name__)


def enqueue_after_commit(task_name: str, *args: Any) -> None:
    """Send ``task_name(*args)`` to the queue when the current transaction commits.

    With the broker down the rows are already committed: the request that wrote them must not
    fail afterwards, so the miss is logged (beat's periodic runs — delivery, sweep — pick
    such rows up)."""

    def send() -> None:
        try:
            current_app.send_task(task_name, args=args)
        except BrokerUnavailable as exc:
            logger.warning("%s%r not queued: broker unavailable (%s)", task_name, args, exc)

    transaction.on_commit(send)

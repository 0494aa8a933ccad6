"""Queueing Celery work from domain code: the one helper services enqueue through.

Services name the task instead of importing it (tasks import services, never the other way
round), and the task is sent only once the transaction commits, so the worker finds the rows.
"""

from __future__ import annotations

from typing import Any

from celery import current_app
from django.db import transaction


def enqueue_after_commit(task_name: str, *args: Any) -> None:
    """Send ``task_name(*args)`` to the queue when the current transaction commits."""
    transaction.on_commit(lambda: current_app.send_task(task_name, args=args))

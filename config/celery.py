"""The Celery app of the worker and the web processes (beat has its own: config/beat.py)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("seismo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Beat writes its heartbeat here (config.beat); /readyz reads its age.
BEAT_HEARTBEAT_KEY = "beat:heartbeat"

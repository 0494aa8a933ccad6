"""The Celery app of the worker and the web processes (beat has its own: config/beat.py)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
# Celery's Django fix-up runs the system checks when the worker starts; they load the URLconf
# and with it every view, serializer and API schema module (~8 MB the worker never uses).
# `prepare` (migrate) and `manage.py check` run them.
os.environ.setdefault("CELERY_SKIP_CHECKS", "1")

app = Celery("seismo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Beat writes its heartbeat here (config.beat); /readyz reads its age.
BEAT_HEARTBEAT_KEY = "beat:heartbeat"

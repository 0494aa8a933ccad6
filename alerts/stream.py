"""Alert frames on the live stream (the alerts page and the overview refresh on them)."""

from __future__ import annotations

import logging
import time

from django.db import transaction

from alerts.models import Alert
from lib.realtime import broadcast
from monitoring import topics

logger = logging.getLogger(__name__)


def publish(alert: Alert) -> None:
    payload = {
        "alert": {
            "id": alert.id,
            "rule": alert.rule.name,
            "state": alert.state,
            "severity": alert.severity,
            "labels": alert.labels,
            "value": alert.value,
            "summary": alert.summary,
            "ts": time.time(),
        }
    }
    try:
        broadcast(topics.ALERT, payload)
    except Exception as exc:  # the stream is best effort; the alert row is the record
        logger.warning("publishing alert %s failed: %s", alert.id, exc)


def announce(alert: Alert) -> None:
    """Publish the alert's new state once the transition is committed."""
    transaction.on_commit(lambda: publish(alert))

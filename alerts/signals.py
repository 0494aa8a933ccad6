"""Evaluate the rules a batch of samples concerns, as soon as it is committed.

Which metrics enabled rules watch is known per process, not asked of the database per batch (a
Prometheus sends hundreds of batches a second): saving or deleting a rule anywhere bumps a
version in Redis after commit, and every batch compares that version (one GET) before using
what it knows. Writes that send no signal (``bulk_create``, ``update``) are seen within
``WatchedMetrics.ttl``; with Redis down the set is read from the database each batch.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from kombu.exceptions import OperationalError as BrokerUnavailable

from alerts.models import AlertRule
from alerts.tasks import evaluate_metrics
from lib.redis import get_redis, key
from monitoring.signals import samples_ingested

logger = logging.getLogger(__name__)

VERSION_KEY = "alert-rules-version"


class WatchedMetrics:
    """The metrics of enabled rules, re-read when the rules' version in Redis moves."""

    ttl = 30.0

    def __init__(self) -> None:
        self.metrics: frozenset[str] = frozenset()
        self.version: bytes | None = None
        self.read_at = -math.inf
        self.lock = threading.Lock()

    def get(self) -> frozenset[str]:
        try:
            version = get_redis().get(key(VERSION_KEY)) or b"0"
        except Exception as exc:  # Redis down: the database answers, as before the cache
            logger.debug("rules version unreadable, reading rules: %s", exc)
            return self._read()
        if version != self.version or time.monotonic() - self.read_at > self.ttl:
            with self.lock:
                self.metrics = self._read()
                self.version = version
                self.read_at = time.monotonic()
        return self.metrics

    @staticmethod
    def _read() -> frozenset[str]:
        return frozenset(AlertRule.objects.filter(enabled=True).values_list("metric", flat=True).distinct())

    def forget(self) -> None:
        self.read_at = -math.inf


watched_metrics = WatchedMetrics()


def _bump_version() -> None:
    watched_metrics.forget()
    try:
        get_redis().incr(key(VERSION_KEY))
    except Exception as exc:  # other processes see the change within the ttl
        logger.warning("announcing a rule change failed: %s", exc)


@receiver(post_save, sender=AlertRule, dispatch_uid="alerts-watched-metrics-save")
@receiver(post_delete, sender=AlertRule, dispatch_uid="alerts-watched-metrics-delete")
def rules_changed(sender: Any, **kwargs: Any) -> None:
    # Here at once (this transaction's own batches see the change), elsewhere after commit
    # (a process reading before the commit would keep the old set under the new version).
    watched_metrics.forget()
    transaction.on_commit(_bump_version)


@receiver(samples_ingested)
def evaluate_on_ingest(sender: Any, metrics: set[str], **kwargs: Any) -> None:
    watched = sorted(watched_metrics.get().intersection(metrics))
    if watched:
        try:
            evaluate_metrics.delay(watched)
        except BrokerUnavailable as exc:  # the samples are stored; the periodic sweep evaluates them
            logger.warning("rule evaluation for %s deferred to the sweep: broker unavailable (%s)", watched, exc)

"""Evaluate the rules a batch of samples concerns, as soon as it is committed."""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import receiver
from kombu.exceptions import OperationalError as BrokerUnavailable

from alerts.models import AlertRule
from alerts.tasks import evaluate_metrics
from monitoring.signals import samples_ingested

logger = logging.getLogger(__name__)


@receiver(samples_ingested)
def evaluate_on_ingest(sender: Any, metrics: set[str], **kwargs: Any) -> None:
    watched = sorted(set(AlertRule.objects.filter(enabled=True, metric__in=metrics).values_list("metric", flat=True)))
    if watched:
        try:
            evaluate_metrics.delay(watched)
        except BrokerUnavailable as exc:  # the samples are stored; the periodic sweep evaluates them
            logger.warning("rule evaluation for %s deferred to the sweep: broker unavailable (%s)", watched, exc)

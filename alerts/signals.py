"""Evaluate the rules a batch of samples concerns, as soon as it is committed."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from alerts.models import AlertRule
from alerts.tasks import evaluate_metrics
from monitoring.signals import samples_ingested


@receiver(samples_ingested)
def evaluate_on_ingest(sender: Any, metrics: set[str], **kwargs: Any) -> None:
    watched = sorted(set(AlertRule.objects.filter(enabled=True, metric__in=metrics).values_list("metric", flat=True)))
    if watched:
        evaluate_metrics.delay(watched)

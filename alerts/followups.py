"""What happens to alerts that keep firing: lapsed acknowledgements, reminders, escalation."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from alerts import outbox
from alerts.choices import AlertState, NotificationKind
from alerts.models import Alert
from alerts.stream import announce
from alerts.suppressions import Suppressions


def follow_up(now: datetime | None = None) -> int:
    """Lapsed acknowledgements, repeat reminders and escalations; returns notifications queued.
    Each step claims its alert with a conditional update, so overlapping sweeps act once."""
    now = now or timezone.now()
    suppressions = Suppressions(now)
    queued = 0
    lapsed = Alert.objects.filter(state=AlertState.ACKNOWLEDGED, ack_expires_at__lte=now)
    for alert in lapsed.select_related("rule").prefetch_related("rule__channels"):
        with transaction.atomic():
            if alert.reopen() is None:
                continue  # someone else got there first
            announce(alert)
            queued += outbox.queue(alert, NotificationKind.REMINDER, suppressions)
    due = Alert.objects.filter(state=AlertState.FIRING).filter(
        Q(rule__repeat_interval_minutes__gt=0) | Q(rule__escalate_after_minutes__gt=0, escalated_at__isnull=True)
    )
    for alert in due.select_related("rule").prefetch_related("rule__channels", "rule__escalation_channels"):
        rule = alert.rule
        since = alert.last_notified_at or alert.fired_at or alert.started_at
        if rule.repeat_interval_minutes and now - since >= timedelta(minutes=rule.repeat_interval_minutes):
            with transaction.atomic():
                if alert.claim_reminder(now):
                    queued += outbox.queue(alert, NotificationKind.REMINDER, suppressions, at=now)
        fired = alert.fired_at or alert.started_at
        if (
            rule.escalate_after_minutes
            and alert.escalated_at is None
            and now - fired >= timedelta(minutes=rule.escalate_after_minutes)
        ):
            with transaction.atomic():
                targets = list(rule.escalation_channels.all())
                if alert.escalate(now, ", ".join(c.name for c in targets) or "no channel") is not None:
                    queued += outbox.queue(alert, NotificationKind.ESCALATION, suppressions, targets)
    return queued

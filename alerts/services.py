"""Alert evaluation, lifecycle and notification delivery.

Evaluation runs when a rule's metric receives data (the ingest signal enqueues it) and on a
periodic sweep (for `for`, no-data and resolution). Transitions write an AlertEvent and queue
Notification rows; workers claim each row atomically, so overlapping workers never send twice.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from alerts.choices import AlertState, NoData, NotificationKind, NotificationStatus
from alerts.models import Alert, AlertEvent, AlertRule, Notification, NotificationChannel, Silence
from alerts.notifiers import REGISTRY, Event, NotifierError
from lib.realtime import broadcast
from monitoring.services import aggregate_window, labels_key

logger = logging.getLogger(__name__)

# Retries: after 10 s, 1 min, 5 min — then the notification is given up.
BACKOFF = (10, 60, 300)
OPEN_STATES = (AlertState.PENDING, AlertState.FIRING, AlertState.ACKNOWLEDGED)
_TEMPLATE = re.compile(r"{{\s*([a-z_.]+)\s*}}")


def render_summary(rule: AlertRule, labels: dict[str, str], value: float | None) -> str:
    """``{{ value }}``, ``{{ labels.host }}``, ``{{ labels }}``, ``{{ rule }}``, ``{{ metric }}``."""
    shown = "no data" if value is None else f"{value:g}"

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "value":
            return shown
        if name == "rule":
            return rule.name
        if name == "metric":
            return rule.metric
        if name == "labels":
            return ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "all series"
        if name.startswith("labels."):
            return labels.get(name[7:], "")
        return match.group(0)

    return _TEMPLATE.sub(replace, rule.summary or "{{ rule }}")[:500]


def _publish(alert: Alert) -> None:
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
        broadcast("alert", payload)
    except Exception as exc:  # the stream is best effort; the alert row is the record
        logger.warning("publishing alert %s failed: %s", alert.id, exc)


def _transition(alert: Alert, state: str, value: float | None, actor: str = "system", comment: str = "") -> None:
    alert.state = state
    alert.value = value
    AlertEvent.objects.create(alert=alert, state=state, value=value, actor=actor, comment=comment)
    transaction.on_commit(lambda: _publish(alert))


def silenced(rule: AlertRule, labels: dict[str, str], now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return any(s.matches(rule.name, labels) for s in Silence.objects.filter(starts_at__lte=now, ends_at__gt=now))


def queue_notifications(alert: Alert, kind: str) -> int:
    """One outbox row per enabled channel of the rule, unless a silence matches."""
    if silenced(alert.rule, alert.labels):
        return 0
    channels = [c for c in alert.rule.channels.all() if c.enabled]
    Notification.objects.bulk_create([Notification(alert=alert, channel=c, kind=kind) for c in channels])
    if channels:
        from alerts.tasks import deliver_due

        transaction.on_commit(deliver_due.delay)
    return len(channels)


def evaluate_rule(rule: AlertRule, now: datetime | None = None) -> list[Alert]:
    """Evaluate one rule against every matching series; returns the alerts that changed."""
    now = now or timezone.now()
    changed: list[Alert] = []
    results = aggregate_window(rule.metric, rule.labels or None, rule.window_seconds, rule.aggregation, now=now)
    with transaction.atomic():
        open_alerts = {
            a.labels_key: a
            for a in Alert.objects.select_for_update().filter(rule=rule, state__in=OPEN_STATES).select_related("rule")
        }
        for series, value in results:
            key = labels_key(series.labels)
            alert = open_alerts.get(key)
            if _step(rule, alert, series.labels, key, value, now, changed):
                continue
    return changed


def _step(
    rule: AlertRule,
    alert: Alert | None,
    labels: dict[str, str],
    key: str,
    value: float | None,
    now: datetime,
    changed: list[Alert],
) -> bool:
    severity = rule.breach(value)
    if value is None:
        if rule.no_data == NoData.KEEP or (rule.no_data == NoData.OK and alert is None):
            return True
        if rule.no_data == NoData.ALERT:
            severity = rule.severity
    if severity is not None:
        if alert is None:
            alert = Alert(rule=rule, labels=labels, labels_key=key, state=AlertState.PENDING, severity=severity,
                          value=value, started_at=now, summary=render_summary(rule, labels, value))  # fmt: skip
            alert.save()
            _transition(alert, AlertState.PENDING, value)
            changed.append(alert)
        alert.value = value
        alert.severity = severity
        alert.summary = render_summary(rule, labels, value)
        if alert.state == AlertState.PENDING and (now - alert.started_at).total_seconds() >= rule.for_seconds:
            alert.fired_at = now
            _transition(alert, AlertState.FIRING, value)
            queue_notifications(alert, NotificationKind.FIRING)
            if alert not in changed:
                changed.append(alert)
        alert.save()
        return True
    if alert is None:
        return True
    if value is None or rule.recovered(value):
        was_firing = alert.state in (AlertState.FIRING, AlertState.ACKNOWLEDGED)
        alert.resolved_at = now
        _transition(alert, AlertState.RESOLVED, value)
        alert.save()
        if was_firing:
            queue_notifications(alert, NotificationKind.RESOLVED)
        changed.append(alert)
    return True


def evaluate_metrics(metrics: list[str]) -> int:
    """Evaluate the enabled rules watching any of ``metrics`` (called when data arrives)."""
    count = 0
    for rule in AlertRule.objects.filter(enabled=True, metric__in=metrics).prefetch_related("channels"):
        evaluate_rule(rule)
        count += 1
    return count


def sweep() -> int:
    """Evaluate every enabled rule: moves pending alerts past `for`, handles no-data and recovery."""
    count = 0
    for rule in AlertRule.objects.filter(enabled=True).prefetch_related("channels"):
        try:
            evaluate_rule(rule)
        except Exception as exc:  # one broken rule must not stop the sweep
            logger.warning("evaluating rule %s failed: %s", rule.pk, exc)
        count += 1
    return count


def acknowledge(alert: Alert, user: Any, comment: str = "") -> Alert:
    with transaction.atomic():
        alert = Alert.objects.select_for_update().select_related("rule").get(pk=alert.pk)
        if alert.state not in (AlertState.FIRING, AlertState.PENDING):
            raise ValueError(f"a {alert.state} alert cannot be acknowledged")
        alert.acknowledged_at = timezone.now()
        alert.acknowledged_by = user
        _transition(alert, AlertState.ACKNOWLEDGED, alert.value, actor=user.get_username(), comment=comment)
        alert.save()
    return alert


def resolve(alert: Alert, user: Any, comment: str = "") -> Alert:
    with transaction.atomic():
        alert = Alert.objects.select_for_update().select_related("rule").get(pk=alert.pk)
        if alert.state == AlertState.RESOLVED:
            raise ValueError("the alert is already resolved")
        was_firing = alert.state in (AlertState.FIRING, AlertState.ACKNOWLEDGED)
        alert.resolved_at = timezone.now()
        _transition(alert, AlertState.RESOLVED, alert.value, actor=user.get_username(), comment=comment)
        alert.save()
        if was_firing:
            queue_notifications(alert, NotificationKind.RESOLVED)
    return alert


# Delivery --------------------------------------------------------------------------------------


def _event_for(notification: Notification) -> Event:
    base = getattr(settings, "SEISMO_PUBLIC_URL", "") or f"http://{settings.SEISMO_HOST}:{settings.SEISMO_PORT}"
    alert = notification.alert
    if alert is None:
        return Event("test", "Test notification", "test", f"Seismo test message for {notification.channel.name}",
                     None, {}, f"{base}/alerts/")  # fmt: skip
    return Event(
        kind=notification.kind,
        rule=alert.rule.name,
        severity=alert.severity,
        summary=alert.summary,
        value=alert.value,
        labels=alert.labels,
        url=f"{base}/alerts/#alert-{alert.pk}",
        runbook_url=alert.rule.runbook_url,
    )


def claim(notification_id: int) -> bool:
    """Take a notification for sending; exactly one worker wins."""
    return (
        Notification.objects.filter(
            pk=notification_id, status=NotificationStatus.PENDING, claimed_at__isnull=True
        ).update(claimed_at=timezone.now())
        == 1
    )


def deliver(notification_id: int) -> str:
    """Send one claimed notification and record the outcome (the one place that does)."""
    if not claim(notification_id):
        return "taken"
    notification = Notification.objects.select_related("channel", "alert__rule").get(pk=notification_id)
    channel = notification.channel
    started = time.perf_counter()
    error: NotifierError | None = None
    if not channel.enabled:
        error = NotifierError(f"channel disabled: {channel.disabled_reason}", permanent=True)
    else:
        try:
            REGISTRY[channel.kind](channel.config).notify(_event_for(notification))
        except NotifierError as exc:
            error = exc
        except Exception as exc:  # a notifier bug is a failed attempt, never a lost row
            error = NotifierError(f"{type(exc).__name__}")
    notification.attempts += 1
    notification.duration_ms = (time.perf_counter() - started) * 1000
    notification.claimed_at = None
    if error is None:
        notification.status = NotificationStatus.SENT
        notification.sent_at = timezone.now()
        notification.last_error = ""
    else:
        notification.last_error = str(error)[:500]
        if error.permanent or notification.attempts > len(BACKOFF):
            notification.status = NotificationStatus.FAILED
            if error.permanent and channel.enabled:
                channel.disable(str(error))
        else:
            notification.next_attempt_at = timezone.now() + timedelta(seconds=BACKOFF[notification.attempts - 1])
        logger.warning("notification %s to %s failed: %s", notification.pk, channel.name, error)
    notification.save()
    return notification.status


def deliver_due(limit: int = 100) -> int:
    ids = list(
        Notification.objects.filter(
            status=NotificationStatus.PENDING, claimed_at__isnull=True, next_attempt_at__lte=timezone.now()
        ).values_list("id", flat=True)[:limit]
    )
    for notification_id in ids:
        deliver(notification_id)
    return len(ids)


def send_test(channel: NotificationChannel) -> Notification:
    """Queue and send a test message to a channel now (the API's and admin's test action)."""
    notification = Notification.objects.create(channel=channel, kind=NotificationKind.TEST)
    deliver(notification.pk)
    notification.refresh_from_db()
    return notification


def release_stale_claims(older_than_seconds: int = 120) -> int:
    """A worker that died while sending leaves a claim behind: hand it back."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return Notification.objects.filter(Q(status=NotificationStatus.PENDING) & Q(claimed_at__lt=cutoff)).update(
        claimed_at=None
    )

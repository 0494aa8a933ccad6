"""Alert evaluation, lifecycle and notification delivery.

Evaluation runs when a rule's metric receives data (the ingest signal enqueues it) and on a
periodic sweep (for `for`, no-data and resolution). Transitions write an AlertEvent and queue
Notification rows; workers claim each row atomically, so overlapping workers never send twice.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from alerts import evaluation
from alerts.choices import AlertState, NoData, NotificationKind, NotificationStatus
from alerts.evaluation import Verdict
from alerts.models import (
    Alert,
    AlertEvent,
    AlertRule,
    MaintenanceWindow,
    Notification,
    NotificationChannel,
    Silence,
)
from alerts.notifiers import REGISTRY, Event, Item, NotifierError
from lib.realtime import broadcast

logger = logging.getLogger(__name__)

# Retries: after 10 s, 1 min, 5 min — then the notification is given up.
BACKOFF = (10, 60, 300)
OPEN_STATES = (AlertState.PENDING, AlertState.FIRING, AlertState.ACKNOWLEDGED)
RULE_LOCK = 0x5E15  # advisory-lock namespace for rule evaluation
SWEEP_BATCH = 200  # rules evaluated per pass of the sweep
_TEMPLATE = re.compile(r"{{\s*([a-z_.]+)\s*}}")


def render_summary(rule: AlertRule, labels: dict[str, str], value: float | None, detail: str = "") -> str:
    """``{{ value }}``, ``{{ labels.host }}``, ``{{ labels }}``, ``{{ rule }}``, ``{{ metric }}``,
    ``{{ detail }}`` (an anomaly rule's baseline)."""
    shown = "no data" if value is None else f"{value:g}"

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "value":
            return shown
        if name == "rule":
            return rule.name
        if name == "metric":
            return rule.metric
        if name == "detail":
            return detail
        if name == "labels":
            return ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "all series"
        if name.startswith("labels."):
            return labels.get(name[7:], "")
        return match.group(0)

    text = _TEMPLATE.sub(replace, rule.summary or "{{ rule }}")
    if detail and "{{ detail }}" not in (rule.summary or "") and rule.kind == "anomaly":
        text = f"{text} ({detail})"
    return text[:500]


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


class Suppressions:
    """Silences and maintenance windows active at one moment, read once per pass and only if
    a notification is about to be queued."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or timezone.now()
        self._active: list[Silence | MaintenanceWindow] | None = None

    def match(self, rule: AlertRule, labels: dict[str, str]) -> bool:
        if self._active is None:
            silences = list(Silence.objects.filter(starts_at__lte=self.now, ends_at__gt=self.now))
            windows = [w for w in MaintenanceWindow.objects.filter(enabled=True) if w.active_at(self.now)]
            self._active = [*silences, *windows]
        return any(s.matches(rule.name, labels) for s in self._active)


def group_key(alert: Alert) -> str:
    rule = alert.rule
    if not rule.group_notifications:
        return ""
    values = [alert.labels.get(name, "") for name in rule.group_by or []]
    return f"rule:{rule.pk}:{orjson.dumps(values).decode()}"[:300]


def queue_notifications(
    alert: Alert,
    kind: str,
    suppressions: Suppressions | None = None,
    channels: list[NotificationChannel] | None = None,
) -> int:
    """One outbox row per enabled channel (the rule's unless given), unless suppressed."""
    if (suppressions or Suppressions()).match(alert.rule, alert.labels):
        return 0
    targets = [c for c in (alert.rule.channels.all() if channels is None else channels) if c.enabled]
    key = group_key(alert)
    Notification.objects.bulk_create([Notification(alert=alert, channel=c, kind=kind, group_key=key) for c in targets])
    if kind != NotificationKind.RESOLVED:
        alert.last_notified_at = timezone.now()
    if targets:
        from alerts.tasks import deliver_due

        transaction.on_commit(deliver_due.delay)
    return len(targets)


def evaluate_rule(rule: AlertRule, now: datetime | None = None) -> list[Alert]:
    """Evaluate one rule against every matching series; returns the alerts that changed."""
    return evaluate_rules([rule], now)


def evaluate_rules(
    rules: Iterable[AlertRule], now: datetime | None = None, window: evaluation.Window | None = None
) -> list[Alert]:
    """Evaluate rules in one pass: shared aggregates, one query for the open alerts, and a
    transaction only for the rules that have something to change."""
    now = now or timezone.now()
    rules = list(rules)
    if not rules:
        return []
    open_keys: dict[int, set[str]] = {}
    current = Alert.objects.filter(rule__in=rules, state__in=OPEN_STATES)
    for rule_id, key in current.values_list("rule_id", "labels_key"):
        open_keys.setdefault(rule_id, set()).add(key)
    verdicts = evaluation.evaluate(rules, now, open_keys, window)
    suppressions = Suppressions(now)
    changed: list[Alert] = []
    for rule in rules:
        rows = verdicts[rule.pk]
        if not rows:
            continue
        with transaction.atomic():
            with connection.cursor() as cursor:
                # Evaluations of one rule (ingest-triggered and the sweep) take turns.
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [RULE_LOCK, rule.pk])
            locked = Alert.objects.select_for_update().filter(rule=rule, state__in=OPEN_STATES)
            alerts = {a.labels_key: a for a in locked}
            for alert in alerts.values():
                alert.rule = rule
            for series, verdict in rows:
                key = series.labels_key
                _step(rule, alerts.get(key), series.labels, key, verdict, now, changed, suppressions)
    return changed


def _step(
    rule: AlertRule,
    alert: Alert | None,
    labels: dict[str, str],
    key: str,
    verdict: Verdict,
    now: datetime,
    changed: list[Alert],
    suppressions: Suppressions,
) -> None:
    value, severity, recovered = verdict.value, verdict.severity, verdict.recovered
    if value is None:
        if rule.no_data == NoData.KEEP or (rule.no_data == NoData.OK and alert is None):
            return
        if rule.no_data == NoData.ALERT:
            severity, recovered = rule.severity, False
    if severity is not None:
        summary = render_summary(rule, labels, value, verdict.detail)
        if alert is None:
            alert = Alert(
                rule=rule,
                labels=labels,
                labels_key=key,
                state=AlertState.PENDING,
                severity=severity,
                value=value,
                started_at=now,
                summary=summary,
            )
            alert.save()
            _transition(alert, AlertState.PENDING, value)
            changed.append(alert)
        alert.value = value
        alert.severity = severity
        alert.summary = summary
        alert.clear_since = None
        if alert.state == AlertState.PENDING and (now - alert.started_at).total_seconds() >= rule.for_seconds:
            alert.fired_at = now
            _transition(alert, AlertState.FIRING, value)
            queue_notifications(alert, NotificationKind.FIRING, suppressions)
            if alert not in changed:
                changed.append(alert)
        alert.save()
        return
    if alert is None or not recovered:
        return
    firing = alert.state in (AlertState.FIRING, AlertState.ACKNOWLEDGED)
    if firing and rule.keep_firing_for_seconds:
        alert.clear_since = alert.clear_since or now
        if (now - alert.clear_since).total_seconds() < rule.keep_firing_for_seconds:
            alert.value = value
            alert.save(update_fields=["value", "clear_since"])
            return
    alert.resolved_at = now
    _transition(alert, AlertState.RESOLVED, value)
    alert.save()
    if firing:
        queue_notifications(alert, NotificationKind.RESOLVED, suppressions)
    changed.append(alert)


def _rules(**filters: Any) -> QuerySet[AlertRule]:
    return AlertRule.objects.filter(enabled=True, **filters).prefetch_related("channels", "conditions")


def evaluate_metrics(metrics: list[str]) -> int:
    """Evaluate the enabled rules watching any of ``metrics`` (called when data arrives)."""
    rules = list(_rules(metric__in=metrics))
    evaluate_rules(rules)
    return len(rules)


def sweep(now: datetime | None = None) -> int:
    """Evaluate every enabled rule (moves pending alerts past `for`, handles no-data, recovery
    and keep-firing-for), then reminders, escalations and lapsed acknowledgements."""
    now = now or timezone.now()
    rules = list(_rules())
    window = evaluation.Window(now)  # aggregates shared by every batch of this sweep
    for start in range(0, len(rules), SWEEP_BATCH):
        batch = rules[start : start + SWEEP_BATCH]
        try:
            evaluate_rules(batch, now, window)
        except Exception:  # one broken rule must not stop the sweep: retry the batch rule by rule
            for rule in batch:
                try:
                    evaluate_rules([rule], now)
                except Exception as exc:
                    logger.warning("evaluating rule %s failed: %s", rule.pk, exc)
    follow_up(now)
    return len(rules)


def follow_up(now: datetime | None = None) -> int:
    """Lapsed acknowledgements, repeat reminders and escalations; returns notifications queued."""
    now = now or timezone.now()
    suppressions = Suppressions(now)
    queued = 0
    lapsed = Alert.objects.filter(state=AlertState.ACKNOWLEDGED, ack_expires_at__lte=now)
    for alert in lapsed.select_related("rule").prefetch_related("rule__channels"):
        with transaction.atomic():
            if not Alert.objects.filter(pk=alert.pk, state=AlertState.ACKNOWLEDGED).update(
                state=AlertState.FIRING, ack_expires_at=None, acknowledged_at=None, acknowledged_by=None
            ):
                continue  # someone else got there first
            alert.state = AlertState.FIRING
            _transition(alert, AlertState.FIRING, alert.value, comment="acknowledgement expired")
            queued += queue_notifications(alert, NotificationKind.REMINDER, suppressions)
            Alert.objects.filter(pk=alert.pk).update(last_notified_at=alert.last_notified_at)
    due = Alert.objects.filter(state=AlertState.FIRING).filter(
        Q(rule__repeat_interval_minutes__gt=0) | Q(rule__escalate_after_minutes__gt=0, escalated_at__isnull=True)
    )
    for alert in due.select_related("rule").prefetch_related("rule__channels", "rule__escalation_channels"):
        rule = alert.rule
        since = alert.last_notified_at or alert.fired_at or alert.started_at
        if rule.repeat_interval_minutes and now - since >= timedelta(minutes=rule.repeat_interval_minutes):
            with transaction.atomic():
                # The conditional update is the claim: overlapping sweeps remind once.
                if Alert.objects.filter(pk=alert.pk, last_notified_at=alert.last_notified_at).update(
                    last_notified_at=now
                ):
                    queued += queue_notifications(alert, NotificationKind.REMINDER, suppressions)
        fired = alert.fired_at or alert.started_at
        if (
            rule.escalate_after_minutes
            and alert.escalated_at is None
            and now - fired >= timedelta(minutes=rule.escalate_after_minutes)
        ):
            with transaction.atomic():
                if Alert.objects.filter(pk=alert.pk, escalated_at__isnull=True).update(escalated_at=now):
                    targets = list(rule.escalation_channels.all())
                    names = ", ".join(c.name for c in targets) or "no channel"
                    AlertEvent.objects.create(
                        alert=alert, state=alert.state, value=alert.value, comment=f"escalated to {names}"
                    )
                    queued += queue_notifications(alert, NotificationKind.ESCALATION, suppressions, targets)
    return queued


def acknowledge(alert: Alert, user: Any, comment: str = "", expires_in_minutes: int | None = None) -> Alert:
    """Stops reminders and escalation until the alert resolves or the acknowledgement lapses
    (``expires_in_minutes``, else the rule's ``ack_expiry_minutes``; 0: never)."""
    with transaction.atomic():
        alert = Alert.objects.select_for_update().select_related("rule").get(pk=alert.pk)
        if alert.state not in (AlertState.FIRING, AlertState.PENDING):
            raise ValueError(f"a {alert.state} alert cannot be acknowledged")
        minutes = alert.rule.ack_expiry_minutes if expires_in_minutes is None else expires_in_minutes
        alert.acknowledged_at = timezone.now()
        alert.acknowledged_by = user
        alert.ack_expires_at = alert.acknowledged_at + timedelta(minutes=minutes) if minutes else None
        note = f"{comment} (until {alert.ack_expires_at:%Y-%m-%d %H:%M} UTC)" if minutes else comment
        _transition(alert, AlertState.ACKNOWLEDGED, alert.value, actor=user.get_username(), comment=note.strip()[:500])
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


def _event_for(notifications: list[Notification]) -> Event:
    """One message for one notification, or for a group of alerts that fired together."""
    base = settings.SEISMO_PUBLIC_URL
    first = notifications[0]
    alert = first.alert
    if alert is None:
        return Event(
            "test",
            "Test notification",
            "test",
            f"Seismo test message for {first.channel.name}",
            None,
            {},
            f"{base}/alerts/",
        )
    alerts = [n.alert for n in notifications if n.alert is not None]
    items = [Item(a.summary, a.value, a.labels, a.severity, f"{base}/alerts/#alert-{a.pk}") for a in alerts]
    severity = "critical" if any(a.severity == "critical" for a in alerts) else alert.severity
    return Event(
        kind=first.kind,
        rule=alert.rule.name,
        severity=severity,
        summary=alert.summary if len(alerts) == 1 else f"{len(alerts)} series of {alert.rule.name}",
        value=alert.value,
        labels=alert.labels,
        url=items[0].url if len(items) == 1 else f"{base}/alerts/",
        runbook_url=alert.rule.runbook_url,
        items=items,
    )


def claim_batch(ids: list[int]) -> list[int]:
    """Take notifications for sending: each row goes to exactly one worker."""
    with transaction.atomic():
        won = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(pk__in=ids, status=NotificationStatus.PENDING, claimed_at__isnull=True)
            .values_list("id", flat=True)
        )
        if won:
            Notification.objects.filter(pk__in=won).update(claimed_at=timezone.now())
    return won


def deliver(notification_id: int) -> str:
    return deliver_batch([notification_id])


def deliver_batch(ids: list[int]) -> str:
    """Send the claimable rows of ``ids`` (one channel, one kind) as one message and record
    the outcome on each (the one place that does)."""
    won = claim_batch(ids)
    if not won:
        return "taken"
    rows = Notification.objects.select_related("channel", "alert__rule").filter(pk__in=won)
    notifications = list(rows.order_by("id"))
    channel = notifications[0].channel
    started = time.perf_counter()
    error: NotifierError | None = None
    if not channel.enabled:
        error = NotifierError(f"channel disabled: {channel.disabled_reason}", permanent=True)
    else:
        try:
            REGISTRY[channel.kind](channel.config).notify(_event_for(notifications))
        except NotifierError as exc:
            error = exc
        except Exception as exc:  # a notifier bug is a failed attempt, never a lost row
            error = NotifierError(f"{type(exc).__name__}")
    elapsed_ms = (time.perf_counter() - started) * 1000
    now = timezone.now()
    for notification in notifications:
        notification.attempts += 1
        notification.duration_ms = elapsed_ms
        notification.claimed_at = None
        if error is None:
            notification.status = NotificationStatus.SENT
            notification.sent_at = now
            notification.last_error = ""
        else:
            notification.last_error = str(error)[:500]
            if error.permanent or notification.attempts > len(BACKOFF):
                notification.status = NotificationStatus.FAILED
            else:
                notification.next_attempt_at = now + timedelta(seconds=BACKOFF[notification.attempts - 1])
    if error is not None:
        if error.permanent and channel.enabled:
            channel.disable(str(error))
        logger.warning("notification %s to %s failed: %s", won, channel.name, error)
    Notification.objects.bulk_update(
        notifications, ["attempts", "duration_ms", "claimed_at", "status", "sent_at", "last_error", "next_attempt_at"]
    )
    return notifications[0].status


def deliver_due(limit: int = 500) -> int:
    """Send what is due; rows of one channel, kind and group key go out as one message."""
    rows = Notification.objects.filter(
        status=NotificationStatus.PENDING, claimed_at__isnull=True, next_attempt_at__lte=timezone.now()
    ).order_by("id")
    batches: dict[tuple[Any, ...], list[int]] = {}
    count = 0
    for pk, channel_id, kind, key in rows.values_list("id", "channel_id", "kind", "group_key")[:limit]:
        batches.setdefault((channel_id, kind, key) if key else (pk,), []).append(pk)
        count += 1
    for ids in batches.values():
        deliver_batch(ids)
    return count


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

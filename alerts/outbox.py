"""The notification outbox: queue rows, claim them atomically, deliver, record the outcome.

This is the one place that writes a Notification's outcome (attempts, last error, duration,
retry time) and disables a channel after a permanent error. Rows are claimed with a
conditional update under ``SKIP LOCKED``, so overlapping workers never send one twice.
Delivery starts through ``lib.tasks.enqueue_after_commit`` (by task name), so nothing here
or in the services imports ``alerts.tasks``.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from alerts.choices import AttemptOutcome, NotificationKind, NotificationStatus
from alerts.models import Alert, DeliveryAttempt, Notification, NotificationChannel
from alerts.notifiers import REGISTRY, Event, NotifierError
from alerts.schedule import DELIVER_DUE_TASK
from alerts.suppressions import Suppressions
from lib.tasks import enqueue_after_commit

logger = logging.getLogger(__name__)

# Retries: after 10 s, 1 min, 5 min — then the notification is given up.
BACKOFF = (10, 60, 300)
# Kinds that restart an alert's reminder clock. An escalation goes to other people: it does not.
RESTARTS_REMINDERS = (NotificationKind.FIRING, NotificationKind.REMINDER)


# Queueing ----------------------------------------------------------------------------------


def group_key(alert: Alert) -> str:
    """Due rows with the same channel, kind and key go out as one message."""
    rule = alert.rule
    if not rule.group_notifications:
        return ""
    values = [alert.labels.get(name, "") for name in rule.group_by or []]
    return f"rule:{rule.pk}:{orjson.dumps(values).decode()}"[:300]


def queue(
    alert: Alert,
    kind: str,
    suppressions: Suppressions | None = None,
    channels: list[NotificationChannel] | None = None,
    at: datetime | None = None,
) -> int:
    """One row per enabled channel (the rule's unless given), unless a silence or maintenance
    window holds the alert's notifications back; delivery starts after commit. A firing
    message or reminder restarts the alert's reminder clock at ``at`` (default now)."""
    if (suppressions or Suppressions()).match(alert.rule, alert.labels):
        return 0
    targets = [c for c in (alert.rule.channels.all() if channels is None else channels) if c.enabled]
    key = group_key(alert)
    Notification.objects.bulk_create([Notification(alert=alert, channel=c, kind=kind, group_key=key) for c in targets])
    if kind in RESTARTS_REMINDERS:
        alert.notified(at or timezone.now())
    if targets:
        enqueue_after_commit(DELIVER_DUE_TASK)
    return len(targets)


# Delivery ----------------------------------------------------------------------------------


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
    """Send the claimable rows of ``ids`` (one channel, one kind) as one message; returns the
    rows' status, or "taken" when another worker has them."""
    won = claim_batch(ids)
    if not won:
        return "taken"
    rows = Notification.objects.select_related("channel", "alert__rule").filter(pk__in=won)
    notifications = list(rows.order_by("id"))
    channel = notifications[0].channel
    # Recorded (committed) before the receiver is contacted: a crash mid-send leaves it open.
    attempts = DeliveryAttempt.objects.bulk_create(
        [DeliveryAttempt(notification=n, started_at=timezone.now()) for n in notifications]
    )
    started = time.perf_counter()
    error: NotifierError | None = None
    if not channel.enabled:
        error = NotifierError(f"channel disabled: {channel.disabled_reason}", permanent=True)
    else:
        try:
            REGISTRY[channel.kind](channel.config).notify(Event.for_notifications(notifications), notifications[0])
        except NotifierError as exc:
            error = exc
        except Exception as exc:  # a notifier bug is a failed attempt, never a lost row
            error = NotifierError(f"{type(exc).__name__}")
    _record(notifications, attempts, channel, error, (time.perf_counter() - started) * 1000, timezone.now())
    return notifications[0].status


def _record(
    notifications: list[Notification],
    attempts: list[DeliveryAttempt],
    channel: NotificationChannel,
    error: NotifierError | None,
    elapsed_ms: float,
    now: datetime,
) -> None:
    """The outcome of one attempt, on every row it carried: sent, retried later, or given up
    (and the channel disabled after a permanent error)."""
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
        logger.warning("notification %s to %s failed: %s", [n.pk for n in notifications], channel.name, error)
    Notification.objects.bulk_update(
        notifications, ["attempts", "duration_ms", "claimed_at", "status", "sent_at", "last_error", "next_attempt_at"]
    )
    DeliveryAttempt.objects.filter(pk__in=[a.pk for a in attempts]).update(
        finished_at=now,
        outcome=AttemptOutcome.SENT if error is None else AttemptOutcome.FAILED,
        error="" if error is None else str(error)[:500],
    )


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


# A claim outlives its send only when the worker died: the receiver had NOTIFY_TIMEOUT_SECONDS
# to answer, plus this much for the bookkeeping around it.
CLAIM_GRACE_SECONDS = 5.0


def claim_timeout_seconds() -> float:
    return settings.NOTIFY_TIMEOUT_SECONDS + CLAIM_GRACE_SECONDS


def release_stale_claims(older_than_seconds: float | None = None) -> int:
    """A worker that died while sending leaves a claim (and an open attempt) behind: mark the
    attempt interrupted and hand the row back, as soon as the receiver's own time limit has
    passed — the retry carries the same notification id, so the receiver can drop a copy."""
    limit = claim_timeout_seconds() if older_than_seconds is None else older_than_seconds
    now = timezone.now()
    cutoff = now - timedelta(seconds=limit)
    with transaction.atomic():
        stale = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(status=NotificationStatus.PENDING, claimed_at__lt=cutoff)
            .values_list("id", flat=True)
        )
        if not stale:
            return 0
        DeliveryAttempt.objects.filter(notification_id__in=stale, finished_at__isnull=True).update(
            finished_at=now,
            outcome=AttemptOutcome.INTERRUPTED,
            error="the worker stopped while the receiver was answering",
        )
        interrupted = "the worker stopped while sending; retried with the same notification id"
        return Notification.objects.filter(pk__in=stale).update(
            claimed_at=None, attempts=F("attempts") + 1, last_error=interrupted
        )

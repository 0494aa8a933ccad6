"""Checks: saving them with their alert rule, the scheduler's claim, recording results as
state + events + metrics, heartbeats, pause and resume.

The scheduler (checks.scheduler) only runs probes; everything that touches the database
goes through the functions here, in batches.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from alerts.models import AlertRule, NotificationChannel
from checks.choices import CheckKind, CheckState
from checks.models import Check, CheckEvent
from checks.probes import Result, Spec
from lib.realtime import broadcast
from monitoring import topics
from monitoring.store.writer import record_samples

logger = logging.getLogger(__name__)

CHECKS_TOPIC = topics.CHECKS
METRICS_TOPIC = topics.BASIC
LEASE_GRACE_SECONDS = 2
RULE_SUMMARY = "Check {{ labels.check }} is down"


# Saving a check and its alert rule -----------------------------------------------------------


def _rule_fields(check: Check, channels: Iterable[NotificationChannel]) -> dict[str, Any]:
    return {
        "name": f"check down: {check.name}"[: AlertRule._meta.get_field("name").max_length],
        "metric": "check_up",
        "labels": {"check": check.name},
        "aggregation": "last",
        # Long enough to always hold the latest result, whatever the phase.
        "window_seconds": min(86400, check.interval_seconds + check.timeout_seconds + 60),
        "comparator": "<",
        "critical_threshold": 1,
        "for_seconds": 0,
        "severity": "critical",
        "summary": RULE_SUMMARY,
        "channels": [c.pk for c in channels],
        "enabled": check.enabled,
    }


def sync_alert_rule(check: Check, channels: Iterable[NotificationChannel]) -> None:
    """The check's rule on ``check_up`` (down → fires, recovery → resolves), created through the
    alert rules' own validation; afterwards it is a rule like any other (its thresholds,
    severity, repeat and escalation may be edited); the check keeps its name, labels, window
    and channels in step."""
    fields = _rule_fields(check, channels)
    # Here, not at the top: DRF's serializers (~8 MB) are for saving, and the worker imports
    # this module only to record results.
    from alerts.api.serializers import AlertRuleSerializer

    rule = check.alert_rule
    if rule is None:
        serializer = AlertRuleSerializer(data=fields)
    else:
        keep = ("name", "labels", "window_seconds", "channels", "enabled")
        serializer = AlertRuleSerializer(rule, data={k: fields[k] for k in keep}, partial=True)
    serializer.is_valid(raise_exception=True)
    saved = serializer.save()
    if check.alert_rule_id != saved.pk:
        check.alert_rule = saved
        Check.objects.filter(pk=check.pk).update(alert_rule=saved)


@transaction.atomic
def save_check(check: Check, channels: list[NotificationChannel] | None, user: Any = None) -> Check:
    """Create or update a check (already validated by ``clean()``) and its alert rule."""
    now = timezone.now()
    creating = check.pk is None
    if creating:
        check.created_by = user if getattr(user, "is_authenticated", False) else None
        check.next_run_at = check.first_run_at(now)
        if not check.enabled:
            check.state = CheckState.PAUSED
    else:
        before = Check.objects.get(pk=check.pk)
        if before.enabled != check.enabled:
            check.enabled = before.enabled
            event = check.resume(now) if not before.enabled else check.pause(now)
            if event:
                event.save()
    check.save()
    if channels is not None:
        check.channels.set(channels)
    sync_alert_rule(check, check.channels.all())
    transaction.on_commit(lambda: publish(check))
    return check


@transaction.atomic
def set_paused(check: Check, paused: bool) -> Check:
    check = Check.objects.select_for_update().get(pk=check.pk)
    now = timezone.now()
    event = check.pause(now) if paused else check.resume(now)
    check.save()
    if event:
        event.save()
    if check.alert_rule_id:
        check.alert_rule.enabled = not paused
        check.alert_rule.save(update_fields=["enabled"])
    transaction.on_commit(lambda: publish(check))
    return check


def delete_check(check: Check) -> None:
    with transaction.atomic():
        if check.alert_rule_id:
            check.alert_rule.delete()
        check.delete()


# The scheduler's side of the database --------------------------------------------------------


def claim_due(worker: str, now: datetime, limit: int = 1000) -> list[tuple[Spec, dict[str, Any]]]:
    """Lease the probed checks due by ``now`` to ``worker``. A lease lasts the check's timeout
    plus a little, so a check whose worker died is due again for any worker well within one
    interval (timeout ≤ interval)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE checks_check AS c
               SET lease_until = %(now)s + make_interval(secs => c.timeout_seconds + %(grace)s),
                   leased_by = %(worker)s
             WHERE c.id IN (
                   SELECT id FROM checks_check
                    WHERE enabled AND kind <> 'heartbeat' AND next_run_at <= %(now)s
                      AND (lease_until IS NULL OR lease_until < %(now)s)
                    ORDER BY next_run_at
                    LIMIT %(limit)s
                    FOR UPDATE SKIP LOCKED)
            RETURNING c.id, c.kind, c.target, c.timeout_seconds, c.expect, c.request
            """,
            {"now": now, "grace": LEASE_GRACE_SECONDS, "worker": worker, "limit": limit},
        )
        rows = cursor.fetchall()
    out = []
    for pk, kind, target, timeout, expect, request in rows:
        expect = expect if isinstance(expect, dict) else {}
        request = request if isinstance(request, dict) else {}
        out.append((Spec(pk, kind, target, float(timeout), expect), request))
    return out


def _metric_rows(check: Check, result: Result, ts: float) -> list[tuple[str, dict[str, str], float, float]]:
    labels = check.labels
    rows: list[tuple[str, dict[str, str], float, float]] = []
    if check.state in (CheckState.UP, CheckState.DEGRADED, CheckState.DOWN):
        rows.append(("check_up", labels, ts, 1.0 if check.serving else 0.0))
    for name, value in (
        ("check_duration_seconds", result.duration),
        ("check_status_code", result.status_code),
        ("check_tls_expiry_seconds", result.tls_expiry_seconds),
        ("check_ping_loss_ratio", result.ping_loss_ratio),
        ("check_ping_rtt_seconds", result.ping_rtt_seconds),
    ):
        if value is not None:
            rows.append((name, labels, ts, float(value)))
    return rows


def record_results(
    results: list[tuple[int, Result, datetime]], worker: str = "", now: datetime | None = None
) -> list[CheckEvent]:
    """Store a batch of finished attempts: each check's state (its ``apply_result``), its next
    slot, the state changes as events and every result as metrics — a few statements per
    batch, whatever its size. Results for a lease another worker took over are dropped."""
    if not results:
        return []
    now = now or timezone.now()
    events: list[CheckEvent] = []
    changed: list[Check] = []
    rows: list[tuple[str, dict[str, str], float, float]] = []
    with transaction.atomic():
        checks = Check.objects.select_for_update().in_bulk([pk for pk, _, _ in results])
        for pk, result, at in results:
            check = checks.get(pk)
            if check is None or (worker and check.leased_by and check.leased_by != worker):
                continue
            event = check.apply_result(result, at)
            if check.kind != CheckKind.HEARTBEAT:
                check.schedule_next(now)
            if event:
                events.append(event)
            changed.append(check)
            rows.extend(_metric_rows(check, result, at.timestamp()))
        Check.objects.bulk_update(
            changed,
            [
                "state",
                "since",
                "failures",
                "last_result",
                "last_run_at",
                "recent",
                "next_run_at",
                "lease_until",
                "leased_by",
                "last_ping_at",
                "deadline_at",
            ],
        )
        CheckEvent.objects.bulk_create(events)
        if rows:
            record_samples(rows, METRICS_TOPIC)
        moved = {e.owner_id for e in events}
        transaction.on_commit(lambda: _after_results(changed, moved))
    return events


def _after_results(checks: list[Check], moved: set[int]) -> None:
    from checks.statuspage import forget_pages_of  # statuspage reads checks.services' model helpers

    for check in checks:
        publish(check)
    if moved:
        forget_pages_of(moved)


def publish(check: Check) -> None:
    """One frame on the ``checks`` topic per result (the list and check pages follow it)."""
    try:
        broadcast(
            CHECKS_TOPIC,
            {
                "check": check.pk,
                "name": check.name,
                "state": check.state,
                "since": check.since.isoformat(),
                "last_result": check.last_result,
            },
        )
    except Exception as exc:  # the stream is best effort; the row is the record
        logger.warning("publishing check %s failed: %s", check.pk, exc)


# Heartbeats ------------------------------------------------------------------------------------


def receive_ping(token: str, failed: bool = False, note: str = "") -> Check | None:
    """``/ping/<uuid>`` and ``…/fail``: None for an unknown token."""
    now = timezone.now()
    with transaction.atomic():
        check = Check.objects.select_for_update().filter(token=token, kind=CheckKind.HEARTBEAT).first()
        if check is None:
            return None
        if not check.enabled:
            check.last_ping_at = now
            check.save(update_fields=["last_ping_at"])
            return check
        event = check.receive_ping(now, failed, note)
        _save_heartbeat(check, event, now)
    return check


def _save_heartbeat(check: Check, event: CheckEvent | None, now: datetime) -> None:
    check.save(
        update_fields=["state", "since", "failures", "last_result", "last_run_at", "last_ping_at", "deadline_at"]
    )
    if event:
        event.save()
    record_samples(_metric_rows(check, Result(True), now.timestamp()), METRICS_TOPIC)
    transaction.on_commit(lambda: _after_results([check], {check.pk} if event else set()))


def sweep_heartbeats(now: datetime | None = None) -> int:
    """Mark down the heartbeats whose period + grace passed without a ping."""
    now = now or timezone.now()
    missed = 0
    with transaction.atomic():
        late = Check.objects.select_for_update(skip_locked=True).filter(
            kind=CheckKind.HEARTBEAT, enabled=True, deadline_at__lt=now
        )
        for check in late:
            event = check.miss_heartbeat(now)
            _save_heartbeat(check, event, now)
            missed += 1
    return missed


def recent_events(check: Check, limit: int = 50) -> list[CheckEvent]:
    return list(check.events.order_by("-at", "-id")[:limit])

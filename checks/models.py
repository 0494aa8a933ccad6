"""Availability checks, their state changes, status pages and the weekly digest."""

from __future__ import annotations

import random
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from alerts.models import AlertRule, NotificationChannel
from checks.choices import (
    MAX_INTERVAL_SECONDS,
    MAX_RETRIES,
    MAX_TIMEOUT_SECONDS,
    MIN_INTERVAL_SECONDS,
    RECENT_RESULTS,
    SERVING_STATES,
    CheckKind,
    CheckState,
)
from checks.probes import PROBES, ProbeConfigError, Result, Spec
from checks.probes.base import check_target
from lib.text import valid_name, valid_text

SECRET_HEADER = re.compile(r"authorization|cookie|token|secret|key|password", re.I)
MASK = "•••"
# What a user sets on a check, in the order the form and the API show it.
EDITABLE_FIELDS = (
    "name",
    "kind",
    "target",
    "interval_seconds",
    "timeout_seconds",
    "retries",
    "expect",
    "request",
    "degraded_ms",
    "grace_seconds",
    "sla_target",
    "group",
    "channels",
    "enabled",
)


def mask_headers(headers: dict[str, str]) -> dict[str, str]:
    """Header values that look like credentials, shown as ``•••last4`` only."""
    return {
        k: (MASK + v[-4:] if len(v) > 8 else MASK) if SECRET_HEADER.search(k) and v else v for k, v in headers.items()
    }


class Check(models.Model):
    """One thing watched from outside: a URL, a port, a record, a certificate, a host, or a
    job that must call in (heartbeat). Its results are metrics labelled ``check`` and ``kind``."""

    name = models.CharField(
        max_length=200,
        unique=True,
        validators=[valid_name],  # one line: it names the check's alert rule and is its metrics' label
        help_text="Shown everywhere; the `check` label of its metrics.",
    )
    kind = models.CharField(max_length=10, choices=CheckKind.choices)
    target = models.CharField(
        max_length=2000,
        blank=True,
        help_text="http: a URL · tcp: host:port · dns: the name to look up · tls: host[:port] · "
        "ping: a host · heartbeat: empty.",
    )
    interval_seconds = models.PositiveIntegerField(
        default=60, help_text="How often it runs (heartbeat: the job's period)."
    )
    timeout_seconds = models.PositiveIntegerField(default=10, help_text="An attempt taking longer fails.")
    retries = models.PositiveSmallIntegerField(
        default=1, help_text="Consecutive failed attempts before the check is down (1: the first failure)."
    )
    expect = models.JSONField(
        default=dict,
        blank=True,
        help_text='What a good answer is. http: {"status": [200], "keyword": "ok", "json": {"path": "$.status", '
        '"equals": "green"}} · tcp: {"banner": "SSH-"} · dns: {"type": "A", "contains": "…", "resolver": "ip:port"} · '
        'tls: {"min_days_left": 14} · ping: {"count": 3, "max_loss_ratio": 0.5}.',
    )
    request = models.JSONField(
        default=dict,
        blank=True,
        help_text='http only: {"method": "GET", "headers": {…}, "body": "…", "follow_redirects": true, '
        '"verify_tls": true}.',
    )
    degraded_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="A successful answer slower than this counts as degraded (empty: never)."
    )
    grace_seconds = models.PositiveIntegerField(
        default=60, help_text="heartbeat: how late a ping may be before the check is down."
    )
    sla_target = models.FloatField(default=99.9, help_text="Monthly uptime target in percent (for the SLA report).")
    group = models.CharField(max_length=100, blank=True, validators=[valid_text], help_text="Groups checks in reports.")
    channels = models.ManyToManyField(
        NotificationChannel, blank=True, related_name="checks", help_text="Notified when it goes down and recovers."
    )
    alert_rule = models.OneToOneField(
        AlertRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="availability_check"
    )
    enabled = models.BooleanField(default=True, help_text="Off: paused, not run, not counted in uptime.")
    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)

    state = models.CharField(max_length=10, choices=CheckState.choices, default=CheckState.UNKNOWN)
    since = models.DateTimeField(default=timezone.now)
    failures = models.PositiveIntegerField(default=0, help_text="Consecutive failed attempts.")
    last_result = models.JSONField(default=dict, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    recent = models.JSONField(default=list, blank=True, help_text="[epoch, ms] of the last results (sparkline).")
    next_run_at = models.DateTimeField(default=timezone.now)
    lease_until = models.DateTimeField(null=True, blank=True)
    leased_by = models.CharField(max_length=100, blank=True)
    last_ping_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        indexes = [
            # The scheduler's claim: enabled probed checks whose next run is due.
            models.Index(
                fields=["next_run_at"],
                name="check_due_idx",
                condition=Q(enabled=True) & ~Q(kind="heartbeat"),
            ),
            # The heartbeat sweep: enabled heartbeats whose deadline has passed.
            models.Index(
                fields=["deadline_at"], name="check_heartbeat_deadline_idx", condition=Q(kind="heartbeat", enabled=True)
            ),
        ]

    def __str__(self) -> str:
        return self.name

    # Validation (admin, form and serializer all call clean()) ---------------------------------

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.kind not in CheckKind.values:
            errors["kind"] = f"unknown kind {self.kind!r} (one of {', '.join(CheckKind.values)})"
        if not MIN_INTERVAL_SECONDS <= (self.interval_seconds or 0) <= MAX_INTERVAL_SECONDS:
            errors["interval_seconds"] = f"between {MIN_INTERVAL_SECONDS} and {MAX_INTERVAL_SECONDS} seconds"
        if not 1 <= (self.timeout_seconds or 0) <= MAX_TIMEOUT_SECONDS:
            errors["timeout_seconds"] = f"between 1 and {MAX_TIMEOUT_SECONDS} seconds"
        elif (
            "interval_seconds" not in errors
            and self.timeout_seconds > self.interval_seconds
            and self.kind != CheckKind.HEARTBEAT
        ):
            errors["timeout_seconds"] = "must not exceed the interval (an attempt ends before the next one starts)"
        if not 1 <= (self.retries or 0) <= MAX_RETRIES:
            errors["retries"] = f"between 1 and {MAX_RETRIES}"
        if not 0 < (self.sla_target if self.sla_target is not None else -1) <= 100:
            errors["sla_target"] = "a percentage above 0 and at most 100, e.g. 99.9"
        for name in ("expect", "request"):
            if not isinstance(getattr(self, name), dict):
                errors[name] = "must be an object"
        if "kind" not in errors and not {"expect", "request"} & set(errors):
            if self.kind != CheckKind.HTTP and self.request:
                errors["request"] = "only http checks take request settings"
            else:
                try:
                    check_target(self.kind, self.target or "")
                    PROBES[self.kind].validate(self.target or "", self.expect, self.request)
                except ProbeConfigError as exc:
                    errors[exc.field.split(".")[0]] = exc.message
        if errors:
            raise ValidationError(errors)

    # What the probes and the metrics see -------------------------------------------------------

    @property
    def labels(self) -> dict[str, str]:
        return {"check": self.name, "kind": self.kind}

    @property
    def ping_path(self) -> str:
        return f"/ping/{self.token}"

    def spec(self) -> Spec:
        return Spec(self.pk, self.kind, self.target, float(self.timeout_seconds), dict(self.expect))

    def masked_request(self) -> dict[str, Any]:
        if not self.request.get("headers"):
            return dict(self.request)
        return {**self.request, "headers": mask_headers(self.request["headers"])}

    def first_run_at(self, now: datetime) -> datetime:
        """Spread checks over their interval: each starts at a random point of its first one."""
        return now + timedelta(seconds=random.uniform(0, min(self.interval_seconds, 60)))

    # Lifecycle -----------------------------------------------------------------------------------

    def _move(self, state: str, at: datetime, reason: str) -> CheckEvent | None:
        if state == self.state:
            return None
        event = CheckEvent(owner=self, at=at, from_state=self.state, to_state=state, reason=reason[:500])
        self.state = state
        self.since = at
        return event

    def apply_result(self, result: Result, at: datetime) -> CheckEvent | None:
        """Record one attempt: up (or degraded when slow) on the first success, down after
        ``retries`` consecutive failures, unknown when the probe cannot run here. Returns the
        (unsaved) event when the state changed; the caller saves both."""
        record = result.as_dict()
        record["at"] = at.isoformat()
        if result.duration is not None:
            record["duration_ms"] = round(result.duration * 1000, 2)
            record.pop("duration", None)
            self.recent = [*self.recent[-(RECENT_RESULTS - 1) :], [round(at.timestamp()), record["duration_ms"]]]
        self.last_result = record
        self.last_run_at = at
        if not self.enabled:
            return None
        if result.unavailable:
            self.failures = 0
            return self._move(CheckState.UNKNOWN, at, result.reason)
        if result.ok:
            self.failures = 0
            slow = (
                self.degraded_ms is not None
                and result.duration is not None
                and result.duration * 1000 > self.degraded_ms
            )
            if slow:
                return self._move(
                    CheckState.DEGRADED, at, f"slow: {result.duration * 1000:.0f} ms > {self.degraded_ms} ms"
                )
            return self._move(CheckState.UP, at, result.reason)
        self.failures += 1
        needed = 1 if self.kind == CheckKind.HEARTBEAT else self.retries
        if self.failures >= needed:
            return self._move(CheckState.DOWN, at, result.reason)
        return None

    def pause(self, at: datetime) -> CheckEvent | None:
        self.enabled = False
        self.lease_until = None
        return self._move(CheckState.PAUSED, at, "paused")

    def resume(self, at: datetime) -> CheckEvent | None:
        self.enabled = True
        self.failures = 0
        self.next_run_at = self.first_run_at(at)
        if self.kind == CheckKind.HEARTBEAT and self.last_ping_at:
            self.deadline_at = at + timedelta(seconds=self.interval_seconds + self.grace_seconds)
        return self._move(CheckState.UNKNOWN, at, "resumed")

    def receive_ping(self, at: datetime, failed: bool = False, note: str = "") -> CheckEvent | None:
        """A heartbeat arrived (or the job reported a failure through ``…/fail``)."""
        self.last_ping_at = at
        self.deadline_at = at + timedelta(seconds=self.interval_seconds + self.grace_seconds)
        if failed:
            reason = "the job reported a failure" + (f": {note}" if note else "")
            return self.apply_result(Result(False, reason), at)
        return self.apply_result(Result(True, "ping received"), at)

    def miss_heartbeat(self, at: datetime) -> CheckEvent | None:
        """No ping within period + grace."""
        self.deadline_at = None  # one miss, one failure; the next ping sets a new deadline
        late = self.interval_seconds + self.grace_seconds
        return self.apply_result(
            Result(False, f"no ping within {late} s (period {self.interval_seconds} s + grace {self.grace_seconds} s)"),
            at,
        )

    def schedule_next(self, now: datetime) -> None:
        """Keep the check's phase: the next slot of its cadence after ``now``."""
        step = timedelta(seconds=self.interval_seconds)
        nxt = self.next_run_at + step
        if nxt <= now:
            behind = (now - nxt) // step + 1
            nxt += step * behind
        self.next_run_at = nxt
        self.lease_until = None
        self.leased_by = ""

    @property
    def serving(self) -> bool:
        return self.state in SERVING_STATES


class CheckEvent(models.Model):
    """A change of a check's state and why (status code, timeout, TLS error, keyword missing…)."""

    owner = models.ForeignKey(Check, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    from_state = models.CharField(max_length=10, choices=CheckState.choices)
    to_state = models.CharField(max_length=10, choices=CheckState.choices)
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            # Uptime, incidents and the check page read one check's events over a range.
            models.Index(fields=["owner", "at"], name="checkevent_owner_at_idx"),
            # Status pages, digests and the SLA report read every check's events over a range.
            models.Index(fields=["at"], name="checkevent_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.owner_id}: {self.from_state} → {self.to_state} at {self.at:%Y-%m-%d %H:%M:%S}"


class StatusPage(models.Model):
    """A public page an admin publishes at ``/status/<slug>/``: only the checks chosen for it,
    by name and state — never targets, labels or anything else."""

    slug = models.SlugField(max_length=100, unique=True)
    title = models.CharField(max_length=200, validators=[valid_text])
    description = models.TextField(blank=True, help_text="Shown under the title (plain text).")
    published = models.BooleanField(default=False, help_text="Off: the page answers 404 to everyone.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return f"/status/{self.slug}/"


class StatusPageGroup(models.Model):
    page = models.ForeignKey(StatusPage, on_delete=models.CASCADE, related_name="groups")
    name = models.CharField(max_length=200, validators=[valid_text])
    position = models.PositiveSmallIntegerField(default=0)
    checks = models.ManyToManyField(Check, blank=True, related_name="status_groups")

    class Meta:
        ordering = ["page", "position", "id"]

    def __str__(self) -> str:
        return f"{self.page.slug}: {self.name}"


class WeeklyDigest(models.Model):
    """A weekly email (Mondays) of incidents, SLA standing and the noisiest alert rules."""

    name = models.CharField(max_length=200, unique=True, validators=[valid_text])
    channels = models.ManyToManyField(
        NotificationChannel, related_name="digests", help_text="Email channels it goes to."
    )
    enabled = models.BooleanField(default=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

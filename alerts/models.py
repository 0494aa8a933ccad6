from __future__ import annotations

import operator
import uuid
from collections.abc import Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from alerts.choices import (
    AlertState,
    AttemptOutcome,
    ChannelKind,
    Comparator,
    Direction,
    Match,
    NoData,
    NotificationKind,
    NotificationStatus,
    RuleKind,
    Severity,
)
from lib.crypto import EncryptedJSONField
from lib.text import valid_name, valid_text
from monitoring.choices import Aggregation
from monitoring.rules import LABEL_RE

COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
SECRET_FIELDS = ("webhook_url", "secret", "url", "password")


class InvalidTransitionError(ValueError):
    """The alert is not in a state this change applies to (the message is user-facing)."""


class NotificationChannel(models.Model):
    """Where notifications go: ``config`` holds the kind's settings (secrets included)."""

    name = models.CharField(max_length=100, unique=True, validators=[valid_name])
    kind = models.CharField(max_length=20, choices=ChannelKind.choices)
    config = EncryptedJSONField(default=dict)  # holds webhook URLs, HMAC secrets, Apprise tokens
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    def masked_config(self) -> dict[str, object]:
        """The config with secrets shown as ``…last4`` only."""
        masked: dict[str, object] = {}
        for key, value in self.config.items():
            if key in SECRET_FIELDS and isinstance(value, str) and value:
                masked[key] = "•••" + value[-4:] if len(value) > 8 else "•••"
            else:
                masked[key] = value
        return masked

    def disable(self, reason: str) -> None:
        self.enabled = False
        self.disabled_reason = reason[:300]
        self.save(update_fields=["enabled", "disabled_reason"])


MAX_MATCHERS = 20
MAX_MATCHER_VALUE = 200
# The longest silence an editor may set; longer ones, and matcher-less ones, are the admins'.
EDITOR_SILENCE_MAX = timedelta(hours=24)
# How a rule notifies: the API's fields and the admin's "Notifications" section.
NOTIFICATION_FIELDS = (
    "channels",
    "repeat_interval_minutes",
    "escalate_after_minutes",
    "escalation_channels",
    "ack_expiry_minutes",
    "group_notifications",
    "group_by",
)


def validate_matchers(matchers: object, match_all: bool) -> None:
    """Silences and maintenance windows match nothing by accident: at least one matcher, or an
    explicit ``match_all`` (as Alertmanager refuses matcher-less silences). Raises ValidationError."""
    if not isinstance(matchers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in matchers.items()
    ):
        raise ValidationError({"matchers": "An object of label name → value."})
    if match_all and matchers:
        raise ValidationError({"match_all": "Either matchers or match_all, not both."})
    if not match_all and not matchers:
        raise ValidationError({"matchers": 'At least one matcher; to match every alert say "match_all": true.'})
    if len(matchers) > MAX_MATCHERS:
        raise ValidationError({"matchers": f"At most {MAX_MATCHERS} matchers."})
    for key, value in matchers.items():
        if key != "alertname" and not LABEL_RE.match(key):
            raise ValidationError({"matchers": f"{key!r} is not a label name."})
        if not value or len(value) > MAX_MATCHER_VALUE:
            raise ValidationError({"matchers": f"{key}: a value of 1 to {MAX_MATCHER_VALUE} characters."})
        try:
            valid_name(value)
        except ValidationError as exc:
            raise ValidationError({"matchers": f"{key}: {exc.messages[0]}"}) from None


def matches(matchers: dict[str, str], rule_name: str, labels: dict[str, str], match_all: bool = False) -> bool:
    """Silence and maintenance-window matchers: every pair must match; `alertname` is the rule.
    No matchers match nothing unless ``match_all`` says everything."""
    if not matchers:
        return match_all
    for key, value in matchers.items():
        actual = rule_name if key == "alertname" else labels.get(key)
        if actual != value:
            return False
    return True


class AlertRule(models.Model):
    """A metric's series aggregated over a window, judged against thresholds or a learned
    baseline (plus optional extra conditions); one alert per series."""

    name = models.CharField(max_length=200, validators=[valid_name])
    kind = models.CharField(max_length=10, choices=RuleKind.choices, default=RuleKind.THRESHOLD)
    metric = models.CharField(max_length=200)
    labels = models.JSONField(default=dict, blank=True, help_text='Label matchers, e.g. {"host": "web-1"}')
    aggregation = models.CharField(max_length=10, choices=Aggregation.choices, default=Aggregation.LAST)
    window_seconds = models.PositiveIntegerField(default=60)
    comparator = models.CharField(max_length=2, choices=Comparator.choices, default=Comparator.GT)
    critical_threshold = models.FloatField(null=True, blank=True, help_text="Required for threshold rules.")
    warning_threshold = models.FloatField(null=True, blank=True)
    recovery_threshold = models.FloatField(
        null=True, blank=True, help_text="Hysteresis: resolve only once the value is back past this."
    )
    keep_firing_for_seconds = models.PositiveIntegerField(
        default=0, help_text="Once firing, stay firing this long after the value recovers (no flapping)."
    )
    for_seconds = models.PositiveIntegerField(default=0, help_text="Pending this long before firing.")
    no_data = models.CharField(max_length=10, choices=NoData.choices, default=NoData.KEEP)
    match = models.CharField(
        max_length=3,
        choices=Match.choices,
        default=Match.ALL,
        help_text="How extra conditions combine with the main one: all must hold, or any one fires.",
    )
    anomaly_sensitivity = models.FloatField(
        default=3.0, help_text="Anomaly rules: fire when the value is this many deviations from the baseline."
    )
    anomaly_direction = models.CharField(max_length=5, choices=Direction.choices, default=Direction.BOTH)
    anomaly_history_days = models.PositiveSmallIntegerField(
        default=14, help_text="Anomaly rules: days of history the baseline learns from (recent days weigh more)."
    )
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.CRITICAL)
    summary = models.CharField(
        max_length=300, blank=True, default="{{ rule }}: {{ metric }} is {{ value }} on {{ labels }}"
    )
    runbook_url = models.URLField(blank=True)
    channels = models.ManyToManyField(NotificationChannel, blank=True, related_name="rules")
    repeat_interval_minutes = models.PositiveIntegerField(
        default=0, help_text="Remind every this many minutes while firing and unacknowledged (0: never)."
    )
    escalate_after_minutes = models.PositiveIntegerField(
        default=0, help_text="Notify the escalation channels after this long unacknowledged (0: never)."
    )
    escalation_channels = models.ManyToManyField(NotificationChannel, blank=True, related_name="escalating_rules")
    ack_expiry_minutes = models.PositiveIntegerField(
        default=0, help_text="An acknowledgement lapses after this long if the alert still fires (0: never)."
    )
    group_notifications = models.BooleanField(
        default=True, help_text="Alerts of this rule that fire together go out as one message per channel."
    )
    group_by = models.JSONField(
        default=list, blank=True, help_text='Label names that split groups, e.g. ["cluster"]; empty: one group.'
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        indexes = [
            # Ingest looks up the enabled rules watching the metrics in a batch.
            models.Index(fields=["metric", "enabled"], name="alertrule_metric_enabled_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.kind == RuleKind.THRESHOLD and self.critical_threshold is None:
            raise ValidationError({"critical_threshold": "Threshold rules need a critical threshold."})
        if not isinstance(self.group_by, list) or not all(
            isinstance(k, str) and LABEL_RE.match(k) for k in self.group_by
        ):
            raise ValidationError({"group_by": "A list of label names."})
        if self.anomaly_sensitivity <= 0:
            raise ValidationError({"anomaly_sensitivity": "Must be above 0."})

    def breach(self, value: float | None) -> str | None:
        """The severity ``value`` breaches, if any."""
        if value is None or self.critical_threshold is None:
            return None
        compare = COMPARE[self.comparator]
        if compare(value, self.critical_threshold):
            return Severity.CRITICAL
        if self.warning_threshold is not None and compare(value, self.warning_threshold):
            return Severity.WARNING
        return None

    def recovered(self, value: float) -> bool:
        """Past the recovery threshold (or simply not breaching when none is set)."""
        threshold = self.recovery_threshold
        if threshold is None:
            return self.breach(value) is None
        return not COMPARE[self.comparator](value, threshold)


class AlertCondition(models.Model):
    """An extra condition of a rule, on any metric. It holds for a series of the rule when a
    series of its own metric that agrees on their shared labels passes its threshold."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="conditions")
    metric = models.CharField(max_length=200)
    labels = models.JSONField(default=dict, blank=True)
    aggregation = models.CharField(max_length=10, choices=Aggregation.choices, default=Aggregation.LAST)
    window_seconds = models.PositiveIntegerField(default=60)
    comparator = models.CharField(max_length=2, choices=Comparator.choices, default=Comparator.GT)
    threshold = models.FloatField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.aggregation}({self.metric}) {self.comparator} {self.threshold:g}"

    def holds(self, value: float | None) -> bool:
        return value is not None and COMPARE[self.comparator](value, self.threshold)


class Alert(models.Model):
    """One rule and one series: its current state and when it got there."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    labels = models.JSONField(default=dict)
    labels_key = models.TextField()
    state = models.CharField(max_length=20, choices=AlertState.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    value = models.FloatField(null=True)
    summary = models.CharField(max_length=500, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    fired_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ack_expires_at = models.DateTimeField(null=True, blank=True)
    last_notified_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    clear_since = models.DateTimeField(null=True, blank=True, help_text="Recovered but kept firing since.")
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            # Evaluation finds a rule's open alert per series; the active list filters by state.
            models.Index(fields=["rule", "labels_key", "state"], name="alert_rule_series_state_idx"),
            models.Index(fields=["state", "-started_at"], name="alert_state_started_idx"),
        ]
        constraints = [
            # One open alert per rule and series, whatever evaluations race.
            models.UniqueConstraint(
                fields=["rule", "labels_key"], condition=~Q(state="resolved"), name="alert_one_open_per_series"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule.name} {self.labels} [{self.state}]"

    # The state machine. Every transition saves the alert and returns the AlertEvent it
    # wrote; alerts.lifecycle and alerts.services decide when, and what follows (stream
    # frames, notifications).
    #
    #   start → pending ─fire→ firing ─acknowledge→ acknowledged ─reopen→ firing
    #              └──────────────┴───────────────────┴─resolve→ resolved

    @classmethod
    def start(
        cls, rule: AlertRule, labels: dict[str, str], labels_key: str, severity: str, value: float | None, at: datetime
    ) -> Alert:
        """A series began to breach: a new pending alert (its event recorded)."""
        alert = cls.objects.create(
            rule=rule,
            labels=labels,
            labels_key=labels_key,
            state=AlertState.PENDING,
            severity=severity,
            value=value,
            started_at=at,
        )
        alert._record()
        return alert

    @property
    def is_open(self) -> bool:
        """Not resolved yet: people may still acknowledge or resolve it."""
        return self.state != AlertState.RESOLVED

    @property
    def is_firing(self) -> bool:
        """Firing as far as people were told (acknowledged alerts still fire)."""
        return self.state in (AlertState.FIRING, AlertState.ACKNOWLEDGED)

    def breaching(self, severity: str, value: float | None, summary: str, at: datetime) -> AlertEvent | None:
        """Still (or again) past a threshold: keeps the latest level, value and summary, and
        fires a pending alert once the rule's ``for_seconds`` have passed (the firing event)."""
        self.severity, self.value, self.summary, self.clear_since = severity, value, summary, None
        if self.state == AlertState.PENDING and (at - self.started_at).total_seconds() >= self.rule.for_seconds:
            return self.fire(at)
        self.save()
        return None

    def fire(self, at: datetime) -> AlertEvent:
        if self.state != AlertState.PENDING:
            raise InvalidTransitionError(f"a {self.state} alert cannot fire")
        self.state, self.fired_at = AlertState.FIRING, at
        self.save()
        return self._record()

    def recovered(self, value: float | None, at: datetime) -> AlertEvent | None:
        """The value is back: resolves (the event), unless the rule keeps a firing alert
        firing a while after recovery (``keep_firing_for_seconds``: None until then)."""
        keep = self.rule.keep_firing_for_seconds
        if self.is_firing and keep:
            self.clear_since = self.clear_since or at
            if (at - self.clear_since).total_seconds() < keep:
                self.value = value
                self.save(update_fields=["value", "clear_since"])
                return None
        self.value = value
        return self.resolve(at)

    def resolve(self, at: datetime, actor: str = "system", comment: str = "") -> AlertEvent:
        """Over: recovered, or closed by someone."""
        if self.state == AlertState.RESOLVED:
            raise InvalidTransitionError("the alert is already resolved")
        self.state, self.resolved_at = AlertState.RESOLVED, at
        self.save()
        return self._record(actor=actor, comment=comment)

    def acknowledge(
        self, by: AbstractBaseUser, at: datetime, comment: str = "", expires_in_minutes: int | None = None
    ) -> AlertEvent:
        """Someone is on it: stops reminders and escalation until the alert resolves or the
        acknowledgement lapses (``expires_in_minutes``, else the rule's ``ack_expiry_minutes``;
        0: never)."""
        if self.state not in (AlertState.FIRING, AlertState.PENDING):
            raise InvalidTransitionError(f"a {self.state} alert cannot be acknowledged")
        minutes = self.rule.ack_expiry_minutes if expires_in_minutes is None else expires_in_minutes
        self.state, self.acknowledged_at, self.acknowledged_by = AlertState.ACKNOWLEDGED, at, by
        self.ack_expires_at = at + timedelta(minutes=minutes) if minutes else None
        note = f"{comment} (until {self.ack_expires_at:%Y-%m-%d %H:%M} UTC)" if minutes else comment
        self.save()
        return self._record(actor=by.get_username(), comment=note.strip()[:500])

    def reopen(self, comment: str = "acknowledgement expired") -> AlertEvent | None:
        """An acknowledgement lapsed while the alert still fires: firing again. The
        conditional update is the claim — None when an overlapping sweep got there first."""
        claimed = Alert.objects.filter(pk=self.pk, state=AlertState.ACKNOWLEDGED).update(
            state=AlertState.FIRING, ack_expires_at=None, acknowledged_at=None, acknowledged_by=None
        )
        if not claimed:
            return None
        self.state = AlertState.FIRING
        self.ack_expires_at = self.acknowledged_at = self.acknowledged_by = None
        return self._record(comment=comment)

    def claim_reminder(self, at: datetime) -> bool:
        """Take the due reminder (overlapping sweeps remind once): restarts the reminder clock."""
        claimed = Alert.objects.filter(pk=self.pk, last_notified_at=self.last_notified_at).update(last_notified_at=at)
        if claimed:
            self.last_notified_at = at
        return bool(claimed)

    def escalate(self, at: datetime, to: str) -> AlertEvent | None:
        """Unacknowledged too long: handed to the escalation channels (named in ``to``), once."""
        if not Alert.objects.filter(pk=self.pk, escalated_at__isnull=True).update(escalated_at=at):
            return None
        self.escalated_at = at
        return self._record(comment=f"escalated to {to}")

    def notified(self, at: datetime) -> None:
        """A firing message or reminder was queued: the reminder clock starts again."""
        if self.last_notified_at == at:
            return  # the reminder's claim already set it
        self.last_notified_at = at
        Alert.objects.filter(pk=self.pk).update(last_notified_at=at)

    def _record(self, actor: str = "system", comment: str = "") -> AlertEvent:
        return AlertEvent.objects.create(alert=self, state=self.state, value=self.value, actor=actor, comment=comment)


class AlertEvent(models.Model):
    """Every transition, with the value at the time and who did it."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=20, choices=AlertState.choices)
    value = models.FloatField(null=True)
    actor = models.CharField(max_length=150, default="system")
    comment = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.alert_id} → {self.state} at {self.at:%Y-%m-%d %H:%M:%S}"


class Notification(models.Model):
    """The outbox: one row per delivery to one channel, claimed atomically by one worker."""

    alert = models.ForeignKey(Alert, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications")
    channel = models.ForeignKey(NotificationChannel, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=10, choices=NotificationKind.choices)
    status = models.CharField(max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    group_key = models.CharField(
        max_length=300, blank=True, help_text="Due rows with the same channel, kind and key go out as one message."
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The delivery sweep picks pending rows whose next attempt is due.
            models.Index(fields=["status", "next_attempt_at"], name="notification_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.channel.name} [{self.status}]"

    @property
    def notification_id(self) -> str:
        """What a receiver deduplicates on: the same on every attempt of this row, different
        for every row and every installation (its public URL)."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{settings.SEISMO_PUBLIC_URL}/notifications/{self.pk}"))


class DeliveryAttempt(models.Model):
    """One try at handing a notification to its receiver: when it started and ended, and how
    it went. Written by alerts.outbox before the receiver is contacted, so an attempt a crash
    interrupted stays visible (a second delivery shows as a second attempt)."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="delivery_attempts")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=12, choices=AttemptOutcome.choices, default=AttemptOutcome.SENDING)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["started_at"]

    def __str__(self) -> str:
        return f"attempt on {self.notification_id} at {self.started_at:%H:%M:%S} [{self.outcome}]"


class Silence(models.Model):
    """Suppresses notifications (not history) for alerts whose labels match, for a while."""

    matchers = models.JSONField(
        default=dict,
        blank=True,
        help_text='Labels that must all match, e.g. {"host": "web-1"}; the key \'alertname\' matches the rule name.',
    )
    match_all = models.BooleanField(default=False, help_text="Match every alert (only without matchers).")
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField()
    comment = models.CharField(max_length=300, blank=True, validators=[valid_text])
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_at"]

    def __str__(self) -> str:
        what = "every alert" if self.match_all else self.matchers
        return f"{what} until {self.ends_at:%Y-%m-%d %H:%M}" if self.ends_at else str(what)

    def clean(self) -> None:
        validate_matchers(self.matchers, self.match_all)
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": "Must be after starts_at."})

    def matches(self, rule_name: str, labels: dict[str, str]) -> bool:
        return matches(self.matchers, rule_name, labels, self.match_all)


def valid_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"Unknown time zone {name!r} (use an IANA name such as Europe/Paris).") from None


def valid_weekdays(days: object) -> None:
    if not isinstance(days, list) or not all(type(d) is int and 0 <= d <= 6 for d in days):
        raise ValidationError("A list of weekday numbers, 0 (Monday) to 6 (Sunday); empty means every day.")


class MaintenanceWindow(models.Model):
    """A recurring quiet period in a time zone, e.g. Sundays 02:00-04:00 Europe/Paris.

    Like a silence, it suppresses notifications for matching alerts and keeps their history.
    """

    name = models.CharField(max_length=200, validators=[valid_name])
    matchers = models.JSONField(default=dict, blank=True, help_text="Labels to match (or set match_all).")
    match_all = models.BooleanField(default=False, help_text="Match every alert (only without matchers).")
    timezone = models.CharField(max_length=64, default="UTC", validators=[valid_timezone])
    weekdays = models.JSONField(
        default=list, blank=True, validators=[valid_weekdays], help_text="0 = Monday … 6 = Sunday; empty: every day."
    )
    start_time = models.TimeField(help_text="Local start time in the window's time zone.")
    duration_minutes = models.PositiveIntegerField(help_text="May run past midnight.")
    enabled = models.BooleanField(default=True)
    comment = models.CharField(max_length=300, blank=True, validators=[valid_text])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        validate_matchers(self.matchers, self.match_all)

    def active_at(self, now: datetime) -> bool:
        if not self.enabled or not self.duration_minutes:
            return False
        zone = ZoneInfo(self.timezone)
        local = now.astimezone(zone)
        span = timedelta(minutes=self.duration_minutes)
        # A window that started on an earlier day may still be running (up to a week long).
        for back in range(0, 1 + min(7, (self.duration_minutes - 1) // 1440 + 1)):
            day = local.date() - timedelta(days=back)
            if self.weekdays and day.weekday() not in self.weekdays:
                continue
            start = datetime.combine(day, self.start_time or time(), tzinfo=zone)
            if start <= local < start + span:
                return True
        return False

    def matches(self, rule_name: str, labels: dict[str, str]) -> bool:
        return matches(self.matchers, rule_name, labels, self.match_all)

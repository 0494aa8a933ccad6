from __future__ import annotations

import operator
from collections.abc import Callable

from django.conf import settings
from django.db import models
from django.utils import timezone

from alerts.choices import (
    Aggregation,
    AlertState,
    ChannelKind,
    Comparator,
    NoData,
    NotificationKind,
    NotificationStatus,
    Severity,
)

COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
SECRET_FIELDS = ("webhook_url", "secret", "url", "password")


class NotificationChannel(models.Model):
    """Where notifications go: ``config`` holds the kind's settings (secrets included)."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=ChannelKind.choices)
    config = models.JSONField(default=dict)
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


class AlertRule(models.Model):
    """A threshold on one metric's series, aggregated over a window, one alert per series."""

    name = models.CharField(max_length=200)
    metric = models.CharField(max_length=200)
    labels = models.JSONField(default=dict, blank=True, help_text='Label matchers, e.g. {"host": "web-1"}')
    aggregation = models.CharField(max_length=10, choices=Aggregation.choices, default=Aggregation.LAST)
    window_seconds = models.PositiveIntegerField(default=60)
    comparator = models.CharField(max_length=2, choices=Comparator.choices, default=Comparator.GT)
    critical_threshold = models.FloatField()
    warning_threshold = models.FloatField(null=True, blank=True)
    recovery_threshold = models.FloatField(
        null=True, blank=True, help_text="Hysteresis: resolve only once the value is back past this."
    )
    for_seconds = models.PositiveIntegerField(default=0, help_text="Pending this long before firing.")
    no_data = models.CharField(max_length=10, choices=NoData.choices, default=NoData.KEEP)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.CRITICAL)
    summary = models.CharField(
        max_length=300, blank=True, default="{{ rule }}: {{ metric }} is {{ value }} on {{ labels }}"
    )
    runbook_url = models.URLField(blank=True)
    channels = models.ManyToManyField(NotificationChannel, blank=True, related_name="rules")
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

    def breach(self, value: float | None) -> str | None:
        """The severity ``value`` breaches, if any."""
        if value is None:
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
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            # Evaluation finds a rule's open alert per series; the active list filters by state.
            models.Index(fields=["rule", "labels_key", "state"], name="alert_rule_series_state_idx"),
            models.Index(fields=["state", "-started_at"], name="alert_state_started_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.rule.name} {self.labels} [{self.state}]"

    @property
    def is_open(self) -> bool:
        return self.state != AlertState.RESOLVED


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

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The delivery sweep picks pending rows whose next attempt is due.
            models.Index(fields=["status", "next_attempt_at"], name="notification_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.channel.name} [{self.status}]"


class Silence(models.Model):
    """Suppresses notifications (not history) for alerts whose labels match, for a while."""

    matchers = models.JSONField(default=dict, help_text="Labels that must all match, e.g. {\"host\": \"web-1\"}; "
                                "the key 'alertname' matches the rule name.")  # fmt: skip
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField()
    comment = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_at"]

    def __str__(self) -> str:
        return f"{self.matchers} until {self.ends_at:%Y-%m-%d %H:%M}"

    def matches(self, rule_name: str, labels: dict[str, str]) -> bool:
        for key, value in self.matchers.items():
            actual = rule_name if key == "alertname" else labels.get(key)
            if actual != value:
                return False
        return True

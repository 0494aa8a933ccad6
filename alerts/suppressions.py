"""Silences and maintenance windows: whether an alert's notifications are held back now."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from alerts.models import AlertRule, MaintenanceWindow, Silence


class Suppressions:
    """Silences and maintenance windows active at one moment, read once per pass and only if
    a notification is about to be queued."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or timezone.now()
        self._active: list[Silence | MaintenanceWindow] | None = None

    def active(self) -> list[Silence | MaintenanceWindow]:
        """Every silence and maintenance window in force now (the overview lists them)."""
        if self._active is None:
            silences = list(Silence.objects.filter(starts_at__lte=self.now, ends_at__gt=self.now))
            windows = [w for w in MaintenanceWindow.objects.filter(enabled=True) if w.active_at(self.now)]
            self._active = [*silences, *windows]
        return self._active

    def match(self, rule: AlertRule, labels: dict[str, str]) -> bool:
        return any(s.matches(rule.name, labels) for s in self.active())

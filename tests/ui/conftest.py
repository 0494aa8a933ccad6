"""What the page tests share: an acknowledged alert with a chart's worth of samples."""

from __future__ import annotations

import time

from django.contrib.auth.models import User
from django.utils import timezone

from alerts import lifecycle, services
from alerts.models import Alert, AlertRule
from monitoring.store.writer import record_samples


def acknowledged_disk_alert(editor: User, seconds: int, count: int, first: float) -> Alert:
    """The "Disk full" rule (warning 80, critical 90) fired on web1 from ``count`` samples over
    the last ``seconds`` rising by one from ``first``, then acknowledged by ``editor``: "on it"."""
    rule = AlertRule.objects.create(
        name="Disk full", metric="ui_disk_used_percent", critical_threshold=90, warning_threshold=80
    )
    now = time.time()
    step = seconds // count
    record_samples(
        [("ui_disk_used_percent", {"host": "web1"}, now - seconds + i * step, first + i) for i in range(count)]
    )
    (alert,) = lifecycle.evaluate_rule(rule)
    if alert.state == "pending":
        alert.fire(timezone.now())
    services.acknowledge(alert, editor, "on it")
    return Alert.objects.get(pk=alert.pk)

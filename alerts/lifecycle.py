"""Evaluation outcomes → alert transitions.

Evaluation (alerts.evaluation) says what each rule's series look like now; this module turns
each verdict into the transition it calls for on ``Alert`` (start, fire, resolve, keep
firing), and follows each with its stream frame and notifications. It runs when a rule's
metric receives data (the ingest signal enqueues it) and on the periodic sweep (for ``for``,
no-data and resolution), which also runs the follow-ups (alerts.followups).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from alerts import evaluation, outbox
from alerts.choices import AlertState, NoData, NotificationKind
from alerts.evaluation import Verdict
from alerts.followups import follow_up
from alerts.models import Alert, AlertRule
from alerts.stream import announce
from alerts.suppressions import Suppressions
from alerts.templating import render_summary
from monitoring.store.query import SeriesRef

logger = logging.getLogger(__name__)

OPEN_STATES = (AlertState.PENDING, AlertState.FIRING, AlertState.ACKNOWLEDGED)
RULE_LOCK = 0x5E15  # advisory-lock namespace for rule evaluation
SWEEP_BATCH = 200  # rules evaluated per pass of the sweep


@dataclass
class RulePass:
    """One rule's verdicts applied to its open alerts (locked by the caller), at one moment."""

    rule: AlertRule
    now: datetime
    suppressions: Suppressions
    open_alerts: dict[str, Alert]
    changed: list[Alert] = field(default_factory=list)

    def apply(self, series: SeriesRef, verdict: Verdict) -> None:
        rule, alert = self.rule, self.open_alerts.get(series.labels_key)
        severity, recovered = verdict.severity, verdict.recovered
        if verdict.value is None:
            if rule.no_data == NoData.KEEP or (rule.no_data == NoData.OK and alert is None):
                return
            if rule.no_data == NoData.ALERT:
                severity, recovered = rule.severity, False
        if severity is not None:
            self._breaching(alert, series, verdict, severity)
        elif alert is not None and recovered:
            self._recovered(alert, verdict.value)

    def _breaching(self, alert: Alert | None, series: SeriesRef, verdict: Verdict, severity: str) -> None:
        summary = render_summary(self.rule, series.labels, verdict.value, verdict.detail)
        if alert is None:
            alert = Alert.start(self.rule, series.labels, series.labels_key, severity, verdict.value, self.now)
            announce(alert)
            self.changed.append(alert)
        if alert.breaching(severity, verdict.value, summary, self.now) is not None:  # it fired
            announce(alert)
            outbox.queue(alert, NotificationKind.FIRING, self.suppressions)
            if alert not in self.changed:
                self.changed.append(alert)

    def _recovered(self, alert: Alert, value: float | None) -> None:
        was_firing = alert.is_firing
        if alert.recovered(value, self.now) is None:  # kept firing a while longer
            return
        announce(alert)
        if was_firing:
            outbox.queue(alert, NotificationKind.RESOLVED, self.suppressions)
        self.changed.append(alert)


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
            rule_pass = RulePass(rule, now, suppressions, alerts)
            for series, verdict in rows:
                rule_pass.apply(series, verdict)
        changed.extend(rule_pass.changed)
    return changed


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

"""What each rule says about each of its series right now — no side effects.

Rules are evaluated in batches: rules that watch the same selector over the same window and
aggregation share one SQL aggregate, so a sweep of a thousand rules over a handful of metrics
costs a handful of queries. Threshold rules compare the value with their thresholds; anomaly
rules compare it with a baseline learned from the series' own 1-minute rollups (an
exponentially weighted mean and deviation at the same hour of day on earlier days, falling
back to all recent hours while there is too little seasonal history). Extra conditions
combine with the main one (all / any), joined on the labels they share.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection

from alerts.choices import Direction, Match, NoData, RuleKind
from alerts.models import COMPARE, AlertRule
from monitoring.store.query import SeriesRef, aggregate_window
from monitoring.store.series import labels_key

# An anomaly baseline needs this many 1-minute points (seasonal ones first, else any).
MIN_BASELINE_POINTS = 30
# The deviation never counts as smaller than this share of the mean (a flat history would
# otherwise turn any wobble into an anomaly).
MIN_RELATIVE_DEVIATION = 0.01
# An anomaly alert recovers once the score is below this share of the sensitivity.
ANOMALY_RECOVERY = 0.8

Rows = list[tuple[SeriesRef, float | None]]


@dataclass(frozen=True)
class Baseline:
    mean: float
    deviation: float
    points: int
    seasonal: bool

    def describe(self) -> str:
        kind = "same hour on earlier days" if self.seasonal else "recent hours"
        return f"baseline {self.mean:.4g} ± {self.deviation:.3g} ({kind}, {self.points} points)"


@dataclass(frozen=True)
class Verdict:
    value: float | None
    severity: str | None  # the level the series breaches now, if any
    recovered: bool  # past the recovery line (hysteresis), or no data
    detail: str = ""


class Window:
    """Aggregates fetched once per (selector, window, aggregation) for one evaluation pass."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._cache: dict[tuple[str, str, int, str], Rows] = {}

    def rows(self, metric: str, labels: dict[str, str], window_seconds: int, aggregation: str) -> Rows:
        key = (metric, labels_key(labels or {}), window_seconds, aggregation)
        if key not in self._cache:
            self._cache[key] = aggregate_window(
                metric, labels or None, window_seconds, aggregation, now=self.now, limit=None
            )
        return self._cache[key]


def baselines(rule: AlertRule, series_ids: list[int], now: datetime) -> dict[int, Baseline]:
    """The learned baseline of each series, from 1-minute rollups before the rule's window."""
    if not series_ids:
        return {}
    half_life = max(1.0, rule.anomaly_history_days / 2) * 86400
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT series_id,
                   sum(w * x) FILTER (WHERE seasonal), sum(w * x * x) FILTER (WHERE seasonal),
                   sum(w) FILTER (WHERE seasonal), count(*) FILTER (WHERE seasonal),
                   sum(w * x), sum(w * x * x), sum(w), count(*)
            FROM (
                SELECT series_id, sum / count AS x,
                       exp(-extract(epoch FROM (%(now)s - bucket)) / %(half_life)s * ln(2)) AS w,
                       extract(hour FROM bucket AT TIME ZONE 'UTC') = %(hour)s AS seasonal
                FROM monitoring_rollup_1m
                WHERE series_id = ANY(%(ids)s) AND bucket >= %(since)s AND bucket < %(until)s AND count > 0
            ) history
            GROUP BY series_id
            """,
            {
                "now": now,
                "half_life": half_life,
                "hour": now.astimezone(UTC).hour,
                "ids": series_ids,
                "since": now - timedelta(days=rule.anomaly_history_days),
                "until": now - timedelta(seconds=rule.window_seconds),
            },
        )
        rows = cursor.fetchall()
    found: dict[int, Baseline] = {}
    for series_id, s_wx, s_wxx, s_w, s_n, a_wx, a_wxx, a_w, a_n in rows:
        if s_n >= MIN_BASELINE_POINTS and s_w:
            found[series_id] = _baseline(s_wx, s_wxx, s_w, s_n, seasonal=True)
        elif a_n >= MIN_BASELINE_POINTS and a_w:
            found[series_id] = _baseline(a_wx, a_wxx, a_w, a_n, seasonal=False)
    return found


def _baseline(wx: float, wxx: float, w: float, n: int, seasonal: bool) -> Baseline:
    mean = wx / w
    variance = max(0.0, wxx / w - mean * mean)
    return Baseline(mean, math.sqrt(variance), n, seasonal)


def anomaly_verdict(rule: AlertRule, value: float | None, baseline: Baseline | None) -> Verdict:
    if value is None:
        return Verdict(None, None, True)
    if baseline is None:
        return Verdict(value, None, True, "learning: not enough history yet")
    deviation = max(baseline.deviation, abs(baseline.mean) * MIN_RELATIVE_DEVIATION, 1e-9)
    z = (value - baseline.mean) / deviation
    score = {Direction.ABOVE: z, Direction.BELOW: -z}.get(rule.anomaly_direction, abs(z))
    severity = rule.severity if score >= rule.anomaly_sensitivity else None
    detail = f"{z:+.1f} deviations from {baseline.describe()}"
    return Verdict(value, severity, score < rule.anomaly_sensitivity * ANOMALY_RECOVERY, detail)


def threshold_verdict(rule: AlertRule, value: float | None) -> Verdict:
    if value is None:
        return Verdict(None, None, True)
    return Verdict(value, rule.breach(value), rule.recovered(value))


def _compatible(left: dict[str, str], right: dict[str, str]) -> bool:
    return all(left[k] == right[k] for k in left.keys() & right.keys())


def _combine(rule: AlertRule, verdict: Verdict, labels: dict[str, str], holding: list[list[dict[str, str]]]) -> Verdict:
    """``holding``: per condition, the label sets of its series that pass it right now."""
    holds = [any(_compatible(other, labels) for other in passing) for passing in holding]
    if rule.match == Match.ALL:
        if all(holds):
            return verdict
        return Verdict(verdict.value, None, True, verdict.detail)
    if any(holds):
        return Verdict(verdict.value, verdict.severity or rule.severity, False, verdict.detail)
    return verdict


def _candidates(rule: AlertRule, rows: Rows, watched: set[str], no_data_alerts: bool) -> Rows:
    """The rows of a plain threshold rule that can change anything (the hot loop of a sweep)."""
    if rule.critical_threshold is None:
        return [(s, v) for s, v in rows if s.labels_key in watched or (v is None and no_data_alerts)]
    compare = COMPARE[rule.comparator]
    levels = [rule.critical_threshold] + ([] if rule.warning_threshold is None else [rule.warning_threshold])
    line = min(levels) if rule.comparator in (">", ">=") else max(levels)  # the least severe level
    picked = [(s, v) for s, v in rows if v is not None and compare(v, line)]
    if watched or no_data_alerts:
        chosen = {id(s) for s, _ in picked}
        picked += [
            (s, v)
            for s, v in rows
            if id(s) not in chosen and (s.labels_key in watched or (v is None and no_data_alerts))
        ]
    return picked


def evaluate(
    rules: Iterable[AlertRule],
    now: datetime,
    open_keys: dict[int, set[str]] | None = None,
    window: Window | None = None,
) -> dict[int, list[tuple[SeriesRef, Verdict]]]:
    """Each rule's verdict for each of its series (rules should prefetch ``conditions``).

    With ``open_keys`` (rule id → label keys of its open alerts) only the series that can
    change something come back: breaching ones, those with an open alert, and silent ones when
    the rule alerts on no data. A sweep of a thousand quiet rules then costs its queries and a
    comparison per series, nothing more.
    """
    window = window or Window(now)
    out: dict[int, list[tuple[SeriesRef, Verdict]]] = {}
    for rule in rules:
        rows = window.rows(rule.metric, rule.labels, rule.window_seconds, rule.aggregation)
        # Each condition is judged once per series of its own metric, not once per pair.
        conditions = [
            [s.labels for s, v in window.rows(c.metric, c.labels, c.window_seconds, c.aggregation) if c.holds(v)]
            for c in rule.conditions.all()
        ]
        watched = None if open_keys is None else open_keys.get(rule.pk, set())
        no_data_alerts = rule.no_data == NoData.ALERT
        if watched is not None and rule.kind == RuleKind.THRESHOLD and not conditions:
            rows = _candidates(rule, rows, watched, no_data_alerts)
        if rule.kind == RuleKind.ANOMALY:
            known = baselines(rule, [s.id for s, v in rows if v is not None], now)
            verdicts = [(s, anomaly_verdict(rule, v, known.get(s.id))) for s, v in rows]
        else:
            verdicts = [(s, threshold_verdict(rule, v)) for s, v in rows]
        if conditions:
            verdicts = [(s, _combine(rule, v, s.labels, conditions)) for s, v in verdicts]
        if watched is not None:
            verdicts = [
                (s, v)
                for s, v in verdicts
                if v.severity or s.labels_key in watched or (v.value is None and no_data_alerts)
            ]
        out[rule.pk] = verdicts
    return out


def preview(rule: AlertRule, now: datetime) -> list[dict[str, Any]]:
    """What the rule would say now, per series (the admin's "would fire now?" action)."""
    return [
        {"labels": s.labels, "value": v.value, "severity": v.severity, "detail": v.detail}
        for s, v in evaluate([rule], now)[rule.pk]
    ]

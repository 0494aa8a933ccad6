"""Uptime over any range from a check's state changes, with maintenance windows excluded.

A check's history is a sequence of segments (state, start, end) rebuilt from its events.
Time in up, degraded or down counts; paused and unknown time does not. Time inside a
maintenance window that matches the check's alert (its rule name and the labels ``check`` and
``kind``) is excluded and reported as such.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Max

from alerts.models import MaintenanceWindow
from checks.choices import COUNTED_STATES, CheckState
from checks.models import Check, CheckEvent

Interval = tuple[datetime, datetime]


@dataclass
class Segment:
    state: str
    start: datetime
    end: datetime
    reason: str = ""


@dataclass
class Uptime:
    uptime: float | None
    counted_seconds: float
    downtime_seconds: float
    excluded_maintenance_seconds: float
    incidents: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "uptime": None if self.uptime is None else round(self.uptime, 6),
            "downtime_seconds": round(self.downtime_seconds, 3),
            "excluded_maintenance_seconds": round(self.excluded_maintenance_seconds, 3),
            "counted_seconds": round(self.counted_seconds, 3),
            "incidents": self.incidents,
        }

    @property
    def mttr_seconds(self) -> float | None:
        """Mean time to recovery over the incidents that ended."""
        ended = [i["duration_seconds"] for i in self.incidents if i["end"] is not None]
        return sum(ended) / len(ended) if ended else None


def occurrences(window: MaintenanceWindow, start: datetime, end: datetime) -> list[Interval]:
    """The spans a recurring window covers that touch [start, end)."""
    if not window.enabled or not window.duration_minutes:
        return []
    zone = ZoneInfo(window.timezone)
    span = timedelta(minutes=window.duration_minutes)
    day = (start - span).astimezone(zone).date()
    last: date = end.astimezone(zone).date()
    out: list[Interval] = []
    while day <= last:
        if not window.weekdays or day.weekday() in window.weekdays:
            begin = datetime.combine(day, window.start_time or time(), tzinfo=zone)
            if begin < end and begin + span > start:
                out.append((max(begin, start).astimezone(UTC), min(begin + span, end).astimezone(UTC)))
        day += timedelta(days=1)
    return out


def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for s, e in sorted(intervals):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def _overlap(s: datetime, e: datetime, intervals: list[Interval]) -> float:
    total = 0.0
    for a, b in intervals:
        lo, hi = max(s, a), min(e, b)
        if hi > lo:
            total += (hi - lo).total_seconds()
    return total


def maintenance_for(checks: list[Check], start: datetime, end: datetime) -> dict[int, list[Interval]]:
    """Each check's maintenance spans over [start, end) (windows read once for all)."""
    windows = list(MaintenanceWindow.objects.filter(enabled=True))
    spans = {w.pk: occurrences(w, start, end) for w in windows}
    out: dict[int, list[Interval]] = {}
    for check in checks:
        rule = check.alert_rule.name if check.alert_rule_id and check.alert_rule else f"check down: {check.name}"
        out[check.pk] = _merge(s for w in windows if w.matches(rule, check.labels) for s in spans[w.pk])
    return out


def segments_for(checks: list[Check], start: datetime, end: datetime) -> dict[int, list[Segment]]:
    """Each check's state segments over [start, end): two queries for any number of checks."""
    ids = [c.pk for c in checks]
    before: dict[int, tuple[str, str]] = {}
    last_before = CheckEvent.objects.filter(owner_id__in=ids, at__lt=start).values("owner_id").annotate(last=Max("at"))
    wanted = {(row["owner_id"], row["last"]) for row in last_before}
    if wanted:
        rows = CheckEvent.objects.filter(owner_id__in={c for c, _ in wanted}, at__in={a for _, a in wanted})
        for event in rows.order_by("at", "id"):
            if (event.owner_id, event.at) in wanted:
                before[event.owner_id] = (event.to_state, event.reason)
    events: dict[int, list[CheckEvent]] = {pk: [] for pk in ids}
    for event in CheckEvent.objects.filter(owner_id__in=ids, at__gte=start, at__lt=end).order_by("at", "id"):
        events[event.owner_id].append(event)
    out: dict[int, list[Segment]] = {}
    for check in checks:
        begin = max(start, check.created_at) if check.created_at else start
        if begin >= end:
            out[check.pk] = []
            continue
        own = events[check.pk]
        if check.pk in before:
            state, reason = before[check.pk]
        elif own:
            state, reason = own[0].from_state, ""
        else:
            state, reason = check.state, ""
        segments: list[Segment] = []
        cursor = begin
        for event in own:
            at = max(event.at, begin)
            if at > cursor:
                segments.append(Segment(state, cursor, at, reason))
            cursor = max(cursor, at)
            state, reason = event.to_state, event.reason
        segments.append(Segment(state, cursor, end, reason))
        out[check.pk] = [s for s in segments if s.end > s.start]
    return out


def summarize(segments: list[Segment], maintenance: list[Interval], now: datetime | None = None) -> Uptime:
    counted = down = excluded = 0.0
    incidents: list[dict[str, Any]] = []
    for seg in segments:
        if seg.state not in COUNTED_STATES:
            continue
        length = (seg.end - seg.start).total_seconds()
        quiet = _overlap(seg.start, seg.end, maintenance)
        counted += length - quiet
        excluded += quiet
        if seg.state == CheckState.DOWN:
            down += length - quiet
            ongoing = now is not None and seg.end >= now
            incidents.append(
                {
                    "start": seg.start.isoformat(),
                    "end": None if ongoing else seg.end.isoformat(),
                    "reason": seg.reason,
                    "duration_seconds": round(length, 3),
                }
            )
    uptime = (counted - down) / counted if counted > 0 else None
    return Uptime(uptime, counted, down, excluded, _joined(incidents))


def _joined(incidents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Down segments split only by a maintenance boundary are one incident."""
    out: list[dict[str, Any]] = []
    for incident in incidents:
        if out and out[-1]["end"] == incident["start"]:
            out[-1]["end"] = incident["end"]
            out[-1]["duration_seconds"] = round(out[-1]["duration_seconds"] + incident["duration_seconds"], 3)
        else:
            out.append(dict(incident))
    return out


def uptime_many(checks: list[Check], start: datetime, end: datetime, now: datetime) -> dict[int, Uptime]:
    """Uptime of each check over [start, min(end, now))."""
    end = min(end, now)
    if end <= start:
        return {c.pk: Uptime(None, 0, 0, 0) for c in checks}
    segments = segments_for(checks, start, end)
    maintenance = maintenance_for(checks, start, end)
    return {c.pk: summarize(segments[c.pk], maintenance[c.pk], now) for c in checks}


def uptime(check: Check, start: datetime, end: datetime, now: datetime) -> Uptime:
    return uptime_many([check], start, end, now)[check.pk]


def daily_bars(checks: list[Check], days: int, now: datetime) -> dict[int, list[dict[str, Any]]]:
    """Per check, one entry per UTC day (oldest first): its uptime and how long it was down."""
    today = datetime.combine(now.date(), time(), tzinfo=now.tzinfo)
    start = today - timedelta(days=days - 1)
    segments = segments_for(checks, start, now)
    maintenance = maintenance_for(checks, start, now)
    out: dict[int, list[dict[str, Any]]] = {}
    for check in checks:
        bars = []
        for n in range(days):
            lo = start + timedelta(days=n)
            hi = min(lo + timedelta(days=1), now)
            clipped = [
                Segment(s.state, max(s.start, lo), min(s.end, hi), s.reason)
                for s in segments[check.pk]
                if s.start < hi and s.end > lo
            ]
            day = summarize(clipped, maintenance[check.pk])
            bars.append(
                {"day": lo.date().isoformat(), "uptime": day.uptime, "down_seconds": round(day.downtime_seconds)}
            )
        out[check.pk] = bars
    return out

"""The monthly SLA report (per check and per group; JSON and CSV) and the weekly digest email."""

from __future__ import annotations

import csv
import io
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Count
from django.template.loader import render_to_string
from django.utils import timezone

from alerts.choices import AlertState
from alerts.models import AlertEvent
from checks.models import Check, WeeklyDigest
from checks.uptime import Uptime, uptime_many

logger = logging.getLogger(__name__)

# Years 1970-9989: the report's range (and the month after it) stay valid instants. The API's
# schema shows this pattern.
MONTH_RE = re.compile(r"^(19[7-9][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2})-(0[1-9]|1[0-2])$")
CSV_COLUMNS = [
    "check",
    "group",
    "kind",
    "target",
    "uptime_percent",
    "status",
    "downtime_seconds",
    "incidents",
    "mttr_seconds",
    "excluded_maintenance_seconds",
]


def month_range(month: str) -> tuple[datetime, datetime]:
    """``YYYY-MM`` → [first instant, first instant of the next month) in UTC."""
    match = MONTH_RE.match(month or "")
    if not match:
        raise ValueError("month must look like YYYY-MM, e.g. 2026-11")
    year, number = int(match.group(1)), int(match.group(2))
    start = datetime(year, number, 1, tzinfo=UTC)
    end = datetime(year + (number == 12), number % 12 + 1, 1, tzinfo=UTC)
    return start, end


def _status(result: Uptime, target: float) -> str:
    if result.uptime is None:
        return "no data"
    return "met" if result.uptime * 100 >= target else "missed"


def _percent(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 4)


def sla_report(month: str, now: datetime | None = None) -> dict[str, Any]:
    """Per check: SLA target, uptime, met/missed, downtime, incidents with reasons, MTTR —
    maintenance windows excluded; per group: the same over its checks' time together."""
    now = now or timezone.now()
    start, end = month_range(month)
    checks = list(Check.objects.select_related("alert_rule").order_by("group", "name"))
    results = uptime_many(checks, start, end, now)
    rows: list[dict[str, Any]] = []
    groups: dict[str, dict[str, Any]] = {}
    for check in checks:
        result = results[check.pk]
        mttr = result.mttr_seconds
        rows.append(
            {
                "id": check.pk,
                "check": check.name,
                "group": check.group,
                "kind": check.kind,
                "target": check.sla_target,
                "uptime": None if result.uptime is None else round(result.uptime, 6),
                "uptime_percent": _percent(result.uptime),
                "status": _status(result, check.sla_target),
                "met": None if result.uptime is None else result.uptime * 100 >= check.sla_target,
                "downtime_seconds": round(result.downtime_seconds, 3),
                "excluded_maintenance_seconds": round(result.excluded_maintenance_seconds, 3),
                "incidents": len(result.incidents),
                "incident_list": result.incidents,
                "mttr_seconds": None if mttr is None else round(mttr, 3),
            }
        )
        group = groups.setdefault(
            check.group or "(no group)",
            {"counted": 0.0, "down": 0.0, "incidents": 0, "met": 0, "missed": 0, "checks": 0},
        )
        group["counted"] += result.counted_seconds
        group["down"] += result.downtime_seconds
        group["incidents"] += len(result.incidents)
        group["checks"] += 1
        status = rows[-1]["status"]
        if status in ("met", "missed"):
            group[status] += 1
    group_rows = [
        {
            "group": name,
            "checks": g["checks"],
            "uptime_percent": _percent((g["counted"] - g["down"]) / g["counted"]) if g["counted"] else None,
            "downtime_seconds": round(g["down"], 3),
            "incidents": g["incidents"],
            "met": g["met"],
            "missed": g["missed"],
        }
        for name, g in groups.items()
    ]
    return {"month": month, "from": start.isoformat(), "to": end.isoformat(), "checks": rows, "groups": group_rows}


def sla_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in report["checks"]:
        writer.writerow({k: "" if row[k] is None else row[k] for k in CSV_COLUMNS})
    return out.getvalue()


def digest_context(now: datetime | None = None) -> dict[str, Any]:
    """The week's incidents, the month's SLA standing so far and the noisiest alert rules."""
    now = now or timezone.now()
    week_start = now - timedelta(days=7)
    checks = list(Check.objects.select_related("alert_rule").order_by("name"))
    week = uptime_many(checks, week_start, now, now)
    incidents = [{"check": c.name, **incident} for c in checks for incident in week[c.pk].incidents]
    incidents.sort(key=lambda i: i["start"])
    standing = sla_report(now.strftime("%Y-%m"), now)["checks"]
    noisiest = list(
        AlertEvent.objects.filter(at__gte=week_start, state=AlertState.FIRING)
        .values("alert__rule__name")
        .annotate(fired=Count("id"))
        .order_by("-fired")[:5]
    )
    return {
        "since": week_start,
        "until": now,
        "incidents": incidents,
        "standing": standing,
        "noisiest": [{"rule": n["alert__rule__name"], "fired": n["fired"]} for n in noisiest],
        "missed": [row for row in standing if row["status"] == "missed"],
    }


def send_weekly_digests(now: datetime | None = None) -> int:
    """Email every enabled digest to the addresses of its (email) channels; returns mails sent."""
    now = now or timezone.now()
    digests = list(WeeklyDigest.objects.filter(enabled=True).prefetch_related("channels"))
    if not digests:
        return 0
    context = digest_context(now)
    sent = 0
    for digest in digests:
        addresses = sorted(
            {a for c in digest.channels.all() if c.enabled and c.kind == "email" for a in c.config.get("to", [])}
        )
        if not addresses:
            continue
        message = EmailMultiAlternatives(
            subject=f"Seismo weekly digest: {len(context['incidents'])} incidents, {len(context['missed'])} SLA missed",
            body=render_to_string("checks/email/digest.txt", {**context, "digest": digest}),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=addresses,
        )
        message.attach_alternative(
            render_to_string("checks/email/digest.html", {**context, "digest": digest}), "text/html"
        )
        try:
            message.send()
        except OSError as exc:
            logger.warning("weekly digest %s not sent: %s", digest.name, exc)
            continue
        digest.last_sent_at = now
        digest.save(update_fields=["last_sent_at"])
        sent += 1
    return sent

"""Public status pages: built from the database by workers, served to anonymous visitors from
Redis only.

A page's HTML is rendered whenever one of its checks changes state, when an admin saves it and
every minute (the day bars move), and stored in Redis with no expiry. The public door
(checks.asgi) reads only Redis; a page missing from Redis (after a flush) is built once on
demand. What a page shows is exactly ``snapshot()``: names and states of the chosen checks,
their day bars and incident reasons — never a target, label, id or setting.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from checks.choices import UPTIME_BAR_DAYS, CheckState
from checks.models import StatusPage
from checks.uptime import daily_bars, uptime_many
from lib.redis import get_redis, key

logger = logging.getLogger(__name__)

RECENT_INCIDENT_DAYS = 14
MISSING = b"\x00missing"  # cached answer for a slug that is not published


def cache_key(slug: str) -> str:
    return key(f"statuspage:{slug}")


def rate_key(client: str, window: int) -> str:
    return key(f"statuspage:rate:{client}:{window}")


def _overall(states: list[str]) -> str:
    if CheckState.DOWN in states:
        return "outage"
    if CheckState.DEGRADED in states:
        return "degraded"
    return "operational"


def snapshot(page: StatusPage, now: Any = None) -> dict[str, Any]:
    """Everything the page shows (and nothing else)."""
    now = now or timezone.now()
    groups = list(page.groups.prefetch_related("checks"))
    checks = {c.pk: c for g in groups for c in g.checks.all()}
    listed = list(checks.values())
    for check in listed:
        check.alert_rule = None  # maintenance matching by the derived rule name; no extra query
    bars = daily_bars(listed, UPTIME_BAR_DAYS, now) if listed else {}
    period = uptime_many(listed, now - timedelta(days=UPTIME_BAR_DAYS), now, now) if listed else {}
    recent = uptime_many(listed, now - timedelta(days=RECENT_INCIDENT_DAYS), now, now) if listed else {}
    shown_groups = []
    for group in groups:
        rows = []
        for check in group.checks.all():
            ratio = period[check.pk].uptime
            rows.append(
                {
                    "name": check.name,
                    "state": check.state,
                    "uptime_percent": None if ratio is None else round(ratio * 100, 3),
                    "bars": bars[check.pk],
                }
            )
        shown_groups.append({"name": group.name, "checks": rows})
    incidents = [
        {"check": check.name, "start": i["start"], "end": i["end"], "reason": i["reason"]}
        for check in listed
        for i in recent[check.pk].incidents
    ]
    incidents.sort(key=lambda i: i["start"], reverse=True)
    return {
        "title": page.title,
        "description": page.description,
        "generated_at": now.isoformat(),
        "overall": _overall([c.state for c in listed]),
        "groups": shown_groups,
        "open_incidents": [i for i in incidents if i["end"] is None],
        "recent_incidents": [i for i in incidents if i["end"] is not None][:20],
    }


def render_page(page: StatusPage) -> bytes:
    return render_to_string("checks/status_page.html", {"page": snapshot(page)}).encode()


def refresh(slug: str) -> bytes:
    """Build one page and store it (or the 'missing' marker) in Redis."""
    page = StatusPage.objects.filter(slug=slug, published=True).first()
    redis = get_redis()
    if page is None:
        redis.set(cache_key(slug), MISSING, ex=settings.STATUS_PAGE_MISSING_TTL_SECONDS)
        return MISSING
    body = render_page(page)
    redis.set(cache_key(slug), body)
    return body


def refresh_all() -> int:
    """Every published page (beat, each minute); unpublished ones are dropped from Redis."""
    published = list(StatusPage.objects.filter(published=True).values_list("slug", flat=True))
    for slug in published:
        try:
            refresh(slug)
        except Exception as exc:  # one broken page must not stop the others
            logger.warning("status page %s not refreshed: %s", slug, exc)
    for slug in StatusPage.objects.filter(published=False).values_list("slug", flat=True):
        get_redis().delete(cache_key(slug))
    return len(published)


def forget_pages_of(check_ids: set[int]) -> None:
    """A check changed state: rebuild the pages that show it."""
    slugs = set(StatusPage.objects.filter(published=True, groups__checks__in=check_ids).values_list("slug", flat=True))
    for slug in slugs:
        try:
            refresh(slug)
        except Exception as exc:
            logger.warning("status page %s not refreshed: %s", slug, exc)


def page_saved(page: StatusPage, old_slug: str | None = None) -> None:
    if old_slug and old_slug != page.slug:
        get_redis().delete(cache_key(old_slug))
    if page.published:
        refresh(page.slug)
    else:
        get_redis().delete(cache_key(page.slug))

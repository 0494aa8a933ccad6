"""Scraping targets (pull): fetch, parse, store — spread over each interval, one timeout each.

A window of time is planned at once: every enabled target gets its scrape instants inside the
window at a fixed, per-target offset into its interval (a hash of its name), as Prometheus
spreads its scrapes. All of a window's scrapes run as asyncio tasks, each under its own
timeout, so a slow or hanging target delays no other. Parsing and storing run in one worker
thread (Django's ORM is sync), one scrape at a time.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings

from lib import outbound
from lib.redis import get_redis
from lib.redis import key as redis_key
from monitoring import ingest, topics
from monitoring.intake import prom_text
from monitoring.intake.columns import Columns, KeyCache
from monitoring.models import ScrapeTarget

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger(__name__)

ACCEPT = "text/plain;version=0.0.4;q=1.0,application/openmetrics-text;version=1.0.0;q=0.5,*/*;q=0.1"
# Samples every scrape writes about itself, keyed apart from anything a target serves.
UP, DURATION, SCRAPED = (
    ("__scrape__", "up"),
    ("__scrape__", "scrape_duration_seconds"),
    ("__scrape__", "scrape_samples_scraped"),
)


class ScrapeError(Exception):
    """A scrape failed; the message is what the target page shows."""


@dataclass
class _TargetState:
    """What one target's scrapes reuse: parsed series text, series ids, the last series set."""

    signature: tuple
    series: prom_text.SeriesCache = field(default_factory=prom_text.SeriesCache)
    keys: KeyCache = field(default_factory=KeyCache)


_states: dict[int, _TargetState] = {}


def _state(target: ScrapeTarget) -> _TargetState:
    signature = (target.name, target.url, tuple(sorted(target.labels.items())))
    state = _states.get(target.pk)
    if state is None or state.signature != signature:
        state = _states[target.pk] = _TargetState(signature)
    return state


def forget_targets() -> None:
    """Drop every target's cached series (tests; ids may belong to rolled-back rows)."""
    _states.clear()


def offset_seconds(target: ScrapeTarget) -> float:
    """Where in its interval a target is scraped: fixed per target, spread across targets."""
    return (zlib.crc32(target.name.encode()) % 1000) / 1000 * target.interval_seconds


def plan(targets: list[ScrapeTarget], start: float, seconds: float) -> list[tuple[float, ScrapeTarget]]:
    """(instant, target) for every scrape due in [start, start + seconds)."""
    out: list[tuple[float, ScrapeTarget]] = []
    for target in targets:
        interval = target.interval_seconds
        offset = offset_seconds(target)
        at = ((start - offset) // interval + 1) * interval + offset
        if at - interval >= start:
            at -= interval
        while at < start + seconds:
            out.append((at, target))
            at += interval
    return sorted(out, key=lambda item: item[0])


def _headers(target: ScrapeTarget) -> dict[str, str]:
    headers = {
        "Accept": ACCEPT,
        "User-Agent": "Seismo-scraper",
        "X-Prometheus-Scrape-Timeout-Seconds": str(target.timeout_seconds),
    }
    return headers


def _auth(target: ScrapeTarget) -> httpx.Auth | None:
    import httpx  # here and below: httpx (~6 MB) loads with the first scrape, not every 10 s plan

    if "username" in target.auth:
        return httpx.BasicAuth(target.auth["username"], target.auth["password"])
    return None


async def fetch(client: httpx.AsyncClient, target: ScrapeTarget) -> tuple[str, str]:
    """The body and content type a target serves; ScrapeError (with the reason) otherwise."""
    import httpx  # see _auth

    headers = _headers(target)
    if "bearer" in target.auth:
        headers["Authorization"] = f"Bearer {target.auth['bearer']}"
    limit = settings.SCRAPE_MAX_BYTES
    try:
        async with client.stream("GET", target.url, headers=headers, auth=_auth(target)) as response:
            if response.is_redirect:
                raise ScrapeError(
                    f"HTTP {response.status_code}: redirect to {response.headers.get('location', '?')} not followed"
                )
            if response.status_code != 200:
                raise ScrapeError(f"server returned HTTP status {response.status_code}")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    raise ScrapeError(f"body larger than {limit} bytes")
                chunks.append(chunk)
            content_type = response.headers.get("content-type", "")
            try:
                text = b"".join(chunks).decode(response.charset_encoding or "utf-8")
            except (UnicodeDecodeError, LookupError) as exc:
                raise ScrapeError(f"body is not valid text: {exc}") from None
            return text, content_type
    except httpx.HTTPError as exc:
        reason = outbound.refusal_reason(exc)
        raise ScrapeError(reason or f"{type(exc).__name__}: {exc or 'connection failed'}") from None


def _columns(
    target: ScrapeTarget, state: _TargetState, exposition: prom_text.Exposition | None, at: float, duration: float
) -> Columns:
    at_ms = int(at * 1000)
    scraped = len(exposition.keys) if exposition else 0
    own: list[Hashable] = [UP, DURATION, SCRAPED]
    own_values = [1.0 if exposition is not None else 0.0, duration, float(scraped)]
    keys: list[Hashable] = list(exposition.keys) if exposition else []
    stamps = [at_ms if ts is None else ts for ts in exposition.ts_ms] if exposition else []
    values = list(exposition.values) if exposition else []
    job = target.labels.get("job", target.name)
    instance = target.labels.get("instance", target.instance)
    extra = {k: v for k, v in target.labels.items() if k not in ("job", "instance")}
    series = state.series

    def decode(key: Hashable) -> tuple[str, dict[str, str]]:
        if isinstance(key, tuple):
            name, labels = key[1], {}
        else:
            name, served = series[key]  # type: ignore[index]
            labels = dict(served)
            # honor_labels: false — what the target claims for job/instance is kept as exported_*.
            for clash in ("job", "instance", *extra):
                if clash in labels:
                    labels[f"exported_{clash}"] = labels.pop(clash)
        labels.update(extra)
        labels["job"] = job
        labels["instance"] = instance
        return name, labels

    all_keys = keys + own
    return Columns(
        keys=all_keys,
        decode=decode,
        series_index=np.arange(len(all_keys), dtype=np.int64),
        ts_ms=np.asarray(stamps + [at_ms] * 3, dtype=np.int64),
        values=np.asarray(values + own_values, dtype=np.float64),
    )


def store_scrape(target: ScrapeTarget, body: tuple[str, str] | None, error: str, at: float, duration: float) -> str:
    """Parse a fetched body and store its samples plus up/scrape_duration_seconds/
    scrape_samples_scraped; record the outcome on the target. Returns the error ('' if none)."""
    state = _state(target)
    exposition = None
    if body is not None and not error:
        text, content_type = body
        try:
            exposition = prom_text.parse(
                text, state.series, content_type=content_type, sample_limit=target.sample_limit
            )
        except prom_text.ExpositionError as exc:
            error = str(exc)
    columns = _columns(target, state, exposition, at, duration)
    result = ingest.accept_columns(columns, source=target.source, topic=topics.BASIC, cache=state.keys)
    note = error
    if not error and result.refused:
        note = "refused " + "; ".join(result.messages(3))
    target.record_scrape(
        at=datetime.fromtimestamp(at, UTC),
        duration=duration,
        samples=len(exposition.keys) if exposition else 0,
        error=error,
        note=note,
    )
    return error


async def scrape_one(client: httpx.AsyncClient, target: ScrapeTarget, store: object) -> str:
    started = time.time()
    clock = time.perf_counter()
    body: tuple[str, str] | None = None
    error = ""
    try:
        body = await asyncio.wait_for(fetch(client, target), timeout=target.timeout_seconds)
    except TimeoutError:
        error = f"context deadline exceeded: no answer within {target.timeout_seconds} s"
    except ScrapeError as exc:
        error = str(exc)
    return await store(target, body, error, started, time.perf_counter() - clock)  # type: ignore[operator]


async def run_window(targets: list[ScrapeTarget], start: float, seconds: float) -> dict[int, str]:
    """Scrape every target due in the window at its instant; target id → error ('' when up)."""
    store = sync_to_async(store_scrape, thread_sensitive=True)
    outcome: dict[int, str] = {}
    async with async_client() as client:

        async def at_instant(at: float, target: ScrapeTarget) -> None:
            await asyncio.sleep(max(0.0, at - time.time()))
            try:
                outcome[target.pk] = await scrape_one(client, target, store)
            except Exception as exc:  # one broken scrape must not stop the others
                logger.exception("scraping %s failed", target.name)
                outcome[target.pk] = f"internal error: {exc}"

        await asyncio.gather(*(at_instant(at, target) for at, target in plan(targets, start, seconds)))
    return outcome


def async_client() -> httpx.AsyncClient:
    """The outbound client: every connection goes to the address the outbound rules vetted
    (resolved once, pinned, Host header kept); redirects are never followed. Each scrape has
    its own deadline (asyncio.wait_for); the client's timeout is only a backstop."""
    import httpx  # see _auth

    from lib.outbound_clients import async_http_client  # imports httpx and aiohttp: see _auth

    return async_http_client(follow_redirects=False, timeout=httpx.Timeout(300.0))


PLANNED_KEY = "scrape:planned-until"


def claim_window(seconds: float, now: float | None = None) -> tuple[float, float] | None:
    """The next stretch of time to plan, [start, end): it begins where the last planned one
    ended (no scrape is planned twice or skipped), at most one window back."""
    now = time.time() if now is None else now
    redis = get_redis()
    with redis.lock(redis_key(PLANNED_KEY + ":lock"), timeout=5, blocking_timeout=5):
        raw = redis.get(redis_key(PLANNED_KEY))
        start = max(float(raw) if raw else now, now - seconds)
        end = now + seconds
        if end <= start:
            return None
        redis.set(redis_key(PLANNED_KEY), end, ex=int(seconds * 10) + 60)
    return start, end


def scrape_due(seconds: float) -> dict[int, str]:
    """Scrape every enabled target due in the next ``seconds`` (the Celery task's body)."""
    targets = list(ScrapeTarget.objects.filter(enabled=True))
    window = claim_window(seconds)
    if not targets or window is None:
        return {}
    start, end = window
    # async_to_sync, not asyncio.run: the storing (sync_to_async, thread-sensitive) then runs in
    # this very thread, on its database connection (Celery's Django fixup closes it after the task).
    return async_to_sync(run_window)(targets, start, end - start)


def scrape_now(target: ScrapeTarget) -> str:
    """Scrape one target once, now (tests, the admin's "scrape now"); returns its error or ''."""

    async def once() -> str:
        async with async_client() as client:
            return await scrape_one(client, target, sync_to_async(store_scrape, thread_sensitive=True))

    return async_to_sync(once)()

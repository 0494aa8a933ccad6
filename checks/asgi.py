"""The public door of status pages: ``/status/<slug>/`` answered from Redis, before Django.

Anonymous visitors cost the database nothing: this reads the page's rendered HTML from Redis
(kept fresh by workers, see checks.statuspage) and counts the client's requests there
(``STATUS_PAGE_RATE_LIMIT`` per minute per client address). Everything else passes through
to Django untouched.
"""

from __future__ import annotations

import asyncio
import re
import time
import weakref
from typing import Any

import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections
from django.http.request import split_domain_port, validate_host

from checks.statuspage import MISSING, cache_key, rate_key

PATH = re.compile(r"^/status/([a-z0-9_-]{1,100})/?$")
HEADERS = [
    (b"content-type", b"text/html; charset=utf-8"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"default-src 'none'; style-src 'unsafe-inline'; img-src data:"),
]


def _build(slug: str) -> bytes:
    """Build a page from the database on a worker thread, leaving no connection behind."""
    from checks.statuspage import refresh  # the page builder needs the ORM: loaded on first use

    try:
        return refresh(slug)
    finally:
        connections.close_all()


class StatusPageApp:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = weakref.WeakKeyDictionary()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        match = PATH.match(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None:
            await self.inner(scope, receive, send)
            return
        started = time.perf_counter()
        if scope.get("method") not in ("GET", "HEAD"):
            await self._answer(send, 405, b"Status pages are read-only.\n", started, [(b"allow", b"GET, HEAD")])
            return
        host = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"host"), "")
        domain, _ = split_domain_port(host)
        if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
            await self._answer(send, 400, b"Bad Request (invalid host).\n", started)
            return
        redis = self._redis()
        client = (scope.get("client") or ("unknown", 0))[0]
        window = int(time.time() // 60)
        try:
            async with redis.pipeline(transaction=False) as pipe:
                pipe.incr(rate_key(client, window))
                pipe.expire(rate_key(client, window), 120)
                pipe.get(cache_key(match.group(1)))
                count, _, body = await pipe.execute()
        except Exception:
            await self._answer(send, 503, b"Status page temporarily unavailable.\n", started, [(b"retry-after", b"5")])
            return
        if count > settings.STATUS_PAGE_RATE_LIMIT:
            retry = str(60 - int(time.time()) % 60).encode()
            await self._answer(
                send, 429, b"Too many requests; try again shortly.\n", started, [(b"retry-after", retry)]
            )
            return
        if body is None:
            # Not in Redis (first visit after a flush): build it once from the database.
            body = await sync_to_async(_build, thread_sensitive=False)(match.group(1))
        if body == MISSING:
            await self._answer(send, 404, b"No such status page.\n", started)
            return
        head = scope.get("method") == "HEAD"
        await self._answer(
            send, 200, b"" if head else body, started, [(b"cache-control", b"public, max-age=30")], len(body)
        )

    def _redis(self) -> aioredis.Redis:
        """One client per event loop (a client is bound to the loop it first ran on)."""
        loop = asyncio.get_running_loop()
        client = self.clients.get(loop)
        if client is None:
            client = self.clients[loop] = aioredis.from_url(
                settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=1
            )
        return client

    async def _answer(
        self,
        send: Any,
        status: int,
        body: bytes,
        started: float,
        extra: list[tuple[bytes, bytes]] | None = None,
        length: int | None = None,
    ) -> None:
        elapsed = (time.perf_counter() - started) * 1000
        headers = [
            *(HEADERS if status == 200 else [(b"content-type", b"text/plain; charset=utf-8")]),
            *(extra or []),
            (b"content-length", str(len(body) if length is None else length).encode()),
            (b"server-timing", f"app;dur={elapsed:.3f}".encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

"""The public door of status pages: ``/status/<slug>/`` answered from Redis, before Django.

Anonymous visitors cost the database nothing: this reads the page's rendered HTML from Redis
(kept fresh by workers, see checks.statuspage), reused by the process for a second, and
limits each client address to ``STATUS_PAGE_RATE_LIMIT`` requests a minute, counted in this
process and added to Redis every half second, so the limit holds across processes (up to one
flush late). The answer itself waits for nothing. Everything else passes through to Django.
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


PAGE_MEMO_SECONDS = 1.0  # how long a process reuses a page read from Redis
FLUSH_SECONDS = 0.5  # how often a process adds its clients' request counts to Redis


class _LoopState:
    """Per event loop: the Redis client, pages read recently, and request counts per client
    (this process's not yet added to Redis, and the totals Redis last answered)."""

    def __init__(self) -> None:
        self.redis = aioredis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=1)
        self.pages: dict[str, tuple[bytes, float]] = {}
        self.fetching: dict[str, asyncio.Future[bytes | None]] = {}
        self.pending: dict[str, int] = {}
        self.known: dict[str, int] = {}
        self.flusher: asyncio.Task[None] | None = None
        self.window = 0

    def count(self, client: str) -> int:
        """Count one request; the client's total this minute, all processes (as of the last
        flush) plus this process's since."""
        window = int(time.time() // 60)
        if window != self.window:
            self.window, self.known = window, {}
            self.pending = {k: n for k, n in self.pending.items() if k.endswith(f":{window}")}
        name = rate_key(client, window)
        self.pending[name] = self.pending.get(name, 0) + 1
        if self.flusher is None or self.flusher.done():
            self.flusher = asyncio.get_running_loop().create_task(self.flush())
        return self.known.get(name, 0) + self.pending[name]

    async def flush(self) -> None:
        while self.pending:
            await asyncio.sleep(FLUSH_SECONDS)
            batch, self.pending = self.pending, {}
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for name, n in batch.items():
                        pipe.incrby(name, n)
                        pipe.expire(name, 120)
                    answers = await pipe.execute()
            except Exception:  # Redis away: keep counting locally, add them later
                for name, n in batch.items():
                    self.pending[name] = self.pending.get(name, 0) + n
                continue
            for name, total in zip(batch, answers[::2], strict=True):
                self.known[name] = int(total)

    async def page(self, slug: str) -> bytes | None:
        """The page's HTML: from this process's copy for a second, else from Redis (one read
        per page at a time; others wait for it or keep the copy they have)."""
        memo = self.pages.get(slug)
        now = time.monotonic()
        if memo is not None and now - memo[1] < PAGE_MEMO_SECONDS:
            return memo[0]
        inflight = self.fetching.get(slug)
        if inflight is not None:
            return memo[0] if memo is not None else await asyncio.shield(inflight)
        future: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        self.fetching[slug] = future
        try:
            body = await self.redis.get(cache_key(slug))
            if body is None:
                # Not in Redis (first visit after a flush): build it once from the database.
                body = await sync_to_async(_build, thread_sensitive=False)(slug)
            self.pages[slug] = (body, time.monotonic())
            future.set_result(body)
            return body
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters get it, nobody else must
            raise
        finally:
            del self.fetching[slug]


class StatusPageApp:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.states: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = weakref.WeakKeyDictionary()

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
        state = self._state()
        client = (scope.get("client") or ("unknown", 0))[0]
        if state.count(client) > settings.STATUS_PAGE_RATE_LIMIT:
            retry = str(60 - int(time.time()) % 60).encode()
            await self._answer(
                send, 429, b"Too many requests; try again shortly.\n", started, [(b"retry-after", retry)]
            )
            return
        try:
            body = await state.page(match.group(1))
        except Exception:
            await self._answer(send, 503, b"Status page temporarily unavailable.\n", started, [(b"retry-after", b"5")])
            return
        if body is None or body == MISSING:
            await self._answer(send, 404, b"No such status page.\n", started)
            return
        head = scope.get("method") == "HEAD"
        await self._answer(
            send, 200, b"" if head else body, started, [(b"cache-control", b"public, max-age=30")], len(body)
        )

    def _state(self) -> _LoopState:
        """One state per event loop (a Redis client is bound to the loop it first ran on)."""
        loop = asyncio.get_running_loop()
        state = self.states.get(loop)
        if state is None:
            state = self.states[loop] = _LoopState()
        return state

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

"""The push doors under daphne: ``POST /api/v1/write`` and ``POST /otlp/v1/metrics`` answered
before Django's handler.

A Prometheus or OTel Collector sends hundreds of batches a second. Through Django each batch
paid for the request object, thirteen middleware and three thread hops (the sync middleware
chain in its thread, back to the event loop, the view in the first thread again) — several
milliseconds of the process's one core per batch, and all batches of a process in one thread.
Here a batch's body is read on the event loop and its whole work (token, decode, store,
commit) runs in one hop on a small pool of door threads, so one batch's database round trips
overlap another's decoding. The work is the same function the Django views call
(``views.remote_write_reply`` / ``views.otlp_reply``); request metrics are counted as the
middleware counts them; the database connection is taken and given back around each batch as
Django does around a request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
from django.conf import settings
from django.db import close_old_connections
from django.http.request import split_domain_port, validate_host

from lib.api import error_body
from monitoring import reqstats
from monitoring.intake.columns import DoorError
from monitoring.intake.views import Headers, Reply, otlp_reply, remote_write_reply
from monitoring.middleware import queries_counted, source_for, stats

logger = logging.getLogger(__name__)

ROUTES: dict[str, Callable[[Headers, Callable[[], bytes]], Reply]] = {
    "/api/v1/write": remote_write_reply,
    "/otlp/v1/metrics": otlp_reply,
}
# Batches of one process in flight at once: enough to overlap one's database waits with
# another's decoding; each holds a pooled database connection while it runs.
DOOR_THREADS = 4
_executor = ThreadPoolExecutor(max_workers=DOOR_THREADS, thread_name_prefix="seismo-door")


def _json(status: int, code: str, message: str) -> Reply:
    return Reply(status, orjson.dumps(error_body(code, message)), "application/json")


def _serve(
    door: Callable[[Headers, Callable[[], bytes]], Reply], headers: Headers, body: Callable[[], bytes]
) -> tuple[Reply, int, float]:
    """One batch on a door thread, with the connection handling of a Django request."""
    close_old_connections()
    try:
        with queries_counted() as queries:
            reply = door(headers, body)
    except Exception:
        logger.exception("intake door failed")
        reply = _json(500, "server_error", "the batch could not be taken; retry later")
    finally:
        close_old_connections()
    return reply, queries.count, queries.seconds * 1000


class DoorsApp:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        door = ROUTES.get(scope.get("path", "")) if scope["type"] == "http" else None
        if door is None:
            await self.inner(scope, receive, send)
            return
        started = time.perf_counter()
        stats.in_flight += 1
        try:
            reply, queries, query_ms = await self._answer(door, scope, receive)
        finally:
            stats.in_flight -= 1
        head = [(b"content-length", str(len(reply.body)).encode())]
        if reply.content_type:
            head.append((b"content-type", reply.content_type.encode()))
        head += [(name.lower().encode(), value.encode("latin-1")) for name, value in reply.headers]
        await send({"type": "http.response.start", "status": reply.status, "headers": head})
        await send({"type": "http.response.body", "body": reply.body})
        stats.add(
            reqstats.request_fields(
                route=scope["path"],
                method=scope.get("method", ""),
                status=reply.status,
                source=source_for(scope["path"], loadtest=b"x-seismo-loadtest-run" in dict(scope["headers"])),
                elapsed_ms=(time.perf_counter() - started) * 1000,
                size=len(reply.body),
                queries=queries,
                query_ms=query_ms,
            )
        )
        stats.ensure_flusher()

    async def _answer(
        self, door: Callable[[Headers, Callable[[], bytes]], Reply], scope: dict[str, Any], receive: Any
    ) -> tuple[Reply, int, float]:
        if scope.get("method") != "POST":
            return Reply(405, headers=(("Allow", "POST"),)), 0, 0.0
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope.get("headers", [])}
        domain, _ = split_domain_port(headers.get("host", ""))
        if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
            return _json(400, "invalid_host", "the Host header is not one this server answers for"), 0, 0.0
        chunks: list[bytes] = []
        size, too_large = 0, False
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return Reply(400), 0, 0.0  # nobody is left to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > settings.INTAKE_MAX_BYTES:
                too_large, chunks = True, []
            elif chunk:
                chunks.append(chunk)
            if not message.get("more_body"):
                break

        def body() -> bytes:
            if too_large:
                raise DoorError(f"body is larger than {settings.INTAKE_MAX_BYTES} bytes", status=413, code="too_large")
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_executor, _serve, door, headers, body)

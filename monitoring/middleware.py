"""Request metrics: counted in memory per process, shipped to Redis every
REQUEST_METRICS_FLUSH_SECONDS by a background thread (in monitoring.reqstats' format), turned
into samples by the network collector. No database or network I/O happens on the request path.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper
from django.http import HttpRequest, HttpResponse

from lib.redis import get_redis, key
from monitoring import reqstats

logger = logging.getLogger(__name__)

LOADTEST_HEADER = "HTTP_X_SEISMO_LOADTEST_RUN"
SEISMO_PREFIXES = (
    "/api/",
    "/ws/",
    "/static/",
    "/admin/",
    "/accounts/",
    "/dashboards/",
    "/alerts/",
    "/loadtest/",
    "/healthz",
    "/readyz",
    "/metrics",
)


def source_of(request: HttpRequest) -> str:
    """Seismo's own traffic and load-test traffic are tagged so users can filter them out."""
    return source_for(request.path, loadtest=LOADTEST_HEADER in request.META)


def source_for(path: str, *, loadtest: bool) -> str:
    if loadtest:
        return "loadtest"
    if path == "/" or path.startswith(SEISMO_PREFIXES):
        return "seismo"
    return "app"


class RequestStats:
    """This process's counters since the last flush; swapped out whole by the flusher.

    ``autoflush=False`` makes an instance that only flushes when told to (tests own one, so the
    process-wide flusher thread never takes their counts).
    """

    def __init__(self, autoflush: bool = True) -> None:
        self.autoflush = autoflush
        self.lock = threading.Lock()
        self.counts: dict[str, float] = {}
        self.in_flight = 0
        self._flusher: threading.Thread | None = None
        if autoflush:
            os.register_at_fork(after_in_child=self._after_fork)

    def add(self, fields: list[tuple[str, float]]) -> None:
        with self.lock:
            counts = self.counts
            for field, amount in fields:
                counts[field] = counts.get(field, 0) + amount

    def take(self) -> dict[str, float]:
        with self.lock:
            counts, self.counts = self.counts, {}
        return counts

    def ensure_flusher(self) -> None:
        # Called per request, so no is_alive() here: the thread clears _flusher itself when it
        # ends, and a forked child (where it does not run) clears it in _after_fork.
        if self._flusher is not None or not self.autoflush:
            return
        with self.lock:
            if self._flusher is None:
                self._flusher = threading.Thread(target=self._run, name="seismo-request-stats", daemon=True)
                self._flusher.start()

    def _after_fork(self) -> None:
        """The parent flushes what it counted; the child starts empty, with its own thread."""
        self.lock = threading.Lock()
        self.counts = {}
        self.in_flight = 0
        self._flusher = None

    def _run(self) -> None:
        try:
            while True:
                time.sleep(settings.REQUEST_METRICS_FLUSH_SECONDS)
                try:
                    self.flush()
                except Exception as exc:  # Redis down: keep counting, try again at the next flush
                    logger.debug("request stats flush failed: %s", exc)
        finally:
            self._flusher = None  # the next request starts another

    def flush(self, now: float | None = None) -> int:
        """Add this process's counts to the current period's Redis hash."""
        counts = self.take()
        now = time.time() if now is None else now
        name = key(reqstats.period_key(reqstats.period_of(now)))
        pipe = get_redis().pipeline(transaction=False)
        for field, amount in counts.items():
            pipe.hincrbyfloat(name, field, amount)
        pipe.hset(name, reqstats.field(reqstats.IN_FLIGHT, os.getpid()), self.in_flight)
        pipe.expire(name, reqstats.PERIOD_TTL_SECONDS)
        pipe.execute()
        return len(counts)


stats = RequestStats()


class QueryCounter:
    __slots__ = ("count", "seconds")

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.count += 1
            self.seconds += time.perf_counter() - started


# The counter of the request being answered in this context, if any (see count_queries).
_request_queries: ContextVar[QueryCounter | None] = ContextVar("seismo_request_queries", default=None)


def count_queries(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
    """An execute wrapper on every connection: times the query for the request being answered.

    Installed once per connection (install_query_counter) rather than per request, since looking
    the connection up and entering connection.execute_wrapper() cost more than the rest of the
    middleware; outside a request it only passes the query on.
    """
    counter = _request_queries.get()
    if counter is None:
        return execute(sql, params, many, context)
    return counter(execute, sql, params, many, context)


def install_query_counter(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """connection_created receiver (see monitoring.apps): a wrapper object outlives reconnects."""
    if count_queries not in connection.execute_wrappers:
        # First, not last: a block that entered connection.execute_wrapper() before the
        # connection opened pops the last wrapper when it ends — appended here, that would be
        # this one, leaving the block's behind (one more on every reconnect, until RecursionError).
        connection.execute_wrappers.insert(0, count_queries)


@contextmanager
def queries_counted() -> Iterator[QueryCounter]:
    """Count the queries run inside the block, in this context (a thread answering a batch)."""
    queries = QueryCounter()
    token = _request_queries.set(queries)
    try:
        yield queries
    finally:
        _request_queries.reset(token)


class RequestMetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        stats.in_flight += 1
        queries = QueryCounter()
        token = _request_queries.set(queries)
        started = time.perf_counter()
        status = 500
        size = 0
        try:
            response = self.get_response(request)
            status = response.status_code
            if not response.streaming:
                size = len(response.content)
            return response
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            _request_queries.reset(token)
            stats.in_flight -= 1
            match = getattr(request, "resolver_match", None)
            route = "/" + match.route if match is not None and match.route else ("/" if match else "unmatched")
            fields = reqstats.request_fields(
                route=route,
                method=request.method or "",
                status=status,
                source=source_of(request),
                elapsed_ms=elapsed_ms,
                size=size,
                queries=queries.count,
                query_ms=queries.seconds * 1000,
            )
            stats.add(fields)
            stats.ensure_flusher()

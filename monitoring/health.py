"""Liveness of each component, for /readyz and the overview page.

Both read ``snapshot()``: the checks run at most once a second for the whole deployment (the
result is shared through Redis, and each process keeps its own copy for when Redis is down),
so an anonymous caller hammering ``/readyz`` cannot make Seismo ping its workers or its
database any more often than that.
"""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import UTC, datetime
from typing import Any

import orjson
from django.conf import settings
from django.db import connection

from config.celery import BEAT_HEARTBEAT_KEY as BEAT_KEY
from config.celery import app
from config.restarts import read_restarts
from lib.redis import get_redis, key


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


# How long one snapshot of every component's state is served before the checks run again.
SNAPSHOT_SECONDS = 1.0
SNAPSHOT_KEY = "health:snapshot"
_snapshot: dict[str, Any] = {"at": float("-inf"), "status": None}
_snapshot_lock = threading.Lock()


def check_database() -> dict[str, Any]:
    # Through Django's connection, i.e. the pool: a probe never opens a connection of its own
    # (an exhausted pool answers within its timeout and the probe says so).
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            latency = _elapsed_ms(started)
            cursor.execute("SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'")
            has_statements = cursor.fetchone()[0] == 1
    except Exception as exc:
        return {"status": "down", "error": type(exc).__name__}
    # Slow-statement metrics need the extension; say so rather than fail.
    return {
        "status": "up",
        "latency_ms": latency,
        "pg_stat_statements": "available" if has_statements else "unavailable",
    }


def check_redis() -> dict[str, Any]:
    started = time.perf_counter()
    try:
        get_redis().ping()
    except Exception as exc:
        return {"status": "down", "error": type(exc).__name__}
    return {"status": "up", "latency_ms": _elapsed_ms(started)}


def check_worker() -> dict[str, Any]:
    started = time.perf_counter()
    try:
        replies = app.control.ping(timeout=1.0, limit=1)
    except Exception as exc:
        return {"status": "down", "error": type(exc).__name__}
    if not replies:
        return {"status": "down", "error": "no worker answered a ping within 1 s"}
    return {"status": "up", "latency_ms": _elapsed_ms(started), "workers": [next(iter(r)) for r in replies]}


def check_beat() -> dict[str, Any]:
    try:
        raw = get_redis().get(key(BEAT_KEY))
    except Exception as exc:
        return {"status": "down", "error": type(exc).__name__}
    if raw is None:
        return {"status": "down", "error": "beat has not reported yet"}
    age = round(time.time() - float(raw), 1)
    limit = max(3 * settings.BEAT_HEARTBEAT_SECONDS, 6.0)
    if age > limit:
        return {"status": "down", "age_seconds": age, "error": f"last heartbeat {age} s ago"}
    return {"status": "up", "age_seconds": age}


# The dependencies component_status() reports, in the order pages list them.
COMPONENTS = ("database", "redis", "celery_worker", "celery_beat")


def component_status() -> dict[str, dict[str, Any]]:
    """Each dependency's state. The worker and beat checks go through Redis, so skip them
    (reported down) when Redis itself is down rather than wait on timeouts."""
    status = {"database": check_database(), "redis": check_redis()}
    if status["redis"]["status"] == "up":
        status["celery_worker"] = check_worker()
        status["celery_beat"] = check_beat()
    else:
        status["celery_worker"] = {"status": "down", "error": "redis is down"}
        status["celery_beat"] = {"status": "down", "error": "redis is down"}
    return status


def snapshot() -> dict[str, dict[str, Any]]:
    """Every component's state, at most ``SNAPSHOT_SECONDS`` old: the one health read that
    request paths (``/readyz``, the overview page, the stream's ``initialData``, ``/metrics``)
    use. One thread per process runs the checks while the others get the previous snapshot
    (or wait for the first); other processes reuse the result through Redis."""
    cached = _snapshot["status"]
    if cached is not None and time.monotonic() - _snapshot["at"] < SNAPSHOT_SECONDS:
        return cached
    if not _snapshot_lock.acquire(blocking=cached is None):
        return cached
    try:
        if _snapshot["status"] is not None and time.monotonic() - _snapshot["at"] < SNAPSHOT_SECONDS:
            return _snapshot["status"]  # another thread refreshed it while this one waited
        status = _shared_snapshot()
        if status is None:
            status = component_status()
            _share_snapshot(status)
        _snapshot.update(at=time.monotonic(), status=status)
        return status
    finally:
        _snapshot_lock.release()


def _shared_snapshot() -> dict[str, dict[str, Any]] | None:
    try:
        raw = get_redis().get(key(SNAPSHOT_KEY))
    except Exception:
        return None  # Redis down: this process runs the checks (and reports Redis down)
    return orjson.loads(raw) if raw else None


def _share_snapshot(status: dict[str, dict[str, Any]]) -> None:
    # Redis down: the per-process copy still bounds the work.
    with contextlib.suppress(Exception):
        get_redis().set(key(SNAPSHOT_KEY), orjson.dumps(status), px=int(SNAPSHOT_SECONDS * 1000))


def forget_snapshot() -> None:
    """Drop the cached snapshot (tests that change a component's state and read it at once)."""
    with _snapshot_lock:
        _snapshot.update(at=float("-inf"), status=None)
    with contextlib.suppress(Exception):
        get_redis().delete(key(SNAPSHOT_KEY))


def all_up(status: dict[str, dict[str, Any]]) -> bool:
    return all(component["status"] == "up" for component in status.values())


def restarts() -> dict[str, Any]:
    """What the launcher restarted since it started: ``{"counts": {process: n}, "recent":
    [{"process", "exit_code", "at", "when", "restart"}, …]}`` newest first (empty without a launcher)."""
    record = read_restarts(settings.DATA_DIR)
    recent = [{**entry, "when": datetime.fromtimestamp(entry["at"], UTC)} for entry in reversed(record["recent"])]
    return {"counts": record["counts"], "recent": recent}

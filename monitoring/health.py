"""Liveness of each component, for /readyz and the overview page."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection

from config.celery import BEAT_HEARTBEAT_KEY as BEAT_KEY
from config.restarts import read_restarts
from lib.redis import get_redis, key


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def check_database() -> dict[str, Any]:
    # A fresh short-timeout connection: a probe must answer even when the pool is exhausted.
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params["connect_timeout"] = 2
    started = time.perf_counter()
    try:
        with psycopg.connect(**params) as conn:
            conn.execute("SELECT 1")
            latency = _elapsed_ms(started)
            statements = conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'")
            has_statements = statements.fetchone()[0] == 1
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
    from config.celery import app

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


def all_up(status: dict[str, dict[str, Any]]) -> bool:
    return all(component["status"] == "up" for component in status.values())


def restarts() -> dict[str, Any]:
    """What the launcher restarted since it started: ``{"counts": {process: n}, "recent":
    [{"process", "exit_code", "at", "when", "restart"}, …]}`` newest first (empty without a launcher)."""
    record = read_restarts(settings.DATA_DIR)
    recent = [{**entry, "when": datetime.fromtimestamp(entry["at"], UTC)} for entry in reversed(record["recent"])]
    return {"counts": record["counts"], "recent": recent}

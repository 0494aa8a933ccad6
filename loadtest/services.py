"""Load-test runs: validate (allowlist first), queue, execute, stop, summarise."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from django.db import transaction
from django.forms.models import model_to_dict
from django.utils import timezone

from lib.outbound import OutboundRefusedError, check_url
from lib.realtime import broadcast
from lib.redis import get_redis, key
from loadtest.choices import PRESETS, RunStatus
from loadtest.engine import Totals, Window, run_load
from loadtest.models import LoadTestRun, RunSecond, Scenario

logger = logging.getLogger(__name__)
CONFIG_FIELDS = [
    "target_url", "endpoints", "users", "spawn_rate", "duration_seconds", "think_time_ms", "think_mode",
    "throughput_per_user", "request_timeout_ms", "payload_bytes", "client_delay_ms", "max_error_rate", "max_p95_ms",
    "max_rps", "max_cpu_percent", "max_memory_percent",
]  # fmt: skip


class RunRefusedError(ValueError):
    """The run may not start; the message says why (shown to the user)."""


def apply_preset(fields: dict[str, Any]) -> dict[str, Any]:
    """The preset's values, overridden by anything given explicitly."""
    preset = PRESETS.get(fields.get("preset") or "", {})
    return {**preset, **{k: v for k, v in fields.items() if v is not None}}


def check_target(url: str) -> None:
    try:
        check_url(url, allow_self=True)
    except OutboundRefusedError as exc:
        raise RunRefusedError(f"target refused: {exc}") from None


def start_run(scenario: Scenario, user: Any) -> LoadTestRun:
    """Queue a run of ``scenario`` — refused before any request if the target is not allowed."""
    check_target(scenario.target_url)
    config = {k: v for k, v in model_to_dict(scenario).items() if k in CONFIG_FIELDS}
    run = LoadTestRun.objects.create(scenario=scenario if scenario.pk else None, config=config, created_by=user)
    from loadtest.tasks import run_load_test

    transaction.on_commit(lambda: run_load_test.delay(run.pk))
    return run


def _stop_key(run_id: int) -> str:
    return key(f"loadtest:stop:{run_id}")


def stop_run(run: LoadTestRun) -> LoadTestRun:
    """Emergency stop: a running engine sees the flag within ~100 ms; a queued run never starts."""
    if (
        not LoadTestRun.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(
            status=RunStatus.STOPPED, stop_reason="stopped by a user before it started", finished_at=timezone.now()
        )
        and LoadTestRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).exists()
    ):
        get_redis().set(_stop_key(run.pk), 1, ex=3600)
    run.refresh_from_db()
    return run


def _host_reason(config: dict[str, Any]) -> str | None:
    from monitoring.services import latest_value

    checks = (
        ("max_cpu_percent", "system_cpu_percent", "host CPU"),
        ("max_memory_percent", "system_memory_used_percent", "host memory"),
    )
    for field, metric, label in checks:
        limit = config.get(field)
        if limit is None:
            continue
        value = latest_value(metric, max_age_seconds=30)
        if value is not None and value > limit:
            return f"{label} at {value:.0f}% exceeded {limit:.0f}%"
    return None


def _progress(
    run: LoadTestRun, second: int, users: int, totals: Totals, status: str, reason: str = ""
) -> dict[str, Any]:
    window = totals.window
    return {
        "id": run.pk, "status": status, "elapsed": second, "users": users,
        "rps": window.requests / max(second, 1), "requests": window.requests, "failures": window.failures,
        "p50_ms": window.percentile_ms(50), "p95_ms": window.percentile_ms(95), "p99_ms": window.percentile_ms(99),
        "stop_reason": reason,
    }  # fmt: skip


def execute_run(run_id: int) -> LoadTestRun:
    """Run a queued load test to its end (called by the Celery task)."""
    if not LoadTestRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
        status=RunStatus.RUNNING, started_at=timezone.now()
    ):
        return LoadTestRun.objects.get(pk=run_id)  # already taken, or stopped while queued
    run = LoadTestRun.objects.get(pk=run_id)
    config = run.config
    seconds: list[RunSecond] = []
    stop_key = _stop_key(run_id)
    redis = get_redis()
    redis.delete(stop_key)  # a flag can only be meant for this run once it is running
    last_check = [0.0, False]

    def should_stop() -> bool:
        now = time.monotonic()
        if now - last_check[0] >= 0.1:
            last_check[0], last_check[1] = now, bool(redis.exists(stop_key))
        return bool(last_check[1])

    def on_second(second: int, users: int, window: Window, totals: Totals) -> str | None:
        seconds.append(
            RunSecond(run=run, second=second, users=users, requests=window.requests, failures=window.failures,
                      p50_ms=window.percentile_ms(50), p95_ms=window.percentile_ms(95), p99_ms=window.percentile_ms(99))
        )  # fmt: skip
        reason = _limit_reason(config, totals) or _host_reason(config)
        try:
            broadcast(
                "loadtest-progress", {"run": _progress(run, second, users, totals, RunStatus.RUNNING, reason or "")}
            )
        except Exception as exc:  # progress is best effort; the run goes on
            logger.debug("progress not published: %s", exc)
        return reason

    try:
        check_target(config["target_url"])  # the allowlist may have changed since the run was queued
        totals = asyncio.run(run_load(config, run_id, on_second, should_stop))
    except RunRefusedError as exc:
        run.status, run.stop_reason = RunStatus.FAILED, str(exc)
        run.finished_at = timezone.now()
        run.save()
        return run
    except Exception as exc:
        logger.exception("load test %s failed", run_id)
        run.status, run.stop_reason = RunStatus.FAILED, f"{type(exc).__name__}: {exc}"[:300]
        run.finished_at = timezone.now()
        run.save()
        return run
    window = totals.window
    run.status = RunStatus.STOPPED if totals.stop_reason else RunStatus.FINISHED
    run.stop_reason = totals.stop_reason
    run.finished_at = timezone.now()
    run.requests, run.failures, run.bytes_received = window.requests, window.failures, window.bytes
    run.rps = window.requests / max(totals.seconds, 0.001)
    run.p50_ms, run.p95_ms, run.p99_ms = window.percentile_ms(50), window.percentile_ms(95), window.percentile_ms(99)
    run.max_ms = window.percentile_ms(100)
    run.failures_by_kind = totals.failures_by_kind
    with transaction.atomic():
        run.save()
        RunSecond.objects.bulk_create(seconds)
    redis.delete(stop_key)
    try:
        broadcast(
            "loadtest-progress", {"run": {**_progress(run, len(seconds), 0, totals, run.status, run.stop_reason)}}
        )
    except Exception as exc:  # progress is best effort
        logger.debug("progress not published: %s", exc)
    return run


def _limit_reason(config: dict[str, Any], totals: Totals) -> str | None:
    window = totals.window
    if not window.requests:
        return None
    error_rate = window.failures / window.requests
    if config.get("max_error_rate") is not None and window.requests >= 20 and error_rate > config["max_error_rate"]:
        return f"error rate {error_rate:.0%} exceeded {config['max_error_rate']:.0%}"
    p95 = window.percentile_ms(95)
    if (
        config.get("max_p95_ms") is not None
        and p95 is not None
        and window.requests >= 20
        and p95 > config["max_p95_ms"]
    ):
        return f"p95 latency {p95:.0f} ms exceeded {config['max_p95_ms']:.0f} ms"
    return None


def compare(a: LoadTestRun, b: LoadTestRun) -> dict[str, Any]:
    """``b`` against baseline ``a``: changes and a regression verdict (p95 +10 %, errors +1 pt)."""

    def change(x: float | None, y: float | None) -> float | None:
        return None if not x or y is None else (y - x) / x * 100

    error_a = a.failures / a.requests if a.requests else 0.0
    error_b = b.failures / b.requests if b.requests else 0.0
    p95 = change(a.p95_ms, b.p95_ms)
    verdict = "regression" if (p95 is not None and p95 > 10) or error_b - error_a > 0.01 else "ok"
    return {"p95_change_percent": p95, "rps_change_percent": change(a.rps, b.rps),
            "error_rate_change_points": (error_b - error_a) * 100, "verdict": verdict}  # fmt: skip

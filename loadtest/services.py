"""Load-test runs: validate (allowlist first), queue, execute, stop, summarise."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.forms.models import model_to_dict
from django.utils import timezone

from lib import outbound
from lib.outbound import OutboundRefusedError, check_url
from lib.realtime import broadcast
from lib.redis import get_redis, key
from loadtest.choices import PRESETS, RunStatus
from loadtest.engine import Window
from loadtest.models import LoadTestRun, RunSecond, Scenario
from loadtest.shards import ProcessShards, ShardFailedError, ShardReport, Shards, ThreadShard, usable_processes

logger = logging.getLogger(__name__)
CONFIG_FIELDS = [
    "target_url",
    "endpoints",
    "users",
    "spawn_rate",
    "duration_seconds",
    "think_time_ms",
    "think_mode",
    "throughput_per_user",
    "request_timeout_ms",
    "payload_bytes",
    "client_delay_ms",
    "max_error_rate",
    "max_p95_ms",
    "max_rps",
    "max_cpu_percent",
    "max_memory_percent",
    "processes",
]


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
    """Emergency stop: a running run's shards see the flag within ~100 ms; a queued run never starts."""
    if LoadTestRun.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(
        status=RunStatus.STOPPED, stop_reason="stopped by a user before it started", finished_at=timezone.now()
    ):
        run.refresh_from_db()
        _publish(progress_payload(run))
        return run
    if LoadTestRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).exists():
        get_redis().set(_stop_key(run.pk), 1, ex=3600)
    run.refresh_from_db()
    return run


def _host_reason(config: dict[str, Any]) -> str | None:
    from monitoring.store.query import latest_value

    checks = (
        ("max_cpu_percent", "system_cpu_percent", "host CPU"),
        ("max_memory_percent", "system_memory_used_percent", "host memory"),
    )
    for name, metric, label in checks:
        limit = config.get(name)
        if limit is None:
            continue
        value = latest_value(metric, max_age_seconds=30)
        if value is not None and value > limit:
            return f"{label} at {value:.0f}% exceeded {limit:.0f}%"
    return None


def _window_figures(window: Window) -> dict[str, Any]:
    return {
        "requests": window.requests,
        "failures": window.failures,
        "p50_ms": window.percentile_ms(50),
        "p95_ms": window.percentile_ms(95),
        "p99_ms": window.percentile_ms(99),
    }


def progress_payload(run: LoadTestRun, **live: Any) -> dict[str, Any]:
    """The ``loadtest-progress`` frame's ``run``: the stored totals, or ``live`` figures while running."""
    payload = {
        "id": run.pk,
        "status": run.status,
        "started_at": run.started_at.timestamp() if run.started_at else None,
        "elapsed": run.seconds.count() if run.finished_at else 0,
        "users": 0,
        "rps": run.rps,
        "requests": run.requests,
        "failures": run.failures,
        "p50_ms": run.p50_ms,
        "p95_ms": run.p95_ms,
        "p99_ms": run.p99_ms,
        "stop_reason": run.stop_reason,
    }
    payload.update(live)
    return payload


def _publish(payload: dict[str, Any]) -> None:
    try:
        broadcast("loadtest-progress", {"run": payload})
    except Exception as exc:  # progress is best effort; the run goes on
        logger.debug("progress not published: %s", exc)


class _Recorder:
    """Turns each merged second into a RunSecond row, a safety check and a progress frame."""

    def __init__(self, run: LoadTestRun, config: dict[str, Any]) -> None:
        self.run, self.config = run, config
        self.cumulative = Window()
        self.last_second = 0

    def second(self, second: int, reports: list[ShardReport], check: bool) -> str | None:
        window = Window()
        for report in reports:
            window.merge(report.window)
        users = sum(report.users for report in reports)
        self.cumulative.merge(window)
        self.last_second = max(self.last_second, second)
        figures = _window_figures(window)
        RunSecond.objects.create(run=self.run, second=second, users=users, **figures)
        reason = (_limit_reason(self.config, self.cumulative) or _host_reason(self.config)) if check else None
        cumulative = self.cumulative
        _publish(
            progress_payload(
                self.run,
                elapsed=second,
                users=users,
                rps=cumulative.requests / max(second, 1),
                stop_reason=reason or "",
                window=figures,
                **_window_figures(cumulative),
            )
        )
        return reason


@dataclass
class _Outcome:
    window: Window
    failures_by_kind: dict[str, int]
    seconds: float
    stop_reason: str


def _coordinate(run: LoadTestRun, shards: Shards, stop_key: str) -> _Outcome:
    """Merge the shards' seconds in order, apply the safety limits and stops, until every shard ends."""
    config = run.config
    redis = get_redis()
    recorder = _Recorder(run, config)
    pending: dict[int, list[ShardReport]] = {}
    reached = [0] * shards.count
    ended: dict[int, ShardReport] = {}
    next_second, reason = 1, ""
    timeout = float(config.get("request_timeout_ms") or 10_000) / 1000
    deadline = time.monotonic() + float(config["duration_seconds"]) + timeout + 60
    while len(ended) < shards.count:
        for report in shards.poll(0.1):
            if report.error:
                raise ShardFailedError(report.error if shards.count == 1 else f"shard {report.shard}: {report.error}")
            if report.second is None:
                ended[report.shard] = report
            else:
                pending.setdefault(report.second, []).append(report)
                reached[report.shard] = max(reached[report.shard], report.second)
        # A second is complete once every shard still running has reported it.
        while next_second in pending and all(reached[i] >= next_second or i in ended for i in range(shards.count)):
            found = recorder.second(next_second, pending.pop(next_second), check=not reason)
            if found:
                reason = found
                shards.stop()
            next_second += 1
        if not reason and redis.exists(stop_key):
            reason = "stopped by a user"
            shards.stop()
        shards.check()
        if time.monotonic() > deadline:
            raise ShardFailedError("the run did not end in time")
    for second in sorted(pending):  # the shards' last, partial seconds
        recorder.second(second, pending[second], check=False)
    window, failures_by_kind = Window(), {}
    for report in ended.values():
        window.merge(report.window)
        for kind, count in report.failures_by_kind.items():
            failures_by_kind[kind] = failures_by_kind.get(kind, 0) + count
    seconds = max(report.seconds for report in ended.values())
    return _Outcome(window, failures_by_kind, seconds, reason)


def _fail(run: LoadTestRun, reason: str) -> LoadTestRun:
    run.status, run.stop_reason = RunStatus.FAILED, reason[:300]
    run.finished_at = timezone.now()
    run.save()
    _publish(progress_payload(run))
    return run


def execute_run(run_id: int) -> LoadTestRun:
    """Run a queued load test to its end (called by the Celery task)."""
    if not LoadTestRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
        status=RunStatus.RUNNING, started_at=timezone.now()
    ):
        return LoadTestRun.objects.get(pk=run_id)  # already taken, or stopped while queued
    run = LoadTestRun.objects.get(pk=run_id)
    stop_key = _stop_key(run_id)
    redis = get_redis()
    redis.delete(stop_key)  # a flag can only be meant for this run once it is running
    try:
        check_target(run.config["target_url"])  # the allowlist may have changed since the run was queued
    except RunRefusedError as exc:
        return _fail(run, str(exc))
    count = usable_processes(run.config.get("processes"), run.config["users"])
    config = {**run.config, "outbound": outbound.Policy.from_settings(allow_self=True).as_dict()}
    shards: Shards = ProcessShards(config, run_id, count, stop_key) if count > 1 else ThreadShard(config, run_id)
    try:
        shards.start()
        run.started_at, run.processes = datetime.fromtimestamp(shards.started_at, UTC), count
        run.save(update_fields=["started_at", "processes"])
        outcome = _coordinate(run, shards, stop_key)
    except Exception as exc:
        logger.exception("load test %s failed", run_id)
        return _fail(run, str(exc) if isinstance(exc, ShardFailedError) else f"{type(exc).__name__}: {exc}")
    finally:
        shards.close()
        redis.delete(stop_key)
    window = outcome.window
    run.status = RunStatus.STOPPED if outcome.stop_reason else RunStatus.FINISHED
    run.stop_reason = outcome.stop_reason
    run.finished_at = timezone.now()
    run.requests, run.failures, run.bytes_received = window.requests, window.failures, window.bytes
    run.rps = window.requests / max(outcome.seconds, 0.001)
    run.p50_ms, run.p95_ms, run.p99_ms = window.percentile_ms(50), window.percentile_ms(95), window.percentile_ms(99)
    run.max_ms = window.percentile_ms(100)
    run.failures_by_kind = outcome.failures_by_kind
    run.save()
    _publish(progress_payload(run))
    return run


def _limit_reason(config: dict[str, Any], window: Window) -> str | None:
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
    return {
        "p95_change_percent": p95,
        "rps_change_percent": change(a.rps, b.rps),
        "error_rate_change_points": (error_b - error_a) * 100,
        "verdict": verdict,
    }

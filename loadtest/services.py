"""Load-test runs: presets, the allowlist check, queueing, the emergency stop, progress frames and
comparison. Executing a run is loadtest.runner's job."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.forms.models import model_to_dict

from lib.outbound import OutboundRefusedError, check_url
from lib.realtime import broadcast
from lib.redis import get_redis, key
from lib.tasks import enqueue_after_commit
from loadtest.choices import PRESETS, RunStatus
from loadtest.models import LoadTestRun, Scenario
from monitoring import topics

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


class RunBusyError(RunRefusedError):
    """Too many runs at once: try again later."""


def apply_preset(fields: dict[str, Any]) -> dict[str, Any]:
    """The preset's values, overridden by anything given explicitly."""
    name = fields.get("preset")
    preset = PRESETS.get(name, {}) if isinstance(name, str) else {}  # a wrong type is the serializer's to refuse
    return {**preset, **fields}


def check_target(url: str) -> None:
    try:
        check_url(url, allow_self=True)
    except OutboundRefusedError as exc:
        raise RunRefusedError(f"target refused: {exc}") from None


def start_run(scenario: Scenario, user: Any) -> LoadTestRun:
    """Queue a run of ``scenario`` — refused before any request if the target is not allowed."""
    check_target(scenario.target_url)
    busy = LoadTestRun.objects.filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).count()
    if busy >= settings.LOADTEST_MAX_CONCURRENT_RUNS:
        raise RunBusyError(
            f"{busy} load tests are queued or running (at most {settings.LOADTEST_MAX_CONCURRENT_RUNS} at once, "
            "LOADTEST_MAX_CONCURRENT_RUNS); wait for one to finish or stop one"
        )
    config = {k: v for k, v in model_to_dict(scenario).items() if k in CONFIG_FIELDS}
    run = LoadTestRun.objects.create(scenario=scenario if scenario.pk else None, config=config, created_by=user)
    enqueue_after_commit("loadtest.tasks.run_load_test", run.pk)
    return run


def stop_key(run_id: int) -> str:
    """The run's Redis stop flag: its shards poll it (emergency stop, safety limits)."""
    return key(f"loadtest:stop:{run_id}")


def stop_run(run: LoadTestRun) -> LoadTestRun:
    """Emergency stop: a running run's shards see the flag within ~100 ms; a queued run never starts."""
    if run.cancel_if_queued():
        publish_progress(progress_payload(run))
        return run
    if LoadTestRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).exists():
        get_redis().set(stop_key(run.pk), 1, ex=3600)
    run.refresh_from_db()
    return run


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


def publish_progress(payload: dict[str, Any]) -> None:
    """One ``loadtest-progress`` frame (best effort: a run never fails for its progress)."""
    try:
        broadcast(topics.LOADTEST_PROGRESS, {"run": payload})
    except Exception as exc:  # progress is best effort; the run goes on
        logger.debug("progress not published: %s", exc)


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

"""Executing a run: start its shards, merge their seconds, apply the safety limits and stops,
record every second and the totals. Called by the Celery task (loadtest.tasks)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from lib import outbound
from lib.redis import get_redis
from loadtest.models import LoadTestRun, RunSecond
from loadtest.services import RunRefusedError, check_target, progress_payload, publish_progress, stop_key
from loadtest.shards import ProcessShards, ShardFailedError, ShardReport, Shards, ThreadShard, usable_processes
from loadtest.tally import Tally
from monitoring.store.query import latest_value

logger = logging.getLogger(__name__)

# A safety limit on errors or p95 judges a run only once it has this many requests.
MIN_REQUESTS_TO_JUDGE = 20
# How long past its duration and one request timeout a run may take before it counts as stuck.
END_GRACE_SECONDS = 60


def _host_reason(config: dict[str, Any]) -> str | None:
    """Why the host guard stops the run (host CPU or memory over its limit), or None."""
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


def _limit_reason(config: dict[str, Any], tally: Tally) -> str | None:
    """Why the run's own figures so far stop it (error rate or p95 over its limit), or None."""
    if tally.requests < MIN_REQUESTS_TO_JUDGE:
        return None
    error_rate = tally.failures / tally.requests
    if config.get("max_error_rate") is not None and error_rate > config["max_error_rate"]:
        return f"error rate {error_rate:.0%} exceeded {config['max_error_rate']:.0%}"
    p95 = tally.percentile_ms(95)
    if config.get("max_p95_ms") is not None and p95 is not None and p95 > config["max_p95_ms"]:
        return f"p95 latency {p95:.0f} ms exceeded {config['max_p95_ms']:.0f} ms"
    return None


def _figures(tally: Tally) -> dict[str, Any]:
    return {
        "requests": tally.requests,
        "failures": tally.failures,
        "p50_ms": tally.percentile_ms(50),
        "p95_ms": tally.percentile_ms(95),
        "p99_ms": tally.percentile_ms(99),
    }


class _Recorder:
    """Turns each merged second into a RunSecond row, a safety check and a progress frame."""

    def __init__(self, run: LoadTestRun) -> None:
        self.run = run
        self.cumulative = Tally()

    def second(self, second: int, reports: list[ShardReport], check: bool) -> str | None:
        tally = Tally()
        for report in reports:
            tally.merge(report.tally)
        users = sum(report.users for report in reports)
        self.cumulative.merge(tally)
        figures = _figures(tally)
        RunSecond.objects.create(run=self.run, second=second, users=users, **figures)
        config = self.run.config
        reason = (_limit_reason(config, self.cumulative) or _host_reason(config)) if check else None
        publish_progress(
            progress_payload(
                self.run,
                elapsed=second,
                users=users,
                rps=self.cumulative.requests / max(second, 1),
                stop_reason=reason or "",
                window=figures,  # the frame's name for this second's figures (run.js reads it)
                **_figures(self.cumulative),
            )
        )
        return reason


@dataclass
class Outcome:
    """A run's end as its shards reported it."""

    tally: Tally
    failures_by_kind: dict[str, int]
    seconds: float
    stop_reason: str


def _outcome(ended: dict[int, ShardReport], reason: str) -> Outcome:
    tally, failures_by_kind = Tally(), {}
    for report in ended.values():
        tally.merge(report.tally)
        for kind, count in report.failures_by_kind.items():
            failures_by_kind[kind] = failures_by_kind.get(kind, 0) + count
    return Outcome(tally, failures_by_kind, max(report.seconds for report in ended.values()), reason)


def _coordinate(run: LoadTestRun, shards: Shards, flag: str) -> Outcome:
    """Merge the shards' seconds in order, apply the safety limits and stops, until every shard ends."""
    config = run.config
    redis = get_redis()
    recorder = _Recorder(run)
    pending: dict[int, list[ShardReport]] = {}
    reached = [0] * shards.count
    ended: dict[int, ShardReport] = {}
    next_second, reason = 1, ""
    timeout = float(config.get("request_timeout_ms") or 10_000) / 1000
    deadline = time.monotonic() + float(config["duration_seconds"]) + timeout + END_GRACE_SECONDS
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
        if not reason and redis.exists(flag):
            reason = "stopped by a user"
            shards.stop()
        shards.check()
        if time.monotonic() > deadline:
            raise ShardFailedError("the run did not end in time")
    for second in sorted(pending):  # the shards' last, partial seconds
        recorder.second(second, pending[second], check=False)
    return _outcome(ended, reason)


def _fail(run: LoadTestRun, reason: str) -> LoadTestRun:
    run.fail(reason)
    publish_progress(progress_payload(run))
    return run


def execute_run(run_id: int) -> LoadTestRun:
    """Run a queued load test to its end (called by the Celery task)."""
    run = LoadTestRun.objects.get(pk=run_id)
    if not run.start():
        return run  # already taken, or stopped while queued
    flag = stop_key(run_id)
    redis = get_redis()
    redis.delete(flag)  # a flag can only be meant for this run once it is running
    try:
        check_target(run.config["target_url"])  # the allowlist may have changed since the run was queued
    except RunRefusedError as exc:
        return _fail(run, str(exc))
    count = usable_processes(run.config.get("processes"), run.config["users"])
    config = {**run.config, "outbound": outbound.Policy.from_settings(allow_self=True).as_dict()}
    shards: Shards = ProcessShards(config, run_id, count, flag) if count > 1 else ThreadShard(config, run_id)
    try:
        shards.start()
        run.shards_started(shards.started_at, count)
        outcome = _coordinate(run, shards, flag)
    except Exception as exc:
        logger.exception("load test %s failed", run_id)
        return _fail(run, str(exc) if isinstance(exc, ShardFailedError) else f"{type(exc).__name__}: {exc}")
    finally:
        shards.close()
        redis.delete(flag)
    run.finish(outcome.tally, outcome.seconds, outcome.failures_by_kind, outcome.stop_reason)
    publish_progress(progress_payload(run))
    return run

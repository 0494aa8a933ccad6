"""Where a run's load comes from: one event loop on a thread, or several child processes.

A run is split into shards (its users shared out, and its spawn rate and RPS cap with them).
Each shard runs ``loadtest.engine.run_load`` and reports every second's tally, then its end.
The coordinator (``loadtest.runner``) reads the reports through one small interface,
``Shards``, merges them second by second and tells the shards to stop.

- ``ThreadShard`` (``processes`` = 1): the engine on a thread of the Celery worker; reports go
  through a queue as ``Tally`` objects.
- ``ProcessShards`` (``processes`` > 1): ``python -m loadtest.shard_process`` children, each
  with its own interpreter and event loop, so the load uses several cores. Reports go through
  a Redis list as JSON with the HDR histogram in its compressed base64 encoding; the run's
  Redis stop flag stops every child (emergency stop and safety limits alike), and a child
  also stops when its parent dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from django.conf import settings

from lib.redis import get_redis, key
from loadtest.engine import Totals, run_load
from loadtest.tally import Tally

logger = logging.getLogger(__name__)
READY_TIMEOUT_SECONDS = 30.0


class ShardFailedError(RuntimeError):
    """A shard could not run; the message says which and why (shown as the run's stop reason)."""


@dataclass
class ShardReport:
    """One shard's second (``second`` set) or its end (``second`` None: its totals, or ``error``)."""

    shard: int
    second: int | None
    users: int = 0
    tally: Tally = field(default_factory=Tally)
    failures_by_kind: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    error: str = ""


class Shards(Protocol):
    count: int
    started_at: float  # epoch seconds at which the shards' first second began

    def start(self) -> None: ...
    def poll(self, timeout: float) -> list[ShardReport]: ...
    def stop(self) -> None: ...
    def check(self) -> None: ...
    def close(self) -> None: ...


def usable_processes(wanted: int | None, users: int) -> int:
    """``wanted`` capped by this machine's CPU count and by the users (each shard needs one)."""
    return max(1, min(int(wanted or 1), os.cpu_count() or 1, int(users)))


def split_config(config: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """The run's config for each of ``count`` shards: users, spawn rate and RPS cap shared out."""
    users = int(config["users"])
    spawn_rate = float(config.get("spawn_rate") or users)
    parts = []
    for index in range(count):
        share = users // count + (1 if index < users % count else 0)
        fraction = share / users
        part = {**config, "users": share, "spawn_rate": spawn_rate * fraction}
        if config.get("max_rps"):
            part["max_rps"] = float(config["max_rps"]) * fraction
        parts.append(part)
    return parts


class ThreadShard:
    """The whole run on one event loop in a thread of this process (``processes`` = 1).

    The calling thread stays free for the database and Redis work of each second: nothing
    synchronous runs on the event loop but the engine itself.
    """

    count = 1

    def __init__(self, config: dict[str, Any], run_id: int) -> None:
        self.reports: queue.Queue[ShardReport] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(config, run_id), name=f"loadtest-{run_id}", daemon=True)
        self.started_at = 0.0

    def start(self) -> None:
        self.started_at = time.time()
        self._thread.start()

    def _run(self, config: dict[str, Any], run_id: int) -> None:
        def on_second(second: int, users: int, tally: Tally, totals: Totals) -> None:
            self.reports.put(ShardReport(0, second, users, tally))

        try:
            totals = asyncio.run(run_load(config, run_id, on_second, self._stop.is_set))
        except Exception as exc:
            logger.exception("load test %s: the engine failed", run_id)
            self.reports.put(ShardReport(0, None, error=f"{type(exc).__name__}: {exc}"))
            return
        self.reports.put(ShardReport(0, None, totals.max_users, totals.tally, totals.failures_by_kind, totals.seconds))

    def poll(self, timeout: float) -> list[ShardReport]:
        try:
            reports = [self.reports.get(timeout=timeout)]
        except queue.Empty:
            return []
        with contextlib.suppress(queue.Empty):
            while True:
                reports.append(self.reports.get_nowait())
        return reports

    def stop(self) -> None:
        self._stop.set()

    def check(self) -> None:
        """Nothing to do: a thread always reports its end, even when the engine fails."""

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)


class ProcessShards:
    """``count`` child processes, each running its share of the users on its own event loop."""

    def __init__(self, config: dict[str, Any], run_id: int, count: int, stop_key: str) -> None:
        self.count = count
        self.config, self.run_id, self.stop_key = config, run_id, stop_key
        self.redis = get_redis()
        base = key(f"loadtest:shards:{run_id}")
        self.reports_key, self.go_key = f"{base}:reports", f"{base}:go"
        self.processes: list[subprocess.Popen[bytes]] = []
        self.stderr: list[IO[bytes]] = []
        self.ended: set[int] = set()
        self.started_at = 0.0

    def start(self) -> None:
        """Start the children, wait until each is ready, then give them one start time."""
        self.redis.delete(self.reports_key, self.go_key)
        for index, part in enumerate(split_config(self.config, self.count)):
            spec = {
                "config": part,
                "run_id": self.run_id,
                "shard": index,
                "redis_url": settings.REDIS_URL,
                "reports_key": self.reports_key,
                "go_key": self.go_key,
                "stop_key": self.stop_key,
                "parent": os.getpid(),
            }
            stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
            process = subprocess.Popen(
                [sys.executable, "-m", "loadtest.shard_process"],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                cwd=settings.BASE_DIR,
            )
            self.processes.append(process)
            self.stderr.append(stderr)
            assert process.stdin is not None
            process.stdin.write(json.dumps(spec).encode())
            process.stdin.close()
        ready: set[int] = set()
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while len(ready) < self.count:
            for record in self._pop(0.1):
                if record.get("error"):
                    raise ShardFailedError(f"shard {record['shard']}: {record['error']}")
                if record.get("ready"):
                    ready.add(int(record["shard"]))
            self.check()
            if time.monotonic() > deadline:
                raise ShardFailedError(f"the shard processes did not start within {READY_TIMEOUT_SECONDS:.0f} s")
        self.started_at = time.time() + 0.2  # long enough for every child to read it first
        pipe = self.redis.pipeline(transaction=False)
        pipe.rpush(self.go_key, *[repr(self.started_at)] * self.count)
        pipe.expire(self.go_key, 600)
        pipe.execute()

    def _pop(self, timeout: float) -> list[dict[str, Any]]:
        raw = self.redis.lpop(self.reports_key, 1000)
        if not raw:
            item = self.redis.blpop([self.reports_key], timeout=timeout)
            raw = [item[1]] if item else []
        return [json.loads(entry) for entry in raw]

    def poll(self, timeout: float) -> list[ShardReport]:
        reports = []
        for record in self._pop(timeout):
            shard = int(record["shard"])
            if record.get("error"):
                reports.append(ShardReport(shard, None, error=str(record["error"])))
            elif record.get("second") is not None:
                reports.append(ShardReport(shard, int(record["second"]), int(record["users"]), Tally.from_json(record)))
            elif record.get("end"):
                self.ended.add(shard)
                reports.append(
                    ShardReport(
                        shard,
                        None,
                        int(record["users"]),
                        Tally.from_json(record),
                        dict(record["failures_by_kind"]),
                        float(record["seconds"]),
                    )
                )
        return reports

    def stop(self) -> None:
        """Raise the run's stop flag (unless a user already did): every child sees it within 100 ms."""
        self.redis.set(self.stop_key, "limit", ex=3600, nx=True)

    def check(self) -> None:
        """Raises when a child exited before reporting its end."""
        for index, process in enumerate(self.processes):
            code = process.poll()
            if code is not None and code != 0 and index not in self.ended:
                raise ShardFailedError(f"shard {index} exited with code {code}: {self._last_error(index)}")

    def _last_error(self, index: int) -> str:
        handle = self.stderr[index]
        handle.seek(0)
        lines = [line for line in handle.read().decode(errors="replace").splitlines() if line.strip()]
        return lines[-1][:200] if lines else "no output"

    def close(self) -> None:
        if any(process.poll() is None for process in self.processes):
            self.stop()
        deadline = time.monotonic() + 5
        for process in self.processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for handle in self.stderr:
            handle.close()
        self.redis.delete(self.reports_key, self.go_key)

"""The check scheduler: one asyncio loop in a thread of each Celery worker.

Every tick it leases the checks that are due (``services.claim_due``), runs each probe as its
own coroutine under its own timeout — so a hanging target delays nothing else — and stores
finished attempts in batches. Database work happens on one helper thread (the ORM is
synchronous), never on the event loop. Leases expire, so when a worker dies its checks fall
due for the others.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from django.db import close_old_connections
from django.utils import timezone

from checks import services
from checks.probes import PROBES, Result, Spec

logger = logging.getLogger(__name__)

TICK_SECONDS = 0.25
HEARTBEAT_SWEEP_SECONDS = 2.0


class Scheduler:
    def __init__(self, worker: str) -> None:
        self.worker = worker
        self.done: list[tuple[int, Result, datetime]] = []
        self.running: set[asyncio.Task[None]] = set()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checks-db")
        self.attempts = 0

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="checks-scheduler", daemon=True)
        self.thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout)
        self.db.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        asyncio.run(self.main())

    async def _db(self, fn: Any, *args: Any) -> Any:
        def call() -> Any:
            close_old_connections()
            return fn(*args)

        return await asyncio.get_running_loop().run_in_executor(self.db, call)

    async def main(self) -> None:
        last_sweep = 0.0
        while not self.stopping.is_set():
            try:
                await self.tick()
                if time.monotonic() - last_sweep >= HEARTBEAT_SWEEP_SECONDS:
                    last_sweep = time.monotonic()
                    await self._db(services.sweep_heartbeats)
            except Exception as exc:  # the database may be away for a moment: keep ticking
                logger.warning("check scheduler tick failed: %s", exc)
            await asyncio.sleep(TICK_SECONDS)
        for task in list(self.running):
            task.cancel()
        await self.flush()

    async def tick(self) -> None:
        await self.flush()
        claimed = await self._db(services.claim_due, self.worker, timezone.now())
        for spec, request in claimed:
            task = asyncio.create_task(self.attempt(spec, request))
            self.running.add(task)
            task.add_done_callback(self.running.discard)

    async def flush(self) -> None:
        if not self.done:
            return
        batch, self.done = self.done, []
        try:
            await self._db(services.record_results, batch, self.worker)
        except Exception:
            self.done = batch + self.done  # keep them for the next tick
            raise

    async def attempt(self, spec: Spec, request: dict[str, Any]) -> None:
        result, at = await run_probe(spec, request)
        # Looked up only now: a flush during the attempt replaced the list.
        self.done.append((spec.id, result, at))
        self.attempts += 1


async def run_probe(spec: Spec, request: dict[str, Any]) -> tuple[Result, datetime]:
    """One attempt under the check's timeout; a probe's own bug is a failed attempt."""
    at = timezone.now()
    started = time.perf_counter()
    try:
        result = await asyncio.wait_for(PROBES[spec.kind].run(spec, request), spec.timeout)
    except TimeoutError:
        result = Result(False, f"timed out after {spec.timeout:g} s", time.perf_counter() - started)
    except Exception as exc:
        logger.exception("probe of check %s failed", spec.id)
        result = Result(False, f"probe error: {type(exc).__name__}: {exc}"[:300])
    return result, at


_scheduler: dict[str, Scheduler] = {}


def start(worker: str) -> Scheduler:
    scheduler = _scheduler.get("current")
    if scheduler is None:
        scheduler = _scheduler["current"] = Scheduler(worker)
        scheduler.start()
    return scheduler


def stop() -> None:
    scheduler = _scheduler.pop("current", None)
    if scheduler is not None:
        scheduler.stop()

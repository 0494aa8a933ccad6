"""The load generator: asyncio users over one pooled aiohttp session, HDR histograms.

``run_load(config, run_id, on_second, should_stop)`` returns the totals. Every second it hands
``on_second`` that second's figures and asks it whether a safety limit was crossed; it checks
``should_stop`` every 100 ms, so an emergency stop takes effect within a fraction of a second.
One call is one shard of a run: ``loadtest.services`` runs it in a thread (one process) or in
``loadtest.shard`` child processes and merges their per-second windows. Both callbacks must be
quick and must not touch the database (they run on the event loop).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from hdrh.histogram import HdrHistogram

from lib import outbound

RUN_HEADER = "X-Seismo-Loadtest-Run"


def _histogram() -> HdrHistogram:
    return HdrHistogram(1, 120_000_000, 3)  # microseconds, up to 2 minutes, 3 significant digits


@dataclass
class Window:
    requests: int = 0
    failures: int = 0
    bytes: int = 0
    histogram: HdrHistogram = field(default_factory=_histogram)

    def record(self, micros: int, ok: bool, size: int) -> None:
        self.requests += 1
        self.bytes += size
        if not ok:
            self.failures += 1
        self.histogram.record_value(max(1, min(micros, 120_000_000)))

    def percentile_ms(self, p: float) -> float | None:
        if not self.requests:
            return None
        return self.histogram.get_value_at_percentile(p) / 1000

    def merge(self, other: Window) -> None:
        """Add ``other`` in: HDR histograms merge exactly, so merged percentiles stay right."""
        self.requests += other.requests
        self.failures += other.failures
        self.bytes += other.bytes
        if other.requests:
            self.histogram.add(other.histogram)

    def to_json(self) -> dict[str, Any]:
        """Counts and the histogram in HdrHistogram's compressed base64 form (for another process)."""
        return {
            "requests": self.requests,
            "failures": self.failures,
            "bytes": self.bytes,
            "hist": self.histogram.encode().decode() if self.requests else "",
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Window:
        window = cls(requests=int(data["requests"]), failures=int(data["failures"]), bytes=int(data["bytes"]))
        if data.get("hist"):
            window.histogram.decode_and_add(data["hist"])
        return window


@dataclass
class Totals:
    window: Window = field(default_factory=Window)
    failures_by_kind: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    stop_reason: str = ""
    max_users: int = 0


class _Limiter:
    """Caps requests per second across all users (the max_rps safety limit)."""

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self.next_at = time.monotonic()

    async def wait(self) -> None:
        if not self.rate:
            return
        now = time.monotonic()
        self.next_at = max(self.next_at + 1 / self.rate, now)
        delay = self.next_at - now
        if delay > 0:
            await asyncio.sleep(delay)


def _picker(endpoints: list[dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    cumulative = []
    total = 0.0
    for endpoint in endpoints:
        total += float(endpoint.get("weight", 1))
        cumulative.append(total)
    return lambda: endpoints[bisect.bisect_right(cumulative, random.random() * total)]


def _pacing(config: dict[str, Any]) -> float:
    """Seconds between one user's iteration starts in constant-throughput mode, else 0."""
    rate = float(config.get("throughput_per_user") or 0)
    return 1 / rate if config.get("think_mode") == "constant_throughput" and rate > 0 else 0.0


async def run_load(
    config: dict[str, Any],
    run_id: int,
    on_second: Callable[[int, int, Window, Totals], str | None],
    should_stop: Callable[[], bool],
    start_at: float | None = None,
) -> Totals:
    base = config["target_url"].rstrip("/")
    pick = _picker(config["endpoints"])
    users_wanted = int(config["users"])
    spawn_rate = max(float(config.get("spawn_rate") or users_wanted), 0.1)
    think = float(config.get("think_time_ms") or 0) / 1000
    between = config.get("think_mode") == "between"
    pacing = _pacing(config)
    delay = float(config.get("client_delay_ms") or 0) / 1000
    payload = b"x" * int(config.get("payload_bytes") or 0)
    timeout = aiohttp.ClientTimeout(total=float(config.get("request_timeout_ms") or 10_000) / 1000)
    limiter = _Limiter(config.get("max_rps"))
    totals = Totals()
    current = Window()
    stop = asyncio.Event()
    headers = {RUN_HEADER: str(run_id)}

    async def user(session: aiohttp.ClientSession) -> None:
        # Constant throughput keeps to a schedule: each wait ends at the planned start of the
        # next iteration, so a sleep that overshoots does not slow the user down; an iteration
        # that ran past its slot starts the next one at once, without catching up (as Locust).
        # Each user starts at a random point of its first interval: users spawned on the
        # engine's 100 ms ticks would otherwise share one phase and fire in bursts.
        if pacing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), random.uniform(0, pacing))
        planned = time.monotonic()
        while not stop.is_set():
            endpoint = pick()
            await limiter.wait()
            if delay:
                await asyncio.sleep(delay)
            if stop.is_set():
                return  # waited past the end of the run: send nothing more
            method = str(endpoint.get("method", "GET")).upper()
            body = endpoint.get("body")
            data = (
                payload
                if payload and method in ("POST", "PUT", "PATCH")
                else (body.encode() if isinstance(body, str) else None)
            )
            started = time.perf_counter()
            ok, size, kind = False, 0, ""
            try:
                async with session.request(
                    method,
                    base + str(endpoint.get("path", "/")),
                    data=data,
                    headers={**headers, **(endpoint.get("headers") or {})},
                    allow_redirects=False,  # a 3xx is the target's answer; never a new hop
                ) as response:
                    content = await response.read()
                    size = len(content)
                    ok = response.status < 400
                    kind = "" if ok else f"HTTP {response.status}"
            except asyncio.CancelledError:
                raise
            except (aiohttp.ClientError, TimeoutError) as exc:
                kind = type(exc).__name__
            micros = int((time.perf_counter() - started) * 1_000_000)
            current.record(micros, ok, size)
            totals.window.record(micros, ok, size)
            if kind:
                totals.failures_by_kind[kind] = totals.failures_by_kind.get(kind, 0) + 1
            if pacing:
                planned = max(planned + pacing, time.monotonic())
                wait = planned - time.monotonic()
            else:
                wait = think * (random.uniform(0.5, 1.5) if between else 1.0)
            if wait > 0 and not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)

    # The worker puts its outbound policy in the config (shard processes have no settings).
    policy = outbound.Policy.from_dict(config["outbound"]) if "outbound" in config else None
    connector = outbound.aiohttp_connector(allow_self=True, policy=policy, limit=0, force_close=False)
    if start_at is not None:  # shards of one run start together, so their seconds line up
        await asyncio.sleep(max(0.0, start_at - time.time()))
    started = time.monotonic()
    tasks: list[asyncio.Task[None]] = []
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        second = 0
        next_tick = started + 1
        while not stop.is_set():
            elapsed = time.monotonic() - started
            target = min(users_wanted, int(spawn_rate * elapsed) + 1)
            while len(tasks) < target:
                tasks.append(asyncio.create_task(user(session)))
            totals.max_users = max(totals.max_users, len(tasks))
            if should_stop():
                totals.stop_reason = "stopped by a user"
                break
            if elapsed >= float(config["duration_seconds"]):
                break
            if time.monotonic() >= next_tick:
                second += 1
                window, current = current, Window()
                reason = on_second(second, len(tasks), window, totals)
                next_tick += 1
                if reason:
                    totals.stop_reason = reason
                    break
            await asyncio.sleep(0.1)
        stop.set()
        # Requests already sent finish and are counted (the target saw them); an emergency or
        # safety stop waits half a second at most, the end of the run one request timeout.
        grace = 0.5 if totals.stop_reason else timeout.total or 10.0
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if current.requests:
            on_second(second + 1, len(tasks), current, totals)  # the last, partial second
    totals.seconds = time.monotonic() - started
    return totals

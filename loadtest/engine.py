"""The load generator: asyncio users over one pooled aiohttp session, HDR histograms.

``run_load(config, run_id, on_second, should_stop)`` returns the totals. Every second it hands
``on_second`` that second's tally and asks it whether a safety limit was crossed; it checks
``should_stop`` every 100 ms, so an emergency stop takes effect within a fraction of a second.
One call is one shard of a run: ``loadtest.shards`` runs it in a thread (one process) or in
``loadtest.shard_process`` children, and ``loadtest.runner`` merges their per-second tallies.
Both callbacks must be quick and must not touch the database (they run on the event loop).
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

from lib import outbound, outbound_clients
from loadtest.tally import Tally

RUN_HEADER = "X-Seismo-Loadtest-Run"
TICK_SECONDS = 0.1  # how often the shard spawns users and checks for a stop

OnSecond = Callable[[int, int, Tally, "Totals"], str | None]


@dataclass
class Totals:
    tally: Tally = field(default_factory=Tally)
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


@dataclass(frozen=True)
class Plan:
    """A shard's config, read once: what its users send, how many, and how they pace themselves."""

    base: str
    pick: Callable[[], dict[str, Any]]
    users: int
    spawn_rate: float
    duration: float
    think: float
    between: bool
    pacing: float
    delay: float
    payload: bytes
    timeout: aiohttp.ClientTimeout
    max_rps: float | None
    headers: dict[str, str]

    @classmethod
    def from_config(cls, config: dict[str, Any], run_id: int) -> Plan:
        users = int(config["users"])
        return cls(
            base=config["target_url"].rstrip("/"),
            pick=_picker(config["endpoints"]),
            users=users,
            spawn_rate=max(float(config.get("spawn_rate") or users), 0.1),
            duration=float(config["duration_seconds"]),
            think=float(config.get("think_time_ms") or 0) / 1000,
            between=config.get("think_mode") == "between",
            pacing=_pacing(config),
            delay=float(config.get("client_delay_ms") or 0) / 1000,
            payload=b"x" * int(config.get("payload_bytes") or 0),
            timeout=aiohttp.ClientTimeout(total=float(config.get("request_timeout_ms") or 10_000) / 1000),
            max_rps=config.get("max_rps"),
            headers={RUN_HEADER: str(run_id)},
        )

    def body_for(self, method: str, endpoint: dict[str, Any]) -> bytes | None:
        """The generated payload for writes when the scenario asks for one, else the endpoint's body."""
        if self.payload and method in ("POST", "PUT", "PATCH"):
            return self.payload
        body = endpoint.get("body")
        return body.encode() if isinstance(body, str) else None


class Counts:
    """What the users record into: the current second's tally (swapped out each second) and the totals."""

    def __init__(self) -> None:
        self.current = Tally()
        self.totals = Totals()

    def record(self, micros: int, ok: bool, size: int, failure: str) -> None:
        self.current.record(micros, ok, size)
        self.totals.tally.record(micros, ok, size)
        if failure:
            self.totals.failures_by_kind[failure] = self.totals.failures_by_kind.get(failure, 0) + 1

    def take_second(self) -> Tally:
        second, self.current = self.current, Tally()
        return second


class User:
    """One virtual user: pick an endpoint, send it, record the answer, wait — until the shard stops."""

    def __init__(
        self, plan: Plan, session: aiohttp.ClientSession, limiter: _Limiter, counts: Counts, stop: asyncio.Event
    ) -> None:
        self.plan, self.session, self.limiter, self.counts, self.stop = plan, session, limiter, counts, stop

    async def run(self) -> None:
        plan = self.plan
        # Each user starts at a random point of its first interval: users spawned on the
        # shard's 100 ms ticks would otherwise share one phase and fire in bursts.
        if plan.pacing:
            await self._sleep(random.uniform(0, plan.pacing))
        planned = time.monotonic()
        while not self.stop.is_set():
            endpoint = plan.pick()
            await self.limiter.wait()
            if plan.delay:
                await asyncio.sleep(plan.delay)
            if self.stop.is_set():
                return  # waited past the end of the run: send nothing more
            await self._send(endpoint)
            planned = await self._think(planned)

    async def _send(self, endpoint: dict[str, Any]) -> None:
        method = str(endpoint.get("method", "GET")).upper()
        started = time.perf_counter()
        ok, size, failure = False, 0, ""
        try:
            async with self.session.request(
                method,
                self.plan.base + str(endpoint.get("path", "/")),
                data=self.plan.body_for(method, endpoint),
                headers={**self.plan.headers, **(endpoint.get("headers") or {})},
                allow_redirects=False,  # a 3xx is the target's answer; never a new hop
            ) as response:
                size = len(await response.read())
                ok = response.status < 400
                failure = "" if ok else f"HTTP {response.status}"
        except asyncio.CancelledError:
            raise
        except (aiohttp.ClientError, TimeoutError) as exc:
            failure = type(exc).__name__
            # A refusal can be raised before any I/O (the outbound gate at connect): without a
            # yield here a user with no think time would spin and starve the shard's own loop,
            # which ends the run and hears the emergency stop.
            await asyncio.sleep(0)
        self.counts.record(int((time.perf_counter() - started) * 1_000_000), ok, size, failure)

    async def _think(self, planned: float) -> float:
        """Wait before the next iteration; returns its planned start.

        Constant throughput keeps to a schedule: each wait ends at the planned start of the next
        iteration, so a sleep that overshoots does not slow the user down; an iteration that ran
        past its slot starts the next one at once, without catching up (as Locust does).
        """
        plan = self.plan
        if plan.pacing:
            planned = max(planned + plan.pacing, time.monotonic())
            wait = planned - time.monotonic()
        else:
            wait = plan.think * (random.uniform(0.5, 1.5) if plan.between else 1.0)
        if wait > 0 and not self.stop.is_set():
            await self._sleep(wait)
        return planned

    async def _sleep(self, seconds: float) -> None:
        """Sleep, waking early when the shard stops."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), seconds)


class _Shard:
    """One shard's loop: spawn users at the spawn rate, hand over each second, stop on time or on demand."""

    def __init__(self, plan: Plan, session: aiohttp.ClientSession) -> None:
        self.plan, self.session = plan, session
        self.counts = Counts()
        self.stop = asyncio.Event()
        self.limiter = _Limiter(plan.max_rps)
        self.users: list[asyncio.Task[None]] = []

    def _spawn(self, elapsed: float) -> None:
        due = min(self.plan.users, int(self.plan.spawn_rate * elapsed) + 1)
        while len(self.users) < due:
            user = User(self.plan, self.session, self.limiter, self.counts, self.stop)
            self.users.append(asyncio.create_task(user.run()))
        self.counts.totals.max_users = max(self.counts.totals.max_users, len(self.users))

    async def drive(self, started: float, on_second: OnSecond, should_stop: Callable[[], bool]) -> int:
        """Run until the duration passes, a user stops it or ``on_second`` names a limit; returns
        the last whole second handed over."""
        totals = self.counts.totals
        second, next_tick = 0, started + 1
        while True:
            elapsed = time.monotonic() - started
            self._spawn(elapsed)
            if should_stop():
                totals.stop_reason = "stopped by a user"
                return second
            if elapsed >= self.plan.duration:
                return second
            if time.monotonic() >= next_tick:
                second += 1
                next_tick += 1
                reason = on_second(second, len(self.users), self.counts.take_second(), totals)
                if reason:
                    totals.stop_reason = reason
                    return second
            await asyncio.sleep(TICK_SECONDS)

    async def wind_down(self) -> None:
        """Requests already sent finish and are counted (the target saw them); an emergency or
        safety stop waits half a second at most, the end of the run one request timeout."""
        self.stop.set()
        if not self.users:
            return
        grace = 0.5 if self.counts.totals.stop_reason else self.plan.timeout.total or 10.0
        _, pending = await asyncio.wait(self.users, timeout=grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*self.users, return_exceptions=True)


async def run_load(
    config: dict[str, Any],
    run_id: int,
    on_second: OnSecond,
    should_stop: Callable[[], bool],
    start_at: float | None = None,
) -> Totals:
    plan = Plan.from_config(config, run_id)
    # The worker puts its outbound policy in the config (shard processes have no settings).
    policy = outbound.Policy.from_dict(config["outbound"]) if "outbound" in config else None
    connector = outbound_clients.aiohttp_connector(allow_self=True, policy=policy, limit=0, force_close=False)
    if start_at is not None:  # shards of one run start together, so their seconds line up
        await asyncio.sleep(max(0.0, start_at - time.time()))
    started = time.monotonic()
    async with aiohttp.ClientSession(connector=connector, timeout=plan.timeout) as session:
        shard = _Shard(plan, session)
        second = await shard.drive(started, on_second, should_stop)
        await shard.wind_down()
        last = shard.counts.current
        if last.requests:
            on_second(second + 1, len(shard.users), last, shard.counts.totals)  # the last, partial second
    totals = shard.counts.totals
    totals.seconds = time.monotonic() - started
    return totals

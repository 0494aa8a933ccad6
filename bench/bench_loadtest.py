"""Load generator: our engine vs Locust FastHttpUser on the same loopback target, same users.

1. Full speed (no waiting) against an instant ``/``: requests per second.
2. Fixed rate — both tools at the same request rate (each user ``RATE`` requests a second:
   our constant-throughput mode, Locust's ``constant_throughput``) against ``/slow``, which
   holds each request a known 10-200 ms distribution: their p50 / p95 / p99 side by side
   (Locust's from its final stats, whole milliseconds), and the target's own held-time percentiles as
   the floor both sit just above. Same rate, so neither tool's latency includes its own
   saturation; 5-50 ms, so Locust's rounding to whole ms costs under 5 %.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.common import Result
from lib.processes import free_port

BASE_DIR = Path(__file__).resolve().parent.parent
RATE = 10  # requests a second per user in the fixed-rate comparison
AGREEMENT = 0.10  # the goal: percentiles within 10 % of Locust's


def _ours(url: str, path: str, users: int, seconds: int, rate: float | None = None) -> dict[str, float]:
    from loadtest.engine import run_load

    config: dict[str, Any] = {
        "target_url": url,
        "endpoints": [{"method": "GET", "path": path}],
        "users": users,
        "spawn_rate": _spawn_rate(users, rate),
        "duration_seconds": seconds,
    }
    if rate:
        config |= {"think_mode": "constant_throughput", "throughput_per_user": rate}
    # The target is on loopback: allowlisted, as a user would for a private target.
    config["outbound"] = {"allowlist": ["127.0.0.1"], "self_names": [], "self_port": None}
    cpu = _cpu_seconds(resource.RUSAGE_SELF)
    totals = asyncio.run(run_load(config, 0, lambda *a: None, lambda: False))
    cpu = _cpu_seconds(resource.RUSAGE_SELF) - cpu
    window = totals.tally
    return {
        "cpu_s": cpu,
        "requests": window.requests,
        "rps": window.requests / totals.seconds,
        "p50": window.percentile_ms(50) or 0,
        "p95": window.percentile_ms(95) or 0,
        "p99": window.percentile_ms(99) or 0,
        "failures": window.failures,
    }


# Locust's own percentile function on its final stats (its CSV is a snapshot taken up to two
# seconds before the end); run apart because importing locust monkey-patches the process.
LOCUST_PERCENTILES = """
import json, sys
from locust.stats import calculate_response_time_percentile
entry = json.load(open(sys.argv[1]))[0]
times = {int(k): v for k, v in entry["response_times"].items()}
print(json.dumps({p: calculate_response_time_percentile(times, entry["num_requests"], p / 100) for p in (50, 95, 99)}))
"""


def _locust(url: str, user_class: str, users: int, seconds: int, rate: float | None = None) -> dict[str, float]:
    env = {**os.environ, "SEISMO_BENCH_RATE": str(rate or 1)}
    with tempfile.TemporaryDirectory() as tmp:
        stats = os.path.join(tmp, "stats.json")
        cpu = _cpu_seconds(resource.RUSAGE_CHILDREN)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(BASE_DIR / "bench" / "locustfile.py"),
                "--headless",
                "-u",
                str(users),
                "-r",
                str(_spawn_rate(users, rate)),
                "-t",
                f"{seconds}s",
                "--host",
                url,
                "--json-file",
                stats.removesuffix(".json"),
                "--only-summary",
                "--loglevel",
                "ERROR",
                user_class,
            ],
            cwd=BASE_DIR,
            env=env,
            check=False,
            capture_output=True,
            timeout=seconds + 60,
        )
        cpu = _cpu_seconds(resource.RUSAGE_CHILDREN) - cpu
        with open(stats) as handle:
            entry = json.load(handle)[0]
        percentiles = subprocess.run(
            [sys.executable, "-c", LOCUST_PERCENTILES, stats], check=True, capture_output=True, timeout=60
        )
    found = json.loads(percentiles.stdout)
    elapsed = max(entry["last_request_timestamp"] - entry["start_time"], 1e-4)  # as Locust computes req/s
    return {
        "cpu_s": cpu,
        "requests": entry["num_requests"],
        "rps": entry["num_requests"] / elapsed,
        "p50": float(found["50"]),
        "p95": float(found["95"]),
        "p99": float(found["99"]),
        "failures": entry["num_failures"],
    }


def _plain(url: str, users: int, seconds: int) -> dict[str, float]:
    """A third opinion with the least client machinery: one blocking http.client connection per
    thread, the same pacing and ramp, perf_counter around request + full body."""
    host, port = url.removeprefix("http://").split(":")
    latencies: list[float] = []
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def user() -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        planned = time.monotonic()
        while time.monotonic() < end:
            started = time.perf_counter()
            connection.request("GET", "/slow")
            connection.getresponse().read()
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
            planned = max(planned + 1 / RATE, time.monotonic())
            time.sleep(max(0.0, planned - time.monotonic()))
        connection.close()

    threads = []
    for _ in range(users):
        threads.append(threading.Thread(target=user, daemon=True))
        threads[-1].start()
        time.sleep(1 / _spawn_rate(users, RATE))
    for thread in threads:
        thread.join(seconds + 30)
    latencies.sort()

    def rank(p: float) -> float:
        return latencies[max(0, int(len(latencies) * p / 100 + 0.5) - 1)] * 1000

    return {"requests": len(latencies), "failures": 0, "cpu_s": 0.0, **{f"p{p}": rank(p) for p in (50, 95, 99)}}


def _cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _spawn_rate(users: int, rate: float | None) -> float:
    """Full speed: every user at once. Fixed rate: all tools ramp the same way, one user every
    61.8 ms — a golden-ratio share of the 100 ms pacing interval, so users spawned one after
    another start at well-spread phases of it instead of firing together (users spawned every
    100 ms would all share one phase and arrive in bursts, which queue on every event loop)."""
    return 1 / 0.0618 if rate else users


def _held(url: str) -> dict[str, float]:
    """The target's own view of the /slow requests since the last call (and a fresh start)."""
    with urllib.request.urlopen(url + "/stats", timeout=10) as response:
        return json.loads(response.read())


def _measured(tool: str, url: str, users: int, seconds: int) -> dict[str, float]:
    """One fixed-rate run of ``tool``, the target's own view of it, and the client's CPU per request."""
    _held(url)  # the target counts afresh
    if tool == "locust":
        figures = _locust(url, "Paced", users, seconds, RATE)
    elif tool == "plain":
        figures = _plain(url, users, seconds)
    else:
        figures = _ours(url, "/slow", users, seconds, RATE)
    held = _held(url)
    return {
        **figures,
        "cpu_us": figures["cpu_s"] / max(figures["requests"], 1) * 1e6,
        "served": held["count"],
        **{f"held_p{p}": held[f"p{p}"] for p in (50, 95, 99)},
    }


def _fixed_rate(url: str, users: int, seconds: int, rounds: int) -> list[Result]:
    """Both tools at ``users`` x RATE requests a second; rounds alternate which goes first."""
    runs: dict[str, list[dict[str, float]]] = {"ours": [], "locust": [], "plain": []}
    for index in range(rounds):
        for tool in ("locust", "ours") if index % 2 == 0 else ("ours", "locust"):
            runs[tool].append(_measured(tool, url, users, seconds))
    runs["plain"].append(_measured("plain", url, users, seconds))
    ours, theirs, plain = (
        {k: statistics.mean(r[k] for r in runs[tool]) for k in runs[tool][0]} for tool in ("ours", "locust", "plain")
    )
    rate = users * RATE
    results = [
        Result(
            f"{rate} req/s ({users} users x {RATE}/s, {seconds} s): requests per run",
            ours["requests"],
            "requests",
            "Locust constant_throughput",
            theirs["requests"],
            goal="same load ±5 %",
            met=abs(ours["requests"] / theirs["requests"] - 1) <= 0.05,
            notes=(
                f"the target served ours {ours['served']:.0f}, Locust's {theirs['served']:.0f}; client CPU per "
                f"request: ours {ours['cpu_us']:.0f} µs, Locust {theirs['cpu_us']:.0f} µs; "
                f"failures: ours {ours['failures']:.0f}, Locust {theirs['failures']:.0f}; mean of {rounds} "
                f"round(s)"
            ),
        )
    ]
    for p in (50, 95, 99):
        mine, locust = ours[f"p{p}"], theirs[f"p{p}"]
        difference = (mine - locust) / locust if locust else float("inf")
        results.append(
            Result(
                f"{rate} req/s: p{p} latency",
                mine,
                "ms",
                f"Locust p{p}",
                locust,
                goal="within 10 % of Locust",
                met=abs(difference) <= AGREEMENT,
                notes=(
                    f"difference {difference:+.1%}; above the target's own held time: ours "
                    f"{mine - ours[f'held_p{p}']:+.2f} ms, Locust {locust - theirs[f'held_p{p}']:+.2f} ms, "
                    f"plain http.client {plain[f'p{p}'] - plain[f'held_p{p}']:+.2f} ms"
                ),
            )
        )
    return results


def _client_library(url: str, users: int, seconds: float) -> dict[str, float]:
    """Why the engine uses aiohttp: the same closed loop of ``users`` concurrent requesters
    against the instant ``/``, once with an aiohttp session and once with an httpx client."""
    import aiohttp
    import httpx

    async def loop(fetch: Any) -> int:
        done = 0
        deadline = time.perf_counter() + seconds

        async def user() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                await fetch()
                done += 1

        await asyncio.gather(*(user() for _ in range(users)))
        return done

    async def with_aiohttp() -> int:
        connector = aiohttp.TCPConnector(limit=users)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def fetch() -> None:
                async with session.get(url + "/") as response:
                    await response.read()

            return await loop(fetch)

    async def with_httpx() -> int:
        limits = httpx.Limits(max_connections=users, max_keepalive_connections=users)
        async with httpx.AsyncClient(limits=limits) as client:

            async def fetch() -> None:
                (await client.get(url + "/")).read()

            return await loop(fetch)

    return {"aiohttp": asyncio.run(with_aiohttp()) / seconds, "httpx": asyncio.run(with_httpx()) / seconds}


def run(args: Any) -> list[Result]:
    users, seconds = (10, 5) if args.quick else (50, 15)
    paced_seconds, rounds = (8, 1) if args.quick else (15, 2)
    port = free_port()
    target = subprocess.Popen(
        [sys.executable, "-m", "bench.loadtest_target", str(port)], cwd=BASE_DIR, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        url = f"http://127.0.0.1:{port}"
        theirs = _locust(url, "Hammer", users, seconds)
        ours = _ours(url, "/", users, seconds)
        fixed = [result for paced_users in (10, 50) for result in _fixed_rate(url, paced_users, paced_seconds, rounds)]
        library = _client_library(url, users, 3 if args.quick else 8)
    finally:
        os.killpg(target.pid, signal.SIGTERM)
        target.wait(10)
    return [
        Result(
            f"requests/s, {users} users, {seconds} s, full speed",
            ours["rps"],
            "req/s",
            "Locust FastHttpUser",
            theirs["rps"],
            goal="≥1.0x Locust",
            met=ours["rps"] >= theirs["rps"],
            notes=f"failures: ours {ours['failures']:.0f}, Locust {theirs['failures']:.0f}",
        ),
        *fixed,
        Result(
            f"HTTP client library for the engine: aiohttp, {users} concurrent requesters, closed loop",
            library["aiohttp"],
            "req/s",
            "httpx.AsyncClient, same loop",
            library["httpx"],
            notes="the engine uses aiohttp: chosen by this figure",
        ),
    ]

"""The load-test benchmark's HTTP target: `python -m bench.loadtest_target PORT`.

- ``/`` answers at once (the full-speed throughput comparison).
- ``/slow`` holds each request 10 ms plus an exponential tail with an 8 ms mean (capped at
  200 ms): p50 ≈ 15.5 ms, p95 ≈ 34.0 ms, p99 ≈ 46.8 ms — the range where Locust's whole-ms
  rounding costs under 5 %, so both tools' percentiles can be compared with each other.
- ``/stats`` answers how many ``/slow`` requests the target served and the percentiles of the
  time it really held them (sleep overshoot included) — the target's own view, a floor for
  what any client can measure — then starts counting afresh and restarts the delays from the
  same seed, so every client measured after a ``/stats`` call meets the same delays in the
  same order (no sampling noise between the tools compared).
"""

from __future__ import annotations

import asyncio
import random
import sys
import time

from aiohttp import web

HELD: list[float] = []
SEED = 7
delays = random.Random(SEED)


async def ok(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def slow(request: web.Request) -> web.Response:
    started = time.perf_counter()
    await asyncio.sleep(min(0.010 + delays.expovariate(1 / 0.008), 0.2))
    HELD.append(time.perf_counter() - started)
    return web.Response(text="ok")


def _percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile in milliseconds."""
    if not values:
        return None
    return values[min(len(values) - 1, max(0, int(len(values) * p / 100 + 0.5) - 1))] * 1000


async def stats(request: web.Request) -> web.Response:
    held = sorted(HELD)
    HELD.clear()
    delays.seed(SEED)
    body = {"count": len(held), **{f"p{p}": _percentile(held, p) for p in (50, 95, 99)}}
    return web.json_response(body)


app = web.Application()
app.router.add_get("/", ok)
app.router.add_get("/slow", slow)
app.router.add_get("/stats", stats)

if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)

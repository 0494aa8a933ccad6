"""Load generator throughput: our engine vs Locust FastHttpUser, same target, users, duration."""

from __future__ import annotations

import asyncio
import csv
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import Result

BASE_DIR = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ours(url: str, users: int, seconds: int) -> dict[str, float]:
    from loadtest.engine import run_load

    config = {"target_url": url, "endpoints": [{"method": "GET", "path": "/"}], "users": users,
              "spawn_rate": users, "duration_seconds": seconds}  # fmt: skip
    totals = asyncio.run(run_load(config, 0, lambda *a: None, lambda: False))
    window = totals.window
    return {
        "rps": window.requests / totals.seconds,
        "p50": window.percentile_ms(50) or 0,
        "p95": window.percentile_ms(95) or 0,
        "p99": window.percentile_ms(99) or 0,
        "failures": window.failures,
    }


def _locust(url: str, users: int, seconds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, "run")
        subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(BASE_DIR / "bench" / "locustfile.py"), "--headless",
             "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--host", url, "--csv", prefix,
             "--only-summary", "--loglevel", "ERROR"],
            cwd=BASE_DIR, check=False, capture_output=True, timeout=seconds + 60,
        )  # fmt: skip
        with open(prefix + "_stats.csv") as handle:
            row = next(r for r in csv.DictReader(handle) if r["Name"] == "Aggregated")
    return {
        "rps": float(row["Requests/s"]),
        "p50": float(row["50%"]),
        "p95": float(row["95%"]),
        "p99": float(row["99%"]),
        "failures": float(row["Failure Count"]),
    }


def run(args: Any) -> list[Result]:
    users, seconds = (10, 5) if args.quick else (50, 15)
    port = _free_port()
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
        theirs = _locust(url, users, seconds)
        ours = _ours(url, users, seconds)
    finally:
        os.killpg(target.pid, signal.SIGTERM)
        target.wait(10)
    return [
        Result(
            f"requests/s, {users} users, {seconds} s",
            ours["rps"],
            "req/s",
            "Locust FastHttpUser",
            theirs["rps"],
            goal="≥1.0x Locust",
            met=ours["rps"] >= theirs["rps"],
            notes=f"failures: ours {ours['failures']:.0f}, Locust {theirs['failures']:.0f}",
        ),
        Result("p50 latency", ours["p50"], "ms", "Locust p50", theirs["p50"]),
        Result("p95 latency", ours["p95"], "ms", "Locust p95", theirs["p95"]),
        Result("p99 latency", ours["p99"], "ms", "Locust p99", theirs["p99"]),
    ]

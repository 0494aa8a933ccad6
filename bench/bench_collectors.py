"""Collector cost at default intervals: CPU and RSS of the Celery worker + beat with all
collectors on, against the same two processes with every collector switched off."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from bench.common import Result
from monitoring.models import Collector

BASE_DIR = Path(__file__).resolve().parent.parent


def _measure(seconds: float, data_dir: Path) -> tuple[float, float]:
    """(CPU % of one core, RSS MB) of worker + beat over ``seconds`` after a warm-up."""
    # The product's settings, as `make run` starts these processes: the test settings switch off
    # the connection pool, and without it every task and every check tick opens a new PostgreSQL
    # connection. This process's environment keeps the test run's key prefix and database.
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.base", "SEISMO_DATA_DIR": str(data_dir)}
    env.pop("DB_POOL", None)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "config.launcher", role],
            cwd=BASE_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for role in ("worker", "beat")
    ]
    try:
        time.sleep(8)  # start-up and imports are not the steady state
        handles = [psutil.Process(p.pid) for p in procs]
        before = [h.cpu_times() for h in handles]
        time.sleep(seconds)
        after = [h.cpu_times() for h in handles]
        cpu = sum((a.user + a.system) - (b.user + b.system) for a, b in zip(after, before, strict=True))
        rss = sum(h.memory_info().rss for h in handles) / 2**20
        return 100 * cpu / seconds, rss
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def run(args: Any) -> list[Result]:
    seconds = 6 if args.quick else 30
    data_dir = BASE_DIR / "var" / "bench"
    data_dir.mkdir(parents=True, exist_ok=True)
    from datetime import UTC, datetime

    from monitoring.models import RollupState

    # Earlier benchmarks leave days of samples behind: no rollup catch-up inside the measurement.
    RollupState.objects.update(watermark=datetime.now(UTC))
    Collector.objects.update(enabled=False)
    idle_cpu, idle_rss = _measure(seconds, data_dir)
    Collector.objects.update(enabled=True)
    cpu, rss = _measure(seconds, data_dir)
    return [
        Result(
            "worker + beat CPU, collectors on (1 s / 5 s / 30 s tiers)",
            cpu,
            "% of a core",
            "same processes, collectors off",
            idle_cpu,
            goal="≤1 % added",
            met=cpu - idle_cpu <= 1,
            notes=f"added {cpu - idle_cpu:.2f} %",
        ),
        Result(
            "worker + beat RSS, collectors on",
            rss,
            "MB",
            "collectors off",
            idle_rss,
            goal="≤150 MB",
            met=rss <= 150,
        ),
    ]

"""Ingest through the HTTP API (real daphne processes) vs a raw single-connection COPY.

Same machine, same run, same table shape: 1,000 series, 5,000-sample batches, 4 concurrent
clients, idempotent ingest (a second pass of a slice checks duplicates are dropped). Also
prints bytes per stored sample for raw samples and 1-minute rollups.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import psycopg
from django.db import connection

from bench.common import Result
from lib.processes import free_port, start_group, wait_port

BASE_DIR = Path(__file__).resolve().parent.parent
SERIES = 1000
BATCH = 5000
CLIENTS = 4


def _conninfo() -> dict[str, Any]:
    params = connection.get_connection_params()
    return {k: v for k, v in params.items() if k in ("host", "port", "user", "password", "dbname") and v}


def raw_copy_rate(samples: int) -> float:
    """Anchor: one connection COPYing (series, ts, value) text rows into a (series, ts)-keyed table."""
    with psycopg.connect(**_conninfo(), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_raw")
        conn.execute(
            "CREATE TABLE bench_raw (series_id bigint, ts timestamptz, value double precision, "
            "PRIMARY KEY (series_id, ts))"
        )
        start = int(time.time()) - 20 * 86400
        batches = []
        for b in range(samples // BATCH):
            buffer = io.StringIO()
            for i in range(BATCH):
                n = b * BATCH + i
                ts = datetime.fromtimestamp(start + n // SERIES, UTC).isoformat()
                buffer.write(f"{n % SERIES}\t{ts}\t{n * 0.5}\n")
            batches.append(buffer.getvalue())
        rates = []
        for _ in range(3):  # the median of three, into an empty table each time
            conn.execute("TRUNCATE bench_raw")
            began = time.perf_counter()
            for body in batches:
                with conn.transaction(), conn.cursor().copy("COPY bench_raw (series_id, ts, value) FROM STDIN") as copy:
                    copy.write(body)
            rates.append(samples / (time.perf_counter() - began))
        conn.execute("DROP TABLE bench_raw")
    return statistics.median(rates)


def _bodies(samples: int, start: float) -> list[bytes]:
    bodies = []
    for b in range(samples // BATCH):
        rows = []
        for i in range(BATCH):
            n = b * BATCH + i
            rows.append(
                {
                    "metric": "bench_ingest",
                    "labels": {"s": str(n % SERIES)},
                    "value": n * 0.5,
                    "ts": start + n // SERIES,
                }
            )
        bodies.append(orjson.dumps({"samples": rows}))
    return bodies


async def _post_all(url: str, token: str, bodies: list[bytes]) -> tuple[float, int]:
    import aiohttp

    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    failures = 0
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    async def client() -> None:
        nonlocal failures
        async with aiohttp.ClientSession(headers=headers) as session:
            while not queue.empty():
                body = queue.get_nowait()
                async with session.post(url, data=body) as response:
                    await response.read()
                    if response.status != 202:
                        failures += 1

    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return time.perf_counter() - began, failures


def _start_web(port: int, processes: int, checkout: Path = BASE_DIR) -> subprocess.Popen[bytes]:
    """The web of ``checkout`` (this one unless bench/compare.py asks for another) on ``port``."""
    env = {
        **os.environ,
        "PORT": str(port),
        "WEB_CONCURRENCY": str(processes),
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DEBUG": "0",
        "SECRET_KEY": "bench-" + "x" * 40,
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DB_POOL_SIZE": "8",
        # The web as `make run` runs it: test settings (this process) turn the pool off.
        "DB_POOL": "1",
    }
    # Its log is kept (var/bench-web.log): a request answered other than expected is explained there.
    log = (BASE_DIR / "var" / "bench-web.log").open("ab")
    python = checkout / ".venv" / "bin" / "python"
    argv = [str(python) if checkout != BASE_DIR and python.exists() else sys.executable, "-m", "config.launcher", "web"]
    proc = start_group(argv, env, log, cwd=checkout)
    wait_port(port)
    return proc


def _stored() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM monitoring_sample WHERE series_id IN "
            "(SELECT s.id FROM monitoring_series s JOIN monitoring_metric m ON m.id = s.metric_id "
            "WHERE m.name = 'bench_ingest')"
        )
        return cursor.fetchone()[0]


def _bytes_per_sample() -> tuple[float, float]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
            "WHERE p.relname = 'monitoring_sample'"
        )
        raw_bytes = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM monitoring_sample")
        raw_rows = cursor.fetchone()[0]
        cursor.execute("SELECT pg_total_relation_size('monitoring_rollup_1m'), count(*) FROM monitoring_rollup_1m")
        rollup_bytes, rollup_rows = cursor.fetchone()
    return raw_bytes / max(raw_rows, 1), rollup_bytes / max(rollup_rows, 1)


def run(args: Any) -> list[Result]:
    from django.contrib.auth.models import User

    from accounts.models import ApiToken
    from monitoring import rollups

    samples = 200_000 if args.quick else 5_000_000
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE monitoring_sample, monitoring_rollup_1m, monitoring_rollup_1h")
    user, _ = User.objects.get_or_create(username="bench-ingest", defaults={"is_superuser": True})
    _, token = ApiToken.issue(user, name="bench")
    anchor = raw_copy_rate(min(samples, 1_000_000))
    # Inside the hot window (raw partitions): older samples go to the late table that compaction
    # merges, which is not the path this figure is about.
    start = time.time() - samples // SERIES - 600
    bodies = _bodies(samples, start)
    results = []
    for processes in (1, 2):
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE monitoring_sample, monitoring_sample_late")
        port = free_port()
        web = _start_web(port, processes)
        try:
            url = f"http://127.0.0.1:{port}/api/v1/ingest/"
            elapsed, failures = asyncio.run(_post_all(url, token, bodies))
            _repeat, _ = asyncio.run(_post_all(url, token, bodies[: max(1, len(bodies) // 20)]))
        finally:
            os.killpg(web.pid, signal.SIGTERM)
            web.wait(30)
        rate = samples / elapsed
        stored = _stored()
        goal = "≥150,000/s and ≥1.0x COPY" if processes == 2 else "—"
        results.append(
            Result(
                f"HTTP ingest, {processes} daphne process(es), {CLIENTS} clients, {samples:,} samples",
                rate,
                "samples/s",
                "raw single-connection COPY",
                anchor,
                goal=goal,
                met=(rate >= 150_000 and rate >= anchor) if processes == 2 else None,
                notes=f"{failures} failed batches; stored {stored:,} (duplicates re-sent: stored once)",
            )
        )
        assert stored == samples, f"stored {stored} of {samples}"
    from monitoring.models import RollupState

    RollupState.objects.update_or_create(name="1m", defaults={"watermark": datetime.fromtimestamp(start, UTC)})
    rollups.rollup_minutes(now=datetime.fromtimestamp(start + samples // SERIES + 120, UTC))
    raw_bps, rollup_bps = _bytes_per_sample()
    results.append(Result("bytes per stored raw sample (table + index)", raw_bps, "B"))
    results.append(Result("bytes per 1-minute rollup row (incl. sketch)", rollup_bps, "B"))
    return results

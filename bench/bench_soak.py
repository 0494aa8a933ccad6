"""Soak: `make run` under steady load for 10 minutes, then kill -9 of each child, timed.

Opt-in (`make bench soak`; plain `make bench` skips it). A real launcher with the embedded
PostgreSQL and Redis in a scratch data directory; ingest clients at 20,000 samples/s (each
batch retried until it gets its 202), 200 WebSocket clients on the live topics, the default
collectors. Measured: RSS of every child after the warm-up and at the end (flat within
±10 %), samples lost (acknowledged but not stored), stream gaps (a frame whose seq is not the
previous one + 1 on one connection), and the recovery time after kill -9 of each child
(median of 5): from the kill until /readyz answers 200 again and an ingest batch is accepted.
Anchors: the issue's goals (≤5 s web/worker/beat, ≤10 s PostgreSQL/Redis).
`--quick`: 90 s, 20 s warm-up, 5,000 samples/s, 50 sockets, 2 kills per child.
The section is written into BENCHMARKS.md (replacing an earlier soak section).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import psycopg

from bench.__main__ import OUTPUT, machine
from bench.common import Result, render_markdown
from config.embedded import EmbeddedPostgres

BASE_DIR = Path(__file__).resolve().parent.parent
USER, PASSWORD = "soak", "soak-pass-1"
BATCH = 1000
ROLES = ("web", "worker", "beat", "postgres", "redis")
GOALS = {"web": 5.0, "worker": 5.0, "beat": 5.0, "postgres": 10.0, "redis": 10.0}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    drop = ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "DB_POOL", "REDIS_KEY_PREFIX", "DEBUG")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    port = free_port()
    env.update(
        HOST="127.0.0.1",
        PORT=str(port),
        SEISMO_DATA_DIR=str(data_dir),
        DJANGO_SUPERUSER_USERNAME=USER,
        DJANGO_SUPERUSER_PASSWORD=PASSWORD,
        SEISMO_RESTART_LIMIT="1000",  # the kill rounds are not a crash loop
        DEBUG="0",
        SECRET_KEY="soak-secret-key-not-for-production-" + "x" * 20,
        SECURE_SSL_REDIRECT="0",
    )
    log = open(data_dir / "launcher.log", "wb")  # noqa: SIM115 (the child writes it)
    proc = subprocess.Popen(
        [sys.executable, "-m", "config.launcher", "run"], cwd=BASE_DIR, env=env, stdout=log, stderr=log
    )
    return proc, f"http://127.0.0.1:{port}"


def children(proc: subprocess.Popen[bytes]) -> dict[str, list[psutil.Process]]:
    found: dict[str, list[psutil.Process]] = {role: [] for role in ROLES}
    for child in psutil.Process(proc.pid).children():
        try:
            line = " ".join(child.cmdline())
        except psutil.Error:
            continue
        for role, needle in (
            ("web", "daphne_server"),
            ("worker", " worker "),
            ("beat", " beat "),
            ("redis", "redis-server"),
            ("postgres", "/postgres "),
        ):
            if needle in line:
                found[role].append(child)
    return found


def rss_mib(proc: subprocess.Popen[bytes]) -> dict[str, float]:
    """RSS per child (PostgreSQL: the postmaster and its backends together)."""
    out: dict[str, float] = {}
    for role, processes in children(proc).items():
        for index, process in enumerate(sorted(processes, key=lambda p: p.pid)):
            try:
                total = process.memory_info().rss
                if role == "postgres":
                    total += sum(c.memory_info().rss for c in process.children())
            except psutil.Error:
                continue
            out[f"{role}-{index + 1}" if role == "web" else role] = total / 2**20
    return out


class Load:
    """Ingest at a fixed rate and hold WebSocket clients; counts acknowledged samples and gaps."""

    def __init__(self, base: str, token: str, rate: int, sockets: int) -> None:
        self.base, self.token, self.rate, self.sockets = base, token, rate, sockets
        self.acked = 0
        self.gaps = 0
        self.frames = 0
        self.connected = 0
        self.last_accept = 0.0
        self.stop = threading.Event()
        self.origin = time.time() - 1800

    async def ingest(self, session: aiohttp.ClientSession, client: int, per_second: float) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        batch, next_at = 0, time.monotonic()
        while not self.stop.is_set():
            samples = [
                {
                    "metric": "soak_probe",
                    "labels": {"client": str(client), "series": str(j % 50)},
                    "value": float(batch),
                    "ts": self.origin + (batch * (BATCH // 50) + j // 50) * 0.001,
                }
                for j in range(BATCH)
            ]
            while not self.stop.is_set():
                try:
                    async with session.post(
                        f"{self.base}/api/v1/ingest/", json={"samples": samples}, headers=headers
                    ) as r:
                        if r.status == 202:
                            self.acked += BATCH
                            self.last_accept = time.monotonic()
                            break
                except (TimeoutError, aiohttp.ClientError):
                    pass
                await asyncio.sleep(0.2)  # a real sender backs off and retries the same batch
            batch += 1
            next_at += 1 / per_second
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    async def socket(self, session: aiohttp.ClientSession) -> None:
        url = f"{self.base}/ws/metrics/?token={self.token}"
        while not self.stop.is_set():
            try:
                async with session.ws_connect(url, headers={"Origin": self.base}, max_msg_size=0) as ws:
                    self.connected += 1
                    await ws.send_str(json.dumps({"type": "subscribe", "topics": ["system-metrics", "basic-metrics"]}))
                    last = None
                    async for message in ws:
                        if message.type != aiohttp.WSMsgType.TEXT or self.stop.is_set():
                            break
                        seq = json.loads(message.data).get("seq")
                        if last is not None and seq != last + 1:
                            self.gaps += 1
                        last = seq
                        self.frames += 1
                    self.connected -= 1
            except (TimeoutError, aiohttp.ClientError):
                pass
            await asyncio.sleep(0.5)  # reconnect (a killed web process)

    async def main(self) -> None:
        clients = 4
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0)) as session:
            tasks = [
                asyncio.ensure_future(self.ingest(session, c, self.rate / BATCH / clients)) for c in range(clients)
            ]
            tasks += [asyncio.ensure_future(self.socket(session)) for _ in range(self.sockets)]
            while not self.stop.is_set():
                await asyncio.sleep(0.2)
            await asyncio.sleep(1)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=lambda: asyncio.run(self.main()), daemon=True)
        thread.start()
        return thread


def get(url: str, timeout: float = 2) -> int:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except Exception:
        return 0


def token(base: str) -> str:
    import urllib.request

    body = json.dumps({"username": USER, "password": PASSWORD}).encode()
    request = urllib.request.Request(
        f"{base}/api/v1/auth/token/", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["token"]


def wait(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def recovery(proc: subprocess.Popen[bytes], base: str, load: Load, role: str) -> float | None:
    """kill -9 of one child of ``role``; seconds until /readyz is 200 and ingest accepted again."""
    victim = sorted(children(proc)[role], key=lambda p: p.pid)[0]
    killed_at = time.monotonic()
    victim.send_signal(signal.SIGKILL)
    if not wait(lambda: victim.pid not in {p.pid for p in children(proc)[role]} and children(proc)[role], 60):
        return None
    if not wait(lambda: get(f"{base}/readyz", timeout=1) == 200 and load.last_accept > killed_at, 60):
        return None
    return time.monotonic() - killed_at


def stored(data_dir: Path) -> int:
    pg = EmbeddedPostgres(data_dir)
    with psycopg.connect(host=str(pg.socket_dir), user="postgres", dbname="seismo") as conn:
        return conn.execute(
            "SELECT count(*) FROM monitoring_sample s JOIN monitoring_series se ON se.id = s.series_id "
            "JOIN monitoring_metric m ON m.id = se.metric_id WHERE m.name = 'soak_probe'"
        ).fetchone()[0]


def run(args: Any) -> list[Result]:
    quick = bool(getattr(args, "quick", False))
    seconds, warmup = (90, 20) if quick else (600, 120)
    rate, sockets, kills = (5_000, 50, 2) if quick else (20_000, 200, 5)
    data_dir = Path(tempfile.mkdtemp(prefix="seismo-soak-"))
    proc, base = launch(data_dir)
    results: list[Result] = []
    try:
        if not wait(lambda: get(f"{base}/readyz") == 200, 180):
            raise RuntimeError(f"make run did not become ready: see {data_dir / 'launcher.log'}")
        load = Load(base, token(base), rate, sockets)
        thread = load.start()
        started = time.monotonic()
        time.sleep(warmup)
        after_warmup, acked_at_warmup = rss_mib(proc), load.acked
        time.sleep(max(0, seconds - warmup))
        at_end, elapsed = rss_mib(proc), time.monotonic() - started
        achieved = (load.acked - acked_at_warmup) / max(1.0, elapsed - warmup)
        frames, gaps = load.frames, load.gaps

        times: dict[str, list[float]] = {role: [] for role in ROLES}
        for _ in range(kills):
            for role in ROLES:
                took = recovery(proc, base, load, role)
                times[role].append(float("inf") if took is None else took)
                time.sleep(2)
        load.stop.set()
        thread.join(timeout=30)
        time.sleep(2)
        lost = load.acked - stored(data_dir)

        results.append(
            Result(
                "ingest rate held",
                achieved,
                "samples/s",
                "target",
                float(rate),
                f"{rate:,}/s",
                achieved >= 0.95 * rate,
                f"{len(at_end)} processes; {sockets} sockets; {seconds} s",
            )
        )
        for name in sorted(at_end):
            before = after_warmup.get(name)
            if before is None:
                continue
            change = (at_end[name] - before) / before * 100
            results.append(
                Result(
                    f"RSS {name}",
                    at_end[name],
                    "MiB",
                    "after warm-up",
                    before,
                    "±10 %",
                    abs(change) <= 10,
                    f"{change:+.1f} %",
                )
            )
        results.append(
            Result("samples lost", float(lost), "samples", "acknowledged", float(load.acked), "0", lost <= 0)
        )
        results.append(Result("stream gaps", float(gaps), "gaps", "frames received", float(frames), "0", gaps == 0))
        for role in ROLES:
            median = statistics.median(times[role])
            goal = GOALS[role]
            shown = ", ".join(f"{t:.1f}" for t in times[role])
            results.append(
                Result(
                    f"recovery after kill -9 {role}",
                    median,
                    "s",
                    "goal",
                    goal,
                    f"≤{goal:.0f} s",
                    median <= goal,
                    f"median of {kills}: {shown}",
                )
            )
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    write_section(results, quick)
    return results


def write_section(results: list[Result], quick: bool) -> None:
    """Replace (or add) the soak section of BENCHMARKS.md."""
    rendered = render_markdown([("soak" + (" (quick)" if quick else ""), results, 0.0)], machine())
    note = f"Machine: {machine()}."
    if quick:
        note += " Shortened run (`--quick`: 90 s, 20 s warm-up, 5,000 samples/s, 50 sockets, 2 kills per child)."
    section = rendered[rendered.index("## soak") :].replace("(took 0 s)", note)
    text = OUTPUT.read_text() if OUTPUT.exists() else "# Benchmarks\n\n"
    pattern = re.compile(r"^## soak.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: section + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    OUTPUT.write_text(text)

"""Soak: `make run` under steady load for 10 minutes, then kill -9 of each child, timed.

Opt-in (`make bench soak`; plain `make bench` skips it). A real launcher with the embedded
PostgreSQL and Redis in a scratch data directory; ingest clients at 20,000 samples/s (each
batch retried until it gets its 202), 200 WebSocket clients on the live topics, the default
collectors. Measured: the memory of every child after the warm-up and at the end (flat
within ±10 %) — RSS for Seismo's processes; for PostgreSQL the memory of the postmaster and
its backends without the shared buffer pool (PSS, each page once), since RSS counts each
page of that fixed-size pool once per backend that touched it: the pool filling up is a
cache warming, bounded by shared_buffers, and is shown beside it, as are the autovacuum and
parallel workers that happen to run at the sample (they come and go) — samples lost
(acknowledged but not stored), stream gaps (a frame whose seq is not the previous one + 1 on
one connection), and the recovery time after kill -9 of each child (median of 5): from the
kill until /readyz answers 200 again, an ingest batch sent after the kill is accepted, and
the replacement is doing the killed child's work (web: the new daphne process holds client
connections; beat: a heartbeat written after the kill; worker: a worker answers /readyz's
ping, and only the replacement can).
Anchors: the issue's goals (≤5 s web/worker/beat, ≤10 s PostgreSQL/Redis).
`--quick`: 90 s, 20 s warm-up, 5,000 samples/s, 50 sockets, 2 kills per child.
The section is written into BENCHMARKS.md (replacing an earlier soak section).
"""

from __future__ import annotations

import asyncio
import contextlib
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
from lib.processes import free_port

BASE_DIR = Path(__file__).resolve().parent.parent
USER, PASSWORD = "soak", "soak-pass-1"
BATCH = 1000
ROLES = ("web", "worker", "beat", "postgres", "redis")
# PostgreSQL processes that come and go on their own schedule (an autovacuum worker per table
# being vacuumed, at most autovacuum_max_workers; parallel query workers): whether one happens
# to run at a sample says nothing about growth, so they are counted beside the total.
TRANSIENT = re.compile(r"postgres: (autovacuum worker|parallel worker)")
GOALS = {"web": 5.0, "worker": 5.0, "beat": 5.0, "postgres": 10.0, "redis": 10.0}


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


def _rollup(pid: int) -> dict[str, int]:
    """/proc/<pid>/smaps_rollup in bytes (Linux)."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        fields[name] = int(rest.split()[0]) * 1024
    return fields


def memory_mib(proc: subprocess.Popen[bytes]) -> tuple[dict[str, float], dict[str, float]]:
    """Memory per child: RSS; for PostgreSQL the postmaster and its backends together without
    the shared memory segment (Pss_Anon + Pss_File summed: each page once, however many
    backends share it). Second: PostgreSQL's shared memory resident (Pss_Shmem summed: the
    buffer pool filling up, bounded by shared_buffers) and its backend count, shown beside."""
    out: dict[str, float] = {}
    extra: dict[str, float] = {}
    for role, processes in children(proc).items():
        for index, process in enumerate(sorted(processes, key=lambda p: p.pid)):
            try:
                if role == "postgres":
                    rollups, transient = [_rollup(process.pid)], []
                    for member in process.children():
                        with contextlib.suppress(OSError, psutil.Error):  # a backend that just exited
                            title = " ".join(member.cmdline())
                            (transient if TRANSIENT.search(title) else rollups).append(_rollup(member.pid))
                    total = sum(r.get("Pss_Anon", 0) + r.get("Pss_File", 0) for r in rollups)
                    everyone = rollups + transient
                    extra["postgres shared"] = sum(r.get("Pss_Shmem", 0) for r in everyone) / 2**20
                    extra["postgres backends"] = float(len(rollups) - 1)
                    extra["postgres transient"] = float(len(transient))
                    extra["postgres transient MiB"] = (
                        sum(r.get("Pss_Anon", 0) + r.get("Pss_File", 0) for r in transient) / 2**20
                    )
                else:
                    total = process.memory_info().rss
            except (psutil.Error, OSError):
                continue
            out[f"{role}-{index + 1}" if role == "web" else role] = total / 2**20
    return out, extra


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
    return readyz_of(url, timeout)[0]


def readyz_of(url: str, timeout: float = 2) -> tuple[int, dict[str, Any]]:
    """(status, JSON body) of a GET; (0, {}) when nothing answered."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except Exception:
        return 0, {}
    try:
        body = json.loads(raw)
    except ValueError:
        body = {}
    return status, body if isinstance(body, dict) else {}


def serving(process: psutil.Process, port: int, probes: int = 4) -> bool:
    """Whether a daphne process answers requests: a few fresh keep-alive connections each get a
    /healthz answer, and one of them is held by ``process`` (the kernel hands each new
    connection on the shared listening socket to whichever daphne process accepts first)."""
    import http.client

    connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=2) for _ in range(probes)]
    try:
        ours = set()
        for connection in connections:
            connection.request("GET", "/healthz")
            if connection.getresponse().read() and connection.sock is not None:
                ours.add(connection.sock.getsockname()[1])
        held = {
            c.raddr.port
            for c in process.net_connections(kind="tcp")
            if c.status == psutil.CONN_ESTABLISHED and c.raddr and c.laddr.port == port
        }
        return bool(ours & held)
    except (OSError, http.client.HTTPException, psutil.Error):
        return False
    finally:
        for connection in connections:
            connection.close()


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
    """kill -9 of one child of ``role``; seconds until /readyz is 200, an ingest batch sent
    after the kill is accepted and the replacement does the killed child's work."""
    before = {p.pid for p in children(proc)[role]}
    victim = sorted(children(proc)[role], key=lambda p: p.pid)[0]
    port = int(base.rsplit(":", 1)[1])
    killed_at = time.monotonic()
    victim.send_signal(signal.SIGKILL)

    def replacement() -> psutil.Process | None:
        fresh = [p for p in children(proc)[role] if p.pid not in before]
        return fresh[0] if fresh else None

    def recovered() -> bool:
        new = replacement()
        if new is None or load.last_accept <= killed_at:
            return False
        if role == "web" and not serving(new, port):
            return False
        status, body = readyz_of(f"{base}/readyz", timeout=2)
        if status != 200:
            return False
        if role == "beat":  # the heartbeat /readyz accepts must be the new beat's
            age = body.get("celery_beat", {}).get("age_seconds")
            return age is not None and age < time.monotonic() - killed_at
        return True

    if not wait(recovered, 60):
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
        (after_warmup, extra_warmup), acked_at_warmup = memory_mib(proc), load.acked
        time.sleep(max(0, seconds - warmup))
        (at_end, extra_end), elapsed = memory_mib(proc), time.monotonic() - started
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
            note = f"{change:+.1f} %"
            if name == "postgres":
                note += (
                    f"; without shared memory; postmaster and {extra_end.get('postgres backends', 0):.0f} backends "
                    f"({extra_warmup.get('postgres backends', 0):.0f} after warm-up); beside it, autovacuum/parallel "
                    f"workers running at the sample: {extra_warmup.get('postgres transient', 0):.0f} "
                    f"({extra_warmup.get('postgres transient MiB', 0):.1f} MiB) → "
                    f"{extra_end.get('postgres transient', 0):.0f} "
                    f"({extra_end.get('postgres transient MiB', 0):.1f} MiB); "
                    f"shared memory (buffer pool, libraries) {extra_warmup.get('postgres shared', 0):.0f} → "
                    f"{extra_end.get('postgres shared', 0):.0f} MiB"
                )
            results.append(
                Result(
                    f"{'PSS' if name == 'postgres' else 'RSS'} {name}",
                    at_end[name],
                    "MiB",
                    "after warm-up",
                    before,
                    "±10 %",
                    abs(change) <= 10,
                    note,
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

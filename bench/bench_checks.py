"""Availability checks: scheduler cost beside prometheus-blackbox-exporter, detection latency,
and the public status page under 200 concurrent anonymous clients.

1. Scheduler cost: 500 HTTP checks at a 30 s interval against a loopback target (the load-test
   bench's aiohttp target), run by the check scheduler alone in its own process (claim, probe,
   state, events and the metrics written to PostgreSQL). Anchor: Debian's
   ``prometheus-blackbox-exporter`` asked to probe the same 500 URLs at the same rate by a
   driver in this process (the exporter stores nothing; Prometheus would). CPU is each
   process's user + system time over the same window; per probe and as a share of one core.
2. Detection: a real Celery worker (scheduler + alert evaluation + outbox) and one check at a
   5 s interval; the target starts answering 500 at a random moment; the time until a webhook
   stand-in receives the firing notification, 20 trials. Goal: p99 ≤ interval + 2 s.
3. Status page: daphne serving a published page (two groups, ten checks, 90 days of history),
   200 concurrent anonymous clients; server time from each answer's ``Server-Timing`` header,
   and the client-side latency. Anchor: ``/healthz`` through Django at the same concurrency.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.common import Result
from lib.processes import celery_worker_argv, free_port, start_group, stop_group, wait_port

BASE_DIR = Path(__file__).resolve().parent.parent
LOGS = BASE_DIR / "var"
BLACKBOX = "/usr/bin/prometheus-blackbox-exporter"


def _spawn(name: str, argv: list[str], **env: str) -> subprocess.Popen[bytes]:
    LOGS.mkdir(exist_ok=True)
    log = open(LOGS / f"bench-checks-{name}.log", "wb")  # noqa: SIM115 (the child keeps it)
    return start_group(argv, {**os.environ, **env}, log)


def _stop(proc: subprocess.Popen[Any]) -> None:
    stop_group(proc, timeout=30)


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(len(ordered) * p / 100 + 0.5) - 1))]


def _cpu(pid: int) -> float:
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def _clear_checks() -> None:
    from checks.models import Check
    from checks.services import delete_check

    for check in Check.objects.all():
        delete_check(check)


# 1. Scheduler cost --------------------------------------------------------------------------

SCHEDULER_ALONE = """
import json, sys, time
import django
django.setup()
from checks.scheduler import Scheduler
warmup, window = float(sys.argv[1]), float(sys.argv[2])
scheduler = Scheduler("bench-scheduler")
scheduler.start()
time.sleep(warmup)
cpu0, n0, t0 = time.process_time(), scheduler.attempts, time.monotonic()
time.sleep(window)
cpu1, n1, t1 = time.process_time(), scheduler.attempts, time.monotonic()
scheduler.stop()
print(json.dumps({"cpu": cpu1 - cpu0, "probes": n1 - n0, "seconds": t1 - t0}))
"""


async def _drive_blackbox(port: int, urls: list[str], interval: float, seconds: float) -> int:
    """Ask the exporter to probe each URL once per interval, each at its own phase."""
    import aiohttp

    done = 0
    phases = [random.uniform(0, interval) for _ in urls]
    started = time.monotonic()

    async def one(url: str, phase: float, session: aiohttp.ClientSession) -> None:
        nonlocal done
        await asyncio.sleep(phase)
        while time.monotonic() - started < seconds:
            async with session.get(
                f"http://127.0.0.1:{port}/probe", params={"module": "http_2xx", "target": url}
            ) as response:
                body = await response.text()
                if "probe_success 1" in body:
                    done += 1
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started - phase) % interval))

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(one(u, p, session) for u, p in zip(urls, phases, strict=True)))
    return done


def scheduler_cost(count: int, interval: int, window: float) -> list[Result]:
    from django.utils import timezone

    from checks.models import Check

    target_port = free_port()
    target = _spawn("target", [sys.executable, "-m", "bench.loadtest_target", str(target_port)])
    wait_port(target_port)
    urls = [f"http://127.0.0.1:{target_port}/?i={i}" for i in range(count)]
    results: list[Result] = []
    try:
        _clear_checks()
        # Bulk-made without alert rules: this measures the scheduler, not rule evaluation.
        now = timezone.now()
        Check.objects.bulk_create(
            [
                Check(
                    name=f"bench-{i}",
                    kind="http",
                    target=url,
                    interval_seconds=interval,
                    timeout_seconds=10,
                    next_run_at=now + timedelta(seconds=random.uniform(0, interval)),
                )
                for i, url in enumerate(urls)
            ]
        )
        warmup = interval + 5
        proc = subprocess.run(
            [sys.executable, "-c", SCHEDULER_ALONE, str(warmup), str(window)],
            cwd=BASE_DIR,
            env={**os.environ, "OUTBOUND_ALLOWLIST": "127.0.0.1", "LOG_LEVEL": "WARNING"},
            capture_output=True,
            text=True,
            check=True,
        )
        ours = json.loads(proc.stdout.strip().splitlines()[-1])
        _clear_checks()

        config = Path(tempfile.mkdtemp()) / "blackbox.yml"
        config.write_text("modules:\n  http_2xx:\n    prober: http\n    timeout: 10s\n")
        bb_port = free_port()
        exporter = _spawn(
            "blackbox", [BLACKBOX, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{bb_port}"]
        )
        try:
            wait_port(bb_port)
            cpu0 = [0.0]
            marks: dict[str, float] = {}

            def measure() -> None:
                time.sleep(warmup)
                cpu0[0] = _cpu(exporter.pid)
                marks["t0"] = time.monotonic()
                time.sleep(window)
                marks["cpu"] = _cpu(exporter.pid) - cpu0[0]
                marks["t1"] = time.monotonic()

            meter = threading.Thread(target=measure)
            meter.start()
            probes_total = asyncio.run(_drive_blackbox(bb_port, urls, interval, warmup + window))
            meter.join()
        finally:
            _stop(exporter)
    finally:
        _stop(target)
    bb_seconds = marks["t1"] - marks["t0"]
    bb_probes = count * bb_seconds / interval  # the driver's rate; probes_total counts successes
    ours_share = ours["cpu"] / ours["seconds"]
    bb_share = marks["cpu"] / bb_seconds
    per_probe_ours = ours["cpu"] / max(1, ours["probes"]) * 1000
    per_probe_bb = marks["cpu"] / bb_probes * 1000
    results.append(
        Result(
            f"scheduler CPU, {count} HTTP checks every {interval} s",
            ours_share * 100,
            "% of one core",
            "blackbox_exporter, same targets and rate",
            bb_share * 100,
            "≤ 10 %",
            ours_share <= 0.10,
            notes=f"{ours['probes']} probes in {ours['seconds']:.0f} s (ours, incl. storing state, events and "
            f"metrics); blackbox: {probes_total} successful probes in the whole run",
        )
    )
    results.append(
        Result(
            "CPU per probe",
            per_probe_ours,
            "ms",
            "blackbox_exporter",
            per_probe_bb,
            notes="user + system CPU of the probing process over the window, divided by its probes",
        )
    )
    return results


# 2. Detection ---------------------------------------------------------------------------------


class _Switch:
    def __init__(self) -> None:
        self.failing = False
        switch = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status = 500 if switch.failing else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class _Receiver:
    def __init__(self) -> None:
        self.events: list[tuple[float, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.events.append((time.monotonic(), json.loads(body).get("kind", "")))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, kind: str, after: float, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, seen in self.events:
                if seen == kind and at >= after:
                    return at
            time.sleep(0.02)
        return None


def detection(trials: int, interval: int) -> list[Result]:
    from django.conf import settings

    from alerts.models import NotificationChannel
    from checks import services
    from checks.models import Check

    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    _clear_checks()
    switch, receiver = _Switch(), _Receiver()
    NotificationChannel.objects.filter(name="bench-checks-hook").delete()
    channel = NotificationChannel.objects.create(name="bench-checks-hook", kind="webhook", config={"url": receiver.url})
    check = Check(name="bench-detect", kind="http", target=switch.url, interval_seconds=interval, timeout_seconds=2)
    check.full_clean()
    services.save_check(check, [channel])
    worker = _spawn(
        "worker",
        celery_worker_argv(f"bench-checks-{os.getpid()}@%h", loglevel="WARNING"),
        OUTBOUND_ALLOWLIST="127.0.0.1",
    )
    latencies: list[float] = []
    missed = 0
    try:
        deadline = time.monotonic() + 60
        while Check.objects.get(pk=check.pk).state != "up" and time.monotonic() < deadline:
            time.sleep(0.2)
        for _ in range(trials):
            time.sleep(random.uniform(0, interval))
            started = time.monotonic()
            switch.failing = True
            fired = receiver.wait("firing", started, interval * 3 + 10)
            switch.failing = False
            if fired is None:
                missed += 1
                continue
            latencies.append(fired - started)
            receiver.wait("resolved", fired, interval * 3 + 10)
    finally:
        _stop(worker)
        switch.server.shutdown()
        receiver.server.shutdown()
        _clear_checks()
        channel.delete()
    p99 = _percentile(latencies, 99) if latencies else float("inf")
    return [
        Result(
            f"detection: down → notification received, p99 of {trials}",
            p99,
            "s",
            "interval + 2 s",
            interval + 2.0,
            f"≤ {interval + 2} s",
            p99 <= interval + 2 and not missed,
            notes=f"interval {interval} s, retries 1; p50 {statistics.median(latencies):.2f} s, "
            f"max {max(latencies):.2f} s; missed {missed}"
            if latencies
            else f"missed {missed}",
        )
    ]


# 3. Status page ---------------------------------------------------------------------------------


def _status_page() -> None:
    from django.utils import timezone

    from checks import statuspage
    from checks.models import Check, CheckEvent, StatusPage, StatusPageGroup

    _clear_checks()
    StatusPage.objects.filter(slug="bench").delete()
    now = timezone.now()
    checks = Check.objects.bulk_create(
        [
            Check(name=f"service {i}", kind="tcp", target=f"10.0.0.{i}:443", interval_seconds=60, state="up")
            for i in range(10)
        ]
    )
    Check.objects.filter(pk__in=[c.pk for c in checks]).update(created_at=now - timedelta(days=95))
    events = []
    for check in checks:
        events.append(CheckEvent(owner=check, at=now - timedelta(days=94), from_state="unknown", to_state="up"))
        for day in range(0, 90, 7):
            at = now - timedelta(days=day, hours=3)
            events.append(CheckEvent(owner=check, at=at, from_state="up", to_state="down", reason="status 503"))
            events.append(CheckEvent(owner=check, at=at + timedelta(minutes=12), from_state="down", to_state="up"))
    CheckEvent.objects.bulk_create(events)
    page = StatusPage.objects.create(slug="bench", title="Bench status", published=True)
    for n, chunk in enumerate((checks[:5], checks[5:])):
        group = StatusPageGroup.objects.create(page=page, name=f"Group {n}", position=n)
        group.checks.set(chunk)
    statuspage.refresh("bench")


async def _hammer(url: str, clients: int, total: int) -> tuple[list[float], list[float], int, float]:
    import aiohttp

    server: list[float] = []
    client: list[float] = []
    errors = 0
    remaining = total

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal remaining, errors
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            async with session.get(url) as response:
                await response.read()
                client.append((time.perf_counter() - started) * 1000)
                if response.status != 200:
                    errors += 1
                timing = response.headers.get("Server-Timing", "")
                if "dur=" in timing:
                    server.append(float(timing.split("dur=")[1].split(";")[0]))

    connector = aiohttp.TCPConnector(limit=0)
    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(clients)))
    return server, client, errors, time.perf_counter() - started


def status_page(clients: int, total: int) -> list[Result]:
    from checks.models import StatusPage

    _status_page()
    port = free_port()
    daphne = _spawn(
        "daphne",
        [sys.executable, "-m", "config.daphne_server", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        STATUS_PAGE_RATE_LIMIT=str(total * 10),
    )
    try:
        wait_port(port)
        asyncio.run(_hammer(f"http://127.0.0.1:{port}/status/bench/", 20, 500))  # warm up
        server, client, errors, seconds = asyncio.run(_hammer(f"http://127.0.0.1:{port}/status/bench/", clients, total))
        _, anchor_client, anchor_errors, anchor_seconds = asyncio.run(
            _hammer(f"http://127.0.0.1:{port}/healthz", clients, total // 4)
        )
    finally:
        _stop(daphne)
        StatusPage.objects.filter(slug="bench").delete()
        _clear_checks()
    p95 = _percentile(server, 95)
    return [
        Result(
            f"status page, {clients} concurrent anonymous clients: server time p95",
            p95,
            "ms",
            "",
            None,
            "≤ 20 ms",
            p95 <= 20 and not errors,
            notes=f"{len(client)} requests, {len(client) / seconds:,.0f} req/s, {errors} errors; "
            f"server-time p50 {_percentile(server, 50):.3f} ms",
        ),
        Result(
            f"status page, {clients} concurrent clients: client-side latency p95",
            _percentile(client, 95),
            "ms",
            "/healthz through Django, same concurrency",
            _percentile(anchor_client, 95),
            notes=f"status {len(client) / seconds:,.0f} req/s vs /healthz {len(anchor_client) / anchor_seconds:,.0f} "
            f"req/s ({anchor_errors} errors); one daphne process, clients on the same 2 cores",
        ),
    ]


def run(args: Any) -> list[Result]:
    quick = bool(getattr(args, "quick", False))
    results = scheduler_cost(500, 30, 30.0 if quick else 60.0)
    results += detection(10 if quick else 20, 5)
    results += status_page(200, 5000 if quick else 20000)
    return results

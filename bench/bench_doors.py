"""The doors: Prometheus remote-write, OTLP and scraping, beside their anchors in the same run.

- Remote-write: Prometheus-shaped 2,000-sample WriteRequests (node_exporter-like series, one
  sample per series per request, snappy protobuf), 4 concurrent senders, into 2 daphne
  processes — beside our JSON ingest (same web, same senders) and a raw single-connection COPY.
- OTLP: 2,000-point protobuf ExportMetricsServiceRequests (gauges and sums), same setup.
- Scraping: 200 targets each serving a payload captured from the real node_exporter
  (bench/data/node_exporter.txt), every 15 s, by Seismo's scraper (the beat task's body in a
  worker process) and by Prometheus 2.42 scraping the same 200 targets; CPU per scraped sample.
"""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from django.db import connection

from bench.bench_ingest import _start_web, raw_copy_rate
from bench.common import Result
from lib.processes import free_port

BASE_DIR = Path(__file__).resolve().parent.parent
PAYLOAD = Path(__file__).resolve().parent / "data" / "node_exporter.txt"
PER_REQUEST = 2000
SENDERS = 4
ROUNDS = 3
HOSTS = 20
TARGETS = 200
PROMETHEUS = "/usr/bin/prometheus"
RW_HEADERS = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf"}
OTLP_HEADERS = {"Content-Type": "application/x-protobuf"}
JSON_HEADERS = {"Content-Type": "application/json"}
NAMES = ("node_cpu_seconds_total", "node_network_receive_bytes_total", "node_filesystem_avail_bytes")


def _series_labels() -> list[dict[str, str]]:
    """node_exporter-shaped series: HOSTS hosts x PER_REQUEST series (cpu/mode, device, …)."""
    out = []
    for host in range(HOSTS):
        for i in range(PER_REQUEST):
            out.append(
                {
                    "__name__": NAMES[i % 3],
                    "job": "node",
                    "instance": f"host-{host}:9100",
                    "cpu": str(i % 64),
                    "mode": ("idle", "user", "system", "iowait")[i % 4],
                    "device": f"dev{i // 12}",
                }
            )
    return out


def remote_write_bodies(samples: int, start_ms: int) -> list[bytes]:
    from monitoring.intake import remote_write

    labels = _series_labels()
    bodies = []
    for n in range(samples // PER_REQUEST):
        host = n % HOSTS
        ts = start_ms + (n // HOSTS) * 15_000
        chunk = labels[host * PER_REQUEST : (host + 1) * PER_REQUEST]
        bodies.append(remote_write.encode([(series, [(float(n + i), ts)]) for i, series in enumerate(chunk)]))
    return bodies


def otlp_bodies(points: int, start_ns: int) -> list[bytes]:
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
    from opentelemetry.proto.metrics.v1 import metrics_pb2

    bodies = []
    for n in range(points // PER_REQUEST):
        request = ExportMetricsServiceRequest()
        resource = request.resource_metrics.add()
        for key, value in (("service.name", f"svc-{n % HOSTS}"), ("service.instance.id", f"pod-{n % HOSTS}")):
            attr = resource.resource.attributes.add()
            attr.key, attr.value.string_value = key, value
        scope = resource.scope_metrics.add()
        ts = start_ns + (n // HOSTS) * 15_000_000_000
        for m in range(20):  # 20 metrics x 100 points, half gauges, half monotonic sums
            metric = scope.metrics.add()
            metric.name = f"app.metric.{m}"
            if m % 2:
                data = metric.sum
                data.is_monotonic = True
                data.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
            else:
                data = metric.gauge
            for p in range(100):
                point = data.data_points.add()
                point.time_unix_nano = ts
                point.as_double = float(n + p)
                for key, value in (("route", f"/r{p % 25}"), ("code", str(200 + p // 25))):
                    attr = point.attributes.add()
                    attr.key, attr.value.string_value = key, value
        bodies.append(request.SerializeToString())
    return bodies


async def _send(url: str, token: str, bodies: list[bytes], headers: dict[str, str], ok: int) -> tuple[float, int]:
    import aiohttp

    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    failures = 0
    answers: collections.Counter[tuple[int, str]] = collections.Counter()

    async def sender() -> None:
        nonlocal failures
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}", **headers}) as session:
            while not queue.empty():
                body = queue.get_nowait()
                async with session.post(url, data=body) as response:
                    text = await response.read()
                    if response.status != ok:
                        failures += 1
                        answers[(response.status, text[:200].decode("utf-8", "replace"))] += 1

    began = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(SENDERS)))
    for (status, text), count in answers.most_common(5):
        print(f"  {url}: {count} answered {status}: {text}", file=sys.stderr)
    return time.perf_counter() - began, failures


def _count(metric_prefix: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM monitoring_sample WHERE series_id IN (SELECT s.id FROM monitoring_series s "
            "JOIN monitoring_metric m ON m.id = s.metric_id WHERE m.name LIKE %s)",
            [metric_prefix + "%"],
        )
        return cursor.fetchone()[0]


def _truncate() -> None:
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE monitoring_sample")


def push_doors(args: Any, token: str, copy_rate: float) -> list[Result]:
    from bench.bench_ingest import _bodies

    samples = 400_000 if args.quick else 5_000_000
    points = 200_000 if args.quick else 2_000_000
    json_samples = 100_000 if args.quick else 1_000_000
    now = time.time()
    # Recent timestamps, as a live sender's are (inside the storage hot window): 5M samples of
    # 40,000 series are 125 rounds 15 s apart, about 31 minutes.
    rw = remote_write_bodies(samples, int((now - 2400) * 1000))
    otlp = otlp_bodies(points, int((now - 4200) * 1e9))
    # Warm-up rounds (every series, earlier timestamps) so both processes know every series
    # before the clock starts: the steady state of a Prometheus sending is known series.
    rw_warm = remote_write_bodies(HOSTS * PER_REQUEST * 4, int((now - 3000) * 1000))
    otlp_warm = otlp_bodies(HOSTS * PER_REQUEST * 4, int((now - 5400) * 1e9))
    json_bodies = _bodies(json_samples, now - 6000)
    results = []
    _truncate()
    port = free_port()
    web = _start_web(port, 2)
    json_rates: list[float] = []
    rw_rates: list[float] = []
    otlp_rates: list[float] = []
    failures: collections.Counter[str] = collections.Counter()
    try:
        base = f"http://127.0.0.1:{port}"
        # Warm the series caches of both processes (first sight creates the series).
        asyncio.run(_send(f"{base}/api/v1/write", token, rw_warm, RW_HEADERS, 204))
        asyncio.run(_send(f"{base}/otlp/v1/metrics", token, otlp_warm, OTLP_HEADERS, 200))
        # Medians of ROUNDS rounds. Each door starts from an empty table: the one before it
        # leaves millions of fresh rows whose autovacuum would otherwise land in its measurement.
        for _ in range(ROUNDS):
            _truncate()
            elapsed, failed = asyncio.run(_send(f"{base}/api/v1/ingest/", token, json_bodies, JSON_HEADERS, 202))
            json_rates.append(json_samples / elapsed)
            failures["json"] += failed
            _truncate()
            elapsed, failed = asyncio.run(_send(f"{base}/api/v1/write", token, rw, RW_HEADERS, 204))
            rw_rates.append(samples / elapsed)
            failures["rw"] += failed
            asyncio.run(_send(f"{base}/api/v1/write", token, rw[:50], RW_HEADERS, 204))
            stored_rw = _count("node_")
            assert stored_rw == samples, (
                f"remote-write stored {stored_rw:,} of {samples:,}: {failures['rw']} requests answered other "
                f"than 204 (JSON ingest {failures['json']})"
            )
            _truncate()
            elapsed, failed = asyncio.run(_send(f"{base}/otlp/v1/metrics", token, otlp, OTLP_HEADERS, 200))
            otlp_rates.append(points / elapsed)
            failures["otlp"] += failed
            stored_otlp = _count("app_metric")
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(30)
    json_rate, rw_rate, otlp_rate = (statistics.median(rates) for rates in (json_rates, rw_rates, otlp_rates))

    def spread(rates: list[float]) -> str:
        return ", ".join(f"{rate:,.0f}" for rate in rates)

    results.append(
        Result(
            f"remote-write, 2 daphne processes, {SENDERS} senders, {samples:,} samples, {PER_REQUEST:,} per request",
            rw_rate,
            "samples/s",
            "raw single-connection COPY",
            copy_rate,
            goal="≥250,000/s",
            met=rw_rate >= 250_000,
            notes=(
                f"median of {ROUNDS} rounds ({spread(rw_rates)}); {failures['rw']} failed; each round stored "
                f"{stored_rw:,} (50 requests re-sent: stored once); JSON ingest, same web and senders: "
                f"{json_rate:,.0f} samples/s ({spread(json_rates)}; {failures['json']} failed)"
            ),
            extra={"json_ingest_samples_per_s": json_rate},
        )
    )
    results.append(Result("remote-write vs our JSON ingest (same run)", rw_rate, "samples/s", "JSON ingest", json_rate))
    results.append(
        Result(
            f"OTLP protobuf, {SENDERS} senders, {points:,} points in {PER_REQUEST:,}-point requests",
            otlp_rate,
            "points/s",
            "raw single-connection COPY",
            copy_rate,
            goal="≥150,000/s",
            met=otlp_rate >= 150_000,
            notes=(
                f"median of {ROUNDS} rounds ({spread(otlp_rates)}); {failures['otlp']} failed; "
                f"each round stored {stored_otlp:,}"
            ),
        )
    )
    return results


# Scraping ------------------------------------------------------------------------------------

_SERVER = """
import sys
from aiohttp import web
body = open(sys.argv[2], "rb").read()
async def metrics(request):
    return web.Response(body=body, content_type="text/plain", charset="utf-8", headers={"X-Version": "0.0.4"})
app = web.Application()
app.router.add_get("/metrics/{i}", metrics)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""

_SCRAPER = """
import os, sys, time
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
import django
django.setup()
from monitoring.intake.scrape import scrape_due
deadline = time.time() + float(sys.argv[1])
while time.time() < deadline:
    began = time.time()
    scrape_due(10)
    time.sleep(max(0.0, 10 - (time.time() - began)))
"""


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    total = times.user + times.system
    for child in process.children(recursive=True):
        try:
            child_times = child.cpu_times()
            total += child_times.user + child_times.system
        except psutil.NoSuchProcess:
            pass
    return total


def scraping(args: Any) -> list[Result]:
    from django.conf import settings

    from monitoring.intake import prom_text
    from monitoring.models import ScrapeTarget

    seconds = 30 if args.quick else 90
    per_target = len(prom_text.parse(PAYLOAD.read_text(), prom_text.SeriesCache()).keys)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", _SERVER, str(port), str(PAYLOAD)], start_new_session=True)
    time.sleep(2)
    results = []
    try:
        ScrapeTarget.objects.all().delete()
        settings.OUTBOUND_ALLOWLIST = ["127.0.0.1"]
        ScrapeTarget.objects.bulk_create(
            ScrapeTarget(name=f"bench-{i}", url=f"http://127.0.0.1:{port}/metrics/{i}", interval_seconds=15)
            for i in range(TARGETS)
        )
        _truncate()
        env = {**os.environ, "OUTBOUND_ALLOWLIST": "127.0.0.1"}
        scraper = subprocess.Popen([sys.executable, "-c", _SCRAPER, "3600"], cwd=BASE_DIR, env=env)
        watched = psutil.Process(scraper.pid)
        try:
            # The first interval creates every series; measure the steady state after two rounds.
            deadline = time.monotonic() + 300
            while _count("up") < 2 * TARGETS and time.monotonic() < deadline:
                time.sleep(1)
            cpu_before, wall_before = _cpu_seconds(watched), time.monotonic()
            samples_before = _count("node_")
            time.sleep(seconds)
            cpu = _cpu_seconds(watched) - cpu_before
            wall = time.monotonic() - wall_before
            scraped = _count("node_") - samples_before
        finally:
            scraper.terminate()
            scraper.wait(60)
        up = ScrapeTarget.objects.filter(name__startswith="bench-", health="up").count()
        seismo_core = cpu / wall
        prometheus_core, prometheus_samples = (
            _prometheus_scraping(port, seconds) if Path(PROMETHEUS).exists() else (None, 0)
        )
        seismo_per_sample = cpu / max(scraped, 1)
        results.append(
            Result(
                f"scraping {TARGETS} targets x {per_target} samples every 15 s: CPU of the scraping process",
                seismo_core * 100,
                "% of one core",
                "Prometheus 2.42, same targets",
                None if prometheus_core is None else prometheus_core * 100,
                goal="≤25 %",
                met=seismo_core <= 0.25,
                notes=f"{scraped:,} samples stored in {wall:.0f} s; targets up at the end: {up}/{TARGETS}",
            )
        )
        if prometheus_core is not None:
            prom_per_sample = prometheus_core * seconds / max(prometheus_samples, 1)
            results.append(
                Result(
                    "CPU per scraped sample",
                    seismo_per_sample * 1e6,
                    "µs",
                    "Prometheus 2.42",
                    prom_per_sample * 1e6,
                )
            )
    finally:
        ScrapeTarget.objects.filter(name__startswith="bench-").delete()
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(10)
    return results


def _prometheus_scraping(port: int, seconds: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        config = ["global:", "  scrape_interval: 15s", "scrape_configs:"]
        for i in range(TARGETS):
            config += [
                f"  - job_name: bench-{i}",
                f"    metrics_path: /metrics/{i}",
                "    static_configs:",
                f"      - targets: ['127.0.0.1:{port}']",
            ]
        Path(tmp, "prometheus.yml").write_text("\n".join(config) + "\n")
        web_port = free_port()
        process = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={tmp}/prometheus.yml",
                f"--storage.tsdb.path={tmp}/data",
                f"--web.listen-address=127.0.0.1:{web_port}",
                "--log.level=warn",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            watched = psutil.Process(process.pid)
            time.sleep(35)  # two scrape rounds: series created, steady state
            before, began = _cpu_seconds(watched), time.monotonic()
            samples_before = _prometheus_appended(web_port)
            time.sleep(seconds)
            cpu = _cpu_seconds(watched) - before
            wall = time.monotonic() - began
            samples = _prometheus_appended(web_port) - samples_before
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)
    return cpu / wall, int(samples * (seconds / wall))  # samples per `seconds`


def _prometheus_appended(port: int) -> float:
    """Samples Prometheus appended so far, read from its own /metrics."""
    import httpx

    from monitoring.intake import prom_text

    exposition = prom_text.parse(httpx.get(f"http://127.0.0.1:{port}/metrics").text, prom_text.SeriesCache())
    return sum(
        value
        for key, value in zip(exposition.keys, exposition.values, strict=True)
        if key.startswith("prometheus_tsdb_head_samples_appended_total")
    )


def run(args: Any) -> list[Result]:
    from django.contrib.auth.models import User

    from accounts.models import ApiToken

    user, _ = User.objects.get_or_create(username="bench-doors", defaults={"is_superuser": True})
    _, token = ApiToken.issue(user, name="bench-doors")
    copy_rate = raw_copy_rate(200_000 if args.quick else 1_000_000)
    return push_doors(args, token, copy_rate) + scraping(args)

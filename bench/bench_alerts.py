"""Alerting: MTTD (ingest call carrying a breaching sample → Slack stand-in receives the POST,
rule with for = 0) over real daphne + Celery worker processes, and the cost of one evaluation
sweep of many rules over many series (anchor: one SQL aggregate over the same samples)."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection

from accounts.models import ApiToken
from alerts import lifecycle
from alerts.models import AlertRule, NotificationChannel
from bench.common import Result, median_ms
from lib.processes import free_port, start_group
from monitoring.store.writer import record_samples

BASE_DIR = Path(__file__).resolve().parent.parent


def _receiver() -> tuple[ThreadingHTTPServer, dict[str, float]]:
    arrivals: dict[str, float] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            for token in body.decode(errors="replace").split():
                if token.startswith("trial-"):
                    arrivals.setdefault(token.strip(",.*"), time.time())
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, arrivals


def _spawn(role: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return start_group([sys.executable, "-m", "config.launcher", role], {**os.environ, **env}, subprocess.DEVNULL)


def mttd(trials: int) -> tuple[list[float], int]:
    server, arrivals = _receiver()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    channel = NotificationChannel.objects.create(name=f"bench-{time.time()}", kind="slack", config={"webhook_url": url})
    rule = AlertRule.objects.create(
        name="bench mttd",
        metric="bench_mttd",
        critical_threshold=90,
        for_seconds=0,
        summary="{{ labels.trial }} breached",
    )
    rule.channels.add(channel)
    user, _ = User.objects.get_or_create(username="bench-alerts", defaults={"is_superuser": True})
    _, token = ApiToken.issue(user)
    port = free_port()
    env = {
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DEBUG": "0",
        # The bench process's own key: the channel's secret config it saved is encrypted with it.
        "SECRET_KEY": settings.SECRET_KEY,
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "OUTBOUND_ALLOWLIST": "127.0.0.1",
    }
    procs = [_spawn("web", env), _spawn("worker", env)]
    latencies: list[float] = []
    try:
        time.sleep(8)
        with httpx.Client(timeout=10, headers={"Authorization": f"Bearer {token}"}) as client:
            for trial in range(trials):
                name = f"trial-{trial}"
                sent = time.time()
                response = client.post(
                    f"http://127.0.0.1:{port}/api/v1/ingest/",
                    json={"samples": [{"metric": "bench_mttd", "labels": {"trial": name}, "value": 99}]},
                )
                assert response.status_code == 202, response.text
                deadline = time.time() + 15
                while name not in arrivals and time.time() < deadline:
                    time.sleep(0.005)
                if name in arrivals:
                    latencies.append((arrivals[name] - sent) * 1000)
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            proc.wait(30)
        server.shutdown()
        rule.delete()
        channel.delete()
    return latencies, trials - len(latencies)


def sweep_cost(rules: int, series: int) -> tuple[float, float]:
    now = time.time()
    metrics = 10
    record_samples((f"bench_sweep_{i % metrics}", {"s": str(i)}, now - 5, float(i % 100)) for i in range(series))
    AlertRule.objects.bulk_create(
        [
            AlertRule(name=f"sweep {i}", metric=f"bench_sweep_{i % metrics}", critical_threshold=1000)
            for i in range(rules)
        ]
    )
    sweep_ms = median_ms(5, lifecycle.sweep)  # nothing fires (values stay under 100): every sweep alike

    def anchor() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT series_id, max(value) FROM monitoring_sample "
                "WHERE ts > now() - interval '60 seconds' GROUP BY 1"
            )
            cursor.fetchall()

    anchor_ms = median_ms(5, anchor)
    AlertRule.objects.filter(name__startswith="sweep ").delete()
    return sweep_ms, anchor_ms


def run(args: Any) -> list[Result]:
    trials = 10 if args.quick else 50
    latencies, missed = mttd(trials)
    ordered = sorted(latencies)
    p50 = statistics.median(ordered)
    p99 = ordered[int(0.99 * (len(ordered) - 1))]
    rules, series = (100, 1000) if args.quick else (1000, 10_000)
    sweep_ms, anchor_ms = sweep_cost(rules, series)
    return [
        Result(
            f"MTTD p50 over {trials} trials (ingest → Slack stand-in)",
            p50,
            "ms",
            goal="≤1000 ms",
            met=p50 <= 1000,
            notes=f"{missed} trials missed",
        ),
        Result(f"MTTD p99 over {trials} trials", p99, "ms", goal="≤3000 ms", met=p99 <= 3000 and missed == 0),
        Result(
            f"one evaluation sweep: {rules:,} rules over {series:,} series",
            sweep_ms,
            "ms",
            "one SQL aggregate over the same samples",
            anchor_ms,
            notes="medians of 5 (sweep and anchor)",
        ),
    ]

"""Stream fan-out: publish→receive latency and loss with many authenticated clients.

Ours: daphne process(es) running Seismo, clients authenticated by token and subscribed to one
topic, one broadcast per second through ``lib.realtime.broadcast``. Anchor: a bare Channels app
(one consumer in one group, RedisChannelLayer defaults) under the same daphne, same clients,
same publish rate, in the same run. Clients run in a separate process.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import Result
from lib.processes import free_port, start_group, stop_group, wait_port

BASE_DIR = Path(__file__).resolve().parent.parent


def _server(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = open(BASE_DIR / "var" / "bench-stream-server.log", "ab")  # noqa: SIM115 (child keeps it)
    return start_group(argv, {**os.environ, **env}, log)


def _stop(proc: subprocess.Popen[Any]) -> None:
    stop_group(proc, timeout=30)


def _run_clients(
    url: str, clients: int, seconds: int, topic: str | None, publish: Any, deflate: bool = False
) -> dict[str, Any]:
    argv = [sys.executable, "-m", "bench.stream_clients", url, str(clients), str(seconds), topic or ""]
    if deflate:
        argv.append("deflate")
    proc = subprocess.Popen(argv, cwd=BASE_DIR, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "READY":
        proc.kill()
        raise RuntimeError(f"clients did not connect: {line!r}")
    for _ in range(seconds):
        publish()
        time.sleep(1.0)
    out, _ = proc.communicate(timeout=120)
    return json.loads(out.strip().splitlines()[-1])


def _summary(name: str, data: dict[str, Any], clients: int, ticks: int, goal_p99: float | None, anchor: Any) -> Result:
    latencies = sorted(data["latencies_ms"])
    expected = clients * ticks
    lost = expected - len(latencies)
    p50 = statistics.median(latencies) if latencies else float("nan")
    p99 = latencies[int(0.99 * (len(latencies) - 1))] if latencies else float("nan")
    anchor_p99 = None
    if anchor is not None and anchor["latencies_ms"]:
        sorted_anchor = sorted(anchor["latencies_ms"])
        anchor_p99 = sorted_anchor[int(0.99 * (len(sorted_anchor) - 1))]
    return Result(
        name,
        p99,
        "ms p99",
        "bare Channels (RedisChannelLayer defaults)" if anchor is not None else "",
        anchor_p99,
        goal=f"p99 ≤{goal_p99:.0f} ms, 0 lost" if goal_p99 else "",
        met=(p99 <= goal_p99 and lost <= 0) if goal_p99 else None,
        notes=f"p50 {p50:.0f} ms; {len(latencies):,}/{expected:,} frames; lost {max(lost, 0):,}",
    )


def _system_batch() -> list[dict[str, Any]]:
    """What the system collector publishes each tick: ~40 samples, labels on most."""
    samples = [
        {"metric": f"system_{m}", "labels": {"host": "bench-host"}, "value": 12.5}
        for m in (
            "cpu_percent",
            "load1",
            "load5",
            "load15",
            "memory_used_percent",
            "memory_used_bytes",
            "swap_used_percent",
            "processes",
            "uptime_seconds",
            "context_switches_per_second",
        )
    ]
    for device in ("sda", "sdb"):
        samples += [
            {"metric": f"system_disk_{m}", "labels": {"host": "bench-host", "device": device}, "value": 1.25}
            for m in ("read_bytes_per_second", "write_bytes_per_second", "used_percent", "iops")
        ]
    for nic in ("eth0", "eth1", "lo"):
        samples += [
            {"metric": f"system_network_{m}", "labels": {"host": "bench-host", "interface": nic}, "value": 3.0}
            for m in ("received_bytes_per_second", "sent_bytes_per_second", "errors", "drops")
        ]
    for cpu in range(6):
        samples.append(
            {"metric": "system_cpu_core_percent", "labels": {"host": "bench-host", "cpu": str(cpu)}, "value": 7.75}
        )
    return samples


def frame_sizes() -> list[Result]:
    """Bytes a socket receives for one system-metrics tick, before and after compaction."""
    import zlib

    import orjson

    from lib.streamcodec import Encoder, pack

    samples = _system_batch()
    now = time.time()
    envelope = {"type": "system-metrics", "topic": "system-metrics", "seq": 1234, "id": 1763805600123456}
    plain = len(orjson.dumps({**envelope, "ts": now, "samples": samples}))
    encoder = Encoder()
    first = len(orjson.dumps({**envelope, **encoder.encode("system-metrics", pack(now, samples))}))
    steady_frame = orjson.dumps({**envelope, **encoder.encode("system-metrics", pack(now + 1, samples))})
    deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
    deflated = len(deflater.compress(steady_frame) + deflater.flush(zlib.Z_SYNC_FLUSH))
    note = f"{len(samples)} samples: the system collector's tick"
    anchor = "labels in every sample"
    alone = "one message deflated on its own (context takeover compresses better)"
    return [
        Result("frame bytes, compact, first frame (schema included)", first, "B", anchor, plain, notes=note),
        Result("frame bytes, compact, every later frame", len(steady_frame), "B", anchor, plain, notes=note),
        Result("frame bytes, compact + permessage-deflate, later frame", deflated, "B", anchor, plain, notes=alone),
    ]


def run(args: Any) -> list[Result]:
    from django.contrib.auth.models import User

    from accounts.models import ApiToken
    from lib.realtime import broadcast
    from lib.streamcodec import pack

    clients, seconds = (100, 5) if args.quick else (1000, 20)
    user, _ = User.objects.get_or_create(username="bench-stream", defaults={"is_superuser": True})
    _, token = ApiToken.issue(user, name="bench-stream")
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DEBUG": "0",
        "SECRET_KEY": "bench-" + "x" * 40,
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
    }
    batch = _system_batch()

    def publish() -> None:
        now = time.time()
        broadcast("basic-metrics", {**pack(now, batch), "sent_at": now})

    results = frame_sizes()
    # Anchor: the bare Channels app under one daphne.
    from django.conf import settings

    anchor_port = free_port()
    anchor = _server(
        [sys.executable, "-m", "daphne", "-p", str(anchor_port), "bench.stream_anchor:application"],
        {"ANCHOR_REDIS_URL": settings.REDIS_URL, "DJANGO_SETTINGS_MODULE": ""},
    )
    try:
        wait_port(anchor_port)
        from channels_redis.core import RedisChannelLayer

        layer = RedisChannelLayer(hosts=[settings.REDIS_URL], prefix="bench-anchor")

        def anchor_publish() -> None:
            text = json.dumps({"sent_at": time.time()})
            asyncio.run(layer.group_send("bench", {"type": "bench.message", "text": text}))

        anchor_data = _run_clients(f"ws://127.0.0.1:{anchor_port}/ws/", clients, seconds, None, anchor_publish)
    finally:
        _stop(anchor)

    scenarios = ((1, clients, 150.0, False), (1, clients, 150.0, True), (2, clients * 2, 400.0, True))
    for processes, count, goal, deflate in scenarios:
        port = free_port()
        web = _server(
            [sys.executable, "-m", "config.launcher", "web"],
            {**env, "PORT": str(port), "WEB_CONCURRENCY": str(processes)},
        )
        try:
            wait_port(port)
            url = f"ws://127.0.0.1:{port}/ws/metrics/?token={token}"
            data = _run_clients(url, count, seconds, "basic-metrics", publish, deflate)
        finally:
            _stop(web)
        offered = "clients offer permessage-deflate (as browsers do)" if deflate else "no compression"
        results.append(
            _summary(
                f"{count:,} clients, {processes} daphne process(es), 1 update/s for {seconds} s, {offered}",
                data,
                count,
                seconds,
                goal if not args.quick else None,
                anchor_data if processes == 1 else None,
            )
        )
    results.append(
        _summary(f"anchor: bare Channels, {clients:,} clients, 1 daphne", anchor_data, clients, seconds, None, None)
    )
    return results

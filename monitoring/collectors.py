"""Collectors: each reads one family of metrics at one cadence and returns sample rows.

A collector returns ``(metric, labels, value)`` triples; ``collect_cadence`` stamps them, drops
switched-off metrics and families, stores them in one COPY and publishes one stream message per
family. Counters are reported as totals (use ``agg=rate`` to see them per second).
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import math
import os
import socket
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
from django.conf import settings
from django.db import connection

from config.celery import app as celery_app
from lib import sketch
from lib.redis import get_redis, key
from monitoring import reqstats
from monitoring.choices import FAMILY_TOPIC, Cadence, Family
from monitoring.models import Collector, Metric
from monitoring.store import writer

logger = logging.getLogger(__name__)

Row = tuple[str, dict[str, str], float] | tuple[str, dict[str, str], float, float]  # (…, value[, ts])
Reader = Callable[[], list[Row]]


# System ----------------------------------------------------------------------------------------


def system_fast() -> list[Row]:
    rows: list[Row] = [("system_cpu_percent", {}, psutil.cpu_percent(interval=None))]
    for index, value in enumerate(psutil.cpu_percent(interval=None, percpu=True)):
        rows.append(("system_cpu_core_percent", {"core": str(index)}, value))
    memory = psutil.virtual_memory()
    rows += [("system_memory_used_percent", {}, memory.percent), ("system_memory_used_bytes", {}, memory.used)]
    for nic, counters in psutil.net_io_counters(pernic=True).items():
        rows += [
            ("system_network_bytes_total", {"interface": nic, "direction": "rx"}, counters.bytes_recv),
            ("system_network_bytes_total", {"interface": nic, "direction": "tx"}, counters.bytes_sent),
            ("system_network_packets_total", {"interface": nic, "direction": "rx"}, counters.packets_recv),
            ("system_network_packets_total", {"interface": nic, "direction": "tx"}, counters.packets_sent),
        ]
    return rows


def _role_of(cmdline: str, pid: int) -> str | None:
    if "daphne" in cmdline and "config.asgi" in cmdline:
        return "web"
    if "celery" in cmdline and " worker" in cmdline:
        return "worker"
    if "celery" in cmdline and " beat" in cmdline:
        return "beat"
    return "collector" if pid == os.getpid() else None


# Processes younger than this may still exec into what they will be (``config.launcher worker``
# becomes ``config.celeryd worker``): their command line is read again next time.
SETTLED_SECONDS = 30.0

# pid → (its Process, its role or None: not ours), for settled processes from the last look.
# Reading every process's command line every 5 s was a quarter of the medium tier's CPU; a
# settled process keeps its command line, so only new pids are read (a kept Process object also
# keeps cpu_percent's previous reading).
_known: dict[int, tuple[psutil.Process, str | None]] = {}


def _seismo_processes() -> list[tuple[str, psutil.Process]]:
    """This host's Seismo processes: daphne (web), Celery worker and beat, by command line."""
    known: dict[int, tuple[psutil.Process, str | None]] = {}
    found = []
    settled_before = time.time() - SETTLED_SECONDS
    for pid in psutil.pids():
        entry = _known.get(pid)
        if entry is None or (entry[1] is not None and not entry[0].is_running()):  # new, or a reused pid
            try:
                proc = psutil.Process(pid)
                entry = (proc, _role_of(" ".join(proc.cmdline()), pid))
                if entry[1] is not None or proc.create_time() < settled_before:
                    known[pid] = entry
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        else:
            known[pid] = entry
        if entry[1] is not None:
            found.append((entry[1], entry[0]))
    _known.clear()
    _known.update(known)
    return found


# The kernel's TCP states as /proc/net/tcp numbers them, named as psutil names them.
TCP_STATES = {
    "01": "ESTABLISHED",
    "02": "SYN_SENT",
    "03": "SYN_RECV",
    "04": "FIN_WAIT1",
    "05": "FIN_WAIT2",
    "06": "TIME_WAIT",
    "07": "CLOSE",
    "08": "CLOSE_WAIT",
    "09": "LAST_ACK",
    "0A": "LISTEN",
    "0B": "CLOSING",
}


def tcp_states() -> dict[str, int]:
    """TCP sockets per state. On Linux from the kernel's socket-diagnostics netlink dump (as ``ss``
    reads them), else /proc/net/tcp{,6}, else psutil. psutil.net_connections also maps every
    socket to its process by walking each process's open files (~25 ms a call with 150
    processes) for counts that need no pid, and the /proc tables cost the kernel more to print
    than the netlink dump costs it to send (~9 ms against ~5 ms for 400 sockets)."""
    with contextlib.suppress(OSError, AttributeError):  # AttributeError: no AF_NETLINK here
        return tcp_states_netlink()
    tables = [Path("/proc/net/tcp"), Path("/proc/net/tcp6")]
    if tables[0].exists():
        return tcp_states_proc(tables)
    states: dict[str, int] = {}
    try:
        for conn in psutil.net_connections(kind="tcp"):
            states[conn.status] = states.get(conn.status, 0) + 1
    except (psutil.AccessDenied, OSError):
        pass
    return states


def tcp_states_proc(tables: list[Path]) -> dict[str, int]:
    states: dict[str, int] = {}
    for table in tables:
        with contextlib.suppress(OSError), table.open() as lines:
            next(lines, None)  # the header
            for line in lines:
                state = TCP_STATES.get(line.split(maxsplit=4)[3], "NONE")
                states[state] = states.get(state, 0) + 1
    return states


# linux/sock_diag.h and linux/inet_diag.h: one dump request per address family for every state.
_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST_DUMP = 0x301
_NLMSG_ERROR, _NLMSG_DONE = 2, 3
_NLMSG_HEADER = struct.Struct("=IHHII")  # length, type, flags, sequence, port id
_INET_DIAG_REQ = struct.Struct("=BBBBI48x")  # family, protocol, extensions, pad, states, socket id
_STATE_OFFSET = _NLMSG_HEADER.size + 1  # inet_diag_msg: family (u8), then state (u8)


def tcp_states_netlink() -> dict[str, int]:
    states: dict[str, int] = {}
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG) as sock:
        sock.settimeout(2)
        for sequence, family in enumerate((socket.AF_INET, socket.AF_INET6), start=1):
            request = _INET_DIAG_REQ.pack(family, socket.IPPROTO_TCP, 0, 0, 0xFFFFFFFF)
            sock.send(
                _NLMSG_HEADER.pack(
                    _NLMSG_HEADER.size + len(request), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST_DUMP, sequence, 0
                )
                + request
            )
            done = False
            while not done:
                data = sock.recv(1 << 16)
                offset = 0
                while offset + _NLMSG_HEADER.size <= len(data):
                    length, kind, _, _, _ = _NLMSG_HEADER.unpack_from(data, offset)
                    if kind == _NLMSG_DONE:
                        done = True
                        break
                    if kind == _NLMSG_ERROR or length < _NLMSG_HEADER.size:
                        raise OSError("socket diagnostics refused the dump")
                    state = TCP_STATES.get(f"{data[offset + _STATE_OFFSET]:02X}", "NONE")
                    states[state] = states.get(state, 0) + 1
                    offset += (length + 3) & ~3  # messages are 4-byte aligned
    return states


def system_medium() -> list[Row]:
    load1, load5, load15 = os.getloadavg()
    rows: list[Row] = [
        ("system_load1", {}, load1),
        ("system_load5", {}, load5),
        ("system_load15", {}, load15),
        ("system_swap_used_percent", {}, psutil.swap_memory().percent),
    ]
    for device, io in (psutil.disk_io_counters(perdisk=True) or {}).items():
        rows += [
            ("system_disk_io_bytes_total", {"device": device, "direction": "read"}, io.read_bytes),
            ("system_disk_io_bytes_total", {"device": device, "direction": "write"}, io.write_bytes),
            ("system_disk_io_ops_total", {"device": device, "direction": "read"}, io.read_count),
            ("system_disk_io_ops_total", {"device": device, "direction": "write"}, io.write_count),
        ]
    rows += [("system_open_connections", {"state": state.lower()}, count) for state, count in tcp_states().items()]
    for role, proc in _seismo_processes():
        labels = {"role": role, "pid": str(proc.pid)}
        try:
            with proc.oneshot():
                rows += [
                    ("process_rss_bytes", labels, proc.memory_info().rss),
                    ("process_cpu_percent", labels, proc.cpu_percent(interval=None)),
                    ("process_threads", labels, proc.num_threads()),
                    ("process_open_fds", labels, proc.num_fds()),
                ]
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return rows


def system_slow() -> list[Row]:
    rows: list[Row] = [
        ("system_uptime_seconds", {}, time.time() - psutil.boot_time()),
        ("system_memory_total_bytes", {}, psutil.virtual_memory().total),
        ("system_cpus", {}, psutil.cpu_count() or 0),
    ]
    seen: set[str] = set()
    for part in psutil.disk_partitions(all=False):
        if part.mountpoint in seen:
            continue
        seen.add(part.mountpoint)
        try:
            usage = psutil.disk_usage(part.mountpoint)
        except OSError:
            continue
        rows += [
            ("system_disk_used_percent", {"mount": part.mountpoint}, usage.percent),
            ("system_disk_free_bytes", {"mount": part.mountpoint}, usage.free),
        ]
    return rows


# PostgreSQL ------------------------------------------------------------------------------------


def database_medium() -> list[Row]:
    rows: list[Row] = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(state, 'unknown'), count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "GROUP BY 1"
        )
        rows += [("pg_connections", {"state": state}, count) for state, count in cursor.fetchall()]
        cursor.execute(
            "SELECT xact_commit, xact_rollback, tup_returned + tup_fetched, tup_inserted + tup_updated + tup_deleted, "
            "blks_hit, blks_read, deadlocks FROM pg_stat_database WHERE datname = current_database()"
        )
        commits, rollbacks, read, written, hit, blocks_read, deadlocks = cursor.fetchone()
        rows += [
            ("pg_commits_total", {}, commits),
            ("pg_rollbacks_total", {}, rollbacks),
            ("pg_rows_read_total", {}, read),
            ("pg_rows_written_total", {}, written),
            ("pg_cache_hit_ratio", {}, 100.0 * hit / (hit + blocks_read) if hit + blocks_read else 100.0),
            ("pg_deadlocks_total", {}, deadlocks),
        ]
        cursor.execute(
            "SELECT coalesce(max(extract(epoch FROM now() - query_start)), 0) FROM pg_stat_activity "
            "WHERE state = 'active' AND pid <> pg_backend_pid() AND datname = current_database()"
        )
        rows.append(("pg_longest_query_seconds", {}, float(cursor.fetchone()[0])))
        if pg_stat_statements_available():
            cursor.execute(
                "SELECT queryid::text, mean_exec_time FROM pg_stat_statements ORDER BY mean_exec_time DESC LIMIT 5"
            )
            rows += [("pg_slow_statement_seconds", {"queryid": qid}, ms / 1000) for qid, ms in cursor.fetchall()]
    return rows


def database_slow() -> list[Row]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        return [("pg_database_size_bytes", {}, cursor.fetchone()[0])]


_pgss: dict[str, Any] = {"checked": 0.0, "available": False}


def pg_stat_statements_available() -> bool:
    """Whether the pg_stat_statements view can be read (checked at most once a minute)."""
    if time.monotonic() - _pgss["checked"] > 60:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'")
            _pgss["available"] = cursor.fetchone()[0] == 1
        _pgss["checked"] = time.monotonic()
    return bool(_pgss["available"])


# Redis -----------------------------------------------------------------------------------------


def cache_medium() -> list[Row]:
    client = get_redis()
    started = time.perf_counter()
    client.ping()
    ping_seconds = time.perf_counter() - started
    info = client.info()
    hits, misses = info.get("keyspace_hits", 0), info.get("keyspace_misses", 0)
    keys = sum(db.get("keys", 0) for name, db in info.items() if name.startswith("db") and isinstance(db, dict))
    return [
        ("redis_hits_total", {}, hits),
        ("redis_misses_total", {}, misses),
        ("redis_hit_ratio", {}, 100.0 * hits / (hits + misses) if hits + misses else 100.0),
        ("redis_keys", {}, keys),
        ("redis_memory_used_bytes", {}, info.get("used_memory", 0)),
        ("redis_ops_per_second", {}, info.get("instantaneous_ops_per_sec", 0)),
        ("redis_clients", {}, info.get("connected_clients", 0)),
        ("redis_evicted_keys_total", {}, info.get("evicted_keys", 0)),
        ("redis_ping_seconds", {}, ping_seconds),
    ]


# Celery ----------------------------------------------------------------------------------------

TASK_STATS_KEY = "celery:task-stats"


def record_task_run(name: str, runtime: float, failed: bool) -> None:
    """Called by the worker after each task (Celery signals): three counters in one round trip."""
    stats_key = key(TASK_STATS_KEY)
    pipe = get_redis().pipeline(transaction=False)
    pipe.hincrbyfloat(stats_key, f"{name}|total", 1)
    pipe.hincrbyfloat(stats_key, f"{name}|runtime", runtime)
    if failed:
        pipe.hincrbyfloat(stats_key, f"{name}|failures", 1)
    pipe.execute()


def celery_medium() -> list[Row]:
    client = get_redis()
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    rows: list[Row] = [("celery_queue_depth", {"queue": queue}, client.llen(queue))]
    try:
        replies = celery_app.control.ping(timeout=0.5)
    except Exception:  # the broker is down: no workers answer
        replies = []
    rows.append(("celery_workers", {}, len(replies)))
    stats: dict[str, dict[str, float]] = {}
    for raw_field, raw in client.hgetall(key(TASK_STATS_KEY)).items():
        name, _, what = raw_field.decode().rpartition("|")
        stats.setdefault(name, {})[what] = float(raw)
    for name, values in stats.items():
        total, failures, runtime = values.get("total", 0), values.get("failures", 0), values.get("runtime", 0)
        rows += [
            ("celery_tasks_total", {"task": name}, total),
            ("celery_task_failures_total", {"task": name}, failures),
            ("celery_task_runtime_seconds", {"task": name}, runtime / total if total else 0.0),
        ]
    return rows


# Requests (from the middleware's periods in Redis, monitoring.reqstats) ---------------------------

# A collector that was down catches up on at most this many periods (older ones are dropped).
CATCH_UP_PERIODS = 12


def network_fast(now: float | None = None) -> list[Row]:
    """Turn every finished request period into samples, each period exactly once."""
    client = get_redis()
    now = time.time() if now is None else now
    step = reqstats.PERIOD_SECONDS
    current = reqstats.period_of(now)
    done = client.get(key(reqstats.DONE_KEY))
    period = max(int(done) + step if done else current - step, current - CATCH_UP_PERIODS * step)
    rows: list[Row] = []
    if period >= current:  # four runs in five: the current period is not finished yet
        return rows
    while period < current:
        # Claimed once across overlapping collector runs.
        if client.set(key(reqstats.claim_key(period)), 1, nx=True, ex=600):
            data = {k.decode(): float(v) for k, v in client.hgetall(key(reqstats.period_key(period))).items()}
            rows += _period_rows(client, data, float(period + step))
        period += step
    client.set(key(reqstats.DONE_KEY), period - step)
    return rows


def _period_rows(client: Any, data: dict[str, float], ts: float) -> list[Row]:
    """One period's fields as samples stamped ``ts``: rates and error shares per source, latency
    quantiles per route, running totals (counters), DB work per request, requests in flight."""
    seconds = reqstats.PERIOD_SECONDS
    rows: list[Row] = []
    per_source: dict[str, float] = {}
    errors_by_source: dict[str, float] = {}
    sketches: dict[tuple[str, str], dict[str, int]] = {}
    queries: dict[str, float] = {}
    query_ms: dict[str, float] = {}
    in_flight = 0.0
    totals = key(reqstats.TOTALS_KEY)
    pipe = client.pipeline(transaction=False)
    counters: list[tuple[str, dict[str, str]]] = []
    for field, amount in data.items():
        kind, parts = reqstats.parse(field)
        if kind == reqstats.REQUESTS:
            route, method, status, source = parts
            per_source[source] = per_source.get(source, 0) + amount
            pipe.hincrbyfloat(totals, field, amount)
            counters.append(
                ("http_requests_total", {"route": route, "method": method, "status": status, "source": source})
            )
        elif kind == reqstats.ERRORS:
            route, source = parts
            errors_by_source[source] = errors_by_source.get(source, 0) + amount
            pipe.hincrbyfloat(totals, field, amount)
            counters.append(("http_errors_total", {"route": route, "source": source}))
        elif kind == reqstats.BYTES:
            route, source = parts
            pipe.hincrbyfloat(totals, field, amount)
            counters.append(("http_response_bytes_total", {"route": route, "source": source}))
        elif kind == reqstats.LATENCY:
            route, source, bucket = parts
            sketches.setdefault((route, source), {})[bucket] = int(amount)
        elif kind == reqstats.QUERIES:
            queries[parts[0]] = amount
        elif kind == reqstats.QUERY_MS:
            query_ms[parts[0]] = amount
        elif kind == reqstats.IN_FLIGHT:
            in_flight += amount
    for (name, labels), total in zip(counters, pipe.execute(), strict=True):
        rows.append((name, labels, float(total), ts))
    for source, count in per_source.items():
        rows.append(("http_request_rate", {"source": source}, count / seconds, ts))
        rows.append(("http_error_rate", {"source": source}, 100.0 * errors_by_source.get(source, 0) / count, ts))
        if source in queries:
            rows.append(("http_db_queries_per_request", {"source": source}, queries[source] / count, ts))
            db_seconds = query_ms.get(source, 0) / 1000 / count
            rows.append(("http_db_time_per_request_seconds", {"source": source}, db_seconds, ts))
    rows += _latency_histograms(client, sketches, ts)
    rows.append(("http_requests_in_flight", {}, in_flight, ts))
    return rows


# Prometheus' default buckets (seconds) for http_request_duration_seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _latency_histograms(client: Any, sketches: dict[tuple[str, str], dict[str, int]], ts: float) -> list[Row]:
    """A period's request durations (sketch buckets in ms) added to the running histogram per
    route and source: cumulative ``_bucket{le}``, ``_sum`` and ``_count``, as a Prometheus client does."""
    if not sketches:
        return []
    totals = key(reqstats.TOTALS_KEY)
    pipe = client.pipeline(transaction=False)
    for (route, source), counts in sketches.items():
        per_bucket = [0] * (len(LATENCY_BUCKETS) + 1)
        seconds = 0.0
        for bucket, n in counts.items():
            value = sketch.representative(bucket) / 1000
            per_bucket[bisect.bisect_left(LATENCY_BUCKETS, value)] += n
            seconds += value * n
        for index, n in enumerate(per_bucket):
            pipe.hincrbyfloat(totals, reqstats.field("hb", route, source, index), n)
        pipe.hincrbyfloat(totals, reqstats.field("hs", route, source), seconds)
    answers = iter(pipe.execute())
    rows: list[Row] = []
    for route, source in sketches:
        labels = {"route": route, "source": source}
        running = 0.0
        for bound in (*LATENCY_BUCKETS, math.inf):
            running += float(next(answers))
            le = "+Inf" if math.isinf(bound) else repr(bound)
            rows.append(("http_request_duration_seconds_bucket", {**labels, "le": le}, running, ts))
        rows.append(("http_request_duration_seconds_sum", labels, float(next(answers)), ts))
        rows.append(("http_request_duration_seconds_count", labels, running, ts))
    return rows


READERS: dict[Cadence, list[tuple[Family, Reader]]] = {
    Cadence.FAST: [(Family.SYSTEM, system_fast), (Family.NETWORK, network_fast)],
    Cadence.MEDIUM: [
        (Family.SYSTEM, system_medium),
        (Family.DATABASE, database_medium),
        (Family.CACHE, cache_medium),
        (Family.CELERY, celery_medium),
    ],
    Cadence.SLOW: [(Family.SYSTEM, system_slow), (Family.DATABASE, database_slow)],
}

_switches: dict[str, Any] = {"at": 0.0, "families": set(), "metrics": set()}


def switched_off() -> tuple[set[str], set[str]]:
    """Families and metrics turned off in the admin (re-read every 5 s: no restart needed)."""
    if time.monotonic() - _switches["at"] > 5:
        _switches["families"] = set(Collector.objects.filter(enabled=False).values_list("family", flat=True))
        _switches["metrics"] = set(Metric.objects.filter(enabled=False).values_list("name", flat=True))
        _switches["at"] = time.monotonic()
    return _switches["families"], _switches["metrics"]


def collect_cadence(cadence: Cadence | str) -> int:
    """Run every enabled collector of a cadence; store and publish the results. Returns samples stored."""
    families_off, metrics_off = switched_off()
    # Milliseconds, as Prometheus stamps: sub-millisecond scheduling jitter would otherwise cost
    # about a byte per sample once compacted (bench/bench_storage.py).
    now = round(time.time(), 3)
    stored = 0
    for family, reader in READERS[Cadence(cadence)]:
        if family in families_off:
            continue
        try:
            rows = reader()
        except Exception as exc:  # one failing source must not stop the others
            logger.warning("collector %s/%s failed: %s", family, reader.__name__, exc)
            continue
        wanted = [
            (row[0], row[1], row[3] if len(row) == 4 else now, float(row[2]))
            for row in rows
            if row[0] not in metrics_off
        ]
        stored += writer.record_samples(wanted, topic=FAMILY_TOPIC[family])
    return stored

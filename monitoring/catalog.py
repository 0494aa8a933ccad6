"""Every metric Seismo collects itself: name, family, kind, unit, help and the cadence that collects it.

Ingested metrics need no entry: they are catalogued as ``custom`` gauges on first sight.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitoring.choices import Cadence, Family, Kind


@dataclass(frozen=True)
class MetricDef:
    name: str
    family: Family
    kind: Kind
    unit: str
    help: str
    cadence: Cadence


def _defs(family: Family, cadence: Cadence, rows: list[tuple[str, Kind, str, str]]) -> list[MetricDef]:
    return [MetricDef(name, family, kind, unit, help_text, cadence) for name, kind, unit, help_text in rows]


G, C = Kind.GAUGE, Kind.COUNTER

CATALOG: list[MetricDef] = [
    *_defs(
        Family.SYSTEM,
        Cadence.FAST,
        [
            ("system_cpu_percent", G, "%", "CPU use over all cores"),
            ("system_cpu_core_percent", G, "%", "CPU use per core (label core)"),
            ("system_memory_used_percent", G, "%", "Memory in use"),
            ("system_memory_used_bytes", G, "bytes", "Memory in use"),
            ("system_network_bytes_total", C, "bytes", "Bytes per interface and direction"),
            ("system_network_packets_total", C, "packets", "Packets per interface and direction"),
        ],
    ),
    *_defs(
        Family.SYSTEM,
        Cadence.MEDIUM,
        [
            ("system_load1", G, "", "1-minute load average"),
            ("system_load5", G, "", "5-minute load average"),
            ("system_load15", G, "", "15-minute load average"),
            ("system_swap_used_percent", G, "%", "Swap in use"),
            ("system_disk_io_bytes_total", C, "bytes", "Disk bytes read/written per device"),
            ("system_disk_io_ops_total", C, "ops", "Disk reads/writes per device"),
            ("system_open_connections", G, "", "Open TCP connections by state"),
            ("process_rss_bytes", G, "bytes", "Resident memory of a Seismo process (label role)"),
            ("process_cpu_percent", G, "%", "CPU of a Seismo process"),
            ("process_threads", G, "", "Threads of a Seismo process"),
            ("process_open_fds", G, "", "Open file descriptors of a Seismo process"),
        ],
    ),
    *_defs(
        Family.SYSTEM,
        Cadence.SLOW,
        [
            ("system_disk_used_percent", G, "%", "Disk space in use per mount"),
            ("system_disk_free_bytes", G, "bytes", "Free disk space per mount"),
            ("system_uptime_seconds", G, "s", "Host uptime"),
            ("system_memory_total_bytes", G, "bytes", "Installed memory"),
            ("system_cpus", G, "", "Logical CPUs"),
        ],
    ),
    *_defs(
        Family.DATABASE,
        Cadence.MEDIUM,
        [
            ("pg_connections", G, "", "PostgreSQL connections by state"),
            ("pg_commits_total", C, "", "Transactions committed"),
            ("pg_rollbacks_total", C, "", "Transactions rolled back"),
            ("pg_rows_read_total", C, "rows", "Rows returned + fetched"),
            ("pg_rows_written_total", C, "rows", "Rows inserted + updated + deleted"),
            ("pg_cache_hit_ratio", G, "%", "Block cache hit ratio"),
            ("pg_deadlocks_total", C, "", "Deadlocks detected"),
            ("pg_longest_query_seconds", G, "s", "Age of the longest running query"),
            ("pg_slow_statement_seconds", G, "s", "Mean time of the slowest statements (pg_stat_statements)"),
        ],
    ),
    *_defs(Family.DATABASE, Cadence.SLOW, [("pg_database_size_bytes", G, "bytes", "Database size")]),
    *_defs(
        Family.CACHE,
        Cadence.MEDIUM,
        [
            ("redis_hits_total", C, "", "Keyspace hits"),
            ("redis_misses_total", C, "", "Keyspace misses"),
            ("redis_hit_ratio", G, "%", "Hits / (hits + misses)"),
            ("redis_keys", G, "", "Keys in all databases"),
            ("redis_memory_used_bytes", G, "bytes", "Memory used by Redis"),
            ("redis_ops_per_second", G, "ops/s", "Instantaneous operations per second"),
            ("redis_clients", G, "", "Connected clients"),
            ("redis_evicted_keys_total", C, "", "Keys evicted"),
            ("redis_ping_seconds", G, "s", "PING round trip"),
        ],
    ),
    *_defs(
        Family.NETWORK,
        Cadence.FAST,
        [
            ("http_requests_total", C, "", "Requests by route, method, status class and source"),
            ("http_request_rate", G, "req/s", "Requests per second by source"),
            # A histogram (buckets le=…, _sum, _count): agg=p95 on http_request_duration_seconds.
            ("http_request_duration_seconds_bucket", C, "s", "Requests by duration bucket (le), route and source"),
            ("http_request_duration_seconds_sum", C, "s", "Total duration of requests by route and source"),
            ("http_request_duration_seconds_count", C, "", "Requests timed, by route and source"),
            ("http_errors_total", C, "", "5xx responses and exceptions"),
            ("http_error_rate", G, "%", "Share of 5xx responses by source"),
            ("http_response_bytes_total", C, "bytes", "Response body bytes"),
            ("http_requests_in_flight", G, "", "Requests being served"),
            ("http_db_queries_per_request", G, "", "Mean database queries per request"),
            ("http_db_time_per_request_seconds", G, "s", "Mean database time per request"),
        ],
    ),
    *_defs(
        Family.CELERY,
        Cadence.MEDIUM,
        [
            ("celery_queue_depth", G, "", "Tasks waiting in the queue"),
            ("celery_workers", G, "", "Workers answering a ping"),
            ("celery_task_runtime_seconds", G, "s", "Mean task runtime by task"),
            ("celery_task_failures_total", C, "", "Failed tasks by task"),
            ("celery_tasks_total", C, "", "Finished tasks by task"),
        ],
    ),
]

BY_NAME: dict[str, MetricDef] = {d.name: d for d in CATALOG}

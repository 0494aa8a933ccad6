"""The embedded PostgreSQL and Redis, started for real in a scratch data directory."""

from pathlib import Path

import psycopg
import pytest
import redis

from config.embedded import EmbeddedPostgres, EmbeddedRedis, celery_broker_url, ensure_embedded, stop_embedded


def test_redis_urls_are_translated_for_celery_and_its_repaired_transport():
    assert celery_broker_url("unix:///var/run/r.sock?db=3") == "seismoredis+socket:///var/run/r.sock?virtual_host=3"
    assert celery_broker_url("redis://h:6379/0") == "seismoredis://h:6379/0"
    assert celery_broker_url("rediss://h:6380/0") == "rediss://h:6380/0"


def test_embedded_servers_start_are_reused_and_stop(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    data_dir = tmp_path / "a-very-long-directory-name-so-the-socket-path-needs-a-shorter-home" / "data"
    env, started = ensure_embedded(data_dir)
    try:
        assert started == ["postgres", "redis"]
        assert "5432" not in env["DATABASE_URL"] and "6379" not in env["REDIS_URL"]
        pg = EmbeddedPostgres(data_dir)
        with psycopg.connect(host=str(pg.socket_dir), user="postgres", dbname="seismo") as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        client = redis.Redis.from_url(env["REDIS_URL"])
        assert client.ping()
        again, started_again = ensure_embedded(data_dir)
        assert started_again == [] and again == env  # reused while alive
    finally:
        stop_embedded(data_dir, ["postgres", "redis"])
    assert not EmbeddedPostgres(data_dir).is_running()
    assert not EmbeddedRedis(data_dir).is_running()


@pytest.mark.skipif(not Path("/proc/self/smaps_rollup").exists(), reason="Linux: reads /proc/<pid>/smaps_rollup")
def test_embedded_backends_give_back_the_memory_of_a_big_query(tmp_path):
    """A long-lived backend (a pooled connection) must not keep the peak of its largest sort:
    with glibc's adaptive mmap threshold it kept ~45 MB of this one after it finished."""
    pg = EmbeddedPostgres(tmp_path / "data")
    pg.start()
    try:
        with psycopg.connect(host=str(pg.socket_dir), user="postgres", dbname="seismo", autocommit=True) as conn:
            pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
            conn.execute("SET work_mem = '64MB'")
            for _ in range(2):  # the first big free raises glibc's threshold; the second stays
                conn.execute(
                    "SELECT count(*) FROM (SELECT g, md5(g::text) FROM generate_series(1, 800000) g ORDER BY 2) s"
                ).fetchone()
            private = _pss_anon(pid)
    finally:
        pg.stop()
    assert private < 16 * 2**20, f"the backend kept {private / 2**20:.1f} MiB after its sort"


def _pss_anon(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss_Anon:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no Pss_Anon line")

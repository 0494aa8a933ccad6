"""The embedded PostgreSQL and Redis, started for real in a scratch data directory."""

import psycopg
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

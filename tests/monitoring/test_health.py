import time

import orjson
import pytest

from lib.redis import get_redis
from tests.conftest import start_beat, start_worker, wait_until

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_is_503_naming_the_worker_and_beat_when_they_are_not_running(client):
    get_redis().delete("seismotest:beat:heartbeat")
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"]["status"] == "up" and body["redis"]["status"] == "up"
    assert body["celery_worker"]["status"] == "down"
    assert body["celery_beat"]["status"] == "down"


def test_readyz_names_redis_when_redis_is_unreachable(client, settings, tmp_path):
    get_redis.cache_clear()
    settings.REDIS_URL = f"unix://{tmp_path}/nothing-here.sock"
    try:
        started = time.monotonic()
        response = client.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["redis"]["status"] == "down"
        assert body["celery_worker"] == {"status": "down", "error": "redis is down"}
        assert time.monotonic() - started < 10  # a probe never hangs (not a speed assertion)
    finally:
        get_redis.cache_clear()


def test_readyz_names_the_database_when_it_is_unreachable(client, transactional_db):
    from django.db import connection

    # The probe goes through the pool: rebuild it against a server that is not there.
    original = connection.settings_dict["HOST"]
    connection.close()
    connection.close_pool()
    connection.settings_dict["HOST"] = "/nonexistent-socket-dir"
    try:
        response = client.get("/readyz")
    finally:
        connection.settings_dict["HOST"] = original
        connection.close_pool()
    assert response.status_code == 503
    assert response.json()["database"]["status"] == "down"


def test_readyz_called_in_a_burst_pings_the_workers_once_and_answers_one_snapshot(client, settings):
    redis = get_redis()
    # Celery's broadcast (control.ping) goes out on this fanout channel (pub/sub spans databases).
    channel = f"/{redis.connection_pool.connection_kwargs['db']}.{settings.CELERY_CONTROL_EXCHANGE}.pidbox"
    pubsub = redis.pubsub()
    pubsub.subscribe(channel)
    try:
        assert pubsub.get_message(timeout=1)["type"] == "subscribe"
        bodies = [client.get("/readyz").json() for _ in range(20)]
        pings = []
        for _ in range(50):  # bounded drain of what was published meanwhile
            message = pubsub.get_message(timeout=0.05)
            if message is None:
                break
            pings.append(message)
    finally:
        pubsub.close()
    # One run of the checks (one ping) per snapshot, and a burst gets one snapshot (or a few,
    # should the burst straddle the cache window on a loaded machine).
    snapshots = {orjson.dumps(body, option=orjson.OPT_SORT_KEYS) for body in bodies}
    assert len(pings) == len(snapshots) < 5
    assert "latency_ms" in bodies[0]["database"]


def test_the_overview_and_readyz_share_one_snapshot(client, viewer):
    from monitoring import health

    first = client.get("/readyz").json()
    assert health.snapshot() == first
    client.force_login(viewer)
    assert client.get("/").status_code == 200
    assert client.get("/readyz").json() == first


@pytest.mark.slow
def test_readyz_follows_the_worker_and_beat_going_down_and_coming_back(client, transactional_db, tmp_path):
    worker = start_worker()
    beat = start_beat(tmp_path)
    try:
        ready = wait_until(lambda: client.get("/readyz").status_code == 200, timeout=30)
        assert ready
        body = client.get("/readyz").json()
        assert body["celery_beat"]["age_seconds"] < 10
        assert body["celery_worker"]["workers"]

        worker.stop()
        started = time.monotonic()
        wait_until(lambda: client.get("/readyz").status_code == 503, timeout=10)
        assert time.monotonic() - started <= 10
        assert client.get("/readyz").json()["celery_worker"]["status"] == "down"

        worker = start_worker("worker-again")
        wait_until(lambda: client.get("/readyz").status_code == 200, timeout=30)

        beat.stop()
        wait_until(lambda: client.get("/readyz").json()["celery_beat"]["status"] == "down", timeout=15)
    finally:
        worker.stop()
        beat.stop()


def test_the_overview_partial_lists_each_component(client, viewer):
    client.force_login(viewer)
    response = client.get("/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    text = response.content.decode()
    assert "<html" not in text  # an HTMX request gets the fragment only
    for name in ("database", "redis", "celery_worker", "celery_beat"):
        assert f'data-component="{name}"' in text


def test_prometheus_metrics_need_a_token(client, api_as, viewer, settings):
    assert client.get("/metrics").status_code == 401
    response = api_as(viewer).get("/metrics")
    assert response.status_code == 200
    assert 'seismo_component_up{component="database"} 1' in response.content.decode()
    settings.METRICS_TOKEN = "scrape-token"
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token").status_code == 200
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401


def test_readyz_follows_a_real_redis_going_down_and_coming_back(client, settings, tmp_path):
    from config.embedded import EmbeddedRedis

    server = EmbeddedRedis(tmp_path)
    server.start()
    get_redis.cache_clear()
    settings.REDIS_URL = server.url
    try:
        assert client.get("/readyz").json()["redis"]["status"] == "up"
        server.stop()
        # Within a second (the snapshot's lifetime) it says so.
        response = wait_until(
            lambda: (r := client.get("/readyz")).json()["redis"]["status"] == "down" and r, timeout=10
        )
        assert response.status_code == 503
        server.start()
        wait_until(lambda: client.get("/readyz").json()["redis"]["status"] == "up", timeout=10)
    finally:
        server.stop()
        get_redis.cache_clear()


def test_readyz_says_whether_slow_statement_metrics_are_available(client):
    database = client.get("/readyz").json()["database"]
    assert database["pg_stat_statements"] in ("available", "unavailable")


def test_admins_switch_collection_per_metric_and_family_in_the_admin(client, owner):
    from monitoring.models import Collector, Metric

    client.force_login(owner)
    metric = Metric.objects.create(name="system_cpu_percent")
    response = client.post(
        "/admin/monitoring/metric/", {"action": "disable", "_selected_action": [metric.pk]}, follow=True
    )
    assert response.status_code == 200
    metric.refresh_from_db()
    assert metric.enabled is False
    for page in ("metric", "series", "collector", "dailysummary"):
        assert client.get(f"/admin/monitoring/{page}/").status_code == 200
    assert Collector.objects.filter(family="system", enabled=True).exists()

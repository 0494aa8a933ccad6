"""The overview at `/`: component health, key-metric cards from the newest stored values, firing
alerts and recent events; HTMX polls get the components partial."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from alerts.models import Alert, AlertRule
from monitoring.store.writer import record_samples
from overview import services

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_overview_shows_components_cards_alerts_and_events(viewer):
    response = _client(viewer).get("/")
    assert response.status_code == 200
    html = response.content.decode()
    for name in ("Database", "Redis", "Worker", "Beat", "Stream"):
        assert name in html
    for title in ("CPU", "Memory", "Request rate", "p95 latency", "Error rate", "DB connections", "Cache hit ratio"):
        assert f'">{title}</a>' in html  # each card's title opens its metric in Explore
    assert "Firing alerts" in html and "Recent events" in html


def test_the_page_does_not_wait_on_probes_and_asks_for_component_health_once_shown(viewer):
    html = _client(viewer).get("/").content.decode()
    # Each component shows as "checking" until the fragment (which pings the worker) arrives.
    assert html.count('class="component checking"') == 4
    assert 'hx-trigger="load, every 5s"' in html


def test_the_overview_answers_htmx_with_the_components_partial(viewer):
    response = _client(viewer).get("/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-component="database"' in html and "<h1>" not in html
    assert "healthy" in html or "degraded" in html or "failing" in html


def test_the_overview_cards_start_from_the_newest_stored_values(viewer):
    now = time.time()
    record_samples([("system_cpu_percent", {}, now - 5, 33.5)], topic="system-metrics")
    record_samples(
        [("pg_connections", {"state": "idle"}, now - 5, 3.0), ("pg_connections", {"state": "active"}, now - 5, 4.0)],
        topic="database-metrics",
    )
    html = _client(viewer).get("/").content.decode()
    assert 'data-card="cpu"' in html and 'data-value="33.5"' in html
    assert 'data-value="7.0"' in html  # connections of every state add up


def test_components_map_to_healthy_degraded_and_failing():
    states = services.component_states(
        {
            "database": {"status": "up", "latency_ms": 3.0},
            "redis": {"status": "up", "latency_ms": 900.0},
            "celery_beat": {"status": "up", "age_seconds": 45.0},
            "celery_worker": {"status": "down", "error": "no worker"},
        }
    )
    assert {k: v["health"] for k, v in states.items()} == {
        "database": "healthy",
        "redis": "degraded",
        "celery_beat": "degraded",
        "celery_worker": "failing",
    }


def test_the_overview_sources_never_fail_the_page():
    cards = services.overview_cards()
    assert [c["key"] for c in cards] == [
        "cpu",
        "memory",
        "request_rate",
        "p95_latency",
        "error_rate",
        "db_connections",
        "cache_hit_ratio",
    ]
    assert isinstance(services.firing_alerts(), list)
    assert isinstance(services.recent_events(), list)


def test_firing_alerts_and_recent_events_cost_the_same_queries_for_one_or_many_alerts(django_assert_num_queries):
    def fire(n: int) -> None:
        for i in range(n):
            rule = AlertRule.objects.create(name=f"rule {Alert.objects.count()}", metric="cpu", critical_threshold=1)
            Alert.objects.create(rule=rule, labels={}, labels_key=f"k{i}", state="firing", severity="critical")

    def render() -> list[str]:
        return [a.rule.name for a in services.firing_alerts()] + [e["text"] for e in services.recent_events()]

    fire(1)
    with django_assert_num_queries(3):  # firing alerts, alert events, load-test runs
        assert len(render()) == 2
    fire(5)
    with django_assert_num_queries(3):
        assert "rule 5" in render()

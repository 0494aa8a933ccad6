"""Dashboard services a page relies on: ranges and steps, variables, health mapping, the
overview's optional sources, the admin."""

from __future__ import annotations

import time

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from dashboards import services
from dashboards.models import Dashboard

pytestmark = pytest.mark.django_db


def test_a_preset_range_ends_now_and_keeps_charts_under_2000_points():
    span = services.resolve_range({"range": "30d"}, "1h")
    assert span["range"] == "30d"
    assert abs(span["to"] - time.time()) < 5 and span["to"] - span["from"] == 30 * 86400
    assert (span["to"] - span["from"]) / span["step"] <= services.MAX_POINTS


def test_a_custom_range_is_kept_and_a_bad_one_falls_back_to_the_default():
    assert services.resolve_range({"from": "1000", "to": "4600"}, "1h") | {} == {
        "range": "custom",
        "from": 1000.0,
        "to": 4600.0,
        "step": 2,
    }
    for params in ({"from": "9", "to": "3"}, {"from": "nan", "to": "x"}, {"range": "2y"}):
        assert services.resolve_range(params, "6h")["range"] == "6h"


def test_variables_must_be_label_names():
    assert services.clean_variables(None) == []
    assert services.clean_variables(["host", {"name": "env", "default": "prod"}]) == [
        {"name": "host", "default": ""},
        {"name": "env", "default": "prod"},
    ]
    for bad in ("host", [{"name": "1x"}], [{"name": "a"}] * 11):
        with pytest.raises(ValidationError):
            services.clean_variables(bad)


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


def test_a_widget_history_is_drawn_as_a_time_series():
    system = Dashboard.objects.get(default_key="system")
    gauge = system.widgets.filter(kind="gauge").first()
    assert services.widget_payload([gauge])[0]["kind"] == "gauge"
    assert services.widget_payload([gauge], as_chart=True)[0]["kind"] == "timeseries"
    query = services.export_query(gauge, services.resolve_range({}, "1h"))
    assert query.startswith(f"metric={gauge.metric}&") and "agg=last" in query


def test_a_dashboard_holds_a_bounded_number_of_widgets(editor):
    dashboard = services.create_dashboard(editor, {"title": "Full"}, [{"metric": "m"}] * services.MAX_WIDGETS)
    with pytest.raises(ValidationError):
        services.add_widget(dashboard, {"metric": "m"})


def test_the_admin_lists_dashboards_with_their_widgets(owner):
    client = Client()
    client.force_login(owner)
    system = Dashboard.objects.get(default_key="system")
    assert client.get("/admin/dashboards/dashboard/").status_code == 200
    page = client.get(f"/admin/dashboards/dashboard/{system.pk}/change/")
    assert page.status_code == 200 and "system_cpu_percent" in page.content.decode()


def test_firing_alerts_and_recent_events_cost_the_same_queries_for_one_or_many_alerts(django_assert_num_queries):
    from alerts.models import Alert, AlertRule

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
        assert "rule 5 {} [firing]" in render()

"""Dashboard services a page relies on: ranges and steps, variables, widget payloads, limits,
the admin."""

from __future__ import annotations

import time

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from dashboards import ranges, services, validation
from dashboards.models import Dashboard
from monitoring.rules import MAX_POINTS

pytestmark = pytest.mark.django_db


def test_a_preset_range_ends_now_and_keeps_charts_under_2000_points():
    span = ranges.resolve_range({"range": "30d"}, "1h")
    assert span["range"] == "30d"
    assert abs(span["to"] - time.time()) < 5 and span["to"] - span["from"] == 30 * 86400
    assert (span["to"] - span["from"]) / span["step"] <= MAX_POINTS


def test_a_custom_range_is_kept_and_a_bad_one_falls_back_to_the_default():
    assert ranges.resolve_range({"from": "1000", "to": "4600"}, "1h") | {} == {
        "range": "custom",
        "from": 1000.0,
        "to": 4600.0,
        "step": 2,
    }
    for params in ({"from": "9", "to": "3"}, {"from": "nan", "to": "x"}, {"range": "2y"}):
        assert ranges.resolve_range(params, "6h")["range"] == "6h"


def test_variables_must_be_label_names():
    assert validation.clean_variables(None) == []
    assert validation.clean_variables(["host", {"name": "env", "default": "prod"}]) == [
        {"name": "host", "default": ""},
        {"name": "env", "default": "prod"},
    ]
    for bad in ("host", [{"name": "1x"}], [{"name": "a"}] * 11):
        with pytest.raises(ValidationError):
            validation.clean_variables(bad)


def test_a_widget_history_is_drawn_as_a_time_series():
    system = Dashboard.objects.get(default_key="system")
    gauge = system.widgets.filter(kind="gauge").first()
    assert services.widget_payload([gauge])[0]["kind"] == "gauge"
    assert services.widget_payload([gauge], as_chart=True)[0]["kind"] == "timeseries"
    query = services.export_query(gauge, ranges.resolve_range({}, "1h"))
    assert query.startswith(f"metric={gauge.metric}&") and "agg=last" in query


def test_a_dashboard_holds_a_bounded_number_of_widgets(editor):
    dashboard = services.create_dashboard(editor, {"title": "Full"}, [{"metric": "m"}] * validation.MAX_WIDGETS)
    with pytest.raises(ValidationError):
        services.add_widget(dashboard, {"metric": "m"})


def test_the_admin_lists_dashboards_with_their_widgets(owner):
    client = Client()
    client.force_login(owner)
    system = Dashboard.objects.get(default_key="system")
    assert client.get("/admin/dashboards/dashboard/").status_code == 200
    page = client.get(f"/admin/dashboards/dashboard/{system.pk}/change/")
    assert page.status_code == 200 and "system_cpu_percent" in page.content.decode()


def _admin_form(dashboard: Dashboard, **widget: str) -> dict[str, str]:
    row = {"kind": "timeseries", "title": "", "metric": "m", "labels": "{}", "aggregation": "avg"}
    row |= {"thresholds": "[]", "x": "0", "y": "0", "w": "12", "h": "6", **widget}
    form = {"title": dashboard.title, "time_range": "1h", "variables": "[]", "description": ""}
    form |= {"widgets-TOTAL_FORMS": "1", "widgets-INITIAL_FORMS": "0", "widgets-MIN_NUM_FORMS": "0"}
    form |= {"widgets-MAX_NUM_FORMS": "1000", **{f"widgets-0-{k}": v for k, v in row.items()}}
    return form


@pytest.mark.parametrize(
    ("widget", "message"),
    [
        ({"metric": "9 bad name"}, "not a valid metric name"),
        ({"kind": "stat", "metric": ""}, "a chart needs a metric"),
        ({"x": "20", "w": "12"}, "x + w must fit the 24-column grid"),
        ({"thresholds": '[{"value": "high"}]'}, "each threshold needs a number value"),
    ],
)
def test_the_admin_refuses_an_invalid_widget_with_a_form_error(owner, widget, message):
    client = Client()
    client.force_login(owner)
    dashboard = Dashboard.objects.create(owner=owner, title="Admin edits")
    response = client.post(f"/admin/dashboards/dashboard/{dashboard.pk}/change/", _admin_form(dashboard, **widget))
    assert response.status_code == 200 and message in response.content.decode()
    assert not dashboard.widgets.exists()


def test_the_admin_saves_a_valid_widget_normalised(owner):
    client = Client()
    client.force_login(owner)
    dashboard = Dashboard.objects.create(owner=owner, title="Admin edits")
    form = _admin_form(dashboard, labels='{"host": 1}', thresholds='[{"value": "80"}]')
    response = client.post(f"/admin/dashboards/dashboard/{dashboard.pk}/change/", form)
    assert response.status_code == 302
    widget = dashboard.widgets.get()
    assert widget.labels == {"host": "1"} and widget.thresholds == [{"value": 80.0, "level": "warning"}]


def test_a_default_dashboard_another_process_created_first_is_not_an_error(db):
    # Two web processes see the first node_exporter series at once: both pass the existence check.
    from dashboards import defaults

    assert defaults.ensure_node_dashboard() is True
    assert defaults._create(defaults.NODE_KEY, defaults.NODE_DASHBOARD) is None
    assert defaults.ensure_node_dashboard() is False
    assert Dashboard.objects.filter(default_key=defaults.NODE_KEY).count() == 1

"""Explore's pages and endpoints without a browser: who sees what, the catalogue search, label
values, the view in the address, and adding a query to a dashboard (form errors, never a 500)."""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client

from dashboards import services as dashboards
from dashboards.models import Widget
from explore import services
from monitoring import rules
from monitoring.models import Metric
from monitoring.store import writer as store


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _initial(response) -> dict:
    html = response.content.decode()
    start = html.index('id="explore-initial"')
    body = html[html.index(">", start) + 1 : html.index("</script>", start)]
    return json.loads(body)


@pytest.fixture
def samples(db) -> None:
    now = time.time()
    rows = [
        ("explore_test_bytes", {"host": h, "disk": d}, now - 600 + i * 60, float(i * 1024))
        for h in ("web1", "web2")
        for d in ("sda", "sdb")
        for i in range(10)
    ]
    store.record_samples(rows)


def test_an_outsider_is_refused_and_an_anonymous_visitor_must_log_in(outsider, client):
    assert client.get("/explore/").status_code == 302
    assert _client(outsider).get("/explore/").status_code == 403
    assert _client(outsider).get("/explore/metrics/?q=x").status_code == 403


def test_the_address_reopens_the_same_queries(viewer, samples):
    url = services.explore_url("explore_test_bytes", {"host": "web1"}, "max", range="24h")
    response = _client(viewer).get(url + "&m1=system_cpu_percent&l1.bad-name=x&m2=not a metric&step=60")
    assert response.status_code == 200
    initial = _initial(response)
    assert initial["queries"] == [
        {"metric": "explore_test_bytes", "labels": {"host": "web1"}, "agg": "max"},
        {"metric": "system_cpu_percent", "labels": {}, "agg": "avg"},
    ]
    assert initial["range"] == "24h" and initial["step"] == 60
    assert initial["metrics"]["explore_test_bytes"]["kind"] == "gauge"
    assert ["rate", "Rate per second"] in initial["aggregations"]
    assert initial["max_points"] == rules.MAX_POINTS


def test_a_viewer_sees_no_add_to_dashboard_form(viewer):
    html = _client(viewer).get("/explore/").content.decode()
    assert 'id="add-form"' not in html and "Add to dashboard" not in html


def test_an_editor_without_dashboards_is_told_to_create_one_first(editor):
    from dashboards.models import Dashboard

    Dashboard.objects.filter(shared=True).update(shared=False)
    html = _client(editor).get("/explore/").content.decode()
    assert "Create a dashboard" in html and 'id="add-form"' not in html


def test_the_catalogue_search_puts_names_that_start_with_the_text_first(viewer, samples):
    store.record_samples([("zzz_explore_test_bytes_copy", {}, time.time(), 1.0)])
    found = _client(viewer).get("/explore/metrics/?q=explore_test").json()["metrics"]
    names = [m["name"] for m in found]
    assert names[0] == "explore_test_bytes" and "zzz_explore_test_bytes_copy" in names
    assert found[0]["series"] == 4 and found[0]["topic"] == "basic-metrics"
    Metric.objects.filter(name="zzz_explore_test_bytes_copy").update(help="Spindle wobble of the tape drive")
    by_help = _client(viewer).get("/explore/metrics/?q=spindle wobble").json()["metrics"]
    assert [m["name"] for m in by_help] == ["zzz_explore_test_bytes_copy"]
    assert len(_client(viewer).get("/explore/metrics/?q=").json()["metrics"]) <= services.SEARCH_LIMIT


def test_label_values_are_those_that_exist(viewer, samples):
    body = _client(viewer).get("/explore/labels/?metric=explore_test_bytes").json()
    assert body["labels"] == {"disk": ["sda", "sdb"], "host": ["web1", "web2"]}
    bad = _client(viewer).get("/explore/labels/?metric=not a metric")
    assert bad.status_code == 400 and bad.json()["error"]["details"]["field"] == "metric"


def test_an_editor_adds_a_query_to_a_dashboard_and_finds_the_widget_there(editor, samples):
    board = dashboards.create_dashboard(editor, {"title": "Mine"})
    client = _client(editor)
    response = client.post(
        "/explore/add-to-dashboard/",
        {
            "dashboard": board.pk,
            "kind": "timeseries",
            "title": "",
            "metric": "explore_test_bytes",
            "labels": "host=web1",
            "aggregation": "max",
            "w": 12,
            "h": 8,
            "next": "https://evil.example/",
        },
    )
    widget = Widget.objects.get(dashboard=board)
    assert response.status_code == 302 and response["Location"] == f"/dashboards/{board.pk}/#widget-{widget.pk}"
    assert (widget.metric, widget.labels, widget.aggregation) == ("explore_test_bytes", {"host": "web1"}, "max")
    page = client.get(f"/dashboards/{board.pk}/").content.decode()
    assert "explore_test_bytes" in page and "Added" in page


def test_bad_input_to_add_to_dashboard_shows_a_form_error_not_a_500(editor, viewer):
    board = dashboards.create_dashboard(editor, {"title": "Mine"})
    client = _client(editor)
    back = "/explore/?m0=explore_test_bytes&range=6h"
    for data in (
        {"dashboard": board.pk, "metric": "not a metric!", "aggregation": "avg", "w": 12, "h": 8},
        {"dashboard": board.pk, "metric": "ok_metric", "aggregation": "median", "w": 12, "h": 8},
        {"dashboard": board.pk, "metric": "ok_metric", "labels": "novalue", "aggregation": "avg", "w": 12, "h": 8},
        {"dashboard": 999999, "metric": "ok_metric", "aggregation": "avg", "w": 12, "h": 8},
        {"dashboard": "x", "metric": "ok_metric", "aggregation": "avg", "w": 99, "h": 8},
    ):
        response = client.post("/explore/add-to-dashboard/", {"kind": "timeseries", "next": back, **data})
        assert response.status_code == 400, data
        assert 'class="form-error"' in response.content.decode(), data
        # The page comes back showing the same view it was sent from.
        assert _initial(response)["range"] == "6h"
    assert not Widget.objects.filter(dashboard=board).exists()
    refused = _client(viewer).post("/explore/add-to-dashboard/", {"dashboard": board.pk, "metric": "ok_metric"})
    assert refused.status_code == 403


def test_label_chips_numbers_and_explore_links_render_for_templates():
    from django.template import Context, Template

    html = Template(
        "{% load seismo_ui %}{% label_chips labels %}|{% label_chips none 'all' %}|{% num 8.0 '' %}|"
        "{% num 'x' %}|{% explore_link 'up' labels 'max' %}"
    ).render(Context({"labels": {"probe": "1", "trial": "4"}, "none": {}}))
    assert '<span class="k">probe</span>=<span class="v">1</span>' in html
    assert "{'probe'" not in html
    assert '<span class="muted">all</span>' in html
    assert 'data-value="8.0" data-unit="">8<' in html
    assert '<span class="num-value">—</span>' in html
    assert 'href="/explore/?m0=up&amp;a0=max&amp;l0.probe=1&amp;l0.trial=4"' in html

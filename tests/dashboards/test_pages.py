"""The HTML pages: dashboard list/create/rename/duplicate/delete/import, a dashboard,
the add-widget form, widget history. Roles decide who sees and changes what; bad input is a
form error, never a 500."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from dashboards.models import Dashboard, Widget
from dashboards.services import export_dashboard

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _mine(user, **fields) -> Dashboard:
    dashboard = Dashboard.objects.create(owner=user, title=fields.pop("title", "Mine"), **fields)
    Widget.objects.create(dashboard=dashboard, kind="timeseries", metric="system_cpu_percent", w=12, h=6)
    return dashboard


def test_an_anonymous_visitor_is_sent_to_the_login_page(client):
    for path in ("/", "/dashboards/", "/dashboards/1/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_an_outsider_sees_no_page(outsider):
    client = _client(outsider)
    system = Dashboard.objects.get(default_key="system")
    for path in ("/", "/dashboards/", f"/dashboards/{system.pk}/"):
        assert client.get(path).status_code == 403
    assert client.post("/dashboards/new/", {"title": "x", "time_range": "1h"}).status_code == 403
    assert not Dashboard.objects.filter(title="x").exists()


def test_the_list_shows_shared_and_own_dashboards_only(editor, viewer):
    _mine(editor, title="Editor private")
    _mine(viewer, title="Viewer private")
    html = _client(viewer).get("/dashboards/").content.decode()
    assert "System" in html and "Celery" in html and "Viewer private" in html
    assert "Editor private" not in html
    assert 'id="create-form"' not in html  # a viewer cannot create


def test_an_editor_creates_renames_duplicates_and_deletes_a_dashboard(editor):
    client = _client(editor)
    response = client.post("/dashboards/new/", {"title": "Checkout", "time_range": "6h", "shared": "on"})
    dashboard = Dashboard.objects.get(title="Checkout")
    assert response.status_code == 302 and response["Location"] == f"/dashboards/{dashboard.pk}/"
    assert dashboard.shared and dashboard.owner == editor and dashboard.time_range == "6h"
    client.post(f"/dashboards/{dashboard.pk}/rename/", {"title": "Checkout API"})
    dashboard.refresh_from_db()
    assert dashboard.title == "Checkout API"
    response = client.post(f"/dashboards/{dashboard.pk}/duplicate/")
    copy = Dashboard.objects.get(title="Checkout API (copy)")
    assert response["Location"] == f"/dashboards/{copy.pk}/" and not copy.shared
    client.post(f"/dashboards/{dashboard.pk}/delete/")
    assert not Dashboard.objects.filter(pk=dashboard.pk).exists()


def test_creating_without_a_title_is_a_form_error(editor):
    response = _client(editor).post("/dashboards/new/", {"title": "", "time_range": "1h"})
    assert response.status_code == 400
    assert "form-error" in response.content.decode()


def test_a_viewer_cannot_change_a_shared_dashboard(viewer):
    client = _client(viewer)
    system = Dashboard.objects.get(default_key="system")
    page = client.get(f"/dashboards/{system.pk}/").content.decode()
    assert "read-only" in page and 'id="widget-form"' not in page and 'data-editable="false"' in page
    widget = system.widgets.first()
    assert client.post(f"/dashboards/{system.pk}/rename/", {"title": "Hacked"}).status_code == 403
    assert client.post(f"/dashboards/{system.pk}/delete/").status_code == 403
    assert client.post(f"/dashboards/{system.pk}/widgets/", {"kind": "stat", "metric": "m"}).status_code == 403
    assert client.post(f"/dashboards/{system.pk}/widgets/{widget.pk}/delete/").status_code == 403
    assert client.post(f"/dashboards/{system.pk}/duplicate/").status_code == 403
    system.refresh_from_db()
    assert system.title == "System" and Widget.objects.filter(pk=widget.pk).exists()


def test_an_editor_cannot_open_another_users_personal_dashboard(editor, viewer):
    private = _mine(viewer)
    assert _client(editor).get(f"/dashboards/{private.pk}/").status_code == 404
    assert _client(editor).post(f"/dashboards/{private.pk}/delete/").status_code == 404


def test_a_dashboard_page_carries_its_widgets_positions_and_range(editor):
    dashboard = _mine(editor)
    widget = dashboard.widgets.get()
    html = _client(editor).get(f"/dashboards/{dashboard.pk}/?range=24h").content.decode()
    assert f'gs-id="{widget.pk}" gs-x="0" gs-y="0" gs-w="12" gs-h="6"' in html
    assert '<option value="24h" selected>' in html
    configs = json.loads(html.split('<script id="widget-configs" type="application/json">')[1].split("</script>")[0])
    assert configs[0]["metric"] == "system_cpu_percent" and configs[0]["id"] == widget.pk


def test_an_editor_adds_a_widget_below_the_others(editor):
    dashboard = _mine(editor)
    response = _client(editor).post(
        f"/dashboards/{dashboard.pk}/widgets/",
        {
            "kind": "stat",
            "title": "Mem",
            "metric": "system_memory_percent",
            "labels": "host=web1, env=prod",
            "aggregation": "last",
            "thresholds": "80 warning, 90 critical",
            "w": 6,
            "h": 4,
        },
    )
    assert response.status_code == 302
    widget = dashboard.widgets.get(title="Mem")
    assert (widget.kind, widget.y, widget.w, widget.h) == ("stat", 6, 6, 4)
    assert widget.labels == {"host": "web1", "env": "prod"}
    assert widget.thresholds == [{"value": 80.0, "level": "warning"}, {"value": 90.0, "level": "critical"}]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "timeseries", "metric": ""}, "a chart needs a metric"),
        ({"kind": "timeseries", "metric": "cpu load"}, "not a valid metric name"),
        ({"kind": "stat", "metric": "m", "labels": "host"}, "is not name=value"),
        ({"kind": "stat", "metric": "m", "thresholds": "high"}, "must start with a number"),
        ({"kind": "stat", "metric": "m", "w": 30}, "less than or equal to 24"),
        ({"kind": "donut", "metric": "m"}, "Select a valid choice"),
    ],
)
def test_a_bad_widget_config_is_a_form_error_not_a_500(editor, data, message):
    dashboard = _mine(editor)
    form = {"aggregation": "avg", "w": 12, "h": 6, **data}
    response = _client(editor).post(f"/dashboards/{dashboard.pk}/widgets/", form)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert dashboard.widgets.count() == 1


def test_the_add_widget_form_answers_htmx_with_its_partial(editor):
    dashboard = _mine(editor)
    client = _client(editor)
    bad = client.post(
        f"/dashboards/{dashboard.pk}/widgets/",
        {"kind": "stat", "metric": "", "aggregation": "avg", "w": 6, "h": 4},
        HTTP_HX_REQUEST="true",
    )
    assert bad.status_code == 422
    assert (
        bad.content.decode().lstrip().startswith('<form method="post"')
        and "a chart needs a metric" in bad.content.decode()
    )
    good = client.post(
        f"/dashboards/{dashboard.pk}/widgets/",
        {"kind": "stat", "metric": "m", "aggregation": "avg", "w": 6, "h": 4},
        HTTP_HX_REQUEST="true",
    )
    assert good.status_code == 204 and good["HX-Redirect"] == f"/dashboards/{dashboard.pk}/"


def test_an_editor_removes_a_widget(editor):
    dashboard = _mine(editor)
    widget = dashboard.widgets.get()
    _client(editor).post(f"/dashboards/{dashboard.pk}/widgets/{widget.pk}/delete/")
    assert not dashboard.widgets.exists()


def test_the_history_page_links_csv_and_json_exports_of_the_range(viewer):
    system = Dashboard.objects.get(default_key="system")
    widget = system.widgets.filter(kind="gauge").first()
    response = _client(viewer).get(f"/dashboards/{system.pk}/widgets/{widget.pk}/?range=6h")
    html = response.content.decode()
    assert response.status_code == 200
    assert f"/api/v1/export/?metric={widget.metric}" in html and "format=csv" in html and "format=json" in html
    configs = json.loads(html.split('<script id="widget-configs" type="application/json">')[1].split("</script>")[0])
    assert configs[0]["kind"] == "timeseries"  # history draws a gauge's metric over time


def test_import_through_the_page_creates_the_dashboard(editor):
    document = export_dashboard(Dashboard.objects.get(default_key="cache"))
    document["title"] = "Team cache"
    response = _client(editor).post("/dashboards/import/", {"document": json.dumps(document)})
    imported = Dashboard.objects.get(title="Team cache")
    assert response.status_code == 302 and response["Location"] == f"/dashboards/{imported.pk}/"
    assert imported.owner == editor and imported.widgets.count() == len(document["widgets"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{broken", "This is not valid JSON"),
        ("", "Paste an exported dashboard"),
        ('{"title": "x", "widgets": [{"kind": "gauge"}]}', "widgets[0]"),
        ('["a list"]', "must be a JSON object"),
    ],
)
def test_a_broken_import_is_a_form_error_not_a_500(editor, text, message):
    before = Dashboard.objects.count()
    response = _client(editor).post("/dashboards/import/", {"document": text})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Dashboard.objects.count() == before


def test_a_viewer_cannot_import(viewer):
    response = _client(viewer).post("/dashboards/import/", {"document": json.dumps({"title": "x"})})
    assert response.status_code == 403


def test_an_editor_edits_a_widget_from_a_prefilled_form(editor):
    dashboard = _mine(editor)
    widget = dashboard.widgets.get()
    widget.labels, widget.thresholds, widget.x = {"host": "web1"}, [{"value": 80, "level": "warning"}], 6
    widget.save()
    client = _client(editor)
    form = client.get(f"/dashboards/{dashboard.pk}/widgets/{widget.pk}/edit/").content.decode()
    assert 'value="host=web1"' in form and 'value="80 warning"' in form
    response = client.post(
        f"/dashboards/{dashboard.pk}/widgets/{widget.pk}/edit/",
        {"kind": "gauge", "metric": "system_memory_percent", "aggregation": "last", "w": 24, "h": 5, "labels": ""},
    )
    assert response.status_code == 302
    widget.refresh_from_db()
    assert (widget.kind, widget.metric, widget.x, widget.w, widget.labels) == (
        "gauge",
        "system_memory_percent",
        0,
        24,
        {},
    )


def test_a_bad_widget_edit_is_a_form_error_and_changes_nothing(editor, viewer):
    dashboard = _mine(editor, shared=True)
    widget = dashboard.widgets.get()
    url = f"/dashboards/{dashboard.pk}/widgets/{widget.pk}/edit/"
    response = _client(editor).post(url, {"kind": "stat", "metric": "", "aggregation": "avg", "w": 6, "h": 4})
    assert response.status_code == 400 and "a chart needs a metric" in response.content.decode()
    assert _client(viewer).get(url).status_code == 403
    widget.refresh_from_db()
    assert widget.metric == "system_cpu_percent"

"""The dashboards API: CRUD with widgets and layout, export/import, roles, bad input."""

from __future__ import annotations

import pytest

from dashboards.defaults import ensure_default_dashboards
from dashboards.models import Dashboard, Widget
from dashboards.services import EXPORT_FORMAT

pytestmark = pytest.mark.django_db

URL = "/api/v1/dashboards/"
WIDGET = {
    "kind": "timeseries",
    "title": "CPU",
    "metric": "system_cpu_percent",
    "labels": {"host": "web1"},
    "aggregation": "avg",
    "thresholds": [{"value": 80, "level": "warning"}],
    "x": 0,
    "y": 0,
    "w": 12,
    "h": 6,
}


def _create(client, **extra):
    body = {"title": "Web", "shared": False, "widgets": [WIDGET], **extra}
    response = client.post(URL, body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_the_default_dashboards_exist_once_after_migrate():
    titles = set(Dashboard.objects.filter(default_key__isnull=False).values_list("title", flat=True))
    assert titles == {"System", "Application", "Database", "Cache", "Celery"}
    assert ensure_default_dashboards() == 0
    assert Dashboard.objects.filter(default_key__isnull=False).count() == 5


def test_an_editor_creates_a_dashboard_with_widgets(editor, api_as):
    body = _create(api_as(editor))
    dashboard = Dashboard.objects.get(pk=body["id"])
    assert dashboard.owner == editor and not dashboard.shared
    assert body["owner"] == "editor" and body["can_edit"] is True
    assert body["widgets"][0]["metric"] == "system_cpu_percent"
    assert dashboard.widgets.get().labels == {"host": "web1"}


def test_a_personal_dashboard_is_invisible_to_other_users(editor, viewer, api_as):
    body = _create(api_as(editor))
    assert api_as(viewer).get(f"{URL}{body['id']}/").status_code == 404
    assert body["id"] not in [d["id"] for d in api_as(viewer).get(URL).json()["results"]]


def test_a_viewer_reads_a_shared_dashboard_but_cannot_edit_it(editor, viewer, api_as):
    body = _create(api_as(editor), shared=True)
    client = api_as(viewer)
    got = client.get(f"{URL}{body['id']}/")
    assert got.status_code == 200 and got.json()["can_edit"] is False
    response = client.patch(f"{URL}{body['id']}/", {"title": "Mine now"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert client.post(f"{URL}{body['id']}/layout/", {"layout": []}, format="json").status_code == 403
    assert client.delete(f"{URL}{body['id']}/").status_code == 403
    assert Dashboard.objects.get(pk=body["id"]).title == "Web"


def test_another_editor_edits_a_shared_dashboard_but_not_a_personal_one(editor, owner, api_as, django_user_model):
    from django.contrib.auth.models import Group

    other = django_user_model.objects.create_user("editor2", password="pw")
    other.groups.add(Group.objects.get_or_create(name="editor")[0])
    shared = _create(api_as(editor), shared=True)
    response = api_as(other).patch(f"{URL}{shared['id']}/", {"title": "Renamed"}, format="json")
    assert response.status_code == 200
    assert Dashboard.objects.get(pk=shared["id"]).title == "Renamed"
    personal = _create(api_as(editor), title="Private")
    assert api_as(other).patch(f"{URL}{personal['id']}/", {"title": "x"}, format="json").status_code == 404


def test_an_outsider_and_anonymous_see_nothing(outsider, api_as, anon_api):
    assert api_as(outsider).get(URL).status_code == 403
    assert anon_api.get(URL).status_code in (401, 403)
    assert anon_api.get(URL).json()["error"]["code"] in ("not_authenticated", "permission_denied")
    assert api_as(outsider).post(f"{URL}import/", {"title": "x"}, format="json").status_code == 403


def test_a_viewer_cannot_create_or_import(viewer, api_as):
    client = api_as(viewer)
    assert client.post(URL, {"title": "x"}, format="json").status_code == 403
    assert client.post(f"{URL}import/", {"title": "x"}, format="json").status_code == 403


@pytest.mark.parametrize(
    ("widget", "field"),
    [
        ({"kind": "pie", "metric": "m"}, "kind"),
        ({"kind": "timeseries", "metric": ""}, "metric"),
        ({"kind": "timeseries", "metric": "bad name!"}, "metric"),
        ({"kind": "stat", "metric": "m", "aggregation": "median"}, "aggregation"),
        ({"kind": "stat", "metric": "m", "x": 20, "w": 12}, "w"),
        ({"kind": "stat", "metric": "m", "h": 0}, "h"),
        ({"kind": "stat", "metric": "m", "labels": ["host"]}, "labels"),
        ({"kind": "stat", "metric": "m", "thresholds": [{"value": "high"}]}, "thresholds"),
    ],
)
def test_it_rejects_a_bad_widget_config_with_the_field_named(editor, api_as, widget, field):
    response = api_as(editor).post(URL, {"title": "Bad", "widgets": [widget]}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in str(error["details"])
    assert not Dashboard.objects.filter(title="Bad").exists()


def test_a_put_with_widgets_replaces_them(editor, api_as):
    client = api_as(editor)
    body = _create(client)
    new = {**WIDGET, "metric": "system_memory_percent", "kind": "gauge"}
    response = client.patch(f"{URL}{body['id']}/", {"widgets": [new, {**new, "y": 6}]}, format="json")
    assert response.status_code == 200
    assert list(Widget.objects.filter(dashboard_id=body["id"]).values_list("metric", flat=True)) == [
        "system_memory_percent",
        "system_memory_percent",
    ]


def test_the_layout_endpoint_saves_positions(editor, api_as):
    client = api_as(editor)
    body = _create(client)
    widget_id = body["widgets"][0]["id"]
    response = client.post(
        f"{URL}{body['id']}/layout/", {"layout": [{"id": widget_id, "x": 6, "y": 3, "w": 18, "h": 4}]}, format="json"
    )
    assert response.status_code == 200 and response.json() == {"saved": 1}
    widget = Widget.objects.get(pk=widget_id)
    assert (widget.x, widget.y, widget.w, widget.h) == (6, 3, 18, 4)


def test_the_layout_endpoint_rejects_unknown_widgets_and_off_grid_positions(editor, api_as):
    client = api_as(editor)
    body = _create(client)
    widget_id = body["widgets"][0]["id"]
    other = Widget.objects.exclude(dashboard_id=body["id"]).first()
    bad = client.post(
        f"{URL}{body['id']}/layout/", {"layout": [{"id": other.pk, "x": 0, "y": 0, "w": 1, "h": 1}]}, format="json"
    )
    assert bad.status_code == 400 and "unknown widget" in bad.json()["error"]["message"]
    off = client.post(
        f"{URL}{body['id']}/layout/", {"layout": [{"id": widget_id, "x": 20, "y": 0, "w": 12, "h": 1}]}, format="json"
    )
    assert off.status_code == 400
    assert client.post(f"{URL}{body['id']}/layout/", {"layout": "nope"}, format="json").status_code == 400
    assert Widget.objects.get(pk=widget_id).x == 0


def test_export_then_import_round_trips_a_dashboard(editor, viewer, api_as):
    client = api_as(editor)
    body = _create(client, variables=[{"name": "host", "default": ""}])
    exported = client.get(f"{URL}{body['id']}/export/")
    assert exported.status_code == 200
    assert "attachment" in exported["Content-Disposition"]
    document = exported.json()
    assert document["format"] == EXPORT_FORMAT and "id" not in document
    imported = client.post(f"{URL}import/", document, format="json")
    assert imported.status_code == 201
    copy = Dashboard.objects.get(pk=imported.json()["id"])
    assert copy.owner == editor and copy.variables == [{"name": "host", "default": ""}]
    assert [w.metric for w in copy.widgets.all()] == ["system_cpu_percent"]
    shared = client.post(f"{URL}import/", {"dashboard": document, "shared": True}, format="json")
    assert shared.status_code == 201 and Dashboard.objects.get(pk=shared.json()["id"]).shared
    assert api_as(viewer).get(f"{URL}{shared.json()['id']}/").status_code == 200


@pytest.mark.parametrize(
    "document",
    [
        [1, 2],
        {"title": ""},
        {"title": "x", "format": "grafana"},
        {"title": "x", "time_range": "2y"},
        {"title": "x", "widgets": "many"},
        {"title": "x", "widgets": [{"kind": "timeseries"}]},
        {"title": "x", "variables": [{"name": "not a label"}]},
    ],
)
def test_import_rejects_a_broken_document_with_a_4xx_envelope(editor, api_as, document):
    before = Dashboard.objects.count()
    response = api_as(editor).post(f"{URL}import/", document, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["message"]
    assert Dashboard.objects.count() == before


def test_import_rejects_malformed_json(editor, api_as):
    response = api_as(editor).post(f"{URL}import/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] in ("parse_error", "invalid")


def test_duplicate_makes_a_personal_copy_of_a_shared_dashboard(editor, api_as):
    system = Dashboard.objects.get(default_key="system")
    response = api_as(editor).post(f"{URL}{system.pk}/duplicate/")
    assert response.status_code == 201
    copy = Dashboard.objects.get(pk=response.json()["id"])
    assert copy.title == "System (copy)" and copy.owner == editor and not copy.shared
    assert copy.widgets.count() == system.widgets.count()


def test_deleting_a_dashboard_removes_its_widgets(editor, api_as):
    client = api_as(editor)
    body = _create(client)
    assert client.delete(f"{URL}{body['id']}/").status_code == 204
    assert not Widget.objects.filter(dashboard_id=body["id"]).exists()

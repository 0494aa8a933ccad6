"""Silences and maintenance windows match nothing by accident; editors cannot mute everything."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.utils import timezone

from alerts.models import MaintenanceWindow, Silence

pytestmark = pytest.mark.django_db


def until(hours: float) -> str:
    return (timezone.now() + timedelta(hours=hours)).isoformat()


def test_an_editors_matcher_less_silence_is_refused(api_as, editor):
    api = api_as(editor)
    empty = api.post("/api/v1/silences/", {"matchers": {}, "ends_at": until(1)}, format="json")
    assert empty.status_code == 400 and "match_all" in empty.json()["error"]["message"]
    everything = api.post("/api/v1/silences/", {"matchers": {}, "match_all": True, "ends_at": until(1)}, format="json")
    assert everything.status_code == 400 and "Only admins" in everything.json()["error"]["message"]
    assert not Silence.objects.exists()


def test_editors_silence_with_matchers_for_at_most_a_day(api_as, editor):
    api = api_as(editor)
    long = api.post("/api/v1/silences/", {"matchers": {"host": "web-1"}, "ends_at": until(25)}, format="json")
    assert long.status_code == 400 and "24 hours" in long.json()["error"]["message"]
    ok = api.post("/api/v1/silences/", {"matchers": {"host": "web-1"}, "ends_at": until(23)}, format="json")
    assert ok.status_code == 201
    stretched = api.patch(f"/api/v1/silences/{ok.json()['id']}/", {"ends_at": until(48)}, format="json")
    assert stretched.status_code == 400


def test_admins_say_match_all_explicitly(api_as, owner):
    api = api_as(owner)
    assert api.post("/api/v1/silences/", {"matchers": {}, "ends_at": until(48)}, format="json").status_code == 400
    both = api.post(
        "/api/v1/silences/", {"matchers": {"a": "b"}, "match_all": True, "ends_at": until(1)}, format="json"
    )
    assert both.status_code == 400
    made = api.post("/api/v1/silences/", {"match_all": True, "ends_at": until(48)}, format="json")
    assert made.status_code == 201 and made.json()["match_all"] is True
    assert Silence.objects.get().matches("any rule", {"host": "x"})


def test_maintenance_windows_are_admins_and_need_a_matcher_or_match_all(api_as, owner, editor):
    body = {"name": "sunday", "start_time": "02:00", "duration_minutes": 60, "matchers": {}}
    assert api_as(editor).post("/api/v1/maintenance-windows/", body, format="json").status_code == 403
    assert api_as(owner).post("/api/v1/maintenance-windows/", body, format="json").status_code == 400
    made = api_as(owner).post("/api/v1/maintenance-windows/", {**body, "match_all": True}, format="json")
    assert made.status_code == 201


def test_matcher_less_windows_written_before_the_rule_mute_nothing():
    legacy = MaintenanceWindow.objects.create(name="old", start_time=time(0), duration_minutes=1440, matchers={})
    assert legacy.active_at(timezone.now()) and not legacy.matches("cpu", {"host": "web-1"})


@pytest.mark.parametrize("name", ["\x11\x7f^\x88", "bell\x07", "a\u202eb", "   "])
def test_names_with_control_characters_are_refused_by_every_door(api_as, owner, client, name):
    api = api_as(owner)
    window = api.post(
        "/api/v1/maintenance-windows/",
        {"name": name, "start_time": "02:00", "duration_minutes": 60, "match_all": True},
        format="json",
    )
    assert window.status_code == 400 and "name" in window.json()["error"]["details"]
    channel = api.post(
        "/api/v1/notification-channels/",
        {"name": name, "kind": "email", "config": {"to": ["ops@example.com"]}},
        format="json",
    )
    assert channel.status_code == 400
    dashboard = api.post("/api/v1/dashboards/", {"title": name}, format="json")
    assert dashboard.status_code == 400
    client.force_login(owner)
    page = client.post(
        "/admin/alerts/maintenancewindow/add/",
        {
            "name": name,
            "timezone": "UTC",
            "weekdays": "[]",
            "start_time": "02:00",
            "duration_minutes": 60,
            "matchers": "{}",
            "match_all": "on",
            "enabled": "on",
        },
    )
    assert page.status_code == 200 and "errorlist" in page.content.decode()
    assert not MaintenanceWindow.objects.exists()


def test_comments_may_span_lines_but_not_hold_control_characters(api_as, editor):
    api = api_as(editor)
    body = {"matchers": {"host": "web-1"}, "ends_at": until(1)}
    assert api.post("/api/v1/silences/", {**body, "comment": "line 1\nline 2"}, format="json").status_code == 201
    assert api.post("/api/v1/silences/", {**body, "comment": "esc\x1b[2J"}, format="json").status_code == 400

"""The checks API: create with its alert rule, read-back fields, bad input naming the field,
roles, pause/resume, uptime, SLA report (JSON and CSV) and daily summaries."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest

from alerts.models import AlertRule, NotificationChannel
from checks.models import Check, CheckEvent
from monitoring.models import DailySummary, Metric

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_loopback")]

HTTP = {
    "name": "web",
    "kind": "http",
    "target": "http://127.0.0.1:9/health",
    "interval_seconds": 30,
    "expect": {"status": [200], "keyword": "ok", "json": {"path": "$.status", "equals": "green"}},
    "degraded_ms": 500,
}


@pytest.fixture
def channel(db: None) -> NotificationChannel:
    return NotificationChannel.objects.create(
        name="ops-hook", kind="webhook", config={"url": "http://127.0.0.1:9/hook"}
    )


def test_an_editor_creates_a_check_and_its_alert_rule(editor, api_as, channel) -> None:
    api = api_as(editor)
    response = api.post("/api/v1/checks/", {**HTTP, "channels": [channel.pk]}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["state"] == "unknown" and body["since"] and body["last_result"] == {}
    assert body["ping_url"] is None and body["timeout_seconds"] == 10 and body["retries"] == 1
    rule = AlertRule.objects.get(pk=body["alert_rule"])
    assert (rule.metric, rule.labels, rule.comparator, rule.critical_threshold) == (
        "check_up",
        {"check": "web"},
        "<",
        1,
    )
    assert list(rule.channels.values_list("pk", flat=True)) == [channel.pk]
    # The rule is visible like any other.
    rules = api_as(editor).get("/api/v1/alert-rules/").json()
    assert any(r["id"] == rule.pk for r in rules["results"])


def test_renaming_a_check_keeps_its_rule_in_step(editor, api_as) -> None:
    api = api_as(editor)
    created = api.post("/api/v1/checks/", HTTP, format="json").json()
    response = api.patch(f"/api/v1/checks/{created['id']}/", {"name": "web-2"}, format="json")
    assert response.status_code == 200
    rule = AlertRule.objects.get(pk=created["alert_rule"])
    assert rule.labels == {"check": "web-2"} and rule.name == "check down: web-2"


def test_a_heartbeat_shows_its_ping_url(editor, api_as) -> None:
    response = api_as(editor).post(
        "/api/v1/checks/",
        {"name": "nightly", "kind": "heartbeat", "interval_seconds": 3600, "grace_seconds": 300},
        format="json",
    )
    assert response.status_code == 201, response.json()
    check = Check.objects.get(name="nightly")
    assert response.json()["ping_url"] == f"http://testserver/ping/{check.token}"
    assert response.json()["grace_seconds"] == 300


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "smtp"}, "kind"),
        ({"target": "ftp://example.com/"}, "target"),
        ({"target": "not a url"}, "target"),
        ({"interval_seconds": 0}, "interval_seconds"),
        ({"timeout_seconds": 60, "interval_seconds": 30}, "timeout_seconds"),
        ({"retries": 0}, "retries"),
        ({"expect": {"json": {"path": "$[?(@.x ==", "equals": 1}}}, "expect"),
        ({"expect": {"status": "200"}}, "expect"),
        ({"expect": {"colour": "green"}}, "expect"),
        ({"request": {"method": "BREW"}}, "request"),
        ({"sla_target": 120}, "sla_target"),
        ({"name": "bad\x07name"}, "name"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(editor, api_as, change, field) -> None:
    response = api_as(editor).post("/api/v1/checks/", {**HTTP, **change}, format="json")
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["details"], error
    assert error["message"].startswith(field)
    assert not Check.objects.exists()


@pytest.mark.parametrize(
    ("kind", "target", "expect", "field"),
    [
        ("tcp", "db.example.com", {}, "target"),
        ("tcp", "db.example.com:99999", {}, "target"),
        ("dns", "nodots", {}, "target"),
        ("dns", "example.com", {"type": "BOGUS"}, "expect"),
        ("dns", "example.com", {"resolver": "dns.example.com"}, "expect"),
        ("tls", "example.com", {"min_days_left": -1}, "expect"),
        ("ping", "example.com:80", {}, "target"),
        ("ping", "example.com", {"count": 50}, "expect"),
        ("heartbeat", "http://x", {}, "target"),
    ],
)
def test_each_kind_validates_its_own_settings(editor, api_as, kind, target, expect, field) -> None:
    body = {"name": "x", "kind": kind, "target": target, "expect": expect}
    response = api_as(editor).post("/api/v1/checks/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]


def test_headers_are_masked_when_read_back_and_kept_when_sent_back(editor, api_as) -> None:
    api = api_as(editor)
    body = {
        **HTTP,
        "request": {"headers": {"Authorization": "Bearer s3cret-token-value", "Accept": "application/json"}},
    }
    created = api.post("/api/v1/checks/", body, format="json").json()
    shown = created["request"]["headers"]
    assert shown["Authorization"] == "•••alue" and shown["Accept"] == "application/json"
    api.patch(f"/api/v1/checks/{created['id']}/", {"request": created["request"]}, format="json")
    assert Check.objects.get().request["headers"]["Authorization"] == "Bearer s3cret-token-value"
    assert "s3cret" not in api.get(f"/api/v1/checks/{created['id']}/").content.decode()


def test_roles_viewer_reads_outsider_and_anonymous_are_refused(editor, viewer, outsider, api_as, anon_api) -> None:
    created = api_as(editor).post("/api/v1/checks/", HTTP, format="json").json()
    assert api_as(viewer).get("/api/v1/checks/").status_code == 200
    assert api_as(viewer).post("/api/v1/checks/", {**HTTP, "name": "v"}, format="json").status_code == 403
    assert api_as(viewer).delete(f"/api/v1/checks/{created['id']}/").status_code == 403
    assert api_as(viewer).post(f"/api/v1/checks/{created['id']}/pause/").status_code == 403
    assert api_as(outsider).get("/api/v1/checks/").status_code == 403
    assert anon_api.get("/api/v1/checks/").status_code == 401
    assert anon_api.get("/api/v1/reports/sla/").status_code == 401
    assert anon_api.get(f"/api/v1/checks/{created['id']}/uptime/").status_code == 401


def test_pause_and_resume_are_events_and_switch_the_rule(editor, api_as) -> None:
    api = api_as(editor)
    created = api.post("/api/v1/checks/", HTTP, format="json").json()
    paused = api.post(f"/api/v1/checks/{created['id']}/pause/").json()
    assert paused["state"] == "paused" and paused["enabled"] is False
    assert AlertRule.objects.get(pk=created["alert_rule"]).enabled is False
    resumed = api.post(f"/api/v1/checks/{created['id']}/resume/").json()
    assert resumed["state"] == "unknown" and resumed["enabled"] is True
    events = api.get(f"/api/v1/checks/{created['id']}/events/").json()
    assert [(e["from_state"], e["to_state"]) for e in events] == [("paused", "unknown"), ("unknown", "paused")]


def test_deleting_a_check_deletes_its_rule(editor, api_as) -> None:
    api = api_as(editor)
    created = api.post("/api/v1/checks/", HTTP, format="json").json()
    assert api.delete(f"/api/v1/checks/{created['id']}/").status_code == 204
    assert not AlertRule.objects.filter(pk=created["alert_rule"]).exists()


def _history(check: Check, start: datetime, *moves: tuple[int, str, str, str]) -> None:
    Check.objects.filter(pk=check.pk).update(created_at=start - timedelta(days=1))
    for minutes, before, after, reason in moves:
        CheckEvent.objects.create(
            owner=check, at=start + timedelta(minutes=minutes), from_state=before, to_state=after, reason=reason
        )


def test_uptime_endpoint_over_a_known_history(editor, api_as) -> None:
    api = api_as(editor)
    created = api.post("/api/v1/checks/", HTTP, format="json").json()
    check = Check.objects.get(pk=created["id"])
    start = datetime(2026, 10, 1, tzinfo=UTC)
    _history(
        check,
        start,
        (0, "unknown", "up", "status 200"),
        (60, "up", "down", "status 500"),
        (90, "down", "up", "status 200"),
    )
    body = api.get(
        f"/api/v1/checks/{check.pk}/uptime/",
        {"from": start.isoformat(), "to": (start + timedelta(hours=10)).isoformat()},
    ).json()
    assert body["downtime_seconds"] == 1800
    assert body["uptime"] == pytest.approx(1 - 1800 / 36000)
    assert body["excluded_maintenance_seconds"] == 0
    assert body["incidents"] == [
        {
            "start": "2026-10-01T01:00:00+00:00",
            "end": "2026-10-01T01:30:00+00:00",
            "reason": "status 500",
            "duration_seconds": 1800.0,
        }
    ]
    assert body["mttr_seconds"] == 1800 and body["sla_met"] is False


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "yesterday"}, "from"),
        ({"to": "soon"}, "to"),
        ({"from": "2026-10-02T00:00:00Z", "to": "2026-10-01T00:00:00Z"}, "from"),
    ],
)
def test_uptime_bad_range_is_a_400(editor, api_as, params, field) -> None:
    created = api_as(editor).post("/api/v1/checks/", HTTP, format="json").json()
    response = api_as(editor).get(f"/api/v1/checks/{created['id']}/uptime/", params)
    assert response.status_code == 400 and field in response.json()["error"]["details"]


def test_sla_report_json_and_csv(editor, api_as) -> None:
    api = api_as(editor)
    web = Check.objects.get(
        pk=api.post("/api/v1/checks/", {**HTTP, "group": "shop", "sla_target": 99}, format="json").json()["id"]
    )
    api_ = Check.objects.get(
        pk=api.post("/api/v1/checks/", {**HTTP, "name": "api", "group": "shop"}, format="json").json()["id"]
    )
    start = datetime(2026, 9, 1, tzinfo=UTC)
    _history(web, start, (0, "unknown", "up", "ok"), (60, "up", "down", "status 503"), (120, "down", "up", "ok"))
    _history(api_, start, (0, "unknown", "up", "ok"))
    report = api.get("/api/v1/reports/sla/", {"month": "2026-09"}).json()
    rows = {r["check"]: r for r in report["checks"]}
    month = 30 * 86400
    assert rows["web"]["downtime_seconds"] == 3600
    assert rows["web"]["uptime_percent"] == pytest.approx(round((1 - 3600 / month) * 100, 4))
    assert rows["web"]["status"] == "met" and rows["web"]["target"] == 99
    assert rows["web"]["incidents"] == 1 and rows["web"]["mttr_seconds"] == 3600
    assert rows["web"]["incident_list"][0]["reason"] == "status 503"
    assert (
        rows["api"]["status"] == "met" and rows["api"]["downtime_seconds"] == 0 and rows["api"]["mttr_seconds"] is None
    )
    assert report["groups"] == [
        {
            "group": "shop",
            "checks": 2,
            "uptime_percent": pytest.approx(round((1 - 3600 / (2 * month)) * 100, 4)),
            "downtime_seconds": 3600,
            "incidents": 1,
            "met": 2,
            "missed": 0,
        }
    ]
    response = api.get("/api/v1/reports/sla/", {"month": "2026-09", "format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["check"] for r in table] == ["api", "web"]
    assert table[1]["status"] == "met" and table[1]["downtime_seconds"] == "3600.0" and table[1]["incidents"] == "1"
    assert table[0]["mttr_seconds"] == ""


@pytest.mark.parametrize(
    ("params", "field"), [({"month": "2026-13"}, "month"), ({"month": "x"}, "month"), ({"format": "xml"}, "format")]
)
def test_sla_report_bad_parameters(editor, api_as, params, field) -> None:
    response = api_as(editor).get("/api/v1/reports/sla/", params)
    assert response.status_code == 400 and field in response.json()["error"]["details"]


def test_daily_summaries_api(viewer, api_as) -> None:
    metric = Metric.objects.create(name="check_duration_seconds")
    DailySummary.objects.create(
        metric=metric, day=date(2026, 11, 30), series_count=2, count=100, min=0.01, max=0.5, avg=0.1
    )
    body = api_as(viewer).get("/api/v1/daily-summaries/", {"metric": "check_duration_seconds"}).json()
    assert body["results"] == [
        {
            "metric": "check_duration_seconds",
            "day": "2026-11-30",
            "series_count": 2,
            "count": 100,
            "min": 0.01,
            "max": 0.5,
            "avg": 0.1,
        }
    ]
    assert api_as(viewer).get("/api/v1/daily-summaries/", {"metric": "other"}).json()["results"] == []

"""The /checks/ pages (list, check page, form with its field help and errors, SLA report),
the admin's status page and check forms, and the weekly digest email on a real SMTP sink."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from alerts.models import AlertRule, NotificationChannel
from checks import reports, services
from checks.models import Check, CheckEvent, StatusPage, WeeklyDigest
from checks.probes import Result
from checks.views import sparkline
from lib.redis import get_redis

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_loopback")]

# The check form (and the admin's) wants every field: the values a user would leave as they are.
CHECK_FORM_DEFAULTS = {
    "interval_seconds": 60,
    "timeout_seconds": 10,
    "retries": 1,
    "expect": "{}",
    "request": "{}",
    "grace_seconds": 60,
    "sla_target": 99.9,
}


def _logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _check(name: str = "web") -> Check:
    check = Check(name=name, kind="http", target="http://127.0.0.1:9/", interval_seconds=30)
    check.full_clean()
    return services.save_check(check, [])


def test_the_list_shows_state_last_result_sparkline_and_uptime(viewer) -> None:
    check = _check()
    now = timezone.now()
    for n in range(3):
        services.record_results([(check.pk, Result(True, "status 200", 0.01 * (n + 1), 200), now)], now=now)
    body = _logged_in(viewer).get("/checks/").content.decode()
    assert 'data-state="up"' in body and "status 200" in body and "30 ms" in body
    assert "<polyline" in body and "Daily summaries" in body
    assert "New check" not in body  # viewers cannot create
    rows = _logged_in(viewer).get("/checks/", HTTP_HX_REQUEST="true").content.decode()
    assert "<table" not in rows and 'data-state="up"' in rows


def test_the_check_page_has_its_uptime_table_events_and_history(editor) -> None:
    check = _check()
    now = timezone.now()
    services.record_results([(check.pk, Result(False, "status 500 (expected 2xx)", 0.02, 500), now)], now=now)
    body = _logged_in(editor).get(f"/checks/{check.pk}/").content.decode()
    assert "status 500 (expected 2xx)" in body and "24 hours" in body and "90 days" in body
    assert 'id="history-data"' in body and "Edit" in body
    partial = _logged_in(editor).get(f"/checks/{check.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert "Uptime" in partial and "<h1>" not in partial


def test_the_form_explains_each_field_and_shows_errors(editor) -> None:
    client = _logged_in(editor)
    form = client.get("/checks/new/").content.decode()
    assert "Consecutive failed attempts before the check is down" in form
    assert "min_days_left" in form and "heartbeat: how late a ping may be" in form
    bad = client.post(
        "/checks/new/",
        {
            **CHECK_FORM_DEFAULTS,
            "name": "x",
            "kind": "http",
            "target": "ftp://nope",
            "interval_seconds": 0,
        },
    )
    assert bad.status_code == 200
    text = bad.content.decode()
    assert 'role="alert"' in text and "between 1 and 86400 seconds" in text
    assert not Check.objects.exists()
    channel = NotificationChannel.objects.create(name="mail", kind="email", config={"to": ["ops@example.com"]})
    good = client.post(
        "/checks/new/",
        {
            "name": "shop",
            "kind": "http",
            "target": "https://shop.example.com/",
            "interval_seconds": 60,
            "timeout_seconds": 10,
            "retries": 2,
            "expect": '{"status": [200]}',
            "request": "{}",
            "grace_seconds": 60,
            "sla_target": 99.5,
            "channels": [channel.pk],
            "enabled": "on",
        },
    )
    check = Check.objects.get(name="shop")
    assert good.status_code == 302 and good["Location"] == f"/checks/{check.pk}/"
    assert list(check.alert_rule.channels.all()) == [channel]
    edit = client.post(
        f"/checks/{check.pk}/edit/",
        {
            "name": "shop",
            "kind": "http",
            "target": "https://shop.example.com/",
            "interval_seconds": 120,
            "timeout_seconds": 10,
            "retries": 2,
            "expect": "{}",
            "request": "{}",
            "grace_seconds": 60,
            "sla_target": 99.5,
            "enabled": "on",
        },
    )
    assert edit.status_code == 302
    check.refresh_from_db()
    assert check.interval_seconds == 120 and AlertRule.objects.get(pk=check.alert_rule_id).window_seconds == 190
    assert client.post(f"/checks/{check.pk}/toggle/").status_code == 302
    assert Check.objects.get(pk=check.pk).state == "paused"


def test_viewers_cannot_create_edit_or_pause(viewer) -> None:
    check = _check()
    client = _logged_in(viewer)
    assert client.get("/checks/new/").status_code == 403
    assert client.post(f"/checks/{check.pk}/edit/", {}).status_code == 403
    assert client.post(f"/checks/{check.pk}/toggle/").status_code == 403
    assert Client().get("/checks/").status_code == 302  # anonymous: to the login page


def test_the_sla_page(viewer) -> None:
    _check()
    ok = _logged_in(viewer).get("/checks/sla/?month=2026-11")
    assert ok.status_code == 200 and "web" in ok.content.decode() and "format=csv" in ok.content.decode()
    bad = _logged_in(viewer).get("/checks/sla/?month=nope")
    assert bad.status_code == 400 and "YYYY-MM" in bad.content.decode()


def test_the_admin_publishes_a_status_page(owner) -> None:
    check = _check()
    client = _logged_in(owner)
    response = client.post(
        "/admin/checks/statuspage/add/",
        {
            "slug": "public",
            "title": "Public",
            "description": "",
            "published": "on",
            "groups-TOTAL_FORMS": "1",
            "groups-INITIAL_FORMS": "0",
            "groups-MIN_NUM_FORMS": "0",
            "groups-MAX_NUM_FORMS": "1000",
            "groups-0-name": "Web",
            "groups-0-position": "0",
            "groups-0-checks": [check.pk],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    html = get_redis().get("seismotest:statuspage:public").decode()
    assert "Public" in html and "web" in html
    assert StatusPage.objects.get(slug="public").groups.get().checks.get() == check


def test_the_admin_creates_a_check_with_its_rule(owner) -> None:
    response = _logged_in(owner).post(
        "/admin/checks/check/add/",
        {
            "name": "db",
            "kind": "tcp",
            "target": "127.0.0.1:5432",
            **CHECK_FORM_DEFAULTS,
            "enabled": "on",
            "events-TOTAL_FORMS": "0",
            "events-INITIAL_FORMS": "0",
            "events-MIN_NUM_FORMS": "0",
            "events-MAX_NUM_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    check = Check.objects.get(name="db")
    assert check.alert_rule.metric == "check_up"
    bad = _logged_in(owner).post(
        "/admin/checks/check/add/",
        {
            "name": "x",
            "kind": "tcp",
            "target": "nohostport",
            **CHECK_FORM_DEFAULTS,
        },
    )
    assert bad.status_code == 200 and "host:port is required" in bad.content.decode()


def test_the_weekly_digest_reaches_the_smtp_sink(smtp_sink) -> None:
    check = _check("shop")
    now = timezone.now()
    Check.objects.filter(pk=check.pk).update(created_at=now - timedelta(days=10))
    CheckEvent.objects.create(owner=check, at=now - timedelta(days=3), from_state="unknown", to_state="up")
    CheckEvent.objects.create(
        owner=check, at=now - timedelta(days=2), from_state="up", to_state="down", reason="status 502"
    )
    CheckEvent.objects.create(
        owner=check, at=now - timedelta(days=2) + timedelta(minutes=10), from_state="down", to_state="up"
    )
    mail = NotificationChannel.objects.create(name="mail", kind="email", config={"to": ["ops@example.com"]})
    hook = NotificationChannel.objects.create(name="hook", kind="webhook", config={"url": "http://127.0.0.1:9/"})
    digest = WeeklyDigest.objects.create(name="ops")
    digest.channels.set([mail, hook])
    assert reports.send_weekly_digests(now) == 1
    assert len(smtp_sink) == 1
    message = smtp_sink[0].content.decode()
    assert smtp_sink[0].rcpt_tos == ["ops@example.com"]
    assert "Seismo weekly digest: 1 incidents" in message and "status 502" in message and "shop" in message
    digest.refresh_from_db()
    assert digest.last_sent_at == now


def test_sparkline_points_scale_to_the_slowest() -> None:
    assert sparkline([[0, 10.0]]) == ""
    assert sparkline([[0, 10.0], [1, 20.0]]) == "0.0,12.0 120.0,2.0"

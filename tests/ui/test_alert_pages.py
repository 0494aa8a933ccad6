"""The alerts pages a team reads during an incident: a compact filter bar whose state lives in
the address, and an alert's own page with its timeline, thresholds, notifications and links."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from alerts import lifecycle, services
from alerts.models import Alert, AlertRule, Notification, NotificationChannel
from monitoring.store.writer import record_samples
from tests.ui.conftest import acknowledged_disk_alert


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def incident(db, editor) -> Alert:
    """A rule that fired on one host, was acknowledged with a comment and then resolved, with
    a notification that went out and one that failed."""
    alert = acknowledged_disk_alert(editor, 120, 12, 85.0)
    services.resolve(alert, editor, "disk cleaned")
    channel = NotificationChannel.objects.create(name="ops mail", kind="email", config={"to": ["ops@example.com"]})
    Notification.objects.create(
        alert=alert, channel=channel, kind="firing", status="sent", attempts=1, sent_at=timezone.now()
    )
    Notification.objects.create(
        alert=alert, channel=channel, kind="resolved", status="failed", attempts=5, last_error="550 mailbox unavailable"
    )
    return Alert.objects.get(pk=alert.pk)


def test_the_filter_bar_is_compact_keeps_its_state_in_the_address_and_filters_the_history(viewer, incident):
    other = AlertRule.objects.create(name="CPU hot", metric="cpu", critical_threshold=1)
    Alert.objects.create(
        rule=other,
        labels={},
        labels_key="{}",
        state="firing",
        severity="warning",
        started_at=timezone.now() - timedelta(days=3),
    )
    client = _client(viewer)
    page = client.get("/alerts/").content.decode()
    assert "is greater than or equal to" not in page  # not Django's default rendering
    assert 'id="f-rule"' in page and 'id="f-state"' in page and 'id="f-severity"' in page
    assert 'name="since" value="24h"' in page

    filtered = client.get(f"/alerts/?rule={incident.rule.pk}&state=resolved&since=24h").content.decode()
    history = filtered[filtered.index('id="alert-history"') :]
    assert "Disk full" in history and "CPU hot" not in history
    # The chosen values are shown selected again (the address is the state).
    assert f'<option value="{incident.rule.pk}" selected>' in filtered
    assert '<option value="resolved" selected>' in filtered
    assert 'value="24h" checked' in filtered
    assert "Clear filters" in filtered

    recent = client.get("/alerts/?since=24h").content.decode()
    assert "CPU hot" not in recent[recent.index('id="alert-history"') :]
    assert "CPU hot" in client.get("/alerts/?since=7d").content.decode()
    # Labels read as chips, never as a Python dict.
    assert '<span class="k">host</span>=<span class="v">web1</span>' in filtered
    assert "{&#x27;host&#x27;" not in filtered and "{'host'" not in filtered


def test_bad_filter_values_show_a_form_error_not_a_500(viewer, incident):
    response = _client(viewer).get("/alerts/?state=bogus&since=forever&rule=abc")
    assert response.status_code == 200
    assert 'class="form-error"' in response.content.decode()


def test_an_alert_page_shows_the_timeline_chart_notifications_and_links(viewer, owner, incident):
    page = _client(viewer).get(f"/alerts/{incident.pk}/").content.decode()
    timeline = page[page.index('id="timeline"') : page.index("</ol>", page.index('id="timeline"'))]
    order = [timeline.index(state) for state in ("Pending", "Firing", "Acknowledged", "Resolved")]
    assert order == sorted(order)
    assert "by editor" in timeline and "on it" in timeline and "disk cleaned" in timeline
    assert 'data-value="' in timeline  # values go through the formatter
    notifications = page[page.index('id="notifications"') :]
    assert "ops mail" in notifications and "550 mailbox unavailable" in notifications and ">5<" in notifications
    assert '"thresholds": [{"value": 80.0, "level": "warning"}, {"value": 90.0, "level": "critical"}]' in page
    # The chart and the Explore link use the rule's aggregation: the thresholds are on its scale.
    assert '"aggregation": "last"' in page
    assert 'href="/explore/?m0=ui_disk_used_percent&amp;a0=last&amp;l0.host=web1&amp;range=custom' in page
    assert 'id="rule-admin"' not in page  # a viewer cannot edit rules
    assert ">Resolve</button>" not in page and ">Acknowledge</button>" not in page
    admin_page = _client(owner).get(f"/alerts/{incident.pk}/").content.decode()
    assert f'href="/admin/alerts/alertrule/{incident.rule.pk}/change/"' in admin_page
    assert _client(viewer).get("/alerts/999999/").status_code == 404


def test_acknowledging_from_the_alert_page_returns_to_it(editor, db):
    rule = AlertRule.objects.create(name="Queue deep", metric="ui_queue", critical_threshold=5)
    record_samples([("ui_queue", {}, time.time(), 9.0)])
    (alert,) = lifecycle.evaluate_rule(rule)
    client = _client(editor)
    assert ">Acknowledge</button>" in client.get(f"/alerts/{alert.pk}/").content.decode()
    answer = client.post(f"/alerts/{alert.pk}/acknowledge/", {"comment": "looking", "next": "detail"})
    assert answer.status_code == 302 and answer["Location"] == f"/alerts/{alert.pk}/"
    alert.refresh_from_db()
    assert alert.state == "acknowledged"
    again = client.post(f"/alerts/{alert.pk}/acknowledge/", {"next": "detail"}, follow=True)
    assert "cannot be acknowledged" in again.content.decode()


def test_the_rules_admin_list_links_each_metric_to_explore(owner, incident):
    page = _client(owner).get("/admin/alerts/alertrule/").content.decode()
    assert 'href="/explore/?m0=ui_disk_used_percent&amp;a0=last"' in page

import hashlib
import hmac
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from alerts import lifecycle, outbox, services
from alerts.choices import AlertState, NotificationStatus
from alerts.models import Alert, AlertRule, Notification, NotificationChannel, Silence
from monitoring.store.writer import record_samples

pytestmark = pytest.mark.django_db


def put(value: float, metric: str = "cpu", ago: float = 1, **labels: str) -> None:
    record_samples([(metric, labels or {"host": "web-1"}, time.time() - ago, value)])


def rule(**fields) -> AlertRule:
    defaults = {
        "name": "CPU high",
        "metric": "cpu",
        "critical_threshold": 90,
        "aggregation": "last",
        "window_seconds": 60,
    }
    return AlertRule.objects.create(**{**defaults, **fields})


def test_a_breach_fires_notifies_slack_and_resolves_with_a_resolved_message(receiver):
    channel = NotificationChannel.objects.create(
        name="ops", kind="slack", config={"webhook_url": receiver.url + "/hook"}
    )
    cpu = rule(summary="{{ labels.host }} CPU at {{ value }}%")
    cpu.channels.add(channel)
    put(95)
    (alert,) = lifecycle.evaluate_rule(cpu)
    assert alert.state == AlertState.FIRING and alert.summary == "web-1 CPU at 95%"
    outbox.deliver_due()
    body = receiver.json()
    assert "[CRITICAL] CPU high" in body["text"] and body["attachments"][0]["color"] == "#d7263d"
    put(10, ago=0)
    lifecycle.evaluate_rule(cpu)
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED
    outbox.deliver_due()
    assert "[RESOLVED]" in receiver.json()["text"]
    assert [e.state for e in alert.events.all()] == ["pending", "firing", "resolved"]


def test_for_duration_keeps_an_alert_pending_until_it_has_lasted(receiver):
    cpu = rule(for_seconds=30)
    put(95)
    now = timezone.now()
    (alert,) = lifecycle.evaluate_rule(cpu, now=now)
    assert alert.state == AlertState.PENDING
    lifecycle.evaluate_rule(cpu, now=now + timedelta(seconds=10))
    alert.refresh_from_db()
    assert alert.state == AlertState.PENDING
    put(96, ago=-29)  # still breaching half a minute later
    lifecycle.evaluate_rule(cpu, now=now + timedelta(seconds=31))
    alert.refresh_from_db()
    assert alert.state == AlertState.FIRING


def test_warning_and_critical_thresholds_and_hysteresis():
    cpu = rule(warning_threshold=70, recovery_threshold=60)
    put(75)
    (alert,) = lifecycle.evaluate_rule(cpu)
    assert alert.severity == "warning"
    put(65, ago=0)
    lifecycle.evaluate_rule(cpu)
    alert.refresh_from_db()
    assert alert.state == AlertState.FIRING  # below 70 but not past the 60 recovery line: no flapping
    put(55, ago=-1)
    lifecycle.evaluate_rule(cpu, now=timezone.now() + timedelta(seconds=2))
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED


def test_one_rule_fans_out_to_one_alert_per_series():
    cpu = rule()
    put(95, host="a")
    put(99, host="b")
    put(10, host="c")
    alerts = lifecycle.evaluate_rule(cpu)
    assert sorted(a.labels["host"] for a in alerts) == ["a", "b"]


def test_no_data_can_alert():
    cpu = rule(no_data="alert", window_seconds=30)
    put(10, ago=120)  # the series exists, but nothing in the window
    (alert,) = lifecycle.evaluate_rule(cpu)
    assert alert.state == AlertState.FIRING and alert.summary.endswith("no data on host=web-1")


def test_silences_keep_history_but_send_nothing(receiver):
    channel = NotificationChannel.objects.create(name="ops", kind="slack", config={"webhook_url": receiver.url})
    cpu = rule()
    cpu.channels.add(channel)
    Silence.objects.create(matchers={"host": "web-1"}, ends_at=timezone.now() + timedelta(hours=1))
    put(95)
    (alert,) = lifecycle.evaluate_rule(cpu)
    assert alert.state == AlertState.FIRING
    outbox.deliver_due()
    assert receiver.requests == [] and Notification.objects.count() == 0


def test_webhooks_are_signed_and_email_arrives_over_smtp(receiver, smtp_sink):
    hook = NotificationChannel.objects.create(
        name="hook", kind="webhook", config={"url": receiver.url, "secret": "s3cret"}
    )
    mail = NotificationChannel.objects.create(name="mail", kind="email", config={"to": ["ops@example.com"]})
    cpu = rule()
    cpu.channels.add(hook, mail)
    put(95)
    lifecycle.evaluate_rule(cpu)
    outbox.deliver_due()
    request = receiver.requests[-1]
    expected = "sha256=" + hmac.new(b"s3cret", request["body"], hashlib.sha256).hexdigest()
    assert request["headers"]["X-Seismo-Signature"] == expected
    assert receiver.json()["rule"] == "CPU high"
    (envelope,) = smtp_sink
    assert envelope.rcpt_tos == ["ops@example.com"]
    assert b"[CRITICAL] CPU high" in envelope.content and b"text/html" in envelope.content


def test_server_errors_are_retried_with_backoff_and_404_disables_the_channel(receiver):
    channel = NotificationChannel.objects.create(name="ops", kind="slack", config={"webhook_url": receiver.url})
    receiver.statuses = [500]
    result = outbox.send_test(channel)
    assert result.status == NotificationStatus.PENDING and result.attempts == 1
    assert result.next_attempt_at > timezone.now() and "500" in result.last_error
    Notification.objects.filter(pk=result.pk).update(next_attempt_at=timezone.now())
    outbox.deliver_due()
    result.refresh_from_db()
    assert result.status == NotificationStatus.SENT and result.attempts == 2
    receiver.statuses = [404]
    failed = outbox.send_test(channel)
    channel.refresh_from_db()
    assert failed.status == NotificationStatus.FAILED and not channel.enabled and "404" in channel.disabled_reason


def test_a_receiver_that_times_out_is_retried_later(receiver, settings):
    settings.NOTIFY_TIMEOUT_SECONDS = 0.2
    receiver.delay = 1.0
    channel = NotificationChannel.objects.create(name="ops", kind="webhook", config={"url": receiver.url})
    result = outbox.send_test(channel)
    assert result.status == NotificationStatus.PENDING and result.attempts == 1
    assert result.last_error == "ReadTimeout: could not reach the receiver"
    channel.refresh_from_db()
    assert channel.enabled  # a slow receiver is not a broken one


def test_a_notification_is_claimed_by_one_worker_only():
    channel = NotificationChannel.objects.create(name="ops", kind="webhook", config={"url": "http://127.0.0.1:9/x"})
    notification = Notification.objects.create(channel=channel, kind="test")
    assert outbox.claim_batch([notification.pk]) == [notification.pk]
    assert outbox.claim_batch([notification.pk]) == []
    assert outbox.deliver(notification.pk) == "taken"


def test_outbound_targets_outside_the_allowlist_fail_permanently(settings):
    settings.OUTBOUND_ALLOWLIST = []
    channel = NotificationChannel.objects.create(name="ops", kind="slack", config={"webhook_url": "http://10.0.0.5/x"})
    result = outbox.send_test(channel)
    assert result.status == NotificationStatus.FAILED and "OUTBOUND_ALLOWLIST" in result.last_error


def test_acknowledge_and_resolve_record_who_and_why(editor):
    cpu = rule()
    put(95)
    (alert,) = lifecycle.evaluate_rule(cpu)
    services.acknowledge(alert, editor, "looking")
    alert.refresh_from_db()
    assert alert.state == AlertState.ACKNOWLEDGED and alert.acknowledged_by == editor
    with pytest.raises(ValueError):
        services.acknowledge(alert, editor)
    services.resolve(alert, editor, "fixed")
    event = alert.events.last()
    assert (event.state, event.actor, event.comment) == ("resolved", "editor", "fixed")
    assert Alert.objects.get().state == AlertState.RESOLVED

"""Rule features beyond a single threshold, and what happens after an alert fires."""

import random
import re
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock

import pytest
from django.utils import timezone

from alerts import evaluation, followups, lifecycle, outbox, services
from alerts.choices import AlertState, NotificationStatus
from alerts.models import Alert, AlertCondition, AlertRule, MaintenanceWindow, Notification, NotificationChannel
from monitoring.models import Rollup1m, Series
from monitoring.store.writer import record_samples

pytestmark = pytest.mark.django_db


def put(value: float, metric: str = "cpu", ago: float = 1, **labels: str) -> None:
    record_samples([(metric, labels or {"host": "web-1"}, time.time() - ago, value)])


def rule(**fields) -> AlertRule:
    defaults = {"name": "CPU high", "metric": "cpu", "critical_threshold": 90, "aggregation": "last"}
    return AlertRule.objects.create(**{**defaults, **fields})


def slack(receiver, name: str = "ops", path: str = "/hook") -> NotificationChannel:
    return NotificationChannel.objects.create(name=name, kind="slack", config={"webhook_url": receiver.url + path})


def firing(rule_: AlertRule) -> dict[str, str]:
    return {a.labels["host"]: a.severity for a in Alert.objects.filter(rule=rule_, state=AlertState.FIRING)}


# Multi-condition rules -----------------------------------------------------------------------


def test_all_conditions_must_hold_on_the_same_host():
    cpu = rule()
    AlertCondition.objects.create(rule=cpu, metric="load", comparator=">", threshold=5)
    for host, (c, load) in {"a": (95, 8), "b": (95, 1), "c": (10, 9)}.items():
        put(c, host=host)
        put(load, metric="load", host=host)
    lifecycle.evaluate_rule(cpu)
    assert firing(cpu) == {"a": "critical"}  # b: load is fine; c: CPU is fine


def test_any_condition_fires_at_the_rule_severity():
    cpu = rule(match="any", severity="warning")
    AlertCondition.objects.create(rule=cpu, metric="errors", comparator=">", threshold=10)
    put(10, host="a")
    put(20, metric="errors", host="a")
    put(95, host="b")
    put(0, metric="errors", host="b")
    put(10, host="c")
    put(0, metric="errors", host="c")
    lifecycle.evaluate_rule(cpu)
    assert firing(cpu) == {"a": "warning", "b": "critical"}


# Anomaly rules ------------------------------------------------------------------------------


def history(series: Series, now: datetime, hours: dict[int, float], days: int = 5, spread: float = 2.0) -> None:
    """1-minute rollups for the past ``days`` days: around ``hours[h]`` at UTC hour h."""
    rng = random.Random(7)
    rows = []
    start = (now - timedelta(days=days)).replace(second=0, microsecond=0)
    minute = start
    while minute < now - timedelta(minutes=10):
        level = hours.get(minute.astimezone(UTC).hour, hours.get(-1, 0.0))
        value = level + rng.uniform(-spread, spread)
        rows.append(Rollup1m(series=series, bucket=minute, count=1, sum=value, min=value, max=value, last=value))
        minute += timedelta(minutes=7)
    Rollup1m.objects.bulk_create(rows)


def test_an_anomaly_rule_learns_the_hour_of_day_and_fires_on_the_unusual():
    now = timezone.now()
    put(50, metric="rps", host="web-1")
    series = Series.objects.get(metric__name="rps")
    # Busy at this hour every day, quiet otherwise: 50 now is normal, 80 is not.
    history(series, now, {now.astimezone(UTC).hour: 50.0, -1: 10.0})
    unusual = rule(name="RPS unusual", kind="anomaly", metric="rps", critical_threshold=None, anomaly_sensitivity=3)
    (verdict,) = evaluation.preview(unusual, now)
    assert verdict["severity"] is None and "same hour on earlier days" in verdict["detail"]
    assert lifecycle.evaluate_rule(unusual, now=now) == []
    put(80, metric="rps", ago=0, host="web-1")
    (alert,) = lifecycle.evaluate_rule(unusual, now=timezone.now())
    assert alert.state == AlertState.FIRING
    assert re.search(r"\(\+\d+\.\d deviations from baseline (49|50)[.\d]* ± ", alert.summary), alert.summary
    put(51, metric="rps", ago=-1, host="web-1")
    lifecycle.evaluate_rule(unusual, now=timezone.now() + timedelta(seconds=2))
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED


def test_an_anomaly_rule_watching_one_direction_ignores_the_other():
    now = timezone.now()
    put(20, metric="rps", host="web-1")
    history(Series.objects.get(metric__name="rps"), now, {-1: 50.0})
    drops = rule(name="RPS drop", kind="anomaly", metric="rps", critical_threshold=None, anomaly_direction="below")
    assert [a.labels for a in lifecycle.evaluate_rule(drops, now=now)] == [{"host": "web-1"}]
    spikes = rule(name="RPS spike", kind="anomaly", metric="rps", critical_threshold=None, anomaly_direction="above")
    assert lifecycle.evaluate_rule(spikes, now=now) == []


def test_an_anomaly_rule_without_history_is_learning_and_quiet():
    put(1e6, metric="rps", host="new")
    unusual = rule(kind="anomaly", metric="rps", critical_threshold=None)
    assert lifecycle.evaluate_rule(unusual) == []
    assert "learning" in evaluation.preview(unusual, timezone.now())[0]["detail"]


# Timing -------------------------------------------------------------------------------------


def test_keep_firing_for_holds_a_recovered_alert_until_it_stays_recovered():
    cpu = rule(keep_firing_for_seconds=60, window_seconds=300)
    put(95)
    now = timezone.now()
    (alert,) = lifecycle.evaluate_rule(cpu, now=now)
    put(10, ago=0)
    lifecycle.evaluate_rule(cpu, now=timezone.now())
    alert.refresh_from_db()
    assert alert.state == AlertState.FIRING and alert.clear_since is not None
    put(96, ago=-1)  # breaches again: the clock restarts
    lifecycle.evaluate_rule(cpu, now=timezone.now() + timedelta(seconds=2))
    alert.refresh_from_db()
    assert alert.state == AlertState.FIRING and alert.clear_since is None
    put(10, ago=-3)
    lifecycle.evaluate_rule(cpu, now=timezone.now() + timedelta(seconds=4))
    lifecycle.evaluate_rule(cpu, now=timezone.now() + timedelta(seconds=30))
    alert.refresh_from_db()
    assert alert.state == AlertState.FIRING
    lifecycle.evaluate_rule(cpu, now=timezone.now() + timedelta(seconds=70))
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED


def test_the_sweep_evaluates_many_rules_and_a_broken_one_does_not_stop_it():
    for host, value in (("a", 95), ("b", 75), ("c", 10)):
        put(value, host=host)
    high = rule(name="high", critical_threshold=90)
    medium = rule(name="medium", critical_threshold=70)
    AlertRule.objects.filter(pk=rule(name="broken").pk).update(aggregation="bogus")
    assert lifecycle.sweep() == 3
    assert firing(high) == {"a": "critical"}
    assert firing(medium) == {"a": "critical", "b": "critical"}


# Maintenance windows ----------------------------------------------------------------------


def test_maintenance_windows_recur_in_their_time_zone_and_may_cross_midnight():
    window = MaintenanceWindow.objects.create(
        name="nightly", timezone="Asia/Tokyo", weekdays=[5], start_time=clock(23, 0), duration_minutes=120
    )
    tokyo = timedelta(hours=9)
    saturday_2330 = datetime(2026, 11, 21, 23, 30, tzinfo=UTC) - tokyo
    assert window.active_at(saturday_2330)
    assert window.active_at(saturday_2330 + timedelta(hours=1))  # Sunday 00:30 in Tokyo, same window
    assert not window.active_at(saturday_2330 + timedelta(hours=2))
    assert not window.active_at(saturday_2330 - timedelta(days=1))  # Friday: not one of its days
    window.enabled = False
    assert not window.active_at(saturday_2330)


def test_an_active_maintenance_window_keeps_history_but_sends_nothing(receiver):
    cpu = rule()
    cpu.channels.add(slack(receiver))
    local = timezone.now().astimezone(UTC)
    MaintenanceWindow.objects.create(
        name="deploy",
        matchers={"host": "web-1"},
        weekdays=[local.weekday()],
        start_time=(local - timedelta(minutes=1)).time(),
        duration_minutes=30,
    )
    put(95)
    put(95, host="web-2")
    alerts = lifecycle.evaluate_rule(cpu)
    assert {a.labels["host"] for a in alerts if a.state == AlertState.FIRING} == {"web-1", "web-2"}
    outbox.deliver_due()
    assert (
        len(receiver.requests) == 1
        and "host=web-2" in receiver.json()["attachments"][0]["blocks"][1]["fields"][1]["text"]
    )


# After firing: acknowledgement expiry, reminders, escalation -------------------------------


def test_an_acknowledgement_stops_reminders_until_it_expires(receiver, editor):
    cpu = rule(repeat_interval_minutes=10)
    cpu.channels.add(slack(receiver))
    put(95)
    (alert,) = lifecycle.evaluate_rule(cpu)
    outbox.deliver_due()
    assert len(receiver.requests) == 1
    services.acknowledge(alert, editor, "on it", expires_in_minutes=30)
    later = timezone.now() + timedelta(minutes=20)
    assert followups.follow_up(later) == 0  # acknowledged: no reminder
    followups.follow_up(later + timedelta(minutes=11))
    alert.refresh_from_db()
    assert alert.state == AlertState.FIRING and alert.acknowledged_by is None
    assert alert.events.last().comment == "acknowledgement expired"
    outbox.deliver_due()
    assert receiver.json()["text"].startswith("[STILL CRITICAL] CPU high")


def test_reminders_repeat_once_per_interval(receiver):
    cpu = rule(repeat_interval_minutes=10)
    cpu.channels.add(slack(receiver))
    put(95)
    lifecycle.evaluate_rule(cpu)
    now = timezone.now()
    assert followups.follow_up(now + timedelta(minutes=5)) == 0
    assert followups.follow_up(now + timedelta(minutes=11)) == 1
    assert followups.follow_up(now + timedelta(minutes=12)) == 0  # already reminded for this interval
    assert followups.follow_up(now + timedelta(minutes=22)) == 1
    outbox.deliver_due()
    kinds = list(Notification.objects.order_by("id").values_list("kind", flat=True))
    assert kinds == ["firing", "reminder", "reminder"]


def test_unacknowledged_alerts_escalate_once_to_the_escalation_channels(receiver):
    cpu = rule(escalate_after_minutes=15)
    cpu.channels.add(slack(receiver, "ops", "/ops"))
    cpu.escalation_channels.add(slack(receiver, "managers", "/managers"))
    put(95)
    (alert,) = lifecycle.evaluate_rule(cpu)
    now = timezone.now()
    assert followups.follow_up(now + timedelta(minutes=10)) == 0
    assert followups.follow_up(now + timedelta(minutes=16)) == 1
    assert followups.follow_up(now + timedelta(minutes=30)) == 0
    outbox.deliver_due()
    assert [r["path"] for r in receiver.requests] == ["/ops", "/managers"]
    assert receiver.json()["text"].startswith("[ESCALATED CRITICAL] CPU high")
    assert "escalated to managers" in [e.comment for e in alert.events.all()]


def test_acknowledged_alerts_do_not_escalate(receiver, editor):
    cpu = rule(escalate_after_minutes=15)
    cpu.escalation_channels.add(slack(receiver, "managers"))
    put(95)
    (alert,) = lifecycle.evaluate_rule(cpu)
    services.acknowledge(alert, editor)
    assert followups.follow_up(timezone.now() + timedelta(hours=1)) == 0


# Grouping -------------------------------------------------------------------------------------


def test_alerts_that_fire_together_go_out_as_one_message(receiver, smtp_sink):
    cpu = rule(summary="{{ labels.host }} at {{ value }}%")
    cpu.channels.add(slack(receiver))
    cpu.channels.add(NotificationChannel.objects.create(name="mail", kind="email", config={"to": ["ops@example.com"]}))
    for host in ("a", "b", "c"):
        put(95, host=host)
    lifecycle.evaluate_rule(cpu)
    outbox.deliver_due()
    assert len(receiver.requests) == 1 and len(smtp_sink) == 1
    text = receiver.json()["text"]
    assert text.startswith("[CRITICAL] CPU high (3 alerts)")
    listed = receiver.json()["attachments"][0]["blocks"][1]["text"]["text"]
    assert listed.splitlines() == ["• a at 95%", "• b at 95%", "• c at 95%"]
    mail = smtp_sink[0].content.decode()
    assert "(3 alerts)" in mail and "- a at 95%" in mail
    assert Notification.objects.filter(status=NotificationStatus.SENT).count() == 6


def test_group_by_splits_messages_and_grouping_can_be_turned_off(receiver):
    cpu = rule(group_by=["dc"])
    cpu.channels.add(slack(receiver))
    for host, dc in (("a", "east"), ("b", "east"), ("c", "west")):
        put(95, host=host, dc=dc)
    lifecycle.evaluate_rule(cpu)
    outbox.deliver_due()
    texts = sorted(_json(r)["text"].split(":")[0] for r in receiver.requests)
    assert texts == ["[CRITICAL] CPU high", "[CRITICAL] CPU high (2 alerts)"]
    loose = rule(name="loose", group_notifications=False)
    loose.channels.add(slack(receiver, "loose"))
    lifecycle.evaluate_rule(loose)
    outbox.deliver_due()
    assert len(receiver.requests) == 2 + 3


def _json(request: dict) -> dict:
    import json

    return json.loads(request["body"])


def test_a_failed_group_is_retried_together(receiver):
    cpu = rule()
    cpu.channels.add(slack(receiver))
    put(95, host="a")
    put(95, host="b")
    lifecycle.evaluate_rule(cpu)
    receiver.statuses = [500]
    outbox.deliver_due()
    rows = list(Notification.objects.all())
    assert {(n.status, n.attempts) for n in rows} == {("pending", 1)}
    Notification.objects.update(next_attempt_at=timezone.now())
    outbox.deliver_due()
    assert len(receiver.requests) == 2 and "(2 alerts)" in receiver.json()["text"]
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}


def test_a_rule_watches_every_series_of_its_metric_not_just_the_first_page():
    now = time.time()
    record_samples([("cpu", {"host": f"h{i:04d}"}, now - 1, 10.0) for i in range(700)])
    put(99, host="h0699")
    assert [a.labels["host"] for a in lifecycle.evaluate_rule(rule())] == ["h0699"]

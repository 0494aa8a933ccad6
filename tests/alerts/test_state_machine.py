"""The alert state machine on the model: each transition saves and returns its AlertEvent."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.choices import AlertState
from alerts.models import Alert, AlertEvent, AlertRule, InvalidTransitionError

pytestmark = pytest.mark.django_db


def pending(**rule_fields) -> Alert:
    rule = AlertRule.objects.create(name="CPU", metric="cpu", critical_threshold=90, **rule_fields)
    return Alert.start(rule, {"host": "a"}, "host=a", "critical", 95.0, timezone.now())


def test_an_alert_walks_pending_firing_acknowledged_firing_resolved(editor):
    alert = pending(ack_expiry_minutes=30)
    now = timezone.now()
    fired = alert.fire(now)
    acked = alert.acknowledge(editor, now, "on it")
    reopened = alert.reopen()
    resolved = alert.resolve(now + timedelta(minutes=1), actor="editor", comment="fixed")
    for event in (fired, acked, reopened, resolved):
        assert isinstance(event, AlertEvent)
    stored = Alert.objects.get(pk=alert.pk)
    assert stored.state == AlertState.RESOLVED and stored.fired_at == now and stored.acknowledged_by is None
    assert [(e.state, e.actor) for e in stored.events.all()] == [
        ("pending", "system"),
        ("firing", "system"),
        ("acknowledged", "editor"),
        ("firing", "system"),
        ("resolved", "editor"),
    ]
    assert acked.comment.startswith("on it (until ") and reopened.comment == "acknowledgement expired"


def test_transitions_that_do_not_apply_are_refused_and_change_nothing(editor):
    alert = pending()
    assert alert.reopen() is None  # nothing to reopen: it was never acknowledged
    alert.fire(timezone.now())
    with pytest.raises(InvalidTransitionError, match="firing alert cannot fire"):
        alert.fire(timezone.now())
    alert.resolve(timezone.now())
    with pytest.raises(InvalidTransitionError, match="already resolved"):
        alert.resolve(timezone.now())
    with pytest.raises(InvalidTransitionError, match="resolved alert cannot be acknowledged"):
        alert.acknowledge(editor, timezone.now())
    assert [e.state for e in Alert.objects.get(pk=alert.pk).events.all()] == ["pending", "firing", "resolved"]


def test_a_lapsed_acknowledgement_reopens_once(editor):
    alert = pending()
    alert.fire(timezone.now())
    alert.acknowledge(editor, timezone.now())
    other = Alert.objects.get(pk=alert.pk)  # an overlapping sweep's copy
    assert alert.reopen() is not None
    assert other.reopen() is None
    assert Alert.objects.get(pk=alert.pk).events.filter(state="firing").count() == 2


def test_keep_firing_for_holds_a_recovered_alert_then_resolves(editor):
    alert = pending(keep_firing_for_seconds=60)
    now = timezone.now()
    alert.fire(now)
    assert alert.recovered(10.0, now) is None
    assert Alert.objects.get(pk=alert.pk).state == AlertState.FIRING
    event = alert.recovered(9.0, now + timedelta(seconds=61))
    assert event is not None and event.state == AlertState.RESOLVED and event.value == 9.0

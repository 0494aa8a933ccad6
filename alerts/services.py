"""What people do to alerts: acknowledge and resolve (the pages, the API and the admin call these).

Where the rest lives: the state machine is on ``alerts.models.Alert``; evaluation verdicts
(``alerts.evaluation``) become transitions in ``alerts.lifecycle``; reminders, escalation
and lapsed acknowledgements in ``alerts.followups``; queueing and delivering notifications in
``alerts.outbox``; one notifier per channel kind in ``alerts.notifiers``.
"""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from alerts import outbox
from alerts.choices import NotificationKind
from alerts.models import Alert
from alerts.stream import announce


def _locked(alert: Alert) -> Alert:
    return Alert.objects.select_for_update().select_related("rule").get(pk=alert.pk)


def acknowledge(
    alert: Alert, user: AbstractBaseUser, comment: str = "", expires_in_minutes: int | None = None
) -> Alert:
    """Stops reminders and escalation until the alert resolves or the acknowledgement lapses.
    Raises InvalidTransitionError (a ValueError) unless the alert is pending or firing."""
    with transaction.atomic():
        alert = _locked(alert)
        alert.acknowledge(user, timezone.now(), comment, expires_in_minutes)
        announce(alert)
    return alert


def resolve(alert: Alert, user: AbstractBaseUser, comment: str = "") -> Alert:
    """Closes an open alert by hand; people who were told it fires are told it is over."""
    with transaction.atomic():
        alert = _locked(alert)
        was_firing = alert.is_firing
        alert.resolve(timezone.now(), actor=user.get_username(), comment=comment)
        announce(alert)
        if was_firing:
            outbox.queue(alert, NotificationKind.RESOLVED)
    return alert

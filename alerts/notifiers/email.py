"""Email notifications: a text and an HTML part, over the configured SMTP server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from alerts.choices import ChannelKind
from alerts.notifiers.base import NOTIFICATION_ID_HEADER, Event, Notifier, NotifierError

if TYPE_CHECKING:
    from alerts.models import Notification


class EmailNotifier(Notifier):
    kind = ChannelKind.EMAIL
    required = ("to",)

    @classmethod
    def config_schema(cls) -> dict[str, Any]:
        to = {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": "@"}}
        return {"type": "object", "required": ["to"], "properties": {"to": to}}

    @classmethod
    def validate(cls, config: dict[str, Any]) -> dict[str, Any]:
        super().validate(config)
        to = config["to"]
        if not isinstance(to, list) or not all(isinstance(a, str) and "@" in a for a in to):
            raise ValueError("`to` must be a list of email addresses")
        return config

    def notify(self, event: Event, notification: Notification) -> None:
        context = {"event": event}
        message = EmailMultiAlternatives(
            subject=event.title,
            body=render_to_string("alerts/email/notification.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=self.config["to"],
            # The same on every retry: mail clients and filters drop a second copy on Message-ID.
            headers={NOTIFICATION_ID_HEADER: event.notification_id, "Message-ID": f"<{event.notification_id}@seismo>"},
        )
        message.attach_alternative(render_to_string("alerts/email/notification.html", context), "text/html")
        try:
            message.send()
        except OSError as exc:
            raise NotifierError(f"SMTP: {type(exc).__name__}") from None

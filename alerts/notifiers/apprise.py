"""Apprise notifications: any service an Apprise URL names (Telegram, Discord, ntfy, …)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from alerts.choices import ChannelKind
from alerts.notifiers.base import Event, Notifier, NotifierError
from lib.outbound import OutboundRefusedError, apprise_url_pattern, check_apprise_url

if TYPE_CHECKING:
    from alerts.models import Notification


class AppriseNotifier(Notifier):
    kind = ChannelKind.APPRISE
    required = ("url",)
    url_field = "url"

    @classmethod
    def url_pattern(cls) -> str:
        return apprise_url_pattern()

    @classmethod
    def check_destination(cls, url: str) -> None:
        check_apprise_url(url)

    def notify(self, event: Event, notification: Notification) -> None:
        # Apprise loads every one of its plugins on import (~0.5 s): only workers that send pay.
        import apprise

        try:  # again at send: a row may predate the rule or have been written around the API
            check_apprise_url(self.config["url"])
        except OutboundRefusedError as exc:
            raise NotifierError(str(exc), permanent=True) from None
        sender = apprise.Apprise()
        if not sender.add(self.config["url"]):
            raise NotifierError("Apprise does not understand this URL", permanent=True)
        if not sender.notify(title=event.title, body=event.summary):
            raise NotifierError("Apprise could not deliver the message")

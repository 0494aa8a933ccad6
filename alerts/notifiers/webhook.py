"""Webhook notifications: the event as JSON (with its ``notification_id``, also in the
``X-Seismo-Notification-Id`` header), HMAC-SHA256 signed when the channel has a secret."""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING, Any

import orjson

from alerts.choices import ChannelKind
from alerts.notifiers.base import NOTIFICATION_ID_HEADER, Event, Notifier, post

if TYPE_CHECKING:
    from alerts.models import Notification


class WebhookNotifier(Notifier):
    kind = ChannelKind.WEBHOOK
    required = ("url",)
    url_field = "url"

    @classmethod
    def config_schema(cls) -> dict[str, Any]:
        schema = super().config_schema()
        schema["properties"]["secret"] = {"type": "string"}
        return schema

    @classmethod
    def validate(cls, config: dict[str, Any]) -> dict[str, Any]:
        super().validate(config)
        if not isinstance(config.get("secret", ""), str):
            raise ValueError("`secret` must be a string (the HMAC key)")
        return config

    def notify(self, event: Event, notification: Notification) -> None:
        body = orjson.dumps(event.as_dict())
        headers = {"Content-Type": "application/json", NOTIFICATION_ID_HEADER: event.notification_id}
        secret = self.config.get("secret")
        if secret:
            digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Seismo-Signature"] = f"sha256={digest}"
        post(self.config["url"], body, headers)

"""One notifier class per channel kind, behind ``notify(event, notification)``.

Notifiers only deliver; record-keeping (attempts, errors, disabling a channel) lives in
``alerts.services.deliver`` — one place.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
import orjson
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from alerts.choices import ChannelKind
from lib import outbound
from lib.outbound import OutboundRefusedError, check_apprise_url, check_url

SLACK_MAX_ITEMS = 20
SEVERITY_COLOUR = {"critical": "#d7263d", "warning": "#f4a261", "resolved": "#2a9d8f", "test": "#457b9d"}


class NotifierError(Exception):
    """Delivery failed; ``permanent`` errors disable the channel instead of retrying."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass
class Item:
    """One alert of a (possibly grouped) message."""

    summary: str
    value: float | None
    labels: dict[str, str]
    severity: str
    url: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "value": self.value,
            "labels": self.labels,
            "severity": self.severity,
            "url": self.url,
        }


@dataclass
class Event:
    """What happened, in the words every notifier renders; ``items`` lists every alert of a
    grouped message (one for a single alert, none for a test)."""

    kind: str  # firing | resolved | reminder | escalation | test
    rule: str
    severity: str
    summary: str
    value: float | None
    labels: dict[str, str]
    url: str
    runbook_url: str = ""
    items: list[Item] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rule": self.rule,
            "severity": self.severity,
            "summary": self.summary,
            "value": self.value,
            "labels": self.labels,
            "url": self.url,
            "runbook_url": self.runbook_url,
            "count": len(self.items),
            "alerts": [item.as_dict() for item in self.items],
        }

    @property
    def title(self) -> str:
        level = self.severity.upper()
        label = {
            "firing": f"[{level}]",
            "resolved": "[RESOLVED]",
            "reminder": f"[STILL {level}]",
            "escalation": f"[ESCALATED {level}]",
            "test": "[TEST]",
        }[self.kind]
        more = f" ({len(self.items)} alerts)" if len(self.items) > 1 else ""
        return f"{label} {self.rule}{more}"

    @property
    def colour(self) -> str:
        if self.kind in ("resolved", "test"):
            return SEVERITY_COLOUR[self.kind]
        return SEVERITY_COLOUR.get(self.severity, SEVERITY_COLOUR["critical"])


class Notifier:
    kind: ClassVar[str]
    required: ClassVar[tuple[str, ...]] = ()
    url_field: ClassVar[str] = ""  # the config key holding the destination, vetted at save

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    @classmethod
    def validate(cls, config: dict[str, Any]) -> dict[str, Any]:
        """Check a channel's config; raise ValueError with a user-facing message."""
        missing = [key for key in cls.required if not config.get(key)]
        if missing:
            raise ValueError(f"{cls.kind} channels need {', '.join(missing)}")
        if cls.url_field:
            url = config[cls.url_field]
            if not isinstance(url, str):
                raise ValueError(f"{cls.url_field} must be a URL")
            try:
                cls.check_destination(url)
            except OutboundRefusedError as exc:
                raise ValueError(f"{cls.url_field}: {exc}") from None
        return config

    @classmethod
    def check_destination(cls, url: str) -> None:
        check_url(url)

    def notify(self, event: Event) -> None:
        raise NotImplementedError

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        timeout = httpx.Timeout(settings.NOTIFY_TIMEOUT_SECONDS, connect=5.0)
        try:
            # The gate resolves once, vets and connects to that address; no redirects.
            with outbound.http_client(timeout=timeout) as client:
                response = client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            refused = outbound.refusal_reason(exc)
            if refused:
                raise NotifierError(refused, permanent=True) from None
            raise NotifierError(f"{type(exc).__name__}: could not reach the receiver") from None
        if response.status_code in (400, 401, 403, 404, 410):
            raise NotifierError(f"receiver answered {response.status_code}", permanent=True)
        if response.status_code >= 300:
            raise NotifierError(f"receiver answered {response.status_code}")


class EmailNotifier(Notifier):
    kind = ChannelKind.EMAIL
    required = ("to",)

    @classmethod
    def validate(cls, config: dict[str, Any]) -> dict[str, Any]:
        super().validate(config)
        to = config["to"]
        if not isinstance(to, list) or not all(isinstance(a, str) and "@" in a for a in to):
            raise ValueError("`to` must be a list of email addresses")
        return config

    def notify(self, event: Event) -> None:
        context = {"event": event}
        message = EmailMultiAlternatives(
            subject=event.title,
            body=render_to_string("alerts/email/notification.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=self.config["to"],
        )
        message.attach_alternative(render_to_string("alerts/email/notification.html", context), "text/html")
        try:
            message.send()
        except OSError as exc:
            raise NotifierError(f"SMTP: {type(exc).__name__}") from None


class SlackNotifier(Notifier):
    kind = ChannelKind.SLACK
    required = ("webhook_url",)
    url_field = "webhook_url"

    def notify(self, event: Event) -> None:
        value = "—" if event.value is None else f"{event.value:g}"
        labels = ", ".join(f"{k}={v}" for k, v in sorted(event.labels.items())) or "—"
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{event.title}*\n{event.summary}"}},
        ]
        if len(event.items) > 1:
            lines = [f"• {item.summary}" for item in event.items[:SLACK_MAX_ITEMS]]
            if len(event.items) > SLACK_MAX_ITEMS:
                lines.append(f"… and {len(event.items) - SLACK_MAX_ITEMS} more")
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}})
        else:
            blocks.append(
                {
                    "type": "section",
                    "fields": [
                        {"type": "mrkdwn", "text": f"*Value*\n{value}"},
                        {"type": "mrkdwn", "text": f"*Labels*\n{labels}"},
                    ],
                }
            )
        blocks.append(
            {
                "type": "actions",
                "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Open"}, "url": event.url}],
            }
        )
        body = {"text": f"{event.title}: {event.summary}", "attachments": [{"color": event.colour, "blocks": blocks}]}
        self._post(self.config["webhook_url"], orjson.dumps(body), {"Content-Type": "application/json"})


class WebhookNotifier(Notifier):
    kind = ChannelKind.WEBHOOK
    required = ("url",)
    url_field = "url"

    def notify(self, event: Event) -> None:
        body = orjson.dumps(event.as_dict())
        headers = {"Content-Type": "application/json"}
        secret = self.config.get("secret")
        if secret:
            digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Seismo-Signature"] = f"sha256={digest}"
        self._post(self.config["url"], body, headers)


class AppriseNotifier(Notifier):
    kind = ChannelKind.APPRISE
    required = ("url",)
    url_field = "url"

    @classmethod
    def check_destination(cls, url: str) -> None:
        check_apprise_url(url)

    def notify(self, event: Event) -> None:
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


REGISTRY: dict[str, type[Notifier]] = {
    n.kind: n for n in (EmailNotifier, SlackNotifier, WebhookNotifier, AppriseNotifier)
}

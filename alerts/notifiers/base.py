"""What every notifier shares: the message (Event), the error it raises, the HTTP post."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.urls import reverse

from lib import outbound
from lib.outbound import HTTP_URL_RE, OutboundRefusedError, check_url

if TYPE_CHECKING:
    from alerts.models import Notification

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
        return asdict(self)


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
    # The receiver's deduplication key: the same on every retry (Notification.notification_id).
    notification_id: str = ""

    @classmethod
    def for_notifications(cls, notifications: list[Notification]) -> Event:
        """One message for one notification, or for a group of alerts that fired together.
        Every link starts with ``SEISMO_PUBLIC_URL`` and opens the alert's own page (a group's
        message opens the alerts list)."""
        base = settings.SEISMO_PUBLIC_URL
        first = notifications[0]
        alert = first.alert
        if alert is None:
            summary = f"Seismo test message for {first.channel.name}"
            url = base + reverse("alerts:index")
            return cls(
                "test", "Test notification", "test", summary, None, {}, url, notification_id=first.notification_id
            )
        alerts = [n.alert for n in notifications if n.alert is not None]
        items = [
            Item(a.summary, a.value, a.labels, a.severity, base + reverse("alerts:detail", args=[a.pk])) for a in alerts
        ]
        severity = "critical" if any(a.severity == "critical" for a in alerts) else alert.severity
        return cls(
            kind=first.kind,
            rule=alert.rule.name,
            severity=severity,
            summary=alert.summary if len(alerts) == 1 else f"{len(alerts)} series of {alert.rule.name}",
            value=alert.value,
            labels=alert.labels,
            url=items[0].url if len(items) == 1 else base + reverse("alerts:index"),
            runbook_url=alert.rule.runbook_url,
            items=items,
            notification_id=first.notification_id,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "notification_id": self.notification_id,
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


NOTIFICATION_ID_HEADER = "X-Seismo-Notification-Id"


class Notifier:
    """One channel kind. ``notify`` delivers or raises NotifierError; it keeps no records
    (alerts.outbox does)."""

    kind: ClassVar[str]
    required: ClassVar[tuple[str, ...]] = ()
    url_field: ClassVar[str] = ""  # the config key holding the destination, vetted at save

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    @classmethod
    def config_schema(cls) -> dict[str, Any]:
        """The config as JSON Schema, as strict as ``validate`` short of the destination's address
        (the outbound allowlist, DNS): the kind's branch of the channel's request schema."""
        properties: dict[str, Any] = {}
        if cls.url_field:
            properties[cls.url_field] = {"type": "string", "pattern": cls.url_pattern()}
        return {"type": "object", "required": list(cls.required), "properties": properties}

    @classmethod
    def url_pattern(cls) -> str:
        return HTTP_URL_RE.pattern

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
        if not HTTP_URL_RE.match(url):
            raise OutboundRefusedError("not an http(s)://host[:port][/path] URL (printable ASCII)")
        check_url(url)

    def notify(self, event: Event, notification: Notification) -> None:
        """Send ``event``; ``notification`` is the outbox row it stands for (the first of a
        grouped message)."""
        raise NotImplementedError


def post(url: str, body: bytes, headers: dict[str, str]) -> None:
    """POST to a receiver; 4xx that will not change on retry are permanent errors."""
    # httpx (~6 MB) loads on the first delivery, not in every process that loads the notifiers.
    import httpx

    from lib.outbound_clients import http_client  # imports httpx and aiohttp: see above

    timeout = httpx.Timeout(settings.NOTIFY_TIMEOUT_SECONDS, connect=5.0)
    try:
        # The gate resolves once, vets and connects to that address; no redirects.
        with http_client(timeout=timeout) as client:
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

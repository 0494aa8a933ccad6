"""One notifier per channel kind, behind ``notify(event, notification)``, and the registry.

Notifiers only deliver; record-keeping (attempts, errors, disabling a channel) lives in
``alerts.outbox`` — one place.
"""

from __future__ import annotations

from typing import Any

from alerts.notifiers.apprise import AppriseNotifier
from alerts.notifiers.base import Event, Item, Notifier, NotifierError
from alerts.notifiers.email import EmailNotifier
from alerts.notifiers.slack import SlackNotifier
from alerts.notifiers.webhook import WebhookNotifier

REGISTRY: dict[str, type[Notifier]] = {
    n.kind: n for n in (EmailNotifier, SlackNotifier, WebhookNotifier, AppriseNotifier)
}

__all__ = ["REGISTRY", "Event", "Item", "Notifier", "NotifierError", "config_rules", "validate_config"]


def config_rules() -> dict[str, Any]:
    """A channel's request schema across its fields: the config each kind takes (a ``oneOf``)."""
    return {
        "oneOf": [
            {
                "required": ["kind", "config"],
                "properties": {"kind": {"const": str(kind)}, "config": notifier.config_schema()},
            }
            for kind, notifier in REGISTRY.items()
        ]
    }


def validate_config(kind: str, config: Any) -> dict[str, Any]:
    """The one check of a channel's config (model clean → admin, and the API serializer):
    the kind's required keys and formats, and every URL Seismo will connect to against the
    outbound allowlist. Raises ValueError with a user-facing message."""
    if kind not in REGISTRY:
        raise ValueError(f"unknown channel kind {kind!r}")
    if not isinstance(config, dict):
        raise ValueError("must be an object")
    return REGISTRY[kind].validate(config)

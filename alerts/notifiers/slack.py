"""Slack notifications: an incoming-webhook message with blocks and an "Open" button."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from alerts.choices import ChannelKind
from alerts.notifiers.base import Event, Notifier, post

if TYPE_CHECKING:
    from alerts.models import Notification

SLACK_MAX_ITEMS = 20


def escape(text: str) -> str:
    """Slack's control characters in message text (https://api.slack.com/reference/surfaces/formatting):
    a label value like ``<!channel>`` or ``<https://evil|click>`` shows as typed, never as a mention or link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SlackNotifier(Notifier):
    kind = ChannelKind.SLACK
    required = ("webhook_url",)
    url_field = "webhook_url"

    def notify(self, event: Event, notification: Notification) -> None:
        value = "—" if event.value is None else f"{event.value:g}"
        labels = escape(", ".join(f"{k}={v}" for k, v in sorted(event.labels.items()))) or "—"
        title, summary = escape(event.title), escape(event.summary)
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*\n{summary}"}},
        ]
        if len(event.items) > 1:
            lines = [f"• {escape(item.summary)}" for item in event.items[:SLACK_MAX_ITEMS]]
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
        body = {
            "text": f"{title}: {summary}",
            "attachments": [{"color": event.colour, "blocks": blocks}],
            # Slack message metadata: a receiver (or a Slack app) deduplicates retries on it.
            "metadata": {
                "event_type": "seismo_notification",
                "event_payload": {"notification_id": event.notification_id},
            },
        }
        post(self.config["webhook_url"], orjson.dumps(body), {"Content-Type": "application/json"})

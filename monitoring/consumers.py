"""The `/ws/metrics/` stream (see docs/stream-protocol.md)."""

from __future__ import annotations

import json
from typing import Any

from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from lib.realtime import topic_group
from monitoring import health

CLOSE_UNAUTHENTICATED = 4401
TOPICS = {
    "system-metrics", "database-metrics", "cache-metrics", "network-metrics", "basic-metrics",
    "alert", "loadtest-progress",
}  # fmt: skip


class MetricsConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            # Accept first: a close before the handshake is an HTTP 403 and the client never
            # sees the 4401 code the protocol promises.
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.seq = 0
        self.topics: set[str] = set()
        await self.accept()
        components = await sync_to_async(health.component_status)()
        await self.send_json({"type": "initialData", "components": components})

    async def disconnect(self, code: int) -> None:
        for topic in getattr(self, "topics", set()):
            await self.channel_layer.group_discard(topic_group(topic), self.channel_name)

    async def send_json(self, message: dict[str, Any]) -> None:
        self.seq += 1
        await self.send(text_data=json.dumps({**message, "seq": self.seq}))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            message = json.loads(text_data or "")
        except ValueError:
            await self.send_json({"type": "error", "reason": "frame is not JSON"})
            return
        if not isinstance(message, dict) or message.get("type") not in ("subscribe", "unsubscribe"):
            await self.send_json({"type": "error", "reason": "unknown message type"})
            return
        topics = message.get("topics")
        if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
            await self.send_json({"type": "error", "reason": "topics must be a list of strings"})
            return
        for topic in topics:
            if topic not in TOPICS and not topic.startswith("series:"):
                await self.send_json({"type": "error", "reason": f"unknown topic {topic!r}"})
                continue
            if message["type"] == "subscribe":
                await self.channel_layer.group_add(topic_group(topic), self.channel_name)
                self.topics.add(topic)
            else:
                await self.channel_layer.group_discard(topic_group(topic), self.channel_name)
                self.topics.discard(topic)
        await self.send_json({"type": "subscribed", "topics": sorted(self.topics)})

    async def stream_message(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": event["topic"].split(":")[0], "topic": event["topic"], **event["payload"]})

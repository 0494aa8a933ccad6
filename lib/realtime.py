"""The one real-time entry point: ``broadcast(group, payload)``; group names come from here."""

from __future__ import annotations

import re
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]")


def topic_group(topic: str) -> str:
    """The channel-layer group a topic's subscribers join (names limited to safe chars)."""
    import hashlib

    safe = _UNSAFE.sub("_", topic)[:60]
    return f"t.{safe}.{hashlib.blake2b(topic.encode(), digest_size=5).hexdigest()}"


def broadcast(topic: str, payload: dict[str, Any]) -> None:
    """Send one message to every socket subscribed to ``topic`` (sync callers)."""
    layer = get_channel_layer()
    if layer is None:
        return
    async_to_sync(layer.group_send)(topic_group(topic), {"type": "stream.message", "topic": topic, "payload": payload})


async def abroadcast(topic: str, payload: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    await layer.group_send(topic_group(topic), {"type": "stream.message", "topic": topic, "payload": payload})


def publish_samples(topic: str, ts: float, samples: list[dict[str, Any]]) -> None:
    """Publish one collected or ingested batch: once per batch, never per sample.

    ``samples`` are ``{"metric", "labels", "value"}`` dicts. The stream also derives the
    ``series:<metric>{labels}`` topics from them for sockets that watch single series.
    """
    broadcast(topic, {"ts": ts, "samples": samples})

"""The one real-time entry point: ``broadcast(topic, payload)``; group names come from here.

Producers (collectors, ingest, alerts, load tests) run in Celery threads and web threads. They
publish straight to Redis with the channel layer's own wire format — one PUBLISH per batch —
instead of spinning an event loop per message through ``async_to_sync``. The latest payload
of each topic is kept so a socket that subscribes paints at once.
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import Any

import orjson
from channels.layers import get_channel_layer
from django.conf import settings

from lib.redis import get_redis, key

_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]")
LAST_TTL_SECONDS = 600
SERIES_TOPICS_KEY = "stream:series-topics"
_series_topics: dict[str, Any] = {"at": 0.0, "topics": set()}


def topic_group(topic: str) -> str:
    """The channel-layer group a topic's subscribers join (names limited to safe chars)."""
    safe = _UNSAFE.sub("_", topic)[:60]
    return f"t.{safe}.{hashlib.blake2b(topic.encode(), digest_size=5).hexdigest()}"


def series_topic(metric: str, labels: dict[str, str]) -> str:
    """``series:<metric>{k=v,…}`` with sorted keys: the topic of one series."""
    inner = ",".join(f"{k}={labels[k]}" for k in sorted(labels))
    return f"series:{metric}{{{inner}}}"


def _prefix() -> str:
    return settings.CHANNEL_LAYERS["default"]["CONFIG"].get("prefix", "asgi")


def broadcast(topic: str, payload: dict[str, Any]) -> None:
    """Send one message to every socket subscribed to ``topic`` (from sync code)."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "stream.message", "topic": topic, "payload": payload}
    client = get_redis()
    pipe = client.pipeline(transaction=False)
    pipe.publish(f"{_prefix()}__group__{topic_group(topic)}", layer.serialize(message))
    pipe.set(key(f"stream:last:{topic}"), orjson.dumps(payload), ex=LAST_TTL_SECONDS)
    pipe.execute()


async def abroadcast(topic: str, payload: dict[str, Any]) -> None:
    """Send one message to every socket subscribed to ``topic`` (from async code)."""
    layer = get_channel_layer()
    if layer is None:
        return
    await layer.group_send(topic_group(topic), {"type": "stream.message", "topic": topic, "payload": payload})


def last_payloads(topics: list[str]) -> dict[str, dict[str, Any]]:
    """The latest payload published on each topic (for a socket that just subscribed)."""
    if not topics:
        return {}
    raws = get_redis().mget([key(f"stream:last:{topic}") for topic in topics])
    return {topic: orjson.loads(raw) for topic, raw in zip(topics, raws, strict=True) if raw}


def watch_series(topic: str, delta: int) -> None:
    """Count sockets watching a single series, so producers publish only watched series."""
    get_redis().hincrby(key(SERIES_TOPICS_KEY), topic, delta)


def watched_series() -> set[str]:
    if time.monotonic() - _series_topics["at"] > 1.0:
        counts = get_redis().hgetall(key(SERIES_TOPICS_KEY))
        _series_topics["topics"] = {t.decode() for t, n in counts.items() if int(n) > 0}
        _series_topics["at"] = time.monotonic()
    return _series_topics["topics"]


def publish_samples(topic: str, ts: float, samples: list[dict[str, Any]]) -> None:
    """Publish one collected or ingested batch: once per batch, never per sample.

    ``samples`` are ``{"metric", "labels", "value"}`` dicts. Single-series topics
    (``series:<metric>{labels}``) get their point only while some socket watches them.
    """
    broadcast(topic, {"ts": ts, "samples": samples})
    watched = watched_series()
    if not watched:
        return
    for sample in samples:
        name = series_topic(sample["metric"], sample.get("labels") or {})
        if name in watched:
            broadcast(name, {"ts": ts, "points": [[sample.get("ts", ts), sample["value"]]]})

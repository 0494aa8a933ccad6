"""The one real-time entry point: ``broadcast(topic, payload)``; group names come from here.

Producers (collectors, ingest, alerts, load tests) run in Celery threads and web threads. They
publish straight to Redis with the channel layer's own wire format — one PUBLISH per batch —
instead of spinning an event loop per message through ``async_to_sync``. Every payload gets an
``id``; the last ``HISTORY`` payloads of each topic are kept (in the same round trip), so a
socket that subscribes paints at once and a client that reconnects gets what it missed.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from typing import Any

import msgpack
import orjson
from django.conf import settings

from lib.redis import get_redis, key
from lib.streamcodec import pack

_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]")
HISTORY = 120  # payloads kept per topic for replay
HISTORY_TTL_SECONDS = 600
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


_ids = {"last": 0}
_ids_lock = threading.Lock()


def next_id() -> int:
    """Microseconds since the epoch, strictly increasing in this process (fits a JS number)."""
    with _ids_lock:
        _ids["last"] = max(_ids["last"] + 1, time.time_ns() // 1000)
        return _ids["last"]


def _history_key(topic: str) -> str:
    return key(f"stream:history:{topic}")


def layer_message(message: dict[str, Any]) -> bytes:
    """``message`` as the channel layer sends it: msgpack, neither encrypted nor prefixed
    (CHANNEL_LAYERS asks for neither). Encoded here, not by the layer object: building that
    imports channels_redis' serializers and with them cryptography (~7 MB) in every producer."""
    return msgpack.packb(message)


def broadcast(topic: str, payload: dict[str, Any]) -> None:
    """Send one message to every socket subscribed to ``topic`` (from sync code)."""
    payload_id = next_id()
    # The payload travels pre-encoded: each socket's consumer deserialises the layer message,
    # and a bytes field costs it nothing, where a nested structure would cost per value.
    raw = orjson.dumps({**payload, "id": payload_id})
    message = {"type": "stream.message", "topic": topic, "id": payload_id, "raw": raw}
    history = _history_key(topic)
    pipe = get_redis().pipeline(transaction=False)
    pipe.publish(f"{_prefix()}__group__{topic_group(topic)}", layer_message(message))
    pipe.lpush(history, raw)
    pipe.ltrim(history, 0, HISTORY - 1)
    pipe.expire(history, HISTORY_TTL_SECONDS)
    pipe.execute()


def last_payloads(topics: list[str]) -> dict[str, dict[str, Any]]:
    """The latest payload published on each topic (for a socket that just subscribed)."""
    if not topics:
        return {}
    pipe = get_redis().pipeline(transaction=False)
    for topic in topics:
        pipe.lindex(_history_key(topic), 0)
    raws = pipe.execute()
    return {topic: orjson.loads(raw) for topic, raw in zip(topics, raws, strict=True) if raw}


def missed_payloads(since: dict[str, int]) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """For a reconnecting client: the payloads each topic published after the ``id`` it last
    saw, oldest first — or, in the second list, the topics whose history no longer reaches back
    that far (the client reloads those)."""
    if not since:
        return {}, []
    pipe = get_redis().pipeline(transaction=False)
    for topic in since:
        pipe.lrange(_history_key(topic), 0, HISTORY - 1)
    replay: dict[str, list[dict[str, Any]]] = {}
    lost: list[str] = []
    for (topic, last_id), raws in zip(since.items(), pipe.execute(), strict=True):
        newer: list[dict[str, Any]] = []
        for raw in raws:  # newest first
            payload = orjson.loads(raw)
            if payload.get("id") == last_id:
                replay[topic] = newer[::-1]
                break
            newer.append(payload)
        else:
            lost.append(topic)
    return replay, lost


# Decrement and, at zero, drop the field in one step: a socket subscribing meanwhile (another
# process) cannot have its count deleted under it.
_UNWATCH = """
local left = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if left <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
return left
"""


def watch_series(topic: str, delta: int) -> None:
    """Count sockets watching a single series, so producers publish only watched series; a
    series nobody watches any more leaves no field behind."""
    redis = get_redis()
    if delta > 0:
        redis.hincrby(key(SERIES_TOPICS_KEY), topic, delta)
        return
    for _ in range(-delta):
        redis.eval(_UNWATCH, 1, key(SERIES_TOPICS_KEY), topic)


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
    broadcast(topic, pack(ts, samples))
    watched = watched_series()
    if not watched:
        return
    for sample in samples:
        name = series_topic(sample["metric"], sample.get("labels") or {})
        if name in watched:
            broadcast(name, {"ts": ts, "points": [[sample.get("ts", ts), sample["value"]]]})

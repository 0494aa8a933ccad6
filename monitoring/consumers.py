"""The `/ws/metrics/` stream (see docs/stream-protocol.md).

The consumer forwards; it computes nothing. Producers publish once per batch through
``lib.realtime``; every frame a socket receives carries that socket's sequence number. Metric
batches go out compact (``lib.streamcodec``: label sets once per socket, then numbers). When
the server can tell how much is waiting to be written to a socket (our daphne,
``config.daphne_server``), a client that does not keep up has frames dropped instead of
buffered without limit, and is told so with one ``lagging`` frame once it catches up.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from typing import Any

import orjson
from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import BaseChannelLayer, get_channel_layer

from accounts.choices import ROLE_RANK, Role
from accounts.roles import role_of
from lib.realtime import last_payloads, missed_payloads, topic_group, watch_series
from lib.streamcodec import Encoder
from lib.wsevents import BACKLOG_EXTENSION, CLOSE_TOO_BIG, OVERSIZE_EVENT
from monitoring import health
from monitoring.topics import ALL as ALL_TOPICS
from monitoring.topics import SERIES_PREFIX, series_topic_problem

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FLOOD = 4429
MAX_FRAME_BYTES = 16 * 1024
MAX_TOPICS = 100
RATE_PER_SECOND = 20.0  # client messages; bursts up to RATE_BURST
RATE_BURST = 40.0
FLOOD_STRIKES = 20  # refused messages before the socket is closed
# Bytes waiting for a slow client: above HIGH frames are dropped until it is below LOW again.
BACKLOG_HIGH = 1024 * 1024
BACKLOG_LOW = 256 * 1024

# The role that may read each topic (series:<metric>{…} needs viewer too).
TOPIC_ROLES: dict[str, Role] = dict.fromkeys(ALL_TOPICS, Role.VIEWER)

# Frame bodies of recent messages, built once per process and shared by every socket:
# (topic, id) → (schema, body with the schema, body without it). Bounded by clearing.
_bodies: dict[tuple[str, int], tuple[str | None, str, str]] = {}
MAX_BODIES = 256


def _bodies_for(topic: str, payload_id: int, raw: bytes) -> tuple[str | None, str, str]:
    found = _bodies.get((topic, payload_id))
    if found is None:
        payload = orjson.loads(raw)
        head = {"type": _type_of(topic), "topic": topic}
        full = orjson.dumps({**head, **payload}).decode()
        schema = payload.get("schema")
        compact = full
        if schema is not None:
            compact = orjson.dumps({**head, **{k: v for k, v in payload.items() if k != "series"}}).decode()
        if len(_bodies) >= MAX_BODIES:
            _bodies.clear()
        found = _bodies[(topic, payload_id)] = (schema, full, compact)
    return found


class Hub:
    """Process-local fan-out, one per event loop: a single channel-layer channel joins every
    topic group this process's sockets follow, and each message is handed to those sockets
    directly — no per-socket queue, deserialisation or dispatch."""

    def __init__(self, layer: BaseChannelLayer) -> None:
        self.layer = layer
        self.members: dict[str, set[MetricsConsumer]] = {}
        self.lock = asyncio.Lock()
        self.channel: str | None = None
        self.task: asyncio.Task[None] | None = None

    async def join(self, topic: str, consumer: MetricsConsumer) -> None:
        async with self.lock:
            if self.channel is None:
                self.channel = await self.layer.new_channel("stream-hub.")
                self.task = asyncio.get_running_loop().create_task(self._pump())
            if topic not in self.members:
                await self.layer.group_add(topic_group(topic), self.channel)
                self.members[topic] = set()
            self.members[topic].add(consumer)

    async def leave(self, topic: str, consumer: MetricsConsumer) -> None:
        async with self.lock:
            members = self.members.get(topic)
            if members is None:
                return
            members.discard(consumer)
            if not members and self.channel is not None:
                del self.members[topic]
                await self.layer.group_discard(topic_group(topic), self.channel)

    async def _pump(self) -> None:
        assert self.channel is not None
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis away: the layer reconnects; keep pumping
                logger.warning("stream hub: receiving failed", exc_info=True)
                await asyncio.sleep(0.5)
                continue
            for consumer in tuple(self.members.get(message.get("topic"), ())):
                try:
                    await consumer.stream_message(message)
                except Exception:  # one closing socket must not starve the others
                    logger.debug("stream hub: a socket refused a frame", exc_info=True)


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def hub() -> Hub:
    loop = asyncio.get_running_loop()
    found = _hubs.get(loop)
    if found is None:
        found = _hubs[loop] = Hub(get_channel_layer())
    return found


def role_for_topic(topic: str) -> Role | None:
    if topic.startswith(SERIES_PREFIX):
        return Role.VIEWER if series_topic_problem(topic) is None else None
    return TOPIC_ROLES.get(topic)


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
        self.allowance = RATE_BURST
        self.checked = time.monotonic()
        self.strikes = 0
        self.encoder = Encoder()
        self.holding: dict[str, list[dict[str, Any]]] = {}
        self.dropped = 0
        self.backlog = self.scope.get("extensions", {}).get(BACKLOG_EXTENSION)
        self.role = await sync_to_async(role_of)(user)  # once per socket, not per subscribe
        await self.accept()
        import platform
        import socket

        # Off the shared sync thread: a slow probe must not hold up other sockets' work.
        components = await sync_to_async(health.snapshot, thread_sensitive=False)()
        await self.send_json(
            {
                "type": "initialData",
                "host": {"hostname": socket.gethostname(), "platform": platform.platform()},
                "components": components,
                "topics": sorted(TOPIC_ROLES),
            }
        )

    async def disconnect(self, code: int) -> None:
        for topic in getattr(self, "topics", set()):
            await self._leave(topic)

    async def _leave(self, topic: str) -> None:
        await hub().leave(topic, self)
        if topic.startswith(SERIES_PREFIX):
            await sync_to_async(watch_series)(topic, -1)

    async def send_json(self, message: dict[str, Any]) -> None:
        self.seq += 1
        message["seq"] = self.seq
        await self.send(text_data=orjson.dumps(message).decode())

    async def error(self, reason: str, **extra: Any) -> None:
        await self.send_json({"type": "error", "reason": reason, **extra})

    def _allowed(self) -> bool:
        now = time.monotonic()
        self.allowance = min(RATE_BURST, self.allowance + (now - self.checked) * RATE_PER_SECOND)
        self.checked = now
        if self.allowance < 1:
            return False
        self.allowance -= 1
        return True

    async def websocket_receive(self, message: dict[str, Any]) -> None:
        limit = message.get(OVERSIZE_EVENT)
        if limit is not None:  # our daphne discarded a message over its size limit
            await self.error(f"message larger than {limit} bytes: closing the socket", limit=limit)
            await self.close(code=CLOSE_TOO_BIG)
            return
        await super().websocket_receive(message)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not self._allowed():
            self.strikes += 1
            if self.strikes >= FLOOD_STRIKES:
                await self.close(code=CLOSE_FLOOD)
            elif self.strikes == 1:
                await self.error("rate limited: slow down")
            return
        raw = text_data if text_data is not None else (bytes_data or b"").decode(errors="replace")
        if len(raw) > MAX_FRAME_BYTES:
            await self.error(f"frame larger than {MAX_FRAME_BYTES} bytes")
            return
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError:
            await self.error("frame is not JSON")
            return
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "ping":
            await self.send_json({"type": "pong"})
            return
        if kind not in ("subscribe", "unsubscribe"):
            await self.error("unknown message type (use subscribe, unsubscribe or ping)")
            return
        topics = message.get("topics")
        if not isinstance(topics, list) or not all(isinstance(t, str) and len(t) <= 300 for t in topics):
            await self.error("topics must be a list of strings")
            return
        if kind == "subscribe":
            since = message.get("since")
            if since is not None and not (
                isinstance(since, dict) and all(isinstance(v, int) and not isinstance(v, bool) for v in since.values())
            ):
                await self.error("since must be an object of topic → the last id seen")
                return
            await self._subscribe(topics, message.get("last_seq"), since or {})
        else:
            for topic in topics:
                if topic in self.topics:
                    await self._leave(topic)
                    self.topics.discard(topic)
                    self.encoder.forget(topic)
            await self.send_json({"type": "unsubscribed", "topics": sorted(self.topics)})

    async def _subscribe(self, topics: list[str], last_seq: Any, since: dict[str, int]) -> None:
        """Subscribe to what may be read; everything refused is named in ONE error frame, and
        refused topics count against the cap like accepted ones (a frame naming 400 unknown
        topics costs one error, not 400)."""
        added: list[str] = []
        refused: dict[str, str] = {}
        for topic in topics:
            if topic in self.topics:
                continue
            if len(self.topics) + len(refused) >= MAX_TOPICS:
                refused[topic] = f"at most {MAX_TOPICS} topics per connection"
                break
            needed = role_for_topic(topic)
            if needed is None:
                problem = series_topic_problem(topic) if topic.startswith(SERIES_PREFIX) else None
                refused[topic] = f"unknown topic {topic!r}" + (f": {problem}" if problem else "")
                continue
            if ROLE_RANK[self.role] < ROLE_RANK[needed]:
                refused[topic] = f"your role may not read {topic!r}"
                continue
            # Live frames for this topic wait until the history below has been sent, so the
            # client sees them in order and once.
            self.holding[topic] = []
            await hub().join(topic, self)
            if topic.startswith(SERIES_PREFIX):
                await sync_to_async(watch_series)(topic, 1)
            self.topics.add(topic)
            added.append(topic)
        if refused:
            await self._refuse(refused)
        sent: set[tuple[str, int]] = set()
        try:
            await self.send_json({"type": "subscribed", "topics": sorted(self.topics)})
            resuming = {t: since[t] for t in added if t in since}
            replay, lost = await sync_to_async(missed_payloads)(resuming)
            if lost or (isinstance(last_seq, int) and last_seq > 0 and not resuming):
                # Frames sent to the old socket that history no longer holds: the client reloads what it shows.
                await self.send_json({"type": "resync", "last_seq": last_seq, "topics": sorted(lost or added)})
            for topic, payloads in replay.items():
                for payload in payloads:
                    await self._forward(topic, payload, replayed=True)
                    sent.add((topic, payload.get("id", 0)))
            fresh = [t for t in added if t not in replay]
            for topic, payload in (await sync_to_async(last_payloads)(fresh)).items():
                await self._forward(topic, payload, replayed=True)
                sent.add((topic, payload.get("id", 0)))
        finally:
            for topic in added:
                newest = max((payload_id for t, payload_id in sent if t == topic), default=0)
                for event in self.holding.pop(topic, []):
                    # Only what is newer than the history sent: a live frame published before the
                    # latest payload (already sent as the starting state) would arrive out of order.
                    if event["id"] > newest:
                        await self.stream_message(event)

    async def _refuse(self, refused: dict[str, str]) -> None:
        if len(refused) == 1:
            ((topic, reason),) = refused.items()
            await self.error(reason, topic=topic)
            return
        first = next(iter(refused.values()))
        await self.error(f"{len(refused)} topics refused (first: {first})", topics=refused)

    async def _forward(self, topic: str, payload: dict[str, Any], replayed: bool = False) -> None:
        frame = {"type": _type_of(topic), "topic": topic, **self.encoder.encode(topic, payload)}
        if replayed:
            frame["replayed"] = True
        await self.send_json(frame)

    async def stream_message(self, event: dict[str, Any]) -> None:
        held = self.holding.get(event["topic"])
        if held is not None:  # this topic's history is being sent: keep the live frame for after
            held.append(event)
            return
        if self.backlog is not None:
            waiting = self.backlog()
            if waiting > (BACKLOG_LOW if self.dropped else BACKLOG_HIGH):
                self.dropped += 1  # a slow client: drop, never buffer without limit
                return
            if self.dropped:
                await self.send_json({"type": "lagging", "dropped": self.dropped})
                self.dropped = 0
        topic = event["topic"]
        schema, full, compact = _bodies_for(topic, event["id"], event["raw"])
        body = full if self.encoder.needs_series(topic, schema) else compact
        self.seq += 1
        # The shared body with this socket's sequence number spliced in front.
        await self.send(text_data=f'{{"seq":{self.seq},{body[1:]}')


def _type_of(topic: str) -> str:
    return "series" if topic.startswith(SERIES_PREFIX) else topic

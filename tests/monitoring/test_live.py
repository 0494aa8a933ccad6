"""The live stream end to end: real ASGI app, real Redis channel layer, real Celery worker."""

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from accounts.models import ApiToken
from config.asgi import application
from lib.realtime import HISTORY, SERIES_TOPICS_KEY, broadcast, publish_samples, series_topic
from lib.redis import get_redis, key
from lib.streamcodec import Decoder
from tests.conftest import start_worker

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = [(b"origin", b"http://localhost")]


async def connect(raw_token: str) -> WebsocketCommunicator:
    socket = WebsocketCommunicator(application, f"/ws/metrics/?token={raw_token}", headers=ORIGIN)
    connected, _ = await socket.connect()
    assert connected
    hello = await socket.receive_json_from(timeout=10)
    assert hello["type"] == "initialData" and hello["seq"] == 1 and "database" in hello["components"]
    return socket


async def subscribe(socket: WebsocketCommunicator, *topics: str, **extra) -> dict:
    await socket.send_json_to({"type": "subscribe", "topics": list(topics), **extra})
    while True:
        reply = await socket.receive_json_from(timeout=10)
        if reply["type"] == "subscribed":
            return reply


async def drain(socket: WebsocketCommunicator) -> list[dict]:
    frames = []
    while not await socket.receive_nothing(timeout=0.3):
        frames.append(await socket.receive_json_from())
    return frames


@pytest.fixture
def token(viewer):
    return ApiToken.issue(viewer)[1]


def test_each_client_receives_only_its_topics_in_sequence(token):
    async def scenario():
        cpu = await connect(token)
        cache = await connect(token)
        await subscribe(cpu, "system-metrics")
        await subscribe(cache, "cache-metrics")
        await drain(cpu)
        await drain(cache)
        for i in range(20):
            await sync_to_async(broadcast)(
                "system-metrics", {"ts": i, "samples": [{"metric": "m", "labels": {}, "value": i}]}
            )
        frames = [await cpu.receive_json_from(timeout=5) for _ in range(20)]
        assert [f["samples"][0]["value"] for f in frames] == list(range(20))  # order kept
        seqs = [f["seq"] for f in frames]
        assert seqs == list(range(seqs[0], seqs[0] + 20))  # no gaps
        assert all(f["type"] == "system-metrics" for f in frames)
        assert await cache.receive_nothing(timeout=0.5)  # not subscribed: nothing
        await cpu.disconnect()
        await cache.disconnect()

    asyncio.run(scenario())


def test_a_new_subscriber_gets_the_latest_value_at_once_and_an_old_client_gets_resync(token):
    async def scenario():
        await sync_to_async(broadcast)(
            "network-metrics", {"ts": 1, "samples": [{"metric": "r", "labels": {}, "value": 7}]}
        )
        socket = await connect(token)
        await subscribe(socket, "network-metrics", last_seq=41)  # reconnecting, but no ids to resume from
        frames = await drain(socket)
        assert frames[0] == {"type": "resync", "last_seq": 41, "topics": ["network-metrics"], "seq": frames[0]["seq"]}
        assert frames[1]["replayed"] is True and frames[1]["samples"][0]["value"] == 7
        await socket.disconnect()

    asyncio.run(scenario())


def batch(value: float, hosts: tuple[str, ...] = ("a", "b")) -> list[dict]:
    return [{"metric": "cpu", "labels": {"host": h}, "value": value} for h in hosts]


def test_metric_batches_carry_their_labels_once_per_socket(token):
    async def scenario():
        socket = await connect(token)
        await subscribe(socket, "system-metrics")
        await drain(socket)
        for value in (1.0, 2.0):
            await sync_to_async(publish_samples)("system-metrics", time.time(), batch(value))
        first, second = [await socket.receive_json_from(timeout=5) for _ in range(2)]
        assert first["series"] == [["cpu", {"host": "a"}], ["cpu", {"host": "b"}]] and first["values"] == [1.0, 1.0]
        assert "series" not in second and second["values"] == [2.0, 2.0] and second["schema"] == first["schema"]
        await sync_to_async(publish_samples)("system-metrics", time.time(), batch(3.0, ("a", "b", "c")))
        changed = await socket.receive_json_from(timeout=5)
        assert len(changed["series"]) == 3  # new series: the schema travels again
        decoder = Decoder()
        assert [decoder.decode(f)["samples"][0]["value"] for f in (first, second, changed)] == [1.0, 2.0, 3.0]
        # Leaving and rejoining a topic starts it with the schema again.
        await socket.send_json_to({"type": "unsubscribe", "topics": ["system-metrics"]})
        await subscribe(socket, "system-metrics")
        (replayed,) = await drain(socket)
        assert replayed["replayed"] is True and len(replayed["series"]) == 3
        await socket.disconnect()

    asyncio.run(scenario())


def test_a_reconnecting_client_gets_what_it_missed_or_resync_when_history_is_gone(token):
    async def scenario():
        socket = await connect(token)
        await subscribe(socket, "cache-metrics")
        await drain(socket)
        await sync_to_async(publish_samples)("cache-metrics", time.time(), batch(0.0))
        seen = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        for value in (1.0, 2.0, 3.0):  # published while the client was away
            await sync_to_async(publish_samples)("cache-metrics", time.time(), batch(value))

        again = await connect(token)
        await subscribe(again, "cache-metrics", last_seq=seen["seq"], since={"cache-metrics": seen["id"]})
        frames = await drain(again)
        assert [f["type"] for f in frames] == ["cache-metrics"] * 3  # no resync: nothing was lost
        decoder = Decoder()
        assert [decoder.decode(f)["samples"][0]["value"] for f in frames] == [1.0, 2.0, 3.0]
        assert all(f["replayed"] for f in frames)
        await again.disconnect()

        for value in range(HISTORY + 1):  # the history rolls past what the client saw
            await sync_to_async(broadcast)("cache-metrics", {"ts": value, "samples": []})
        late = await connect(token)
        await subscribe(late, "cache-metrics", last_seq=9, since={"cache-metrics": frames[-1]["id"]})
        frames = await drain(late)
        assert frames[0]["type"] == "resync" and frames[0]["topics"] == ["cache-metrics"]
        assert frames[1]["replayed"] is True and frames[1]["ts"] == HISTORY  # then the latest value
        await late.send_json_to({"type": "subscribe", "topics": ["alert"], "since": ["nope"]})
        assert "since must be" in (await late.receive_json_from(timeout=5))["reason"]
        await late.disconnect()

    asyncio.run(scenario())


def test_frames_published_during_a_resume_arrive_once_and_in_order(token):
    import threading

    async def scenario():
        socket = await connect(token)
        await subscribe(socket, "network-metrics")
        await drain(socket)
        await sync_to_async(publish_samples)("network-metrics", time.time(), batch(-1.0))
        seen = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        for value in range(20):  # missed while away
            await sync_to_async(publish_samples)("network-metrics", time.time(), batch(float(value)))

        stop = threading.Event()

        def keep_publishing() -> None:  # and more keep coming while the client resumes
            value = 20
            while not stop.is_set() and value < 400:
                publish_samples("network-metrics", time.time(), batch(float(value)))
                value += 1
                time.sleep(0.002)

        publisher = threading.Thread(target=keep_publishing)
        again = await connect(token)
        publisher.start()
        await subscribe(again, "network-metrics", last_seq=seen["seq"], since={"network-metrics": seen["id"]})
        await asyncio.sleep(0.5)
        stop.set()
        await sync_to_async(publisher.join)()
        frames = [f for f in await drain(again) if f["type"] == "network-metrics"]
        ids = [f["id"] for f in frames]
        assert ids == sorted(set(ids))  # every frame once, oldest first
        decoder = Decoder()
        values = [decoder.decode(f)["samples"][0]["value"] for f in frames]
        assert values == [float(v) for v in range(len(values))]  # from the first missed one, no gap
        await again.disconnect()

    asyncio.run(scenario())


def test_single_series_topics_carry_points_only_for_watched_series(token):
    async def scenario():
        socket = await connect(token)
        topic = series_topic("latency_ms", {"host": "a"})
        await subscribe(socket, topic)
        await drain(socket)
        samples = [
            {"metric": "latency_ms", "labels": {"host": "a"}, "value": 1.5},
            {"metric": "latency_ms", "labels": {"host": "b"}, "value": 9.0},
        ]
        await sync_to_async(publish_samples)("basic-metrics", time.time(), samples)
        frame = await socket.receive_json_from(timeout=5)
        assert frame["type"] == "series" and frame["topic"] == topic and frame["points"][0][1] == 1.5
        assert await socket.receive_nothing(timeout=0.5)
        await socket.send_json_to({"type": "unsubscribe", "topics": [topic]})
        assert (await socket.receive_json_from(timeout=5))["topics"] == []
        await socket.disconnect()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "topic",
    [
        "series:",
        "series:cpu",
        "series:9cpu{}",
        "series:cpu{host=a,host=b}",
        "series:cpu{zone=x,host=a}",  # keys out of order: no producer spells it so
        "series:cpu{bad-name=a}",
        "series:cpu{host}",
    ],
)
def test_a_malformed_series_topic_gets_one_error_frame_and_leaves_nothing_in_redis(token, topic):
    async def scenario():
        socket = await connect(token)
        await socket.send_json_to({"type": "subscribe", "topics": [topic]})
        frames = await drain(socket)
        errors = [f for f in frames if f["type"] == "error"]
        assert len(errors) == 1 and "unknown topic" in errors[0]["reason"] and errors[0]["topic"] == topic
        assert [f["topics"] for f in frames if f["type"] == "subscribed"] == [[]]
        await socket.disconnect()

    asyncio.run(scenario())
    assert not get_redis().hexists(key(SERIES_TOPICS_KEY), topic)


def test_a_series_topic_nobody_watches_any_more_leaves_no_field_in_redis(token):
    topic = series_topic("latency_ms", {"host": "cleanup", "zone": "z,1"})

    async def scenario():
        first, second = await connect(token), await connect(token)
        await subscribe(first, topic)
        await subscribe(second, topic)
        assert int(await sync_to_async(get_redis().hget)(key(SERIES_TOPICS_KEY), topic)) == 2
        await first.send_json_to({"type": "unsubscribe", "topics": [topic]})
        assert (await first.receive_json_from(timeout=5))["topics"] == []
        assert int(await sync_to_async(get_redis().hget)(key(SERIES_TOPICS_KEY), topic)) == 1
        await second.disconnect()  # the last watcher goes away without unsubscribing
        await first.disconnect()

    asyncio.run(scenario())
    assert not get_redis().hexists(key(SERIES_TOPICS_KEY), topic)


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("not json", "not JSON"),
        ('{"type": "dance"}', "unknown message type"),
        ('{"type": "subscribe", "topics": "system-metrics"}', "list of strings"),
        ('{"type": "subscribe", "topics": ["no-such-topic"]}', "unknown topic"),
        ('["subscribe"]', "unknown message type"),
        ('{"type": "subscribe", "topics": ["' + "x" * 20000 + '"]}', "larger than"),
        ('{"type": "subscribe", "topics": [1, null]}', "list of strings"),
        ('{"type": "subscribe", "topics": ["alert"], "since": {"alert": "yesterday"}}', "since must be"),
        ("[" * 5000 + "]" * 5000, "not JSON"),  # nesting deeper than the parser allows
        ('{"type": null}', "unknown message type"),
    ],
)
def test_bad_frames_get_an_error_frame_and_the_socket_stays_open(token, frame, reason):
    async def scenario():
        socket = await connect(token)
        await socket.send_to(text_data=frame)
        error = await socket.receive_json_from(timeout=5)
        assert error["type"] == "error" and reason in error["reason"]
        await socket.send_json_to({"type": "ping"})
        kinds = [f["type"] for f in await drain(socket)]
        assert kinds[-1] == "pong"  # still open and answering
        await socket.disconnect()

    asyncio.run(scenario())


def test_binary_garbage_gets_an_error_frame(token):
    async def scenario():
        socket = await connect(token)
        await socket.send_to(bytes_data=b"\xff\xfe\x00garbage")
        assert (await socket.receive_json_from(timeout=5))["reason"] == "frame is not JSON"
        await socket.disconnect()

    asyncio.run(scenario())


def test_a_long_running_connection_keeps_order_and_integrity(token):
    async def scenario():
        socket = await connect(token)
        await subscribe(socket, "database-metrics")
        decoder, received = Decoder(), []
        for replayed in await drain(socket):  # the latest frame, which may carry the schema
            decoder.decode(replayed)
        for tick in range(400):
            hosts = ("a", "b", "c")[: 1 + tick // 100 % 3]  # the set of series changes now and then
            await sync_to_async(publish_samples)("database-metrics", float(tick), batch(float(tick), hosts))
            if tick % 50 == 49:  # read as we go, like a browser
                received += [await socket.receive_json_from(timeout=5) for _ in range(50)]
        seqs = [f["seq"] for f in received]
        assert seqs == list(range(seqs[0], seqs[0] + 400))
        decoded = [decoder.decode(f) for f in received]
        assert [d["ts"] for d in decoded] == [float(t) for t in range(400)]
        assert all(s["value"] == d["ts"] for d in decoded for s in d["samples"])
        assert [len(d["samples"]) for d in decoded[::100]] == [1, 2, 3, 1]
        with_labels = {i for i, f in enumerate(received) if "series" in f}
        assert {100, 200, 300} <= with_labels <= {0, 100, 200, 300}  # labels travel only when they change
        await socket.disconnect()

    asyncio.run(scenario())


def test_a_flood_is_throttled_then_closed(token):
    async def scenario():
        socket = await connect(token)
        for _ in range(200):
            await socket.send_json_to({"type": "ping"})
        frames, closed = [], None
        for _ in range(200):
            output = await socket.receive_output(timeout=5)
            if output["type"] == "websocket.close":
                closed = output["code"]
                break
            frames.append(output)
        assert closed == 4429
        assert any("rate limited" in f.get("text", "") for f in frames)

    asyncio.run(scenario())


@pytest.mark.slow
def test_a_real_worker_collection_reaches_a_real_socket_through_redis(token):
    from monitoring.tasks import collect

    async def scenario():
        socket = await connect(token)
        await subscribe(socket, "system-metrics")
        await drain(socket)
        await sync_to_async(collect.delay)("fast")
        frame = Decoder().decode(await socket.receive_json_from(timeout=30))
        assert frame["type"] == "system-metrics"
        names = {s["metric"] for s in frame["samples"]}
        assert "system_cpu_percent" in names and "system_memory_used_percent" in names
        await socket.disconnect()

    worker = start_worker("stream-worker")
    try:
        asyncio.run(scenario())
    finally:
        worker.stop()


def test_a_user_without_a_role_gets_one_error_frame_naming_every_refused_topic(outsider):
    raw = ApiToken.issue(outsider)[1]

    async def scenario():
        socket = await connect(raw)
        await socket.send_json_to({"type": "subscribe", "topics": ["system-metrics", "alert"]})
        frames = await drain(socket)
        refused = [f for f in frames if f["type"] == "error"]
        assert len(refused) == 1 and list(refused[0]["topics"]) == ["system-metrics", "alert"]
        assert "may not read" in refused[0]["topics"]["alert"]
        assert next(f for f in frames if f["type"] == "subscribed")["topics"] == []
        await sync_to_async(broadcast)("system-metrics", {"ts": 1, "samples": []})
        assert await socket.receive_nothing(timeout=0.5)
        await socket.disconnect()

    asyncio.run(scenario())

"""The stream on our daphne (config.daphne_server): slow clients and compression."""

import asyncio
import base64
import os
import socket
import struct
import time

import aiohttp
import orjson
import pytest

from accounts.models import ApiToken
from lib.realtime import broadcast
from tests.conftest import free_port, start_daphne

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


class RawClient:
    """A WebSocket client over a plain socket with a tiny receive buffer, that reads only when
    told to — a client on a slow link."""

    def __init__(self, port: int, token: str) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect(("127.0.0.1", port))
        self.sock.settimeout(10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET /ws/metrics/?token={token} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                "Origin: http://localhost\r\n\r\n"
            ).encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.sock.recv(4096)
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def _take(self, size: int) -> bytes:
        while len(self.buffer) < size:
            chunk = self.sock.recv(65536)
            assert chunk, "server closed the connection"
            self.buffer += chunk
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def receive(self) -> dict:
        first, second = self._take(2)
        size = second & 0x7F
        if size == 126:
            (size,) = struct.unpack(">H", self._take(2))
        elif size == 127:
            (size,) = struct.unpack(">Q", self._take(8))
        assert first & 0x0F == 1, f"opcode {first & 0x0F}"
        return orjson.loads(self._take(size))

    def send(self, message: dict) -> None:
        payload, mask = orjson.dumps(message), os.urandom(4)
        header = (
            bytes([0x81, 0x80 | 126]) + struct.pack(">H", len(payload))
            if len(payload) > 125
            else bytes([0x81, 0x80 | len(payload)])
        )
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


@pytest.fixture
def token(viewer):
    return ApiToken.issue(viewer)[1]


def test_a_client_that_stops_reading_has_frames_dropped_and_counted_then_gets_lagging(token):
    port = free_port()
    server = start_daphne(port)
    try:
        client = RawClient(port, token)
        assert client.receive()["type"] == "initialData"
        topic = f"series:lagging_test{{run={os.getpid()}.{time.monotonic_ns()}}}"  # no other producer
        client.send({"type": "subscribe", "topics": [topic]})
        assert client.receive()["type"] == "subscribed"
        noise = [{"metric": "m", "labels": {"i": str(i)}, "value": i * 1.000001} for i in range(3000)]
        published = 300  # ~30 MB: far more than the kernel's socket buffers hold
        for n in range(published):
            broadcast(topic, {"ts": n, "samples": noise})
        time.sleep(1)  # let the server push what it can while nobody reads
        received, seqs, lagging, deadline = [], [], None, time.monotonic() + 60
        while lagging is None and time.monotonic() < deadline:
            try:
                frame = client.receive()
            except TimeoutError:
                broadcast(topic, {"ts": -1, "samples": []})  # the next frame brings the notice
                continue
            seqs.append(frame["seq"])
            if frame["type"] == "lagging":
                lagging = frame
            elif frame["ts"] >= 0:  # not one of the nudges above
                received.append(frame)
        assert lagging is not None, "no lagging notice"
        assert lagging["dropped"] > 0 and len(received) + lagging["dropped"] == published  # nothing lost silently
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # what was sent has no gaps
        assert [f["ts"] for f in received] == sorted(f["ts"] for f in received)
    finally:
        server.stop()


def test_permessage_deflate_is_negotiated_and_can_be_turned_off(token):
    async def compress_offered(port: int) -> tuple[int, str]:
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{port}/ws/metrics/?token={token}"
            async with session.ws_connect(url, compress=15, headers={"Origin": "http://localhost"}) as ws:
                hello = await ws.receive_json(timeout=10)
                return ws.compress, hello["type"]

    for setting, expected in (("1", 15), ("0", 0)):
        port = free_port()
        server = start_daphne(port, STREAM_COMPRESSION=setting)
        try:
            assert asyncio.run(compress_offered(port)) == (expected, "initialData")
        finally:
            server.stop()


def test_one_frame_of_many_bad_topics_gets_one_error_and_an_oversized_one_a_1009_close(token):
    async def scenario(port: int) -> None:
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{port}/ws/metrics/?token={token}"
            async with session.ws_connect(url, headers={"Origin": "http://localhost"}) as ws:
                assert (await ws.receive_json(timeout=10))["type"] == "initialData"
                await ws.send_json({"type": "subscribe", "topics": [f"no-such-topic-{i}" for i in range(400)]})
                await ws.send_json({"type": "ping"})
                frames = []
                while not frames or frames[-1]["type"] != "pong":
                    frames.append(await ws.receive_json(timeout=10))
                errors = [frame for frame in frames if frame["type"] == "error"]
                assert len(errors) == 1
                # The cap counts refused topics: the 101st is refused for the cap, the rest unread.
                assert len(errors[0]["topics"]) == 101
                assert errors[0]["topics"]["no-such-topic-100"] == "at most 100 topics per connection"

                await ws.send_str('{"type": "subscribe", "topics": ["' + "x" * (1024 * 1024) + '"]}')
                error = await ws.receive_json(timeout=10)
                assert error["type"] == "error" and "larger than 1048576 bytes" in error["reason"]
                assert error["seq"] == frames[-1]["seq"] + 1  # in sequence with everything else
                closing = await ws.receive(timeout=10)
                assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == 1009

    port = free_port()
    server = start_daphne(port)
    try:
        asyncio.run(scenario(port))
    finally:
        server.stop()

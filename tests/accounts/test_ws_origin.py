"""Cross-site WebSocket hijacking: cookie sockets must come from our pages; token sockets need no Origin."""

import asyncio

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client, override_settings

from accounts.models import ApiToken
from config.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)
OURS = (b"origin", b"http://localhost")
FOREIGN = (b"origin", b"https://evil.example")


def session_cookie(user) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


async def opened(path: str, headers: list[tuple[bytes, bytes]]) -> str:
    """'initialData' when the stream greets the socket, else how it ended."""
    socket = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await socket.connect()
    if not connected:
        return f"refused {code}"
    frame = await socket.receive_output(timeout=10)
    await socket.disconnect()
    if frame["type"] == "websocket.close":
        return f"closed {frame.get('code')}"
    return "initialData" if '"initialData"' in frame.get("text", "") else frame.get("text", "")


@override_settings(ALLOWED_HOSTS=["localhost"])
def test_a_token_socket_needs_no_origin(viewer):
    token = ApiToken.issue(viewer)[1]
    assert asyncio.run(opened(f"/ws/metrics/?token={token}", [])) == "initialData"


@override_settings(ALLOWED_HOSTS=["localhost"])
def test_a_session_socket_must_send_an_origin_of_ours(viewer):
    cookie = session_cookie(viewer)
    assert asyncio.run(opened("/ws/metrics/", [cookie, OURS])) == "initialData"
    assert asyncio.run(opened("/ws/metrics/", [cookie])).startswith("refused")
    assert asyncio.run(opened("/ws/metrics/", [cookie, FOREIGN])).startswith("refused")


@override_settings(ALLOWED_HOSTS=["localhost"])
def test_a_foreign_page_cannot_pair_a_bogus_token_with_the_visitors_session(viewer):
    cookie = session_cookie(viewer)
    # The cookie is dropped for token sockets: the bogus token alone decides, and it is anonymous.
    assert asyncio.run(opened("/ws/metrics/?token=not-a-token", [cookie, FOREIGN])) == "closed 4401"

"""daphne, exactly as ``python -m daphne``, plus what the live stream needs from the server.

- ``scope["extensions"]["seismo.backlog"]``: a callable giving the bytes still waiting to be
  written to this WebSocket. Twisted buffers whatever a slow client does not read, without
  limit; with this the stream consumer drops frames for such a client and tells it
  (``lagging``) instead of growing the process.
- permessage-deflate (RFC 7692), negotiated when the client offers it — browsers always do.
  ``STREAM_COMPRESSION=0`` turns it off.
- A message over the size limit (1 MiB) is discarded unread and the application is told
  (``lib.wsevents.OVERSIZE_EVENT``), so the client gets an ``error`` frame and a close with
  1009 instead of a dropped TCP connection (autobahn's default, seen as 1006).

- POST bodies are not parsed for form fields by twisted (see ``StreamWebRequest``).

Usage: ``python -m config.daphne_server <daphne arguments>`` (the launcher does this).
"""

from __future__ import annotations

import functools
from typing import Any

import daphne.http_protocol
import daphne.server
from autobahn.websocket.compress import PerMessageDeflateOffer, PerMessageDeflateOfferAccept
from daphne.cli import CommandLineInterface
from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol
from django.conf import settings

from lib.wsevents import BACKLOG_EXTENSION, CLOSE_TOO_BIG, OVERSIZE_EVENT


def pending_bytes(protocol: Any) -> int:
    """Bytes queued in the protocol's Twisted transport and not yet taken by the kernel."""
    transport = getattr(protocol, "transport", None)
    try:
        return len(transport.dataBuffer) - transport.offset + transport._tempDataLen  # type: ignore[union-attr]
    except AttributeError:  # another kind of transport: no backpressure signal
        return 0


def accept_deflate(offers: list[Any]) -> PerMessageDeflateOfferAccept | None:
    for offer in offers:
        if isinstance(offer, PerMessageDeflateOffer):
            return PerMessageDeflateOfferAccept(offer)
    return None


def compression_enabled() -> bool:
    return settings.STREAM_COMPRESSION


class StreamWebSocketProtocol(WebSocketProtocol):
    def _max_message_size_exceeded(self, msg_size: int, max_msg_size: int, reason: str) -> None:
        queue = getattr(self, "application_queue", None)
        if queue is None or self.failedByMe:
            super()._max_message_size_exceeded(msg_size, max_msg_size, reason)
            return
        # failedByMe makes autobahn ignore the rest of this message; the application then
        # sends its error frame and closes the socket with 1009 itself.
        self.failedByMe = True
        queue.put_nowait({"type": "websocket.receive", "text": None, OVERSIZE_EVENT: max_msg_size})

    def serverClose(self, code: int | None = None) -> None:  # noqa: N802 (daphne's name)
        if code == CLOSE_TOO_BIG and self.state == self.STATE_OPEN:
            # autobahn lets applications close only with 1000 or 3000-4999; 1009 is the
            # protocol's own "message too big", which this server means here.
            self.sendCloseFrame(code=CLOSE_TOO_BIG, reasonUtf8=b"message too big", isReply=False)
            return
        super().serverClose(code=code)


class StreamWebSocketFactory(WebSocketFactory):
    protocol = StreamWebSocketProtocol

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if compression_enabled():
            self.setProtocolOptions(perMessageCompressionAccept=accept_deflate)


class StreamWebRequest(daphne.http_protocol.WebRequest):
    """daphne hands a request's body to the application as it came: twisted's own parse of a
    POST's Content-Type (through the email package) and form fields serves no one: under the
    remote-write bench it took 8 % of a web process's time, a third of what the door itself took."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._parsePOSTFormSubmission = False


class StreamServer(daphne.server.Server):
    def create_application(self, protocol: Any, scope: dict[str, Any]) -> Any:
        if scope.get("type") == "websocket":
            extensions = {**scope.get("extensions", {}), BACKLOG_EXTENSION: functools.partial(pending_bytes, protocol)}
            scope = {**scope, "extensions": extensions}
        return super().create_application(protocol, scope)


class StreamCommandLine(CommandLineInterface):
    server_class = StreamServer


def main() -> None:
    daphne.server.WebSocketFactory = StreamWebSocketFactory  # Server.run builds its factory by this name
    daphne.http_protocol.WebRequest = StreamWebRequest  # HTTPFactory.buildProtocol uses this name
    StreamCommandLine.entrypoint()


if __name__ == "__main__":
    main()

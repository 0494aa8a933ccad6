"""Seismo's own ASGI WebSocket extensions, shared by our daphne (config.daphne_server) and the
stream consumer (monitoring.consumers).

- ``scope["extensions"][BACKLOG_EXTENSION]``: a callable giving the bytes still waiting to be
  written to the socket.
- A ``websocket.receive`` event carrying ``OVERSIZE_EVENT: <limit in bytes>`` (and no text):
  the client sent a message over the server's limit, which was discarded unread; the
  application answers with an ``error`` frame and closes with ``CLOSE_TOO_BIG``.
"""

from __future__ import annotations

BACKLOG_EXTENSION = "seismo.backlog"
OVERSIZE_EVENT = "seismo.oversize"
CLOSE_TOO_BIG = 1009  # RFC 6455 "message too big"
MAX_MESSAGE_BYTES = 1024 * 1024  # daphne's websocket_max_message_size default

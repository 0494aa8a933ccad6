"""Loopback HTTP stand-ins for outbound tests: how every test starts one (``QuietHandler`` and
``serve``), one that records what reached it, one that redirects."""

from __future__ import annotations

import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that keeps the test output clean and answers in one call."""

    def reply(self, status: int, body: bytes = b"ok", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def serve(
    handler: type[BaseHTTPRequestHandler], host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None
) -> ThreadingHTTPServer:
    """``handler`` served on ``host`` (any free port by default, over TLS with ``tls``) from a
    daemon thread."""
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class Stand:
    """A loopback HTTP server recording each request's path and Host header (and, serving TLS
    with ``tls``, the name each client asked for in its handshake's SNI)."""

    def __init__(
        self, host: str, port: int = 0, redirect_to: str | None = None, tls: ssl.SSLContext | None = None
    ) -> None:
        self.requests: list[tuple[str, str]] = []
        self.server_names: list[str | None] = []
        stand = self

        class Handler(QuietHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                stand.requests.append((self.path, self.headers.get("Host", "")))
                if redirect_to:
                    self.reply(302, headers={"Location": redirect_to})
                else:
                    self.reply(200)

            do_GET = do_POST = _answer  # noqa: N815

        if tls is not None:
            tls.sni_callback = lambda _sock, name, _ctx: self.server_names.append(name)
        self.server = serve(Handler, host, port, tls)
        self.port = self.server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://{host}:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

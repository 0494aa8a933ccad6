"""Loopback stand-ins for what checks watch: an HTTP target that changes its answers, a
refusing address that records whoever connects, a TCP listener with a banner, a TLS server
with a self-signed certificate made here, and a small DNS server (dnspython)."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from tests.alerts.conftest import Receiver, receiver, smtp_sink  # noqa: F401 (shared stand-ins)
from tests.stands import QuietHandler, self_signed, serve


class Target:
    """``mode``: ok | error | slow | nokeyword | redirect_refused | redirect_ok | hang."""

    def __init__(self, refused_url: str = "") -> None:
        self.mode = "ok"
        self.hits = 0
        self.slow_seconds = 0.4
        self.refused_url = refused_url
        target = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                target.hits += 1
                mode = target.mode
                if mode == "hang":
                    time.sleep(30)
                    return
                if mode == "slow":
                    time.sleep(target.slow_seconds)
                if mode == "redirect_refused" and self.path != "/final":
                    self._send(302, b"", {"Location": target.refused_url})
                elif mode == "redirect_ok" and self.path != "/final":
                    self._send(302, b"", {"Location": "/final"})
                elif mode == "error":
                    self._send(500, b"boom")
                elif mode == "nokeyword":
                    self._send(200, json.dumps({"status": "red"}).encode())
                else:
                    self._send(200, json.dumps({"status": "green", "text": "all ok"}).encode())

            def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.reply(status, body, {**(headers or {}), "Content-Type": "application/json"})

            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def do_HEAD(self) -> None:
                self._answer()

        self.server = serve(Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Acceptor:
    """A listening loopback socket whose connections a daemon thread hands to ``handle``."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.stopped = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.handle(conn)

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.stopped = True
        self.sock.close()


class Listener(Acceptor):
    """A TCP listener that accepts, records the connection, sends ``banner`` and closes."""

    def __init__(self, host: str = "127.0.0.1", banner: bytes = b"") -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, 0))
        sock.listen(64)
        self.host, self.port = host, sock.getsockname()[1]
        self.banner = banner
        self.connections = 0
        super().__init__(sock)

    def handle(self, conn: socket.socket) -> None:
        self.connections += 1
        try:
            if self.banner:
                conn.sendall(self.banner)
        finally:
            conn.close()


class TLSServer(Acceptor):
    def __init__(self, tmp: Path, days: float) -> None:
        cert, key = self_signed(tmp, days)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        self.port = sock.getsockname()[1]
        super().__init__(sock)

    def handle(self, conn: socket.socket) -> None:
        try:
            with self.context.wrap_socket(conn, server_side=True) as tls:
                tls.settimeout(2)
                with contextlib.suppress(OSError, ssl.SSLError):
                    tls.recv(1)
        except (OSError, ssl.SSLError):
            pass


class DNSServer:
    """Answers A/TXT queries for names in ``records`` over UDP on loopback; NXDOMAIN otherwise."""

    def __init__(self, records: dict[tuple[str, str], list[str]]) -> None:
        self.records = records
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.queries = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            self.queries += 1
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text().rstrip(".")
            kind = dns.rdatatype.to_text(question.rdtype)
            answers = self.records.get((name, kind))
            if answers is None:
                response.set_rcode(dns.rcode.NXDOMAIN)
            else:
                response.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", kind, answers))
            self.sock.sendto(response.to_wire(), peer)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def allow_loopback(settings) -> None:
    """Checks may reach 127.0.0.1 only (127.0.0.2 stays refused)."""
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1"]


@pytest.fixture
def refused() -> Iterator[Listener]:
    listener = Listener("127.0.0.2")
    yield listener
    listener.close()


@pytest.fixture
def target(refused: Listener) -> Iterator[Target]:
    stand_in = Target(refused_url=f"http://127.0.0.2:{refused.port}/final")
    yield stand_in
    stand_in.server.shutdown()


@pytest.fixture
def dns_server() -> Iterator[DNSServer]:
    server = DNSServer({("svc.example.test", "A"): ["192.0.2.10"], ("svc.example.test", "TXT"): ['"v=ok"']})
    yield server
    server.close()

"""Loopback HTTP stand-ins for outbound tests: how every test starts one (``QuietHandler`` and
``serve``), one that records what reached it, one that redirects; and the self-signed
certificates TLS stand-ins serve."""

from __future__ import annotations

import datetime as dt
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


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


def self_signed(path: Path, days: float, hostname: str = "localhost", ca: bool = False) -> tuple[Path, Path]:
    """A certificate naming only ``hostname``, valid from ten days ago until ``days`` from now
    (negative: expired), and its key: PEM files ``cert.pem`` and ``key.pem`` under ``path``.
    ``ca`` marks it a CA, so a client can trust it as its own anchor."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=10))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
    )
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    cert = builder.sign(key, hashes.SHA256())
    cert_path, key_path = path / "cert.pem", path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path

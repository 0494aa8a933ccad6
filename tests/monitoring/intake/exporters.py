"""Real outside programs on loopback for the doors' tests: node_exporter, and a recording
relay in front of it (so a test knows exactly which body Seismo was served)."""

from __future__ import annotations

import http.server
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import Process, child_env, free_port, wait_until

NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
PROMETHEUS = "/usr/bin/prometheus"
NEEDS_NODE_EXPORTER = pytest.mark.skipif(not Path(NODE_EXPORTER).exists(), reason="prometheus-node-exporter missing")
NEEDS_PROMETHEUS = pytest.mark.skipif(not Path(PROMETHEUS).exists(), reason="prometheus missing")


def _wait_ready(process: Process, url: str, timeout: float) -> None:
    """Wait until ``url`` answers 200 (failing the test with the process's output if it died)."""

    def ready() -> bool:
        try:
            return urllib.request.urlopen(url, timeout=2).status == 200
        except OSError:
            return not process.alive()

    wait_until(ready, timeout=timeout)
    assert process.alive(), process.output()


def start_node_exporter(port: int | None = None) -> tuple[Process, int]:
    port = port or free_port()
    process = Process(
        f"node-exporter-{port}",
        [
            NODE_EXPORTER,
            f"--web.listen-address=127.0.0.1:{port}",
            "--collector.disable-defaults",
            "--collector.loadavg",
            "--collector.cpu",
            "--collector.meminfo",
            "--collector.filesystem",
        ],
        child_env(),
    )

    _wait_ready(process, f"http://127.0.0.1:{port}/metrics", timeout=20)
    return process, port


class _Relay(http.server.BaseHTTPRequestHandler):
    upstream = ""
    bodies: list[bytes]
    status = 200
    body_override: bytes | None = None

    def do_GET(self) -> None:
        if self.server.body_override is not None:  # type: ignore[attr-defined]
            body = self.server.body_override  # type: ignore[attr-defined]
            content_type = "text/plain; version=0.0.4"
        else:
            try:
                with urllib.request.urlopen(self.server.upstream + self.path, timeout=5) as response:  # type: ignore[attr-defined]
                    body = response.read()
                    content_type = response.headers.get("Content-Type", "text/plain")
            except OSError as exc:
                self.send_error(502, str(exc))
                return
        self.server.bodies.append(body)  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def relay(upstream: str = "", body: bytes | None = None) -> Iterator[tuple[str, list[bytes]]]:
    """A loopback HTTP server answering GETs with ``upstream``'s answer (or ``body``), keeping
    each body it served."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Relay)
    server.upstream = upstream  # type: ignore[attr-defined]
    server.bodies = []  # type: ignore[attr-defined]
    server.body_override = body  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.bodies  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


def start_prometheus(
    tmp_path: Path, scrape_target: str, remote_write: str | None = None, token: str = ""
) -> tuple[Process, int]:
    """A real Prometheus on loopback scraping ``scrape_target`` every second (and remote-writing)."""
    port = free_port()
    config = [
        "global:",
        "  scrape_interval: 1s",
        "  scrape_timeout: 1s",
        "scrape_configs:",
        "  - job_name: node",
        "    static_configs:",
        f"      - targets: ['{scrape_target}']",
    ]
    if remote_write:
        config += [
            "remote_write:",
            f"  - url: {remote_write}",
            "    authorization:",
            f"      credentials: {token}",
            "    queue_config:",
            "      batch_send_deadline: 1s",
            "      min_backoff: 200ms",
            "      max_backoff: 1s",
        ]
    (tmp_path / "prometheus.yml").write_text("\n".join(config) + "\n")
    process = Process(
        f"prometheus-{port}",
        [
            PROMETHEUS,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=info",
        ],
        child_env(),
    )

    _wait_ready(process, f"http://127.0.0.1:{port}/-/ready", timeout=30)
    return process, port

"""Each probe against a real loopback server: what a user sees as the result and its reason."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from checks.probes import Spec
from checks.scheduler import run_probe
from tests.checks.conftest import DNSServer, Listener, Target, TLSServer

pytestmark = pytest.mark.usefixtures("allow_loopback")


def probe(
    kind: str,
    target: str,
    expect: dict[str, Any] | None = None,
    request: dict[str, Any] | None = None,
    timeout: float = 3,
):
    result, _ = asyncio.run(run_probe(Spec(1, kind, target, timeout, expect or {}), request or {}))
    return result


def test_http_up_reports_status_and_duration(target: Target) -> None:
    result = probe(
        "http",
        target.url + "/",
        {"status": [200], "keyword": "all ok", "json": {"path": "$.status", "equals": "green"}},
    )
    assert result.ok, result.reason
    assert result.status_code == 200
    assert result.duration > 0


def test_http_500_fails_naming_the_status(target: Target) -> None:
    target.mode = "error"
    result = probe("http", target.url + "/")
    assert not result.ok
    assert result.status_code == 500
    assert "status 500" in result.reason


def test_http_status_classes_and_sets(target: Target) -> None:
    target.mode = "error"
    assert probe("http", target.url + "/", {"status": ["5xx"]}).ok
    assert not probe("http", target.url + "/", {"status": [200, 204]}).ok


def test_http_missing_keyword_and_json_mismatch_fail(target: Target) -> None:
    target.mode = "nokeyword"
    missing = probe("http", target.url + "/", {"keyword": "all ok"})
    assert not missing.ok and "keyword 'all ok' missing" in missing.reason
    json_bad = probe("http", target.url + "/", {"json": {"path": "$.status", "equals": "green"}})
    assert not json_bad.ok and '"red"' in json_bad.reason
    nothing = probe("http", target.url + "/", {"json": {"path": "$.nope"}})
    assert not nothing.ok and "matched nothing" in nothing.reason
    present = probe("http", target.url + "/", {"keyword_absent": "red"})
    assert not present.ok and "present" in present.reason


def test_http_slow_answer_times_out(target: Target) -> None:
    target.mode = "slow"
    target.slow_seconds = 2.0
    result = probe("http", target.url + "/", timeout=0.5)
    assert not result.ok
    assert "timed out" in result.reason


def test_http_redirect_to_a_refused_address_is_not_followed(target: Target, refused: Listener) -> None:
    target.mode = "redirect_refused"
    result = probe("http", target.url + "/")
    assert not result.ok
    assert "redirect target refused" in result.reason and "127.0.0.2" in result.reason
    assert refused.connections == 0  # the refused address received nothing


def test_http_redirect_hops_are_followed_when_allowed(target: Target) -> None:
    target.mode = "redirect_ok"
    assert probe("http", target.url + "/").ok
    no_follow = probe("http", target.url + "/", request={"follow_redirects": False})
    assert not no_follow.ok and no_follow.status_code == 302


def test_http_target_outside_the_allowlist_is_refused_before_connecting(refused: Listener) -> None:
    result = probe("http", f"http://127.0.0.2:{refused.port}/")
    assert not result.ok and "target refused" in result.reason
    assert refused.connections == 0


def test_http_verifies_tls_by_default(tmp_path: Path) -> None:
    server = TLSServer(tmp_path, days=30)
    try:
        result = probe("http", f"https://localhost:{server.port}/", timeout=3)
    finally:
        server.close()
    assert not result.ok
    assert "TLS error" in result.reason or "certificate" in result.reason.lower()


def test_http_connection_refused_is_a_failure() -> None:
    closed = Listener()
    port = closed.port
    closed.close()
    result = probe("http", f"http://127.0.0.1:{port}/")
    assert not result.ok and "connection failed" in result.reason


def test_tcp_connects_and_reads_the_banner() -> None:
    listener = Listener(banner=b"SSH-2.0-OpenSSH_9.2\r\n")
    try:
        assert probe("tcp", f"127.0.0.1:{listener.port}", {"banner": "SSH-2.0"}).ok
        wrong = probe("tcp", f"127.0.0.1:{listener.port}", {"banner": "SMTP"})
    finally:
        listener.close()
    assert not wrong.ok and "banner 'SMTP' missing" in wrong.reason


def test_tls_reports_days_left_on_a_self_signed_certificate(tmp_path: Path) -> None:
    server = TLSServer(tmp_path, days=5)
    try:
        result = probe("tls", f"127.0.0.1:{server.port}", {"min_days_left": 14})
        relaxed = probe("tls", f"127.0.0.1:{server.port}", {"min_days_left": 3})
    finally:
        server.close()
    assert not result.ok
    assert 4.9 * 86400 < result.tls_expiry_seconds <= 5 * 86400
    assert "expires in 5.0 days (< 14)" in result.reason
    assert relaxed.ok and relaxed.tls_expiry_seconds == pytest.approx(result.tls_expiry_seconds, abs=60)


def test_tls_reads_an_expired_certificate(tmp_path: Path) -> None:
    server = TLSServer(tmp_path, days=-2)
    try:
        result = probe("tls", f"127.0.0.1:{server.port}", {"min_days_left": 0})
    finally:
        server.close()
    assert not result.ok and "expired" in result.reason
    assert result.tls_expiry_seconds < 0


def test_dns_answers_from_a_loopback_resolver(dns_server: DNSServer) -> None:
    resolver = f"127.0.0.1:{dns_server.port}"
    ok = probe("dns", "svc.example.test", {"type": "A", "contains": "192.0.2.10", "resolver": resolver})
    assert ok.ok and "192.0.2.10" in ok.reason
    wrong = probe("dns", "svc.example.test", {"type": "A", "contains": "192.0.2.99", "resolver": resolver})
    assert not wrong.ok and "192.0.2.10" in wrong.reason
    missing = probe("dns", "nope.example.test", {"type": "A", "resolver": resolver})
    assert not missing.ok and "NXDOMAIN" in missing.reason
    txt = probe("dns", "svc.example.test", {"type": "TXT", "contains": "v=ok", "resolver": resolver})
    assert txt.ok
    assert dns_server.queries == 4


def test_dns_resolver_outside_the_allowlist_is_refused(dns_server: DNSServer) -> None:
    result = probe("dns", "svc.example.test", {"resolver": "127.0.0.2:53"})
    assert not result.ok and "resolver refused" in result.reason


def test_ping_of_loopback_answers_or_says_it_cannot_run_here() -> None:
    result = probe("ping", "127.0.0.1", {"count": 2})
    if result.unavailable:
        assert result.reason.startswith("ping unavailable here: ")
    else:
        assert result.ok, result.reason
        assert result.ping_loss_ratio == 0.0
        assert result.ping_rtt_seconds is not None and result.ping_rtt_seconds >= 0


def test_a_probe_that_hangs_is_cut_at_its_timeout(target: Target) -> None:
    target.mode = "hang"
    result = probe("tcp", f"127.0.0.1:{target.server.server_address[1]}", {"banner": "x"}, timeout=0.5)
    assert not result.ok and "timed out after 0.5 s" in result.reason

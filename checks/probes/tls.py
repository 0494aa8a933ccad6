"""``tls`` checks: days until the server's certificate expires (read with ``cryptography``),
also for an expired or self-signed certificate; too few days left is a failure."""

from __future__ import annotations

import ssl
import time
from datetime import UTC, datetime
from typing import Any

from cryptography import x509

from checks.probes.base import ProbeConfigError, Result, Spec, expect_keys, split_host_port
from checks.probes.tcp import connect
from lib.outbound import OutboundRefusedError

EXPECT_KEYS = {"min_days_left"}
DEFAULT_MIN_DAYS = 14


def validate(target: str, expect: dict[str, Any], request: dict[str, Any]) -> None:
    split_host_port(target, 443)
    expect_keys(expect, EXPECT_KEYS)
    days = expect.get("min_days_left", DEFAULT_MIN_DAYS)
    if isinstance(days, bool) or not isinstance(days, int | float) or not 0 <= days <= 3650:
        raise ProbeConfigError("expect", "min_days_left: a number of days between 0 and 3650")


def _reading_context() -> ssl.SSLContext:
    # Reading, not trusting: an expired or self-signed certificate must still be seen.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


_READING = _reading_context()


async def run(spec: Spec, request: dict[str, Any]) -> Result:
    host, port = split_host_port(spec.target, 443)
    started = time.perf_counter()
    try:
        _, writer = await connect(host, port, ssl=_READING, server_hostname=host)
    except OutboundRefusedError as exc:
        return Result(False, f"target refused: {exc}")
    except ssl.SSLError as exc:
        return Result(False, f"TLS error: {exc.reason or exc}", time.perf_counter() - started)
    except OSError as exc:
        return Result(False, f"connection failed: {exc.strerror or exc}", time.perf_counter() - started)
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    finally:
        writer.close()
    duration = time.perf_counter() - started
    if not der:
        return Result(False, "the server sent no certificate", duration)
    certificate = x509.load_der_x509_certificate(der)
    left = (certificate.not_valid_after_utc - datetime.now(UTC)).total_seconds()
    days = left / 86400
    minimum = spec.expect.get("min_days_left", DEFAULT_MIN_DAYS)
    subject = certificate.subject.rfc4514_string()[:120]
    if left <= 0:
        return Result(False, f"certificate expired {-days:.1f} days ago ({subject})", duration, tls_expiry_seconds=left)
    if days < minimum:
        return Result(
            False, f"certificate expires in {days:.1f} days (< {minimum:g})", duration, tls_expiry_seconds=left
        )
    return Result(True, f"certificate expires in {days:.1f} days", duration, tls_expiry_seconds=left)

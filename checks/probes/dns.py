"""``dns`` checks: ask a resolver for a record (dnspython) and look for an expected answer."""

from __future__ import annotations

import ipaddress
import time
from typing import Any

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.resolver

from checks.choices import DNS_RECORD_TYPES
from checks.probes.base import (
    RESOLVER,
    STORED_TEXT,
    ProbeConfigError,
    Result,
    Spec,
    expect_keys,
    matches,
    split_host_port,
)
from checks.probes.net import vet
from lib.outbound import OutboundRefusedError

EXPECT_KEYS = {"type", "contains", "resolver"}


def validate(target: str, expect: dict[str, Any], request: dict[str, Any]) -> None:
    try:
        name = dns.name.from_text(target.strip())
    except (dns.exception.DNSException, ValueError):
        raise ProbeConfigError("target", f"{target!r} is not a DNS name") from None
    if not target.strip() or len(name.labels) < 3:  # two labels and the root
        raise ProbeConfigError("target", "the name to look up, e.g. example.com")
    expect_keys(expect, EXPECT_KEYS)
    if expect.get("type", "A") not in DNS_RECORD_TYPES:
        raise ProbeConfigError("expect", f"type: one of {', '.join(DNS_RECORD_TYPES)}")
    if "contains" in expect and not matches(STORED_TEXT, expect["contains"]):
        raise ProbeConfigError("expect", "contains: the text one answer must contain")
    if "resolver" in expect:
        resolver_address(expect["resolver"])


def resolver_address(value: Any) -> tuple[str, int]:
    """``ip`` or ``ip:port`` / ``[v6]:port`` of the resolver to ask (default port 53)."""
    if not matches(RESOLVER, value):
        raise ProbeConfigError("expect", "resolver: an IPv4 address, optionally with :port")
    host, port = split_host_port(value, 53, "expect")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ProbeConfigError("expect", f"resolver: {host!r} is not an IP address") from None
    return host, port


async def run(spec: Spec, request: dict[str, Any]) -> Result:
    expect = spec.expect
    record = expect.get("type", "A")
    if "resolver" in expect:
        # A resolver the user names is an outbound target like any other.
        host, port = resolver_address(expect["resolver"])
        try:
            vet(host, ipaddress.ip_address(host), port)
        except OutboundRefusedError as exc:
            return Result(False, f"resolver refused: {exc}")
    else:  # the machine's own resolver, as configured by its administrator
        host, port = dns.resolver.get_default_resolver().nameservers[0], 53
    query = dns.message.make_query(spec.target.strip(), dns.rdatatype.from_text(record))
    started = time.perf_counter()
    try:
        answer = await dns.asyncquery.udp(query, str(host), port=port, timeout=spec.timeout)
        if answer.flags & dns.flags.TC:
            answer = await dns.asyncquery.tcp(query, str(host), port=port, timeout=spec.timeout)
    except dns.exception.Timeout:
        return Result(False, f"the resolver did not answer within {spec.timeout:g} s", time.perf_counter() - started)
    except (OSError, dns.exception.DNSException) as exc:
        return Result(False, f"DNS error: {exc}"[:300], time.perf_counter() - started)
    duration = time.perf_counter() - started
    rcode = answer.rcode()
    if rcode != dns.rcode.NOERROR:
        return Result(False, f"resolver answered {dns.rcode.to_text(rcode)}", duration)
    values = [
        item.to_text() for rrset in answer.answer for item in rrset if rrset.rdtype == dns.rdatatype.from_text(record)
    ]
    if not values:
        return Result(False, f"no {record} record", duration)
    wanted = expect.get("contains")
    if wanted and not any(wanted in value for value in values):
        return Result(False, f"no {record} answer contains {wanted!r} (got {', '.join(values)[:120]})", duration)
    return Result(True, f"{record} {', '.join(values)[:120]}", duration)

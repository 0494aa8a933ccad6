"""Which addresses outbound requests (webhooks, checks, load tests) may reach.

Public addresses are allowed. Private, loopback, link-local, multicast and reserved addresses
are refused unless ``OUTBOUND_ALLOWLIST`` lists the host name or a CIDR containing them. Load
tests may always reach this Seismo instance itself (``allow_self=True``). Names are resolved
once here and every address they resolve to must pass, so a DNS answer cannot smuggle a
private address past the check.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class OutboundRefusedError(ValueError):
    """The target is not allowed; the message says why (safe to show to the user)."""


def _allowlist() -> tuple[set[str], list[ipaddress.IPv4Network | ipaddress.IPv6Network]]:
    hosts: set[str] = set()
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for entry in settings.OUTBOUND_ALLOWLIST:
        entry = entry.strip().lower()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            hosts.add(entry.strip("[]"))
    return hosts, networks


def _is_public(address: IPAddress) -> bool:
    return address.is_global and not address.is_multicast


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OutboundRefusedError(f"cannot resolve host {host!r}") from exc
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def self_hosts() -> set[str]:
    """Host names this instance answers to (load tests may target it)."""
    names = {settings.SEISMO_HOST.lower(), "localhost", "127.0.0.1", "::1"}
    return {name for name in names if name not in ("0.0.0.0", "")}


def check_url(url: str, *, allow_self: bool = False, schemes: Iterable[str] = ("http", "https")) -> str:
    """Return ``url`` if an outbound request to it is allowed, else raise OutboundRefusedError."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise OutboundRefusedError(f"invalid URL: {exc}") from None
    if parts.scheme not in schemes:
        raise OutboundRefusedError(f"scheme {parts.scheme!r} is not allowed (use {' or '.join(schemes)})")
    host = (parts.hostname or "").lower()
    if not host:
        raise OutboundRefusedError("the URL has no host")
    allowed_hosts, allowed_networks = _allowlist()
    if host in allowed_hosts:
        return url
    if allow_self and host in self_hosts() and port == settings.SEISMO_PORT:
        return url
    for address in _resolve(host, port):
        if _is_public(address):
            continue
        if any(address in network for network in allowed_networks):
            continue
        raise OutboundRefusedError(
            f"{host} resolves to {address}, a private or local address; add it to OUTBOUND_ALLOWLIST to allow it"
        )
    return url

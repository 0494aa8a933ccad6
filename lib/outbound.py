"""The one outbound gate: every request Seismo sends out (webhooks, Slack, Apprise, load tests,
scrapes, checks) goes through it, by a client from ``lib.outbound_clients``.

Public addresses are allowed. Private, loopback, link-local, multicast and reserved addresses
are refused unless ``OUTBOUND_ALLOWLIST`` lists the host name or a CIDR containing them; an
IPv4 address embedded in an IPv6 one (IPv4-mapped or -compatible, NAT64 ``64:ff9b::/96``, 6to4,
Teredo) is judged as the IPv4 address it reaches. Load tests may always reach this Seismo
instance itself (``allow_self=True``).

The address checked is the address connected to: a name is resolved once, every address it
resolves to must pass, and the connection goes to the vetted address (the URL's host stays the
``Host`` header and the TLS SNI / certificate name), so a second DNS answer (rebinding) never
reaches a socket. Clients made here follow no redirects unless asked; when they do, each hop
passes the same gate before it is connected to.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

NAT64_NETWORKS = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class OutboundRefusedError(ValueError):
    """The target is not allowed; the message says why (safe to show to the user)."""


class OutboundConnectionRefusedError(OSError):
    """Raised inside a client's connect step: the address is refused (an OSError, so HTTP
    clients report it as a failed connection)."""


@dataclass(frozen=True)
class Policy:
    """What may be reached, as plain data: made from settings in Django processes and handed
    as JSON to processes without Django (load-test shards)."""

    allowlist: tuple[str, ...] = ()
    self_names: tuple[str, ...] = ()
    self_port: int | None = None  # set only where this instance itself may be targeted

    @classmethod
    def from_settings(cls, *, allow_self: bool = False) -> Policy:
        return cls(
            allowlist=tuple(settings.OUTBOUND_ALLOWLIST),
            self_names=tuple(sorted(self_hosts())),
            self_port=settings.SEISMO_PORT if allow_self else None,
        )

    def as_dict(self) -> dict[str, Any]:
        return {"allowlist": list(self.allowlist), "self_names": list(self.self_names), "self_port": self.self_port}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Policy:
        return cls(tuple(data["allowlist"]), tuple(data["self_names"]), data["self_port"])

    @functools.cached_property
    def allowed(self) -> tuple[frozenset[str], tuple[IPNetwork, ...]]:
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in self.allowlist:
            entry = entry.strip().lower()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry.strip("[]"))
        return frozenset(hosts), tuple(networks)


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address really reaches, if it embeds one."""
    if address.version == 4:
        return None
    assert isinstance(address, ipaddress.IPv6Address)
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address.teredo:
        return address.teredo[1]
    if any(address in network for network in NAT64_NETWORKS):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if int(address) >> 32 == 0 and int(address) > 1:  # IPv4-compatible ::a.b.c.d (deprecated)
        return ipaddress.IPv4Address(int(address))
    return None


def _is_public(address: IPAddress) -> bool:
    return address.is_global and not address.is_multicast


def self_hosts() -> set[str]:
    """Host names this instance answers to (load tests may target it)."""
    names = {settings.SEISMO_HOST.lower(), "localhost", "127.0.0.1", "::1"}
    return {name for name in names if name not in ("0.0.0.0", "")}


def _parse_address(text: str) -> IPAddress:
    return ipaddress.ip_address(text.split("%")[0])


@dataclass
class Gate:
    """One client's outbound policy: which (address, port) pairs it may connect to.

    ``approved`` remembers addresses a name was vetted to (an allowlisted name may resolve
    to a private address), so the connect step, which sees only the address, lets them pass.
    """

    policy: Policy
    approved: set[tuple[str, int]] = field(default_factory=set)

    def permits(self, address: IPAddress, port: int, host: str | None = None) -> bool:
        allowed_hosts, allowed_networks = self.policy.allowed
        if host is not None and host.lower().strip("[]") in allowed_hosts:
            return True
        if (str(address), port) in self.approved:
            return True
        if self.policy.self_port is not None and port == self.policy.self_port:
            names = self.policy.self_names
            if (host is not None and host.lower().strip("[]") in names) or str(address) in names:
                return True
        inner = embedded_ipv4(address)
        candidates = [address] if inner is None else [address, inner]
        if any(any(candidate in network for network in allowed_networks) for candidate in candidates):
            return True
        return _is_public(address if inner is None else inner)

    @staticmethod
    def refusal(host: str, address: IPAddress) -> OutboundRefusedError:
        inner = embedded_ipv4(address)
        named = f"{address} (IPv4 {inner})" if inner is not None else str(address)
        shown = f"{named} is" if host == str(address) else f"{host} resolves to {named},"
        return OutboundRefusedError(f"{shown} a private or local address; add it to OUTBOUND_ALLOWLIST to allow it")

    def vet_addresses(self, host: str, port: int, addresses: Iterable[IPAddress]) -> list[IPAddress]:
        """Every address must pass (one bad answer refuses the name); returns them in order."""
        result = []
        for address in addresses:
            if not self.permits(address, port, host):
                raise self.refusal(host, address)
            self.approved.add((str(address), port))
            result.append(address)
        if not result:
            raise OutboundRefusedError(f"cannot resolve host {host!r}")
        return result

    def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Resolve ``host`` once and vet every address (blocking)."""
        return self.vet_addresses(host, port, _lookup(host, port))

    async def resolve_async(self, host: str, port: int) -> list[IPAddress]:
        try:
            literal = _parse_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            return self.vet_addresses(host, port, [literal])
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise OutboundRefusedError(f"cannot resolve host {host!r}") from exc
        return self.vet_addresses(host, port, [_parse_address(info[4][0]) for info in infos])

    def socket_factory(self, addr_info: tuple[Any, ...]) -> socket.socket:
        """aiohttp's connect step: the last word on the address actually connected to."""
        family, type_, proto, _, sockaddr = addr_info
        address = _parse_address(sockaddr[0])
        if not self.permits(address, sockaddr[1]):
            raise OutboundConnectionRefusedError(str(self.refusal(str(address), address)))
        return socket.socket(family=family, type=type_, proto=proto)


def _lookup(host: str, port: int) -> list[IPAddress]:
    try:
        return [_parse_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise OutboundRefusedError(f"cannot resolve host {host!r}") from exc
    return [_parse_address(info[4][0]) for info in infos]


# The syntax of an http(s) URL Seismo connects to (channels, scrape targets check it before the
# address): a host (a name or a bracketed IPv6), a port 0-65535, printable ASCII after it. The
# pattern goes into the OpenAPI document as it is (ASCII classes: Python and ECMA read them alike).
_URL_HOST = r"(?:[A-Za-z0-9._~%!$&'()*+,;=-]+|\[[0-9A-Fa-f:.]+\])"
URL_PORT = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}|0)"
HTTP_URL_RE = re.compile(rf"^https?://{_URL_HOST}(?::{URL_PORT})?(?:[/?#][!-~]*)?(?![\s\S])")
# A link shown to people (a runbook): a DNS name with a top-level domain, a subset of what Django's
# URLValidator takes, so the schema's pattern and both validations agree.
_DNS_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
WEB_LINK = rf"https?://(?:{_DNS_LABEL}\.)+[A-Za-z]{{2,63}}(?::{URL_PORT})?(?:[/?#][!-~]*)?"
WEB_LINK_RE = re.compile(rf"^{WEB_LINK}(?![\s\S])")


def apprise_url_pattern() -> str:
    """The start of an Apprise URL ``check_apprise_url`` admits (its fixed-host schemes)."""
    return f"^(?:{'|'.join(sorted(apprise_fixed_schemes()))})://"


def split_url(url: str, schemes: Iterable[str]) -> tuple[str, str, int]:
    """(scheme, host, port) of ``url``, or OutboundRefusedError saying what is wrong with it."""
    schemes = tuple(schemes)
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
    return parts.scheme, host, port


def check_url(url: str, *, allow_self: bool = False, schemes: Iterable[str] = ("http", "https")) -> str:
    """Return ``url`` if an outbound request to it is allowed now, else raise
    OutboundRefusedError — for saving a target (the clients check again at send)."""
    _, host, port = split_url(url, schemes)
    gate = Gate(Policy.from_settings(allow_self=allow_self))
    if host in gate.policy.allowed[0]:
        return url
    gate.resolve(host, port)
    return url


def refusal_reason(exc: BaseException) -> str | None:
    """The gate's message if ``exc`` (from any client made here) is a refusal, else None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OutboundRefusedError | OutboundConnectionRefusedError):
            return str(current)
        os_error = getattr(current, "os_error", None)  # aiohttp's ClientConnectorError
        current = os_error if isinstance(os_error, BaseException) else current.__cause__ or current.__context__
    return None


# --- Apprise ----------------------------------------------------------------------------------


@functools.cache
def apprise_fixed_schemes() -> frozenset[str]:
    """Apprise schemes whose destination is the service's own fixed host (no ``{host}`` in any
    of their URL templates). Schemes that take a host from the URL (json://, ntfy://, mailto://…)
    are refused: Apprise connects by itself, so the address it reaches could not be pinned —
    use a webhook channel for a self-hosted receiver."""
    import apprise  # heavy (loads every plugin); only channel saves and sends need it

    schemes: set[str] = set()
    for schema in apprise.Apprise().details()["schemas"]:
        if any("{host}" in template for template in schema["details"]["templates"]):
            continue
        for key in ("protocols", "secure_protocols"):
            value = schema.get(key) or ()
            schemes.update([value] if isinstance(value, str) else value)
    return frozenset(s.lower() for s in schemes)


def check_apprise_url(url: str) -> str:
    """Return ``url`` if it is an Apprise URL to a fixed service host, else raise
    OutboundRefusedError — checked when a channel is saved and again before each send."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if not scheme:
        raise OutboundRefusedError("not an Apprise URL (scheme://…)")
    if scheme not in apprise_fixed_schemes():
        raise OutboundRefusedError(
            f"Apprise scheme {scheme!r} sends to a host taken from the URL, which cannot be vetted; "
            "use a webhook channel for self-hosted receivers"
        )
    return url

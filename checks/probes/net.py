"""The probes' use of the outbound gate (lib.outbound): resolve a host once, vet every
address, and hand back the vetted addresses the probe then connects to directly."""

from __future__ import annotations

import ipaddress

from lib.outbound import Gate, Policy


def gate() -> Gate:
    return Gate(Policy.from_settings())


def vet(host: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int) -> None:
    """Raise OutboundRefusedError unless ``address`` may be reached."""
    gate().vet_addresses(host, port, [address])


async def resolve_vetted(host: str, port: int) -> list[str]:
    """The addresses of ``host`` that may be connected to (all of them must pass)."""
    return [str(a) for a in await gate().resolve_async(host, port)]

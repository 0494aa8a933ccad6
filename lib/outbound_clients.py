"""HTTP clients that connect only through the outbound gate (``lib.outbound``): httpx for
notifiers, scrapes and checks, aiohttp for checks and the load-test engine.

Apart from the gate so the modules that only vet URLs (models, forms, serializers — loaded in
every process) do not import both client libraries (~14 MB); a process loads them when it first
sends a request.
"""

from __future__ import annotations

import socket
from typing import Any

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver, ResolveResult

from lib.outbound import (
    Gate,
    IPAddress,
    OutboundConnectionRefusedError,
    OutboundRefusedError,
    Policy,
    split_url,
)

# --- httpx (notifiers, scrapes, checks) -------------------------------------------------------


def _pinned(request: httpx.Request, address: IPAddress) -> httpx.Request:
    """The same request, sent to ``address``; Host header and TLS name stay the URL's host."""
    extensions = dict(request.extensions)
    if request.url.scheme == "https":
        extensions.setdefault("sni_hostname", request.url.host)
    return httpx.Request(
        request.method,
        request.url.copy_with(host=str(address)),
        headers=request.headers,
        stream=request.stream,
        extensions=extensions,
    )


class _GatedTransport(httpx.HTTPTransport):
    def __init__(self, gate: Gate, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gate = gate

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            split_url(str(request.url), ("http", "https"))
            port = request.url.port or (443 if request.url.scheme == "https" else 80)
            address = self.gate.resolve(request.url.host, port)[0]
        except OutboundRefusedError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        return super().handle_request(_pinned(request, address))


class _AsyncGatedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, gate: Gate, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gate = gate

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            split_url(str(request.url), ("http", "https"))
            port = request.url.port or (443 if request.url.scheme == "https" else 80)
            address = (await self.gate.resolve_async(request.url.host, port))[0]
        except OutboundRefusedError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        return await super().handle_async_request(_pinned(request, address))


def http_client(
    *, allow_self: bool = False, follow_redirects: bool = False, verify: bool = True, **kwargs: Any
) -> httpx.Client:
    """A sync httpx client whose every connection (each redirect hop included) is vetted."""
    transport = _GatedTransport(Gate(Policy.from_settings(allow_self=allow_self)), verify=verify)
    return httpx.Client(transport=transport, follow_redirects=follow_redirects, trust_env=False, **kwargs)


def async_http_client(
    *, allow_self: bool = False, follow_redirects: bool = False, verify: bool = True, **kwargs: Any
) -> httpx.AsyncClient:
    """The async twin of :func:`http_client`."""
    transport = _AsyncGatedTransport(Gate(Policy.from_settings(allow_self=allow_self)), verify=verify)
    return httpx.AsyncClient(transport=transport, follow_redirects=follow_redirects, trust_env=False, **kwargs)


# --- aiohttp (the load-test engine) -----------------------------------------------------------


class _GatedResolver(AbstractResolver):
    """Resolves once per name and returns only vetted addresses (with the connect-step check
    in :meth:`Gate.socket_factory`, which also catches IP-literal hosts aiohttp never resolves)."""

    def __init__(self, gate: Gate) -> None:
        self.gate = gate

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        try:
            addresses = await self.gate.resolve_async(host, port)
        except OutboundRefusedError as exc:
            raise OutboundConnectionRefusedError(str(exc)) from exc
        return [
            {
                "hostname": host,
                "host": str(address),
                "port": port,
                "family": socket.AF_INET6 if address.version == 6 else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in addresses
        ]

    async def close(self) -> None:
        return None


def aiohttp_connector(*, allow_self: bool = False, policy: Policy | None = None, **kwargs: Any) -> aiohttp.TCPConnector:
    """A TCPConnector that connects only to vetted addresses (``policy`` given as data where
    Django is not set up). Pass ``allow_redirects=False`` on requests that must not follow
    redirects (aiohttp's default is to follow; any hop it follows is still vetted here before
    it is connected to)."""
    gate = Gate(policy if policy is not None else Policy.from_settings(allow_self=allow_self))
    return aiohttp.TCPConnector(resolver=_GatedResolver(gate), socket_factory=gate.socket_factory, **kwargs)

"""``tcp`` checks: connect to host:port (the vetted address), optionally wait for a banner."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from checks.probes.base import STORED_TEXT, ProbeConfigError, Result, Spec, expect_keys, matches, split_host_port
from checks.probes.net import resolve_vetted
from lib.outbound import OutboundRefusedError

EXPECT_KEYS = {"banner"}


def validate(target: str, expect: dict[str, Any], request: dict[str, Any]) -> None:
    split_host_port(target, None)
    expect_keys(expect, EXPECT_KEYS)
    if "banner" in expect and (not matches(STORED_TEXT, expect["banner"]) or not expect["banner"]):
        raise ProbeConfigError("expect", "banner: the text the server greets with, e.g. SSH-2.0")


async def connect(host: str, port: int, **kwargs: Any) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open a connection to the first vetted address of ``host`` that answers."""
    error: OSError | None = None
    for address in await resolve_vetted(host, port):
        try:
            return await asyncio.open_connection(address, port, **kwargs)
        except OSError as exc:
            error = exc
    raise error or OSError("no address")


async def run(spec: Spec, request: dict[str, Any]) -> Result:
    host, port = split_host_port(spec.target, None)
    started = time.perf_counter()
    try:
        reader, writer = await connect(host, port)
    except OutboundRefusedError as exc:
        return Result(False, f"target refused: {exc}")
    except OSError as exc:
        return Result(False, f"connection failed: {exc.strerror or exc}", time.perf_counter() - started)
    try:
        banner = expect_banner = spec.expect.get("banner")
        if expect_banner:
            banner = (await reader.read(1024)).decode(errors="replace")
            if expect_banner not in banner:
                shown = banner.strip()[:80] or "nothing"
                return Result(False, f"banner {expect_banner!r} missing (got {shown!r})", time.perf_counter() - started)
        return Result(True, f"connected to port {port}", time.perf_counter() - started)
    finally:
        writer.close()

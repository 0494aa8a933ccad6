"""``ping`` checks: ICMP echo with icmplib — loss ratio and round-trip time.

Unprivileged ICMP sockets are used where the kernel allows them (net.ipv4.ping_group_range);
otherwise raw sockets when the worker may open them; otherwise the check says it cannot run
here ("ping unavailable here: …") and its state is unknown, not down.
"""

from __future__ import annotations

from typing import Any

from icmplib import async_ping
from icmplib.exceptions import ICMPLibError, SocketPermissionError

from checks.probes.base import ProbeConfigError, Result, Spec, expect_keys, split_host_port
from checks.probes.net import resolve_vetted
from lib.outbound import OutboundRefusedError

EXPECT_KEYS = {"count", "max_loss_ratio"}


def validate(target: str, expect: dict[str, Any], request: dict[str, Any]) -> None:
    if target.count(":") == 1:
        raise ProbeConfigError("target", "a host name or address, without a port")
    split_host_port(target, 0)
    expect_keys(expect, EXPECT_KEYS)
    count = expect.get("count", 3)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 20:
        raise ProbeConfigError("expect", "count: echo requests per attempt, 1 to 20")
    loss = expect.get("max_loss_ratio", 0.5)
    if isinstance(loss, bool) or not isinstance(loss, int | float) or not 0 <= loss < 1:
        raise ProbeConfigError("expect", "max_loss_ratio: the loss above which the check fails, 0 to 0.99")


async def run(spec: Spec, request: dict[str, Any]) -> Result:
    host, _ = split_host_port(spec.target, 0)
    try:
        address = (await resolve_vetted(host, 0))[0]
    except OutboundRefusedError as exc:
        return Result(False, f"target refused: {exc}")
    count = spec.expect.get("count", 3)
    wait = max(0.2, min(2.0, spec.timeout / (count + 1)))
    reply = None
    problem = ""
    for privileged in (False, True):
        try:
            reply = await async_ping(address, count=count, interval=0.2, timeout=wait, privileged=privileged)
            break
        except SocketPermissionError as exc:
            problem = str(exc)
        except ICMPLibError as exc:
            problem = str(exc)
            break
        except OSError as exc:
            problem = exc.strerror or str(exc)
            break
    if reply is None:
        return Result(False, f"ping unavailable here: {problem}", unavailable=True)
    loss = reply.packet_loss
    rtt = reply.avg_rtt / 1000 if reply.packets_received else None
    if not reply.packets_received:
        return Result(False, f"no reply to {count} echo requests", rtt, ping_loss_ratio=1.0)
    if loss > spec.expect.get("max_loss_ratio", 0.5):
        return Result(False, f"{loss:.0%} packet loss", rtt, ping_loss_ratio=loss, ping_rtt_seconds=rtt)
    return Result(
        True,
        f"{reply.packets_received}/{count} replies, {reply.avg_rtt:.2f} ms",
        rtt,
        ping_loss_ratio=loss,
        ping_rtt_seconds=rtt,
    )

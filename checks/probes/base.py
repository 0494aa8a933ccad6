"""What every probe takes (a Spec) and gives back (a Result), and how it refuses bad settings."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


class ProbeConfigError(ValueError):
    """A check's settings are unusable; ``field`` names the offending one (``expect.json.path``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Spec:
    """One check as a probe sees it (no database objects cross into the event loop)."""

    id: int
    kind: str
    target: str
    timeout: float
    expect: dict[str, Any]


@dataclass
class Result:
    """One attempt. ``ok`` False means failed; ``unavailable`` means it could not be tried
    here at all (the check's state becomes unknown, not down); ``reason`` says why either way."""

    ok: bool
    reason: str = ""
    duration: float | None = None  # seconds
    status_code: int | None = None
    tls_expiry_seconds: float | None = None
    ping_loss_ratio: float | None = None
    ping_rtt_seconds: float | None = None
    unavailable: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, {}, "") and k != "unavailable"} | (
            {"unavailable": True} if self.unavailable else {}
        )


def split_host_port(target: str, default_port: int | None, field: str = "target") -> tuple[str, int]:
    """``host:port``, ``[v6]:port`` or a bare host (with ``default_port``)."""
    target = target.strip()
    if not target:
        raise ProbeConfigError(field, "a host is required")
    host, port_text = target, ""
    if target.startswith("["):
        host, _, rest = target[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif target.count(":") == 1:
        host, port_text = target.split(":")
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ProbeConfigError(field, f"{port_text!r} is not a port number")
        port = int(port_text)
    elif default_port is None:
        raise ProbeConfigError(field, "host:port is required (e.g. db.example.com:5432)")
    else:
        port = default_port
    if not host or any(c.isspace() or c in "/?#@" for c in host):
        raise ProbeConfigError(field, f"{host!r} is not a host name or address")
    return host.lower(), port


def expect_keys(expect: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(expect) - allowed)
    if unknown:
        raise ProbeConfigError(
            "expect", f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed)) or 'none'})"
        )

"""What every probe takes (a Spec) and gives back (a Result), and how it refuses bad settings."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

# The syntaxes of targets and settings, one home for the probes' validation and the API's
# request schema (ECMA and Python read them alike; matched with fullmatch, so ``$`` admits no
# trailing newline). Hosts are names (letters, digits, _ . -) or bracketed IPv6 addresses.
PORT = "(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
_NAME = "[A-Za-z0-9_.-]{1,253}"
_V6 = "[0-9A-Fa-f:.]{2,45}"
_HOST = f"({_NAME}|\\[{_V6}\\])"  # urlsplit checks a bracketed address itself: http takes names only
_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
IPV4 = f"{_OCTET}(\\.{_OCTET}){{3}}"
MAX_DNS_NAME = 253
TARGETS = {
    "http": re.compile(f"^[Hh][Tt][Tt][Pp][Ss]?://{_NAME}(:{PORT})?([/?#][!-~]*)?$"),
    "tcp": re.compile(f"^{_HOST}:{PORT}$"),
    "dns": re.compile("^([A-Za-z0-9_-]{1,63}\\.)+[A-Za-z0-9_-]{1,63}\\.?$"),
    "tls": re.compile(f"^{_HOST}(:{PORT})?$"),
    # a bare IPv6 address has at least two colons
    "ping": re.compile(f"^({_HOST}|[0-9A-Fa-f.]*:[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*)$"),
    "heartbeat": re.compile("^$"),
}
TARGET_RULES = {
    "http": "an http:// or https:// URL: a host name, optionally :port, then a printable path",
    "tcp": "host:port is required (e.g. db.example.com:5432)",
    "dns": "the name to look up, e.g. example.com",
    "tls": "host or host:port (e.g. example.com:443)",
    "ping": "a host name or address, without a port",
    "heartbeat": "heartbeat checks have no target: the job calls the check's ping URL",
}
# An expected JSON value, a keyword, a header…: text PostgreSQL's jsonb can store (no NUL).
STORED_TEXT = re.compile("^[^\\x00]*$")
# JSONPath as jsonpath_ng reads it, the subset a check uses: $, .name, ..name, .*, [n], [*]
# ("where" and "wherenot" are its keywords, not names).
_FIELD = "(?!(where|wherenot)(?![A-Za-z0-9_]))[A-Za-z_][A-Za-z0-9_]{0,99}"
JSON_PATH = re.compile(f"^\\$(\\.{_FIELD}|\\.\\.{_FIELD}|\\.\\*|\\[[0-9]{{1,9}}\\]|\\[\\*\\])*$")
RESOLVER = re.compile(f"^{IPV4}(:{PORT})?$")


def matches(pattern: re.Pattern[str], value: Any) -> bool:
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def check_target(kind: str, target: str) -> None:
    if not matches(TARGETS[kind], target) or (kind == "dns" and len(target) > MAX_DNS_NAME):
        raise ProbeConfigError("target", TARGET_RULES[kind])


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

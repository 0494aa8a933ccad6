"""One probe module per check kind; each has ``validate(target, expect, request)`` and
``async run(spec, request) -> Result``."""

from __future__ import annotations

from types import ModuleType

from checks.choices import CheckKind
from checks.probes import dns, heartbeat, http, ping, tcp, tls
from checks.probes.base import ProbeConfigError, Result, Spec

PROBES: dict[str, ModuleType] = {
    CheckKind.HTTP: http,
    CheckKind.TCP: tcp,
    CheckKind.DNS: dns,
    CheckKind.TLS: tls,
    CheckKind.PING: ping,
    CheckKind.HEARTBEAT: heartbeat,
}

__all__ = ["PROBES", "ProbeConfigError", "Result", "Spec"]

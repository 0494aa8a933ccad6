"""One probe module per check kind; each has ``validate(target, expect, request)`` and
``async run(spec, request) -> Result``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from importlib import import_module
from types import ModuleType

from checks.choices import CheckKind
from checks.probes.base import ProbeConfigError, Result, Spec

_MODULES = {
    CheckKind.HTTP: "http",
    CheckKind.TCP: "tcp",
    CheckKind.DNS: "dns",
    CheckKind.TLS: "tls",
    CheckKind.PING: "ping",
    CheckKind.HEARTBEAT: "heartbeat",
}


class _Probes(Mapping[str, ModuleType]):
    """Kind → probe module, each imported when its kind is first used: the modules load their
    client libraries (aiohttp, dnspython, icmplib, cryptography's x509 — ~15 MB together), which
    a process with no checks of that kind never needs."""

    def __getitem__(self, kind: str) -> ModuleType:
        return import_module(f"checks.probes.{_MODULES[kind]}")

    def __iter__(self) -> Iterator[str]:
        return iter(_MODULES)

    def __len__(self) -> int:
        return len(_MODULES)


PROBES: Mapping[str, ModuleType] = _Probes()

__all__ = ["PROBES", "ProbeConfigError", "Result", "Spec"]

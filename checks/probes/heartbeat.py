"""``heartbeat`` checks: nothing is probed; the job calls ``/ping/<uuid>`` (or ``…/fail``) and
the scheduler marks the check down when no ping came within its period plus grace."""

from __future__ import annotations

from typing import Any

from checks.probes.base import ProbeConfigError, Result, Spec, expect_keys


def validate(target: str, expect: dict[str, Any], request: dict[str, Any]) -> None:
    if target.strip():
        raise ProbeConfigError("target", "heartbeat checks have no target: the job calls the check's ping URL")
    expect_keys(expect, set())


async def run(spec: Spec, request: dict[str, Any]) -> Result:
    raise NotImplementedError("heartbeats are not probed")

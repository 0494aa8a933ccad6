"""Load-test traffic goes through the outbound gate: redirects are answers, never new hops."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from loadtest.choices import RunStatus
from loadtest.engine import run_load
from tests.loadtest.test_loadtest import run_now, scenario
from tests.stands import Stand

pytestmark = pytest.mark.django_db


def test_a_target_redirecting_to_a_refused_address_never_sends_it_a_request(settings, outbound_pair):
    _, refused = outbound_pair
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    redirecting = Stand("127.0.0.1", redirect_to=f"{refused.url}/latest/meta-data/")
    try:
        run = run_now(scenario(redirecting.url, users=2, duration_seconds=1))
    finally:
        redirecting.close()
    assert run.status == RunStatus.FINISHED
    assert run.requests == len(redirecting.requests) > 0  # each 302 counted as the target's answer
    assert refused.requests == []


def test_a_target_name_rebinding_to_a_refused_address_after_the_check_never_gets_traffic(
    settings, outbound_pair, rebinding_dns
):
    allowed, refused = outbound_pair
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    # The start check gets the first answer (127.0.0.1); the engine resolves again and meets 127.0.0.2.
    run = run_now(scenario(f"http://rebind.test:{allowed.port}", users=2, duration_seconds=1))
    assert rebinding_dns[0] == "127.0.0.1" and "127.0.0.2" in rebinding_dns
    assert refused.requests == [] and allowed.requests == []
    assert run.requests == run.failures > 0


def test_a_run_whose_every_connection_is_refused_ends_on_time_with_the_failures_counted():
    """The gate refuses at connect, before any I/O: users with no think time must still let the
    run's own loop end it (they used to spin forever on the refusals). In a thread, so that a
    regression fails the test instead of hanging it."""
    config = {
        "target_url": "http://127.0.0.2:9",
        "endpoints": [{"method": "GET", "path": "/"}],
        "users": 5,
        "spawn_rate": 100,
        "duration_seconds": 1,
        "outbound": {"allowlist": [], "self_names": [], "self_port": None},
    }
    done: list[Any] = []
    runner = threading.Thread(
        target=lambda: done.append(asyncio.run(run_load(config, 0, lambda *a: None, lambda: False))), daemon=True
    )
    runner.start()
    runner.join(timeout=60)
    assert done, "the run did not end"
    assert done[0].tally.requests > 0 and done[0].tally.failures == done[0].tally.requests

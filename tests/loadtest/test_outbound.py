"""Load-test traffic goes through the outbound gate: redirects are answers, never new hops."""

from __future__ import annotations

import pytest

from loadtest.choices import RunStatus
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

"""The scheduler inside real Celery workers: checks run on their own, a failing target goes
down after its retries and its alert reaches Slack (a loopback stand-in) on down and on
recovery; a hanging target delays no other check; a dead worker's check is taken over."""

from __future__ import annotations

import signal

import pytest

from alerts.models import Alert, NotificationChannel
from checks import services
from checks.models import Check, CheckEvent
from tests.checks.conftest import Target
from tests.conftest import start_worker, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _check(**fields) -> Check:
    check = Check(**{"kind": "http", "interval_seconds": 1, "timeout_seconds": 1, **fields})
    check.full_clean()
    return services.save_check(check, fields.pop("channels", None) or [])


def _state(check: Check) -> str:
    check.refresh_from_db()
    return check.state


def test_down_after_retries_then_recovery_notify_slack(receiver, target: Target) -> None:
    slack = NotificationChannel.objects.create(
        name="slack", kind="slack", config={"webhook_url": f"{receiver.url}/slack"}
    )
    check = Check(name="shop", kind="http", target=target.url + "/", interval_seconds=1, timeout_seconds=1, retries=2)
    check.full_clean()
    services.save_check(check, [slack])
    worker = start_worker("checks-a", OUTBOUND_ALLOWLIST="127.0.0.1")
    try:
        wait_until(lambda: _state(check) == "up", timeout=30)
        target.mode = "error"
        wait_until(lambda: _state(check) == "down", timeout=30)
        wait_until(lambda: any(r["path"] == "/slack" for r in receiver.requests), timeout=30)
        firing = receiver.json(-1)
        target.mode = "ok"
        wait_until(lambda: _state(check) == "up", timeout=30)
        wait_until(lambda: len(receiver.requests) >= 2, timeout=30)
        resolved = receiver.json(-1)
    finally:
        worker.stop()
    moves = [(e.from_state, e.to_state, e.reason) for e in CheckEvent.objects.filter(owner=check)]
    assert moves[0][:2] == ("unknown", "up")
    assert moves[1] == ("up", "down", "status 500 (expected 2xx)")
    assert moves[2][:2] == ("down", "up")
    assert "[CRITICAL] check down: shop" in firing["text"] and "Check shop is down" in firing["text"]
    assert "[RESOLVED] check down: shop" in resolved["text"]
    alert = Alert.objects.get(rule=check.alert_rule)
    assert alert.state == "resolved" and alert.labels == {"check": "shop", "kind": "http"}


def test_a_hanging_target_delays_no_other_check_and_a_dead_workers_check_is_taken_over(allow_loopback) -> None:
    hanging, healthy = Target(), Target()
    hanging.mode = "hang"
    slow = _check(name="hangs", target=hanging.url + "/", interval_seconds=10, timeout_seconds=8)
    quick = _check(name="quick", target=healthy.url + "/")
    first = start_worker("checks-first", OUTBOUND_ALLOWLIST="127.0.0.1")
    try:
        wait_until(lambda: Check.objects.get(pk=slow.pk).leased_by, timeout=30)
        quick.refresh_from_db()
        seen = len(quick.recent)
        # While the hanging attempt is in flight, the quick check keeps getting results.
        wait_until(lambda: len(Check.objects.get(pk=quick.pk).recent) >= seen + 3, timeout=30)
        assert Check.objects.get(pk=slow.pk).last_result == {}
    finally:
        first.stop(signal.SIGKILL)  # dies mid-attempt: its lease is all that is left
    assert Check.objects.get(pk=slow.pk).last_result == {}
    second = start_worker("checks-second", OUTBOUND_ALLOWLIST="127.0.0.1")
    try:
        wait_until(lambda: Check.objects.get(pk=slow.pk).last_result, timeout=60)
    finally:
        second.stop()
        hanging.server.shutdown()
        healthy.server.shutdown()
    slow.refresh_from_db()
    assert slow.last_result["reason"] == "timed out after 8 s"
    assert slow.state == "down" and slow.leased_by == ""


def test_a_check_whose_target_redirects_to_a_refused_address_goes_down_and_never_reaches_it(
    editor, api_as, allow_loopback, target: Target, refused
) -> None:
    target.mode = "redirect_refused"  # 302 → http://127.0.0.2:<port>/final
    created = api_as(editor).post(
        "/api/v1/checks/",
        {"name": "redirector", "kind": "http", "target": target.url + "/", "interval_seconds": 1, "timeout_seconds": 1},
        format="json",
    )
    assert created.status_code == 201, created.content
    check = Check.objects.get(pk=created.json()["id"])
    worker = start_worker("checks-redirect", OUTBOUND_ALLOWLIST="127.0.0.1")
    try:
        wait_until(lambda: _state(check) == "down", timeout=30)
    finally:
        worker.stop()
    shown = api_as(editor).get(f"/api/v1/checks/{check.pk}/").json()
    assert shown["state"] == "down"
    assert "redirect target refused" in shown["last_result"]["reason"] and "127.0.0.2" in shown["last_result"]["reason"]
    assert target.hits >= 1 and refused.connections == 0  # the refused address received nothing

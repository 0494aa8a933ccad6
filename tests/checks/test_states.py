"""State transitions with retries, results stored as state + events + metrics, heartbeats on
time / late / failed, and uptime with a maintenance window excluded over a known history."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone

from alerts.models import MaintenanceWindow
from checks import services
from checks.models import Check, CheckEvent
from checks.probes import Result
from checks.uptime import occurrences, uptime
from monitoring.store.query import latest_value

pytestmark = pytest.mark.django_db


def make(**fields) -> Check:
    defaults = {"name": "web", "kind": "http", "target": "http://127.0.0.1:9/", "interval_seconds": 30, "retries": 3}
    check = Check(**{**defaults, **fields})
    check.full_clean()
    return services.save_check(check, [])


def test_down_only_after_retries_consecutive_failures_and_up_on_the_first_success() -> None:
    check = make()
    at = timezone.now()
    assert check.apply_result(Result(True, "status 200", 0.01), at).to_state == "up"
    assert check.apply_result(Result(False, "status 500", 0.01), at) is None
    assert check.apply_result(Result(False, "status 500", 0.01), at) is None
    assert check.state == "up" and check.failures == 2
    event = check.apply_result(Result(False, "timed out after 10 s", 10), at)
    assert (event.from_state, event.to_state, event.reason) == ("up", "down", "timed out after 10 s")
    assert check.apply_result(Result(False, "status 500"), at) is None  # still down, no new event
    recovered = check.apply_result(Result(True, "status 200", 0.02), at)
    assert (recovered.from_state, recovered.to_state) == ("down", "up") and check.failures == 0


def test_a_success_between_failures_resets_the_count() -> None:
    check = make()
    at = timezone.now()
    for ok in (True, False, False, True, False, False):
        check.apply_result(Result(ok, "x", 0.01), at)
    assert check.state == "up" and check.failures == 2


def test_slow_successes_are_degraded() -> None:
    check = make(degraded_ms=100, retries=1)
    at = timezone.now()
    event = check.apply_result(Result(True, "status 200", 0.25), at)
    assert event.to_state == "degraded" and event.reason == "slow: 250 ms > 100 ms"
    assert check.apply_result(Result(True, "status 200", 0.05), at).to_state == "up"


def test_unavailable_probes_leave_the_state_unknown_with_the_reason() -> None:
    check = make(kind="ping", target="127.0.0.1", retries=1)
    at = timezone.now()
    check.apply_result(Result(True, "3/3 replies", 0.001), at)
    event = check.apply_result(Result(False, "ping unavailable here: no permission", unavailable=True), at)
    assert event.to_state == "unknown" and event.reason.startswith("ping unavailable here")


def test_record_results_stores_state_events_and_metrics_in_one_batch() -> None:
    check = make(retries=1)
    other = make(name="api", kind="tls", target="127.0.0.1:443")
    now = timezone.now()
    services.record_results(
        [
            (check.pk, Result(False, "status 500", 0.2, status_code=500), now),
            (other.pk, Result(True, "certificate expires in 30.0 days", 0.01, tls_expiry_seconds=30 * 86400), now),
        ],
        now=now,
    )
    check.refresh_from_db()
    other.refresh_from_db()
    assert (
        check.state == "down"
        and check.last_result["reason"] == "status 500"
        and check.last_result["status_code"] == 500
    )
    assert check.next_run_at > now and check.lease_until is None
    assert [e.to_state for e in CheckEvent.objects.filter(owner=check)] == ["down"]
    assert latest_value("check_up", {"check": "web", "kind": "http"}) == 0
    assert latest_value("check_status_code", {"check": "web"}) == 500
    assert latest_value("check_duration_seconds", {"check": "web"}) == pytest.approx(0.2)
    assert latest_value("check_up", {"check": "api", "kind": "tls"}) == 1
    assert latest_value("check_tls_expiry_seconds", {"check": "api"}) == 30 * 86400


def test_results_of_a_lease_taken_over_by_another_worker_are_dropped() -> None:
    check = make(retries=1)
    Check.objects.filter(pk=check.pk).update(leased_by="worker-b")
    services.record_results([(check.pk, Result(False, "late"), timezone.now())], worker="worker-a")
    check.refresh_from_db()
    assert check.state == "unknown" and check.last_result == {}


def test_claim_leases_each_due_check_once() -> None:
    check = make()
    Check.objects.filter(pk=check.pk).update(next_run_at=timezone.now() - timedelta(seconds=1))
    now = timezone.now()
    first = services.claim_due("a", now)
    assert [spec.id for spec, _ in first] == [check.pk]
    assert services.claim_due("b", now) == []
    # The lease ran out (its worker died): another worker takes the check.
    later = now + timedelta(seconds=check.timeout_seconds + services.LEASE_GRACE_SECONDS + 1)
    assert [spec.id for spec, _ in services.claim_due("b", later)] == [check.pk]
    assert Check.objects.get(pk=check.pk).leased_by == "b"


def test_schedule_keeps_the_phase_and_skips_missed_slots() -> None:
    check = make()
    base = datetime(2026, 12, 1, 12, 0, 5, tzinfo=UTC)
    check.next_run_at = base
    check.schedule_next(base + timedelta(seconds=1))
    assert check.next_run_at == base + timedelta(seconds=30)
    check.schedule_next(base + timedelta(seconds=100))
    assert check.next_run_at == base + timedelta(seconds=120)


def test_heartbeats_on_time_late_and_failed(client) -> None:
    check = make(name="nightly", kind="heartbeat", target="", interval_seconds=60, grace_seconds=30)
    assert client.get(f"/ping/{check.token}").status_code == 200
    check.refresh_from_db()
    assert check.state == "up" and check.deadline_at == check.last_ping_at + timedelta(seconds=90)
    assert services.sweep_heartbeats(check.last_ping_at + timedelta(seconds=89)) == 0
    assert services.sweep_heartbeats(check.last_ping_at + timedelta(seconds=91)) == 1
    check.refresh_from_db()
    assert check.state == "down"
    assert CheckEvent.objects.filter(owner=check).last().reason == "no ping within 90 s (period 60 s + grace 30 s)"
    assert latest_value("check_up", {"check": "nightly", "kind": "heartbeat"}) == 0
    assert client.post(f"/ping/{check.token}/").status_code == 200
    check.refresh_from_db()
    assert check.state == "up"
    assert client.post(f"/ping/{check.token}/fail", data="disk full", content_type="text/plain").status_code == 200
    check.refresh_from_db()
    assert check.state == "down"
    assert CheckEvent.objects.filter(owner=check).latest("id").reason == "the job reported a failure: disk full"


def test_ping_urls_of_unknown_checks_are_404_json(client) -> None:
    response = client.get("/ping/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert client.get("/ping/not-a-uuid").status_code == 404
    assert client.put(f"/ping/{make(name='h', kind='heartbeat', target='').token}").status_code == 405


def test_uptime_excludes_a_maintenance_window_exactly() -> None:
    check = make()
    start = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
    Check.objects.filter(pk=check.pk).update(created_at=start - timedelta(days=30))
    check.refresh_from_db()
    for minutes, before, after, reason in [
        (0, "unknown", "up", "ok"),
        (60, "up", "down", "status 500"),  # 01:00-03:00 down; 02:00-02:30 is maintenance
        (180, "down", "up", "ok"),
        (300, "up", "paused", "paused"),  # 05:00-06:00 paused: not counted
        (360, "paused", "unknown", "resumed"),
        (361, "unknown", "up", "ok"),
    ]:
        CheckEvent.objects.create(
            owner=check, at=start + timedelta(minutes=minutes), from_state=before, to_state=after, reason=reason
        )
    MaintenanceWindow.objects.create(
        name="deploys", matchers={"check": "web"}, start_time=time(2, 0), duration_minutes=30, weekdays=[0]
    )
    MaintenanceWindow.objects.create(
        name="other", matchers={"check": "db"}, start_time=time(1, 0), duration_minutes=600
    )
    result = uptime(check, start, start + timedelta(hours=8), now=start + timedelta(days=1))
    counted = 8 * 3600 - 3600 - 60 - 1800  # minus paused, unknown and maintenance
    assert result.excluded_maintenance_seconds == 1800
    assert result.downtime_seconds == 2 * 3600 - 1800
    assert result.counted_seconds == counted
    assert result.uptime == (counted - 5400) / counted
    assert [(i["start"], i["end"], i["reason"]) for i in result.incidents] == [
        ("2026-11-02T01:00:00+00:00", "2026-11-02T03:00:00+00:00", "status 500")
    ]


def test_maintenance_occurrences_follow_weekdays_and_time_zones() -> None:
    window = MaintenanceWindow(
        name="w", timezone="Europe/Paris", start_time=time(2, 0), duration_minutes=120, weekdays=[6]
    )
    start = datetime(2026, 11, 1, tzinfo=UTC)
    spans = occurrences(window, start, start + timedelta(days=14))
    assert [(s.isoformat(), e.isoformat()) for s, e in spans] == [
        ("2026-11-01T01:00:00+00:00", "2026-11-01T03:00:00+00:00"),
        ("2026-11-08T01:00:00+00:00", "2026-11-08T03:00:00+00:00"),
    ]

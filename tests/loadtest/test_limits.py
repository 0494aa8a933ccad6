"""Load-test abuse limits: bounded numbers, capped concurrent runs, headers hidden from viewers."""

from __future__ import annotations

import pytest

from loadtest.choices import RunStatus
from loadtest.models import LoadTestRun, Scenario

pytestmark = pytest.mark.django_db

BASE = {"name": "s", "target_url": "http://127.0.0.1:9/", "endpoints": [{"method": "GET", "path": "/"}]}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("payload_bytes", 2**40),
        ("request_timeout_ms", 10**9),
        ("users", 2**31),
        ("duration_seconds", 10**7),
        ("think_time_ms", 2**33),
        ("client_delay_ms", 10**8),
        ("spawn_rate", 1e300),
        ("max_cpu_percent", 1000),
        ("endpoints", None),
        ("endpoints", [{"method": "GET", "path": "/", "headers": {"a": 1}}]),
        ("endpoints", [{"method": "GET", "path": "/x\x00"}]),
        ("endpoints", [{"method": 7, "path": "/"}]),
    ],
)
def test_out_of_range_scenario_numbers_are_a_400_not_a_500(api_as, editor, field, value):
    answer = api_as(editor).post("/api/v1/loadtest/scenarios/", {**BASE, field: value}, format="json")
    assert answer.status_code == 400, answer.content
    assert field in answer.json()["error"]["details"]
    assert not Scenario.objects.exists()


def test_concurrent_runs_are_capped(api_as, editor, settings):
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    settings.LOADTEST_MAX_CONCURRENT_RUNS = 1
    LoadTestRun.objects.create(config={}, status=RunStatus.RUNNING)
    answer = api_as(editor).post("/api/v1/loadtest/runs/", {**BASE, "duration_seconds": 1}, format="json")
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "too_many_runs"
    assert LoadTestRun.objects.count() == 1


def test_load_tests_run_on_their_own_queue(settings):
    from loadtest.tasks import run_load_test

    route = run_load_test.app.amqp.router.route({}, run_load_test.name)
    assert route["queue"].name == settings.LOADTEST_QUEUE != settings.CELERY_TASK_DEFAULT_QUEUE


def test_scenario_headers_are_masked_for_viewers(api_as, editor, viewer):
    body = {**BASE, "endpoints": [{"method": "GET", "path": "/", "headers": {"Authorization": "Bearer abc123"}}]}
    made = api_as(editor).post("/api/v1/loadtest/scenarios/", body, format="json")
    assert made.status_code == 201
    assert made.json()["endpoints"][0]["headers"] == {"Authorization": "Bearer abc123"}
    seen = api_as(viewer).get(f"/api/v1/loadtest/scenarios/{made.json()['id']}/").json()
    assert seen["endpoints"][0]["headers"] == {"Authorization": "•••"}
    LoadTestRun.objects.create(config={"endpoints": body["endpoints"]}, status=RunStatus.FINISHED)
    runs = api_as(viewer).get("/api/v1/loadtest/runs/").content.decode()
    assert (
        "abc123" not in runs and api_as(viewer).get("/api/v1/loadtest/scenarios/").content.decode().count("abc123") == 0
    )

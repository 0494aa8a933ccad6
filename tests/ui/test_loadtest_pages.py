"""Load tests from the browser without a browser: the scenario form (presets, help on every
field, the API's validation as form errors, never a 500), starting, stopping only while
running, the runs filters, marking a baseline and the comparison page; viewers see no controls."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from loadtest.choices import RunStatus
from loadtest.models import LoadTestRun, RunSecond, Scenario


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _run(
    scenario: Scenario | None, status: str = RunStatus.FINISHED, p95: float = 10.0, failures: int = 0
) -> LoadTestRun:
    run = LoadTestRun.objects.create(
        scenario=scenario,
        config={"target_url": "http://127.0.0.1:1", "users": 1, "duration_seconds": 3},
        status=status,
        requests=300,
        failures=failures,
        rps=100.0,
        p50_ms=p95 / 2,
        p95_ms=p95,
        p99_ms=p95 * 2,
        started_at=timezone.now(),
    )
    RunSecond.objects.bulk_create(
        RunSecond(run=run, second=s, users=1, requests=100, failures=failures // 3, p50_ms=1, p95_ms=p95, p99_ms=p95)
        for s in range(3)
    )
    return run


@pytest.fixture
def scenario(db) -> Scenario:
    return Scenario.objects.create(name="Home page", target_url="http://127.0.0.1:1", duration_seconds=3)


def test_a_preset_fills_the_form_and_every_field_is_explained(editor):
    page = _client(editor).get("/loadtest/scenarios/new/?preset=api_stress").content.decode()
    assert 'value="API Stress"' in page and 'name="users" value="50"' in page
    assert 'name="target_url" value="http://testserver"' in page
    assert "GET /healthz 1" in page
    for text in ("Simulated users", "Users started per second", "Safety limit: stop when more than"):
        assert text in page
    assert 'aria-describedby="users-help"' in page and 'id="users-help"' in page


def test_an_editor_creates_a_scenario_and_bad_input_is_a_form_error_not_a_500(editor):
    client = _client(editor)
    good = {
        "name": "Stress",
        "preset": "api_stress",
        "target_url": "http://127.0.0.1:8000",
        "endpoints_text": "GET /healthz 3\nPOST /api/v1/ingest/ 1\n/readyz",
        "users": 5,
        "spawn_rate": 5,
        "duration_seconds": 10,
        "think_mode": "constant",
        "think_time_ms": 0,
        "request_timeout_ms": 1000,
        "processes": 1,
        "payload_bytes": 0,
        "client_delay_ms": 0,
        "max_error_rate": "0.05",
    }
    bad_cases = [
        ({"users": 0}, "between 1 and"),
        ({"endpoints_text": "GET healthz"}, "endpoint 0: a path starting with /"),  # the API's words
        ({"endpoints_text": "GET"}, "line 1: a path starting with / is needed"),
        ({"endpoints_text": ""}, "This field is required"),
        ({"endpoints_text": "FETCH /x 1"}, "unknown method"),
        ({"endpoints_text": "GET /x heavy"}, "the weight must be a number"),
        ({"max_error_rate": "2"}, "a share between 0 and 1"),
        ({"think_mode": "constant_throughput"}, "required when think_mode is constant_throughput"),
        ({"target_url": "not a url"}, "Enter a valid URL"),
        ({"users": "many"}, "Enter a whole number"),
    ]
    for change, message in bad_cases:
        response = client.post("/loadtest/scenarios/new/", {**good, **change})
        assert response.status_code == 400, change
        assert message in response.content.decode(), change
    assert not Scenario.objects.exists()
    response = client.post("/loadtest/scenarios/new/", good)
    scenario = Scenario.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/loadtest/#scenario-{scenario.pk}"
    assert scenario.endpoints == [
        {"method": "GET", "path": "/healthz", "weight": 3},
        {"method": "POST", "path": "/api/v1/ingest/", "weight": 1},
        {"method": "GET", "path": "/readyz", "weight": 1},
    ]
    assert (scenario.users, scenario.max_error_rate, scenario.created_by) == (5, 0.05, editor)


def test_a_viewer_sees_no_create_start_stop_or_baseline_controls(viewer, scenario):
    live = _run(scenario, RunStatus.RUNNING)
    done = _run(scenario)
    client = _client(viewer)
    page = client.get("/loadtest/").content.decode()
    assert "New scenario" not in page and ">Start</button>" not in page and "Emergency stop" not in page
    assert client.get("/loadtest/scenarios/new/").status_code == 403
    assert client.post(f"/loadtest/scenarios/{scenario.pk}/start/").status_code == 403
    assert client.post(f"/loadtest/runs/{live.pk}/stop/").status_code == 403
    assert client.post(f"/loadtest/runs/{done.pk}/baseline/").status_code == 403
    assert "Mark as baseline" not in client.get(f"/loadtest/runs/{done.pk}/").content.decode()


def test_stop_shows_only_while_a_run_runs_and_the_runs_list_filters(editor, scenario):
    other = Scenario.objects.create(name="Other", target_url="http://127.0.0.1:1")
    live = _run(scenario, RunStatus.RUNNING)
    done = _run(other)
    client = _client(editor)
    page = client.get("/loadtest/").content.decode()
    row = lambda run: page[page.index(f'id="run-{run.pk}"') : page.index("</tr>", page.index(f'id="run-{run.pk}"'))]  # noqa: E731
    assert "Emergency stop" in row(live) and "Emergency stop" not in row(done)
    assert "Emergency stop" not in client.get(f"/loadtest/runs/{done.pk}/").content.decode()
    filtered = client.get(f"/loadtest/?scenario={other.pk}&status=finished").content.decode()
    assert f'id="run-{done.pk}"' in filtered and f'id="run-{live.pk}"' not in filtered
    assert "No run matches these filters" in client.get("/loadtest/?status=failed").content.decode()
    assert client.get("/loadtest/?status=bogus&scenario=x").status_code == 200


def test_an_editor_marks_a_baseline_and_compares_a_run_with_it(editor, scenario):
    base = _run(scenario, p95=10.0)
    slower = _run(scenario, p95=20.0, failures=30)
    client = _client(editor)
    assert client.post(f"/loadtest/runs/{base.pk}/baseline/").status_code == 302
    scenario.refresh_from_db()
    assert scenario.baseline_run == base
    run_page = client.get(f"/loadtest/runs/{slower.pk}/").content.decode()
    assert f'href="/loadtest/compare/?a={base.pk}&amp;b={slower.pk}"' in run_page
    page = client.get(f"/loadtest/compare/?a={base.pk}&b={slower.pk}").content.decode()
    assert 'id="verdict">Regression<' in page.replace("\n", "")
    assert 'data-value="100.0"' in page  # p95 change +100 %, through the formatter
    assert '"seconds": [[0, 100, 10, 1.0, 20.0, 20.0]' in page


def test_comparing_needs_two_different_existing_runs(editor, scenario):
    run = _run(scenario)
    client = _client(editor)
    assert "Pick two runs" in client.get("/loadtest/compare/").content.decode()
    for query, message in (
        (f"a={run.pk}&b={run.pk}", "two different runs"),
        (f"a={run.pk}&b=999999", "does not exist"),
        ("a=x&b=1", "Pick two runs"),
    ):
        response = client.get(f"/loadtest/compare/?{query}")
        assert response.status_code == 400 and message in response.content.decode()
    refused = client.post(f"/loadtest/runs/{_run(scenario, RunStatus.RUNNING).pk}/baseline/", follow=True)
    assert "Only a finished run" in refused.content.decode()


def test_starting_a_refused_target_says_why(editor, settings):
    settings.OUTBOUND_ALLOWLIST = []
    scenario = Scenario.objects.create(name="Far away", target_url="http://10.1.2.3/")
    response = _client(editor).post(f"/loadtest/scenarios/{scenario.pk}/start/", follow=True)
    assert "cannot start" in response.content.decode()
    assert not LoadTestRun.objects.exists()

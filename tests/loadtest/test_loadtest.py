"""Load tests against a loopback target whose own request log is the ground truth."""

import json
import os
import threading
import time

import pytest

from lib.redis import get_redis
from loadtest import runner, services
from loadtest.choices import RunStatus
from loadtest.models import LoadTestRun, Scenario
from loadtest.tally import Tally
from monitoring.store.writer import record_samples
from tests.conftest import start_worker, wait_until
from tests.stands import QuietHandler, serve

pytestmark = pytest.mark.django_db


class Target:
    def __init__(self, status: int = 200, delay: float = 0.0) -> None:
        self.log: list[tuple[str, str, str | None]] = []
        self.status = status
        target = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                if length:
                    self.rfile.read(length)
                target.log.append((self.command, self.path, self.headers.get("X-Seismo-Loadtest-Run")))
                if delay:
                    time.sleep(delay)
                self.reply(target.status)

            do_GET = do_POST = _answer  # noqa: N815

        self.server = serve(Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def target(settings):
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    server = Target()
    yield server
    server.server.shutdown()


def scenario(url: str, **fields) -> Scenario:
    defaults = {
        "name": "t",
        "target_url": url,
        "users": 4,
        "spawn_rate": 100,
        "duration_seconds": 2,
        "endpoints": [{"method": "GET", "path": "/a", "weight": 3}, {"method": "POST", "path": "/b", "weight": 1}],
    }
    return Scenario.objects.create(**{**defaults, **fields})


def run_now(scn: Scenario, user=None) -> LoadTestRun:
    run = LoadTestRun.objects.create(scenario=scn, config={k: getattr(scn, k) for k in services.CONFIG_FIELDS})
    return runner.execute_run(run.pk)


def test_a_run_counts_exactly_what_the_target_received(target):
    run = run_now(scenario(target.url))
    assert run.status == RunStatus.FINISHED and run.stop_reason == ""
    assert run.requests == len(target.log) > 0
    assert run.failures == 0 and run.p95_ms is not None and run.rps > 0
    assert {path for _, path, _ in target.log} == {"/a", "/b"}
    assert all(header == str(run.pk) for _, _, header in target.log)  # tagged with the run
    posts = sum(1 for method, _, _ in target.log if method == "POST")
    assert 0.1 < posts / len(target.log) < 0.45  # weights 3:1
    assert run.seconds.count() >= 1


def test_a_target_outside_the_allowlist_is_refused_before_any_request(api_as, editor, target, settings):
    settings.OUTBOUND_ALLOWLIST = []
    body = {"target_url": target.url, "endpoints": [{"method": "GET", "path": "/"}], "users": 1, "duration_seconds": 1}
    response = api_as(editor).post("/api/v1/loadtest/runs/", body, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "target_refused"
    time.sleep(0.3)
    assert target.log == [] and LoadTestRun.objects.count() == 0


def test_the_error_rate_limit_stops_a_run_with_its_reason(target):
    target.status = 500
    run = run_now(scenario(target.url, duration_seconds=10, max_error_rate=0.2))
    assert run.status == RunStatus.STOPPED and "error rate" in run.stop_reason
    assert run.failures == run.requests and run.failures_by_kind == {"HTTP 500": run.failures}


def test_the_p95_limit_stops_a_slow_target(settings):
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    slow = Target(delay=0.05)
    try:
        run = run_now(scenario(slow.url, duration_seconds=10, max_p95_ms=20, users=8))
    finally:
        slow.server.shutdown()
    assert run.status == RunStatus.STOPPED and "p95" in run.stop_reason


def test_max_rps_caps_the_request_rate(target):
    run = run_now(scenario(target.url, duration_seconds=2, max_rps=20, users=10))
    assert 20 <= run.requests <= 2 * 20 + 10  # ~20 a second for 2 s, not thousands


def test_constant_throughput_holds_each_user_at_its_rate_counted_by_the_target(settings):
    # 4 users x 10 requests/s for 3 s against a target answering in 50 ms: pacing waits only the
    # rest of each 100 ms interval, so ~120 requests arrive (a fixed 100 ms think time would
    # give ~80, no think time several hundred).
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    slow = Target(delay=0.05)
    try:
        run = run_now(
            scenario(slow.url, users=4, duration_seconds=3, think_mode="constant_throughput", throughput_per_user=10)
        )
    finally:
        slow.server.shutdown()
    expected = 4 * 10 * 3
    assert run.status == RunStatus.FINISHED and run.requests == len(slow.log)
    assert 0.75 * expected <= len(slow.log) <= 1.15 * expected


def test_constant_throughput_needs_a_rate(api_as, editor, target):
    api = api_as(editor)
    body = {"name": "ct", "target_url": target.url, "think_mode": "constant_throughput"}
    missing = api.post("/api/v1/loadtest/scenarios/", body, format="json")
    assert missing.status_code == 400 and "throughput_per_user" in missing.json()["error"]["details"]
    zero = api.post("/api/v1/loadtest/scenarios/", {**body, "throughput_per_user": 0}, format="json")
    assert zero.status_code == 400 and "throughput_per_user" in zero.json()["error"]["details"]
    made = api.post("/api/v1/loadtest/scenarios/", {**body, "throughput_per_user": 2.5}, format="json")
    assert made.status_code == 201 and made.json()["think_mode"] == "constant_throughput"
    changed = api.patch(
        f"/api/v1/loadtest/scenarios/{made.json()['id']}/", {"throughput_per_user": None}, format="json"
    )
    assert changed.status_code == 400


def test_an_emergency_stop_ends_a_running_test(target):
    scn = scenario(target.url, duration_seconds=30)
    run = LoadTestRun.objects.create(scenario=scn, config={k: getattr(scn, k) for k in services.CONFIG_FIELDS})

    def stop_when_running() -> None:
        # The test's transaction is not visible to another connection: set the flag directly,
        # as stop_run does for a running run.
        get_redis().set(services.stop_key(run.pk), 1, ex=60)

    threading.Timer(1.0, stop_when_running).start()
    started = time.monotonic()
    finished = runner.execute_run(run.pk)
    assert finished.status == RunStatus.STOPPED and finished.stop_reason == "stopped by a user"
    assert time.monotonic() - started < 10  # long before its 30 s (not a speed assertion)


def test_presets_shape_the_load_and_fields_override_them(api_as, editor, target):
    api = api_as(editor)
    stress = api.post(
        "/api/v1/loadtest/scenarios/", {"name": "s", "preset": "api_stress", "target_url": target.url}, format="json"
    )
    assert stress.status_code == 201 and stress.json()["think_time_ms"] == 0 and stress.json()["users"] == 50
    custom = api.post(
        "/api/v1/loadtest/scenarios/",
        {"name": "c", "preset": "high_user_load", "users": 7, "target_url": target.url},
        format="json",
    )
    assert custom.json()["users"] == 7 and custom.json()["think_time_ms"] == 1000
    memory = api.post(
        "/api/v1/loadtest/scenarios/",
        {"name": "m", "preset": "memory_pressure", "target_url": target.url},
        format="json",
    )
    assert memory.json()["payload_bytes"] == 1_000_000


def test_viewers_cannot_start_runs_and_bad_input_is_a_400(api_as, viewer, editor, outsider, target):
    scn = scenario(target.url)
    assert api_as(viewer).post("/api/v1/loadtest/runs/", {"scenario": scn.pk}, format="json").status_code == 403
    assert api_as(outsider).get("/api/v1/loadtest/runs/").status_code == 403
    assert api_as(viewer).get("/api/v1/loadtest/runs/").status_code == 200
    bad = api_as(editor).post(
        "/api/v1/loadtest/scenarios/",
        {"name": "x", "target_url": "nope", "users": 0, "endpoints": [{"path": "x"}]},
        format="json",
    )
    assert bad.status_code == 400 and {"target_url", "users", "endpoints"} <= set(bad.json()["error"]["details"])


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_run_started_through_the_api_executes_on_a_real_worker_and_can_be_compared(api_as, editor, target):
    api = api_as(editor)
    scn = scenario(target.url, duration_seconds=1, users=2)
    worker = start_worker("loadtest-worker", OUTBOUND_ALLOWLIST="127.0.0.1")
    try:
        first = api.post("/api/v1/loadtest/runs/", {"scenario": scn.pk}, format="json").json()["id"]
        wait_until(lambda: api.get(f"/api/v1/loadtest/runs/{first}/").json()["status"] == "finished", timeout=60)
        split = scenario(target.url, duration_seconds=1, users=2, processes=2)  # child processes of the worker
        second = api.post("/api/v1/loadtest/runs/", {"scenario": split.pk}, format="json").json()["id"]
        wait_until(lambda: api.get(f"/api/v1/loadtest/runs/{second}/").json()["status"] == "finished", timeout=60)
        long = scenario(target.url, duration_seconds=60, users=2)
        third = api.post("/api/v1/loadtest/runs/", {"scenario": long.pk}, format="json").json()["id"]
        wait_until(lambda: api.get(f"/api/v1/loadtest/runs/{third}/").json()["status"] == "running", timeout=30)
        api.post(f"/api/v1/loadtest/runs/{third}/stop/")  # the emergency stop button
        wait_until(lambda: api.get(f"/api/v1/loadtest/runs/{third}/").json()["status"] == "stopped", timeout=10)
        assert api.get(f"/api/v1/loadtest/runs/{third}/").json()["stop_reason"] == "stopped by a user"
    finally:
        worker.stop()
    detail = api.get(f"/api/v1/loadtest/runs/{first}/").json()
    assert detail["requests"] > 0 and detail["seconds"]
    assert sum(1 for _, _, run in target.log if run == str(first)) == detail["requests"]
    split_detail = api.get(f"/api/v1/loadtest/runs/{second}/").json()
    assert split_detail["processes"] == 2
    assert sum(1 for _, _, run in target.log if run == str(second)) == split_detail["requests"] > 0
    comparison = api.get(f"/api/v1/loadtest/runs/{first}/compare/{second}/").json()
    assert comparison["verdict"] in ("ok", "regression") and "p95_change_percent" in comparison
    stopped = api.post(f"/api/v1/loadtest/runs/{first}/stop/").json()
    assert stopped["status"] == "finished"  # stopping a finished run changes nothing


def test_the_load_test_page_lists_scenarios_and_runs(client, editor, target):
    scn = scenario(target.url)
    run_now(scn)
    client.force_login(editor)
    page = client.get("/loadtest/").content.decode()
    assert scn.target_url in page and "finished" in page
    assert "Emergency stop" not in page  # stop only while running


def test_the_host_cpu_guard_stops_a_run(target, monkeypatch):
    monkeypatch.delenv("DJANGO_ALLOW_ASYNC_UNSAFE", raising=False)  # as in a real worker
    record_samples([("system_cpu_percent", {}, time.time(), 97.0)], topic="system-metrics")
    run = run_now(scenario(target.url, duration_seconds=10, max_cpu_percent=90))
    assert run.status == RunStatus.STOPPED and run.stop_reason == "host CPU at 97% exceeded 90%"
    assert run.requests == len(target.log)


def test_a_run_page_shows_the_stored_seconds_to_a_viewer_without_a_stop_button(client, viewer, target):
    run = run_now(scenario(target.url, duration_seconds=2))
    client.force_login(viewer)
    response = client.get(f"/loadtest/runs/{run.pk}/")
    page = response.content.decode()
    assert response.status_code == 200 and "finished" in page and 'data-chart="latency"' in page
    assert "Emergency stop" not in page
    data = response.context["run_data"]
    assert data["status"] == "finished" and data["started_at"] is not None
    assert sum(row[2] for row in data["seconds"]) == run.requests == len(target.log)
    assert client.get("/loadtest/").content.decode().count(f"/loadtest/runs/{run.pk}/") == 1
    assert client.post(f"/loadtest/runs/{run.pk}/stop/").status_code == 403


def test_the_stop_button_stops_a_run_and_answers_htmx_with_the_summary(client, editor, target):
    scn = scenario(target.url)
    config = {k: getattr(scn, k) for k in services.CONFIG_FIELDS}
    queued = LoadTestRun.objects.create(scenario=scn, config=config)
    running = LoadTestRun.objects.create(scenario=scn, config=config, status=RunStatus.RUNNING)
    client.force_login(editor)
    assert "Emergency stop" in client.get(f"/loadtest/runs/{running.pk}/").content.decode()
    answer = client.post(f"/loadtest/runs/{queued.pk}/stop/", HTTP_HX_REQUEST="true")
    assert answer.status_code == 200 and 'id="run-summary"' in answer.content.decode()
    assert "<html" not in answer.content.decode() and "stopped by a user before it started" in answer.content.decode()
    queued.refresh_from_db()
    assert queued.status == RunStatus.STOPPED
    answer = client.post(f"/loadtest/runs/{running.pk}/stop/", HTTP_HX_REQUEST="true")
    assert "Stopping…" in answer.content.decode()
    assert get_redis().exists(services.stop_key(running.pk))  # the engine's shards stop on this flag
    get_redis().delete(services.stop_key(running.pk))
    assert client.post(f"/loadtest/runs/{running.pk}/stop/").status_code == 302  # no HTMX: back to the page


def test_the_run_page_needs_a_login_and_a_role(client, outsider, viewer, target):
    run = run_now(scenario(target.url, duration_seconds=1))
    assert client.get(f"/loadtest/runs/{run.pk}/").status_code == 302  # to the login page
    client.force_login(outsider)
    assert client.get(f"/loadtest/runs/{run.pk}/").status_code == 403
    client.force_login(viewer)
    assert client.get("/loadtest/runs/999999/").status_code == 404
    partial = client.get(f"/loadtest/runs/{run.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert partial.lstrip().startswith('<section id="run-summary"') and str(run.requests) in partial


# Several processes per run -------------------------------------------------------------------


def test_tallies_from_other_processes_merge_exactly():
    whole, parts = Tally(), [Tally(), Tally()]
    for i in range(5000):
        micros = 500 + (i * 7919) % 40_000 + (150_000 if i % 97 == 0 else 0)
        whole.record(micros, ok=i % 50 != 0, size=10)
        parts[i % 2].record(micros, ok=i % 50 != 0, size=10)
    merged = Tally()
    for part in parts:
        merged.merge(Tally.from_json(json.loads(json.dumps(part.to_json()))))  # as through Redis
    assert (merged.requests, merged.failures, merged.bytes) == (whole.requests, whole.failures, whole.bytes)
    for p in (50, 90, 95, 99, 99.9, 100):
        assert merged.percentile_ms(p) == whole.percentile_ms(p)


def test_a_run_split_over_two_processes_counts_exactly_what_the_target_received(target):
    run = run_now(scenario(target.url, users=4, duration_seconds=2, processes=2))
    assert run.status == RunStatus.FINISHED and run.stop_reason == "" and run.processes == 2
    assert run.requests == len(target.log) > 0 and run.failures == 0
    assert all(header == str(run.pk) for _, _, header in target.log)
    seconds = list(run.seconds.all())
    assert sum(s.requests for s in seconds) == run.requests
    assert max(s.users for s in seconds) == 4  # 2 + 2: both shards' users are counted
    assert run.p50_ms is not None and run.p50_ms <= run.p95_ms <= run.p99_ms <= run.max_ms


def test_an_emergency_stop_and_a_safety_limit_stop_every_process(target):
    scn = scenario(target.url, users=4, duration_seconds=60, processes=2)
    run = LoadTestRun.objects.create(scenario=scn, config={k: getattr(scn, k) for k in services.CONFIG_FIELDS})

    def stop_once_loaded() -> None:  # the shards' start takes a while on a busy machine
        wait_until(lambda: len(target.log) > 20, timeout=60)
        get_redis().set(services.stop_key(run.pk), 1, ex=60)

    threading.Thread(target=stop_once_loaded, daemon=True).start()
    stopped = runner.execute_run(run.pk)
    assert stopped.status == RunStatus.STOPPED and stopped.stop_reason == "stopped by a user"
    assert stopped.processes == 2 and stopped.requests == len(target.log) > 0
    target.log.clear()
    target.status = 500
    limited = run_now(scenario(target.url, users=4, duration_seconds=60, processes=2, max_error_rate=0.2))
    assert limited.status == RunStatus.STOPPED and "error rate" in limited.stop_reason
    assert limited.failures == limited.requests == len(target.log) > 0


def test_a_failing_process_fails_the_run_with_its_reason(target):
    broken = scenario(target.url, users=2, processes=2, endpoints=[{"method": "GET", "path": "/", "weight": "x"}])
    run = run_now(broken)
    assert run.status == RunStatus.FAILED and run.stop_reason.startswith("shard ")
    assert "ValueError" in run.stop_reason and target.log == []


def test_processes_are_capped_by_the_cpu_count(api_as, editor, target):
    api = api_as(editor)
    body = {"name": "p", "target_url": target.url}
    too_many = api.post("/api/v1/loadtest/scenarios/", {**body, "processes": (os.cpu_count() or 1) + 1}, format="json")
    assert too_many.status_code == 400 and "CPU count" in str(too_many.json()["error"]["details"]["processes"])
    assert api.post("/api/v1/loadtest/scenarios/", {**body, "processes": 0}, format="json").status_code == 400
    assert api.post("/api/v1/loadtest/scenarios/", {**body, "processes": 1}, format="json").status_code == 201


# The admin runs the API's validation -----------------------------------------------------------


def _admin_scenario_form(**overrides) -> dict[str, str]:
    form = {
        "name": "From the admin",
        "preset": "",
        "target_url": "http://127.0.0.1:9/",
        "endpoints": json.dumps([{"method": "GET", "path": "/", "weight": 1}]),
        "users": "10",
        "spawn_rate": "10",
        "duration_seconds": "30",
        "think_time_ms": "0",
        "think_mode": "constant",
        "request_timeout_ms": "10000",
        "processes": "1",
        "payload_bytes": "0",
        "client_delay_ms": "0",
    }
    return {**form, **overrides}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("users", "20000", "between 1 and 10,000"),
        ("endpoints", json.dumps([{"method": "FETCH", "path": "/"}]), "endpoint 0: unknown method"),
        ("max_error_rate", "3", "a share between 0 and 1"),
        ("think_mode", "constant_throughput", "required when think_mode is constant_throughput"),
        ("processes", str((os.cpu_count() or 1) + 1), "this machine&#x27;s CPU count"),
    ],
)
def test_the_admin_refuses_a_scenario_the_api_refuses_with_a_form_error(client, owner, field, value, message):
    client.force_login(owner)
    response = client.post("/admin/loadtest/scenario/add/", _admin_scenario_form(**{field: value}))
    assert response.status_code == 200  # the form again, not a redirect
    assert message in response.content.decode()
    assert not Scenario.objects.filter(name="From the admin").exists()


def test_the_admin_saves_a_valid_scenario(client, owner):
    client.force_login(owner)
    response = client.post("/admin/loadtest/scenario/add/", _admin_scenario_form())
    assert response.status_code == 302
    assert Scenario.objects.get(name="From the admin").users == 10

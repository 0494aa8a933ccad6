import time

import pytest
from django.db import connection

from accounts.models import IngestKey
from monitoring.models import Metric, Series
from monitoring.signals import samples_ingested

pytestmark = pytest.mark.django_db


def stored(metric: str) -> list[tuple[float, float]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT extract(epoch FROM ts), value FROM monitoring_sample s "
            "JOIN monitoring_series r ON r.id = s.series_id JOIN monitoring_metric m ON m.id = r.metric_id "
            "WHERE m.name = %s ORDER BY ts",
            [metric],
        )
        return [(float(ts), value) for ts, value in cursor.fetchall()]


def batch(n: int, start: float, metric: str = "app_latency", **labels: str) -> dict:
    return {"samples": [{"metric": metric, "labels": labels, "value": i, "ts": start + i} for i in range(n)]}


def test_an_editor_ingests_a_batch_and_it_is_stored(api_as, editor):
    now = time.time() - 100
    response = api_as(editor).post("/api/v1/ingest/", batch(5, now, host="web-1"), format="json")
    assert response.status_code == 202 and response.json() == {"accepted": 5}
    assert [v for _, v in stored("app_latency")] == [0, 1, 2, 3, 4]
    series = Series.objects.get(metric__name="app_latency")
    assert series.labels == {"host": "web-1"}
    assert Metric.objects.get(name="app_latency").family == "custom"


def test_the_same_metric_labels_and_ts_are_stored_once(api_as, editor):
    now = time.time() - 100
    api = api_as(editor)
    assert api.post("/api/v1/ingest/", batch(3, now), format="json").status_code == 202
    again = api.post("/api/v1/ingest/", batch(4, now), format="json")  # three repeats + one new
    assert again.status_code == 202
    duplicate_inside = {"samples": [{"metric": "app_latency", "value": 9, "ts": now + 10}] * 2}
    assert api.post("/api/v1/ingest/", duplicate_inside, format="json").status_code == 202
    assert len(stored("app_latency")) == 5


def test_rfc3339_and_missing_timestamps_are_accepted(api_as, editor):
    samples = [
        {"metric": "m_ts", "value": 1, "ts": "2026-01-01T00:00:00Z"},
        {"metric": "m_ts", "value": 2},
    ]
    from datetime import UTC, datetime

    rfc = datetime.now(UTC).replace(microsecond=0).isoformat()
    samples[0]["ts"] = rfc
    assert api_as(editor).post("/api/v1/ingest/", {"samples": samples}, format="json").status_code == 202
    assert len(stored("m_ts")) == 2


@pytest.mark.parametrize(
    ("sample", "rule"),
    [
        ({"metric": "9bad", "value": 1}, "metric_name"),
        ({"metric": "ok", "value": "1"}, "value"),
        ({"metric": "ok", "value": True}, "value"),
        ({"metric": "ok", "value": 1, "labels": {"bad-name": "x"}}, "label_name"),
        ({"metric": "ok", "value": 1, "labels": {"k": 1}}, "label_value"),
        ({"metric": "ok", "value": 1, "labels": {"k": "x" * 300}}, "label_value"),
        ({"metric": "ok", "value": 1, "labels": {f"k{i}": "v" for i in range(21)}}, "label_count"),
        ({"metric": "ok", "value": 1, "labels": ["not", "a", "dict"]}, "labels"),
        ({"metric": "ok", "value": 1, "ts": time.time() + 3600}, "ts_future"),
        ({"metric": "ok", "value": 1, "ts": time.time() - 40 * 86400}, "ts_past"),
        ({"metric": "ok", "value": 1, "ts": "yesterday"}, "ts"),
        ({"metric": "ok", "value": 1, "ts": "2026-01-01T00:00:00"}, "ts"),
        ({"metric": "ok", "value": 1, "ts": "1e9"}, "ts"),  # epoch seconds as text are digits
        ({"metric": "ok", "value": 1, "labels": []}, "labels"),
        ({"metric": "ok", "value": 1, "labels": {"k": "a\x00b"}}, "label_value"),
        ({"metric": "ok\n", "value": 1}, "metric_name"),
        ("not an object", "type"),
    ],
)
def test_each_validation_rule_names_the_sample_and_stores_nothing(api_as, editor, sample, rule):
    response = api_as(editor).post(
        "/api/v1/ingest/", {"samples": [{"metric": "good", "value": 1}, sample]}, format="json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_samples"
    assert error["details"]["errors"][0]["index"] == 1
    assert error["details"]["errors"][0]["rule"] == rule
    assert stored("good") == []  # all or nothing: the valid sample was not stored either


def test_oversized_batches_and_bodies_answer_413(api_as, editor, settings):
    settings.INGEST_MAX_SAMPLES = 10
    response = api_as(editor).post("/api/v1/ingest/", batch(11, time.time()), format="json")
    assert response.status_code == 413 and response.json()["error"]["details"]["max_samples"] == 10
    settings.INGEST_MAX_BYTES = 100
    response = api_as(editor).post("/api/v1/ingest/", batch(5, time.time()), format="json")
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"


def test_malformed_bodies_answer_400_json(api_as, editor):
    api = api_as(editor)
    assert (
        api.post("/api/v1/ingest/", "{oops", content_type="application/json").json()["error"]["code"] == "parse_error"
    )
    assert api.post("/api/v1/ingest/", {"nope": []}, format="json").status_code == 400
    assert api.post("/api/v1/ingest/", [1, 2], format="json").status_code == 400
    infinite = '{"samples": [{"metric": "ok", "value": 1e999}, {"metric": "ok", "value": NaN}]}'
    assert api.post("/api/v1/ingest/", infinite, content_type="application/json").status_code == 400


def test_ingest_keys_may_ingest_and_viewers_and_outsiders_may_not(anon_api, api_as, viewer, outsider):
    _, raw = IngestKey.issue("collector-1")
    anon_api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert anon_api.post("/api/v1/ingest/", batch(2, time.time() - 10), format="json").status_code == 202
    assert anon_api.get("/api/v1/metrics/").status_code == 403  # an ingest key reads nothing
    assert api_as(viewer).post("/api/v1/ingest/", batch(1, time.time()), format="json").status_code == 403
    assert api_as(outsider).post("/api/v1/ingest/", batch(1, time.time()), format="json").status_code == 403
    from rest_framework.test import APIClient

    assert APIClient().post("/api/v1/ingest/", batch(1, time.time()), format="json").status_code == 401


@pytest.mark.django_db(transaction=True)
def test_listeners_hear_about_each_committed_batch_once(api_as, editor):
    heard = []

    def listener(sender, **kwargs):
        heard.append(kwargs)

    samples_ingested.connect(listener)
    try:
        api_as(editor).post("/api/v1/ingest/", batch(3, time.time() - 10, host="a"), format="json")
    finally:
        samples_ingested.disconnect(listener)
    assert len(heard) == 1
    assert heard[0]["metrics"] == {"app_latency"}
    (sid,) = heard[0]["series_ids"]
    assert Series.objects.get(pk=sid).labels == {"host": "a"}


def test_a_batch_of_ten_thousand_samples_is_accepted(api_as, editor):
    start = time.time() - 5000
    body = {
        "samples": [
            {"metric": "big", "labels": {"s": str(i % 100)}, "value": i, "ts": start + i // 100} for i in range(10_000)
        ]
    }
    response = api_as(editor).post("/api/v1/ingest/", body, format="json")
    assert response.status_code == 202 and response.json() == {"accepted": 10_000}
    assert Series.objects.filter(metric__name="big").count() == 100
    assert len(stored("big")) == 10_000


def test_samples_of_a_disabled_metric_are_dropped_and_the_answer_says_so(api_as, editor):
    now = time.time() - 100
    Metric.objects.create(name="noisy_metric", enabled=False)
    body = batch(3, now, metric="noisy_metric")
    body["samples"] += batch(2, now, metric="kept_metric")["samples"]
    response = api_as(editor).post("/api/v1/ingest/", body, format="json")
    assert response.status_code == 202
    assert response.json() == {
        "accepted": 2,
        "dropped": {"samples": 3, "reason": "metric disabled by an admin", "metrics": ["noisy_metric"]},
    }
    assert stored("noisy_metric") == [] and len(stored("kept_metric")) == 2
    # Switched back on in the admin, the metric flows again at once.
    Metric.objects.filter(name="noisy_metric").update(enabled=True)
    Metric.objects.get(name="noisy_metric").save()
    assert api_as(editor).post("/api/v1/ingest/", batch(3, now, metric="noisy_metric"), format="json").json() == {
        "accepted": 3
    }
    assert len(stored("noisy_metric")) == 3

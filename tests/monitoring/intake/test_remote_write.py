import math
import struct
import time

import cramjam
import pytest
from django.test import Client

from monitoring.intake import remote_write
from monitoring.models import Series, SourceSeries
from tests.monitoring.intake.conftest import stored

pytestmark = pytest.mark.django_db

HEADERS = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf"}


def post(body: bytes, token: str | None) -> object:
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in HEADERS.items() if k != "Content-Type"}
    if token:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return Client().post("/api/v1/write", body, content_type="application/x-protobuf", **extra)


def now_ms(offset_s: float = 0) -> int:
    return int((time.time() - 60 + offset_s) * 1000)


def test_a_write_request_is_stored_with_its_labels_and_timestamps(ingest_key):
    t = now_ms()
    body = remote_write.encode(
        [
            ({"__name__": "node_load1", "job": "node", "instance": "a:9100"}, [(0.5, t), (0.75, t + 15000)]),
            ({"__name__": "node_load1", "job": "node", "instance": "b:9100"}, [(2.0, t)]),
        ]
    )
    response = post(body, ingest_key)
    assert response.status_code == 204
    assert stored("node_load1", instance="a:9100") == [(t / 1000, 0.5), ((t + 15000) / 1000, 0.75)]
    assert stored("node_load1", instance="b:9100") == [(t / 1000, 2.0)]
    assert Series.objects.get(labels__instance="b:9100").labels == {"job": "node", "instance": "b:9100"}


def test_a_resent_request_stores_nothing_twice(ingest_key):
    t = now_ms()
    body = remote_write.encode([({"__name__": "up", "job": "x"}, [(1.0, t), (1.0, t + 1000)])])
    assert post(body, ingest_key).status_code == 204
    assert post(body, ingest_key).status_code == 204
    more = remote_write.encode([({"__name__": "up", "job": "x"}, [(1.0, t + 1000), (0.0, t + 2000)])])
    assert post(more, ingest_key).status_code == 204
    assert [v for _, v in stored("up", job="x")] == [1.0, 1.0, 0.0]


def test_a_request_across_midnight_is_stored_in_both_days_and_a_resend_stores_nothing_twice(ingest_key, settings):
    settings.STORAGE_HOT_WINDOW_SECONDS = 3 * 86400  # both days still in the raw partitions
    today, yesterday = now_ms(), now_ms(-86400)
    body = remote_write.encode(
        [
            ({"__name__": "node_load5", "instance": "a:9100"}, [(1.0, yesterday), (2.0, today)]),
            ({"__name__": "node_load5", "instance": "b:9100"}, [(3.0, today)]),
        ]
    )
    assert post(body, ingest_key).status_code == 204
    assert post(body, ingest_key).status_code == 204
    assert stored("node_load5", instance="a:9100") == [(yesterday / 1000, 1.0), (today / 1000, 2.0)]
    assert stored("node_load5", instance="b:9100") == [(today / 1000, 3.0)]


def test_series_with_no_one_or_several_samples_each_keep_their_own_samples(ingest_key):
    t = now_ms()
    body = remote_write.encode(
        [
            ({"__name__": "node_load15", "instance": "empty"}, []),
            ({"__name__": "node_load15", "instance": "zero"}, [(0.0, t)]),
            ({"__name__": "node_load15", "instance": "two"}, [(1.0, t), (2.0, t + 1000)]),
            ({"__name__": "node_load15", "instance": "one"}, [(3.0, t)]),
        ]
    )
    assert post(body, ingest_key).status_code == 204
    assert stored("node_load15", instance="empty") == []
    assert stored("node_load15", instance="zero") == [(t / 1000, 0.0)]
    assert stored("node_load15", instance="two") == [(t / 1000, 1.0), ((t + 1000) / 1000, 2.0)]
    assert stored("node_load15", instance="one") == [(t / 1000, 3.0)]


def test_one_sample_per_series_with_zero_values_and_timestamps_decodes_each_in_its_place():
    # Prometheus' encoder leaves a zero value or a zero timestamp out of the sample: each sample
    # must still get its own value and timestamp (the one-sample-per-series fast path).
    t = now_ms()
    samples = [(0.0, t), (5.0, t), (0.0, t + 1000), (7.5, 0), (0.0, 0), (-0.0, t), (math.nan, t), (1e300, t)]
    body = remote_write.encode([({"__name__": "g", "i": str(i)}, [sample]) for i, sample in enumerate(samples)])
    columns = remote_write.decode(body)
    assert columns.series_index.tolist() == list(range(len(samples)))
    assert columns.ts_ms.tolist() == [ts for _, ts in samples]
    decoded = columns.values.tolist()
    assert [v for v in decoded if not math.isnan(v)] == [v for v, _ in samples if not math.isnan(v)]
    assert math.isnan(decoded[6])


def test_a_batch_in_any_series_order_keeps_the_first_value_of_a_timestamp_sent_twice(ingest_key):
    t = now_ms()
    first = [({"__name__": "order_x", "i": i}, [(0.0, t - 1000)]) for i in ("a", "b")]
    assert post(remote_write.encode(first), ingest_key).status_code == 204  # a's series id before b's
    again = [
        ({"__name__": "order_x", "i": "b"}, [(1.0, t), (2.0, t)]),
        ({"__name__": "order_x", "i": "a"}, [(3.0, t), (4.0, t)]),
    ]
    assert post(remote_write.encode(again), ingest_key).status_code == 204
    assert stored("order_x", i="a") == [((t - 1000) / 1000, 0.0), (t / 1000, 3.0)]
    assert stored("order_x", i="b") == [((t - 1000) / 1000, 0.0), (t / 1000, 1.0)]


def test_zero_values_are_stored_beside_the_others(ingest_key):
    t = now_ms()
    body = remote_write.encode(
        [({"__name__": "node_errs_total", "i": str(i)}, [(float(i % 2) * i, t)]) for i in range(6)]
    )
    assert post(body, ingest_key).status_code == 204
    assert [stored("node_errs_total", i=str(i)) for i in range(6)] == [[(t / 1000, float(i % 2) * i)] for i in range(6)]


def test_an_invalid_name_is_refused_with_a_400_and_the_valid_series_are_stored(ingest_key):
    t = now_ms()
    body = remote_write.encode(
        [({"__name__": "good_metric"}, [(1.0, t)]), ({"__name__": "bad-metric"}, [(1.0, t)]), ({"job": "x"}, [(2, t)])]
    )
    response = post(body, ingest_key)
    assert response.status_code == 400
    error = response.json()["error"]
    assert "2 samples refused, 1 stored" in error["message"]
    assert any("bad-metric" in reason for reason in error["details"]["reasons"])
    assert any("no __name__" in reason for reason in error["details"]["reasons"])
    assert stored("good_metric") == [(t / 1000, 1.0)]


def test_nan_and_inf_are_refused_but_a_stale_marker_is_simply_not_stored(ingest_key):
    t = now_ms()
    stale = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]
    ok = remote_write.encode([({"__name__": "m_stale"}, [(1.0, t), (stale, t + 1000)])])
    assert post(ok, ingest_key).status_code == 204
    assert stored("m_stale") == [(t / 1000, 1.0)]
    bad = remote_write.encode([({"__name__": "m_nan"}, [(math.nan, t), (math.inf, t + 1), (3.0, t + 2)])])
    response = post(bad, ingest_key)
    assert response.status_code == 400
    assert "NaN" in response.json()["error"]["message"]
    assert [v for _, v in stored("m_nan")] == [3.0]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"definitely not snappy", "snappy"),
        (bytes(cramjam.snappy.compress_raw(b"\x0a\xff\xff\xff\x0f trunc")), "protobuf"),
        (remote_write.encode([({"__name__": "m"}, [(1.0, 1)])])[:-3], "snappy"),
        (b"", "snappy"),
    ],
)
def test_undecodable_bodies_answer_400_with_the_reason(ingest_key, body, reason):
    response = post(body, ingest_key)
    assert response.status_code == 400
    assert reason in response.json()["error"]["message"]


def test_a_50_mb_body_answers_413(ingest_key):
    response = post(b"\0" * (50 * 1024 * 1024), ingest_key)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


def test_outsiders_and_viewers_are_turned_away(outsider, viewer):
    from accounts.models import ApiToken

    body = remote_write.encode([({"__name__": "m_auth"}, [(1.0, now_ms())])])
    assert post(body, None).status_code == 401
    assert post(body, "ssi_not-a-key").status_code == 401
    _, outsider_token = ApiToken.issue(outsider, "t")
    assert post(body, outsider_token).status_code == 403
    _, viewer_token = ApiToken.issue(viewer, "t")
    assert post(body, viewer_token).status_code == 403
    assert stored("m_auth") == []


def test_past_the_series_limit_new_series_are_refused_and_known_ones_keep_flowing(ingest_key, settings):
    settings.INTAKE_MAX_SERIES_PER_SOURCE = 2
    t = now_ms()
    first = remote_write.encode([({"__name__": "m_card", "i": str(i)}, [(1.0, t)]) for i in range(2)])
    assert post(first, ingest_key).status_code == 204
    more = remote_write.encode([({"__name__": "m_card", "i": str(i)}, [(2.0, t + 1000)]) for i in range(4)])
    response = post(more, ingest_key)
    assert response.status_code == 400
    assert "series limit reached" in response.json()["error"]["message"]
    assert len(stored("m_card")) == 4  # two series, two samples each
    assert SourceSeries.objects.filter(source="remote_write:key:prometheus").count() == 2
    from monitoring.intake import guard

    assert guard.refused_totals()["remote_write:key:prometheus"] >= 2


def test_the_refused_counter_is_exposed_on_metrics(ingest_key, settings, owner):
    settings.INTAKE_MAX_SERIES_PER_SOURCE = 1
    t = now_ms()
    post(remote_write.encode([({"__name__": "m_exp", "i": str(i)}, [(1.0, t)]) for i in range(3)]), ingest_key)
    client = Client()
    client.force_login(owner)
    text = client.get("/metrics").content.decode()
    assert "# TYPE seismo_series_refused_total counter" in text
    assert 'seismo_series_refused_total{source="remote_write:key:prometheus"} ' in text


def test_the_first_node_exporter_series_creates_the_node_dashboard(ingest_key, django_capture_on_commit_callbacks):
    from dashboards.models import Dashboard

    assert not Dashboard.objects.filter(title="Node").exists()
    with django_capture_on_commit_callbacks(execute=True):
        body = remote_write.encode(
            [({"__name__": "node_load1", "instance": "a:9100", "job": "node"}, [(1.0, now_ms())])]
        )
        assert post(body, ingest_key).status_code == 204
    node = Dashboard.objects.get(title="Node")
    assert node.variables == [{"name": "instance", "default": ""}]
    assert node.widgets.filter(metric="node_load1").exists()


def test_a_remote_write_2_sender_is_told_1_0_is_what_is_spoken(ingest_key):
    response = Client().post(
        "/api/v1/write",
        remote_write.encode([({"__name__": "m_v2"}, [(1.0, now_ms())])]),
        content_type="application/x-protobuf;proto=io.prometheus.write.v2.Request",
        HTTP_AUTHORIZATION=f"Bearer {ingest_key}",
        HTTP_CONTENT_ENCODING="snappy",
    )
    assert response.status_code == 415 and "remote-write 1.0" in response.json()["error"]["message"]
    assert stored("m_v2") == []


@pytest.mark.django_db(transaction=True)
def test_a_failing_listener_does_not_turn_a_stored_batch_into_an_error(caplog):
    from accounts.models import IngestKey
    from monitoring.signals import samples_ingested

    _, key = IngestKey.issue("prometheus")

    def broken(sender, **kwargs):
        raise RuntimeError("listener bug")

    samples_ingested.connect(broken)
    try:
        t = now_ms()
        body = remote_write.encode([({"__name__": "robust_up", "job": "x"}, [(1.0, t)])])
        assert post(body, key).status_code == 204  # committed: a retry would gain nothing
    finally:
        samples_ingested.disconnect(broken)
    assert stored("robust_up", job="x") == [(t / 1000, 1.0)]
    assert "listener bug" in caplog.text

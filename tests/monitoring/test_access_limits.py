"""/metrics needs a role; every API body is size-limited (DRF's parsers skip Django's limit)."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.django_db


def test_metrics_needs_a_user_with_a_role(api_as, client, outsider, viewer):
    assert api_as(outsider).get("/metrics").status_code == 403
    client.force_login(outsider)
    assert client.get("/metrics").status_code == 403
    assert api_as(viewer).get("/metrics").status_code == 200


def test_an_oversized_api_body_is_a_413_json_error(api_as, editor, settings):
    settings.API_MAX_BODY_BYTES = 10_000
    body = json.dumps({"title": "x", "description": "y" * 20_000})
    answer = api_as(editor).generic("POST", "/api/v1/dashboards/", body, content_type="application/json")
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "too_large"
    # A body that lies about its length is cut at the limit too.
    lying = api_as(editor).generic(
        "POST", "/api/v1/dashboards/", body, content_type="application/json", CONTENT_LENGTH="100"
    )
    assert lying.status_code in (400, 413)
    small = api_as(editor).post("/api/v1/dashboards/", {"title": "ok"}, format="json")
    assert small.status_code == 201


@pytest.mark.parametrize(
    "params",
    [
        {"from": "inf"},
        {"to": "1e300"},
        {"to": "0001-01-01T00:00:00Z"},
        {"from": "nan"},
        {"to": "9999-12-31T23:59:59-15:00"},
    ],
)
def test_out_of_range_query_times_are_a_400(api_as, viewer, params):
    answer = api_as(viewer).get("/api/v1/query/", {"metric": "cpu", **params})
    assert answer.status_code == 400 and answer.json()["error"]["details"]["field"] in params


@pytest.mark.parametrize("path", ["/api/v1/series/", "/api/v1/query/", "/api/v1/export/"])
def test_a_label_matcher_holding_nul_is_a_400_not_a_failed_query(api_as, viewer, path):
    answer = api_as(viewer).get(path, {"metric": "cpu", "label.host": "web\x001"})
    assert answer.status_code == 400 and "NUL" in answer.json()["error"]["message"]


def test_an_unknown_api_path_answers_the_json_envelope_even_under_debug(api_as, viewer, settings):
    settings.DEBUG = True
    answer = api_as(viewer).get("/api/v1/no-such-thing/")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "query",
    [
        "limit=abc",
        "limit=0",
        "offset=-1",
        "limit=100000",
        "started_after=",
        "started_before=1231-07-05T01:11:15%2B17:31",
        "rule=999999",
    ],
)
def test_list_parameters_are_as_strict_as_the_schema(api_as, owner, query):
    answer = api_as(owner).get(f"/api/v1/alerts/?{query}")
    if query == "rule=999999":  # a well-formed id of nothing: an empty list, not an error
        assert answer.status_code == 200 and answer.json()["results"] == []
    elif query.startswith("started_before"):  # an offset PostgreSQL cannot store: the same instant in UTC
        assert answer.status_code == 200
    else:
        assert answer.status_code == 400

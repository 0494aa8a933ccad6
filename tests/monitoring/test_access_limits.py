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

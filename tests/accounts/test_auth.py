import asyncio
import os

import pytest
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User

from accounts.models import ApiToken, hash_token
from config.asgi import application

pytestmark = pytest.mark.django_db


def test_anonymous_pages_redirect_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/")
    for path in ("/dashboards/", "/alerts/", "/loadtest/"):
        assert client.get(path).status_code == 302


def test_anonymous_api_gets_a_401_json_envelope(anon_api):
    response = anon_api.get("/api/v1/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert set(response.json()["error"]) == {"code", "message", "details"}


def test_a_user_logs_in_and_sees_the_overview(client, viewer):
    page = client.get("/accounts/login/")
    assert page.status_code == 200 and b"Log in" in page.content
    response = client.post("/accounts/login/", {"username": "viewer", "password": "pw-viewer"})
    assert response.status_code == 302 and response["Location"] == "/"
    overview = client.get("/")
    assert overview.status_code == 200
    assert b"Components" in overview.content and b"database" in overview.content.lower()


def test_a_wrong_password_shows_a_form_error(client, viewer):
    response = client.post("/accounts/login/", {"username": "viewer", "password": "nope"})
    assert response.status_code == 200
    assert b"form-error" in response.content


def test_logout_ends_the_session(client, viewer):
    client.force_login(viewer)
    assert client.get("/").status_code == 200
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_a_user_without_a_role_is_refused(client, outsider):
    client.force_login(outsider)
    response = client.get("/")
    assert response.status_code == 403
    assert b"no role" in response.content


def test_the_token_endpoint_issues_a_working_token(anon_api, editor):
    response = anon_api.post("/api/v1/auth/token/", {"username": "editor", "password": "pw-editor"}, format="json")
    assert response.status_code == 200
    raw = response.json()["token"]
    token = ApiToken.objects.get(user=editor)
    assert token.key_hash == hash_token(raw) and raw not in token.key_hash  # stored hashed only
    anon_api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    me = anon_api.get("/api/v1/")
    assert me.status_code == 200 and me.json()["user"] == "editor"


def test_the_token_endpoint_refuses_bad_credentials_and_bad_input(anon_api, editor):
    wrong = anon_api.post("/api/v1/auth/token/", {"username": "editor", "password": "x"}, format="json")
    assert wrong.status_code == 401 and wrong.json()["error"]["message"] == "Wrong username or password."
    missing = anon_api.post("/api/v1/auth/token/", {"username": "editor"}, format="json")
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "invalid"
    assert "password" in missing.json()["error"]["details"]
    garbage = anon_api.post("/api/v1/auth/token/", "{not json", content_type="application/json")
    assert garbage.status_code == 400 and "error" in garbage.json()


def test_an_unknown_or_malformed_bearer_token_is_refused(anon_api):
    anon_api.credentials(HTTP_AUTHORIZATION="Bearer sst_unknown")
    assert anon_api.get("/api/v1/").status_code == 401
    anon_api.credentials(HTTP_AUTHORIZATION="Bearer two parts")
    assert anon_api.get("/api/v1/").json()["error"]["code"] == "not_authenticated"


def test_an_inactive_users_token_stops_working(api_as, editor):
    api = api_as(editor)
    assert api.get("/api/v1/").status_code == 200
    User.objects.filter(pk=editor.pk).update(is_active=False)
    assert api.get("/api/v1/").status_code == 401


def test_an_outsiders_token_reads_nothing(api_as, outsider):
    response = api_as(outsider).get("/api/v1/")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_unknown_api_paths_answer_json_404(api_as, viewer):
    response = api_as(viewer).get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_the_openapi_schema_and_offline_docs_are_served(client, viewer):
    client.force_login(viewer)
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"openapi" in schema.content
    assert b"/api/v1/auth/token/" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower() and b"swagger-ui" in docs.content


@pytest.mark.django_db(transaction=True)
def test_the_websocket_refuses_anonymous_connections_with_4401():
    async def scenario():
        communicator = WebsocketCommunicator(application, "/ws/metrics/", headers=[(b"origin", b"http://localhost")])
        connected, _ = await communicator.connect()
        assert connected  # accepted, then closed with the protocol's code
        assert await communicator.receive_output(timeout=5) == {"type": "websocket.close", "code": 4401}

    asyncio.run(scenario())


@pytest.mark.django_db(transaction=True)
def test_the_websocket_accepts_a_token_and_refuses_a_bad_one(editor):
    _, raw = ApiToken.issue(editor)

    async def scenario():
        ok = WebsocketCommunicator(application, f"/ws/metrics/?token={raw}", headers=[(b"origin", b"http://localhost")])
        connected, _ = await ok.connect()
        assert connected
        first = await ok.receive_json_from(timeout=10)
        assert first["type"] == "initialData" and first["seq"] == 1
        await ok.disconnect()
        bad = WebsocketCommunicator(
            application, "/ws/metrics/?token=sst_forged", headers=[(b"origin", b"http://localhost")]
        )
        await bad.connect()
        assert await bad.receive_output(timeout=5) == {"type": "websocket.close", "code": 4401}

    asyncio.run(scenario())


def test_the_openapi_schema_generates_without_warnings():
    from django.core.management import call_command
    from drf_spectacular.drainage import GENERATOR_STATS

    GENERATOR_STATS.reset()
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", os.devnull)
    assert not GENERATOR_STATS

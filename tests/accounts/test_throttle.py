"""Login throttling on every door, keyed on the real client address; tokens that expire and are revoked."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ApiToken

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"


def forged(i: int) -> dict[str, str]:
    return {"HTTP_X_FORWARDED_FOR": f"203.0.113.{i}"}


def test_eleven_failed_page_logins_with_rotating_forwarded_for_lock_the_user_out(client, viewer):
    for i in range(10):
        answer = client.post("/accounts/login/", {"username": "viewer", "password": "wrong"}, **forged(i))
        assert "Too many failed logins" not in answer.content.decode()
    locked = client.post("/accounts/login/", {"username": "viewer", "password": "wrong"}, **forged(10))
    assert locked.status_code == 200 and "Too many failed logins" in locked.content.decode()
    right = client.post("/accounts/login/", {"username": "viewer", "password": "pw-viewer"}, **forged(11))
    assert right.status_code == 200 and "Too many failed logins" in right.content.decode()
    assert client.get("/").status_code == 302  # still not logged in
    # Another client address is not locked out.
    other = client.post("/accounts/login/", {"username": "viewer", "password": "pw-viewer"}, REMOTE_ADDR="198.51.100.7")
    assert other.status_code == 302


def test_eleven_failed_admin_logins_lock_the_admin_login_too(client, owner):
    for i in range(11):
        answer = client.post("/admin/login/", {"username": "owner", "password": "wrong"}, **forged(i))
    assert answer.status_code == 200 and "Too many failed logins" in answer.content.decode()
    right = client.post("/admin/login/?next=/admin/", {"username": "owner", "password": "pw-owner"})
    assert right.status_code == 200 and "Too many failed logins" in right.content.decode()


def test_eleven_failed_token_requests_get_a_429_json_with_retry_after(anon_api, editor):
    statuses = [
        anon_api.post(TOKEN_URL, {"username": "editor", "password": "x"}, format="json", **forged(i)).status_code
        for i in range(11)
    ]
    assert statuses == [401] * 10 + [429]
    right = anon_api.post(TOKEN_URL, {"username": "editor", "password": "pw-editor"}, format="json", **forged(99))
    assert right.status_code == 429 and int(right["Retry-After"]) == 900
    assert right.json()["error"]["code"] == "throttled" and "15 minutes" in right.json()["error"]["message"]
    assert not ApiToken.objects.filter(user=editor).exists()


def test_a_lockout_on_one_door_holds_on_the_others(client, anon_api, editor):
    for _ in range(10):
        client.post("/accounts/login/", {"username": "editor", "password": "wrong"})
    assert anon_api.post(TOKEN_URL, {"username": "editor", "password": "pw-editor"}, format="json").status_code == 429


def test_behind_a_trusted_proxy_forwarded_for_names_the_client(settings, anon_api, editor):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    for _ in range(10):
        anon_api.post(TOKEN_URL, {"username": "editor", "password": "x"}, format="json", **forged(5))
    # The forwarded client 203.0.113.5 is locked out; another client behind the same proxy is not.
    assert (
        anon_api.post(
            TOKEN_URL, {"username": "editor", "password": "pw-editor"}, format="json", **forged(5)
        ).status_code
        == 429
    )
    assert (
        anon_api.post(
            TOKEN_URL, {"username": "editor", "password": "pw-editor"}, format="json", **forged(6)
        ).status_code
        == 200
    )
    # The right-most untrusted hop counts: a client prepending addresses cannot escape.
    spoofed = {"HTTP_X_FORWARDED_FOR": "192.0.2.1, 203.0.113.5"}
    assert (
        anon_api.post(TOKEN_URL, {"username": "editor", "password": "pw-editor"}, format="json", **spoofed).status_code
        == 429
    )


def test_one_address_trying_many_usernames_is_locked_out(settings, anon_api, editor):
    settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS = 5
    for i in range(5):
        anon_api.post(TOKEN_URL, {"username": f"guess{i}", "password": "x"}, format="json")
    answer = anon_api.post(TOKEN_URL, {"username": "editor", "password": "pw-editor"}, format="json")
    assert answer.status_code == 429


def test_a_token_may_expire(anon_api, editor):
    answer = anon_api.post(
        TOKEN_URL, {"username": "editor", "password": "pw-editor", "expires_in_seconds": 3600}, format="json"
    )
    assert answer.status_code == 200 and answer.json()["expires_at"]
    anon_api.credentials(HTTP_AUTHORIZATION=f"Bearer {answer.json()['token']}")
    assert anon_api.get("/api/v1/").status_code == 200
    ApiToken.objects.filter(pk=answer.json()["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert anon_api.get("/api/v1/").status_code == 401
    too_long = anon_api.post(
        TOKEN_URL, {"username": "editor", "password": "pw-editor", "expires_in_seconds": 10**12}, format="json"
    )
    assert too_long.status_code == 400 and "expires_in_seconds" in too_long.json()["error"]["details"]


def test_owners_list_and_revoke_their_own_tokens_only(api_as, editor, viewer):
    mine = api_as(editor)
    theirs = api_as(viewer)
    listed = mine.get("/api/v1/auth/tokens/")
    assert listed.status_code == 200
    (row,) = listed.json()["results"]
    assert set(row) == {"id", "name", "prefix", "created_at", "expires_at"} and "token" not in row
    viewer_token = ApiToken.objects.get(user=viewer)
    assert mine.delete(f"/api/v1/auth/tokens/{viewer_token.pk}/").status_code == 404
    assert theirs.get("/api/v1/").status_code == 200
    assert mine.delete(f"/api/v1/auth/tokens/{row['id']}/").status_code == 204
    assert mine.get("/api/v1/").status_code == 401  # the revoked token no longer works


def test_a_password_change_revokes_the_users_tokens(api_as, editor, viewer):
    mine, theirs = api_as(editor), api_as(viewer)
    editor.set_password("a-new-password")
    editor.save()
    assert mine.get("/api/v1/").status_code == 401
    assert theirs.get("/api/v1/").status_code == 200
    assert not ApiToken.objects.filter(user=editor).exists()

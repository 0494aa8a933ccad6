"""The audit trail: rows written for changes through the API, the admin and the login doors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from audit import services
from audit.models import AuditEntry

pytestmark = pytest.mark.django_db

SILENCE = {
    "matchers": {"host": "web-1"},
    "ends_at": (timezone.now() + timedelta(hours=12)).isoformat(),
    "comment": "deploy",
}


def entries(**filters) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(**filters).order_by("id"))


def test_api_changes_are_recorded_with_actor_address_and_a_field_diff(api_as, editor):
    api = api_as(editor)
    created = api.post("/api/v1/silences/", SILENCE, format="json", REMOTE_ADDR="198.51.100.4")
    assert created.status_code == 201
    silence_id = str(created.json()["id"])
    api.patch(f"/api/v1/silences/{silence_id}/", {"comment": "deploy 2"}, format="json")
    api.delete(f"/api/v1/silences/{silence_id}/")
    rows = entries(object_type="alerts.silence")
    assert [r.action for r in rows] == ["create", "update", "delete"]
    assert all(r.actor_name == "editor" and r.object_id == silence_id for r in rows)
    assert rows[0].ip == "198.51.100.4"
    assert rows[0].changes["matchers"] == [None, {"host": "web-1"}]
    assert rows[1].changes == {"comment": ["deploy", "deploy 2"]}  # only what changed


def test_channel_secrets_never_reach_the_trail(api_as, owner, settings):
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    secret_url = "http://127.0.0.1:9/hooks/T000/B000/very-secret-path"
    answer = api_as(owner).post(
        "/api/v1/notification-channels/",
        {"name": "ops", "kind": "webhook", "config": {"url": secret_url, "secret": "hmac-key-123"}},
        format="json",
    )
    assert answer.status_code == 201
    (row,) = entries(object_type="alerts.notificationchannel")
    assert row.changes["config"] == [None, {"url": "•••", "secret": "•••"}]
    listed = api_as(owner).get("/api/v1/audit/").content.decode()
    assert "very-secret-path" not in listed and "hmac-key-123" not in listed


def test_admin_changes_are_recorded_through_the_same_writer(client, owner):
    client.force_login(owner)
    answer = client.post(
        "/admin/alerts/silence/add/",
        {
            "matchers": '{"host": "db-1"}',
            "starts_at_0": "2030-01-01",
            "starts_at_1": "00:00:00",
            "ends_at_0": "2030-01-01",
            "ends_at_1": "02:00:00",
            "comment": "by admin",
            "match_all": "",
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    (row,) = entries(object_type="alerts.silence")
    assert row.action == "create" and row.actor_name == "owner" and row.ip == "127.0.0.1"


def test_logins_failed_logins_and_tokens_are_recorded(client, anon_api, viewer, editor):
    client.post("/accounts/login/", {"username": "viewer", "password": "wrong"}, REMOTE_ADDR="203.0.113.9")
    client.post("/accounts/login/", {"username": "viewer", "password": "pw-viewer"})
    token = anon_api.post("/api/v1/auth/token/", {"username": "editor", "password": "pw-editor"}, format="json")
    anon_api.credentials(HTTP_AUTHORIZATION=f"Bearer {token.json()['token']}")
    assert anon_api.delete(f"/api/v1/auth/tokens/{token.json()['id']}/").status_code == 204
    failed, login = entries(action="login_failed"), entries(action="login")
    assert [(r.actor_name, r.ip) for r in failed] == [("viewer", "203.0.113.9")]
    assert [(r.actor_name, r.actor_id) for r in login] == [("viewer", viewer.pk)]
    (created,) = entries(action="token_created", actor=editor)
    (revoked,) = entries(action="token_revoked")
    assert created.object_id == revoked.object_id == str(token.json()["id"])
    assert created.changes["key_hash"][1] == "•••"
    assert revoked.actor_name == "editor"


def test_the_audit_api_is_admins_only_and_filters_by_actor_type_and_time(api_as, anon_api, owner, editor, viewer):
    api_as(editor).post("/api/v1/silences/", SILENCE, format="json")
    admin = api_as(owner)
    for user in (editor, viewer):
        assert api_as(user).get("/api/v1/audit/").status_code == 403
    assert anon_api.get("/api/v1/audit/").status_code == 401
    rows = admin.get("/api/v1/audit/", {"actor": "editor", "type": "alerts.silence"}).json()["results"]
    assert len(rows) == 1
    assert set(rows[0]) >= {"at", "actor", "action", "object_type", "object_id", "changes", "ip"}
    assert rows[0]["actor"] == "editor" and rows[0]["action"] == "create"
    later = (timezone.now() + timedelta(minutes=1)).isoformat()
    assert admin.get("/api/v1/audit/", {"since": later}).json()["results"] == []
    assert admin.get("/api/v1/audit/", {"since": "not-a-time"}).status_code == 400


def test_the_admin_page_is_read_only(client, owner, api_as, editor):
    api_as(editor).post("/api/v1/silences/", SILENCE, format="json")
    client.force_login(owner)
    listing = client.get("/admin/audit/auditentry/")
    assert listing.status_code == 200 and "editor" in listing.content.decode()
    assert client.get("/admin/audit/auditentry/add/").status_code == 403
    row = AuditEntry.objects.first()
    assert client.post(f"/admin/audit/auditentry/{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.filter(pk=row.pk).exists()


def test_rows_older_than_the_retention_are_pruned(settings, api_as, editor):
    settings.AUDIT_RETENTION_DAYS = 30
    api_as(editor).post("/api/v1/silences/", SILENCE, format="json")
    old = AuditEntry.objects.create(action="create", object_type="alerts.silence")
    AuditEntry.objects.filter(pk=old.pk).update(at=timezone.now() - timedelta(days=31))
    assert services.prune() == 1
    assert not AuditEntry.objects.filter(pk=old.pk).exists() and AuditEntry.objects.exists()

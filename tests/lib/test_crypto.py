"""Channel secrets are encrypted at rest, readable through the app, and rotatable."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from alerts.models import NotificationChannel
from lib import crypto

pytestmark = pytest.mark.django_db

HOOK = "https://hooks.slack.com/services/T1/B2/super-secret-path"


def stored(channel: NotificationChannel) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT config::text FROM alerts_notificationchannel WHERE id = %s", [channel.pk])
        return cursor.fetchone()[0]


def test_a_channel_created_through_the_api_is_encrypted_in_the_database(api_as, owner, settings):
    settings.OUTBOUND_ALLOWLIST = ["hooks.slack.com"]
    answer = api_as(owner).post(
        "/api/v1/notification-channels/", {"name": "s", "kind": "slack", "config": {"webhook_url": HOOK}}, format="json"
    )
    assert answer.status_code == 201
    channel = NotificationChannel.objects.get()
    raw = stored(channel)
    assert "super-secret-path" not in raw and "hooks.slack.com" not in raw and '"fernet"' in raw
    assert channel.config == {"webhook_url": HOOK}  # the app reads it back
    assert "super-secret-path" not in answer.content.decode()  # and the API still masks it


def test_keys_rotate_without_losing_a_secret(settings):
    channel = NotificationChannel.objects.create(name="s", kind="slack", config={"webhook_url": HOOK})
    before = stored(channel)
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key]  # the SECRET_KEY-derived key still decrypts old rows
    assert NotificationChannel.objects.get().config["webhook_url"] == HOOK
    call_command("rotate_field_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115
    after = stored(channel)
    assert after != before
    token = after.split('"fernet": "')[1].split('"')[0]
    assert HOOK in Fernet(new_key.encode()).decrypt(token.encode()).decode()  # now under the new key
    settings.SECRET_KEY = "another-secret-key-entirely"  # the derived key is gone: the new key suffices
    assert NotificationChannel.objects.get().config["webhook_url"] == HOOK


def test_rows_written_before_encryption_read_as_they_are_and_are_encrypted_on_save():
    channel = NotificationChannel.objects.create(name="s", kind="slack", config={})
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE alerts_notificationchannel SET config = %s::jsonb WHERE id = %s",
            [json.dumps({"webhook_url": HOOK}), channel.pk],
        )
    legacy = NotificationChannel.objects.get()
    assert legacy.config == {"webhook_url": HOOK}
    legacy.save()
    assert "super-secret-path" not in stored(legacy)


def test_a_malformed_key_fails_with_a_clear_message(settings):
    settings.FIELD_ENCRYPTION_KEYS = ["not-a-key"]
    with pytest.raises(Exception, match="FIELD_ENCRYPTION_KEYS"):
        crypto.encrypt(b"x")

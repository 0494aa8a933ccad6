"""The admin runs the API's channel validation: an invalid channel is a form error."""

import pytest

from alerts.models import NotificationChannel

pytestmark = pytest.mark.django_db

ADD = "/admin/alerts/notificationchannel/add/"


def add(client, kind: str, config: str):
    return client.post(ADD, {"name": "ops", "kind": kind, "config": config, "enabled": "on"})


def test_the_admin_refuses_a_channel_missing_what_its_kind_needs(client, owner):
    client.force_login(owner)
    answer = add(client, "slack", '{"url": "https://hooks.example.com/x"}')
    assert answer.status_code == 200  # the form again, not a redirect
    assert "slack channels need webhook_url" in answer.context["adminform"].form.errors["config"][0]
    answer = add(client, "email", '{"to": "not-a-list"}')
    assert "list of email addresses" in answer.context["adminform"].form.errors["config"][0]
    assert not NotificationChannel.objects.exists()


def test_the_admin_refuses_a_webhook_outside_the_outbound_allowlist(client, owner, settings):
    settings.OUTBOUND_ALLOWLIST = []
    client.force_login(owner)
    answer = add(client, "webhook", '{"url": "http://192.168.1.1/hook"}')
    assert answer.status_code == 200
    (error,) = answer.context["adminform"].form.errors["config"]
    assert error.startswith("url:") and "OUTBOUND_ALLOWLIST" in error
    assert not NotificationChannel.objects.exists()


def test_the_admin_saves_a_valid_channel(client, owner, settings):
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    client.force_login(owner)
    answer = add(client, "webhook", '{"url": "http://127.0.0.1:9/hook"}')
    assert answer.status_code == 302
    assert NotificationChannel.objects.get().config == {"url": "http://127.0.0.1:9/hook"}


def test_changing_a_channels_kind_to_one_its_config_does_not_fit_is_refused(client, owner):
    channel = NotificationChannel.objects.create(name="mail", kind="email", config={"to": ["ops@example.com"]})
    client.force_login(owner)
    answer = client.post(
        f"/admin/alerts/notificationchannel/{channel.pk}/change/", {"name": "mail", "kind": "slack", "enabled": "on"}
    )
    assert answer.status_code == 200
    assert "slack channels need webhook_url" in answer.context["adminform"].form.errors["kind"][0]
    channel.refresh_from_db()
    assert channel.kind == "email"

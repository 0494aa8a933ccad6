"""Notifications go out through the outbound gate: no redirect, no rebinding, no unvettable Apprise URL."""

from __future__ import annotations

import pytest

from alerts import outbox
from alerts.choices import NotificationStatus
from alerts.models import NotificationChannel
from tests.stands import Stand

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("kind", "key"), [("webhook", "url"), ("slack", "webhook_url")])
def test_a_receiver_redirecting_to_a_refused_address_never_gets_it_a_request(settings, outbound_pair, kind, key):
    _, refused = outbound_pair
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    redirecting = Stand("127.0.0.1", redirect_to=f"{refused.url}/latest/meta-data/")
    try:
        channel = NotificationChannel.objects.create(name="ops", kind=kind, config={key: f"{redirecting.url}/hook"})
        result = outbox.send_test(channel)
    finally:
        redirecting.close()
    assert result.status != NotificationStatus.SENT and "answered 302" in result.last_error
    assert [path for path, _ in redirecting.requests] == ["/hook"]
    assert refused.requests == []


def test_a_rebinding_receiver_name_is_connected_to_at_the_vetted_address_only(settings, outbound_pair, rebinding_dns):
    allowed, refused = outbound_pair
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    channel = NotificationChannel.objects.create(
        name="ops", kind="webhook", config={"url": f"http://rebind.test:{allowed.port}/hook"}
    )
    first = outbox.send_test(channel)
    second = outbox.send_test(channel)  # the name now answers 127.0.0.2: refused before connecting
    assert first.status == NotificationStatus.SENT
    assert second.status == NotificationStatus.FAILED and "127.0.0.2" in second.last_error
    assert [path for path, _ in allowed.requests] == ["/hook"]
    assert refused.requests == []


def test_an_apprise_url_to_a_refused_address_is_refused_at_save_by_api_and_admin(api_as, owner, client, outbound_pair):
    _, refused = outbound_pair
    url = f"json://127.0.0.2:{refused.port}/"
    answer = api_as(owner).post(
        "/api/v1/notification-channels/", {"name": "a", "kind": "apprise", "config": {"url": url}}, format="json"
    )
    assert answer.status_code == 400 and "cannot be vetted" in answer.json()["error"]["message"]
    client.force_login(owner)
    page = client.post(
        "/admin/alerts/notificationchannel/add/",
        {"name": "a", "kind": "apprise", "config": f'{{"url": "{url}"}}', "enabled": "on"},
    )
    assert page.status_code == 200 and "cannot be vetted" in page.content.decode()
    assert not NotificationChannel.objects.exists()


def test_an_apprise_url_to_a_refused_address_is_refused_at_send(outbound_pair):
    _, refused = outbound_pair
    channel = NotificationChannel.objects.create(  # written around the API, e.g. before the rule existed
        name="a", kind="apprise", config={"url": f"json://127.0.0.2:{refused.port}/"}
    )
    result = outbox.send_test(channel)
    channel.refresh_from_db()
    assert result.status == NotificationStatus.FAILED and "cannot be vetted" in result.last_error
    assert not channel.enabled  # a permanent error disables the channel
    assert refused.requests == []

"""Every link in every notification starts with SEISMO_PUBLIC_URL (not the listen address)."""

import json
import time

import pytest

from alerts import lifecycle, outbox
from alerts.models import AlertRule, NotificationChannel
from monitoring.store.writer import record_samples

pytestmark = pytest.mark.django_db

PUBLIC = "https://seismo.example.com"


@pytest.fixture
def public_url(settings):
    # The Dockerfile's listen address: before the fix, every link pointed at it.
    settings.SEISMO_HOST, settings.SEISMO_PORT = "0.0.0.0", 8000
    settings.SEISMO_PUBLIC_URL = PUBLIC


def fire(*channels: NotificationChannel) -> int:
    rule = AlertRule.objects.create(name="CPU high", metric="cpu", critical_threshold=90)
    rule.channels.add(*channels)
    record_samples([("cpu", {"host": "web-1"}, time.time() - 1, 95.0)])
    (alert,) = lifecycle.evaluate_rule(rule)
    outbox.deliver_due()
    return alert.pk


def test_slack_and_webhook_messages_link_to_the_public_url(public_url, receiver):
    slack = NotificationChannel.objects.create(name="s", kind="slack", config={"webhook_url": receiver.url + "/s"})
    hook = NotificationChannel.objects.create(name="w", kind="webhook", config={"url": receiver.url + "/w"})
    pk = fire(slack, hook)
    bodies = {r["path"]: json.loads(r["body"]) for r in receiver.requests}
    buttons = [e for b in bodies["/s"]["attachments"][0]["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [button["url"] for button in buttons] == [f"{PUBLIC}/alerts/{pk}/"]
    assert bodies["/w"]["url"] == f"{PUBLIC}/alerts/{pk}/"
    assert [a["url"] for a in bodies["/w"]["alerts"]] == [f"{PUBLIC}/alerts/{pk}/"]
    assert "0.0.0.0" not in str(receiver.requests)


def test_email_links_to_the_public_url(public_url, smtp_sink):
    mail = NotificationChannel.objects.create(name="m", kind="email", config={"to": ["ops@example.com"]})
    pk = fire(mail)
    (envelope,) = smtp_sink
    content = envelope.content.decode()
    assert f"Open: {PUBLIC}/alerts/{pk}/" in content  # the text part
    assert f'href="{PUBLIC}/alerts/{pk}/"' in content  # the HTML part
    assert "0.0.0.0" not in content


def test_a_test_message_links_to_the_public_alerts_page(public_url, receiver):
    hook = NotificationChannel.objects.create(name="w", kind="webhook", config={"url": receiver.url})
    assert outbox.send_test(hook).status == "sent"
    assert receiver.json()["url"] == f"{PUBLIC}/alerts/"


def test_slack_text_from_labels_and_names_is_escaped(receiver):
    slack = NotificationChannel.objects.create(name="s", kind="slack", config={"webhook_url": receiver.url + "/s"})
    rule = AlertRule.objects.create(name="CPU <b> & co", metric="cpu", critical_threshold=90)
    rule.channels.add(slack)
    record_samples([("cpu", {"host": "<!channel>", "link": "<https://evil.example|click>"}, time.time() - 1, 95.0)])
    lifecycle.evaluate_rule(rule)
    outbox.deliver_due()
    raw = receiver.requests[-1]["body"].decode()
    body = json.loads(raw)
    assert "<!channel>" not in raw and "<https://evil" not in raw
    texts = json.dumps(body)
    assert "&lt;!channel&gt;" in texts and "CPU &lt;b&gt; &amp; co" in body["text"]


def test_the_link_in_a_message_opens_that_alerts_own_page(public_url, receiver, client, viewer):
    hook = NotificationChannel.objects.create(name="w", kind="webhook", config={"url": receiver.url + "/w"})
    pk = fire(hook)
    link = json.loads(receiver.requests[0]["body"])["url"]
    assert link == f"{PUBLIC}/alerts/{pk}/"
    client.force_login(viewer)
    page = client.get(link.removeprefix(PUBLIC))
    assert page.status_code == 200
    assert "CPU high" in page.content.decode() and 'id="alert-state"' in page.content.decode()

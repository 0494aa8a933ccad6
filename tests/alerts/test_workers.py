"""Two real Celery workers drain the same outbox: every message is sent exactly once."""

import signal
import time

import pytest
from celery import current_app

from alerts import outbox
from alerts.models import DeliveryAttempt, Notification, NotificationChannel
from tests.conftest import start_worker, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_workers_never_send_a_notification_twice(receiver):
    receiver.delay = 0.02  # slow receiver: the workers' sends overlap
    channels = [
        NotificationChannel.objects.create(name=f"hook {i}", kind="webhook", config={"url": f"{receiver.url}/{i}"})
        for i in range(40)
    ]
    Notification.objects.bulk_create([Notification(channel=c, kind="test") for c in channels])
    workers = [start_worker(name, OUTBOUND_ALLOWLIST="127.0.0.1") for name in ("alerts-a", "alerts-b")]
    try:
        for _ in range(16):  # both workers pick up deliver_due runs at the same time
            current_app.send_task("alerts.tasks.deliver_due")
        wait_until(lambda: not Notification.objects.exclude(status="sent").exists(), timeout=60)
        time.sleep(0.5)  # a duplicate send would land now
    finally:
        for worker in workers:
            worker.stop()
    paths = sorted(r["path"] for r in receiver.requests)
    assert paths == sorted(f"/{i}" for i in range(40))
    assert all("succeeded" in w.output() for w in workers), "both workers ran deliveries"


def test_a_send_a_killed_worker_interrupted_is_retried_with_the_same_notification_id(receiver, settings):
    """The receiver got the first POST, but the worker died before hearing its answer: the
    retry carries the same id, both attempts show, and it comes once the receiver's own time
    limit has passed rather than after a long lease."""
    settings.NOTIFY_TIMEOUT_SECONDS = 2.0  # the claim is stale 2 + 5 s after the send started
    receiver.delay = 1.5
    channel = NotificationChannel.objects.create(name="hook", kind="webhook", config={"url": f"{receiver.url}/hook"})
    notification = Notification.objects.create(channel=channel, kind="test")
    first = start_worker("alerts-doomed", OUTBOUND_ALLOWLIST="127.0.0.1", NOTIFY_TIMEOUT_SECONDS="2")
    try:
        current_app.send_task("alerts.tasks.deliver_due")
        wait_until(lambda: receiver.requests, timeout=30)
        first.stop(signal.SIGKILL)
    finally:
        first.stop()
    notification.refresh_from_db()
    assert notification.status == "pending" and notification.claimed_at is not None
    assert outbox.release_stale_claims() == 0  # the receiver may still be answering
    wait_until(lambda: outbox.release_stale_claims() == 1, timeout=15, interval=0.5)

    second = start_worker("alerts-heir", OUTBOUND_ALLOWLIST="127.0.0.1", NOTIFY_TIMEOUT_SECONDS="2")
    try:
        current_app.send_task("alerts.tasks.deliver_due")
        wait_until(lambda: Notification.objects.get(pk=notification.pk).status == "sent", timeout=30)
    finally:
        second.stop()
    ids = [request["headers"]["X-Seismo-Notification-Id"] for request in receiver.requests]
    assert len(ids) == 2 and ids[0] == ids[1] == notification.notification_id
    assert [receiver.json(i)["notification_id"] for i in (0, 1)] == ids
    attempts = list(DeliveryAttempt.objects.filter(notification=notification).values_list("outcome", flat=True))
    assert attempts == ["interrupted", "sent"]

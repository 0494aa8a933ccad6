"""Two real Celery workers drain the same outbox: every message is sent exactly once."""

import time

import pytest
from celery import current_app

from alerts.models import Notification, NotificationChannel
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

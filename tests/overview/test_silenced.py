"""The overview says what is silenced right now."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.utils import timezone

from alerts.models import MaintenanceWindow, Silence

pytestmark = pytest.mark.django_db


def test_the_overview_lists_active_silences_and_windows_only(client, viewer):
    now = timezone.now()
    Silence.objects.create(matchers={"host": "web-7"}, ends_at=now + timedelta(hours=1), comment="deploy")
    Silence.objects.create(
        matchers={"host": "old-1"}, starts_at=now - timedelta(hours=2), ends_at=now - timedelta(hours=1)
    )
    MaintenanceWindow.objects.create(name="patching", match_all=True, start_time=time(0), duration_minutes=1440)
    client.force_login(viewer)
    page = client.get("/").content.decode()
    section = page.split('id="silenced"')[1].split("</section>")[0]
    assert "web-7" in section and "deploy" in section
    assert "every alert" in section and "patching" in section
    assert "old-1" not in section


def test_the_overview_says_when_nothing_is_silenced(client, viewer):
    client.force_login(viewer)
    assert "Nothing is silenced." in client.get("/").content.decode()

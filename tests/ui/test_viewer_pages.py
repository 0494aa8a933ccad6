"""A viewer reads every page and finds no control that changes anything: no form that posts
(but logging out), no HTMX write, no create / start / stop / edit / acknowledge button or link."""

from __future__ import annotations

import re
import time

import pytest
from django.test import Client
from django.utils import timezone

from alerts import lifecycle
from alerts.models import AlertRule
from checks.models import Check
from dashboards.models import Dashboard
from loadtest.choices import RunStatus
from loadtest.models import LoadTestRun, Scenario
from monitoring.store.writer import record_samples

pytestmark = pytest.mark.django_db

WRITES = re.compile(r"""<form[^>]*method=["']post["'][^>]*>|hx-(post|put|patch|delete)=""", re.IGNORECASE)
# A button or link that reads as an action.
CONTROL_WORDS = re.compile(
    r"<(button|a)\b[^>]*>\s*(New|Create|Start|Stop|Edit|Delete|Pause|Resume|Acknowledge|Resolve|Add|Mark)\b",
    re.IGNORECASE,
)


def _pages() -> dict[str, str]:
    rule = AlertRule.objects.create(name="Disk full", metric="ui_viewer_disk", critical_threshold=90)
    record_samples([("ui_viewer_disk", {"host": "web1"}, time.time() - 5, 95.0)])
    (alert,) = lifecycle.evaluate_rule(rule)
    if alert.state == "pending":
        alert.fire(timezone.now())
    check = Check.objects.create(name="nightly backup", kind="heartbeat")
    scenario = Scenario.objects.create(name="Home page", target_url="http://127.0.0.1:1", duration_seconds=3)
    finished, running = (
        LoadTestRun.objects.create(scenario=scenario, config={}, status=status, started_at=timezone.now())
        for status in (RunStatus.FINISHED, RunStatus.RUNNING)
    )
    board = Dashboard.objects.get(default_key="system")
    widget = board.widgets.first()
    return {
        "overview": "/",
        "dashboards": "/dashboards/",
        "dashboard": f"/dashboards/{board.pk}/",
        "widget history": f"/dashboards/{board.pk}/widgets/{widget.pk}/",
        "explore": "/explore/?m0=ui_viewer_disk",
        "alerts": "/alerts/",
        "alert": f"/alerts/{alert.pk}/",
        "checks": "/checks/",
        "check": f"/checks/{check.pk}/",
        "sla": "/checks/sla/",
        "targets": "/targets/",
        "load tests": "/loadtest/",
        "finished run": f"/loadtest/runs/{finished.pk}/",
        "running run": f"/loadtest/runs/{running.pk}/",
        "compare": f"/loadtest/compare/?a={finished.pk}&b={running.pk}",
    }


def _without_logout(html: str) -> str:
    return re.sub(r'<form method="post" action="/accounts/logout/".*?</form>', "", html, flags=re.DOTALL)


def test_a_viewer_sees_no_control_that_changes_anything_on_any_page(viewer):
    client = Client()
    client.force_login(viewer)
    for name, url in _pages().items():
        response = client.get(url)
        assert response.status_code == 200, name
        html = _without_logout(response.content.decode())
        assert WRITES.search(html) is None, (name, WRITES.search(html))
        assert CONTROL_WORDS.search(html) is None, (name, CONTROL_WORDS.search(html))


def test_an_editor_does_see_the_controls(editor):
    # The same patterns find the controls where the role has them (the test above is not vacuous).
    client = Client()
    client.force_login(editor)
    pages = _pages()
    for name in ("dashboards", "checks", "load tests", "running run", "alert"):
        html = _without_logout(client.get(pages[name]).content.decode())
        assert WRITES.search(html) or CONTROL_WORDS.search(html), name

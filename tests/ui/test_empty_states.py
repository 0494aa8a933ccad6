"""On a fresh instance every page says what to do next: the button to press or the command to run."""

from __future__ import annotations

import pytest
from django.test import Client

from dashboards import services as dashboard_services

pytestmark = pytest.mark.django_db


def _page(user, url: str) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def test_empty_pages_tell_an_editor_what_to_do_next(editor):
    checks = _page(editor, "/checks/")
    assert 'href="/checks/new/">New check</a>' in checks and "POST /api/v1/checks/" in checks
    loadtest = _page(editor, "/loadtest/")
    assert 'id="no-scenarios"' in loadtest and "/loadtest/scenarios/new/?preset=api_stress" in loadtest
    assert "press Start on a scenario" not in loadtest  # no scenario to start yet
    alerts = _page(editor, "/alerts/")
    assert "POST /api/v1/alert-rules/" in alerts and "No alert has fired yet." in alerts
    assert "/api/v1/scrape-targets/" in _page(editor, "/targets/")
    assert 'id="chart-empty"' in _page(editor, "/explore/")
    assert "Start a load test" in _page(editor, "/")
    board = dashboard_services.create_dashboard(editor, {"title": "Empty"})
    detail = _page(editor, f"/dashboards/{board.pk}/")
    assert 'id="no-widgets"' in detail and "Add a widget" in detail and 'href="/explore/"' in detail
    assert 'href="/checks/">Checks</a> page' in _page(editor, "/checks/sla/")


def test_a_viewer_is_told_who_can_add_things(viewer):
    checks = _page(viewer, "/checks/")
    assert "An editor adds them here" in checks and "/checks/new/" not in checks
    assert "POST /api/v1/loadtest/scenarios/" in _page(viewer, "/loadtest/")

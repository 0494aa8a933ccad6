"""Fixtures shared by the monitoring tests."""

from __future__ import annotations

import pytest

from monitoring import middleware
from monitoring.middleware import RequestStats


@pytest.fixture
def stats(monkeypatch) -> RequestStats:
    """This test's own request counters: the process-wide ones are flushed by a background
    thread (started by any earlier request) that would take the counts mid-test."""
    own = RequestStats(autoflush=False)
    monkeypatch.setattr(middleware, "stats", own)
    return own

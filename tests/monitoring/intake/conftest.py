from __future__ import annotations

import pytest
from django.db import connection

from accounts.models import IngestKey


@pytest.fixture
def ingest_key(db: None) -> str:
    _, raw = IngestKey.issue("prometheus")
    return raw


def stored(metric: str, **labels: str) -> list[tuple[float, float]]:
    """(epoch seconds, value) of every stored sample of ``metric`` whose labels contain ``labels``."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT extract(epoch FROM ts)::float8, value FROM monitoring_sample s "
            "JOIN monitoring_series r ON r.id = s.series_id JOIN monitoring_metric m ON m.id = r.metric_id "
            "WHERE m.name = %s AND r.labels @> %s::jsonb ORDER BY ts",
            [metric, __import__("json").dumps(labels)],
        )
        return [(float(ts), value) for ts, value in cursor.fetchall()]

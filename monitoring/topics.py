"""The stream's topic names: producers publish on these, the consumer admits these, and pages
get them from the server (``initialData``, a ``json_script`` block), never from a copy.

Plain strings rather than TextChoices: they travel as dict keys through orjson, which accepts
only exact ``str`` keys.
"""

from __future__ import annotations

from typing import Final

SYSTEM: Final = "system-metrics"
DATABASE: Final = "database-metrics"
CACHE: Final = "cache-metrics"
NETWORK: Final = "network-metrics"
BASIC: Final = "basic-metrics"  # Celery and ingested (custom) metrics
ALERT: Final = "alert"
LOADTEST_PROGRESS: Final = "loadtest-progress"
CHECKS: Final = "checks"  # check results and state changes (checks.services.publish)

# Topics that carry metric batches: a dashboard's live widgets follow all of these.
METRIC_TOPICS: Final = (SYSTEM, DATABASE, CACHE, NETWORK, BASIC)
# Every named topic; ``series:<metric>{labels}`` topics come on top (lib.realtime.series_topic).
ALL: Final = (*METRIC_TOPICS, ALERT, LOADTEST_PROGRESS, CHECKS)
SERIES_PREFIX: Final = "series:"

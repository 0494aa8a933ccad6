"""The stream's topic names: producers publish on these, the consumer admits these, and pages
get them from the server (``initialData``, a ``json_script`` block), never from a copy.

Plain strings rather than TextChoices: they travel as dict keys through orjson, which accepts
only exact ``str`` keys.
"""

from __future__ import annotations

import re
from typing import Final

from lib.realtime import series_topic
from monitoring.rules import NAME_RE, label_problem

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

_SERIES_RE = re.compile(r"^series:([^{]*)\{(.*)\}$", re.S)
# Pairs are split at a comma followed by a label name and "=" (a value may hold commas).
_PAIR_SPLIT = re.compile(r",(?=[a-zA-Z_][a-zA-Z0-9_]*=)")


def series_topic_problem(topic: str) -> str | None:
    """Why ``topic`` is not a single-series topic as producers spell it (``series:<metric>{k=v,…}``,
    a valid metric name, valid labels, keys sorted), or None when it is one."""
    found = _SERIES_RE.match(topic)
    if found is None:
        return "a series topic reads series:<metric>{label=value,…}"
    metric, inner = found.groups()
    if not NAME_RE.match(metric):
        return f"{metric[:50]!r} is not a metric name"
    labels: dict[str, str] = {}
    for pair in _PAIR_SPLIT.split(inner) if inner else ():
        name, sep, value = pair.partition("=")
        if not sep or name in labels:
            return "labels read label=value, each name once"
        labels[name] = value
    problem = label_problem(labels)
    if problem is not None:
        return problem[1]
    if series_topic(metric, labels) != topic:
        return "label names must be sorted (as series_topic spells them)"
    return None


def for_pages() -> dict[str, object]:
    """The topic names pages subscribe to, by role: base.html puts this in a ``json_script``
    block (#seismo-topics) that stream.js exposes as ``SeismoStream.topics``."""
    return {
        "system": SYSTEM,
        "database": DATABASE,
        "cache": CACHE,
        "network": NETWORK,
        "basic": BASIC,
        "alert": ALERT,
        "loadtest_progress": LOADTEST_PROGRESS,
        "checks": CHECKS,
        "metrics": list(METRIC_TOPICS),
        "series_prefix": SERIES_PREFIX,
    }

"""The rules every metric obeys, whichever door it came in by: name syntax, label syntax, limits.

One home: ingest, the query API, alert rules, dashboards and the JS (through the server) read
these values from here.
"""

from __future__ import annotations

import re
from typing import Any

NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]{0,199}$")
LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,99}$")
METRIC_NAME_RULE = "metric must match [a-zA-Z_:][a-zA-Z0-9_:]* (at most 200 characters)"
LABEL_NAME_RULE = "must match [a-zA-Z_][a-zA-Z0-9_]* (at most 100 characters)"
MAX_LABELS = 20
MAX_LABEL_VALUE = 256
# A sample may be at most this far ahead of the receiving clock (senders' clocks drift).
MAX_FUTURE_SECONDS = 600
# A chart never draws more than this many points per series; queries raise their step to fit.
MAX_POINTS = 2000
MAX_SERIES_PER_QUERY = 500


def is_metric_name(name: Any) -> bool:
    return isinstance(name, str) and NAME_RE.fullmatch(name) is not None


def label_problem(labels: Any) -> tuple[str, str] | None:
    """(rule, message) for the first thing wrong with a label set, or None when it is valid."""
    if not isinstance(labels, dict):
        return "labels", "labels must be an object"
    if len(labels) > MAX_LABELS:
        return "label_count", f"at most {MAX_LABELS} labels"
    label_ok = LABEL_RE.match
    for key, value in labels.items():
        if not isinstance(key, str) or not label_ok(key):
            return "label_name", f"label name {str(key)[:50]!r} {LABEL_NAME_RULE}"
        if not isinstance(value, str):
            return "label_value", f"label {key!r} must be a string"
        if len(value) > MAX_LABEL_VALUE:
            return "label_value", f"label {key!r} is longer than {MAX_LABEL_VALUE} characters"
    return None

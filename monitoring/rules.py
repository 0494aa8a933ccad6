"""The rules every metric obeys, whichever door it came in by: name syntax, label syntax, limits.

One home: ingest, the query API, alert rules, dashboards and the JS (through the server) read
these values from here.
"""

from __future__ import annotations

import re
from typing import Any

# Each ends with a lookahead where ``$`` would also let a trailing newline through (Python); the
# patterns go into the OpenAPI document as they are (ECMA regex reads them the same).
NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]{0,199}(?![\s\S])")
LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,99}(?![\s\S])")
METRIC_NAME_RULE = "metric must match [a-zA-Z_:][a-zA-Z0-9_:]* (at most 200 characters)"
LABEL_NAME_RULE = "must match [a-zA-Z_][a-zA-Z0-9_]* (at most 100 characters)"
# The time syntax of a query's `from` and `to` (its parser matches it first, the OpenAPI document
# carries it):
# epoch seconds from 86400 (1970-01-02) with at most 11 digits, or an RFC 3339 date (a calendar one:
# no 30 February) from 1971 to 9997, optionally with a time and an offset (none: UTC; a space for
# the sign is a `+` the query string decoded) — every such value lies in 1970-01-02 … 9999-01-01.
_EPOCH = r"(?:864\d\d|86[5-9]\d\d|8[7-9]\d{3}|9\d{4}|[1-9]\d{5,10})(?:\.\d+)?"
_YEAR = r"(?:197[1-9]|19[89]\d|[2-8]\d{3}|9[0-8]\d\d|99[0-8]\d|999[0-7])"
_LEAP_YEAR = r"(?:19(?:7[26]|8[048]|9[26])|[2-9]\d(?:0[48]|[2468][048]|[13579][26])|(?:[2468][048]|[3579][26])00)"
_MONTH_DAY = r"(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
_CLOCK = r"(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d+)?)?"
_HOURS_MINUTES = r"(?:[01]\d|2[0-3]):[0-5]\d"
_OFFSET = rf"(?:Z|[+\- ]{_HOURS_MINUTES})"
_DATE = rf"(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
TIME_RE = re.compile(rf"^(?:{_EPOCH}|{_DATE}(?:T{_CLOCK}{_OFFSET}?)?)?(?![\s\S])")  # empty: the default
# A sample's ``ts`` as text: epoch seconds, or an RFC 3339 date and time with its offset (how far
# from now it may be is the ingest window's rule, not the syntax's).
SAMPLE_TS_RE = re.compile(rf"^(?:\d+(?:\.\d+)?|{_DATE}T{_CLOCK}(?:Z|[+-]{_HOURS_MINUTES}))(?![\s\S])")
MAX_LABELS = 20
MAX_LABEL_VALUE = 256
# A sample may be at most this far ahead of the receiving clock (senders' clocks drift).
MAX_FUTURE_SECONDS = 600
# A chart never draws more than this many points per series; queries raise their step to fit.
MAX_POINTS = 2000
MAX_SERIES_PER_QUERY = 500
# A query's bucket width, at most (a year: wider buckets say nothing a year's do not).
MAX_STEP_SECONDS = 366 * 86400


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
        if "\x00" in value:  # PostgreSQL text cannot hold it
            return "label_value", f"label {key!r} holds a NUL character"
    return None


def labels_schema() -> dict[str, Any]:
    """A label set as ``label_problem`` checks it, in JSON Schema (the API's request schemas)."""
    return {
        "type": "object",
        "maxProperties": MAX_LABELS,
        "propertyNames": {"pattern": LABEL_RE.pattern},
        "additionalProperties": {"type": "string", "maxLength": MAX_LABEL_VALUE, "pattern": "^[^\\x00]*$"},
    }

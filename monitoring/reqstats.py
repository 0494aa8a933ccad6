"""The request-stats wire format: how the middleware names its counters in a period's Redis
hash, and how the network collector reads them back. Both sides import this module.

A *period* is a fixed PERIOD_SECONDS slice of time: every web process adds its counts to the
period's hash, and the collector turns each finished period into samples exactly once.
Fields are ``<kind>|<part>|<part>…``; the kinds and their parts:

- ``c|route|method|status class|source`` requests answered
- ``e|route|source`` answers with a 5xx status
- ``b|route|source`` response bytes
- ``s|route|source|bucket`` requests whose duration fell in that lib.sketch bucket
- ``q|source`` and ``qt|source`` database queries and their milliseconds
- ``f|pid`` requests in flight in that process (set, not added)
"""

from __future__ import annotations

from typing import Final

from lib.sketch import bucket_of

PERIOD_SECONDS: Final = 5
PERIOD_TTL_SECONDS: Final = 120  # a period's hash outlives any collector delay
SEP: Final = "|"

REQUESTS: Final = "c"
ERRORS: Final = "e"
BYTES: Final = "b"
LATENCY: Final = "s"
QUERIES: Final = "q"
QUERY_MS: Final = "qt"
IN_FLIGHT: Final = "f"

# Methods counted under their own name; anything else (Twisted accepts e.g. ``GE|T``, which
# would break the field format) is counted as OTHER.
METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"})
OTHER_METHOD: Final = "OTHER"

# Redis keys (under lib.redis.key): the collector's bookkeeping next to the periods' hashes.
DONE_KEY: Final = "reqstats:done"  # the start of the last period turned into samples
TOTALS_KEY: Final = "reqstats:totals"  # running totals behind the *_total counters


def period_of(now: float) -> int:
    """The start (epoch seconds) of the period ``now`` falls in."""
    return int(now) // PERIOD_SECONDS * PERIOD_SECONDS


def period_key(start: int) -> str:
    return f"reqstats:{start}"


def claim_key(start: int) -> str:
    """Set once by the collector run that turns this period into samples."""
    return f"reqstats:claimed:{start}"


def field(kind: str, *parts: object) -> str:
    return SEP.join((kind, *map(str, parts)))


def parse(name: str) -> tuple[str, list[str]]:
    """``"e|/api/|seismo"`` → ``("e", ["/api/", "seismo"])``."""
    kind, _, rest = name.partition(SEP)
    return kind, rest.split(SEP)


def method_label(method: str) -> str:
    return method if method in METHODS else OTHER_METHOD


# The field names one request adds to, per (route, method label, status class, source): built
# once, since formatting five names per request was most of the middleware's cost. Routes are
# URL patterns and methods are normalised first, so the keys are few; the cap is a backstop.
_KEYS_LIMIT: Final = 4096
_keys: dict[tuple[str, str, int, str], tuple[str, str, str, str, str, str | None]] = {}


def _request_keys(route: str, label: str, status_class: int, source: str) -> tuple[str, str, str, str, str, str | None]:
    keys = (
        field(REQUESTS, route, label, f"{status_class}xx", source),
        field(LATENCY, route, source, ""),  # the bucket is appended per request
        field(BYTES, route, source),
        field(QUERIES, source),
        field(QUERY_MS, source),
        field(ERRORS, route, source) if status_class >= 5 else None,
    )
    if len(_keys) >= _KEYS_LIMIT:
        _keys.clear()
    _keys[(route, label, status_class, source)] = keys
    return keys


def request_fields(
    *,
    route: str,
    method: str,
    status: int,
    source: str,
    elapsed_ms: float,
    size: int,
    queries: int,
    query_ms: float,
) -> list[tuple[str, float]]:
    """What one answered request adds to the current period."""
    label = method_label(method)
    status_class = status // 100
    keys = _keys.get((route, label, status_class, source)) or _request_keys(route, label, status_class, source)
    requests, latency, size_key, queries_key, query_ms_key, errors = keys
    fields: list[tuple[str, float]] = [
        (requests, 1),
        (latency + bucket_of(elapsed_ms), 1),
        (size_key, size),
        (queries_key, queries),
        (query_ms_key, query_ms),
    ]
    if errors is not None:
        fields.append((errors, 1))
    return fields

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
    fields: list[tuple[str, float]] = [
        (field(REQUESTS, route, method_label(method), f"{status // 100}xx", source), 1),
        (field(LATENCY, route, source, bucket_of(elapsed_ms)), 1),
        (field(BYTES, route, source), size),
        (field(QUERIES, source), queries),
        (field(QUERY_MS, source), query_ms),
    ]
    if status >= 500:
        fields.append((field(ERRORS, route, source), 1))
    return fields

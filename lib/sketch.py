"""A mergeable log-bucketed histogram for percentiles of rolled-up data.

Each value falls into a bucket whose bounds grow by GAMMA (2 % relative error), keyed
``p<i>`` (positive), ``n<i>`` (negative) or ``z`` (zero). Merging two sketches adds counts, so
1-minute sketches sum into hourly ones and any range's percentile comes from the sum. The same
bucket formula is written in SQL (``SQL_BUCKET``) so rollups build sketches inside PostgreSQL.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

GAMMA = 1.02
_LOG_GAMMA = math.log(GAMMA)

# The bucket key of ``value`` as a SQL expression (must agree with ``bucket_of``).
SQL_BUCKET = (
    "CASE WHEN value > 0 THEN 'p' || floor(ln(value) / ln(1.02))::bigint "
    "WHEN value < 0 THEN 'n' || floor(ln(-value) / ln(1.02))::bigint ELSE 'z' END"
)


def bucket_of(value: float) -> str:
    if value > 0:
        return f"p{math.floor(math.log(value) / _LOG_GAMMA)}"
    if value < 0:
        return f"n{math.floor(math.log(-value) / _LOG_GAMMA)}"
    return "z"


def representative(key: str) -> float:
    """The value a bucket stands for: the geometric middle of its bounds."""
    if key == "z":
        return 0.0
    index = int(key[1:])
    magnitude = GAMMA ** (index + 0.5)
    return magnitude if key[0] == "p" else -magnitude


def build(values: Iterable[float]) -> dict[str, int]:
    sketch: dict[str, int] = {}
    for value in values:
        key = bucket_of(value)
        sketch[key] = sketch.get(key, 0) + 1
    return sketch


def merge(sketches: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for sketch in sketches:
        for key, count in sketch.items():
            total[key] = total.get(key, 0) + int(count)
    return total


def _order(key: str) -> float:
    return representative(key)


def quantile(sketch: Mapping[str, int], q: float) -> float | None:
    """The q-quantile (0..1) of the values the sketch counted, within 2 %."""
    total = sum(int(c) for c in sketch.values())
    if total == 0:
        return None
    rank = q * (total - 1)
    seen = 0
    for key in sorted(sketch, key=_order):
        seen += int(sketch[key])
        if seen > rank:
            return representative(key)
    return representative(max(sketch, key=_order))

"""A mergeable log-bucketed histogram for percentiles of rolled-up data.

Each value falls into a bucket whose bounds grow by GAMMA (2 % relative error), keyed
``p<i>`` (positive), ``n<i>`` (negative) or ``z`` (zero). Merging two sketches adds counts, so
1-minute sketches sum into hourly ones and any range's percentile comes from the sum.

Stored (rollup rows) a sketch is binary, 8 bytes a bucket: (code, count) as big-endian int32
pairs in code order, where a bucket's code is 0 for ``z``, ``i + CODE_OFFSET`` for ``p<i>`` and
its negation for ``n<i>`` (codes sort like the values they stand for). The same formula is
written in SQL (``SQL_CODE``, ``SQL_ENCODE``, ``sql_decode``) so rollups build and merge
sketches inside PostgreSQL.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Mapping

GAMMA = 1.02
_LOG_GAMMA = math.log(GAMMA)

# |bucket index| stays below 38,000 for every finite float64, so codes fit an int32 either way.
CODE_OFFSET = 50_000
# Non-finite values (±Inf; NaN counts as +Inf, where PostgreSQL sorts it) get the outermost codes.
INF_CODE = 99_999

# The bucket code of ``value`` as a SQL expression (must agree with ``code_of(bucket_of(v))``).
SQL_CODE = (
    "CASE WHEN value = 'Infinity'::float8 OR value = 'NaN'::float8 THEN 99999 "
    "WHEN value = '-Infinity'::float8 THEN -99999 "
    "WHEN value > 0 THEN floor(ln(value) / ln(1.02))::int + 50000 "
    "WHEN value < 0 THEN -(floor(ln(-value) / ln(1.02))::int + 50000) ELSE 0 END"
)
# An aggregate over rows of (code, n) that builds the binary sketch.
SQL_ENCODE = "string_agg(int4send(code) || int4send(n::int), ''::bytea ORDER BY code)"


def sql_decode(column: str) -> str:
    """A FROM item yielding (code, n) for every bucket of the binary sketch in ``column``."""
    word = f"('x' || encode(substring({column} FROM g * 8 + {{}} FOR 4), 'hex'))::bit(32)::int"
    return (
        f"LATERAL (SELECT {word.format(1)} AS code, {word.format(5)} AS n "  # noqa: S608 (column is ours, not input)
        f"FROM generate_series(0, length({column}) / 8 - 1) g) kv"
    )


def code_of(key: str) -> int:
    if key == "z":
        return 0
    if key in ("p+inf", "n+inf"):
        return INF_CODE if key[0] == "p" else -INF_CODE
    index = int(key[1:]) + CODE_OFFSET
    return index if key[0] == "p" else -index


def key_of(code: int) -> str:
    if code == 0:
        return "z"
    if abs(code) == INF_CODE:
        return "p+inf" if code > 0 else "n+inf"
    return f"p{code - CODE_OFFSET}" if code > 0 else f"n{-code - CODE_OFFSET}"


def encode(sketch: Mapping[str, int]) -> bytes:
    """The stored form of a sketch (see the module docstring)."""
    pairs = sorted((code_of(key), int(count)) for key, count in sketch.items())
    return b"".join(struct.pack(">ii", code, count) for code, count in pairs)


def decode(blob: bytes | memoryview) -> dict[str, int]:
    data = bytes(blob)
    return {key_of(code): count for code, count in struct.iter_unpack(">ii", data)}


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
    if key.endswith("+inf"):
        return math.inf if key[0] == "p" else -math.inf
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

"""Float sums that cannot fail.

PostgreSQL's ``sum(float8)`` raises "value out of range: overflow" when finite values add up
past ±1.8e308 (it returns ±Infinity only when an input already is infinite), so two samples of
1e308 in one minute would fail every query over them and every rollup run of their batch.
Statements write their float sums with :func:`sum_of`; :func:`execute` runs them as written and,
only when PostgreSQL refuses, again with exact ``numeric`` sums, where a total past the float
range becomes ±Infinity — what IEEE arithmetic (and the chunks' numpy sums) gives.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import DataError, connection, transaction
from psycopg import errors

_MARK = "/*fsum*/"
_MARKED = re.compile(r"/\*fsum\*/sum\((?P<expr>[^()]*?)(?P<order>\s+ORDER BY [^()]*)?\)")
_FLOAT_MAX = "1.7976931348623157e308"


def sum_of(expression: str, order_by: str = "") -> str:
    """``sum(expression [ORDER BY order_by])`` over float8, marked for :func:`execute`."""
    order = f" ORDER BY {order_by}" if order_by else ""
    return f"{_MARK}sum({expression}{order})"


def _exact(match: re.Match[str]) -> str:
    total = f"sum(({match['expr']})::numeric{match['order'] or ''})"
    return (
        f"(CASE WHEN abs({total}) > {_FLOAT_MAX} THEN sign({total})::float8 * 'Infinity'::float8 "
        f"ELSE {total}::float8 END)"
    )


def exact_sql(sql: str) -> str:
    """``sql`` with every marked float sum computed exactly (numeric) and clamped to ±Infinity."""
    return _MARKED.sub(_exact, sql)


def execute(cursor: Any, sql: str, params: Sequence[Any] | Mapping[str, Any]) -> None:
    """``cursor.execute(sql, params)``; on a float-sum overflow, the exact form of ``sql``."""
    if _MARK not in sql:
        cursor.execute(sql, params)
        return
    try:
        if connection.in_atomic_block:
            with transaction.atomic():  # a savepoint: the refused statement must not end the caller's transaction
                cursor.execute(sql, params)
        else:
            cursor.execute(sql, params)
    except DataError as exc:
        if not isinstance(exc.__cause__, errors.NumericValueOutOfRange):
            raise
        cursor.execute(exact_sql(sql), params)

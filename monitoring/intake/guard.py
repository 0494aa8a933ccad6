"""The cardinality guard: each source (ingest key, scrape target, OTLP sender, remote-write
sender) may create at most ``INTAKE_MAX_SERIES_PER_SOURCE`` series. Past it, new series are
refused with a reason and counted in ``seismo_series_refused_total{source}``; series the source
already has keep flowing at any count."""

from __future__ import annotations

import logging

import orjson
from django.conf import settings
from django.db import connection

from lib.redis import get_redis, key

logger = logging.getLogger(__name__)

REFUSED_KEY = "series-refused"


def reason(source: str) -> str:
    limit = settings.INTAKE_MAX_SERIES_PER_SOURCE
    return f"series limit reached: {source} already has {limit} series (INTAKE_MAX_SERIES_PER_SOURCE)"


def admit(source: str, identities: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """The (metric, labels_key) identities ``source`` may write: those it already has, then new
    ones while it stays under the limit. Called only for series this process has not seen."""
    if not identities:
        return set()
    limit = settings.INTAKE_MAX_SERIES_PER_SOURCE
    text = {name + labels: (name, labels) for name, labels in identities}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT series_key FROM monitoring_sourceseries WHERE source = %s "
            "AND series_key IN (SELECT jsonb_array_elements_text(%s::jsonb))",
            # As JSON: psycopg quotes a text[] element by element, slow for keys full of quotes.
            [source, orjson.dumps(list(text)).decode()],
        )
        known = {row[0] for row in cursor.fetchall()}
        new = [item for item in text if item not in known]
        admitted = known
        if new:
            cursor.execute("SELECT count(*) FROM monitoring_sourceseries WHERE source = %s", [source])
            room = max(0, limit - cursor.fetchone()[0])
            taken = new[:room]
            if taken:
                cursor.execute(
                    "INSERT INTO monitoring_sourceseries (source, series_key, created_at) "
                    "SELECT %s, k, now() FROM jsonb_array_elements_text(%s::jsonb) AS k ON CONFLICT DO NOTHING",
                    [source, orjson.dumps(taken).decode()],
                )
            admitted = known | set(taken)
            if len(new) > room:
                count_refused(source, len(new) - room)
    return {text[item] for item in admitted}


def count_refused(source: str, series: int) -> None:
    try:
        get_redis().hincrby(key(REFUSED_KEY), source, series)
    except Exception as exc:  # the counter is best effort; the refusal itself stands
        logger.warning("counting refused series for %s failed: %s", source, exc)


def refused_totals() -> dict[str, int]:
    """source → series refused so far (``seismo_series_refused_total``)."""
    try:
        raw = get_redis().hgetall(key(REFUSED_KEY))
    except Exception:  # /metrics still renders without Redis
        return {}
    return {k.decode(): int(v) for k, v in raw.items()}

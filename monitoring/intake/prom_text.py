"""Prometheus text exposition (0.0.4) and OpenMetrics parsing, for scrapes.

prometheus-client's parsers are the judges of the syntax: every series line a target serves is
parsed by them the first time it is seen. A target serves the same series scrape after scrape
with new values, so after that first time the hot path only splits the value (and timestamp)
off the end of the line and looks the series text up in a per-target dictionary — which is what
the bench measured to be about ten times faster than parsing every line in full (bench/bench_doors.py).
OpenMetrics bodies (exemplars, ``# EOF``, timestamps in seconds) go through the OpenMetrics
parser whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

OPENMETRICS_TYPE = "application/openmetrics-text"


class ExpositionError(ValueError):
    """The body is not valid exposition text; the message says where and why."""


@dataclass
class Exposition:
    """The samples of one scrape: series text (the cache key), value, timestamp in ms or None."""

    keys: list[str] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    ts_ms: list[int | None] = field(default_factory=list)
    types: dict[str, str] = field(default_factory=dict)


class SeriesCache(dict[str, tuple[str, dict[str, str]]]):
    """Series text → (name, labels) as the official parser read it; one per target."""

    limit = 100_000

    def remember(self, key: str, value: tuple[str, dict[str, str]]) -> None:
        if len(self) >= self.limit:
            self.clear()
        self[key] = value


def _parse_series(key: str) -> tuple[str, dict[str, str]]:
    # prometheus_client's parsers load with the first scrape body, not with the scrape planner.
    from prometheus_client.parser import text_string_to_metric_families as parse_text

    try:
        families = list(parse_text(f"{key} 0\n"))
    except Exception as exc:  # the parser raises ValueError, IndexError, KeyError … on bad text
        raise ExpositionError(f"invalid series {key[:120]!r}: {exc}") from None
    samples = [sample for family in families for sample in family.samples]
    if len(samples) != 1:
        raise ExpositionError(f"invalid series {key[:120]!r}")
    return samples[0].name, dict(samples[0].labels)


def parse(text: str, cache: SeriesCache, *, content_type: str = "", sample_limit: int = 0) -> Exposition:
    """Samples of a scrape body; raises ExpositionError (line and reason) like Prometheus would fail it."""
    if content_type.startswith(OPENMETRICS_TYPE):
        return _parse_openmetrics(text, cache, sample_limit)
    out = Exposition()
    keys, values, stamps, types = out.keys, out.values, out.ts_ms, out.types
    for number, line in enumerate(text.split("\n"), 1):
        if not line or line[0] == "#":
            if line.startswith("# TYPE "):
                parts = line.split()
                if len(parts) >= 4:
                    types[parts[2]] = parts[3]
            continue
        brace = line.rfind("}")
        if brace >= 0:
            key = line[: brace + 1]
            rest = line[brace + 1 :].split()
        else:
            parts = line.split()
            key, rest = (parts[0] if parts else ""), parts[1:]
        if not key or not rest or len(rest) > 2:
            if not line.strip():
                continue
            raise ExpositionError(f"line {number}: expected '<series> <value> [<timestamp>]', got {line[:120]!r}")
        try:
            value = float(rest[0])
            stamp = int(rest[1]) if len(rest) == 2 else None
        except ValueError:
            raise ExpositionError(f"line {number}: invalid value or timestamp in {line[:120]!r}") from None
        if key not in cache:
            try:
                cache.remember(key, _parse_series(key))
            except ExpositionError as exc:
                raise ExpositionError(f"line {number}: {exc}") from None
        keys.append(key)
        values.append(value)
        stamps.append(stamp)
        if sample_limit and len(keys) > sample_limit:
            raise ExpositionError(f"sample_limit exceeded: more than {sample_limit} samples")
    return out


def _parse_openmetrics(text: str, cache: SeriesCache, sample_limit: int) -> Exposition:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics  # see above

    out = Exposition()
    try:
        for family in parse_openmetrics(text):
            out.types[family.name] = family.type
            for sample in family.samples:
                labels = dict(sample.labels)
                key = sample.name + "{" + ",".join(f"{k}={v!r}" for k, v in sorted(labels.items())) + "}"
                if key not in cache:
                    cache.remember(key, (sample.name, labels))
                out.keys.append(key)
                out.values.append(float(sample.value))
                stamp = sample.timestamp
                out.ts_ms.append(None if stamp is None else _openmetrics_ms(stamp))
                if sample_limit and len(out.keys) > sample_limit:
                    raise ExpositionError(f"sample_limit exceeded: more than {sample_limit} samples")
    except ExpositionError:
        raise
    except Exception as exc:  # the OpenMetrics parser raises ValueError and friends
        raise ExpositionError(f"invalid OpenMetrics: {exc}") from None
    return out


def _openmetrics_ms(stamp: object) -> int:
    # OpenMetrics timestamps are seconds (prometheus-client hands back a Timestamp or a float).
    seconds = getattr(stamp, "sec", None)
    if seconds is not None:
        return int(seconds) * 1000 + int(getattr(stamp, "nsec", 0)) // 1_000_000
    value = float(stamp)  # type: ignore[arg-type]
    if not math.isfinite(value):
        raise ExpositionError("invalid OpenMetrics timestamp")
    return int(value * 1000)

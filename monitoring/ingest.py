"""Ingest validation — the one gate every door shares (JSON ingest, remote-write, OTLP, scrapes).

Each door turns its wire format into (metric, labels, ts, value) samples; this module applies
the rules (``monitoring.rules``: names, labels, limits; timestamps inside the retention and not
too far ahead), drops samples of metrics an admin disabled, and hands the rest to the writer.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import repeat
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from lib.api import ApiError
from monitoring.choices import FAMILY_TOPIC, Family
from monitoring.intake import guard
from monitoring.intake.columns import Columns, KeyCache
from monitoring.models import Metric
from monitoring.rules import MAX_FUTURE_SECONDS, METRIC_NAME_RULE, NAME_RE, SAMPLE_TS_RE, label_problem
from monitoring.store.series import labels_key, resolve_series
from monitoring.store.writer import Row, store_columns, store_rows

TS_RULE = "ts must be a number, or RFC 3339 with an offset or epoch seconds as text"


@dataclass
class IngestResult:
    accepted: int
    series: int
    # Samples of metrics an admin disabled (Metric.enabled off): dropped, named here.
    dropped: int = 0
    disabled_metrics: list[str] = field(default_factory=list)
    # Samples refused one by one (doors that accept partially): {"index", "rule", "message"}.
    rejected: list[dict[str, Any]] = field(default_factory=list)


class _DisabledMetrics:
    """Names of disabled metrics, read at most every few seconds per process and forgotten at
    once when a Metric changes here (other processes see the change within ``ttl``)."""

    ttl = 5.0

    def __init__(self) -> None:
        self.names: frozenset[str] = frozenset()
        self.read_at = -math.inf
        self.lock = threading.Lock()

    def get(self) -> frozenset[str]:
        if time.monotonic() - self.read_at > self.ttl:
            with self.lock:
                self.names = frozenset(Metric.objects.filter(enabled=False).values_list("name", flat=True))
                self.read_at = time.monotonic()
        return self.names

    def forget(self, **_: Any) -> None:
        self.read_at = -math.inf


disabled_metrics = _DisabledMetrics()
post_save.connect(disabled_metrics.forget, sender=Metric, dispatch_uid="ingest-disabled-metrics")
post_delete.connect(disabled_metrics.forget, sender=Metric, dispatch_uid="ingest-disabled-metrics-delete")


def parse_ts(raw: Any, now: float) -> float:
    """Epoch seconds from RFC 3339 text or a number (``now`` when absent)."""
    if raw is None:
        return now
    if isinstance(raw, bool):
        raise ValueError(TS_RULE)
    if isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, str):
        if not SAMPLE_TS_RE.match(raw):
            raise ValueError(TS_RULE)
        value = datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp() if "-" in raw else float(raw)
    else:
        raise ValueError(TS_RULE)
    if not math.isfinite(value):
        raise ValueError("ts must be finite")
    return value


class _Limits:
    """The time window a sample must fall in, fixed once per batch."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.days = settings.SEISMO_RETENTION_RAW_DAYS
        self.oldest = now - self.days * 86400
        self.newest = now + MAX_FUTURE_SECONDS

    def ts_problem(self, ts: float) -> tuple[str, str] | None:
        if ts > self.newest:
            return "ts_future", f"ts is more than {MAX_FUTURE_SECONDS // 60} minutes ahead"
        if ts < self.oldest:
            return "ts_past", f"ts is older than the {self.days}-day retention"
        return None


def _error(index: int, problem: tuple[str, str]) -> dict[str, Any]:
    return {"index": index, "rule": problem[0], "message": problem[1]}


def validate_samples(samples: Any, now: float | None = None) -> tuple[list[Row], list[dict[str, Any]]]:
    """Check every JSON sample; return the valid rows and one error per invalid sample (by index).

    A tight loop rather than per-sample serializers: this is the ingest hot path.
    """
    if not isinstance(samples, list):
        raise ApiError("`samples` must be a list.", code="invalid", details={"field": "samples"})
    limits = _Limits(time.time() if now is None else now)
    rows: list[Row] = []
    errors: list[dict[str, Any]] = []
    name_ok = NAME_RE.match
    for index, sample in enumerate(samples):
        if not isinstance(sample, dict):
            errors.append(_error(index, ("type", "each sample must be an object")))
            continue
        name = sample.get("metric")
        if not isinstance(name, str) or not name_ok(name):
            errors.append(_error(index, ("metric_name", METRIC_NAME_RULE)))
            continue
        labels = sample.get("labels")
        problem = label_problem(labels) if labels is not None else None  # null: no labels
        labels = labels or {}
        if problem:
            errors.append(_error(index, problem))
            continue
        value = sample.get("value")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            errors.append(_error(index, ("value", "value must be a finite number")))
            continue
        try:
            ts = parse_ts(sample.get("ts"), limits.now)
        except ValueError as exc:
            errors.append(_error(index, ("ts", str(exc))))
            continue
        problem = limits.ts_problem(ts)
        if problem:
            errors.append(_error(index, problem))
            continue
        rows.append((name, labels, labels_key(labels) if labels else "{}", ts, float(value)))
    return rows, errors


def check_rows(
    samples: Iterable[tuple[str, dict[str, str], float, float]], now: float | None = None
) -> tuple[list[Row], list[dict[str, Any]]]:
    """The same rules for samples a door has already decoded into (metric, labels, ts, value)."""
    limits = _Limits(time.time() if now is None else now)
    rows: list[Row] = []
    errors: list[dict[str, Any]] = []
    name_ok = NAME_RE.match
    for index, (name, labels, ts, value) in enumerate(samples):
        if not name_ok(name):
            errors.append(_error(index, ("metric_name", METRIC_NAME_RULE)))
            continue
        problem = (label_problem(labels) if labels else None) or limits.ts_problem(ts)
        if problem:
            errors.append(_error(index, problem))
            continue
        rows.append((name, labels, labels_key(labels) if labels else "{}", ts, float(value)))
    return rows, errors


def _without_disabled(rows: list[Row]) -> tuple[list[Row], list[str]]:
    disabled = disabled_metrics.get()
    if not disabled or not any(row[0] in disabled for row in rows):
        return rows, []
    names = sorted({row[0] for row in rows if row[0] in disabled})
    return [row for row in rows if row[0] not in disabled], names


def _write(rows: list[Row], topic: str) -> IngestResult:
    kept, names = _without_disabled(rows)
    with transaction.atomic():
        series = store_rows(kept, topic) if kept else 0
    return IngestResult(accepted=len(kept), series=series, dropped=len(rows) - len(kept), disabled_metrics=names)


def ingest_samples(samples: Any, *, now: float | None = None) -> IngestResult:
    """Validate and store a JSON API batch atomically: all samples, or none and a 400 per index."""
    rows, errors = validate_samples(samples, now)
    if errors:
        raise ApiError(
            f"{len(errors)} of {len(samples)} samples are invalid; nothing was stored "
            f"(first: sample {errors[0]['index']}: {errors[0]['message']}).",
            code="invalid_samples",
            details={"errors": errors[:100], "invalid": len(errors)},
        )
    return _write(rows, FAMILY_TOPIC[Family.CUSTOM])


def accept(
    samples: Iterable[tuple[str, dict[str, str], float, float]],
    *,
    topic: str = FAMILY_TOPIC[Family.CUSTOM],
    now: float | None = None,
) -> IngestResult:
    """Store what passes the rules and name what does not (doors that accept partially:
    remote-write, OTLP, scrapes). Idempotent: a (series, ts) already stored is kept once."""
    rows, errors = check_rows(samples, now)
    result = _write(rows, topic)
    result.rejected = errors
    return result


# --- Columns: the high-volume doors (remote-write, OTLP, scrapes) ---------------------------

# The NaN bit pattern Prometheus writes when a series ends (a stale marker): not a value to
# store and not an error — the series simply stops having samples.
STALE_NAN_BITS = 0x7FF0000000000002
VALUE_RULE = "value must be a finite number (NaN and ±Inf are refused)"


@dataclass
class ColumnsResult:
    """What a columns batch came to: samples stored, and samples refused by reason."""

    accepted: int = 0
    # reason → samples refused for it; a series' reason names the series.
    refused: dict[str, int] = field(default_factory=dict)

    @property
    def refused_count(self) -> int:
        return sum(self.refused.values())

    def refuse(self, reason: str, samples: int) -> None:
        if samples:
            self.refused[reason] = self.refused.get(reason, 0) + samples

    def messages(self, limit: int = 20) -> list[str]:
        return [f"{reason} ({n} samples)" for reason, n in list(self.refused.items())[:limit]]


def series_text(name: str, labels: dict[str, str]) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def _resolve_keys(missing: list[Hashable], columns: Columns, source: str, cache: KeyCache) -> None:
    """Decode, check and resolve series keys this process has not seen; answers go to ``cache``."""
    refused: dict[Hashable, str] = {}
    wanted: dict[tuple[str, str], dict[str, str]] = {}
    identity_of: dict[Hashable, tuple[str, str]] = {}
    for key in missing:
        try:
            name, labels = columns.decode(key)
        except (ValueError, KeyError) as exc:
            refused[key] = str(exc)
            continue
        if not NAME_RE.match(name):
            refused[key] = f"{name[:100]!r}: {METRIC_NAME_RULE}"
            continue
        problem = label_problem(labels) if labels else None
        if problem:
            refused[key] = f"{series_text(name, {})[:-2]}: {problem[1]}"
            continue
        identity = (name, labels_key(labels) if labels else "{}")
        wanted[identity] = labels
        identity_of[key] = identity
    admitted = guard.admit(source, list(wanted))
    for key, identity in list(identity_of.items()):
        if identity not in admitted:
            refused[key] = f"{series_text(identity[0], wanted[identity])}: {guard.reason(source)}"
            del identity_of[key]
    ids = resolve_series({identity: wanted[identity] for identity in set(identity_of.values())})
    cache.put(
        {key: ids[identity] for key, identity in identity_of.items()},
        refused,
        {ids[identity]: (identity[0], wanted[identity]) for identity in identity_of.values()},
    )


def accept_columns(
    columns: Columns, *, source: str, topic: str, cache: KeyCache, now: float | None = None
) -> ColumnsResult:
    """The rules of ``accept`` for a columns batch: valid samples are stored — once per series
    and timestamp, so a resent batch stores nothing twice — and the rest counted by reason.

    Known series cost a dictionary lookup each; checks on values and timestamps are vectorised.
    """
    result = ColumnsResult()
    keys = columns.keys
    if not len(columns):
        return result
    get = cache.ids.get
    ids = np.fromiter(map(get, keys, repeat(0)), dtype=np.int64, count=len(keys))
    if not ids.all():
        unknown = [keys[i] for i in np.flatnonzero(ids == 0).tolist()]
        missing = [key for key in dict.fromkeys(unknown) if key not in cache.refused]
        if missing:
            _resolve_keys(missing, columns, source, cache)
            ids = np.fromiter(map(get, keys, repeat(0)), dtype=np.int64, count=len(keys))
        per_key = np.bincount(columns.series_index, minlength=len(keys))
        for i in np.flatnonzero(ids == 0).tolist():
            result.refuse(cache.refused.get(keys[i], "refused"), int(per_key[i]))
    disabled = disabled_metrics.get()
    if disabled:
        described = cache.described
        for i, sid in enumerate(ids.tolist()):
            if sid and described[sid][0] in disabled:
                result.refuse(f"metric {described[sid][0]} is disabled", int((columns.series_index == i).sum()))
                ids[i] = 0
    sample_ids = ids[columns.series_index]
    values = columns.values
    ts_ms = columns.ts_ms
    limits = _Limits(time.time() if now is None else now)
    keep = sample_ids > 0
    finite = np.isfinite(values)
    stale = values.view(np.uint64) == STALE_NAN_BITS
    too_new = ts_ms > limits.newest * 1000
    too_old = ts_ms < limits.oldest * 1000
    result.refuse(VALUE_RULE, int((keep & ~finite & ~stale).sum()))
    result.refuse(f"ts is more than {MAX_FUTURE_SECONDS // 60} minutes ahead", int((keep & finite & too_new).sum()))
    result.refuse(f"ts is older than the {limits.days}-day retention", int((keep & finite & too_old).sum()))
    keep &= finite & ~too_new & ~too_old
    if not keep.any():
        return result
    series_ids = sample_ids[keep]
    # In a transaction of its own when the caller has none (the doors): see copy_columns.
    store_columns(series_ids, ts_ms[keep] * 1000, values[keep], topic, cache.described)
    result.accepted = len(series_ids)
    return result

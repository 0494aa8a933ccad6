"""OTLP/HTTP metrics: an ``ExportMetricsServiceRequest`` (protobuf or JSON) as Prometheus-shaped columns.

Names and labels translate as the OpenTelemetry specification's Prometheus-compatibility section
says: invalid characters become ``_``, the unit becomes a suffix (``s`` → ``_seconds``, ``By`` →
``_bytes``, ``1`` → ``_ratio`` on gauges), monotonic sums end in ``_total``, histograms land as
``_bucket{le}`` / ``_sum`` / ``_count`` like a scraped Prometheus histogram, summaries as
``{quantile}`` / ``_sum`` / ``_count``. ``job`` is ``service.namespace/service.name``,
``instance`` is ``service.instance.id``; other resource attributes become labels only when
``OTLP_RESOURCE_LABELS`` lists them. Delta temporality is turned into cumulative (a running total
per series kept in Redis), since everything downstream reads counters as cumulative.
"""

from __future__ import annotations

import gzip
import math
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2

from lib.redis import get_redis
from lib.redis import key as redis_key
from monitoring.intake.columns import Columns, DoorError

DELTA = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
NO_RECORDED_VALUE = metrics_pb2.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK
MAX_DECODED_BYTES = 64 * 1024 * 1024

_UNITS = {
    "d": "days",
    "h": "hours",
    "min": "minutes",
    "s": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
    "ns": "nanoseconds",
    "By": "bytes",
    "KiBy": "kibibytes",
    "MiBy": "mebibytes",
    "GiBy": "gibibytes",
    "TiBy": "tibibytes",
    "KBy": "kilobytes",
    "MBy": "megabytes",
    "GBy": "gigabytes",
    "TBy": "terabytes",
    "m": "meters",
    "V": "volts",
    "A": "amperes",
    "J": "joules",
    "W": "watts",
    "g": "grams",
    "Cel": "celsius",
    "Hz": "hertz",
    "%": "percent",
}
_PER_UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week", "mo": "month", "y": "year"}
_INVALID_NAME = re.compile(r"[^a-zA-Z0-9_:]+")
_INVALID_LABEL = re.compile(r"[^a-zA-Z0-9_]+")
_RUNS = re.compile(r"__+")


def _unit_words(unit: str) -> list[str]:
    unit = re.sub(r"\{[^}]*\}", "", unit).strip()
    if not unit or unit == "1":
        return []
    if "/" in unit:
        top, _, bottom = unit.partition("/")
        words = [_UNITS.get(top, top)] if top and top != "1" else []
        if bottom:
            words += ["per", _PER_UNITS.get(bottom, _UNITS.get(bottom, bottom))]
        return words
    return [_UNITS.get(unit, unit)]


def metric_name(name: str, unit: str, *, counter: bool = False, gauge: bool = False) -> str:
    """The Prometheus name of an OTLP metric (OTel spec, Prometheus compatibility)."""
    words = [w for w in _INVALID_NAME.sub("_", name).split("_") if w]
    for word in _unit_words(unit):
        for part in _INVALID_NAME.sub("_", word).split("_"):
            if part and part not in words[-3:]:
                words.append(part)
    if gauge and unit.strip() == "1" and words[-1:] != ["ratio"]:
        words.append("ratio")
    if counter:
        words = [w for w in words if w != "total"] + ["total"]
    out = "_".join(words) or "_"
    return "_" + out if out[0].isdigit() else out


def label_name(key: str) -> str:
    out = _RUNS.sub("_", _INVALID_LABEL.sub("_", key)) or "_"
    return "key_" + out if out[0].isdigit() else out


def _any_text(value: AnyValue) -> str:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "int_value":
        return str(value.int_value)
    if kind == "double_value":
        return repr(value.double_value)
    if kind is None:
        return ""
    return json_format.MessageToJson(value, indent=None)


_label_names: dict[str, str] = {}


def _attributes(pairs: Iterable[Any]) -> list[tuple[str, str]]:
    out = []
    names = _label_names
    for kv in pairs:
        key = kv.key
        name = names.get(key)
        if name is None:
            if len(names) > 10_000:
                names.clear()
            name = names[key] = label_name(key)
        value = kv.value
        text = value.string_value  # the common case; "" when the value is of another type
        if not text and value.WhichOneof("value") != "string_value":
            text = _any_text(value)
        out.append((name, text))
    return out


def resource_labels(resource: Any, allow: Iterable[str]) -> list[tuple[str, str]]:
    attrs = {kv.key: _any_text(kv.value) for kv in resource.attributes}
    labels: list[tuple[str, str]] = []
    service = attrs.get("service.name", "")
    namespace = attrs.get("service.namespace", "")
    if service:
        labels.append(("job", f"{namespace}/{service}" if namespace else service))
    if attrs.get("service.instance.id"):
        labels.append(("instance", attrs["service.instance.id"]))
    for name in allow:
        if name in attrs:
            labels.append((label_name(name), attrs[name]))
    return labels


@dataclass
class Translation:
    """Points gathered from one request, as Prometheus samples (plus what could not be taken)."""

    # (name, sorted labels), or for a plain gauge/sum point (name, resource labels, the point's
    # attributes as protobuf serialized them): a known series then costs no per-label work.
    keys: list[tuple[Any, ...]] = field(default_factory=list)
    ts_ms: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    # Indexes (into keys/values) whose value is a delta to add to the series' running total.
    delta: list[int] = field(default_factory=list)
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)

    def add(self, name: str, labels: tuple[tuple[str, str], ...], ts_ms: int, value: float, delta: bool) -> None:
        if delta:
            self.delta.append(len(self.values))
        self.keys.append((name, labels))
        self.ts_ms.append(ts_ms)
        self.values.append(value)

    def add_point(self, key: tuple[str, tuple[tuple[str, str], ...], bytes], ts_ms: int, value: float) -> None:
        self.keys.append(key)
        self.ts_ms.append(ts_ms)
        self.values.append(value)

    def reject(self, points: int, reason: str) -> None:
        self.rejected += points
        if len(self.reasons) < 20 and reason not in self.reasons:
            self.reasons.append(reason)


def _labels(base: list[tuple[str, str]], point_attrs: Iterable[Any], *extra: tuple[str, str]) -> tuple:
    merged = dict(base)
    merged.update(_attributes(point_attrs))
    merged.update(extra)
    return tuple(sorted(merged.items()))


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))


def _ms(nanos: int, now_ms: int) -> int:
    return nanos // 1_000_000 if nanos else now_ms


def translate(request: ExportMetricsServiceRequest, now_ms: int) -> Translation:
    """The request's points as samples. Gauge and sum points are consumed: their time and value
    fields are cleared once read (what is left is their series key)."""
    out = Translation()
    allow = settings.OTLP_RESOURCE_LABELS
    for resource_metrics in request.resource_metrics:
        base = resource_labels(resource_metrics.resource, allow)
        for scope in resource_metrics.scope_metrics:
            for metric in scope.metrics:
                _translate_metric(metric, base, now_ms, out)
    return out


def _translate_metric(metric: Any, base: list[tuple[str, str]], now_ms: int, out: Translation) -> None:
    kind = metric.WhichOneof("data")
    unit = metric.unit
    if kind == "gauge" or kind == "sum":
        data = getattr(metric, kind)
        counter = kind == "sum" and data.is_monotonic
        delta = kind == "sum" and data.aggregation_temporality == DELTA
        if delta and not data.is_monotonic:
            # A delta up-down counter still sums to a level; treat it like the monotonic ones.
            pass
        name = metric_name(metric.name, unit, counter=counter, gauge=not counter)
        if delta:  # running totals are kept per canonical labels (accumulate_deltas)
            for point in data.data_points:
                if point.flags & NO_RECORDED_VALUE:
                    continue
                which = point.WhichOneof("value")
                value = float(point.as_int) if which == "as_int" else point.as_double
                out.add(name, _labels(base, point.attributes), _ms(point.time_unix_nano, now_ms), value, True)
            return
        resource = tuple(base)
        for point in data.data_points:
            if point.flags & NO_RECORDED_VALUE:
                continue
            which = point.WhichOneof("value")
            value = float(point.as_int) if which == "as_int" else point.as_double
            ts = _ms(point.time_unix_nano, now_ms)
            # What is left of the point is its attributes (and flags): protobuf serializes them
            # into the series key; only a series not seen before has them decoded (_decode).
            point.ClearField("time_unix_nano")
            point.ClearField("start_time_unix_nano")
            if which:
                point.ClearField(which)
            if point.exemplars:
                point.ClearField("exemplars")
            out.add_point((name, resource, point.SerializeToString()), ts, value)
    elif kind == "histogram":
        name = metric_name(metric.name, unit)
        delta = metric.histogram.aggregation_temporality == DELTA
        for point in metric.histogram.data_points:
            if point.flags & NO_RECORDED_VALUE:
                continue
            labels = _labels(base, point.attributes)
            ts = _ms(point.time_unix_nano, now_ms)
            bounds = [*point.explicit_bounds, math.inf]
            counts = list(point.bucket_counts)
            if counts and len(counts) != len(bounds):
                out.reject(len(counts), f"{name}: {len(counts)} bucket counts for {len(bounds)} buckets")
                continue
            _histogram(out, name, labels, ts, bounds, counts, point.count, point.sum, delta)
    elif kind == "exponential_histogram":
        name = metric_name(metric.name, unit)
        delta = metric.exponential_histogram.aggregation_temporality == DELTA
        for point in metric.exponential_histogram.data_points:
            if point.flags & NO_RECORDED_VALUE:
                continue
            bounds, counts = _exponential_buckets(point)
            labels = _labels(base, point.attributes)
            _histogram(
                out, name, labels, _ms(point.time_unix_nano, now_ms), bounds, counts, point.count, point.sum, delta
            )
    elif kind == "summary":
        name = metric_name(metric.name, unit)
        for point in metric.summary.data_points:
            if point.flags & NO_RECORDED_VALUE:
                continue
            ts = _ms(point.time_unix_nano, now_ms)
            for q in point.quantile_values:
                out.add(name, _labels(base, point.attributes, ("quantile", repr(q.quantile))), ts, q.value, False)
            labels = _labels(base, point.attributes)
            out.add(f"{name}_sum", labels, ts, point.sum, False)
            out.add(f"{name}_count", labels, ts, float(point.count), False)
    else:
        out.reject(0, f"{metric.name}: metric has no data")


def _histogram(
    out: Translation,
    name: str,
    labels: tuple,
    ts: int,
    bounds: list[float],
    counts: list[int],
    count: int,
    total: float,
    delta: bool,
) -> None:
    running = 0
    for bound, n in zip(bounds, counts, strict=False):
        running += n
        out.add(f"{name}_bucket", tuple(sorted((*labels, ("le", _le(bound))))), ts, float(running), delta)
    if not counts:
        out.add(f"{name}_bucket", tuple(sorted((*labels, ("le", "+Inf")))), ts, float(count), delta)
    out.add(f"{name}_sum", labels, ts, total, delta)
    out.add(f"{name}_count", labels, ts, float(count), delta)


def _exponential_buckets(point: Any) -> tuple[list[float], list[int]]:
    """Explicit upper bounds and per-bucket counts of an exponential histogram point, ascending."""
    base = 2.0 ** (2.0**-point.scale)
    bounds: list[float] = []
    counts: list[int] = []
    negative = point.negative
    for i in reversed(range(len(negative.bucket_counts))):
        # Negative bucket i holds (-base^(offset+i+1), -base^(offset+i)]: its upper bound is the latter.
        bounds.append(-(base ** (negative.offset + i)))
        counts.append(negative.bucket_counts[i])
    if point.zero_count or not bounds:
        bounds.append(point.zero_threshold or 0.0)
        counts.append(point.zero_count)
    positive = point.positive
    for i, n in enumerate(positive.bucket_counts):
        bounds.append(base ** (positive.offset + i + 1))
        counts.append(n)
    bounds.append(math.inf)
    counts.append(0)
    return bounds, counts


def parse_request(body: bytes, content_type: str, content_encoding: str) -> tuple[ExportMetricsServiceRequest, bool]:
    """The request in a body (gunzipped if needed) and whether it was JSON; DoorError if not one."""
    if content_encoding == "gzip":
        try:
            body = _gunzip(body)
        except (OSError, EOFError, zlib.error) as exc:
            raise DoorError(f"body is not valid gzip: {exc}") from None
    elif content_encoding not in ("", "identity"):
        raise DoorError(f"Content-Encoding {content_encoding!r} is not supported (use gzip)", status=415)
    request = ExportMetricsServiceRequest()
    media = content_type.split(";")[0].strip().lower()
    if media == "application/json":
        try:
            json_format.Parse(body, request, ignore_unknown_fields=True)
        except (json_format.ParseError, UnicodeDecodeError, ValueError) as exc:
            raise DoorError(f"body is not an OTLP JSON ExportMetricsServiceRequest: {exc}") from None
        return request, True
    if media in ("application/x-protobuf", "application/protobuf"):
        try:
            request.ParseFromString(body)
        except DecodeError as exc:
            raise DoorError(f"body is not a protobuf ExportMetricsServiceRequest: {exc}") from None
        return request, False
    raise DoorError(
        f"Content-Type {media or '(none)'!r} is not supported (use application/x-protobuf or application/json)",
        status=415,
        code="unsupported_media_type",
    )


def _gunzip(body: bytes) -> bytes:
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = decompressor.decompress(body, MAX_DECODED_BYTES)
    if decompressor.unconsumed_tail:
        raise DoorError(f"the decompressed body is larger than {MAX_DECODED_BYTES} bytes", status=413)
    if not decompressor.eof:
        raise EOFError("the gzip stream is truncated")
    return out


def accumulate_deltas(translation: Translation, source: str) -> None:
    """Turn delta values into running totals per series (kept in Redis, so restarts keep them)."""
    if not translation.delta:
        return
    pipe = get_redis().pipeline(transaction=False)
    table = redis_key(f"otlp-delta:{source}")
    for i in translation.delta:
        name, labels = translation.keys[i]
        pipe.hincrbyfloat(table, f"{name}{labels!r}", translation.values[i])
    for i, total in zip(translation.delta, pipe.execute(), strict=True):
        translation.values[i] = float(total)


def to_columns(translation: Translation) -> Columns:
    keys = translation.keys
    return Columns(
        keys=list(keys),
        decode=_decode,
        series_index=np.arange(len(keys), dtype=np.int64),
        ts_ms=np.asarray(translation.ts_ms, dtype=np.int64),
        values=np.asarray(translation.values, dtype=np.float64),
    )


def _decode(key: Any) -> tuple[str, dict[str, str]]:
    if len(key) == 3:  # a gauge/sum point's key: its attributes still serialized
        name, resource, point = key
        try:
            attributes = metrics_pb2.NumberDataPoint.FromString(point).attributes
        except DecodeError as exc:
            raise ValueError(f"{name}: point attributes are not valid protobuf: {exc}") from None
        return name, dict(_labels(list(resource), attributes))
    name, labels = key
    return name, dict(labels)


def response(rejected: int, message: str, as_json: bool) -> tuple[bytes, str]:
    """The ExportMetricsServiceResponse body and content type (JSON for JSON requests)."""
    answer = ExportMetricsServiceResponse()
    if rejected or message:
        answer.partial_success.rejected_data_points = rejected
        answer.partial_success.error_message = message
    if as_json:
        return json_format.MessageToJson(answer, indent=None).encode(), "application/json"
    return answer.SerializeToString(), "application/x-protobuf"


def gzip_body(raw: bytes) -> bytes:
    """Tests and the bench send gzip bodies like the SDK's exporter does."""
    return gzip.compress(raw)

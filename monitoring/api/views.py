"""Metrics API: ingest, catalogue, series, query, export."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.db import transaction
from django.db.models import Count
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.choices import Role
from lib.api import ApiError
from lib.renderers import FastJSONRenderer
from monitoring import ingest, tasks
from monitoring.choices import Aggregation
from monitoring.models import Metric
from monitoring.rules import (
    MAX_SERIES_PER_QUERY,
    MAX_STEP_SECONDS,
    NAME_RE,
    SAMPLE_TS_RE,
    TIME_RE,
    is_metric_name,
    labels_schema,
)
from monitoring.store import export, query, usage

TIME_RULE = "RFC 3339 (1971-9997) or epoch seconds (86400 to 11 digits)"

FILTER_PARAMS = [
    OpenApiParameter("metric", str, required=True, pattern=NAME_RE.pattern, description="Metric name"),
    OpenApiParameter("label.<name>", str, description="Label matcher, e.g. label.host=web-1 (repeatable)"),
    OpenApiParameter(
        "from",
        str,
        pattern=TIME_RE.pattern,
        description=f"{TIME_RULE} (default: an hour before `to`); it must be before `to` (400 otherwise)",
    ),
    OpenApiParameter("to", str, pattern=TIME_RE.pattern, description=f"{TIME_RULE} (default: now)"),
]


def parse_time(raw: str | None, field: str, default: datetime) -> datetime:
    if raw in (None, ""):
        return default
    if not TIME_RE.match(raw):
        raise ApiError(f"`{field}` must be {TIME_RULE}.", details={"field": field})
    if "-" not in raw:
        return datetime.fromtimestamp(float(raw), UTC)
    parsed = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_matchers(request: Request) -> dict[str, str]:
    """``label.<name>=<value>`` parameters as a matcher set; NUL cannot be stored or matched
    (PostgreSQL text refuses it), so a value holding one is a 400, not a failed query."""
    matchers = {key[6:]: value for key, value in request.query_params.items() if key.startswith("label.") and key[6:]}
    for name, value in matchers.items():
        if "\x00" in name or "\x00" in value:
            raise ApiError("Label matchers may not contain NUL characters.", details={"field": f"label.{name!r}"})
    return matchers


def parse_filters(request: Request) -> tuple[str, dict[str, str], datetime, datetime]:
    params = request.query_params
    metric = params.get("metric", "")
    if not is_metric_name(metric):
        raise ApiError("`metric` is required and must be a metric name.", details={"field": "metric"})
    matchers = parse_matchers(request)
    end = parse_time(params.get("to"), "to", datetime.now(UTC))
    start = parse_time(params.get("from"), "from", end - timedelta(hours=1))
    if end <= start:
        raise ApiError("`from` must be before `to`.", details={"field": "from"})
    return metric, matchers, start, end


@extend_schema_field(
    {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["metric", "value"],
            "properties": {
                "metric": {"type": "string", "pattern": NAME_RE.pattern},
                "labels": {**labels_schema(), "type": ["object", "null"]},
                "value": {"type": "number"},
                "ts": {"type": ["number", "string", "null"], "pattern": SAMPLE_TS_RE.pattern},
            },
        },
    }
)
class SamplesField(serializers.JSONField):
    """The samples of an ingest request as ``monitoring.ingest.validate_samples`` checks them."""


class IngestView(APIView):
    """Store samples. Ingest keys and editors may call it; idempotent on (metric, labels, ts).

    A sample's `ts` (absent: now) must lie within the raw retention and at most
    `MAX_FUTURE_SECONDS` ahead of the server's clock (400 naming the sample otherwise); a batch
    over `INGEST_MAX_SAMPLES` samples or `INGEST_MAX_BYTES` bytes is a 413."""

    allow_ingest_key = True

    @extend_schema(
        request=inline_serializer("IngestRequest", {"samples": SamplesField()}),
        responses={202: inline_serializer("IngestResponse", {"accepted": serializers.IntegerField()})},
    )
    def post(self, request: Request) -> Response:
        limit = settings.INGEST_MAX_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit:
            raise ApiError(f"Body is larger than {limit} bytes.", code="too_large", status_code=413)
        try:
            body = orjson.loads(request.body)
        except orjson.JSONDecodeError as exc:
            raise ApiError(f"Body is not valid JSON: {exc}", code="parse_error") from None
        samples = body.get("samples") if isinstance(body, dict) else None
        if not isinstance(samples, list):
            raise ApiError('Body must be {"samples": [...]}.', details={"field": "samples"})
        max_batch = settings.INGEST_MAX_SAMPLES
        if len(samples) > max_batch:
            raise ApiError(
                f"A batch holds at most {max_batch} samples (got {len(samples)}).",
                code="too_large",
                status_code=413,
                details={"max_samples": max_batch, "samples": len(samples)},
            )
        result = ingest.ingest_samples(samples)
        body: dict[str, Any] = {"accepted": result.accepted}
        if result.dropped:
            body["dropped"] = {
                "samples": result.dropped,
                "reason": "metric disabled by an admin",
                "metrics": result.disabled_metrics,
            }
        return Response(body, status=status.HTTP_202_ACCEPTED)


class MetricListView(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        metrics = Metric.objects.annotate(series_count=Count("series")).order_by("name")
        return Response(
            {
                "metrics": [
                    {
                        "name": m.name,
                        "family": m.family,
                        "kind": m.kind,
                        "unit": m.unit,
                        "help": m.help,
                        "enabled": m.enabled,
                        "series": m.series_count,
                    }
                    for m in metrics
                ]
            }
        )


class SeriesListView(APIView):
    @extend_schema(parameters=FILTER_PARAMS[:2], responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        metric = request.query_params.get("metric", "")
        if not is_metric_name(metric):
            raise ApiError("`metric` is required and must be a metric name.", details={"field": "metric"})
        matchers = parse_matchers(request)
        series = query.series_matching(metric, matchers)[:MAX_SERIES_PER_QUERY]
        return Response({"series": [{"id": s.id, "metric": metric, "labels": s.labels} for s in series]})


class QueryView(APIView):
    renderer_classes = [FastJSONRenderer]

    @extend_schema(
        parameters=[
            *FILTER_PARAMS,
            OpenApiParameter(
                "step",
                {"type": "integer", "minimum": 1, "maximum": MAX_STEP_SECONDS},
                description="Bucket width in seconds (raised so ≤2,000 points)",
            ),
            OpenApiParameter("agg", str, enum=Aggregation.values, description="Aggregation per bucket"),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        metric, matchers, start, end = parse_filters(request)
        raw_step = request.query_params.get("step")
        step = int(raw_step) if raw_step and raw_step.isascii() and raw_step.isdigit() else None
        if raw_step and not (step and step <= MAX_STEP_SECONDS):
            raise ApiError(
                f"`step` must be a whole number of seconds from 1 to {MAX_STEP_SECONDS}.", details={"field": "step"}
            )
        agg = request.query_params.get("agg", "avg")
        series = query.query(metric, matchers, start, end, step=step, agg=agg, arrays=True)
        tier = query.choose_tier(start, end)
        return Response(
            {
                "series": series,
                "tier": tier,
                "step": query.pick_step(start, end, tier, step),
                "from": start.timestamp(),
                "to": end.timestamp(),
            }
        )


class ExportView(APIView):
    """Raw samples as CSV or JSON, streamed page by page (nothing is buffered whole)."""

    @extend_schema(
        parameters=[*FILTER_PARAMS, OpenApiParameter("format", str, enum=["csv", "json"])],
        responses={(200, "text/csv"): OpenApiTypes.STR, (200, "application/json"): OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        metric, matchers, start, end = parse_filters(request)
        fmt = request.query_params.get("format", "csv")
        if fmt not in ("csv", "json"):
            raise ApiError("`format` must be csv or json.", details={"field": "format"})
        chunks = _csv_chunks if fmt == "csv" else _json_chunks
        pages = export.export_rows(metric, matchers, start, end)
        content: Iterator[bytes] | AsyncIterator[bytes] = chunks(pages)
        if isinstance(request._request, ASGIRequest):
            content = _async(chunks(pages))
        response = StreamingHttpResponse(content, content_type="text/csv" if fmt == "csv" else "application/json")
        response["Content-Disposition"] = f'attachment; filename="{metric}.{fmt}"'
        return response


def _csv_chunks(pages: Iterator[list[tuple[str, dict[str, str], float, float]]]) -> Iterator[bytes]:
    yield b"metric,labels,ts,time,value\r\n"
    for page in pages:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for metric, labels, ts, value in page:
            iso = datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")
            writer.writerow([metric, orjson.dumps(labels, option=orjson.OPT_SORT_KEYS).decode(), ts, iso, value])
        yield buffer.getvalue().encode()


def _json_chunks(pages: Iterator[list[tuple[str, dict[str, str], float, float]]]) -> Iterator[bytes]:
    yield b'{"samples":['
    first = True
    for page in pages:
        body = b",".join(orjson.dumps({"metric": m, "labels": lab, "ts": ts, "value": v}) for m, lab, ts, v in page)
        yield body if first else b"," + body
        first = False
    yield b"]}"


async def _async(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Each page is fetched on the database thread; the event loop only forwards bytes."""
    sentinel = object()
    while True:
        chunk: Any = await sync_to_async(next)(chunks, sentinel)
        if chunk is sentinel:
            return
        yield chunk


class StorageView(APIView):
    """What each storage tier holds and costs, and how compaction is doing (admins)."""

    read_role = Role.ADMIN
    write_role = Role.ADMIN

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        return Response(usage.storage_report())


class CompactView(APIView):
    """Compact everything older than the hot window now (the beat task's work), in the worker."""

    read_role = Role.ADMIN
    write_role = Role.ADMIN

    @extend_schema(request=None, responses={202: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        transaction.on_commit(tasks.compact.delay)
        return Response({"status": "queued"}, status=status.HTTP_202_ACCEPTED)

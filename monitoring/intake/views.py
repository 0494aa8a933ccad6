"""HTTP endpoints of the push doors: POST /api/v1/write and POST /otlp/v1/metrics (thin)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from lib.api import error_body
from monitoring.intake import doors, otlp
from monitoring.intake.columns import DoorError


def _error(exc: DoorError, **details: object) -> JsonResponse:
    response = JsonResponse(error_body(exc.code, exc.message, details or None), status=exc.status)
    if exc.status == 401:
        response["WWW-Authenticate"] = "Bearer"
    if exc.status in (429, 503):
        response["Retry-After"] = "5"
    return response


@csrf_exempt
@require_POST
def remote_write(request: HttpRequest) -> HttpResponse:
    """Prometheus remote-write 1.0: 204 stored; 400 (don't retry) names what was refused."""
    try:
        source = doors.principal_source(request.headers.get("Authorization", ""))
        doors.check_length(request.META.get("CONTENT_LENGTH"))
        doors.check_remote_write_version(request.headers.get("Content-Type", ""))
        outcome = doors.remote_write_body(request.body, source)
    except DoorError as exc:
        return _error(exc)
    if outcome.refused:
        return _error(
            DoorError(
                f"{outcome.refused} samples refused, {outcome.accepted} stored: " + "; ".join(outcome.messages[:5])
            ),
            accepted=outcome.accepted,
            refused=outcome.refused,
            reasons=outcome.messages,
        )
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
def otlp_metrics(request: HttpRequest) -> HttpResponse:
    """OTLP/HTTP metrics: 200 with an ExportMetricsServiceResponse (partial_success names what
    was refused) in the request's encoding."""
    try:
        source = doors.principal_source(request.headers.get("Authorization", ""))
        doors.check_length(request.META.get("CONTENT_LENGTH"))
        outcome, as_json = doors.otlp_body(
            request.body,
            request.headers.get("Content-Type", ""),
            request.headers.get("Content-Encoding", "").strip().lower(),
            source,
        )
    except DoorError as exc:
        return _error(exc)
    body, content_type = otlp.response(outcome.refused, "; ".join(outcome.messages[:20]), as_json)
    return HttpResponse(body, status=200, content_type=content_type)


@csrf_exempt
def otlp_traces(request: HttpRequest) -> HttpResponse:
    return JsonResponse(
        error_body(
            "not_implemented",
            "Seismo does not take traces yet: /otlp/v1/traces is reserved for tracing. "
            "Send metrics to /otlp/v1/metrics (OTEL_TRACES_EXPORTER=none stops the SDK sending traces).",
        ),
        status=404,
    )

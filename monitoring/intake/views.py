"""HTTP endpoints of the push doors: POST /api/v1/write and POST /otlp/v1/metrics (thin).

Each door is one transport-neutral function, (headers, body) → ``Reply``: under daphne the
ASGI door app (``monitoring.intake.asgi``) calls it straight from the server, before Django's
handler and middleware; the Django views below call the same function (the test client,
any other server).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import orjson
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from lib.api import error_body
from lib.unavailable import is_database_down
from monitoring.intake import doors, otlp
from monitoring.intake.columns import DoorError

logger = logging.getLogger(__name__)

# Lower-case header name → value.
Headers = Mapping[str, str]


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str = ""
    headers: tuple[tuple[str, str], ...] = ()


def _error(exc: DoorError, **details: object) -> Reply:
    headers: list[tuple[str, str]] = []
    if exc.status == 401:
        headers.append(("WWW-Authenticate", "Bearer"))
    if exc.status in (429, 503):
        headers.append(("Retry-After", "5"))
    body = orjson.dumps(error_body(exc.code, exc.message, details or None))
    return Reply(exc.status, body, "application/json", tuple(headers))


def _guarded(door: Callable[[Headers, Callable[[], bytes]], Reply]) -> Callable[[Headers, Callable[[], bytes]], Reply]:
    """A DoorError is its own answer; a database that cannot be reached (the token lookup
    included) is a 503 the sender retries."""

    def run(headers: Headers, body: Callable[[], bytes]) -> Reply:
        try:
            return door(headers, body)
        except DoorError as exc:
            return _error(exc)
        except Exception as exc:
            if is_database_down(exc):
                return _error(doors.unavailable(exc))
            raise

    return run


@_guarded
def remote_write_reply(headers: Headers, body: Callable[[], bytes]) -> Reply:
    """Prometheus remote-write 1.0: 204 stored; 400 (don't retry) names what was refused."""
    source = doors.principal_source(headers.get("authorization", ""))
    doors.check_length(headers.get("content-length"))
    doors.check_remote_write_version(headers.get("content-type", ""))
    outcome = doors.remote_write_body(body(), source)
    if outcome.refused:
        return _error(
            DoorError(
                f"{outcome.refused} samples refused, {outcome.accepted} stored: " + "; ".join(outcome.messages[:5])
            ),
            accepted=outcome.accepted,
            refused=outcome.refused,
            reasons=outcome.messages,
        )
    return Reply(204)


@_guarded
def otlp_reply(headers: Headers, body: Callable[[], bytes]) -> Reply:
    """OTLP/HTTP metrics: 200 with an ExportMetricsServiceResponse (partial_success names what
    was refused) in the request's encoding."""
    source = doors.principal_source(headers.get("authorization", ""))
    doors.check_length(headers.get("content-length"))
    outcome, as_json = doors.otlp_body(
        body(),
        headers.get("content-type", ""),
        headers.get("content-encoding", "").strip().lower(),
        source,
    )
    answer, content_type = otlp.response(outcome.refused, "; ".join(outcome.messages[:20]), as_json)
    return Reply(200, answer, content_type)


def _django(reply: Reply) -> HttpResponse:
    response = HttpResponse(reply.body, status=reply.status, content_type=reply.content_type or None)
    for name, value in reply.headers:
        response[name] = value
    return response


def _headers(request: HttpRequest) -> dict[str, str]:
    return {name.lower(): value for name, value in request.headers.items()}


@csrf_exempt
@require_POST
def remote_write(request: HttpRequest) -> HttpResponse:
    return _django(remote_write_reply(_headers(request), lambda: request.body))


@csrf_exempt
@require_POST
def otlp_metrics(request: HttpRequest) -> HttpResponse:
    return _django(otlp_reply(_headers(request), lambda: request.body))


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

"""The API's error envelope: ``{"error": {"code", "message", "details"}}`` with a 4xx status."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status

if TYPE_CHECKING:
    from rest_framework.response import Response


class ApiError(exceptions.APIException):
    """Raise from a view or service to answer with a specific code and details."""

    def __init__(self, message: str, *, code: str = "invalid", status_code: int = 400, details: Any = None):
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.error_code = code
        self.details = details


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details if details is not None else {}}}


def _first_message(detail: Any) -> str:
    if isinstance(detail, dict):
        for key, value in detail.items():
            inner = _first_message(value)
            return inner if key in ("non_field_errors", "detail") else f"{key}: {inner}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


_CODES = {
    status.HTTP_400_BAD_REQUEST: "invalid",
    status.HTTP_401_UNAUTHORIZED: "not_authenticated",
    status.HTTP_403_FORBIDDEN: "permission_denied",
    status.HTTP_404_NOT_FOUND: "not_found",
    status.HTTP_405_METHOD_NOT_ALLOWED: "method_not_allowed",
    status.HTTP_413_REQUEST_ENTITY_TOO_LARGE: "too_large",
    status.HTTP_415_UNSUPPORTED_MEDIA_TYPE: "unsupported_media_type",
    status.HTTP_429_TOO_MANY_REQUESTS: "throttled",
}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    # Called by DRF views only, which have loaded rest_framework.views; services that raise
    # ApiError (loaded by the worker too) must not import it (views, schemas: ~10 MB).
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.messages)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ApiError):
        body = error_body(exc.error_code, str(exc.detail), exc.details)
    elif isinstance(exc, exceptions.ValidationError):
        body = error_body("invalid", _first_message(exc.detail), exc.detail)
    else:
        code = _CODES.get(response.status_code, "error")
        body = error_body(code, _first_message(getattr(exc, "detail", str(exc))))
    response.data = body
    return response


def wants_json(request: HttpRequest) -> bool:
    """Machine clients (the API, OTLP, remote-write) get JSON errors; browsers get pages."""
    return request.path.startswith(("/api/", "/otlp/")) or "application/json" in request.headers.get("Accept", "")


@csrf_exempt  # nothing is changed here; a CSRF refusal would answer HTML instead of the envelope
def api_not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Every unknown /api/ path, DEBUG or not: the JSON envelope (a missing slash is redirected)."""
    if not request.path.endswith("/"):
        try:
            match = resolve(request.path + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            query = f"?{request.META['QUERY_STRING']}" if request.META.get("QUERY_STRING") else ""
            return HttpResponsePermanentRedirect(request.path + "/" + query)
    return JsonResponse(error_body("not_found", "Not found."), status=404)


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if wants_json(request):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    return render(request, "404.html", status=404)


def handler500(request: HttpRequest) -> HttpResponse:
    if wants_json(request):
        return JsonResponse(error_body("server_error", "Internal server error."), status=500)
    return render(request, "500.html", status=500)

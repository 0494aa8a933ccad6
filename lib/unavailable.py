"""503 instead of a 500 (or a hang) while the database cannot be reached.

Django turns an exception into a 500 at every middleware boundary, so no outer middleware
ever sees it: the ``got_request_exception`` receiver marks the request, and the outermost
middleware swaps the 500 for a 503 — JSON ``{"error": {"code": "database_unavailable"}}``
for the API, a short page for people. Connect and pool timeouts (settings) keep the answer
within about two seconds.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from psycopg_pool import PoolTimeout

from lib.api import error_body, wants_json

DATABASE_DOWN: tuple[type[BaseException], ...] = (OperationalError, InterfaceError, PoolTimeout)
RETRY_AFTER_SECONDS = 5
_MARK = "seismo_database_unavailable"

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Database unavailable · Seismo</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto">
<h1>Database unavailable</h1>
<p>Seismo cannot reach its PostgreSQL database right now. It is being restarted or is
unreachable; this page will work again as soon as it answers. Try again in a few seconds.</p>
</body></html>
"""


def is_database_down(exc: BaseException | None) -> bool:
    while exc is not None:
        if isinstance(exc, DATABASE_DOWN):
            return True
        exc = exc.__cause__
    return False


@receiver(got_request_exception)
def _mark_request(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    if request is not None and is_database_down(sys.exc_info()[1]):
        setattr(request, _MARK, True)


def database_unavailable_response(request: HttpRequest) -> HttpResponse:
    if wants_json(request):
        response: HttpResponse = JsonResponse(
            error_body(
                "database_unavailable",
                "The database is unavailable; retry shortly.",
                {"retry_after_seconds": RETRY_AFTER_SECONDS},
            ),
            status=503,
        )
    else:
        response = HttpResponse(PAGE, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseUnavailableMiddleware:
    """Outermost middleware: a request that failed because the database is down gets a 503."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.__dict__.get(_MARK):
            return database_unavailable_response(request)
        return response

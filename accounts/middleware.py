"""Login for every page, and token authentication for WebSockets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.auth import AuthMiddlewareStack
from channels.middleware import BaseMiddleware
from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.authentication import IngestPrincipal, user_for_token
from accounts.roles import role_of

# Paths that answer without a session: probes, login, static files, the API and the admin
# (both authenticate themselves), /metrics (token or allowlist, checked in its view), the
# OTLP door (bearer token, checked in its view), heartbeat pings (the URL's uuid is the
# credential) and published status pages (anonymous by design).
PUBLIC_PREFIXES = (
    "/healthz",
    "/readyz",
    "/metrics",
    "/accounts/login/",
    "/static/",
    "/api/",
    "/admin/",
    "/otlp/",
    "/ping/",
    "/status/",
)


class LoginRequiredMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.static_prefix = "/" + settings.STATIC_URL.lstrip("/")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path
        if path.startswith(PUBLIC_PREFIXES) or path.startswith(self.static_prefix):
            return self.get_response(request)
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if path != "/accounts/logout/" and role_of(request.user) is None:
            return render(request, "403.html", {"reason": "Your account has no role yet."}, status=403)
        return self.get_response(request)


class QueryTokenAuthMiddleware(BaseMiddleware):
    """Authenticates a WebSocket by ``?token=`` when the session did not."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        user = scope.get("user")
        if user is None or not user.is_authenticated:
            query = parse_qs(scope.get("query_string", b"").decode(errors="replace"))
            raw = (query.get("token") or [""])[0]
            if raw:
                principal = await sync_to_async(user_for_token)(raw)
                # Ingest keys may only ingest: they cannot open the stream.
                if principal is not None and not isinstance(principal, IngestPrincipal):
                    scope["user"] = principal
        return await super().__call__(scope, receive, send)


def TokenAuthMiddlewareStack(inner: Any) -> Any:  # noqa: N802 (mirrors Channels' naming)
    return AuthMiddlewareStack(QueryTokenAuthMiddleware(inner))

"""Login for every page, and token authentication for WebSockets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.auth import AuthMiddlewareStack
from channels.middleware import BaseMiddleware
from channels.security.websocket import AllowedHostsOriginValidator
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
            raw = _query_token(scope)
            if raw:
                principal = await sync_to_async(user_for_token)(raw)
                # Ingest keys may only ingest: they cannot open the stream.
                if principal is not None and not isinstance(principal, IngestPrincipal):
                    scope["user"] = principal
        return await super().__call__(scope, receive, send)


def _query_token(scope: dict[str, Any]) -> str:
    return (parse_qs(scope.get("query_string", b"").decode(errors="replace")).get("token") or [""])[0]


class WebSocketOriginPolicy:
    """Cross-site WebSocket hijacking guard. A socket authenticated by ``?token=`` needs no
    ``Origin`` (scripts and services send none) and is authenticated by the token alone — its
    cookies are dropped, so a foreign page cannot pair a bogus token with a visitor's session.
    Every other socket relies on the session cookie and must come from a page of ours: its
    ``Origin`` must match ALLOWED_HOSTS."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if _query_token(scope):
            headers = [(name, value) for name, value in scope.get("headers", []) if name.lower() != b"cookie"]
            return await self.inner(dict(scope, headers=headers), receive, send)
        # Built per connection (a few attribute reads) so it follows ALLOWED_HOSTS as it is now.
        return await AllowedHostsOriginValidator(self.inner)(scope, receive, send)


def TokenAuthMiddlewareStack(inner: Any) -> Any:  # noqa: N802 (mirrors Channels' naming)
    return AuthMiddlewareStack(QueryTokenAuthMiddleware(inner))

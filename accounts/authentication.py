"""Bearer tokens for the API and the WebSocket: users' tokens and per-source ingest keys."""

from __future__ import annotations

from typing import Any

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.models import USER_TOKEN_PREFIX, ApiToken, IngestKey, hash_token


class IngestPrincipal:
    """Who a request authenticated with an ingest key acts as: may only ingest."""

    is_authenticated = True
    is_anonymous = False
    is_superuser = False
    is_staff = False
    is_active = True
    pk = None
    id = None
    _seismo_role = None  # no role: RolePermission only lets it reach ingest endpoints

    def __init__(self, key: Any) -> None:
        self.ingest_key = key
        self.username = f"ingest:{key.name}"

    def __str__(self) -> str:
        return self.username


def user_for_token(raw: str) -> Any | None:
    """The user (or ingest principal) a raw bearer token belongs to, or None."""
    if raw.startswith(USER_TOKEN_PREFIX):
        token = ApiToken.objects.select_related("user").filter(key_hash=hash_token(raw)).first()
        if token and token.user.is_active and not token.expired:
            return token.user
        return None
    key = IngestKey.lookup(raw)
    return IngestPrincipal(key) if key else None


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != b"bearer":
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <token>'.")
        try:
            raw = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Token contains invalid characters.") from None
        principal = user_for_token(raw)
        if principal is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return principal, raw

    def authenticate_header(self, request: Request) -> str:
        return self.keyword

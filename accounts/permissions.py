from __future__ import annotations

from typing import Any

from rest_framework import permissions
from rest_framework.request import Request

from accounts.authentication import IngestPrincipal
from accounts.choices import Role
from accounts.roles import has_role


class RolePermission(permissions.BasePermission):
    """Reads need the viewer role, writes the view's ``write_role`` (default: editor).

    Views set ``read_role`` / ``write_role`` to change that, and ``allow_ingest_key = True``
    to let ingest keys in (ingest keys reach nothing else).
    """

    message = "Your role does not allow this."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if isinstance(user, IngestPrincipal):
            return bool(getattr(view, "allow_ingest_key", False))
        if not user or not user.is_authenticated:
            return False
        if request.method in permissions.SAFE_METHODS:
            return has_role(user, getattr(view, "read_role", Role.VIEWER))
        return has_role(user, getattr(view, "write_role", Role.EDITOR))

"""Who may do what: viewer (read), editor (dashboards, load tests, ingest), admin (everything)."""

from __future__ import annotations

from typing import Any

from accounts.choices import ROLE_RANK, Role


def role_of(user: Any) -> Role | None:
    """The user's role, or None for anonymous users and users without a role (outsiders)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    cached = getattr(user, "_seismo_role", False)
    if cached is not False:
        return cached
    role: Role | None
    if getattr(user, "is_superuser", False):
        role = Role.ADMIN
    else:
        names = set(user.groups.values_list("name", flat=True)) if getattr(user, "pk", None) else set()
        role = next((r for r in (Role.ADMIN, Role.EDITOR, Role.VIEWER) if r.value in names), None)
    user._seismo_role = role
    return role


def has_role(user: Any, needed: Role) -> bool:
    return ROLE_RANK[role_of(user)] >= ROLE_RANK[needed]

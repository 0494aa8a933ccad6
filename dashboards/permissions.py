"""Who sees and who changes which dashboard."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from accounts.choices import Role
from accounts.roles import has_role, role_of
from dashboards.models import Dashboard


def visible_dashboards(user: Any) -> QuerySet[Dashboard]:
    """Shared dashboards and the user's own; nothing for users without a role."""
    if role_of(user) is None:
        return Dashboard.objects.none()
    return Dashboard.objects.filter(Q(shared=True) | Q(owner=user))


def can_create(user: Any) -> bool:
    return has_role(user, Role.EDITOR)


def can_edit(user: Any, dashboard: Dashboard) -> bool:
    """Editors edit shared dashboards and their own; admins edit everything; viewers nothing."""
    if has_role(user, Role.ADMIN):
        return True
    if not has_role(user, Role.EDITOR):
        return False
    return dashboard.shared or dashboard.owner_id == user.pk

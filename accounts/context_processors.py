from typing import Any

from django.http import HttpRequest

from accounts.choices import ROLE_RANK, Role
from accounts.roles import role_of


def roles(request: HttpRequest) -> dict[str, Any]:
    role = role_of(getattr(request, "user", None))
    rank = ROLE_RANK[role]
    return {
        "user_role": role,
        "can_edit": rank >= ROLE_RANK[Role.EDITOR],
        "can_admin": rank >= ROLE_RANK[Role.ADMIN],
    }

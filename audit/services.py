"""The one place audit rows are written, for every door (API, admin, pages, auth signals, tasks)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.http import HttpRequest
from django.utils import timezone

from audit.context import current_request
from audit.models import AuditEntry
from lib.clientip import client_address

MASK = "•••"
# Field and JSON key names whose values never reach the audit trail.
SECRET_NAMES = frozenset(
    {"password", "secret", "token", "bearer", "key_hash", "webhook_url", "url", "headers", "auth", "api_key"}
)


def masked(value: Any, name: str = "") -> Any:
    """``value`` with every secret (by field or key name, at any depth) replaced by a mask, and
    NUL (which a JSON object's keys and strings may hold, PostgreSQL's jsonb not) shown as U+FFFD."""
    if name.lower() in SECRET_NAMES and value not in (None, "", {}, []):
        return MASK
    if isinstance(value, dict):
        return {_printable(str(k)): masked(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    return _printable(value) if isinstance(value, str) else value


def _printable(text: str) -> str:
    return text.replace("\x00", "\ufffd")


def record(
    action: str,
    *,
    obj: models.Model | None = None,
    changes: dict[str, list[Any]] | None = None,
    request: HttpRequest | None = None,
    actor: Any = None,
    actor_name: str = "",
) -> AuditEntry:
    """Write one audit row. Actor and address come from the request being served unless given."""
    request = request if request is not None else current_request.get()
    if actor is None and request is not None:
        user = getattr(request, "user", None)
        if user is not None and getattr(user, "is_authenticated", False):
            actor = user
    user_pk = getattr(actor, "pk", None)
    name = actor_name or (actor.get_username() if hasattr(actor, "get_username") else str(actor or ""))
    ip = client_address(request) if request is not None else None
    return AuditEntry.objects.create(
        actor_id=user_pk if isinstance(user_pk, int) else None,
        actor_name=name[:150],
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        changes={field: [masked(old, field), masked(new, field)] for field, (old, new) in (changes or {}).items()},
        ip=ip or None,
    )


def prune() -> int:
    """Delete rows older than AUDIT_RETENTION_DAYS; returns how many."""
    cutoff = timezone.now() - timedelta(days=settings.AUDIT_RETENTION_DAYS)
    deleted, _ = AuditEntry.objects.filter(at__lt=cutoff).delete()
    return deleted
